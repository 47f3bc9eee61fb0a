import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { sampleTokens, type SamplingSettings } from '../../src/kernels/sampling.ts';
import { sampleRow, uniform01 } from '../../src/reference/sampling.ts';
import { randn, Rng, run, testGpu, upload, zeros } from '../helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const B = 5;
const V = 301;
const MAXT = 4;
const EOS = 300;

async function sampleOnGpu(logits: Float32Array, s: SamplingSettings, pos = 0): Promise<{ tokens: Int32Array; logprobs: Float32Array }> {
  const seq = zeros(gpu, 'seq', B * MAXT);
  const logprobs = zeros(gpu, 'lp', B * MAXT);
  const state = { seq, logprobs, done: zeros(gpu, 'done', B), promptLen: upload(gpu, 'plen', new Int32Array(B).fill(1)) };
  await run(gpu, (rec) => sampleTokens(rec, state, upload(gpu, 'logits', logits), B, V, MAXT, pos, EOS, 10, s));
  const all = await gpu.readI32(seq, 0, B * MAXT);
  const lps = await gpu.readF32(logprobs, 0, B * MAXT);
  return {
    tokens: Int32Array.from({ length: B }, (_, b) => all[b * MAXT + pos + 1]!),
    logprobs: Float32Array.from({ length: B }, (_, b) => lps[b * MAXT + pos + 1]!),
  };
}

describe('sampling kernel', () => {
  const rng = new Rng(5);
  const logits = randn(rng, B * V, 2);
  logits.set(new Float32Array(V).fill(0.5), 0); // row 0: all tied
  logits[V + 7] = 1e4; // row 1: one huge logit
  logits[2 * V + 3] = 9;
  logits[2 * V + 250] = 9; // row 2: a tie for the maximum

  it.each([
    ['greedy', { temperature: 0, topK: 0, topP: 1, seed: 1 }],
    ['temperature', { temperature: 0.8, topK: 0, topP: 1, seed: 2 }],
    ['top-k', { temperature: 1, topK: 5, topP: 1, seed: 3 }],
    ['top-p', { temperature: 1.2, topK: 0, topP: 0.6, seed: 4 }],
    ['top-k and top-p', { temperature: 1, topK: 40, topP: 0.9, seed: 5 }],
  ] as [string, SamplingSettings][])('%s matches the reference sampler', async (_name, s) => {
    for (const pos of [0, 2]) {
      const got = await sampleOnGpu(logits, s, pos);
      for (let b = 0; b < B; b++) {
        const want = sampleRow(logits.subarray(b * V, (b + 1) * V), s, pos, b);
        expect(got.tokens[b], `row ${b} at position ${pos}`).toBe(want.token);
        expect(got.logprobs[b]!).toBeCloseTo(want.logprob, 4);
      }
    }
  });

  it('greedy takes the lowest id among tied maxima', async () => {
    const got = await sampleOnGpu(logits, { temperature: 0, topK: 0, topP: 1, seed: 0 });
    expect(got.tokens[0]).toBe(0);
    expect(got.tokens[1]).toBe(7);
    expect(got.tokens[2]).toBe(3);
  });

  it('top-k 1 is greedy whatever the seed; draws vary with the seed otherwise', async () => {
    const greedy = await sampleOnGpu(logits, { temperature: 0, topK: 0, topP: 1, seed: 0 });
    for (const seed of [1, 2, 3]) {
      const k1 = await sampleOnGpu(logits, { temperature: 1, topK: 1, topP: 1, seed });
      expect([...k1.tokens].slice(3)).toEqual([...greedy.tokens].slice(3));
    }
    const a = await sampleOnGpu(logits, { temperature: 2, topK: 0, topP: 1, seed: 11 });
    const b = await sampleOnGpu(logits, { temperature: 2, topK: 0, topP: 1, seed: 12 });
    expect([...a.tokens]).not.toEqual([...b.tokens]);
    expect(uniform01(11, 0, 0)).not.toBe(uniform01(12, 0, 0));
  });
});
