/**
 * The whole model against PyTorch, as llm.c's test_gpt2: logits, loss, every
 * parameter gradient, and ten AdamW steps with clipping (tools/make_gpt2_fixture.py).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { GPT } from '../../src/model/gpt.ts';
import { AdamW } from '../../src/train/adamw.ts';
import { relativeError, testGpu, trainedWeightsError } from '../helpers.ts';
import { loadFixture, type Fixture } from './fixture.ts';

// Tolerances, relative to the largest magnitude of each tensor (f32 throughout).
const LOGITS_RTOL = 1e-5;
const GRAD_RTOL = 1e-4;
const LOSS_ATOL = 1e-5;
// AdamW divides by sqrt(v): where a gradient entry is near zero, f32 rounding
// differences in it become visible in the step, so weights get a looser bound.
const WEIGHTS_RTOL = 1e-3;

let gpu: Gpu;
let fx: Fixture;
beforeAll(async () => {
  gpu = await testGpu();
  fx = loadFixture();
});
afterAll(() => gpu?.destroy());

describe('GPT-2 against the PyTorch fixture', () => {
  it('logits, loss and every parameter gradient match', async () => {
    const model = new GPT(gpu, fx.config, fx.B, fx.T);
    model.setParameters(fx.params);
    const batch = { tokens: fx.x, targets: fx.y };
    const logits = await model.logits(batch);
    expect(relativeError(logits, fx.logits)).toBeLessThan(LOGITS_RTOL);

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

  it('ten AdamW steps with gradient clipping match torch.optim.AdamW', async () => {
    const model = new GPT(gpu, fx.config, fx.B, fx.T);
    model.setParameters(fx.params);
    const { lr, beta1, beta2, eps, weight_decay, grad_clip, steps } = fx.adamw;
    const opt = new AdamW(gpu, model.params, { lr, beta1, beta2, eps, weightDecay: weight_decay, gradClip: grad_clip });
    const batch = { tokens: fx.x, targets: fx.y };
    for (let s = 0; s < steps; s++) {
      const { loss, gradNorm } = await model.trainStep(batch, opt);
      expect(Math.abs(loss - fx.losses[s]!), `loss of step ${s}: ${loss} vs ${fx.losses[s]}`).toBeLessThan(1e-4);
      expect(Math.abs(gradNorm - fx.gradNorms[s]!) / fx.gradNorms[s]!, `grad norm of step ${s}`).toBeLessThan(1e-4);
    }
    const weights = await model.getParameters();
    for (const [name, expected] of fx.final) {
      const { relative, keyBiasDrift } = trainedWeightsError(name, weights.get(name)!, expected, fx.config.nEmbd);
      expect(relative, `weights of ${name} after ${steps} steps: relative error ${relative}`).toBeLessThan(WEIGHTS_RTOL);
      expect(keyBiasDrift, `key bias of ${name}`).toBeLessThan(steps * lr * 0.1);
    }
    opt.destroy();
    model.destroy();
  });
});
