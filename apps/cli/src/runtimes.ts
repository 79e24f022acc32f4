/**
 * `facematch runtimes`: whether the onnx runtime decides like the tfjs (wasm) runtime the calibration was
 * made on. Every image is embedded once per runtime; then every pair is decided under every named policy
 * with each runtime's embeddings, exactly as `/verify` decides (the engine's pairDistance, with its mirror
 * window, then decide), and the pairs whose decision differs are listed.
 */
import type { Box, Decision } from '@facematch/contracts';
import { decide, euclidean, type DecisionPolicy, type Described } from '@facematch/engine';
import type { Embedded } from './embeddings.ts';

export const RUNTIMES = ['wasm', 'onnx'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** A pair by image index into `CompareInput.images`. */
export interface IndexPair {
  i: number;
  j: number;
  same: boolean;
}

export interface CompareInput {
  name: string;
  /** `pairs`: a pair list's pairs; `set`: every genuine and every cross-person impostor pair. */
  kind: 'pairs' | 'set';
  /** Image ids, as reported (a set's `set/identity/file`, a pair list's path as the CSV gives it). */
  images: readonly string[];
  /** Iterated once; a set's millions of pairs are generated, not stored. */
  pairs: Iterable<IndexPair>;
}

/** How a runtime's engine turns two faces into the distance it decides on (FaceEngine.pairDistance). */
export type PairDistance = (a: Described, b: Described, policy: DecisionPolicy) => Promise<{ distance: number; mirrored: boolean }>;

export interface RuntimeSide {
  /** The image's embedding by id (`images`). */
  embedded: (id: string) => Embedded;
  distance: PairDistance;
  /** The named policies, as this runtime's engine resolves them. */
  policies: readonly DecisionPolicy[];
}

/** One runtime's answer on one pair under one policy; a pair with a failed image is that failure's code. */
export interface PairOutcome {
  distance: number | null;
  mirrored: boolean;
  decision: Decision | string;
}

export interface DifferingPair {
  img1: string;
  img2: string;
  same: boolean;
  /** The policies under which the runtimes' decisions differ. */
  differs: string[];
  /** Both runtimes' outcomes under every policy. */
  policies: Record<string, Record<Runtime, PairOutcome>>;
}

export interface Spread {
  /** Images both runtimes embedded. */
  compared: number;
  max: number;
  p99: number;
  mean: number;
  /** The image with the largest difference. */
  maxImage: string | null;
}

export interface PolicyComparison {
  name: string;
  threshold: Record<Runtime, number>;
  reviewUpTo: Record<Runtime, number>;
  /** Pairs whose decision differs under this policy. */
  differing: number;
  /** ...of which both runtimes embedded both images (a distance moved across a boundary). */
  differingScored: number;
  /** ...of which one runtime failed on an image the other embedded. */
  differingAcquisition: number;
  /** `wasm decision -> onnx decision`: pair counts, the diagonal included. */
  transitions: Record<string, number>;
}

export interface SetComparison {
  name: string;
  kind: 'pairs' | 'set';
  images: number;
  failedToAcquire: Record<Runtime, number>;
  /** Images one runtime embedded and the other did not (or failed with another code). */
  acquisitionDisagreements: { image: string; wasm: string; onnx: string }[];
  /** L2 between the two runtimes' descriptors of the same image. */
  descriptorL2: Spread;
  /** The same for the mirror images' descriptors. */
  mirrorL2: Spread;
  /** Largest difference of the subject box's x, y, width or height, in original pixels; null without boxes. */
  boxPx: (Spread & { missing: number }) | null;
  /** Largest difference of the subject's detector score. */
  scoreDiff: Spread | null;
  pairs: { total: number; genuine: number; impostor: number; scoredByBoth: number };
  policies: PolicyComparison[];
  /** Pairs whose decision differs under at least one policy. */
  differingPairs: number;
  differing: DifferingPair[];
}

/** Every pair of a set once: same identity genuine, different identity impostor (`eval --set --impostors all`). */
export function* allPairs(identities: readonly string[]): Generator<IndexPair> {
  for (let i = 0; i < identities.length; i++) {
    for (let j = i + 1; j < identities.length; j++) yield { i, j, same: identities[i] === identities[j] };
  }
}

/** A pair list's pairs as indices into its distinct images, in first-seen order. */
export function listedPairs(pairs: readonly { img1: string; img2: string; same: boolean }[]): { images: string[]; pairs: IndexPair[] } {
  const index = new Map<string, number>();
  const at = (p: string) => {
    let k = index.get(p);
    if (k === undefined) index.set(p, (k = index.size));
    return k;
  };
  const out = pairs.map((p) => ({ i: at(p.img1), j: at(p.img2), same: p.same }));
  return { images: [...index.keys()], pairs: out };
}

function spread(values: { image: string; v: number }[]): Spread {
  if (values.length === 0) return { compared: 0, max: 0, p99: 0, mean: 0, maxImage: null };
  const sorted = values.map((x) => x.v).sort((a, b) => a - b);
  const top = values.reduce((best, x) => (x.v > best.v ? x : best));
  // Nearest rank: the smallest value with at least 99% of the images at or below it.
  const p99 = sorted[Math.max(0, Math.ceil(0.99 * sorted.length) - 1)]!;
  return { compared: values.length, max: top.v, p99, mean: sorted.reduce((s, v) => s + v, 0) / sorted.length, maxImage: top.image };
}

export function boxDiffPx(a: Box, b: Box): number {
  return Math.max(Math.abs(a.x - b.x), Math.abs(a.y - b.y), Math.abs(a.width - b.width), Math.abs(a.height - b.height));
}

const status = (e: Embedded) => (e.ok ? 'ok' : e.code);

export async function compareRuntimes(input: CompareInput, sides: Record<Runtime, RuntimeSide>): Promise<SetComparison> {
  const names = sides.wasm.policies.map((p) => p.name);
  const onnxNames = sides.onnx.policies.map((p) => p.name);
  if (names.join() !== onnxNames.join()) throw new Error(`the runtimes name different policies: ${names.join()} vs ${onnxNames.join()}`);
  const emb = {
    wasm: input.images.map((id) => sides.wasm.embedded(id)),
    onnx: input.images.map((id) => sides.onnx.embedded(id)),
  };
  // One Described per image and runtime, its mirror already known: no net runs here.
  const described = (e: Embedded): Described | undefined => {
    if (!e.ok) return undefined;
    const mirror = Promise.resolve(e.mirror);
    return { descriptor: e.descriptor, mirrored: () => mirror };
  };
  const desc = { wasm: emb.wasm.map(described), onnx: emb.onnx.map(described) };

  const disagreements: SetComparison['acquisitionDisagreements'] = [];
  const d: { image: string; v: number }[] = [];
  const m: { image: string; v: number }[] = [];
  const box: { image: string; v: number }[] = [];
  const score: { image: string; v: number }[] = [];
  let missingBox = 0;
  input.images.forEach((image, k) => {
    const w = emb.wasm[k]!;
    const o = emb.onnx[k]!;
    if (status(w) !== status(o)) disagreements.push({ image, wasm: status(w), onnx: status(o) });
    if (!w.ok || !o.ok) return;
    d.push({ image, v: euclidean(w.descriptor, o.descriptor) });
    m.push({ image, v: euclidean(w.mirror, o.mirror) });
    if (w.box && o.box) box.push({ image, v: boxDiffPx(w.box, o.box) });
    else missingBox++;
    if (w.score !== undefined && o.score !== undefined) score.push({ image, v: Math.abs(w.score - o.score) });
  });

  const policies: PolicyComparison[] = names.map((name, k) => ({
    name,
    threshold: { wasm: sides.wasm.policies[k]!.threshold, onnx: sides.onnx.policies[k]!.threshold },
    reviewUpTo: { wasm: sides.wasm.policies[k]!.reviewUpTo, onnx: sides.onnx.policies[k]!.reviewUpTo },
    differing: 0,
    differingScored: 0,
    differingAcquisition: 0,
    transitions: {},
  }));
  const counts = { total: 0, genuine: 0, impostor: 0, scoredByBoth: 0 };
  const differing: DifferingPair[] = [];

  const outcome = async (r: Runtime, i: number, j: number, policy: DecisionPolicy): Promise<PairOutcome> => {
    const a = desc[r][i];
    const b = desc[r][j];
    // verify() would fail with the first image's error: the pair's outcome is that code.
    if (!a || !b) return { distance: null, mirrored: false, decision: status(a ? emb[r][j]! : emb[r][i]!) };
    const { distance, mirrored } = await sides[r].distance(a, b, policy);
    return { distance, mirrored, decision: decide(distance, policy) };
  };

  for (const { i, j, same } of input.pairs) {
    counts.total++;
    if (same) counts.genuine++;
    else counts.impostor++;
    const scored = !!(desc.wasm[i] && desc.wasm[j] && desc.onnx[i] && desc.onnx[j]);
    if (scored) counts.scoredByBoth++;
    let entry: DifferingPair | undefined;
    const outcomes: Record<string, Record<Runtime, PairOutcome>> = {};
    for (let k = 0; k < names.length; k++) {
      const w = await outcome('wasm', i, j, sides.wasm.policies[k]!);
      const o = await outcome('onnx', i, j, sides.onnx.policies[k]!);
      outcomes[names[k]!] = { wasm: w, onnx: o };
      const pc = policies[k]!;
      const t = `${w.decision} -> ${o.decision}`;
      pc.transitions[t] = (pc.transitions[t] ?? 0) + 1;
      if (w.decision !== o.decision) {
        pc.differing++;
        if (scored) pc.differingScored++;
        else pc.differingAcquisition++;
        entry ??= { img1: input.images[i]!, img2: input.images[j]!, same, differs: [], policies: outcomes };
        entry.differs.push(names[k]!);
      }
    }
    if (entry) differing.push(entry);
  }

  return {
    name: input.name,
    kind: input.kind,
    images: input.images.length,
    failedToAcquire: { wasm: emb.wasm.filter((e) => !e.ok).length, onnx: emb.onnx.filter((e) => !e.ok).length },
    acquisitionDisagreements: disagreements,
    descriptorL2: spread(d),
    mirrorL2: spread(m),
    boxPx: box.length > 0 ? { ...spread(box), missing: missingBox } : null,
    scoreDiff: score.length > 0 ? spread(score) : null,
    pairs: counts,
    policies,
    differingPairs: differing.length,
    differing,
  };
}

const f = (v: number | null) => (v === null ? '-' : v.toFixed(4));

/** The human-readable report of one set; `--json` prints the SetComparison itself. */
export function formatComparison(c: SetComparison, maxListed = 50): string[] {
  const s = (x: Spread) => `max ${x.max.toExponential(2)}  p99 ${x.p99.toExponential(2)}  mean ${x.mean.toExponential(2)}  (${x.compared} images${x.maxImage ? `, max at ${x.maxImage}` : ''})`;
  const scoredDiffs = c.differing.filter((p) => p.differs.some((n) => p.policies[n]!.wasm.distance !== null && p.policies[n]!.onnx.distance !== null));
  const lines = [
    `${c.name} (${c.kind}): ${c.images} images; failed to acquire wasm ${c.failedToAcquire.wasm}, onnx ${c.failedToAcquire.onnx}; ${c.acquisitionDisagreements.length} disagree on acquisition`,
    ...c.acquisitionDisagreements.slice(0, maxListed).map((a) => `    ${a.image}: wasm ${a.wasm}, onnx ${a.onnx}`),
    `  descriptor L2   ${s(c.descriptorL2)}`,
    `  mirror L2       ${s(c.mirrorL2)}`,
    c.boxPx ? `  box px          ${s(c.boxPx)}${c.boxPx.missing ? `, ${c.boxPx.missing} without a box` : ''}` : '  box px          (no boxes recorded)',
    ...(c.scoreDiff ? [`  score diff      ${s(c.scoreDiff)}`] : []),
    `  pairs ${c.pairs.total} (${c.pairs.genuine} genuine, ${c.pairs.impostor} impostor), ${c.pairs.scoredByBoth} scored by both runtimes; ${c.differingPairs} decided differently under some policy`,
    ...c.policies.map(
      (p) =>
        `    ${p.name.padEnd(9)} t=${p.threshold.wasm}${p.threshold.onnx !== p.threshold.wasm ? `/${p.threshold.onnx}` : ''} review<=${p.reviewUpTo.wasm}: ${p.differing} differ (${p.differingScored} on distance, ${p.differingAcquisition} on acquisition)`,
    ),
    ...scoredDiffs.slice(0, maxListed).flatMap((p) => [
      `    ${p.img1}  ${p.img2}  ${p.same ? 'same' : 'different'}`,
      ...p.differs.map((n) => {
        const o = p.policies[n]!;
        return `      ${n.padEnd(9)} wasm ${f(o.wasm.distance)}${o.wasm.mirrored ? 'm' : ' '} ${o.wasm.decision.padEnd(8)}  onnx ${f(o.onnx.distance)}${o.onnx.mirrored ? 'm' : ' '} ${o.onnx.decision}`;
      }),
    ]),
    ...(scoredDiffs.length > maxListed ? [`    ... ${scoredDiffs.length - maxListed} more (--json lists every pair)`] : []),
  ];
  return lines;
}
