/**
 * GPT-2's byte-level BPE (the r50k_base merges of the maintained
 * `gpt-tokenizer` package), ids identical to Hugging Face's GPT-2 tokenizer.
 */
import { decode, encode } from 'gpt-tokenizer/encoding/r50k_base';
import { GPT2_VOCAB } from '../model/config.ts';
import type { Tokenizer } from './tokenizer.ts';

const EOS = 50256;
// The literal text "<|endoftext|>" in user data is encoded as ordinary text,
// so data can never inject an end-of-sequence token.
const NO_SPECIAL = { disallowedSpecial: new Set<string>() };

export class Gpt2Tokenizer implements Tokenizer {
  readonly name = 'gpt2';
  readonly vocabSize = GPT2_VOCAB;
  readonly eosId = EOS;

  encode(text: string): Int32Array {
    return Int32Array.from(encode(text, NO_SPECIAL));
  }

  decode(ids: ArrayLike<number>): string {
    const kept: number[] = [];
    for (let i = 0; i < ids.length; i++) if (ids[i] !== EOS) kept.push(ids[i]!);
    return decode(kept);
  }
}
