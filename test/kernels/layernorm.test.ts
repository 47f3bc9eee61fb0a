import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { layernormBackward, layernormForward } from '../../src/kernels/layernorm.ts';
import * as ref from '../../src/reference/index.ts';
import { expectClose, ODD, randn, Rng, run, testGpu, upload, zeros } from '../helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const N = ODD.B * ODD.T;
const C = ODD.C;

describe.each([true, false])('layernorm (with residual gradient: %s)', (withRes) => {
  it('forward and backward match the reference', async () => {
    const rng = new Rng(withRes ? 3 : 4);
    const inp = randn(rng, N * C, 2);
    for (let i = 0; i < N * C; i++) inp[i]! += 5; // an offset mean tests the centring
    const weight = randn(rng, C, 0.3);
    const bias = randn(rng, C, 0.3);
    const dout = randn(rng, N * C);
    const dres = randn(rng, N * C);
    const dweight0 = randn(rng, C);
    const dbias0 = randn(rng, C);

    const out = zeros(gpu, 'out', N * C);
    const mean = zeros(gpu, 'mean', N);
    const rstd = zeros(gpu, 'rstd', N);
    const dinp = upload(gpu, 'dinp', randn(rng, N * C));
    const dweight = upload(gpu, 'dweight', dweight0);
    const dbias = upload(gpu, 'dbias', dbias0);
    const inpB = upload(gpu, 'inp', inp);
    const weightB = upload(gpu, 'w', weight);
    await run(gpu, (rec) => {
      layernormForward(rec, out, mean, rstd, inpB, weightB, upload(gpu, 'b', bias), N, C);
      layernormBackward(
        rec,
        dinp,
        dweight,
        dbias,
        upload(gpu, 'dout', dout),
        withRes ? upload(gpu, 'dres', dres) : null,
        inpB,
        weightB,
        mean,
        rstd,
        N,
        C,
      );
    });

    const expOut = new Float32Array(N * C);
    const expMean = new Float32Array(N);
    const expRstd = new Float32Array(N);
    ref.layernormForward(expOut, expMean, expRstd, inp, weight, bias, N, C);
    const expDinp = new Float32Array(N * C);
    const expDw = dweight0.slice();
    const expDb = dbias0.slice();
    ref.layernormBackward(expDinp, expDw, expDb, dout, withRes ? dres : null, inp, weight, expMean, expRstd, N, C);

    const tol = { rtol: 1e-4, atol: 1e-5 };
    expectClose(await gpu.readF32(out, 0, N * C), expOut, 'out', tol);
    expectClose(await gpu.readF32(mean, 0, N), expMean, 'mean', tol);
    expectClose(await gpu.readF32(rstd, 0, N), expRstd, 'rstd', tol);
    expectClose(await gpu.readF32(dinp, 0, N * C), expDinp, 'dinp', tol);
    expectClose(await gpu.readF32(dweight, 0, C), expDw, 'dweight', tol);
    expectClose(await gpu.readF32(dbias, 0, C), expDb, 'dbias', tol);
  });
});
