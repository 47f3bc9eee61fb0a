/**
 * Long runs keep the device's caches flat: 1,000 PPO steps and 1,000
 * generate() calls, whose sampling seeds and decoding positions make new
 * uniform buffers every call, end with no more cached uniform buffers, bind
 * groups or pipelines than they had after their first tenth. (Uncapped, 300
 * generate() calls once grew the uniform cache from 5,265 to 30,515 buffers.)
 * The cap is lowered so that eviction runs throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { preset } from '../../src/model/config.ts';
import { Generator } from '../../src/model/generate.ts';
import { GPT } from '../../src/model/gpt.ts';
import { initParameters } from '../../src/model/params.ts';
import { PpoTrainer } from '../../src/train/ppo-trainer.ts';
import { PPO_DEFAULTS } from '../../src/train/ppo-settings.ts';
import { RewardModel } from '../../src/model/reward-model.ts';
import { testGpu } from '../helpers.ts';

const EOS = 256;
const RUN = 1000;
const CAP = 256;
const config = { ...preset('tiny'), nLayer: 1, nEmbd: 32, nHead: 2, nPositions: 16 };
const prompts = [Int32Array.from([65, 32]), Int32Array.from([66, 33, 97])];

type Sizes = ReturnType<Gpu['cacheSizes']>;

/** Runs `work(i)` RUN times and returns the cache sizes after the first tenth and the largest after that. */
async function sizesOver(gpu: Gpu, work: (i: number) => Promise<unknown>): Promise<{ settled: Sizes; peak: Sizes }> {
  let settled: Sizes | null = null;
  const peak: Sizes = { uniforms: 0, bindGroups: 0, pipelines: 0 };
  for (let i = 0; i < RUN; i++) {
    await work(i);
    const now = gpu.cacheSizes();
    if (i === RUN / 10 - 1) settled = now;
    if (settled) for (const k of Object.keys(peak) as (keyof Sizes)[]) peak[k] = Math.max(peak[k], now[k]);
  }
  return { settled: settled!, peak };
}

function expectFlat({ settled, peak }: { settled: Sizes; peak: Sizes }): void {
  expect(peak.uniforms).toBeLessThanOrEqual(CAP);
  // A few bind groups come and go with the uniforms evicted around them.
  expect(peak.bindGroups).toBeLessThanOrEqual(settled.bindGroups + 16);
  expect(peak.pipelines).toBe(settled.pipelines);
}

describe('over long runs the device caches stay flat', () => {
  let gpu: Gpu;
  let saved: number;
  beforeAll(async () => {
    gpu = await testGpu();
    saved = gpu.maxUniforms;
    gpu.maxUniforms = CAP;
  });
  afterAll(() => {
    if (!gpu) return;
    gpu.maxUniforms = saved;
    gpu.destroy();
  });

  it(`${RUN} PPO steps`, async () => {
    const trainer = new PpoTrainer(
      gpu,
      {
        policy: { config, params: initParameters(config, 1) },
        reward: { config, params: initParameters(config, 2), head: RewardModel.initScore(config, 2) },
      },
      { ...PPO_DEFAULTS, batchSize: 2, maxPromptLength: 3, responseLength: 3, ppoEpochs: 1, temperature: 1, seed: 5, targetKl: 1 },
      { lr: 1e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, gradClip: 1 },
      EOS,
    );
    try {
      expectFlat(await sizesOver(gpu, (step) => trainer.step(prompts, step, 1e-4)));
    } finally {
      trainer.destroy();
    }
  }, 600_000);

  it(`${RUN} generate() calls`, async () => {
    const model = new GPT(gpu, config, 1, 1);
    model.setParameters(initParameters(config, 3));
    const generator = new Generator(model, { maxBatch: 2, maxLength: 12 });
    try {
      expectFlat(await sizesOver(gpu, (call) => generator.generate(prompts, { maxNewTokens: 6, temperature: 1, seed: call, eosId: -1 })));
    } finally {
      generator.destroy();
      model.destroy();
    }
  }, 600_000);
});
