import { tokenFor } from './service.ts';

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

/** Polls until `check` holds; a poll interval bounded in count, not a sleep standing in for an event. */
export async function until<T>(what: string, fn: () => Promise<T>, check: (v: T) => boolean, tries = 400): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < tries; i++) {
    last = await fn();
    if (check(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} never held; last: ${JSON.stringify(last)?.slice(0, 500)}`);
}
