import { BytesTokenizer } from './bytes.ts';
import { Gpt2Tokenizer } from './gpt2.ts';
import type { Tokenizer } from './tokenizer.ts';

export type { Tokenizer } from './tokenizer.ts';
export { BytesTokenizer } from './bytes.ts';
export { Gpt2Tokenizer } from './gpt2.ts';

export const TOKENIZERS = ['bytes', 'gpt2'] as const;

export function createTokenizer(name: string): Tokenizer {
  if (name === 'bytes') return new BytesTokenizer();
  if (name === 'gpt2') return new Gpt2Tokenizer();
  throw new Error(`unknown tokenizer "${name}"; choose one of: ${TOKENIZERS.join(', ')}`);
}
