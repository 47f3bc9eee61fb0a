/**
 * GPT-2's byte-level BPE: the r50k_base merges of the maintained
 * `gpt-tokenizer` package, ids identical to Hugging Face's GPT-2 tokenizer.
 */
import tokenTable from 'gpt-tokenizer/bpeRanks/r50k_base';
import { encode } from 'gpt-tokenizer/encoding/r50k_base';
import type { Tokenizer } from './tokenizer.ts';
import { GPT2_VOCAB } from './vocab.ts';

/** `<|endoftext|>`, the only special token of GPT-2. */
const EOS = GPT2_VOCAB - 1;
// With no special token allowed or disallowed, the literal text
// "<|endoftext|>" in user data is encoded as ordinary text (and doesn't
// throw), so data can never inject an end-of-sequence token.
const AS_PLAIN_TEXT = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };

const utf8 = new TextEncoder();
// Not gpt-tokenizer's decode: it streams through one shared TextDecoder, so the
// bytes of a character cut at the end of one call leak into the next call's
// text. Each call here decodes its own bytes, and a cut character becomes U+FFFD.
const decoder = new TextDecoder('utf-8', { fatal: false });
let tokenBytes: Uint8Array[] | undefined;
/** Each token's bytes, by id: the table holds text, or byte lists where a token isn't valid UTF-8 alone. */
function bytesOfTokens(): Uint8Array[] {
  tokenBytes ??= tokenTable.map((t) => (typeof t === 'string' ? utf8.encode(t) : Uint8Array.from(t)));
  return tokenBytes;
}

export class Gpt2Tokenizer implements Tokenizer {
  readonly name = 'gpt2';
  readonly vocabSize = GPT2_VOCAB;
  readonly eosId = EOS;

  encode(text: string): Int32Array {
    return Int32Array.from(encode(text, AS_PLAIN_TEXT));
  }

  /** Skips EOS (decoded responses come out clean) and ids outside the vocabulary. */
  decode(ids: ArrayLike<number>): string {
    const table = bytesOfTokens();
    const parts: Uint8Array[] = [];
    let length = 0;
    for (let i = 0; i < ids.length; i++) {
      const bytes = table[ids[i]!];
      if (bytes === undefined) continue;
      parts.push(bytes);
      length += bytes.length;
    }
    const all = new Uint8Array(length);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return decoder.decode(all);
  }
}
