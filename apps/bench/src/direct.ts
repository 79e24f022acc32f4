// A child process that calls the engine directly: the yardstick the service is measured against.
// Protocol (IPC): the parent sends {pairs: [[pathA, pathB], ...], batch?: number, backend?: string}; the
// child loads (on `backend`, default `auto` as the workers'), warms up and replies {type:'ready', backend}.
// Then, any number of times and in any order:
// - {type:'run', count}: the next `count` pairs (cycling through its list, `batch` at a time), answered
//   {type:'done', ms, pairs};
// - {type:'one', i}: pair i alone, answered {type:'one', ms};
// until {type:'end'}.
import { readFile } from 'node:fs/promises';
import { FaceEngine, type BackendRequest } from '@facematch/engine';

interface Setup {
  pairs: [string, string][];
  batch?: number;
  backend?: BackendRequest;
}
type Command = { type: 'run'; count: number } | { type: 'one'; i: number } | { type: 'end' };

const setup = await new Promise<Setup>((resolve) => process.once('message', (m) => resolve(m as Setup)));
const engine = await FaceEngine.create({ backend: setup.backend ?? 'auto', ...(setup.batch ? { batch: { size: setup.batch, windowMs: 5 } } : {}) });
const bytes = await Promise.all(setup.pairs.map(async ([a, b]) => [await readFile(a), await readFile(b)] as const));
await engine.verify(bytes[0]![0], bytes[0]![1]);
let cursor = 0;

async function one(i: number): Promise<number> {
  const [a, b] = bytes[i % bytes.length]!;
  const s = performance.now();
  await engine.verify(a, b).catch(() => undefined);
  return performance.now() - s;
}

async function run(count: number): Promise<number> {
  const t0 = performance.now();
  let left = count;
  await Promise.all(
    Array.from({ length: setup.batch ?? 1 }, async () => {
      while (left > 0) {
        left--;
        await one(cursor++);
      }
    }),
  );
  return performance.now() - t0;
}

// Commands are handled one at a time, in order.
let queue = Promise.resolve();
process.on('message', (m: Command) => {
  queue = queue.then(async () => {
    if (m.type === 'run') process.send!({ type: 'done', ms: await run(m.count), pairs: m.count });
    else if (m.type === 'one') process.send!({ type: 'one', ms: await one(m.i) });
    else process.disconnect();
  });
});
process.send!({ type: 'ready', backend: engine.backend });
