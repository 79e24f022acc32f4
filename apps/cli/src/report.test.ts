import { describe, it, expect } from 'vitest';
import { ci, rate, renderReport, type ReportInput, type ReportSet } from './report.ts';

/** A small set with distances shaped like the real ones; `impostorPairs` decides which points are supported. */
function set(name: string, role: ReportSet['role'], impostorPairs: number): ReportSet {
  const genuine = Array.from({ length: 160 }, (_, i) => Math.round(900 * Math.exp(-(((i - 42) / 8) ** 2))));
  const impostor = Array.from({ length: 160 }, (_, i) => Math.round(impostorPairs * 0.05 * Math.exp(-(((i - 82) / 7) ** 2))));
  return {
    name,
    role,
    images: 1200,
    failedToAcquire: 3,
    genuinePairs: 3000,
    impostorPairs,
    policy: 'fmr_1e-3',
    threshold: 0.5731,
    reviewUpTo: 0.6312,
    decisions: { genuine: { match: 2900, review: 70, no_match: 30 }, impostor: { match: Math.round(impostorPairs * 6e-4), review: 900, no_match: impostorPairs - 900 - Math.round(impostorPairs * 6e-4) } },
    fmr: 6e-4,
    fmrCi95: [4.1e-4, 8.5e-4],
    fnmr: 0.0333,
    fnmrCi95: [0.0272, 0.0403],
    operatingPoints: [
      { fmr: 1e-2, supported: true, threshold: 0.6456, fnmr: 0.0041, fnmrCi95: [0.0022, 0.007] },
      { fmr: 1e-3, supported: true, threshold: 0.5874, fnmr: 0.021, fnmrCi95: [0.016, 0.027] },
      { fmr: 1e-4, supported: impostorPairs >= 100_000, threshold: impostorPairs >= 100_000 ? 0.5401 : null, fnmr: impostorPairs >= 100_000 ? 0.07 : null, fnmrCi95: impostorPairs >= 100_000 ? [0.061, 0.079] : null },
      { fmr: 1e-5, supported: false, threshold: null, fnmr: null, fnmrCi95: null },
    ],
    policies: [
      { name: 'fmr_1e-2', threshold: 0.6312, fmr: 0.0061, fmrCi95: [0.0055, 0.0068], fnmr: 0.005, fnmrCi95: [0.003, 0.008] },
      { name: 'fmr_1e-3', threshold: 0.5731, fmr: 6e-4, fmrCi95: [4.1e-4, 8.5e-4], fnmr: 0.0333, fnmrCi95: [0.0272, 0.0403] },
      { name: 'fmr_1e-4', threshold: 0.5215, fmr: 0, fmrCi95: [0, 3.7e-5], fnmr: 0.1, fnmrCi95: [0.089, 0.111] },
    ],
    det: [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 0.5].map((fmr) => ({ fmr, fnmr: Math.min(1, 0.0005 / Math.sqrt(fmr)) })),
    histogram: { step: 0.01, genuine, impostor },
  };
}

const input: ReportInput = {
  title: 'Evaluation <of> "facematch" & co',
  generatedAt: '2026-12-03T10:00:00.000Z',
  system: {
    engineVersion: 'face-api@0.22.2',
    pipeline: '2026-12.confident-subject.full-res-small-faces',
    backend: 'wasm',
    detector: 'ssd',
    machine: { cpu: 'Test CPU <x86>', cores: 2, memoryGiB: 24, os: 'linux 6.1 x64', node: 'v20.20.2' },
    models: [{ file: 'face_recognition_model-shard1', bytes: 4_194_304, sha256: 'ab'.repeat(32) }],
    calibration: { sets: ['lfw-folds2-5 folds 2,3'], filesSha256: 'cd'.repeat(32), images: 6510, genuinePairs: 7940, impostorPairs: 2_109_125 },
  },
  sets: [set('lfw-folds2-5 folds 2,3', 'calibration', 2_000_000), set('hard <pairs> & "blur"', 'robustness', 40_000)],
};

const page = await renderReport(input);

describe('renderReport', () => {
  it('forbids every request with a CSP meta', () => {
    expect(page).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`);
  });

  it('inlines an SVG for the DET curve and one histogram per set', () => {
    const svgs = page.match(/<svg\b/g) ?? [];
    expect(svgs.length).toBe(1 + input.sets.length);
    // Drawn by vega (its scenegraph classes), not by hand.
    expect(page).toContain('class="marks"');
    expect(page).toContain('False match rate (FMR)');
    expect(page).toContain('Distance (lower = more alike)');
  });

  it('carries no script and no external reference', () => {
    expect(page).not.toMatch(/<script/i);
    // xmlns="http://www.w3.org/2000/svg" names a namespace and fetches nothing; attributes that load must not point out.
    expect(page).not.toMatch(/\b(?:src|href|srcset|action|poster|data)\s*=\s*["']?\s*(?:https?:)?\/\//i);
    expect(page).not.toMatch(/url\(\s*["']?\s*(?:https?:)?\/\//i);
  });

  it('escapes every text it is given', () => {
    expect(page).not.toContain('hard <pairs>');
    expect(page).toContain('hard &lt;pairs&gt; &amp; &quot;blur&quot;');
    expect(page).toContain('<title>Evaluation &lt;of&gt; &quot;facematch&quot; &amp; co</title>');
    expect(page).toContain('Test CPU &lt;x86&gt;');
  });

  it('says so where a set has too few impostor pairs for a point', () => {
    // 40,000 impostor pairs cannot support 1e-4 or 1e-5; 2,000,000 cannot support 1e-5: three such rows.
    expect(page.match(/too few impostor pairs/g)?.length).toBe(3);
  });

  it('gives both the policy in use and its interval', () => {
    expect(page).toContain('6.0e-4');
    expect(page).toContain('[4.1e-4, 8.5e-4]');
    expect(page).toContain('3.33%');
  });

  it('gives distinct clip ids to the charts sharing the page', () => {
    const ids = [...page.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('rate formatting', () => {
  it('uses percent from 0.1% up and exponent form below', () => {
    expect(rate(0)).toBe('0');
    expect(rate(1.23e-4)).toBe('1.2e-4');
    expect(rate(0.0041)).toBe('0.41%');
    expect(rate(0.0333)).toBe('3.33%');
    expect(rate(0.25)).toBe('25.0%');
    expect(ci([0, 3.7e-5])).toBe('[0, 3.7e-5]');
  });
});
