import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { crossentropyBackward, crossentropyForward, lossSum } from '../../src/kernels/crossentropy.ts';
import * as ref from '../../src/reference/index.ts';
import { expectClose, ODD, randn, Rng, run, testGpu, upload, zeros } from '../helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

// The backward in both kernels: a workgroup of 64 a row (GPUs), and one
// subgroup a row (CPU adapters with subgroups).
describe.each([
  ['odd', ODD.B * ODD.T, ODD.V],
  ['wide rows', 5, 1000],
  ['one class', 3, 1],
])('crossentropy (%s: R=%i V=%i)', (_name, R, V) => {
  it.for([false, true])('forward, fused backward in place (subgroup kernel: %s), masking and the loss sum match the reference', async (subgroup, ctx) => {
    if (subgroup && gpu.subgroupMinSize === 0) return ctx.skip(`${gpu.name} has no subgroups`);
    const rng = new Rng(R + V);
    const logits = randn(rng, R * V, 3);
    logits[0] = 80; // large logits must not overflow the softmax
    const targets = rng.fillInt(new Int32Array(R), V);
    const weights = new Float32Array(R).fill(1 / R);
    weights[1] = 0; // masked: its target is not read
    targets[1] = -1;
    const losses = zeros(gpu, 'losses', R);
    const lossesB = zeros(gpu, 'lossesB', R);
    const total = zeros(gpu, 'total', 4);
    const logitsB = upload(gpu, 'logits', logits);
    const targetsB = upload(gpu, 'targets', targets);
    const weightsB = upload(gpu, 'weights', weights);
    await run(gpu, (rec) => {
      crossentropyForward(rec, losses, logitsB, targetsB, weightsB, R, V);
      lossSum(rec, total, 2, losses, R);
      crossentropyBackward(rec, logitsB, lossesB, targetsB, weightsB, R, V, subgroup);
    });
    const expLosses = new Float32Array(R);
    ref.crossentropyForward(expLosses, logits, targets, weights, R, V);
    const expDlogits = new Float32Array(R * V);
    ref.crossentropyBackward(expDlogits, logits, targets, weights, R, V);
    const tol = { rtol: 1e-5, atol: 1e-6 };
    expectClose(await gpu.readF32(losses, 0, R), expLosses, 'losses', tol);
    expectClose(await gpu.readF32(lossesB, 0, R), expLosses, 'losses (fused backward)', tol);
    expectClose(await gpu.readF32(logitsB, 0, R * V), expDlogits, 'dlogits', tol);
    const sum = expLosses.reduce((a, b) => a + b, 0);
    expect((await gpu.readF32(total))[2]).toBeCloseTo(sum, 5);
  });
});
