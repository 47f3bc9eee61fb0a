import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { preset } from '../../src/model/config.ts';
import { initParameters } from '../../src/model/params.ts';
import * as rankingsStage from '../../src/stages/rankings.ts';
import { chatPrompt, goldJudge, goldRankingRecord, makePrompts, parseTaskPrompt } from '../../src/task/index.ts';
import { createTokenizer } from '../../src/tokenizer/index.ts';
import { testGpu } from '../helpers.ts';

describe('rankings stage', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });
  afterAll(() => gpu?.destroy());

  it('ranks every source’s responses together, trains nothing, and stops when asked', async () => {
    const config = { ...preset('tiny'), nLayer: 1, nPositions: 64 };
    const policy = { config, params: initParameters(config, 1) };
    const sft = { config, params: initParameters(config, 2) };
    const prompts = makePrompts(4, 6).map((p) => chatPrompt(p.question));
    const settings = rankingsStage.schema.parse({ ...rankingsStage.defaults, samples: 3, maxNewTokens: 8, seed: 5 });
    const input = {
      tokenizer: createTokenizer('bytes'),
      prompts,
      others: [{ weights: sft, samples: 2 }],
      rank: (prompt: string, responses: readonly string[]) => goldRankingRecord(parseTaskPrompt(prompt)!, prompt, responses),
      score: goldJudge,
    };
    const done: number[] = [];
    const outcome = await rankingsStage.run(gpu, policy, settings, input, { onProgress: (n) => done.push(n) });
    expect(outcome.weights).toBe(policy);
    expect(outcome.summary.responses).toBe(6 * 5);
    expect(outcome.summary.rankings).toBe(outcome.records.length);
    expect(outcome.summary.stopped).toBe(false);
    expect(Number.isFinite(outcome.summary.meanScore)).toBe(true);
    expect(done.at(-1)).toBe(6);
    // The same seed gives the same rankings.
    expect((await rankingsStage.run(gpu, policy, settings, input)).records).toEqual(outcome.records);
    const stopped = await rankingsStage.run(gpu, policy, settings, input, { shouldStop: () => true });
    expect(stopped.summary).toMatchObject({ stopped: true, responses: 0, rankings: 0 });
    // Responses to rank must differ: greedy decoding is refused.
    expect(rankingsStage.schema.safeParse({ ...settings, temperature: 0 }).success).toBe(false);
    expect(rankingsStage.schema.safeParse({ ...settings, samples: 1 }).success).toBe(false);
  });
});
