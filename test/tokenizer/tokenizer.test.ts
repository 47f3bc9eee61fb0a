import { describe, expect, it } from 'vitest';
import { decode as libraryDecode } from 'gpt-tokenizer/encoding/r50k_base';
import { BYTES_VOCAB, GPT2_VOCAB, PRESETS } from '../../src/model/config.ts';
import { createTokenizer, TOKENIZERS } from '../../src/tokenizer/index.ts';

const SAMPLES = ['', 'hello', ' leading and trailing spaces  ', 'naïve café — 日本語 🤗\n\ttabs\r\n', '<|endoftext|>', "it's 3.14159!"];

describe('bytes tokenizer', () => {
  const t = createTokenizer('bytes');

  it('has 256 byte ids and EOS 256, the vocabulary of the byte presets', () => {
    expect(t.name).toBe('bytes');
    expect(t.vocabSize).toBe(BYTES_VOCAB);
    expect(t.vocabSize).toBe(257);
    expect(t.eosId).toBe(256);
    expect(PRESETS.tiny.vocabSize).toBe(t.vocabSize);
  });

  it('maps text to its UTF-8 bytes and never produces EOS', () => {
    expect([...t.encode('Aé')]).toEqual([65, 0xc3, 0xa9]);
    expect([...t.encode('🤗')]).toEqual([0xf0, 0x9f, 0xa4, 0x97]);
    for (const s of SAMPLES) expect(t.encode(s).every((id) => id >= 0 && id < 256)).toBe(true);
  });

  it.each(SAMPLES)('round-trips %j', (s) => {
    expect(t.decode(t.encode(s))).toBe(s);
  });

  it('skips EOS and ids outside 0–255 when decoding', () => {
    expect(t.decode([256, 72, 105, 256])).toBe('Hi');
    expect(t.decode([72, 300, -1, 105])).toBe('Hi');
  });

  it('decodes invalid UTF-8 as U+FFFD instead of throwing', () => {
    expect(t.decode([0x63, 0xc3])).toBe('c\ufffd'); // cut in the middle of "é"
    expect(t.decode([0x80, 0x61])).toBe('\ufffda'); // a lone continuation byte
    expect(t.decode([0xf0, 0x9f, 0xa4])).toBe('\ufffd'); // an emoji missing its last byte
  });
});

describe('gpt2 tokenizer', () => {
  const t = createTokenizer('gpt2');

  it('has the 50257-token vocabulary with EOS 50256, that of the GPT-2 presets', () => {
    expect(t.name).toBe('gpt2');
    expect(t.vocabSize).toBe(GPT2_VOCAB);
    expect(t.vocabSize).toBe(50257);
    expect(t.eosId).toBe(50256);
    expect(PRESETS.gpt2.vocabSize).toBe(t.vocabSize);
  });

  // Ids of Hugging Face's GPT-2 tokenizer (GPT2TokenizerFast.from_pretrained('gpt2')).
  it.each([
    ['Hello world', [15496, 995]],
    ['Hello, world!', [15496, 11, 995, 0]],
    [' The quick brown fox', [383, 2068, 7586, 21831]],
    // a leading space is part of the word's token
    ['Hello', [15496]],
    [' Hello', [18435]],
    ['hello', [31373]],
    ['\n\n', [628]],
    // unicode: byte-level pieces
    ['café', [66, 1878, 2634]],
    ['🤗', [8582, 97, 245]],
    // the special token's text is ordinary text: "<", "|", "end", "of", "text", "|", ">"
    ['<|endoftext|>', [27, 91, 437, 1659, 5239, 91, 29]],
  ])('encodes %j as %j', (text, ids) => {
    expect([...t.encode(text)]).toEqual(ids);
  });

  it('never produces EOS from text, so data cannot inject one', () => {
    const ids = [...t.encode('a<|endoftext|>b<|endoftext|>')];
    expect(ids).not.toContain(50256);
    expect(t.decode(ids)).toBe('a<|endoftext|>b<|endoftext|>');
  });

  it.each(SAMPLES)('round-trips %j', (s) => {
    expect(t.decode(t.encode(s))).toBe(s);
  });

  it('skips EOS and ids outside the vocabulary when decoding (a padded model vocabulary can sample them)', () => {
    expect(t.decode([50256, 15496, 50256, 995, 50256])).toBe('Hello world');
    expect(t.decode([15496, 50257, 50303, -1, 995])).toBe('Hello world');
  });

  it('decodes a character cut between tokens as U+FFFD, and the cut never leaks into the next call', () => {
    const ids = [...t.encode('日本')]; // [33768, 98, 17312, 105]: each character is two tokens
    expect(ids).toHaveLength(4);
    expect(t.decode(ids.slice(0, 1))).toBe('\ufffd');
    expect(t.decode(ids.slice(1, 2))).toBe('\ufffd');
    expect(t.decode(ids.slice(0, 3))).toBe('日\ufffd');
    expect(t.decode(ids)).toBe('日本');
  });

  it("agrees with the library's decode on whole text (ours differs only for cut characters)", () => {
    for (const s of SAMPLES) expect(t.decode(t.encode(s))).toBe(libraryDecode(t.encode(s)));
  });
});

describe('createTokenizer', () => {
  it('makes every listed tokenizer', () => {
    expect(TOKENIZERS.map((n) => createTokenizer(n).name)).toEqual(['bytes', 'gpt2']);
  });
  it('names the choices for an unknown tokenizer', () => {
    expect(() => createTokenizer('sentencepiece')).toThrow('unknown tokenizer "sentencepiece"; choose one of: bytes, gpt2');
  });
});
