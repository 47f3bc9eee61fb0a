/**
 * The Hugging Face tokenizer files a run directory records: GPT-2's
 * vocab.json + merges.txt + tokenizer.json generated from gpt-tokenizer's
 * ranks give the package's ids (checked here by running GPT-2's BPE, as
 * OpenAI's encoder.py does, on the generated files), and the byte
 * tokenizer's tokenizer.json maps each byte to its own id.
 */
import { describe, expect, it } from 'vitest';
import {
  byteToUnicode,
  guessTokenizer,
  parseTokenizerRecord,
  RECORD_KEY,
  TOKENIZER_FILES,
  tokenizerFiles,
} from '../../src/tokenizer/hf-files.ts';
import { createTokenizer } from '../../src/tokenizer/index.ts';

const SAMPLES = [
  'hello world',
  ' leading and trailing spaces  ',
  'naïve café — 日本語 🤗\n\ttabs\r\n',
  "it's 3.14159! They'll've I'M",
  '  multiple   spaces\n\n\nnewlines   ',
  'ÿ\u0000\u0001 control bytes \u007f',
  'User: what colour is the sky?\nAssistant: The sky is blue.',
  '<|endoftext|> is plain text to us',
];

/** GPT-2's BPE (OpenAI's encoder.py) over vocab.json and merges.txt. */
function encoderFromFiles(vocabJson: string, mergesTxt: string): (text: string) => number[] {
  const vocab = JSON.parse(vocabJson) as Record<string, number>;
  const lines = mergesTxt.split('\n');
  expect(lines[0]).toBe('#version: 0.2');
  const ranks = new Map<string, number>();
  lines.slice(1).filter((l) => l !== '').forEach((l, i) => ranks.set(l, i));
  const u = byteToUnicode();
  const utf8 = new TextEncoder();
  const pattern = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
  return (text) => {
    const ids: number[] = [];
    for (const piece of text.match(pattern) ?? []) {
      let word = Array.from(utf8.encode(piece), (b) => u[b]!);
      for (;;) {
        let best = -1;
        let bestRank = Infinity;
        for (let i = 0; i + 1 < word.length; i++) {
          const r = ranks.get(`${word[i]} ${word[i + 1]}`);
          if (r !== undefined && r < bestRank) {
            bestRank = r;
            best = i;
          }
        }
        if (best < 0) break;
        const [a, b] = [word[best]!, word[best + 1]!];
        // encoder.py merges every occurrence of the pair, left to right.
        const next: string[] = [];
        for (let i = 0; i < word.length; i++) {
          if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
            next.push(a + b);
            i++;
          } else next.push(word[i]!);
        }
        word = next;
      }
      for (const w of word) {
        const id = vocab[w];
        if (id === undefined) throw new Error(`no id for ${JSON.stringify(w)}`);
        ids.push(id);
      }
    }
    return ids;
  };
}

describe('gpt2 tokenizer files', () => {
  const files = tokenizerFiles('gpt2', 1024);

  it('are the files transformers loads GPT-2 from, naming our tokenizer', () => {
    expect([...files.keys()].sort()).toEqual(['merges.txt', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json']);
    for (const name of files.keys()) expect(TOKENIZER_FILES).toContain(name);
    const config = JSON.parse(files.get('tokenizer_config.json')!);
    expect(config).toMatchObject({ [RECORD_KEY]: 'gpt2', tokenizer_class: 'GPT2Tokenizer', eos_token: '<|endoftext|>', model_max_length: 1024 });
    expect(config.added_tokens_decoder['50256'].content).toBe('<|endoftext|>');
    expect(parseTokenizerRecord(files.get('tokenizer_config.json')!, 'x')).toBe('gpt2');
  });

  it("hold GPT-2's 50257 tokens and 50000 merges, in the package's ids", () => {
    const vocab = JSON.parse(files.get('vocab.json')!) as Record<string, number>;
    expect(Object.keys(vocab)).toHaveLength(50257);
    expect(vocab['!']).toBe(0);
    expect(vocab['Ġt']).toBe(256);
    expect(vocab['Ġthe']).toBe(262);
    expect(vocab['<|endoftext|>']).toBe(50256);
    // the ids run in order in the file, as in GPT-2's own
    expect(files.get('vocab.json')!.startsWith('{"!":0,"\\"":1,"#":2,')).toBe(true);
    const merges = files.get('merges.txt')!.split('\n');
    expect(merges.slice(0, 4)).toEqual(['#version: 0.2', 'Ġ t', 'Ġ a', 'h e']);
    expect(merges.filter((l) => l !== '')).toHaveLength(50001);
  });

  it('encode text to the ids of the gpt2 tokenizer (BPE over vocab.json and merges.txt)', () => {
    const encode = encoderFromFiles(files.get('vocab.json')!, files.get('merges.txt')!);
    const ours = createTokenizer('gpt2');
    for (const s of SAMPLES) expect(encode(s), JSON.stringify(s)).toEqual([...ours.encode(s)]);
  });

  it('hold the same vocabulary and merges in tokenizer.json (the fast tokenizer)', () => {
    const json = JSON.parse(files.get('tokenizer.json')!);
    expect(json.model.type).toBe('BPE');
    expect(json.pre_tokenizer).toEqual({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true });
    expect(json.decoder.type).toBe('ByteLevel');
    expect(json.added_tokens).toEqual([expect.objectContaining({ id: 50256, content: '<|endoftext|>', special: true })]);
    expect(json.model.vocab).toEqual(JSON.parse(files.get('vocab.json')!));
    expect(json.model.merges).toEqual(files.get('merges.txt')!.split('\n').slice(1, -1));
  });
});

describe('bytes tokenizer files', () => {
  const files = tokenizerFiles('bytes', 128);

  it('record the byte tokenizer, with EOS 256', () => {
    expect([...files.keys()].sort()).toEqual(['special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
    const config = JSON.parse(files.get('tokenizer_config.json')!);
    expect(config).toMatchObject({ [RECORD_KEY]: 'bytes', tokenizer_class: 'PreTrainedTokenizerFast', eos_token: '<|endoftext|>', model_max_length: 128 });
    expect(config.added_tokens_decoder['256'].content).toBe('<|endoftext|>');
    expect(parseTokenizerRecord(files.get('tokenizer_config.json')!, 'x')).toBe('bytes');
  });

  it('map every byte to its value in tokenizer.json: a byte-level BPE without merges', () => {
    const json = JSON.parse(files.get('tokenizer.json')!);
    expect(json.model.merges).toEqual([]);
    expect(json.pre_tokenizer.use_regex).toBe(false);
    const u = byteToUnicode();
    const vocab = json.model.vocab as Record<string, number>;
    expect(Object.keys(vocab)).toHaveLength(257);
    for (let b = 0; b < 256; b++) expect(vocab[u[b]!]).toBe(b);
    expect(vocab['<|endoftext|>']).toBe(256);
    expect(json.added_tokens).toEqual([expect.objectContaining({ id: 256, content: '<|endoftext|>', special: true })]);
    // Each byte becomes one symbol and no merge applies: the ids are the bytes.
    const ours = createTokenizer('bytes');
    for (const s of SAMPLES) expect(Array.from(new TextEncoder().encode(s), (b) => vocab[u[b]!])).toEqual([...ours.encode(s)]);
  });
});

describe('tokenizer records', () => {
  it('read null from a foreign tokenizer_config.json, and refuse what is not ours or not JSON, naming the file', () => {
    expect(parseTokenizerRecord('{"model_max_length": 1024}', 'hf/tokenizer_config.json')).toBeNull();
    expect(() => parseTokenizerRecord(`{"${RECORD_KEY}": "llama"}`, 'a/tokenizer_config.json')).toThrow(
      `a/tokenizer_config.json: "${RECORD_KEY}" is "llama", not a tokenizer of ours (bytes, gpt2)`,
    );
    expect(() => parseTokenizerRecord('{', 'a/tokenizer_config.json')).toThrow('a/tokenizer_config.json: invalid JSON');
    expect(() => parseTokenizerRecord('[]', 'a/tokenizer_config.json')).toThrow('a/tokenizer_config.json: must hold a JSON object');
  });

  it('guess gpt2 where its ids fit (padded too), bytes below', () => {
    expect(guessTokenizer(50257)).toBe('gpt2');
    expect(guessTokenizer(50304)).toBe('gpt2');
    expect(guessTokenizer(257)).toBe('bytes');
    expect(guessTokenizer(260)).toBe('bytes');
    expect(guessTokenizer(50256)).toBe('bytes');
  });
});
