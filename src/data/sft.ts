/**
 * SFT sequences and batches. A sequence's `trainable[i]` says whether token i
 * is a target the loss counts (the model predicts it from tokens 0..i-1), so
 * prompts carry no gradient. Batches are pure functions of the step (seeded
 * per-epoch shuffles), which makes resumed runs exact.
 */
import type { Batch } from '../model/gpt.ts';
import { Rng } from '../reference/random.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { DEFAULT_CHAT_TEMPLATE, sftSegments, type ChatTemplate } from './chat-template.ts';
import type { SftExample } from './formats.ts';

export interface SftSequence {
  tokens: Int32Array;
  /** 1 where the token is a counted target */
  trainable: Uint8Array;
  /** line of the example in its file */
  line: number;
}

export interface TokenizedSft {
  sequences: SftSequence[];
  /** examples cut to maxLength (their start kept) */
  truncated: number;
  /** examples with no trainable token left after truncation, left out */
  dropped: number;
}

export interface SftTokenizeOptions {
  /** tokens per sequence, including the last target (seq-len + 1) */
  maxLength: number;
  /** count only completion / assistant tokens (default); false counts every token */
  maskPrompt?: boolean;
  template?: ChatTemplate;
}

export function tokenizeSft(examples: readonly SftExample[], tokenizer: Tokenizer, options: SftTokenizeOptions): TokenizedSft {
  const maskPrompt = options.maskPrompt ?? true;
  const sequences: SftSequence[] = [];
  let truncated = 0;
  let dropped = 0;
  for (const example of examples) {
    const tokens: number[] = [];
    const trainable: number[] = [];
    for (const segment of sftSegments(example, options.template ?? DEFAULT_CHAT_TEMPLATE)) {
      const counted = segment.trainable || !maskPrompt ? 1 : 0;
      for (const id of tokenizer.encode(segment.text)) {
        tokens.push(id);
        trainable.push(counted);
      }
      if (segment.eos) {
        tokens.push(tokenizer.eosId);
        trainable.push(counted);
      }
    }
    if (tokens.length > options.maxLength) {
      truncated++;
      tokens.length = options.maxLength;
      trainable.length = options.maxLength;
    }
    // Token 0 is never a target: nothing precedes it.
    trainable[0] = 0;
    if (!trainable.includes(1)) {
      dropped++;
      continue;
    }
    sequences.push({ tokens: Int32Array.from(tokens), trainable: Uint8Array.from(trainable), line: example.line });
  }
  return { sequences, truncated, dropped };
}

/** A seeded permutation of 0..n-1 for epoch `epoch`. */
export function epochPermutation(n: number, seed: number, epoch: number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const rng = new Rng((seed * 1000003 + epoch * 7919) >>> 0);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

export interface SftBatchOptions {
  /** one example per row, padded (`pad`), or examples concatenated and cut into rows (`pack`) */
  mode: 'pad' | 'pack';
  seed: number;
  shuffle?: boolean;
}

export interface SftBatcher {
  /** batch of 0-based step k */
  batch(k: number): Batch;
  /** rows in one pass over the data */
  rowsPerEpoch: number;
}

interface Row {
  tokens: ArrayLike<number>;
  trainable: ArrayLike<number>;
}

export function sftBatches(sequences: readonly SftSequence[], B: number, T: number, eosId: number, options: SftBatchOptions): SftBatcher {
  if (sequences.length === 0) throw new Error('no SFT examples left to train on');
  const shuffle = options.shuffle ?? true;
  const order = (epoch: number) =>
    shuffle ? epochPermutation(sequences.length, options.seed, epoch) : Int32Array.from(sequences, (_, i) => i);

  let rowsOfEpoch: (epoch: number) => Row[];
  if (options.mode === 'pad') {
    rowsOfEpoch = (epoch) => Array.from(order(epoch), (i) => sequences[i]!);
  } else {
    rowsOfEpoch = (epoch) => {
      // Examples back to back (each already ends with EOS), cut into rows of T+1 tokens.
      const tokens: number[] = [];
      const trainable: number[] = [];
      for (const i of order(epoch)) {
        const s = sequences[i]!;
        tokens.push(...s.tokens);
        trainable.push(...s.trainable);
      }
      const rows: Row[] = [];
      for (let start = 0; start + T + 1 <= tokens.length; start += T + 1) {
        rows.push({ tokens: tokens.slice(start, start + T + 1), trainable: trainable.slice(start, start + T + 1) });
      }
      if (rows.length === 0) rows.push({ tokens, trainable });
      return rows;
    };
  }
  const rowsPerEpoch = rowsOfEpoch(0).length;
  let cachedEpoch = -1;
  let cachedRows: Row[] = [];
  const row = (index: number): Row => {
    const epoch = Math.floor(index / rowsPerEpoch);
    if (epoch !== cachedEpoch) {
      cachedRows = rowsOfEpoch(epoch);
      cachedEpoch = epoch;
    }
    return cachedRows[index % rowsPerEpoch]!;
  };

  return {
    rowsPerEpoch,
    batch(k: number): Batch {
      const tokens = new Int32Array(B * T).fill(eosId);
      const targets = new Int32Array(B * T).fill(eosId);
      const weights = new Float32Array(B * T);
      for (let r = 0; r < B; r++) {
        const { tokens: seq, trainable } = row(k * B + r);
        const n = Math.min(seq.length, T + 1);
        for (let j = 0; j + 1 < n; j++) {
          tokens[r * T + j] = seq[j]!;
          targets[r * T + j] = seq[j + 1]!;
          weights[r * T + j] = trainable[j + 1]!;
        }
        if (n > 0 && n <= T) tokens[r * T + n - 1] = seq[n - 1]!;
      }
      return { tokens, targets, weights };
    },
  };
}
