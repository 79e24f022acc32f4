import { createHash, timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type RequestHandler } from 'express';
import { FaceMatchError } from '@facematch/contracts';

export const ADMIN_PATH = '/admin/queues';

type BoardQueue = ConstructorParameters<typeof BullMQAdapter>[0];

/**
 * Bull Board over the verification and webhook queues, read-only: admins see jobs, states and errors
 * but cannot retry or delete from here (DELETE /jobs/:id also purges images, outcomes and events).
 * Job data holds no image bytes: the images live in keys of their own and are gone when a job ends.
 */
export function adminRouter(token: string, queues: readonly unknown[]): express.Router {
  const board = new ExpressAdapter();
  board.setBasePath(ADMIN_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q as BoardQueue, { readOnlyMode: true })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'facematch' } },
  });
  const router = express.Router();
  router.use(requireAdmin(token));
  router.use(board.getRouter() as express.Router);
  return router;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** ADMIN_TOKEN as a Bearer token, or as the password of HTTP Basic so a browser can log in. */
function requireAdmin(token: string): RequestHandler {
  const want = digest(token);
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    let given: string | undefined;
    if (/^bearer\s+/i.test(header)) given = header.replace(/^bearer\s+/i, '').trim();
    else if (/^basic\s+/i.test(header)) {
      const decoded = Buffer.from(header.replace(/^basic\s+/i, ''), 'base64').toString('utf8');
      given = decoded.slice(decoded.indexOf(':') + 1);
    }
    // Digests are compared, so the comparison takes the same time whatever the length of the guess.
    if (given !== undefined && timingSafeEqual(digest(given), want)) return next();
    res.setHeader('WWW-Authenticate', 'Basic realm="facematch admin", charset="UTF-8"');
    throw new FaceMatchError(given === undefined ? 'TOKEN_MISSING' : 'TOKEN_INVALID', 'the queue dashboard needs ADMIN_TOKEN, as a Bearer token or the Basic password');
  };
}
