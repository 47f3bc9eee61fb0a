import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { sampleTokens, type SamplingSettings } from '../../src/kernels/sampling.ts';
import { sampleRow, sampleStep, uniform01, type SequenceRules } from '../../src/reference/sampling.ts';
import { randn, Rng, run, testGpu, upload, zeros } from '../helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const MAXT = 6;

interface StepState {
  seq: Int32Array;
  logprobs: Float32Array;
  done: Uint8Array;
}

/** One sample_tokens dispatch; returns seq, logprobs and done after it. */
async function gpuStep(
  logits: Float32Array,
  B: number,
  V: number,
  pos: number,
  rules: SequenceRules,
  s: SamplingSettings,
  init: { seq?: Int32Array; promptLen?: Int32Array; done?: Int32Array } = {},
): Promise<StepState> {
  const seq = upload(gpu, 'seq', init.seq ?? new Int32Array(B * MAXT));
  const logprobs = zeros(gpu, 'lp', B * MAXT);
  const done = upload(gpu, 'done', init.done ?? new Int32Array(B));
  const promptLen = upload(gpu, 'plen', init.promptLen ?? new Int32Array(B).fill(1));
  await run(gpu, (rec) => sampleTokens(rec, { seq, logprobs, done, promptLen }, upload(gpu, 'logits', logits), B, V, MAXT, pos, rules, s));
  const out = {
    seq: await gpu.readI32(seq, 0, B * MAXT),
    logprobs: await gpu.readF32(logprobs, 0, B * MAXT),
    done: Uint8Array.from(await gpu.readI32(done, 0, B)),
  };
  for (const b of [seq, logprobs, done, promptLen]) b.destroy();
  return out;
}

function expectLogprob(got: number, want: number, label: string): void {
  expect(Math.abs(got - want), `${label}: logprob ${got} vs ${want}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
}

const NO_EOS: SequenceRules = { eos: -1, pad: 0, maxNew: 100 };

describe('sampling kernel', () => {
  // Rows that stress the kernel: V = 301 leaves the last lanes' chunks short or
  // empty (64 lanes of 5 ids).
  const B = 7;
  const V = 301;
  const rng = new Rng(5);
  const logits = randn(rng, B * V, 2);
  logits.fill(0.5, 0, V); // row 0: all tied
  logits[V + 7] = 1e4; // row 1: one huge logit
  logits[2 * V + 3] = 9;
  logits[2 * V + 250] = 9; // row 2: a tie for the maximum
  for (let v = 0; v < V; v++) {
    logits[4 * V + v] *= 0.15; // row 4: nearly flat: top-p keeps many
    logits[5 * V + v] *= 40; // row 5: a wide spread: most weights underflow
  }
  for (let v = 0; v < V; v += 3) logits[6 * V + v] = 1.25; // row 6: many ties inside the candidates
  logits[6 * V + 100] = 20;

  const cases: [string, SamplingSettings][] = [
    ['greedy', { temperature: 0, topK: 0, topP: 1, seed: 1 }],
    ['temperature 0.8', { temperature: 0.8, topK: 0, topP: 1, seed: 2 }],
    ['temperature 3', { temperature: 3, topK: 0, topP: 1, seed: 9 }],
    ['top-k 5', { temperature: 1, topK: 5, topP: 1, seed: 3 }],
    ['top-k 120', { temperature: 0.7, topK: 120, topP: 1, seed: 13 }],
    ['top-p 0.6', { temperature: 1.2, topK: 0, topP: 0.6, seed: 4 }],
    ['top-p 0.999', { temperature: 1, topK: 0, topP: 0.999, seed: 14 }],
    ['top-k 40 and top-p 0.9', { temperature: 1, topK: 40, topP: 0.9, seed: 5 }],
    ['a tiny temperature', { temperature: 1e-3, topK: 0, topP: 0.95, seed: 6 }],
  ];

  it.each(cases)('%s: the same tokens as the reference sampler, log-probabilities to 1e-5', async (_name, s) => {
    for (const pos of [0, 2, 3]) {
      const got = await gpuStep(logits, B, V, pos, NO_EOS, s);
      for (let b = 0; b < B; b++) {
        const want = sampleRow(logits.subarray(b * V, (b + 1) * V), s, pos, b);
        expect(got.seq[b * MAXT + pos + 1], `row ${b} at position ${pos}`).toBe(want.token);
        expectLogprob(got.logprobs[b * MAXT + pos + 1]!, want.logprob, `row ${b} at position ${pos}`);
      }
    }
  });

  it('greedy takes the lowest id among tied maxima; the huge logit has log-probability 0', async () => {
    const got = await gpuStep(logits, B, V, 0, NO_EOS, { temperature: 0, topK: 0, topP: 1, seed: 0 });
    expect(got.seq[0 * MAXT + 1]).toBe(0);
    expect(got.seq[1 * MAXT + 1]).toBe(7);
    expect(got.logprobs[1 * MAXT + 1]).toBe(0);
    expect(got.seq[2 * MAXT + 1]).toBe(3);
    expect(got.seq[6 * MAXT + 1]).toBe(100);
    expectLogprob(got.logprobs[0 * MAXT + 1]!, -Math.log(V), 'uniform row');
  });

  it('top-k 1 is greedy whatever the seed; otherwise draws change with the seed', async () => {
    const greedy = await gpuStep(logits, B, V, 0, NO_EOS, { temperature: 0, topK: 0, topP: 1, seed: 0 });
    for (const seed of [1, 2, 3]) {
      const k1 = await gpuStep(logits, B, V, 0, NO_EOS, { temperature: 1, topK: 1, topP: 1, seed });
      // Not rows 0 and 2: top-1 keeps every token tied for the maximum.
      for (const b of [1, 3, 4, 5, 6]) expect(k1.seq[b * MAXT + 1]).toBe(greedy.seq[b * MAXT + 1]);
    }
    const a = await gpuStep(logits, B, V, 0, NO_EOS, { temperature: 2, topK: 0, topP: 1, seed: 11 });
    const c = await gpuStep(logits, B, V, 0, NO_EOS, { temperature: 2, topK: 0, topP: 1, seed: 12 });
    expect([...a.seq]).not.toEqual([...c.seq]);
    expect(uniform01(11, 0, 0)).not.toBe(uniform01(12, 0, 0));
  });

  it('keeps only the top-k tokens and the top-p nucleus (against sorted probabilities)', async () => {
    const s: SamplingSettings = { temperature: 1, topK: 10, topP: 0.5, seed: 21 };
    const rows = 64;
    const one = randn(new Rng(8), V, 1.5);
    const batch = new Float32Array(rows * V);
    for (let b = 0; b < rows; b++) batch.set(one, b * V);
    // The nucleus from a plain sort in f64: the top 10, renormalised; the fewest holding half the mass.
    const order = [...one.keys()].sort((x, y) => one[y]! - one[x]!);
    const top = order.slice(0, 10);
    const p = top.map((v) => Math.exp(one[v]! - one[top[0]!]!));
    const sum = p.reduce((x, y) => x + y);
    const nucleus = new Set<number>();
    let mass = 0;
    for (let i = 0; i < top.length && mass < 0.5 * sum; i++) {
      nucleus.add(top[i]!);
      mass += p[i]!;
    }
    const seen = new Set<number>();
    for (const pos of [0, 1, 2, 3]) {
      const got = await gpuStep(batch, rows, V, pos, NO_EOS, s);
      for (let b = 0; b < rows; b++) seen.add(got.seq[b * MAXT + pos + 1]!);
    }
    expect([...seen].every((v) => nucleus.has(v))).toBe(true);
    expect(seen.size).toBe(nucleus.size); // 256 draws reach every member
  });

  it('draws tokens with their probabilities', async () => {
    const Vs = 5;
    const row = Float32Array.from([0.3, -1, 1.2, 0.8, -0.2]);
    const rows = 256;
    const batch = new Float32Array(rows * Vs);
    for (let b = 0; b < rows; b++) batch.set(row, b * Vs);
    for (const s of [
      { temperature: 1, topK: 0, topP: 1, seed: 31 },
      { temperature: 0.5, topK: 3, topP: 1, seed: 32 },
    ]) {
      const z = [...row].map((x) => x / s.temperature);
      const kth = s.topK > 0 ? [...z].sort((a, b) => b - a)[s.topK - 1]! : -Infinity;
      const w = z.map((x) => (x >= kth ? Math.exp(x) : 0));
      const total = w.reduce((a, b) => a + b);
      const counts = new Array(Vs).fill(0);
      const positions = 8;
      for (let pos = 0; pos < positions; pos++) {
        const got = await gpuStep(batch, rows, Vs, pos, NO_EOS, s);
        for (let b = 0; b < rows; b++) counts[got.seq[b * MAXT + pos + 1]!]++;
      }
      const n = rows * positions;
      counts.forEach((c, v) => {
        const p = w[v]! / total;
        // within 4.5 standard deviations of a binomial count
        expect(Math.abs(c - n * p), `token ${v} at temperature ${s.temperature}`).toBeLessThanOrEqual(4.5 * Math.sqrt(n * p * (1 - p)) + 1e-9);
      });
    }
  });

  it('keeps prompt tokens, pads done sequences, and ends sequences at EOS and at maxNew', async () => {
    const Bs = 5;
    const Vs = 40;
    const rows = randn(new Rng(9), Bs * Vs);
    rows[2 * Vs + 17] = 50; // row 2 picks 17, the EOS
    const seq = new Int32Array(Bs * MAXT).fill(33);
    const promptLen = Int32Array.from([1, 5, 3, 3, 2]);
    const done = Int32Array.from([0, 0, 0, 1, 0]);
    const rules: SequenceRules = { eos: 17, pad: 17, maxNew: 2 };
    const s = { temperature: 0.9, topK: 0, topP: 1, seed: 3 };
    // Column 3: rows 0 and 4 reach maxNew, row 1 is inside its prompt, row 2 makes
    // its first token (EOS), row 3 is already done.
    const pos = 2;
    const got = await gpuStep(rows, Bs, Vs, pos, rules, s, { seq, promptLen, done });
    const want = { seq: seq.slice(), logprobs: new Float32Array(Bs * MAXT), done: Uint8Array.from(done) };
    sampleStep(want.seq, want.logprobs, want.done, rows, promptLen, Bs, Vs, MAXT, pos, rules, s);
    expect([...got.seq]).toEqual([...want.seq]);
    expect([...got.done]).toEqual([1, 0, 1, 1, 1]);
    expect([...want.done]).toEqual([1, 0, 1, 1, 1]);
    expect(got.seq[1 * MAXT + 3]).toBe(33); // prompt token kept
    expect(got.seq[2 * MAXT + 3]).toBe(17);
    expect(got.seq[3 * MAXT + 3]).toBe(17); // pad
    got.logprobs.forEach((x, i) => expectLogprob(x, want.logprobs[i]!, `slot ${i}`));
  });
});
