import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { preset } from '../../src/model/config.ts';
import { initParameters } from '../../src/model/params.ts';
import { RewardModel } from '../../src/model/reward-model.ts';
import * as evaluateStage from '../../src/stages/evaluate.ts';
import { goldScore, makePrompts, chatPrompt, parseTaskPrompt } from '../../src/task/index.ts';
import { createTokenizer } from '../../src/tokenizer/index.ts';
import { testGpu } from '../helpers.ts';

describe('policy comparison', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });
  afterAll(() => gpu?.destroy());

  it('reports reward-model and gold-judge scores, win rates and KL; a policy compared with itself has KL 0', async () => {
    const config = { ...preset('tiny'), nLayer: 1, nPositions: 64 };
    const policy = { config, params: initParameters(config, 1) };
    const rm = { config, params: initParameters(config, 2), head: RewardModel.initScore(config, 2) };
    const prompts = makePrompts(4, 6).map((p) => chatPrompt(p.question));
    const judge = (prompt: string, response: string) => goldScore(parseTaskPrompt(prompt)!, response);
    const { weights, summary: report } = await evaluateStage.run(
      gpu,
      policy,
      { ...evaluateStage.defaults, maxNewTokens: 8, temperature: 0.7, topK: 0, topP: 1, seed: 3, batchSize: 4 },
      { baseline: policy, reference: policy, reward: rm, tokenizer: createTokenizer('bytes'), prompts, judge },
    );
    // Evaluation trains nothing.
    expect(weights).toBe(policy);
    expect(report.prompts).toBe(6);
    expect(report.samples).toHaveLength(6);
    // The same weights and seed give the same responses: every comparison is a tie.
    expect(report.win_rate).toBe(0.5);
    expect(report.gold!.win_rate).toBe(0.5);
    expect(Math.abs(report.kl)).toBeLessThan(1e-4);
    for (const s of report.samples) {
      expect(s.policy).toBe(s.baseline);
      expect(s.policy_gold).toBe(judge(s.prompt, s.policy));
    }
    expect(report.gold!.policy_score).toBeCloseTo(report.samples.reduce((a, s) => a + s.policy_gold!, 0) / 6, 10);
  });
});
