import { describe, expect, it } from 'vitest';
import { bestThreshold, metricsAt } from './metrics.ts';

const pairs = [
  { same: true, distance: 0.3 },
  { same: true, distance: 0.55 },
  { same: true, distance: undefined }, // no face: a non-match
  { same: false, distance: 0.5 },
  { same: false, distance: 0.9 },
];

describe('metricsAt', () => {
  it('counts a pair without a distance as a non-match', () => {
    expect(metricsAt(pairs, 0.6)).toEqual({ pairs: 5, accuracy: 3 / 5, tpr: 2 / 3, fpr: 1 / 2, falseMatches: 1, falseNonMatches: 1 });
    expect(metricsAt(pairs, 0.4)).toMatchObject({ falseMatches: 0, falseNonMatches: 2, accuracy: 3 / 5 });
  });
});

describe('bestThreshold', () => {
  it('picks the midpoint that maximises accuracy', () => {
    expect(bestThreshold(pairs)).toEqual({ threshold: (0.3 + 0.5) / 2, accuracy: 3 / 5 });
    const separable = [
      { same: true, distance: 0.2 },
      { same: false, distance: 0.8 },
    ];
    expect(bestThreshold(separable)).toEqual({ threshold: 0.5, accuracy: 1 });
  });
});
