import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { preset } from '../../src/model/config.ts';
import { initParameters } from '../../src/model/params.ts';
import { PpoTrainer, type PpoMetrics } from '../../src/train/ppo-trainer.ts';
import { PPO_DEFAULTS } from '../../src/train/ppo-settings.ts';
import { RewardModel } from '../../src/model/reward-model.ts';
import { testGpu } from '../helpers.ts';

const EOS = 256;
const B = 16;
const config = { ...preset('tiny'), nLayer: 1, nPositions: 32 };
const prompts = Array.from({ length: B }, (_, b) => Int32Array.from([65 + (b % 8), 32, 97 + b]));
const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;

describe('PPO', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });
  afterAll(() => gpu?.destroy());

  async function run(klCoef: number, miniBatches: number): Promise<{ before: number; after: number; history: PpoMetrics[] }> {
    // A reward model with a strong random head: whatever it prefers, PPO should find.
    const trainer = new PpoTrainer(
      gpu,
      {
        policy: { config, params: initParameters(config, 11) },
        reward: { config, params: initParameters(config, 12), head: RewardModel.initScore(config, 12).map((x) => x * 50) },
      },
      { ...PPO_DEFAULTS, batchSize: B, maxPromptLength: 4, responseLength: 2, seed: 1, temperature: 1, klCoef, miniBatches },
      { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, gradClip: 1 },
      EOS,
    );
    const meanScore = async () => {
      const scores: number[] = [];
      for (const seed of [101, 102, 103]) {
        const gen = await trainer.generate(prompts, seed);
        scores.push(...(await trainer.score(prompts, gen.responses)));
      }
      return mean(scores);
    };
    const before = await meanScore();
    const history: PpoMetrics[] = [];
    for (let step = 0; step < 16; step++) history.push(await trainer.step(prompts, step, 1e-2));
    const after = await meanScore();
    trainer.destroy();
    return { before, after, history };
  }

  it('raises the reward-model score over the starting policy, with the KL held by its coefficient', async () => {
    const loose = await run(0.05, 2); // two optimizer steps per epoch
    const first = loose.history[0]!;
    expect(first['objective/kl']).toBeCloseTo(0, 4); // the policy starts as the reference
    expect(first['val/ratio']).toBeGreaterThan(0.9);
    expect(loose.after).toBeGreaterThan(loose.before + 3);
    const scores = loose.history.map((m) => m['objective/scores']);
    expect(mean(scores.slice(-4))).toBeGreaterThan(mean(scores.slice(0, 4)) + 3);
    for (const m of loose.history) for (const [k, v] of Object.entries(m)) expect(Number.isFinite(v), k).toBe(true);
    const looseKl = loose.history.at(-1)!['objective/kl'];
    // Two response tokens from a near-uniform start: 2 ln 257 is the KL of a fully deterministic policy.
    expect(looseKl).toBeGreaterThan(0);
    expect(looseKl).toBeLessThan(2 * Math.log(257));

    // A hundred times larger KL coefficient holds the policy much closer to the reference.
    const tight = await run(5, 2);
    expect(tight.history.at(-1)!['objective/kl']).toBeLessThan(0.5 * looseKl);
    expect(tight.after).toBeGreaterThan(tight.before);
  }, 300_000);
});
