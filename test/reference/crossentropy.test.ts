import { describe, it, expect } from 'vitest';
import { crossentropyBackward, crossentropyForward } from '../../src/reference/crossentropy.ts';
import { Rng } from '../../src/reference/random.ts';
import { expectAllClose, expectGradClose, numericGrad, randn64 } from './helpers.ts';

const R = 10, V = 7;

function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

describe('crossentropy reference', () => {
  it('gives weight * log(V) for uniform logits', () => {
    const logits = new Float64Array(3 * V).fill(0.7);
    const losses = new Float64Array(3);
    crossentropyForward(losses, logits, Int32Array.of(0, 3, 6), Float64Array.of(1, 0.5, 2), 3, V);
    expectAllClose('losses', losses, [Math.log(V), 0.5 * Math.log(V), 2 * Math.log(V)], 1e-14);
  });

  it('gives -log p(target) (hand case)', () => {
    // Softmax of log(1), log(2), log(3) is 1/6, 2/6, 3/6; large offset tests the max shift.
    const logits = Float64Array.of(0, Math.log(2), Math.log(3)).map((x) => x + 1000);
    const losses = new Float64Array(1);
    crossentropyForward(losses, logits, Int32Array.of(2), Float64Array.of(1), 1, 3);
    expect(losses[0]).toBeCloseTo(Math.log(2), 12);
    const dlogits = new Float64Array(3);
    crossentropyBackward(dlogits, logits, Int32Array.of(2), Float64Array.of(1), 1, 3);
    expectAllClose('dlogits', dlogits, [1 / 6, 2 / 6, 3 / 6 - 1], 1e-12);
  });

  function setup() {
    const rng = new Rng(13);
    const logits = randn64(rng, R * V, 2);
    const targets = rng.fillInt(new Int32Array(R), V);
    const weights = rng.fillUniform(new Float64Array(R), 0.1, 1);
    // Masked positions: weight 0 and a target that must not be read.
    for (const r of [2, 7]) {
      weights[r] = 0;
      targets[r] = -1;
    }
    return { logits, targets, weights };
  }

  it('masked positions (weight 0, target -1) have zero loss and zero gradient', () => {
    const { logits, targets, weights } = setup();
    const losses = new Float64Array(R).fill(NaN);
    crossentropyForward(losses, logits, targets, weights, R, V);
    const dlogits = new Float64Array(R * V).fill(NaN);
    crossentropyBackward(dlogits, logits, targets, weights, R, V);
    for (const r of [2, 7]) {
      expect(losses[r]).toBe(0);
      expectAllClose(`dlogits row ${r}`, dlogits.subarray(r * V, (r + 1) * V), new Float64Array(V), 0);
    }
    expect(losses.every((l, r) => (weights[r] === 0 ? l === 0 : l > 0))).toBe(true);
  });

  it('rejects an out-of-range target on a counted position', () => {
    const losses = new Float64Array(1);
    const dlogits = new Float64Array(V);
    const logits = new Float64Array(V);
    expect(() => crossentropyForward(losses, logits, Int32Array.of(-1), Float64Array.of(1), 1, V)).toThrow(RangeError);
    expect(() => crossentropyBackward(dlogits, logits, Int32Array.of(V), Float64Array.of(1), 1, V)).toThrow(RangeError);
  });

  it('backward is d(sum of losses)/dlogits (finite differences)', () => {
    const { logits, targets, weights } = setup();
    const losses = new Float64Array(R);
    const loss = () => {
      crossentropyForward(losses, logits, targets, weights, R, V);
      return sum(losses);
    };
    const dlogits = new Float64Array(R * V);
    crossentropyBackward(dlogits, logits, targets, weights, R, V);
    expectGradClose('dlogits', dlogits, numericGrad(logits, loss));
    // softmax - onehot sums to zero over the vocabulary.
    for (let r = 0; r < R; r++) expect(Math.abs(sum(dlogits.subarray(r * V, (r + 1) * V)))).toBeLessThan(1e-14);
  });

  it('weights of 1/count turn the sum into the mean over counted positions', () => {
    const { logits, targets, weights } = setup();
    const unit = weights.map((w) => (w === 0 ? 0 : 1));
    const perPosition = new Float64Array(R);
    crossentropyForward(perPosition, logits, targets, unit, R, V);
    const count = sum(unit);
    const losses = new Float64Array(R);
    crossentropyForward(losses, logits, targets, unit.map((w) => w / count), R, V);
    expect(sum(losses)).toBeCloseTo(sum(perPosition) / count, 14);
  });

  it('assigns dlogits', () => {
    const { logits, targets, weights } = setup();
    const dlogits = new Float64Array(R * V).fill(NaN);
    crossentropyBackward(dlogits, logits, targets, weights, R, V);
    const once = dlogits.slice();
    crossentropyBackward(dlogits, logits, targets, weights, R, V);
    expectAllClose('dlogits', dlogits, once);
  });
});
