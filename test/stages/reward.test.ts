import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPreferenceRecords } from '../../src/data/formats.ts';
import { rewardBatches, tokenizePreferences } from '../../src/data/preferences.ts';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { preset } from '../../src/model/config.ts';
import { initParameters } from '../../src/model/params.ts';
import { RewardModel } from '../../src/model/reward-model.ts';
import { createTokenizer } from '../../src/tokenizer/index.ts';
import { AdamW } from '../../src/train/adamw.ts';
import { testGpu } from '../helpers.ts';
import { preferenceJsonl } from './preferences.ts';

describe('reward model', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });
  afterAll(() => gpu?.destroy());

  it('learns a preference rule to clearly better than chance on held-out comparisons', async () => {
    const bytes = createTokenizer('bytes');
    const B = 12;
    const T = 48;
    const tok = (text: string, source: string) =>
      tokenizePreferences(loadPreferenceRecords(text, source), bytes, { maxLength: T, maxGroupSize: B });
    const train = tok(preferenceJsonl(240, 1), 'train.jsonl');
    const held = tok(preferenceJsonl(60, 2), 'held.jsonl');
    expect(train.skipped).toEqual([]);
    const config = { ...preset('tiny'), nLayer: 1, nPositions: T };
    const rm = new RewardModel(gpu, config, B, T);
    rm.setParameters(initParameters(config, 3), RewardModel.initScore(config, 3));
    const opt = new AdamW(gpu, rm.params, { lr: 2e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, gradClip: 1 });
    const batches = rewardBatches(train.groups, B, T, bytes.eosId, { seed: 1 });
    const heldBatches = rewardBatches(held.groups, B, T, bytes.eosId, { seed: 0, shuffle: false });
    const accuracy = async () => {
      let correct = 0;
      let total = 0;
      for (let k = 0; k < heldBatches.batchesPerEpoch; k++) {
        const batch = heldBatches.batch(k);
        correct += (await rm.evaluate(batch)).accuracy * batch.comparisons;
        total += batch.comparisons;
      }
      return correct / total;
    };
    const before = await accuracy();
    let first = NaN;
    let last = NaN;
    for (let step = 0; step < 90; step++) {
      const m = await rm.trainStep(batches.batch(step), opt);
      if (step === 0) first = m.loss;
      last = m.loss;
    }
    const after = await accuracy();
    expect(first).toBeGreaterThan(0.6); // about log 2 at the start
    expect(last).toBeLessThan(first);
    expect(after).toBeGreaterThan(0.8);
    expect(after).toBeGreaterThan(before + 0.2);
    opt.destroy();
    rm.destroy();
  }, 300_000);
});
