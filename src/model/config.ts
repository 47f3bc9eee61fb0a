/** GPT-2 model configuration and the named presets. */
import { BYTES_VOCAB, GPT2_VOCAB } from '../tokenizer/vocab.ts';

export interface GPTConfig {
  /** L: transformer blocks */
  nLayer: number;
  /** NH: attention heads */
  nHead: number;
  /** C: channels; a multiple of nHead */
  nEmbd: number;
  /** maxT: the longest sequence (rows of the position table) */
  nPositions: number;
  /** V: vocabulary size */
  vocabSize: number;
}

// The tokenizers' vocabulary sizes (tokenizer/vocab.ts), re-exported beside the presets that use them.
export { BYTES_VOCAB, GPT2_VOCAB };

/**
 * Presets. `tiny` is for tests (seconds on a CPU adapter), `small` and `mid`
 * train on a CPU adapter in minutes, the GPT-2 family is for real GPUs.
 */
export const PRESETS = {
  tiny: { nLayer: 2, nHead: 4, nEmbd: 64, nPositions: 128, vocabSize: BYTES_VOCAB },
  small: { nLayer: 4, nHead: 4, nEmbd: 128, nPositions: 256, vocabSize: BYTES_VOCAB },
  mid: { nLayer: 6, nHead: 8, nEmbd: 256, nPositions: 256, vocabSize: BYTES_VOCAB },
  gpt2: { nLayer: 12, nHead: 12, nEmbd: 768, nPositions: 1024, vocabSize: GPT2_VOCAB },
  'gpt2-medium': { nLayer: 24, nHead: 16, nEmbd: 1024, nPositions: 1024, vocabSize: GPT2_VOCAB },
} as const satisfies Record<string, GPTConfig>;

export type PresetName = keyof typeof PRESETS;

export function preset(name: string): GPTConfig {
  // An own-property check: `in` also finds Object.prototype's names ("constructor", "toString").
  if (!Object.hasOwn(PRESETS, name)) {
    throw new Error(`unknown model preset "${name}"; choose one of: ${Object.keys(PRESETS).join(', ')}`);
  }
  return { ...PRESETS[name as PresetName] };
}

/** Limits a configuration must respect before anything is built from it. */
export interface ConfigLimits {
  /**
   * Most transformer blocks. The parameter table, the GPU buffers and the
   * bind groups grow with every block (a dozen tensors each), so a deeper
   * model costs memory before any size check of its own could run; the
   * deepest GPT-style models published have about 130.
   */
  maxLayers: number;
  /**
   * Most bytes of the float32 parameters: model.safetensors is written and
   * read as one byte array, and a typed array holds at most 2^32 elements
   * (4 GiB) in V8.
   */
  maxParameterBytes: number;
}

export const DEFAULT_CONFIG_LIMITS: Readonly<ConfigLimits> = { maxLayers: 1024, maxParameterBytes: 2 ** 32 };

/** The Hugging Face config.json key of each field, so that a message names the field as the file spells it. */
const HF_NAMES = { nLayer: 'n_layer', nHead: 'n_head', nEmbd: 'n_embd', nPositions: 'n_positions', vocabSize: 'vocab_size' } as const;
const fieldName = (key: keyof typeof HF_NAMES) => `${key}/${HF_NAMES[key]}`;

const bytesText = (n: number): string => {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${Number(n.toPrecision(3))} ${units[u]}`;
};

/**
 * Throws on a configuration no kernel can run or this process cannot hold,
 * naming the field (as config.json spells it, and as the code does). It does
 * arithmetic only, so a hostile config.json (n_layer: 20000000) is refused
 * before a parameter table, a tensor or a buffer is built from it.
 */
export function validateConfig(config: GPTConfig, limits: Partial<ConfigLimits> = {}): GPTConfig {
  const { maxLayers, maxParameterBytes } = { ...DEFAULT_CONFIG_LIMITS, ...limits };
  for (const key of ['nLayer', 'nHead', 'nEmbd', 'nPositions', 'vocabSize'] as const) {
    const v = config[key];
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`GPT config: ${fieldName(key)} must be a positive integer, got ${v}`);
  }
  if (config.nEmbd % config.nHead !== 0) {
    throw new Error(`GPT config: nEmbd (${config.nEmbd}) must be a multiple of nHead (${config.nHead})`);
  }
  if (config.nLayer > maxLayers) {
    throw new Error(`GPT config: ${fieldName('nLayer')}=${config.nLayer} is more than the ${maxLayers} transformer blocks supported`);
  }
  const count = parameterCount(config);
  const bytes = 4 * count;
  if (!(bytes <= maxParameterBytes)) {
    const sizes = (['nLayer', 'nEmbd', 'nPositions', 'vocabSize'] as const).map((k) => `${fieldName(k)}=${config[k]}`).join(', ');
    throw new Error(
      `GPT config: ${sizes} make ${count.toPrecision(4)} parameters, ${bytesText(bytes)} as float32, ` +
        `more than the ${bytesText(maxParameterBytes)} a model can take here (model.safetensors is one byte array)`,
    );
  }
  return config;
}

/** Parameter count (the LM head is tied to wte and not counted twice). */
export function parameterCount(config: GPTConfig): number {
  const { nLayer: L, nEmbd: C, nPositions: P, vocabSize: V } = config;
  return V * C + P * C + L * (12 * C * C + 13 * C) + 2 * C;
}
