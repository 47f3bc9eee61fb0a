import { describe, it, expect } from 'vitest';
import { LAYERNORM_EPS, layernormBackward, layernormForward } from '../../src/reference/layernorm.ts';
import { Rng } from '../../src/reference/random.ts';
import { dot, expectAllClose, expectGradClose, numericGrad, randn64, scaled } from './helpers.ts';

describe('layernorm reference', () => {
  it('normalises each row to zero mean and unit (biased) variance before the affine', () => {
    const N = 4, C = 12;
    const rng = new Rng(2);
    const inp = randn64(rng, N * C, 3);
    for (let i = 0; i < C; i++) inp[i] += 5; // an offset row
    const out = new Float64Array(N * C);
    const mean = new Float64Array(N);
    const rstd = new Float64Array(N);
    layernormForward(out, mean, rstd, inp, new Float64Array(C).fill(1), new Float64Array(C), N, C);
    for (let n = 0; n < N; n++) {
      const row = Array.from(out.subarray(n * C, (n + 1) * C));
      const m = row.reduce((a, x) => a + x, 0) / C;
      const v = row.reduce((a, x) => a + (x - m) ** 2, 0) / C;
      const x = Array.from(inp.subarray(n * C, (n + 1) * C));
      const xm = x.reduce((a, y) => a + y, 0) / C;
      const xv = x.reduce((a, y) => a + (y - xm) ** 2, 0) / C;
      expect(Math.abs(m)).toBeLessThan(1e-12);
      // eps keeps the variance slightly under 1.
      expect(v).toBeCloseTo(xv / (xv + LAYERNORM_EPS), 12);
      expect(mean[n]).toBeCloseTo(xm, 12);
      expect(rstd[n]).toBeCloseTo(1 / Math.sqrt(xv + LAYERNORM_EPS), 12);
    }
  });

  it('saves mean and rstd and applies weight and bias (hand case)', () => {
    const out = new Float64Array(4);
    const mean = new Float64Array(1);
    const rstd = new Float64Array(1);
    const inp = Float64Array.of(1, 2, 3, 4);
    layernormForward(out, mean, rstd, inp, Float64Array.of(1, 2, 1, 1), Float64Array.of(0, 0, 0, 10), 1, 4);
    const s = 1 / Math.sqrt(1.25 + 1e-5); // var of 1..4 is 1.25
    expect(LAYERNORM_EPS).toBe(1e-5);
    expect(mean[0]).toBe(2.5);
    expect(rstd[0]).toBeCloseTo(s, 14);
    expectAllClose('out', out, [-1.5 * s, 2 * -0.5 * s, 0.5 * s, 1.5 * s + 10]);
  });

  const N = 10, C = 12; // B=2, T=5

  function setup() {
    const rng = new Rng(3);
    return {
      inp: randn64(rng, N * C),
      weight: randn64(rng, C, 0.5).map((x) => 1 + x),
      bias: randn64(rng, C, 0.5),
      R: randn64(rng, N * C),
      Rres: randn64(rng, N * C),
    };
  }

  for (const withRes of [false, true]) {
    it(`backward matches finite differences (${withRes ? 'with' : 'without'} dres)`, () => {
      const { inp, weight, bias, R, Rres } = setup();
      const out = new Float64Array(N * C);
      const mean = new Float64Array(N);
      const rstd = new Float64Array(N);
      // With dres, inp also feeds the residual stream: L = <LN(inp), R> + <inp, Rres>.
      const loss = () => {
        layernormForward(out, mean, rstd, inp, weight, bias, N, C);
        return dot(out, R) + (withRes ? dot(inp, Rres) : 0);
      };
      loss();
      const dinp = new Float64Array(N * C);
      const dweight = new Float64Array(C);
      const dbias = new Float64Array(C);
      layernormBackward(dinp, dweight, dbias, R, withRes ? Rres : null, inp, weight, mean, rstd, N, C);
      expectGradClose('dinp', dinp, numericGrad(inp, loss));
      expectGradClose('dweight', dweight, numericGrad(weight, loss));
      expectGradClose('dbias', dbias, numericGrad(bias, loss));
    });
  }

  function runBackward(dinp: Float64Array, dres: Float64Array | null, dweight: Float64Array, dbias: Float64Array) {
    const { inp, weight, bias, R } = setup();
    const mean = new Float64Array(N);
    const rstd = new Float64Array(N);
    layernormForward(new Float64Array(N * C), mean, rstd, inp, weight, bias, N, C);
    layernormBackward(dinp, dweight, dbias, R, dres, inp, weight, mean, rstd, N, C);
  }

  it('assigns dinp and accumulates dweight, dbias', () => {
    const dinp = new Float64Array(N * C).fill(NaN); // prior contents must not be read
    const dweight = new Float64Array(C);
    const dbias = new Float64Array(C);
    runBackward(dinp, null, dweight, dbias);
    const once = [dinp.slice(), dweight.slice(), dbias.slice()];
    runBackward(dinp, null, dweight, dbias);
    expectAllClose('dinp', dinp, once[0]);
    expectAllClose('dweight', dweight, scaled(once[1], 2));
    expectAllClose('dbias', dbias, scaled(once[2], 2));
  });

  it('allows dres to be the same array as dinp', () => {
    const { Rres } = setup();
    const separate = new Float64Array(N * C);
    runBackward(separate, Rres, new Float64Array(C), new Float64Array(C));
    const inPlace = Rres.slice();
    runBackward(inPlace, inPlace, new Float64Array(C), new Float64Array(C));
    expectAllClose('dinp', inPlace, separate, 0);
  });
});
