import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSftExamples } from '../../src/data/formats.ts';
import { sftBatches, tokenizeSft, type SftSequence } from '../../src/data/sft.ts';
import { buildSftData } from '../../src/stages/sft.ts';
import type { Batch } from '../../src/model/gpt.ts';
import { createTokenizer } from '../../src/tokenizer/index.ts';

const bytes = createTokenizer('bytes');
const EOS = bytes.eosId;
const examples = loadSftExamples(
  [
    '{"prompt":"Q: 1+1?","completion":" 2"}',
    '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}',
    '{"text":"abc"}',
  ].join('\n'),
  'sft.jsonl',
);
const trainedText = (s: SftSequence) => [...s.tokens].filter((_, i) => s.trainable[i]);

describe('tokenizeSft', () => {
  it('masks the prompt and trains on the completion and its EOS', () => {
    const { sequences, truncated, dropped } = tokenizeSft(examples, bytes, { maxLength: 64 });
    expect([truncated, dropped]).toEqual([0, 0]);
    const s = sequences[0]!;
    expect(bytes.decode(s.tokens)).toBe('Q: 1+1? 2');
    expect(s.tokens.at(-1)).toBe(EOS);
    expect(trainedText(s)).toEqual([...bytes.encode(' 2'), EOS]);
    expect([...s.trainable.subarray(0, 'Q: 1+1?'.length)].every((t) => t === 0)).toBe(true);
  });

  it('trains a conversation on the assistant content and its EOS only', () => {
    const m = tokenizeSft(examples, bytes, { maxLength: 64 }).sequences[1]!;
    expect(bytes.decode(m.tokens)).toBe('User: hi\nAssistant: yo');
    expect(trainedText(m)).toEqual([...bytes.encode('yo'), EOS]);
  });

  it('trains a text record on every token but the first (nothing predicts it), and its EOS', () => {
    const t = tokenizeSft(examples, bytes, { maxLength: 64 }).sequences[2]!;
    expect([...t.tokens]).toEqual([97, 98, 99, EOS]);
    expect([...t.trainable]).toEqual([0, 1, 1, 1]);
  });

  it('counts everything but the first token with maskPrompt false', () => {
    const { sequences } = tokenizeSft(examples, bytes, { maxLength: 64, maskPrompt: false });
    for (const s of sequences) expect([...s.trainable]).toEqual([0, ...Array(s.tokens.length - 1).fill(1)]);
  });

  it('keeps the start when truncating, reports how many, and drops examples left with nothing to learn', () => {
    const r = tokenizeSft(examples, bytes, { maxLength: 9 });
    // "Q: 1+1? 2"+EOS is 10 tokens: the cut takes the EOS.
    // "User: hi\nAssistant: yo"+EOS is cut inside the prompt: nothing left to learn.
    // "abc"+EOS fits.
    expect(r.truncated).toBe(2);
    expect(r.dropped).toBe(1);
    expect(r.sequences.map((s) => s.line)).toEqual([1, 3]);
    expect(bytes.decode(r.sequences[0]!.tokens)).toBe('Q: 1+1? 2');
    expect(trainedText(r.sequences[0]!)).toEqual([...bytes.encode(' 2')]);
    expect(r.sequences[0]!.tokens.includes(EOS)).toBe(false); // cut, so not ended: the model isn't taught to stop there
  });

  it('uses a custom chat template', () => {
    const template = { system: 'S> ', user: 'H> ', assistant: 'B> ', turnEnd: '|' };
    const m = tokenizeSft(examples, bytes, { maxLength: 64, template }).sequences[1]!;
    expect(bytes.decode(m.tokens)).toBe('H> hi|B> yo');
  });

  it('rejects a maxLength that holds no target', () => {
    expect(() => tokenizeSft(examples, bytes, { maxLength: 1 })).toThrow('SFT maxLength must be an integer of at least 2, got 1');
  });
});

/**
 * Sequences whose tokens are all distinct (sequence i holds 1000·(i+1) + j),
 * so a target can be traced to the one token it is.
 */
function distinctSequences(lengths: number[], trainableFrom: number[]): SftSequence[] {
  return lengths.map((n, i) => ({
    tokens: Int32Array.from({ length: n }, (_, j) => 1000 * (i + 1) + j),
    trainable: Uint8Array.from({ length: n }, (_, j) => (j >= trainableFrom[i]! ? 1 : 0)),
    line: i + 1,
  }));
}

/** The first `rows` rows of the batches, as (tokens, targets, weights) triples per row. */
function rowsOf(batch: (k: number) => Batch, B: number, T: number, rows: number) {
  const out = [];
  for (let k = 0; k * B < rows; k++) {
    const b = batch(k);
    for (let r = 0; r < B && k * B + r < rows; r++) {
      const at = (a: ArrayLike<number>) => Array.from({ length: T }, (_, j) => a[r * T + j]!);
      out.push({ tokens: at(b.tokens), targets: at(b.targets), weights: at(b.weights!) });
    }
  }
  return out;
}

describe('sftBatches', () => {
  const PAD = -7; // the EOS id the batcher pads with; distinct from every token here
  const lengths = [5, 9, 2, 7, 4];
  const from = [3, 1, 1, 6, 2];
  const sequences = distinctSequences(lengths, from);
  const trainable = sequences.flatMap((s) => [...s.tokens].filter((_, j) => s.trainable[j]));

  it.each([
    ['pad', 1, 8],
    ['pad', 2, 8],
    ['pad', 3, 9],
    ['pack', 1, 4],
    ['pack', 2, 3],
    ['pack', 3, 8],
  ] as const)('(%s, B=%i, T=%i) has every trainable token a weighted target exactly once per epoch, and nothing else', (mode, B, T) => {
    for (const shuffle of [false, true]) {
      const batcher = sftBatches(sequences, B, T, PAD, { mode, seed: 5, shuffle });
      const rows = rowsOf((k) => batcher.batch(k), B, T, batcher.rowsPerEpoch);
      const weighted: number[] = [];
      for (const row of rows) {
        row.weights.forEach((w, j) => {
          expect(w === 0 || w === 1).toBe(true);
          if (w === 0) return;
          weighted.push(row.targets[j]!);
          // the target is the token after its input in the same sequence
          expect(row.targets[j]).toBe(row.tokens[j]! + 1);
        });
      }
      expect(weighted.sort((a, b) => a - b)).toEqual([...trainable].sort((a, b) => a - b));
    }
  });

  it('pads with EOS at weight 0', () => {
    const batcher = sftBatches(sequences, 5, 8, PAD, { mode: 'pad', seed: 0, shuffle: false });
    const [, , short] = rowsOf((k) => batcher.batch(k), 5, 8, 5); // the 2-token sequence
    expect(short!.tokens).toEqual([3000, 3001, PAD, PAD, PAD, PAD, PAD, PAD]);
    expect(short!.targets).toEqual([3001, PAD, PAD, PAD, PAD, PAD, PAD, PAD]);
    expect(short!.weights).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('packs examples back to back into rows of T+1 tokens at stride T, padding the last', () => {
    const batcher = sftBatches(sequences, 1, 8, PAD, { mode: 'pack', seed: 0, shuffle: false });
    const stream = sequences.flatMap((s) => [...s.tokens]); // 27 tokens: 26 targets, ceil(26/8) = 4 rows
    expect(batcher.rowsPerEpoch).toBe(4);
    const rows = rowsOf((k) => batcher.batch(k), 1, 8, 4);
    rows.forEach((row, r) => {
      expect(row.tokens.filter((t) => t !== PAD)).toEqual(stream.slice(8 * r, 8 * r + 8));
      expect(row.targets.filter((t) => t !== PAD)).toEqual(stream.slice(8 * r + 1, 8 * r + 9));
    });
    expect(rows[3]!.tokens).toEqual([5001, 5002, 5003, PAD, PAD, PAD, PAD, PAD]);
    expect(rows[3]!.targets).toEqual([5002, 5003, PAD, PAD, PAD, PAD, PAD, PAD]);
    expect(rows[3]!.weights).toEqual([1, 1, 0, 0, 0, 0, 0, 0]);
    // across the border between two examples the weight is 0: 1004 → 2000 is not learned
    const border = rows[0]!.tokens.indexOf(1004);
    expect(rows[0]!.targets[border]).toBe(2000);
    expect(rows[0]!.weights[border]).toBe(0);
  });

  it('shuffles examples by seed, once each per epoch, a new order each epoch', () => {
    const firstTokens = (seed: number, shuffle = true) => {
      const batcher = sftBatches(sequences, 1, 8, PAD, { mode: 'pad', seed, shuffle });
      return Array.from({ length: 15 }, (_, k) => batcher.batch(k).tokens[0]! / 1000);
    };
    expect(firstTokens(1, false)).toEqual([1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5]);
    const a = firstTokens(1);
    expect(a).toEqual(firstTokens(1));
    expect(a).not.toEqual(firstTokens(2));
    const epochs = [a.slice(0, 5), a.slice(5, 10), a.slice(10, 15)];
    for (const e of epochs) expect([...e].sort()).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(epochs.map((e) => e.join())).size).toBeGreaterThan(1);
  });

  it('gives batch k as a pure function of k (a resumed run sees the same batches)', () => {
    for (const [mode, T] of [['pad', 9], ['pack', 4]] as const) {
      const walked = sftBatches(sequences, 2, T, PAD, { mode, seed: 3 });
      const all = Array.from({ length: 12 }, (_, k) => walked.batch(k));
      const fresh = sftBatches(sequences, 2, T, PAD, { mode, seed: 3 });
      for (const k of [11, 0, 7, 7, 3]) expect(fresh.batch(k)).toEqual(all[k]);
    }
  });

  it('rejects, in pad mode, an example longer than a row instead of cutting it silently', () => {
    expect(() => sftBatches(sequences, 1, 7, PAD, { mode: 'pad', seed: 0 })).toThrow(
      'the SFT example of line 2 has 9 tokens, more than a row of T+1 = 8',
    );
    expect(() => sftBatches(sequences, 1, 7, PAD, { mode: 'pack', seed: 0 })).not.toThrow();
  });

  it('rejects no examples and bad sizes', () => {
    expect(() => sftBatches([], 1, 8, PAD, { mode: 'pad', seed: 0 })).toThrow('no SFT examples left to train on');
    expect(() => sftBatches(sequences, 0, 8, PAD, { mode: 'pad', seed: 0 })).toThrow('B must be a positive integer, got 0');
    expect(() => sftBatches(sequences, 1, 8, PAD, { mode: 'pad', seed: 0 }).batch(-1)).toThrow('step must be a non-negative integer');
  });
});

describe('SFT from a file to batches', () => {
  it('weights exactly the completions and assistant turns (and their EOS) of the fixture, prompts and padding 0', () => {
    const file = join(import.meta.dirname, '../fixtures/data/sft-shapes.jsonl');
    const data = loadSftExamples(readFileSync(file, 'utf8'), file);
    const { sequences } = tokenizeSft(data, bytes, { maxLength: 129 });
    const batcher = sftBatches(sequences, 3, 128, EOS, { mode: 'pad', seed: 0, shuffle: false });
    const b = batcher.batch(0);
    const learned = [0, 1, 2].map((r) => {
      const ids: number[] = [];
      for (let j = 0; j < 128; j++) {
        const w = b.weights![r * 128 + j]!;
        if (w) ids.push(b.targets[r * 128 + j]!);
        else if (b.tokens[r * 128 + j] === EOS) expect(w).toBe(0); // padding
      }
      return ids;
    });
    expect(learned[0]).toEqual([...bytes.encode('chat'), EOS]);
    expect(learned[1]).toEqual([...bytes.encode('4'), EOS, ...bytes.encode('6'), EOS]);
    expect(learned[2]).toEqual([...bytes.encode('Once upon a time — naïve café, 日本語 🤗').subarray(1), EOS]);
  });
});

describe('buildSftData with prompts that fill the sequence', () => {
  const data = [
    '{"prompt":"Q: 1+1?","completion":" 2"}', // the completion starts at token 7
    '{"prompt":"Q: what is 2+2?","completion":" 4"}', // at 15
    '{"messages":[{"role":"user","content":"hello there"},{"role":"assistant","content":"hi"}]}', // "User: hello there\nAssistant: " is 29 bytes
  ].join('\n');
  const options = { tokenizer: bytes, text: data, source: 'demos.jsonl', evalFraction: 0, batchSize: 1, gradAccum: 1, evalBatches: 1, packing: false, maskPrompt: true, shuffle: false, seed: 0 };

  it('names the file, how many were left out and why, the --seq-len, and the --seq-len that would keep one', () => {
    expect(() => buildSftData({ ...options, seqLen: 6 })).toThrow(
      'demos.jsonl: no SFT examples left to train on: all 3 were left out because their prompt fills the whole sequence of --seq-len 6 tokens, ' +
        'leaving no completion token to learn (lines 1, 2, 3); the shortest prompt takes 7 tokens, so --seq-len 7 would keep its example; ' +
        "raise --seq-len (up to the model's context) or shorten the prompts",
    );
    const kept = buildSftData({ ...options, seqLen: 7 });
    expect(kept.report[0]).toBe('demos.jsonl: 1 examples, 1 truncated to the sequence length, 2 left out (the prompt fills the --seq-len 7: nothing to learn, lines 2, 3)');
  });

  it('names a held-out file whose every example is left out', () => {
    expect(() => buildSftData({ ...options, seqLen: 16, evalText: data.split('\n')[2]!, evalSource: 'held.jsonl' })).toThrow(
      'held.jsonl: no SFT examples left to train on: all 1 were left out',
    );
  });
});
