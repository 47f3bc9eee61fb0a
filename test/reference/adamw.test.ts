import { describe, it, expect } from 'vitest';
import { adamwUpdate, type AdamWHyper } from '../../src/reference/adamw.ts';
import { expectAllClose } from './helpers.ts';

// Finite differences mean nothing for an optimizer step; these tests check the
// update against its formulas written out by hand and against PyTorch.

const P0 = [0.5, -1.0, 2.0, 0.0];
const GRADS = [
  [0.1, -0.2, 0.0, 3.0],
  [-0.3, 0.05, 1.0, -2.0],
];
const SCALES = [1, 0.5]; // step 2 is "clipped"
const BASE = { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

function runTwoSteps() {
  const n = P0.length;
  const params = Float64Array.from(P0);
  const m = new Float64Array(n);
  const v = new Float64Array(n);
  const history: Float64Array[] = [];
  for (let s = 0; s < 2; s++) {
    const grads = Float64Array.from(GRADS[s]);
    const h: AdamWHyper = { ...BASE, step: s + 1, gradScale: SCALES[s] };
    adamwUpdate(params, grads, m, v, n, h);
    expectAllClose('grads are not modified', grads, GRADS[s], 0);
    history.push(params.slice());
  }
  return { params, m, v, history };
}

describe('adamw reference', () => {
  it('matches the update unrolled by hand over two steps', () => {
    const { lr, beta1: b1, beta2: b2, eps, weightDecay: wd } = BASE;
    const { history, m, v } = runTwoSteps();
    for (let i = 0; i < P0.length; i++) {
      const g1 = GRADS[0][i] * SCALES[0];
      const g2 = GRADS[1][i] * SCALES[1];
      // step 1: the bias corrections undo the (1 - beta) factors exactly.
      const m1 = (1 - b1) * g1;
      const v1 = (1 - b2) * g1 * g1;
      let p1 = P0[i] * (1 - lr * wd);
      p1 -= (lr * (m1 / (1 - b1))) / (Math.sqrt(v1 / (1 - b2)) + eps);
      // step 2
      const m2 = b1 * m1 + (1 - b1) * g2;
      const v2 = b2 * v1 + (1 - b2) * g2 * g2;
      let p2 = p1 * (1 - lr * wd);
      p2 -= (lr * (m2 / (1 - b1 * b1))) / (Math.sqrt(v2 / (1 - b2 * b2)) + eps);

      expect(history[0][i]).toBeCloseTo(p1, 15);
      expect(history[1][i]).toBeCloseTo(p2, 15);
      expect(m[i]).toBeCloseTo(m2, 15);
      expect(v[i]).toBeCloseTo(v2, 15);
    }
  });

  it('matches torch.optim.AdamW (float64, values from PyTorch 1.13)', () => {
    const { history, m, v } = runTwoSteps();
    expectAllClose('params after step 1', history[0], [0.4895000009999999, -0.9890000004999999, 1.998, -0.009999999966666666], 1e-15);
    expectAllClose('params after step 2', history[1], [0.4914756315954072, -0.9822145634216308, 1.988652400182227, -0.01403306696683221], 1e-15);
    expectAllClose('exp_avg', m, [-0.006, -0.0155, 0.05, 0.17], 1e-15);
    expectAllClose('exp_avg_sq', v, [0.0016, 0.00193125, 0.0125, 0.4775], 1e-15);
  });

  it('first step moves each parameter by about lr against the gradient sign', () => {
    const params = Float64Array.of(1, 1, 1);
    const grads = Float64Array.of(1e-3, -5, 0);
    adamwUpdate(params, grads, new Float64Array(3), new Float64Array(3), 3, {
      ...BASE,
      weightDecay: 0,
      step: 1,
      gradScale: 1,
    });
    expectAllClose('params', params, [1 - 0.01, 1 + 0.01, 1], 1e-6);
  });

  it('gradScale is the same as scaling the gradient', () => {
    const run = (grads: number[], gradScale: number) => {
      const params = Float64Array.from(P0);
      const m = new Float64Array(4).fill(0.01);
      const v = new Float64Array(4).fill(0.02);
      adamwUpdate(params, Float64Array.from(grads), m, v, 4, { ...BASE, step: 3, gradScale });
      return [params, m, v];
    };
    const scaled = run(GRADS[1], 0.25);
    const direct = run(GRADS[1].map((g) => g * 0.25), 1);
    for (let k = 0; k < 3; k++) expectAllClose('state', scaled[k], direct[k], 1e-16);
  });
});
