import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { configFromHF, configToHF, paramsFromHF, paramsToHF } from '../../src/io/hf-gpt2.ts';
import { parseSafetensors, serializeSafetensors, tensorToFloat32, type SafeTensor } from '../../src/io/safetensors.ts';
import type { GPTConfig } from '../../src/model/config.ts';
import { parameterTable } from '../../src/model/params.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/gpt2_tiny.safetensors', import.meta.url));
const fixture = parseSafetensors(readFileSync(FIXTURE), 'gpt2_tiny.safetensors');
const config = configFromHF(JSON.parse(fixture.metadata.config!), 'gpt2_tiny config');
const table = parameterTable(config);
const C = config.nEmbd;

/** Only the fixture's parameters (it also holds inputs, gradients, ...). */
function paramTensors(rename = (n: string) => n): Map<string, SafeTensor> {
  return new Map(table.map((p) => [rename(p.name), fixture.tensors.get(p.name)!]));
}

/** Bit-identical (and fast: a deep toEqual on ~10^5 elements takes seconds). */
function sameBits(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const bytes = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return bytes(a).equals(bytes(b));
}

function expectSameParams(got: Map<string, Float32Array>, want: Map<string, Float32Array>): void {
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [name, data] of want) expect(sameBits(got.get(name)!, data), name).toBe(true);
}

function f32Tensor(shape: number[], data = new Float32Array(shape.reduce((a, b) => a * b, 1))): SafeTensor {
  return { dtype: 'F32', shape, data: new Uint8Array(data.buffer) };
}

describe('HF GPT-2 config', () => {
  it('reads the fixture config', () => {
    expect(config).toEqual({ nLayer: 2, nHead: 3, nEmbd: 48, nPositions: 16, vocabSize: 101 });
  });

  it('configToHF writes a GPT2LMHeadModel config that reads back', () => {
    const hf = configToHF(config);
    expect(hf).toMatchObject({
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      n_layer: 2,
      n_head: 3,
      n_embd: 48,
      n_positions: 16,
      n_ctx: 16,
      vocab_size: 101,
      layer_norm_epsilon: 1e-5,
      activation_function: 'gelu_new',
      resid_pdrop: 0,
      embd_pdrop: 0,
      attn_pdrop: 0,
      initializer_range: 0.02,
      bos_token_id: 100,
      eos_token_id: 100,
      tie_word_embeddings: true,
      n_inner: null,
      scale_attn_weights: true,
      torch_dtype: 'float32',
    });
    expect(configFromHF(JSON.parse(JSON.stringify(hf)), 'config.json')).toEqual(config);
    const extra = configToHF(config, { architectures: ['GPT2ForSequenceClassification'], num_labels: 1 });
    expect(extra.architectures).toEqual(['GPT2ForSequenceClassification']);
    expect(extra.num_labels).toBe(1);
  });

  it('falls back to n_ctx and accepts gelu_pytorch_tanh', () => {
    const json = { n_layer: 1, n_head: 2, n_embd: 8, n_ctx: 32, vocab_size: 257, activation_function: 'gelu_pytorch_tanh' };
    expect(configFromHF(json, 'c')).toEqual({ nLayer: 1, nHead: 2, nEmbd: 8, nPositions: 32, vocabSize: 257 });
  });

  it('errors name the field and the source', () => {
    const good = { n_layer: 2, n_head: 3, n_embd: 48, n_positions: 16, vocab_size: 101 };
    const { n_head: _drop, ...noHead } = good;
    expect(() => configFromHF(noHead, 'run/config.json')).toThrow('run/config.json: config field n_head is missing');
    const { n_positions: _drop2, ...noPositions } = good;
    expect(() => configFromHF(noPositions, 'c.json')).toThrow('c.json: config field n_positions is missing');
    expect(() => configFromHF({ ...good, n_embd: 48.5 }, 'c.json')).toThrow(
      'c.json: config field n_embd must be a positive integer, got 48.5',
    );
    expect(() => configFromHF({ ...good, vocab_size: '101' }, 'c.json')).toThrow(
      'c.json: config field vocab_size must be a positive integer, got "101"',
    );
    expect(() => configFromHF({ ...good, layer_norm_epsilon: 1e-6 }, 'c.json')).toThrow(
      'c.json: layer_norm_epsilon 0.000001 is not supported (the kernels use 1e-5)',
    );
    expect(() => configFromHF({ ...good, activation_function: 'relu' }, 'c.json')).toThrow(
      'c.json: activation_function "relu" is not supported (the kernels use the tanh GELU: gelu_new or gelu_pytorch_tanh)',
    );
    expect(() => configFromHF({ ...good, n_embd: 50 }, 'c.json')).toThrow(
      'c.json: GPT config: nEmbd (50) must be a multiple of nHead (3)',
    );
    expect(() => configFromHF({ ...good, n_inner: 100 }, 'c.json')).toThrow('c.json: n_inner 100 is not supported');
    expect(() => configFromHF({ ...good, tie_word_embeddings: false }, 'c.json')).toThrow(
      'c.json: tie_word_embeddings=false is not supported',
    );
    expect(() => configFromHF([1], 'c.json')).toThrow('c.json: a GPT-2 config must be a JSON object');
  });
});

describe('HF GPT-2 parameters', () => {
  const loaded = paramsFromHF(fixture.tensors, config, 'gpt2_tiny.safetensors');

  it('loads the PyTorch fixture: 28 parameters with the internal sizes, in table order', () => {
    expect(loaded.params.size).toBe(28);
    expect([...loaded.params.keys()]).toEqual(table.map((p) => p.name));
    for (const p of table) expect(loaded.params.get(p.name)!.length).toBe(p.size);
    // Everything else in the fixture (inputs, logits, gradients, ...) is reported, not loaded.
    expect(loaded.ignored).toHaveLength(fixture.tensors.size - 28);
    expect(loaded.ignored).toContain('grad.wte.weight');
    expect(loaded.ignored).not.toContain('wte.weight');
  });

  it('transposes Conv1D weights: internal c_attn.weight[o*C + i] == HF [i*3C + o]', () => {
    const hf = tensorToFloat32(fixture.tensors.get('h.0.attn.c_attn.weight')!, 'hf');
    const ours = loaded.params.get('h.0.attn.c_attn.weight')!;
    // Spot checks in q, k and v, then every element.
    for (const [o, i] of [[5, 7], [48 + 20, 11], [96 + 40, 3], [143, 47]] as const) {
      expect(ours[o * C + i]).toBe(hf[i * 3 * C + o]);
    }
    for (let o = 0; o < 3 * C; o++) for (let i = 0; i < C; i++) if (ours[o * C + i] !== hf[i * 3 * C + o]) expect.fail(`${o},${i}`);
    // mlp.c_proj: HF (4C, C) -> internal (C, 4C).
    const hfProj = tensorToFloat32(fixture.tensors.get('h.1.mlp.c_proj.weight')!, 'hf');
    expect(loaded.params.get('h.1.mlp.c_proj.weight')![7 * 4 * C + 150]).toBe(hfProj[150 * C + 7]);
    // Not transposed: bytes as in the file.
    expect(sameBits(loaded.params.get('wte.weight')!, fixture.tensors.get('wte.weight')!.data)).toBe(true);
  });

  it('the same tensors with the transformer. prefix and the attention buffers load identically', () => {
    const prefixed = paramTensors((n) => `transformer.${n}`);
    const T = config.nPositions;
    prefixed.set('h.0.attn.bias', f32Tensor([1, 1, T, T]));
    prefixed.set('h.0.attn.masked_bias', f32Tensor([], Float32Array.of(-1e4)));
    prefixed.set('transformer.h.1.attn.bias', f32Tensor([1, 1, T, T]));
    prefixed.set('transformer.h.1.attn.masked_bias', f32Tensor([], Float32Array.of(-1e4)));
    prefixed.set('lm_head.weight', fixture.tensors.get('wte.weight')!);
    // Through the file format too, as a downloaded checkpoint would come.
    const file = serializeSafetensors(
      [...prefixed].map(([name, t]) => [name, { dtype: 'F32', shape: t.shape, data: tensorToFloat32(t, name) }]),
    );
    const reread = parseSafetensors(file, 'prefixed').tensors;
    const again = paramsFromHF(reread, config, 'prefixed');
    expect(again.ignored).toEqual([]);
    expectSameParams(again.params, loaded.params);
  });

  it('paramsToHF . paramsFromHF round-trips bit-identically, through the file format', () => {
    const hf = paramsToHF(loaded.params, config);
    expect(hf.map(([n]) => n)).toEqual(table.map((p) => p.name));
    const parsed = parseSafetensors(serializeSafetensors(hf), 'written');
    for (const p of table) {
      const ours = parsed.tensors.get(p.name)!;
      const theirs = fixture.tensors.get(p.name)!;
      expect(ours.shape, p.name).toEqual(theirs.shape);
      expect(sameBits(ours.data, theirs.data), p.name).toBe(true);
    }
    expectSameParams(paramsFromHF(parsed.tensors, config, 'written').params, loaded.params);
  });

  it('loads F16/BF16 checkpoints by widening to f32', () => {
    const tensors = paramTensors();
    const wte = tensorToFloat32(tensors.get('wte.weight')!, 'wte');
    const bits = new Uint32Array(wte.buffer);
    const bf16 = Uint16Array.from(bits, (b) => b >>> 16);
    tensors.set('wte.weight', { dtype: 'BF16', shape: [config.vocabSize, C], data: new Uint8Array(bf16.buffer) });
    const got = paramsFromHF(tensors, config, 'bf16').params.get('wte.weight')!;
    const want = new Float32Array(Uint32Array.from(bits, (b) => (b & 0xffff0000) >>> 0).buffer);
    expect(sameBits(got, want)).toBe(true);
  });

  it('a wrong shape names the tensor, its shape and the shape the config needs', () => {
    const tensors = paramTensors();
    tensors.set('h.0.attn.c_attn.weight', f32Tensor([48, 100]));
    expect(() => paramsFromHF(tensors, config, 'model.safetensors')).toThrow(
      'model.safetensors: tensor h.0.attn.c_attn.weight has shape [48,100] but the config (n_embd=48) needs [48,144]',
    );
    // Internal (out, in) instead of HF (in, out) is a shape error too.
    const transposed = paramTensors();
    transposed.set('h.1.mlp.c_fc.weight', f32Tensor([4 * C, C]));
    expect(() => paramsFromHF(transposed, config, 'm')).toThrow(
      'm: tensor h.1.mlp.c_fc.weight has shape [192,48] but the config (n_embd=48) needs [48,192]',
    );
    const wte = paramTensors((n) => `transformer.${n}`);
    wte.set('transformer.wte.weight', f32Tensor([50257, C]));
    expect(() => paramsFromHF(wte, config, 'm')).toThrow(
      'm: tensor transformer.wte.weight has shape [50257,48] but the config (vocab_size=101, n_embd=48) needs [101,48]',
    );
  });

  it('a missing tensor is named', () => {
    const tensors = paramTensors();
    tensors.delete('h.1.mlp.c_fc.weight');
    expect(() => paramsFromHF(tensors, config, 'model.safetensors')).toThrow(
      'model.safetensors: missing tensor h.1.mlp.c_fc.weight',
    );
  });

  it('a non-float parameter is an error naming the source and tensor', () => {
    const tensors = paramTensors();
    tensors.set('ln_f.bias', { dtype: 'I32', shape: [C], data: new Uint8Array(4 * C) });
    expect(() => paramsFromHF(tensors, config, 'm')).toThrow('m: tensor ln_f.bias: dtype I32 cannot be read as float32');
  });

  it('unknown tensors land in ignored', () => {
    const tensors = paramTensors();
    tensors.set('score.weight', f32Tensor([1, C]));
    tensors.set('h.0.attn.bias', f32Tensor([1, 1, 16, 16]));
    const { params, ignored } = paramsFromHF(tensors, config, 'rm');
    expect(ignored).toEqual(['score.weight']);
    expect(params.size).toBe(28);
  });

  it('paramsToHF checks every parameter is present with the right size', () => {
    const small: GPTConfig = { nLayer: 1, nHead: 1, nEmbd: 4, nPositions: 4, vocabSize: 5 };
    const params = new Map(parameterTable(small).map((p) => [p.name, new Float32Array(p.size)]));
    expect(paramsToHF(params, small)).toHaveLength(16);
    params.delete('ln_f.bias');
    expect(() => paramsToHF(params, small)).toThrow('paramsToHF: missing parameter ln_f.bias');
    params.set('ln_f.bias', new Float32Array(4));
    params.set('h.0.mlp.c_fc.weight', new Float32Array(63));
    expect(() => paramsToHF(params, small)).toThrow(
      'paramsToHF: parameter h.0.mlp.c_fc.weight has 63 elements but shape [16,4] needs 64',
    );
  });
});
