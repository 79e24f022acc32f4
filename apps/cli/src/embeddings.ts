/**
 * Embeds a set's photos once each, for evaluation and calibration: the descriptor of each chip and of its
 * mirror image, so any pair's decision can be recomputed exactly as `/verify` makes it without running a
 * net again. Spread over child processes (`jobs`), one engine each, since one engine keeps one core busy.
 */
import { createHash } from 'node:crypto';
import { fork, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isFaceMatchError, type Box } from '@facematch/contracts';
import { FaceEngine, modelBinding, type EngineOptions } from '@facematch/engine';

export type Embedded =
  | {
      key: string;
      ok: true;
      descriptor: Float32Array;
      mirror: Float32Array;
      ms: number;
      mirrorMs: number;
      /** The subject's box (original pixels) and detector score; absent in cache entries written before they were kept. */
      box?: Box;
      score?: number;
    }
  | { key: string; ok: false; code: string; ms: number };

/** What the embeddings depend on: a cache hit needs all of it equal. */
export function engineFingerprint(engine: Pick<FaceEngine, 'backend' | 'detector' | 'subjectRule' | 'recogniser'>): string {
  return createHash('sha256').update(JSON.stringify({ ...modelBinding(engine.recogniser.descriptor), backend: engine.backend, detector: engine.detector, subject: engine.subjectRule })).digest('hex').slice(0, 16);
}

/** Embeds one photo in this process. */
export async function embedOne(engine: FaceEngine, key: string, bytes: Buffer): Promise<Embedded> {
  const t0 = performance.now();
  try {
    const e = await engine.embed(bytes, 'img1');
    const t1 = performance.now();
    const mirror = await e.mirrored();
    return { key, ok: true, descriptor: e.descriptor, mirror, ms: t1 - t0, mirrorMs: performance.now() - t1, box: e.box, score: e.score };
  } catch (err) {
    if (!isFaceMatchError(err)) throw err;
    return { key, ok: false, code: err.code, ms: performance.now() - t0 };
  }
}

interface Wire {
  key: string;
  ok: boolean;
  code?: string;
  d?: string;
  m?: string;
  ms: number;
  mirrorMs?: number;
  /** Optional, so cache files written before them still load. */
  box?: Box;
  score?: number;
}
const toWire = (e: Embedded): Wire =>
  e.ok
    ? { key: e.key, ok: true, d: Buffer.from(e.descriptor.buffer, e.descriptor.byteOffset, e.descriptor.byteLength).toString('base64'), m: Buffer.from(e.mirror.buffer, e.mirror.byteOffset, e.mirror.byteLength).toString('base64'), ms: e.ms, mirrorMs: e.mirrorMs, ...(e.box ? { box: e.box, score: e.score } : {}) }
    : { key: e.key, ok: false, code: e.code, ms: e.ms };
const f32 = (b64: string) => {
  const b = Buffer.from(b64, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const fromWire = (w: Wire): Embedded =>
  w.ok ? { key: w.key, ok: true, descriptor: f32(w.d!), mirror: f32(w.m!), ms: w.ms, mirrorMs: w.mirrorMs ?? 0, ...(w.box ? { box: w.box, score: w.score } : {}) } : { key: w.key, ok: false, code: w.code!, ms: w.ms };

export interface EmbedOptions {
  engine: EngineOptions;
  /** Child processes; 1 embeds in this process. */
  jobs: number;
  /**
   * A folder for a cache of embeddings, keyed by engine fingerprint and file content. They are biometric
   * data: the cache is off unless asked for, and is the caller's to delete.
   */
  cacheDir?: string;
  /** An engine this process already loaded, to embed with instead of loading another. */
  local?: FaceEngine;
  /** Re-embed cache hits that lack the subject's box (entries from before it was kept); the new entry supersedes the old. */
  requireBox?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Embeds every image; the result is in `images` order, whatever order the jobs finished in. */
export async function embedAll(images: readonly { path: string; key: string }[], opts: EmbedOptions): Promise<{ embedded: Embedded[]; fingerprint: string; backend: string }> {
  const probe = opts.local ?? (await FaceEngine.create({ ...opts.engine, calibration: false }));
  const fingerprint = engineFingerprint(probe);
  const cache = opts.cacheDir ? new Cache(opts.cacheDir, fingerprint) : undefined;
  const out = new Map<string, Embedded>();
  const todo: { path: string; key: string; sha?: string }[] = [];
  for (const img of images) {
    const sha = cache ? createHash('sha256').update(await readFile(img.path)).digest('hex') : undefined;
    const cached = sha ? cache!.get(sha) : undefined;
    const hit = cached && opts.requireBox && cached.ok && !cached.box ? undefined : cached;
    if (hit) out.set(img.key, { ...hit, key: img.key });
    else todo.push({ ...img, sha });
  }
  const shaOf = new Map(todo.map((t) => [t.key, t.sha]));
  const done = (e: Embedded) => {
    out.set(e.key, e);
    const sha = shaOf.get(e.key);
    if (cache && sha) cache.put(sha, e);
    opts.onProgress?.(out.size, images.length);
  };
  if (opts.jobs <= 1 || todo.length < 2 * opts.jobs) {
    for (const t of todo) done(await embedOne(probe, t.key, await readFile(t.path)));
  } else {
    await inChildren(todo, opts, done);
  }
  return { embedded: images.map((i) => out.get(i.key)!), fingerprint, backend: probe.backend };
}

const CHILD = fileURLToPath(new URL('./embed-child.ts', import.meta.url));

/** Hands images out one at a time, so a slow photo holds up only its own child. */
async function inChildren(todo: { path: string; key: string }[], opts: EmbedOptions, done: (e: Embedded) => void): Promise<void> {
  let next = 0;
  const children: ChildProcess[] = [];
  try {
    await Promise.all(
      Array.from({ length: opts.jobs }, () =>
        new Promise<void>((resolveChild, reject) => {
          const child = fork(CHILD, [], { execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
          children.push(child);
          const feed = () => {
            if (next < todo.length) child.send({ type: 'embed', ...todo[next++]! });
            else {
              child.send({ type: 'exit' });
              resolveChild();
            }
          };
          child.on('message', (msg: { type: 'ready' } | { type: 'done'; wire: Wire } | { type: 'error'; message: string }) => {
            if (msg.type === 'ready') feed();
            else if (msg.type === 'done') {
              done(fromWire(msg.wire));
              feed();
            } else reject(new Error(`embedding child failed: ${msg.message}`));
          });
          child.on('error', reject);
          child.on('exit', (code) => {
            if (code !== 0 && code !== null) reject(new Error(`embedding child exited with ${code}`));
          });
          // Functions (the log callback) cannot cross the IPC channel.
          child.send({ type: 'init', engine: { ...opts.engine, log: undefined } });
        }),
      ),
    );
  } finally {
    // After a failure, the children still running are stopped; finished ones have disconnected already.
    for (const c of children) if (c.connected) c.kill();
  }
}

export { toWire };

class Cache {
  private readonly file: string;
  private readonly entries = new Map<string, Embedded>();
  constructor(dir: string, private readonly fingerprint: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = join(dir, `embeddings-${fingerprint}.jsonl`);
    if (existsSync(this.file)) {
      for (const line of readFileSync(this.file, 'utf8').split('\n')) {
        if (!line) continue;
        const { sha, ...w } = JSON.parse(line) as Wire & { sha: string };
        this.entries.set(sha, fromWire(w));
      }
    }
  }
  get(sha: string): Embedded | undefined {
    return this.entries.get(sha);
  }
  put(sha: string, e: Embedded): void {
    this.entries.set(sha, e);
    appendFileSync(this.file, `${JSON.stringify({ sha, ...toWire(e) })}\n`, { mode: 0o600 });
  }
}
