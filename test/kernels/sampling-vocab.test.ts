/**
 * A padded vocabulary (a model's vocabulary larger than its tokenizer's, as
 * llm.c pads 50257 to 50304): the sampler chooses only among the tokenizer's
 * ids, on the GPU and in the CPU reference alike, and generation never emits
 * a padded id even where the model favours one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { sampleTokens, type SamplingSettings } from '../../src/kernels/sampling.ts';
import { preset } from '../../src/model/config.ts';
import { Generator } from '../../src/model/generate.ts';
import { GPT } from '../../src/model/gpt.ts';
import { initParameters } from '../../src/model/params.ts';
import { PpoTrainer } from '../../src/train/ppo-trainer.ts';
import { PPO_DEFAULTS } from '../../src/train/ppo-settings.ts';
import { RewardModel } from '../../src/model/reward-model.ts';
import { sampleRow, sampleStep, type SequenceRules } from '../../src/reference/sampling.ts';
import { randn, Rng, run, testGpu, upload, zeros } from '../helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const MAXT = 4;
const B = 3;
const V = 300; // the model's vocabulary
const N = 257; // the tokenizer's: ids 257..299 are padding

async function gpuStep(logits: Float32Array, rules: SequenceRules, s: SamplingSettings) {
  const seq = upload(gpu, 'seq', new Int32Array(B * MAXT));
  const logprobs = zeros(gpu, 'lp', B * MAXT);
  const done = upload(gpu, 'done', new Int32Array(B));
  const promptLen = upload(gpu, 'plen', new Int32Array(B).fill(1));
  await run(gpu, (rec) => sampleTokens(rec, { seq, logprobs, done, promptLen }, upload(gpu, 'logits', logits), B, V, MAXT, 0, rules, s));
  const out = { seq: await gpu.readI32(seq, 0, B * MAXT), logprobs: await gpu.readF32(logprobs, 0, B * MAXT) };
  for (const b of [seq, logprobs, done, promptLen]) b.destroy();
  return out;
}

describe('sampling with a vocabulary limit', () => {
  const logits = randn(new Rng(11), B * V, 2);
  // The padded ids are the most likely by far in every row.
  for (let b = 0; b < B; b++) for (let v = N; v < V; v++) logits[b * V + v] = 50 + v / 100;
  const cases: [string, SamplingSettings][] = [
    ['greedy', { temperature: 0, topK: 0, topP: 1, seed: 1 }],
    ['temperature 1', { temperature: 1, topK: 0, topP: 1, seed: 2 }],
    ['top-k 5', { temperature: 1, topK: 5, topP: 1, seed: 3 }],
    ['top-p 0.9', { temperature: 1, topK: 0, topP: 0.9, seed: 4 }],
  ];

  it.each(cases)('%s: only ids below the limit, the reference sampler\'s choice over them', async (_name, s) => {
    const rules: SequenceRules = { eos: -1, pad: 0, maxNew: 10, vocab: N };
    const got = await gpuStep(logits, rules, s);
    const seq = new Int32Array(B * MAXT);
    const logprobs = new Float32Array(B * MAXT);
    sampleStep(seq, logprobs, new Uint8Array(B), logits, new Int32Array(B).fill(1), B, V, MAXT, 0, rules, s);
    for (let b = 0; b < B; b++) {
      const token = got.seq[b * MAXT + 1]!;
      expect(token, `row ${b}`).toBeLessThan(N);
      const want = sampleRow(logits.subarray(b * V, b * V + N), s, 0, b);
      expect(token, `row ${b}`).toBe(want.token);
      expect(seq[b * MAXT + 1]).toBe(want.token);
      // The log-probability is over the ids that may be chosen.
      expect(Math.abs(got.logprobs[b * MAXT + 1]! - want.logprob)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want.logprob)));
    }
    // Without the limit the padded ids win.
    const unlimited = await gpuStep(logits, { eos: -1, pad: 0, maxNew: 10 }, s);
    for (let b = 0; b < B; b++) expect(unlimited.seq[b * MAXT + 1]).toBeGreaterThanOrEqual(N);
  });

  const config = { ...preset('tiny'), nLayer: 1, nPositions: 16, vocabSize: V };
  /** A model that favours the padded ids: ln_f passes only its bias, so every position's logits are bias · wte[v], and padded rows lie along it. */
  function paddedFavourite() {
    const params = initParameters(config, 3);
    const bias = params.get('ln_f.bias')!;
    const wte = params.get('wte.weight')!;
    const C = config.nEmbd;
    params.get('ln_f.weight')!.fill(0);
    for (let c = 0; c < C; c++) bias[c] = c % 2 === 0 ? 1 : -1;
    for (let v = N; v < V; v++) for (let c = 0; c < C; c++) wte[v * C + c] = bias[c]!;
    for (let c = 0; c < C; c++) wte[65 * C + c] = 0.5 * bias[c]!; // 'A': the best of the tokenizer's ids
    return params;
  }

  it('generation with vocabLimit never emits a padded id, on both paths; without it the model would', async () => {
    const params = paddedFavourite();
    const model = new GPT(gpu, config, 1, 8);
    model.setParameters(params);
    const gen = new Generator(model, { maxBatch: 2, maxLength: 12 });
    try {
      const prompts = [Int32Array.from([72, 105]), Int32Array.from([1])];
      for (const kvCache of [true, false]) {
        for (const temperature of [0, 1]) {
          const out = await gen.generate(prompts, { maxNewTokens: 6, temperature, seed: 5, eosId: 256, vocabLimit: N, kvCache });
          for (const r of out.responses) expect([...r].every((t) => t < N), `kvCache ${kvCache}, temperature ${temperature}: ${r}`).toBe(true);
          if (temperature === 0) expect(out.responses.map((r) => [...r])).toEqual([[65, 65, 65, 65, 65, 65], [65, 65, 65, 65, 65, 65]]);
        }
      }
      const unlimited = await gen.generate(prompts, { maxNewTokens: 3, temperature: 0, eosId: 256 });
      expect(unlimited.responses.every((r) => [...r].every((t) => t >= N))).toBe(true);
      await expect(gen.generate(prompts, { maxNewTokens: 1, eosId: 256, vocabLimit: V + 1 })).rejects.toThrow(
        `generate: vocabLimit must be an integer in [1, ${V}] (the model's vocabulary), got ${V + 1}`,
      );
      await expect(gen.generate(prompts, { maxNewTokens: 1, eosId: 256, vocabLimit: 200 })).rejects.toThrow('eosId must be a token id in [0, 200)');
    } finally {
      gen.destroy();
      model.destroy();
    }
  });

  it("PPO's rollouts sample only the tokenizer's ids (settings.vocabLimit)", async () => {
    const prompts = [Int32Array.from([72, 105]), Int32Array.from([1, 2])];
    const make = (vocabLimit?: number) =>
      new PpoTrainer(
        gpu,
        { policy: { config, params: paddedFavourite() }, reward: { config, params: initParameters(config, 4), head: RewardModel.initScore(config, 4) } },
        { ...PPO_DEFAULTS, batchSize: 2, maxPromptLength: 2, responseLength: 4, temperature: 1, vocabLimit },
        { lr: 1e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, gradClip: 1 },
        256,
      );
    const limited = make(N);
    const unlimited = make();
    try {
      const a = await limited.generate(prompts, 7);
      expect(a.responses.every((r) => r.length > 0 && [...r].every((t) => t < N))).toBe(true);
      const b = await unlimited.generate(prompts, 7);
      expect(b.responses.some((r) => [...r].some((t) => t >= N))).toBe(true);
    } finally {
      limited.destroy();
      unlimited.destroy();
    }
  });
});
