import { describe, it, expect } from 'vitest';
import { geluBackward, geluForward } from '../../src/reference/gelu.ts';
import { Rng } from '../../src/reference/random.ts';
import { dot, expectAllClose, expectGradClose, numericGrad, randn64 } from './helpers.ts';

describe('gelu reference', () => {
  it('matches the tanh formula on known values', () => {
    const inp = Float64Array.of(0, 1, -1, 2, 10, -10);
    const out = new Float64Array(inp.length);
    geluForward(out, inp, inp.length);
    // Values of 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))), computed in Python.
    expectAllClose('out', out.subarray(0, 4), [0, 0.8411919906082768, -0.15880800939172324, 1.954597694087775], 1e-15);
    expect(out[4]).toBeCloseTo(10, 12);
    expect(Math.abs(out[5])).toBeLessThan(1e-12);
  });

  const N = 13;

  it('backward matches finite differences', () => {
    const rng = new Rng(9);
    const inp = randn64(rng, N, 2);
    const R = randn64(rng, N);
    const out = new Float64Array(N);
    const loss = () => {
      geluForward(out, inp, N);
      return dot(out, R);
    };
    const dinp = new Float64Array(N);
    geluBackward(dinp, R, inp, N);
    expectGradClose('dinp', dinp, numericGrad(inp, loss));
  });

  it('assigns dinp', () => {
    const rng = new Rng(10);
    const inp = randn64(rng, N);
    const dout = randn64(rng, N);
    const dinp = new Float64Array(N).fill(NaN);
    geluBackward(dinp, dout, inp, N);
    const once = dinp.slice();
    geluBackward(dinp, dout, inp, N);
    expectAllClose('dinp', dinp, once);
  });
});
