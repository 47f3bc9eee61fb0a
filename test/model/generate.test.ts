import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { vocabWindows } from '../../src/kernels/encoder.ts';
import { setMatmulVariants } from '../../src/kernels/matmul.ts';
import { setReductionVariant } from '../../src/kernels/reduction.ts';
import { preset } from '../../src/model/config.ts';
import { Generator, type GenerateOptions, type Generation } from '../../src/model/generate.ts';
import { GPT } from '../../src/model/gpt.ts';
import { initParameters } from '../../src/model/params.ts';
import { testGpu } from '../helpers.ts';

const config = { ...preset('tiny'), nLayer: 2, nPositions: 48 };
const EOS = 256;
const MAX_LENGTH = 32;
// Different lengths, the longest in the middle, a one-token prompt (so no batched prefill).
const prompts = [Int32Array.from([72, 101, 108]), Int32Array.from([1, 2, 3, 4, 5, 6, 7]), Int32Array.from([200])];
// Prompts of 5, 9 and 4 tokens: positions 0..2 of every one go through a batched prefill.
const longer = [Int32Array.from([10, 20, 30, 40, 50]), Int32Array.from([9, 8, 7, 6, 5, 4, 3, 2, 1]), Int32Array.from([99, 98, 97, 96])];

const tokens = (g: Generation) => g.responses.map((r) => [...r]);

function expectLogprobsClose(a: Generation, b: Generation): void {
  a.logprobs.forEach((lp, i) => {
    expect(lp.length).toBe(b.logprobs[i]!.length);
    lp.forEach((x, j) => expect(Math.abs(x - b.logprobs[i]![j]!), `sequence ${i} token ${j}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(x))));
  });
}

describe('generation', () => {
  let gpu: Gpu;
  let model: GPT;
  let gen: Generator;
  beforeAll(async () => {
    gpu = await testGpu();
    model = new GPT(gpu, config, 1, 8);
    model.setParameters(initParameters(config, 9)); // GPT-2's init: nearly uniform logits, close calls everywhere
    gen = new Generator(model, { maxBatch: 4, maxLength: MAX_LENGTH });
  });
  afterAll(() => {
    gen?.destroy();
    model?.destroy();
    gpu?.destroy();
  });

  it.each([
    ['step by step', prompts],
    ['after a batched prefill', longer],
  ])('greedy, %s: the KV cache gives exactly the tokens of full recomputation, log-probabilities to 1e-5', async (_name, batch) => {
    expect(gen.prefillLimit).toBe(MAX_LENGTH - 2);
    const opts: GenerateOptions = { maxNewTokens: 14, temperature: 0, eosId: -1 };
    const cached = await gen.generate(batch, opts);
    const full = await gen.generate(batch, { ...opts, kvCache: false });
    expect(tokens(cached)).toEqual(tokens(full));
    expect(cached.responses.map((r) => r.length)).toEqual([14, 14, 14]);
    expect(cached.finished).toEqual([false, false, false]);
    expectLogprobsClose(cached, full);
    // log-probabilities of tokens the model chose, under a normalised distribution
    expect(cached.logprobs.every((lp) => lp.every((x) => x < 0 && x > -10))).toBe(true);
  });

  it("greedy: a sequence's tokens do not depend on the rest of the batch", async () => {
    const opts: GenerateOptions = { maxNewTokens: 9, temperature: 0, eosId: EOS };
    const batch = await gen.generate(prompts, opts);
    for (let i = 0; i < prompts.length; i++) {
      const alone = await gen.generate([prompts[i]!], opts);
      expect([...alone.responses[0]!]).toEqual([...batch.responses[i]!]);
    }
  });

  it('sampling: the same seed gives the same tokens on both paths, other seeds other tokens', async () => {
    for (const [batch, s] of [
      [prompts, { temperature: 1.5, topK: 50, topP: 0.95, seed: 7 }],
      [longer, { temperature: 0.7, topK: 0, topP: 0.8, seed: 2 ** 32 + 5 }],
      [prompts, { temperature: 1, topK: 3, topP: 1, seed: 123456789 }],
    ] as const) {
      const opts: GenerateOptions = { maxNewTokens: 10, eosId: EOS, ...s };
      const a = await gen.generate(batch, opts);
      const b = await gen.generate(batch, { ...opts, kvCache: false });
      expect(tokens(a)).toEqual(tokens(b));
      expectLogprobsClose(a, b);
      const again = await gen.generate(batch, opts);
      expect(tokens(again)).toEqual(tokens(a));
      const other = await gen.generate(batch, { ...opts, seed: s.seed + 1 });
      expect(tokens(other)).not.toEqual(tokens(a));
    }
  });

  it('stops each sequence where it emits EOS, on both paths, and reports no padding', async () => {
    const free = await gen.generate(prompts, { maxNewTokens: 12, temperature: 1, seed: 4, eosId: -1 });
    // Take as EOS a token that sequence 1 first emits in the middle of its response.
    const r1 = [...free.responses[1]!];
    const at = r1.findIndex((t, i) => i >= 3 && r1.indexOf(t) === i);
    expect(at).toBeGreaterThan(0);
    const eos = r1[at]!;
    const opts: GenerateOptions = { maxNewTokens: 12, temperature: 1, seed: 4, eosId: eos };
    const cached = await gen.generate(prompts, opts);
    const full = await gen.generate(prompts, { ...opts, kvCache: false });
    expect(tokens(cached)).toEqual(tokens(full));
    expect(cached.finished).toEqual(full.finished);
    free.responses.forEach((r, i) => {
      // the same draws up to EOS: the tokens so far decide everything
      const cut = [...r].indexOf(eos);
      expect([...cached.responses[i]!]).toEqual(cut >= 0 ? [...r].slice(0, cut + 1) : [...r]);
      expect(cached.finished[i]).toBe(cut >= 0);
      expect(cached.logprobs[i]!.length).toBe(cached.responses[i]!.length);
    });
    expect(cached.responses[1]!.length).toBe(at + 1);
    expect(cached.finished[1]).toBe(true);
  });

  it('stops early when EOS is every sequence\'s first choice', async () => {
    // Make EOS the argmax everywhere: its row of the tied embedding along ln_f's bias.
    const params = initParameters(config, 9);
    const wte = params.get('wte.weight')!;
    const lnfBias = params.get('ln_f.bias')!;
    const C = config.nEmbd;
    for (let c = 0; c < C; c++) {
      lnfBias[c] = c % 2 ? 5 : -5;
      wte[EOS * C + c] = c % 2 ? 50 : -50;
    }
    const eosModel = new GPT(gpu, config, 1, 8);
    eosModel.setParameters(params);
    const g = new Generator(eosModel, { maxBatch: 4, maxLength: MAX_LENGTH });
    try {
      for (const kvCache of [true, false]) {
        const out = await g.generate(prompts, { maxNewTokens: 20, temperature: 0.8, seed: 1, eosId: EOS, kvCache });
        expect(out.finished).toEqual([true, true, true]);
        expect(tokens(out)).toEqual([[EOS], [EOS], [EOS]]);
        expect(out.logprobs.every((lp) => lp.length === 1 && lp[0]! > -1e-3)).toBe(true);
        // The longest prompt's EOS comes at step 6; the done flags are read every 8 steps,
        // long before the 7 + 20 - 1 steps a full run would take.
        expect(g.lastSteps).toBeLessThanOrEqual(kvCache ? 8 : 7);
      }
    } finally {
      g.destroy();
      eosModel.destroy();
    }
  });

  it('binds the token table in vocabulary windows where it exceeds one binding, with the same tokens', async () => {
    const C = config.nEmbd;
    // A weight matrix (4C x C) just fits; wte (257 x C) takes two windows.
    const split = await testGpu({ maxBindingBytes: 4 * C * C * 4 });
    const splitModel = new GPT(split, config, 1, 8);
    try {
      expect(vocabWindows(split, config.vocabSize, C).length).toBe(2);
      splitModel.setParameters(initParameters(config, 9));
      const g = new Generator(splitModel, { maxBatch: 2, maxLength: 16 });
      const opts: GenerateOptions = { maxNewTokens: 6, temperature: 1.2, topK: 20, seed: 3, eosId: EOS };
      const two = [prompts[0]!, longer[1]!];
      expect(tokens(await g.generate(two, opts))).toEqual(tokens(await gen.generate(two, opts)));
      g.destroy();
      expect(() => new Generator(splitModel, { maxBatch: 8, maxLength: 40 })).toThrow(
        'Generator: a layer of the KV cache (maxBatch x maxLength x C floats) needs 81920 bytes, ' +
          'more than one storage binding holds (65536); lower maxBatch or maxLength',
      );
    } finally {
      splitModel.destroy();
      split.destroy();
    }
  });

  it('keeps the device caches bounded over many sampled calls, evicting without changing a token', async () => {
    // Each call's seed and each step's position make uniform buffers of their
    // own; with the cache capped low, eviction happens within every call.
    const opts = (seed: number): GenerateOptions => ({ maxNewTokens: 6, temperature: 1, seed, eosId: -1 });
    const before = await gen.generate(prompts, opts(1));
    const cap = 48;
    const saved = gpu.maxUniforms;
    gpu.maxUniforms = cap;
    try {
      let peak = { uniforms: 0, bindGroups: 0 };
      let afterTen = 0;
      for (let call = 0; call < 40; call++) {
        await gen.generate(prompts, opts(100 + call));
        const sizes = gpu.cacheSizes();
        peak = { uniforms: Math.max(peak.uniforms, sizes.uniforms), bindGroups: Math.max(peak.bindGroups, sizes.bindGroups) };
        if (call === 9) afterTen = sizes.bindGroups;
      }
      expect(peak.uniforms).toBeLessThanOrEqual(cap);
      // Bind groups hold evicted uniforms only until eviction: flat after the first calls.
      expect(gpu.cacheSizes().bindGroups).toBeLessThanOrEqual(afterTen + 8);
      // The first call's seed again, after its uniforms were evicted: the same tokens.
      expect(tokens(await gen.generate(prompts, opts(1)))).toEqual(tokens(before));
    } finally {
      gpu.maxUniforms = saved;
    }
  });

  it('reports the token limit when no EOS comes', async () => {
    const out = await gen.generate([prompts[0]!], { maxNewTokens: 5, temperature: 0, eosId: -1 });
    expect(out.responses[0]).toHaveLength(5);
    expect(out.logprobs[0]).toHaveLength(5);
    expect(out.finished).toEqual([false]);
  });

  it('explains bad requests', async () => {
    const ok: GenerateOptions = { maxNewTokens: 1, eosId: EOS };
    const bad = (p: Int32Array[], o: Partial<GenerateOptions>) => gen.generate(p, { ...ok, ...o });
    await expect(bad([], {})).rejects.toThrow('generate: no prompts');
    await expect(bad(Array(5).fill(prompts[0]), {})).rejects.toThrow("5 prompts, more than this generator's maxBatch of 4");
    await expect(bad([prompts[0]!, new Int32Array(0)], {})).rejects.toThrow('prompt 1 is empty');
    await expect(bad([new Int32Array(33)], {})).rejects.toThrow("prompt 0 has 33 tokens, more than this generator's maxLength of 32");
    await expect(bad([new Int32Array(30)], { maxNewTokens: 5 })).rejects.toThrow(
      "prompt 0 has 30 tokens; with 5 new tokens it needs 35 positions, beyond this generator's maxLength of 32",
    );
    await expect(bad([Int32Array.from([1, 300])], {})).rejects.toThrow('prompt 0 holds token 300 at 1, outside the vocabulary [0, 257)');
    await expect(bad([prompts[0]!], { maxNewTokens: 0 })).rejects.toThrow('maxNewTokens must be a positive integer');
    await expect(bad([prompts[0]!], { temperature: -1 })).rejects.toThrow('temperature must be a finite number >= 0');
    await expect(bad([prompts[0]!], { topK: 1.5 })).rejects.toThrow('topK must be an integer >= 0');
    await expect(bad([prompts[0]!], { topP: 0 })).rejects.toThrow('topP must be in (0, 1]');
    await expect(bad([prompts[0]!], { eosId: 257 })).rejects.toThrow('eosId must be a token id in [0, 257) or -1 for none');

    // A generator as long as the model's context: the context is the limit named.
    const long = new Generator(model, { maxBatch: 1, maxLength: config.nPositions });
    try {
      await expect(long.generate([new Int32Array(40)], { maxNewTokens: 10, eosId: EOS })).rejects.toThrow(
        "prompt 0 has 40 tokens; with 10 new tokens it needs 50 positions, beyond the model's context of 48 (nPositions)",
      );
    } finally {
      long.destroy();
    }
    expect(() => new Generator(model, { maxBatch: 2, maxLength: 49 })).toThrow("maxLength 49 exceeds the model's context of 48 positions");
    expect(() => new Generator(model, { maxBatch: 0, maxLength: 8 })).toThrow('maxBatch must be a positive integer');
  });
});

// The kernels a real GPU runs (the blocked matmul and its few-row path for
// decoding, the row-wise kernels' `gpu` variants, attention_decode's
// workgroup per head), forced on whatever adapter runs the tests: decoding
// with the KV cache must still repeat the full pass's sums token for token.
describe('generation in the GPU kernels', () => {
  let gpu: Gpu;
  let model: GPT;
  let gen: Generator;
  beforeAll(async () => {
    gpu = await testGpu();
    setMatmulVariants(gpu, { NN: 'blocked', NT: 'blocked', TN: 'blocked', TT: 'blocked' });
    setReductionVariant(gpu, 'gpu');
    model = new GPT(gpu, config, 1, 8);
    model.setParameters(initParameters(config, 9));
    gen = new Generator(model, { maxBatch: 4, maxLength: MAX_LENGTH });
  });
  afterAll(() => {
    gen?.destroy();
    model?.destroy();
    gpu?.destroy();
  });

  it.each([
    ['step by step', prompts],
    ['after a batched prefill', longer],
  ])('greedy, %s: the KV cache gives exactly the tokens of full recomputation', async (_name, batch) => {
    const opts: GenerateOptions = { maxNewTokens: 14, temperature: 0, eosId: -1 };
    const cached = await gen.generate(batch, opts);
    const full = await gen.generate(batch, { ...opts, kvCache: false });
    expect(tokens(cached)).toEqual(tokens(full));
    expectLogprobsClose(cached, full);
  });
});
