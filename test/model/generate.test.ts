import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { preset } from '../../src/model/config.ts';
import { Generator } from '../../src/model/generate.ts';
import { GPT } from '../../src/model/gpt.ts';
import { initParameters } from '../../src/model/params.ts';
import { testGpu } from '../helpers.ts';

const config = { ...preset('tiny'), nLayer: 2, nPositions: 48 };
const EOS = 256;
const prompts = [Int32Array.from([72, 101, 108]), Int32Array.from([1, 2, 3, 4, 5, 6, 7]), Int32Array.from([200])];

describe('generation', () => {
  let gpu: Gpu;
  let model: GPT;
  let gen: Generator;
  beforeAll(async () => {
    gpu = await testGpu();
    model = new GPT(gpu, config, 1, 8);
    // Larger weights than GPT-2's init make the random model's choices decisive.
    const params = initParameters(config, 9);
    for (const [name, p] of params) if (name.endsWith('weight') && !name.includes('ln')) p.forEach((x, i) => (p[i] = x * 10));
    model.setParameters(params);
    gen = new Generator(model, { maxBatch: 4, maxLength: 32 });
  });
  afterAll(() => {
    gen?.destroy();
    model?.destroy();
    gpu?.destroy();
  });

  it('with the KV cache returns exactly the tokens of full recomputation (greedy)', async () => {
    const opts = { maxNewTokens: 12, temperature: 0, eosId: EOS };
    const cached = await gen.generate(prompts, opts);
    const full = await gen.generate(prompts, { ...opts, kvCache: false });
    expect(cached.responses.map((r) => [...r])).toEqual(full.responses.map((r) => [...r]));
    expect(cached.responses.every((r) => r.length > 0)).toBe(true);
    cached.logprobs.forEach((lp, i) => lp.forEach((x, j) => expect(x).toBeCloseTo(full.logprobs[i]![j]!, 4)));
  });

  it('samples reproducibly: the same seed gives the same tokens on both paths, another seed others', async () => {
    const opts = { maxNewTokens: 10, temperature: 1.5, topK: 50, topP: 0.95, seed: 7, eosId: EOS };
    const a = await gen.generate(prompts, opts);
    const b = await gen.generate(prompts, { ...opts, kvCache: false });
    const c = await gen.generate(prompts, { ...opts, seed: 8 });
    expect(a.responses.map((r) => [...r])).toEqual(b.responses.map((r) => [...r]));
    expect(a.responses.map((r) => [...r])).not.toEqual(c.responses.map((r) => [...r]));
  });

  it('stops a sequence at EOS and reports it finished', async () => {
    // Make EOS the greedy choice: raise its row of the tied embedding far above the rest.
    const params = await model.getParameters();
    const wte = params.get('wte.weight')!;
    const C = config.nEmbd;
    const eosModel = new GPT(gpu, config, 1, 8);
    const lnf = params.get('ln_f.bias')!;
    for (let c = 0; c < C; c++) wte[EOS * C + c] = Math.sign(lnf[c]! || 1) * 50;
    lnf.forEach((_, c) => (lnf[c] = Math.sign(lnf[c]! || 1) * 5));
    eosModel.setParameters(params);
    const g = new Generator(eosModel, { maxBatch: 4, maxLength: 32 });
    const out = await g.generate(prompts, { maxNewTokens: 10, temperature: 0, eosId: EOS });
    expect(out.finished).toEqual([true, true, true]);
    expect(out.responses.map((r) => [...r])).toEqual([[EOS], [EOS], [EOS]]);
    g.destroy();
    eosModel.destroy();
  });

  it('reports the token limit when no EOS comes', async () => {
    const out = await gen.generate([prompts[0]!], { maxNewTokens: 5, temperature: 0, eosId: -1 });
    expect(out.responses[0]).toHaveLength(5);
    expect(out.finished).toEqual([false]);
  });

  it('explains bad requests', async () => {
    await expect(gen.generate([], { maxNewTokens: 1, eosId: EOS })).rejects.toThrow('no prompts');
    await expect(gen.generate([new Int32Array(0)], { maxNewTokens: 1, eosId: EOS })).rejects.toThrow('prompt 0 is empty');
    await expect(gen.generate([new Int32Array(30)], { maxNewTokens: 5, eosId: EOS })).rejects.toThrow(
      'prompt 0 has 30 tokens; with 5 new tokens it exceeds the length limit of 32',
    );
    await expect(gen.generate(Array(5).fill(prompts[0]), { maxNewTokens: 1, eosId: EOS })).rejects.toThrow('more than this generator');
  });
});
