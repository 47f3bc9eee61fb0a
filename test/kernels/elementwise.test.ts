import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { geluBackward, geluForward } from '../../src/kernels/gelu.ts';
import { residualForward } from '../../src/kernels/residual.ts';
import * as ref from '../../src/reference/index.ts';
import { expectClose, ODD, randn, Rng, run, testGpu, upload, zeros } from '../helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const N = ODD.B * ODD.T * 4 * ODD.C;

describe('gelu', () => {
  it('forward and backward match the reference, including large |x|', async () => {
    const rng = new Rng(1);
    const x = randn(rng, N, 3);
    x[0] = 60; // tanh overflow guard
    x[1] = -60;
    const dout = randn(rng, N);
    const out = zeros(gpu, 'out', N);
    const dinp = zeros(gpu, 'dinp', N);
    const xb = upload(gpu, 'x', x);
    await run(gpu, (rec) => {
      geluForward(rec, out, xb, N);
      geluBackward(rec, dinp, upload(gpu, 'dout', dout), xb, N);
    });
    const expOut = new Float32Array(N);
    const expDinp = new Float32Array(N);
    ref.geluForward(expOut, x, N);
    ref.geluBackward(expDinp, dout, x, N);
    expectClose(await gpu.readF32(out), expOut, 'gelu out', { rtol: 1e-5, atol: 1e-6 });
    expectClose(await gpu.readF32(dinp), expDinp, 'gelu dinp', { rtol: 1e-5, atol: 1e-6 });
  });
});

describe('residual', () => {
  it('forward matches the reference; backward is the identity', async () => {
    const rng = new Rng(2);
    const a = randn(rng, N);
    const b = randn(rng, N);
    const out = zeros(gpu, 'out', N);
    await run(gpu, (rec) => residualForward(rec, out, upload(gpu, 'a', a), upload(gpu, 'b', b), N));
    const expected = new Float32Array(N);
    ref.residualForward(expected, a, b, N);
    expectClose(await gpu.readF32(out), expected, 'residual out', { rtol: 0, atol: 0 });
  });
});
