import { describe, it } from 'vitest';
import { residualBackward, residualForward } from '../../src/reference/residual.ts';
import { Rng } from '../../src/reference/random.ts';
import { dot, expectAllClose, expectGradClose, numericGrad, randn64 } from './helpers.ts';

const N = 11;

describe('residual reference', () => {
  it('adds elementwise', () => {
    const out = new Float64Array(3);
    residualForward(out, Float64Array.of(1, 2, 3), Float64Array.of(10, 20, 30), 3);
    expectAllClose('out', out, [11, 22, 33]);
  });

  it('backward matches finite differences', () => {
    const rng = new Rng(11);
    const a = randn64(rng, N);
    const b = randn64(rng, N);
    const R = randn64(rng, N);
    const out = new Float64Array(N);
    const loss = () => {
      residualForward(out, a, b, N);
      return dot(out, R);
    };
    const da = new Float64Array(N);
    const db = new Float64Array(N);
    residualBackward(da, db, R, N);
    expectGradClose('da', da, numericGrad(a, loss));
    expectGradClose('db', db, numericGrad(b, loss));
  });

  it('assigns da and db', () => {
    const dout = randn64(new Rng(12), N);
    const da = new Float64Array(N).fill(NaN);
    const db = new Float64Array(N).fill(NaN);
    residualBackward(da, db, dout, N);
    residualBackward(da, db, dout, N);
    expectAllClose('da', da, dout, 0);
    expectAllClose('db', db, dout, 0);
  });
});
