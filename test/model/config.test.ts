import { describe, expect, it } from 'vitest';
import { decodeModel } from '../../src/io/checkpoint.ts';
import { DEFAULT_CONFIG_LIMITS, parameterCount, preset, PRESETS, validateConfig } from '../../src/model/config.ts';

describe('preset', () => {
  it('knows its own presets only: names Object.prototype has are unknown, and the presets are listed', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
      expect(() => preset(name), name).toThrow(`unknown model preset "${name}"; choose one of: tiny, small, mid, gpt2, gpt2-medium`);
    }
    expect(preset('tiny')).toEqual(PRESETS.tiny);
  });
});

describe('validateConfig', () => {
  const tiny = preset('tiny');

  it('accepts every preset', () => {
    for (const name of Object.keys(PRESETS)) expect(() => validateConfig(preset(name)), name).not.toThrow();
  });

  it('refuses sizes that are not positive integers, naming the field as the code and config.json spell it', () => {
    expect(() => validateConfig({ ...tiny, nLayer: 0 })).toThrow('GPT config: nLayer/n_layer must be a positive integer, got 0');
    expect(() => validateConfig({ ...tiny, nEmbd: 1.5 })).toThrow('nEmbd/n_embd must be a positive integer, got 1.5');
    expect(() => validateConfig({ ...tiny, vocabSize: 2 ** 60 })).toThrow('vocabSize/vocab_size must be a positive integer');
    expect(() => validateConfig({ ...tiny, nPositions: Number.NaN })).toThrow('nPositions/n_positions must be a positive integer, got NaN');
    expect(() => validateConfig({ ...tiny, nHead: 3 })).toThrow('GPT config: nEmbd (64) must be a multiple of nHead (3)');
  });

  it('refuses too many layers, and parameters past what a model can take, by arithmetic alone', () => {
    const started = performance.now();
    expect(() => validateConfig({ ...tiny, nLayer: 20_000_000 })).toThrow(
      'GPT config: nLayer/n_layer=20000000 is more than the 1024 transformer blocks supported',
    );
    const huge = { ...preset('gpt2'), nLayer: 1024 };
    expect(4 * parameterCount(huge)).toBeGreaterThan(DEFAULT_CONFIG_LIMITS.maxParameterBytes);
    expect(() => validateConfig(huge)).toThrow(
      /nLayer\/n_layer=1024, nEmbd\/n_embd=768, nPositions\/n_positions=1024, vocabSize\/vocab_size=50257 make 7\.297e\+9 parameters, 27\.2 GiB as float32, more than the 4 GiB a model can take here \(model\.safetensors is one byte array\)$/,
    );
    expect(() => validateConfig({ ...tiny, vocabSize: 2 ** 30 })).toThrow('more than the 4 GiB');
    expect(() => validateConfig(tiny, { maxParameterBytes: 1000 })).toThrow('more than the 1000 bytes');
    expect(() => validateConfig({ ...tiny, nLayer: 3 }, { maxLayers: 2 })).toThrow('more than the 2 transformer blocks');
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('stops a hostile config.json before a parameter table is built, naming the file and the field', () => {
    // The 446-byte config.json of the report: n_layer 20000000 used to build the whole parameter table (79 s, 4.9 GB, a V8 heap abort).
    const config = JSON.stringify({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_layer: 20_000_000, n_head: 12, n_embd: 768, n_positions: 1024, vocab_size: 50257 });
    const started = performance.now();
    expect(() => decodeModel(config, new Uint8Array(16), 'downloads/evil')).toThrow(
      'downloads/evil/config.json: GPT config: nLayer/n_layer=20000000 is more than the 1024 transformer blocks supported',
    );
    const wide = JSON.stringify({ n_layer: 1, n_head: 1, n_embd: 65536, n_positions: 65536, vocab_size: 65536 });
    expect(() => decodeModel(wide, new Uint8Array(16), 'downloads/wide')).toThrow(/^downloads\/wide\/config\.json: GPT config: .* parameters, .* as float32, more than the 4 GiB/);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
