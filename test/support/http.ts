import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from './env.ts';
import { tokenFor } from './service.ts';

/** A committed fixture photo's bytes. */
export const photo = (name: string): Buffer => readFileSync(join(FIXTURES, name));
/** A fixture (by name) or any bytes as the data URI the API takes. */
export const dataUri = (img: string | Buffer): string => `data:image/jpeg;base64,${(typeof img === 'string' ? photo(img) : img).toString('base64')}`;

/** One JSON call to the API under its base path, as tenant 0 unless told; the body parsed when there is one. */
export async function api(base: string, method: string, path: string, body?: unknown, token = tokenFor(0)) {
  const res = await fetch(`${base}/ai/v1/face-verification${path}`, {
    method,
    headers: { authorization: token, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: text ? JSON.parse(text) : undefined };
}

/** POST /verify with a raw or JSON body and extra headers (a header set to '' is sent empty), as tenant 0. */
export async function postVerify(base: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/ai/v1/face-verification/verify`, {
    method: 'POST',
    headers: { authorization: tokenFor(0), 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/**
 * Polls until `check` holds; a poll interval bounded in count, not a sleep standing in for an event. A
 * poll that throws (the API restarting, say) counts as not yet; the last value or error is in the failure.
 */
export async function until<T>(what: string, fn: () => Promise<T>, check: (v: T) => boolean, tries = 400, intervalMs = 100): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      const v = await fn();
      if (check(v)) return v;
      last = v;
    } catch (err) {
      last = `error: ${(err as Error).message}`;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${what} never held; last: ${JSON.stringify(last)?.slice(0, 500)}`);
}

/** Polls a job through the API until it is completed or failed. */
export const untilFinal = (base: string, id: string, token = tokenFor(0)) =>
  until(`job ${id} final`, () => api(base, 'GET', `/jobs/${id}`, undefined, token), (r) => r.body?.status === 'completed' || r.body?.status === 'failed', 600);
