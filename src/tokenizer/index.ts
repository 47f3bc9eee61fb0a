import { BytesTokenizer } from './bytes.ts';
import { Gpt2Tokenizer } from './gpt2.ts';
import type { Tokenizer } from './tokenizer.ts';

export type { Tokenizer } from './tokenizer.ts';
export { BytesTokenizer } from './bytes.ts';
export { Gpt2Tokenizer } from './gpt2.ts';
// The tokenizers' vocabulary sizes; the model presets (model/config.ts) take them.
export { BYTES_VOCAB, GPT2_VOCAB } from './vocab.ts';

export const TOKENIZERS = ['bytes', 'gpt2'] as const;
export type TokenizerName = (typeof TOKENIZERS)[number];

export function createTokenizer(name: string): Tokenizer {
  if (name === 'bytes') return new BytesTokenizer();
  if (name === 'gpt2') return new Gpt2Tokenizer();
  throw new Error(`unknown tokenizer "${name}"; choose one of: ${TOKENIZERS.join(', ')}`);
}
