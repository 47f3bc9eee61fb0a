import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { preset } from '../../src/model/config.ts';
import { GPT } from '../../src/model/gpt.ts';
import { initParameters } from '../../src/model/params.ts';
import { AdamW, ADAMW_DEFAULTS } from '../../src/train/adamw.ts';
import { languageModelTrainer, NonFiniteLossError, trainLoop } from '../../src/train/loop.ts';
import { learningRate } from '../../src/train/schedule.ts';
import { Rng, testGpu } from '../helpers.ts';

describe('learning-rate schedule', () => {
  it('warms up linearly, then decays along a cosine to lr/10', () => {
    const c = { schedule: 'cosine' as const, lr: 1, warmup: 4, steps: 14 };
    expect([0, 1, 2, 3].map((s) => learningRate(c, s))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(learningRate(c, 4)).toBeCloseTo(1, 12);
    expect(learningRate(c, 9)).toBeCloseTo(0.55, 12); // halfway: (1 + 0.1) / 2
    expect(learningRate(c, 14)).toBeCloseTo(0.1, 12);
  });

  it('stays constant after warmup when constant', () => {
    const c = { schedule: 'constant' as const, lr: 0.01, warmup: 0, steps: 10 };
    expect([0, 5, 9].map((s) => learningRate(c, s))).toEqual([0.01, 0.01, 0.01]);
  });
});

describe('training loop', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });
  afterAll(() => gpu?.destroy());

  it('stops on a non-finite loss without saving, naming the last good checkpoint', async () => {
    const config = { ...preset('tiny'), nLayer: 1 };
    const model = new GPT(gpu, config, 2, 8);
    const params = initParameters(config, 1);
    model.setParameters(params);
    const opt = new AdamW(gpu, model.params, ADAMW_DEFAULTS);
    const rng = new Rng(2);
    const tokens = rng.fillInt(new Int32Array(16), config.vocabSize);
    const saved: number[] = [];
    const logged: number[] = [];
    const poisoned = new Map([...params].map(([k, v]) => [k, v.map(() => NaN)]));
    const trainer = languageModelTrainer(model, opt, (step) => {
      if (step === 3) model.setParameters(poisoned);
      return { tokens, targets: tokens };
    });
    const run = trainLoop(
      trainer,
      { steps: 6, logEvery: 1, evalEvery: 0, saveEvery: 2, schedule: { schedule: 'constant', lr: 1e-3, warmup: 0, steps: 6 } },
      {
        onLog: (m) => void logged.push(m.step),
        save: (step) => void saved.push(step),
      },
    );
    await expect(run).rejects.toThrow(NonFiniteLossError);
    await expect(run).rejects.toThrow(/loss became NaN at step 4.*checkpoint of step 2 is intact/);
    expect(saved).toEqual([2]);
    expect(logged).toEqual([1, 2, 3]);
    opt.destroy();
    model.destroy();
  });
});
