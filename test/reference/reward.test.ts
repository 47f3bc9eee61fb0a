import { describe, expect, it } from 'vitest';
import { preferenceLoss, rewardBackward, rewardForward } from '../../src/reference/reward.ts';
import { Rng } from '../../src/reference/random.ts';

const randn = (rng: Rng, n: number) => rng.fillRandn(new Float64Array(n));

describe('preference loss (reference)', () => {
  it('has the gradient finite differences give, with margins, masked pairs and centering', () => {
    const rng = new Rng(1);
    const rewards = randn(rng, 6);
    const pairs = Int32Array.from([0, 1, 0, 2, 1, 2, 3, 4, 5, 5]);
    const margins = Float64Array.from([0, 0.5, 0, -0.2, 0]);
    const pairWeights = Float64Array.from([0.25, 0.25, 0.25, 0.25, 0]); // the last slot is padding
    const rowWeights = Float64Array.from([0.2, 0.2, 0.2, 0.2, 0.2, 0]);
    const dr = new Float64Array(6);
    const loss = (r: Float64Array) => preferenceLoss(new Float64Array(6), r, pairs, margins, pairWeights, rowWeights, 0.3).loss;
    preferenceLoss(dr, rewards, pairs, margins, pairWeights, rowWeights, 0.3);
    for (let b = 0; b < 6; b++) {
      const h = 1e-6;
      const up = rewards.slice();
      const down = rewards.slice();
      up[b]! += h;
      down[b]! -= h;
      expect(dr[b]!).toBeCloseTo((loss(up) - loss(down)) / (2 * h), 8);
    }
    expect(Math.abs(dr[5]!)).toBe(0); // in no real pair, not counted: no gradient
  });

  it('gives log 2 and accuracy 0 for equal rewards; accuracy 1 when chosen wins', () => {
    const one = Float64Array.from([1]);
    const s = preferenceLoss(new Float64Array(2), Float64Array.from([0.3, 0.3]), Int32Array.from([0, 1]), new Float64Array(1), one, new Float64Array(2), 0);
    expect(s.loss).toBeCloseTo(Math.LN2, 12);
    expect(s.accuracy).toBe(0);
    const w = preferenceLoss(new Float64Array(2), Float64Array.from([2, -1]), Int32Array.from([0, 1]), new Float64Array(1), one, new Float64Array(2), 0);
    expect(w).toMatchObject({ accuracy: 1, margin: 3, chosen: 2, rejected: -1 });
  });
});

describe('reward head (reference)', () => {
  it('reads the last real token and has the gradient finite differences give', () => {
    const [B, T, C] = [3, 5, 4];
    const rng = new Rng(2);
    const hidden = randn(rng, B * T * C);
    const score = randn(rng, C);
    const last = Int32Array.from([4, 0, 2]);
    const R = randn(rng, B);
    const objective = (h: Float64Array, s: Float64Array) => {
      const r = new Float64Array(B);
      rewardForward(r, h, last, s, B, T, C);
      return r.reduce((a, x, i) => a + x * R[i]!, 0);
    };
    const dhidden = new Float64Array(B * T * C).fill(NaN);
    const dscore = new Float64Array(C);
    rewardBackward(dhidden, dscore, R, hidden, last, score, B, T, C);
    const h = 1e-6;
    for (let i = 0; i < B * T * C; i += 3) {
      const up = hidden.slice();
      const down = hidden.slice();
      up[i]! += h;
      down[i]! -= h;
      expect(dhidden[i]!).toBeCloseTo((objective(up, score) - objective(down, score)) / (2 * h), 7);
    }
    for (let c = 0; c < C; c++) {
      const up = score.slice();
      const down = score.slice();
      up[c]! += h;
      down[c]! -= h;
      expect(dscore[c]!).toBeCloseTo((objective(hidden, up) - objective(hidden, down)) / (2 * h), 7);
    }
    // padding after the last token carries no gradient
    expect(dhidden[(0 * T + 4) * C]).not.toBe(0);
    expect([...dhidden.subarray((1 * T + 1) * C, (1 * T + 5) * C)].every((x) => x === 0)).toBe(true);
  });
});
