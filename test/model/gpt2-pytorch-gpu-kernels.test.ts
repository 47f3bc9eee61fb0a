/**
 * The whole model against the PyTorch fixture through the kernels a real GPU
 * runs (the blocked matmul with its split-K and few-row paths, and the
 * row-wise kernels' `gpu` variants), forced on whatever adapter runs the
 * tests: CI's lavapipe picks the CPU rasteriser's kernels by default, so
 * without this the GPU path would first meet the fixture on a GPU.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { setMatmulVariants } from '../../src/kernels/matmul.ts';
import { setReductionVariant } from '../../src/kernels/reduction.ts';
import { GPT } from '../../src/model/gpt.ts';
import { relativeError, testGpu } from '../helpers.ts';
import { loadFixture, type Fixture } from './fixture.ts';

// The tolerances of gpt2-pytorch.test.ts.
const LOGITS_RTOL = 1e-5;
const GRAD_RTOL = 1e-4;
const LOSS_ATOL = 1e-5;

let gpu: Gpu;
let fx: Fixture;
beforeAll(async () => {
  gpu = await testGpu();
  fx = loadFixture();
  setMatmulVariants(gpu, { NN: 'blocked', NT: 'blocked', TN: 'blocked', TT: 'blocked' });
  setReductionVariant(gpu, 'gpu');
});
afterAll(() => gpu?.destroy());

describe('GPT-2 against the PyTorch fixture, in the GPU kernels', () => {
  it('logits, loss and every parameter gradient match', async () => {
    const model = new GPT(gpu, fx.config, fx.B, fx.T);
    model.setParameters(fx.params);
    const batch = { tokens: fx.x, targets: fx.y };
    expect(relativeError(await model.logits(batch), fx.logits)).toBeLessThan(LOGITS_RTOL);
    const loss = await model.backward(batch);
    expect(Math.abs(loss - fx.loss)).toBeLessThan(LOSS_ATOL);
    const grads = await model.getGradients();
    expect(grads.size).toBe(fx.grads.size);
    for (const [name, expected] of fx.grads) {
      const err = relativeError(grads.get(name)!, expected);
      expect(err, `gradient of ${name}: relative error ${err}`).toBeLessThan(GRAD_RTOL);
    }
    model.destroy();
  });
});
