/** GPT-2 model configuration and the named presets. */

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

/** Vocabulary of the `bytes` tokenizer: 256 byte values and EOS. */
export const BYTES_VOCAB = 257;
/** Vocabulary of the GPT-2 BPE tokenizer. */
export const GPT2_VOCAB = 50257;

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
  if (!(name in PRESETS)) {
    throw new Error(`unknown model preset "${name}"; choose one of: ${Object.keys(PRESETS).join(', ')}`);
  }
  return { ...PRESETS[name as PresetName] };
}

/** Throws on a configuration no kernel can run, naming the field. */
export function validateConfig(config: GPTConfig): GPTConfig {
  for (const key of ['nLayer', 'nHead', 'nEmbd', 'nPositions', 'vocabSize'] as const) {
    const v = config[key];
    if (!Number.isInteger(v) || v < 1) throw new Error(`GPT config: ${key} must be a positive integer, got ${v}`);
  }
  if (config.nEmbd % config.nHead !== 0) {
    throw new Error(`GPT config: nEmbd (${config.nEmbd}) must be a multiple of nHead (${config.nHead})`);
  }
  return config;
}

/** Parameter count (the LM head is tied to wte and not counted twice). */
export function parameterCount(config: GPTConfig): number {
  const { nLayer: L, nEmbd: C, nPositions: P, vocabSize: V } = config;
  return V * C + P * C + L * (12 * C * C + 13 * C) + 2 * C;
}
