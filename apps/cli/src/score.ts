/** Turns embedded photos into scored genuine and impostor pairs, every pair once. */
import { euclidean } from '@facematch/engine';
import type { Embedded } from './embeddings.ts';
import type { PairClass, ScoredSet } from './biometrics.ts';

interface Vecs {
  d: Float32Array;
  /** The average of the chip's and its mirror's descriptors: what `/verify` compares near a threshold. */
  f: Float32Array;
}

/** Once per image, however many pairs it is in. */
const averaged = new WeakMap<Embedded, Vecs>();
function vecs(e: Embedded): Vecs | undefined {
  if (!e.ok) return undefined;
  let v = averaged.get(e);
  if (!v) averaged.set(e, (v = { d: e.descriptor, f: e.descriptor.map((x, i) => (x + e.mirror[i]!) / 2) }));
  return v;
}

class Growing {
  plain: Float32Array;
  fused: Float32Array;
  n = 0;
  failed = 0;
  constructor(cap: number) {
    this.plain = new Float32Array(Math.max(1, cap));
    this.fused = new Float32Array(Math.max(1, cap));
  }
  push(a: Vecs, b: Vecs): void {
    this.plain[this.n] = euclidean(a.d, b.d);
    this.fused[this.n++] = euclidean(a.f, b.f);
  }
  done(): PairClass {
    return { plain: this.plain.subarray(0, this.n), fused: this.fused.subarray(0, this.n), failed: this.failed };
  }
}

/** Every same-identity pair is genuine and every cross-identity pair an impostor (`--impostors all`). */
export function scoreAllPairs(items: readonly { identity: string; embedded: Embedded }[]): ScoredSet {
  const byId = new Map<string, number>();
  for (const it of items) byId.set(it.identity, (byId.get(it.identity) ?? 0) + 1);
  const n = items.length;
  const genuineTotal = [...byId.values()].reduce((s, k) => s + (k * (k - 1)) / 2, 0);
  const genuine = new Growing(genuineTotal);
  const impostor = new Growing((n * (n - 1)) / 2 - genuineTotal);
  const v = items.map((it) => vecs(it.embedded));
  for (let i = 0; i < n; i++) {
    const a = v[i];
    for (let j = i + 1; j < n; j++) {
      const same = items[i]!.identity === items[j]!.identity;
      const cls = same ? genuine : impostor;
      const b = v[j];
      if (a && b) cls.push(a, b);
      else cls.failed++;
    }
  }
  return { genuine: genuine.done(), impostor: impostor.done() };
}

/** The listed pairs only (`--pairs`). */
export function scoreListedPairs(pairs: readonly { a: Embedded; b: Embedded; same: boolean }[]): ScoredSet {
  const genuine = new Growing(pairs.filter((p) => p.same).length);
  const impostor = new Growing(pairs.filter((p) => !p.same).length);
  for (const p of pairs) {
    const cls = p.same ? genuine : impostor;
    const a = vecs(p.a);
    const b = vecs(p.b);
    if (a && b) cls.push(a, b);
    else cls.failed++;
  }
  return { genuine: genuine.done(), impostor: impostor.done() };
}
