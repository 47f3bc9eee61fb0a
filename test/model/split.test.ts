/**
 * Tensors larger than one storage binding: with a small configured binding
 * limit the token table is bound in vocabulary windows, the logits in row
 * chunks and the batch in micro-batches. The results must equal an unsplit run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { vocabWindows } from '../../src/kernels/encoder.ts';
import type { GPTConfig } from '../../src/model/config.ts';
import { GPT } from '../../src/model/gpt.ts';
import { initParameters } from '../../src/model/params.ts';
import { AdamW } from '../../src/train/adamw.ts';
import { relativeError, Rng, testGpu, trainedWeightsError } from '../helpers.ts';

const config: GPTConfig = { nLayer: 1, nHead: 2, nEmbd: 32, nPositions: 48, vocabSize: 500 };
const B = 3;
const T = 48;
// Fits one sequence's activations (the MLP's (T,4C): 24,576 bytes) and the
// widest weight (16,384), but not two sequences, the token table (64,000) or
// one sequence's logits (96,000).
const LIMIT = 28_000;

let whole: Gpu;
let split: Gpu;
beforeAll(async () => {
  whole = await testGpu();
  split = await testGpu({ maxBindingBytes: LIMIT });
});
afterAll(() => {
  whole?.destroy();
  split?.destroy();
});

async function train(gpu: Gpu): Promise<{ model: GPT; losses: number[]; grads: Map<string, Float32Array> }> {
  const model = new GPT(gpu, config, B, T);
  model.setParameters(initParameters(config, 7));
  const rng = new Rng(3);
  const tokens = rng.fillInt(new Int32Array(B * T), config.vocabSize);
  const targets = rng.fillInt(new Int32Array(B * T), config.vocabSize);
  const weights = new Float32Array(B * T).fill(1);
  weights.fill(0, 0, 10); // masked positions too
  const batch = { tokens, targets, weights };
  const losses = [await model.backward(batch)];
  const grads = await model.getGradients();
  const opt = new AdamW(gpu, model.params, { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 });
  for (let s = 0; s < 2; s++) losses.push((await model.trainStep(batch, opt)).loss);
  losses.push(await model.loss(batch));
  return { model, losses, grads };
}

describe('tensors larger than one binding', () => {
  it('split the token table, the logits and the batch as planned', () => {
    const model = new GPT(split, config, B, T);
    expect(vocabWindows(split, config.vocabSize, config.nEmbd).length).toBeGreaterThan(1);
    expect(model.plan.microBatches).toBe(B);
    expect(model.plan.classifierRows).toBeLessThan(T);
    model.destroy();
  });

  it('give the same loss, gradients and trained weights as whole bindings', async () => {
    const a = await train(whole);
    const b = await train(split);
    expect(a.model.plan.microBatches).toBe(1);
    for (let i = 0; i < a.losses.length; i++) expect(b.losses[i]).toBeCloseTo(a.losses[i]!, 5);
    for (const [name, g] of a.grads) {
      expect(relativeError(b.grads.get(name)!, g), `gradient of ${name}`).toBeLessThan(1e-5);
    }
    const wa = await a.model.getParameters();
    const wb = await b.model.getParameters();
    for (const [name, w] of wa) {
      const { relative, keyBiasDrift } = trainedWeightsError(name, wb.get(name)!, w, config.nEmbd);
      // AdamW magnifies rounding differences in near-zero gradient entries (see trainedWeightsError).
      expect(relative, `weights of ${name}`).toBeLessThan(1e-3);
      expect(keyBiasDrift, `key bias of ${name}`).toBeLessThan(2 * 1e-2 * 0.1);
    }
  });

  it('refuse a configuration whose single sequence cannot fit, with a clear message', () => {
    expect(() => new GPT(split, { ...config, nPositions: 128 }, 1, 128)).toThrow(/storage binding limit/);
    expect(() => new GPT(split, { ...config, nEmbd: 64 }, 1, 8)).toThrow(/weight matrix.*exceeds/);
  });
});
