import { describe, expect, it } from 'vitest';
import { createTokenizer } from '../../src/tokenizer/index.ts';

describe('bytes tokenizer', () => {
  const t = createTokenizer('bytes');
  it('maps UTF-8 bytes to ids, with EOS 256 outside them', () => {
    expect(t.vocabSize).toBe(257);
    expect(t.eosId).toBe(256);
    expect([...t.encode('Aé')]).toEqual([65, 0xc3, 0xa9]);
    expect(t.decode([72, 105, 256])).toBe('Hi');
  });
  it('decodes a cut character as U+FFFD instead of throwing', () => {
    expect(t.decode([0x63, 0xc3])).toBe('c\ufffd');
  });
});

describe('gpt2 tokenizer', () => {
  const t = createTokenizer('gpt2');
  it('gives the ids of Hugging Face GPT-2', () => {
    expect(t.vocabSize).toBe(50257);
    expect(t.eosId).toBe(50256);
    expect([...t.encode('Hello world')]).toEqual([15496, 995]);
    // Reference ids from transformers' GPT2TokenizerFast.
    expect([...t.encode(' The quick brown fox')]).toEqual([383, 2068, 7586, 21831]);
  });
  it('encodes the literal text <|endoftext|> as text, never as EOS', () => {
    const ids = [...t.encode('a<|endoftext|>b')];
    expect(ids).not.toContain(50256);
    expect(t.decode(ids)).toBe('a<|endoftext|>b');
  });
  it('round-trips unicode and skips EOS when decoding', () => {
    const text = ' café — naïve 日本語\n\ttabs';
    expect(t.decode([...t.encode(text), 50256])).toBe(text);
  });
});

it('names the choices for an unknown tokenizer', () => {
  expect(() => createTokenizer('sentencepiece')).toThrow('unknown tokenizer "sentencepiece"; choose one of: bytes, gpt2');
});
