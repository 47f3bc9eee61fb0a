import { describe, expect, it } from 'vitest';
import { ppoGae, ppoPolicyLoss, ppoRewards, valueLoss } from '../../src/reference/ppo.ts';
import type { Vec } from '../../src/reference/types.ts';

/** Rewards then GAE, as the trainer runs them. */
function ppoAdvantages(adv: Vec, ret: Vec, kl: Vec, logp: Vec, ref: Vec, values: Vec, scores: Vec, span: Int32Array, B: number, T: number, o: { beta: number; gamma: number; lam: number; k3: boolean }) {
  const rewards = new Float64Array(B * T);
  ppoRewards(rewards, kl, logp, ref, scores, span, B, T, o);
  ppoGae(adv, ret, rewards, values, span, B, T, o);
}
import { Rng } from '../../src/reference/random.ts';

const randn = (rng: Rng, n: number, std = 1) => rng.fillRandn(new Float64Array(n), std);

describe('PPO references', () => {
  it('policy loss: the gradient finite differences give, through clipped and unclipped tokens', () => {
    const [R, V, invTemp, clip] = [6, 7, 1 / 0.7, 0.2];
    const rng = new Rng(3);
    const logits = randn(rng, R * V);
    const targets = Int32Array.from([0, 3, 6, 2, 5, 1]);
    const adv = Float64Array.from([1, -1, 0.5, -2, 1.5, 0.3]);
    const weights = Float64Array.from([0.2, 0.2, 0.2, 0.2, 0.2, 0]); // the last position is not counted
    // old log-probs away from the current ones, so some ratios leave [0.8, 1.2]
    const old = new Float64Array(R);
    const tmp = new Float64Array(R * V);
    const { loss: _l } = ppoPolicyLoss(tmp, logits, targets, new Float64Array(R), adv, weights, R, V, invTemp, clip);
    for (let r = 0; r < R; r++) {
      let m = -Infinity;
      for (let v = 0; v < V; v++) m = Math.max(m, logits[r * V + v]! * invTemp);
      let s = 0;
      for (let v = 0; v < V; v++) s += Math.exp(logits[r * V + v]! * invTemp - m);
      old[r] = logits[r * V + targets[r]!]! * invTemp - m - Math.log(s) + [0.05, 0.5, -0.4, 0.1, -0.5, 0][r]!;
    }
    const dlogits = new Float64Array(R * V);
    const stats = ppoPolicyLoss(dlogits, logits, targets, old, adv, weights, R, V, invTemp, clip);
    expect(stats.clipfrac).toBeGreaterThan(0);
    expect(stats.clipfrac).toBeLessThan(1);
    const f = (x: Float64Array) => ppoPolicyLoss(new Float64Array(R * V), x, targets, old, adv, weights, R, V, invTemp, clip).loss;
    const h = 1e-6;
    for (let i = 0; i < R * V; i++) {
      const up = logits.slice();
      const down = logits.slice();
      up[i]! += h;
      down[i]! -= h;
      expect(dlogits[i]!).toBeCloseTo((f(up) - f(down)) / (2 * h), 6);
    }
    expect([...dlogits.subarray(5 * V)].every((x) => x === 0 || Object.is(x, -0))).toBe(true);
  });

  it('value loss: the gradient finite differences give, inside and outside the clip range', () => {
    const R = 5;
    const values = Float64Array.from([0.1, 1.0, -0.5, 0.3, 2]);
    const old = Float64Array.from([0.0, 0.5, -0.4, 0.3, 1]);
    const ret = Float64Array.from([1.0, 0.0, -0.45, -1, 3]);
    const w = Float64Array.from([0.25, 0.25, 0.25, 0.25, 0]);
    const dv = new Float64Array(R);
    valueLoss(dv, values, old, ret, w, R, 0.2);
    const f = (v: Float64Array) => valueLoss(new Float64Array(R), v, old, ret, w, R, 0.2).loss;
    for (let i = 0; i < R; i++) {
      const up = values.slice();
      const down = values.slice();
      up[i]! += 1e-6;
      down[i]! -= 1e-6;
      expect(dv[i]!).toBeCloseTo((f(up) - f(down)) / 2e-6, 6);
    }
  });

  it('GAE with gamma = lambda = 1 and no KL gives score minus value; KL penalises every counted token', () => {
    const [B, T] = [2, 6];
    const values = Float64Array.from([9, 0.5, 0.2, -0.1, 0.4, 9, 9, 9, 1, 2, 9, 9]);
    const logp = new Float64Array(B * T).fill(-1);
    const ref = new Float64Array(B * T).fill(-1.5);
    const span = Int32Array.from([1, 2, 4, 3]); // sequence 0: positions 1..4; sequence 1: 2..3
    const adv = new Float64Array(B * T);
    const ret = new Float64Array(B * T);
    const kl = new Float64Array(B * T);
    ppoAdvantages(adv, ret, kl, logp, ref, values, Float64Array.from([2, -1]), span, B, T, { beta: 0, gamma: 1, lam: 1, k3: false });
    expect([...adv.subarray(1, 5)].map((x) => +x.toFixed(12))).toEqual([1.5, 1.8, 2.1, 1.6]);
    expect(ret[1]).toBeCloseTo(2, 12);
    expect(adv[0]).toBe(0);
    expect(adv[5]).toBe(0);
    ppoAdvantages(adv, ret, kl, logp, ref, values, Float64Array.from([2, -1]), span, B, T, { beta: 0.1, gamma: 1, lam: 1, k3: false });
    expect(kl[1]).toBeCloseTo(0.5, 12);
    expect(ret[1]).toBeCloseTo(2 - 4 * 0.05, 12); // four tokens of -beta * kl
    ppoAdvantages(adv, ret, kl, logp, ref, values, Float64Array.from([2, -1]), span, B, T, { beta: 0.1, gamma: 1, lam: 1, k3: true });
    expect(kl[1]).toBeCloseTo(Math.exp(-0.5) - 1 + 0.5, 12);
  });
});
