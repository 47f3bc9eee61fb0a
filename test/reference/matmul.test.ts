import { describe, it, expect } from 'vitest';
import { matmulBackward, matmulForward } from '../../src/reference/matmul.ts';
import { Rng } from '../../src/reference/random.ts';
import { dot, expectAllClose, expectGradClose, numericGrad, randn64, scaled } from './helpers.ts';

describe('matmul reference', () => {
  it('computes inp @ weight^T + bias (hand case)', () => {
    const inp = Float64Array.of(1, 2, 3, 4, 5, 6); // M=2, K=3
    const weight = Float64Array.of(1, 0, 0, 0, 1, 1); // N=2
    const out = new Float64Array(4);
    matmulForward(out, inp, weight, Float64Array.of(10, 20), 2, 3, 2);
    expectAllClose('out', out, [11, 25, 14, 31]);
    matmulForward(out, inp, weight, null, 2, 3, 2);
    expectAllClose('out (no bias)', out, [1, 5, 4, 11]);
  });

  const M = 5, K = 7, N = 3;

  function setup() {
    const rng = new Rng(4);
    return { inp: randn64(rng, M * K), weight: randn64(rng, N * K), bias: randn64(rng, N), R: randn64(rng, M * N) };
  }

  for (const withBias of [true, false]) {
    it(`backward matches finite differences (${withBias ? 'with' : 'without'} bias)`, () => {
      const { inp, weight, bias, R } = setup();
      const out = new Float64Array(M * N);
      const loss = () => {
        matmulForward(out, inp, weight, withBias ? bias : null, M, K, N);
        return dot(out, R);
      };
      const dinp = new Float64Array(M * K);
      const dweight = new Float64Array(N * K);
      const dbias = new Float64Array(N);
      matmulBackward(dinp, dweight, withBias ? dbias : null, R, inp, weight, M, K, N);
      expectGradClose('dinp', dinp, numericGrad(inp, loss));
      expectGradClose('dweight', dweight, numericGrad(weight, loss));
      if (withBias) expectGradClose('dbias', dbias, numericGrad(bias, loss));
    });
  }

  it('assigns dinp and accumulates dweight, dbias', () => {
    const { inp, weight, R } = setup();
    const dinp = new Float64Array(M * K).fill(NaN);
    const dweight = new Float64Array(N * K);
    const dbias = new Float64Array(N);
    matmulBackward(dinp, dweight, dbias, R, inp, weight, M, K, N);
    const once = [dinp.slice(), dweight.slice(), dbias.slice()];
    matmulBackward(dinp, dweight, dbias, R, inp, weight, M, K, N);
    expectAllClose('dinp', dinp, once[0]);
    expectAllClose('dweight', dweight, scaled(once[1], 2));
    expectAllClose('dbias', dbias, scaled(once[2], 2));
  });

  it('runs on Float32Array too, agreeing with float64 to f32 precision', () => {
    const { inp, weight, bias } = setup();
    const out64 = new Float64Array(M * N);
    matmulForward(out64, inp, weight, bias, M, K, N);
    const out32 = new Float32Array(M * N);
    matmulForward(out32, Float32Array.from(inp), Float32Array.from(weight), Float32Array.from(bias), M, K, N);
    for (let i = 0; i < out64.length; i++) expect(Math.abs(out32[i] - out64[i])).toBeLessThan(1e-5);
  });
});
