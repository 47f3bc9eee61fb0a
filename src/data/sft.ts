/**
 * SFT sequences and batches.
 *
 * Weights are per token of a sequence: `trainable[i] = 1` means the loss of
 * predicting tokens[i] from tokens[0..i-1] counts. Token 0 is never counted
 * (nothing precedes it). The batcher moves the flag to the input position:
 * batch position j holds input tokens[j], target tokens[j+1] and weight
 * trainable[j+1]. So a prompt carries no gradient, and the EOS after a
 * response is learned (the model must learn where to stop).
 *
 * Batches are pure functions of the step (seeded per-epoch shuffles), which
 * makes resumed runs exact.
 */
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { Batch } from './batch.ts';
import { DEFAULT_CHAT_TEMPLATE, encodeSegments, sftSegments, type ChatTemplate } from './chat-template.ts';
import type { SftExample } from './formats.ts';
import { epochPermutation } from './permutation.ts';

// Kept importable from here: other stages take their seeded orders from this module.
export { epochPermutation } from './permutation.ts';

export interface SftSequence {
  tokens: Int32Array;
  /** 1 where predicting this token counts in the loss (see the top of the file) */
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
  /**
   * The examples left out: their line, and the tokens before their first
   * trainable one (the prompt); maxLength must exceed that to keep them.
   */
  droppedExamples?: { line: number; promptTokens: number }[];
}

export interface SftTokenizeOptions {
  /** most tokens per sequence, including the last target: seq-len + 1 */
  maxLength: number;
  /** count only completion / assistant tokens and their EOS (default); false counts every token */
  maskPrompt?: boolean;
  template?: ChatTemplate;
}

export function tokenizeSft(examples: readonly SftExample[], tokenizer: Tokenizer, options: SftTokenizeOptions): TokenizedSft {
  const { maxLength } = options;
  if (!Number.isInteger(maxLength) || maxLength < 2) throw new Error(`SFT maxLength must be an integer of at least 2, got ${maxLength}`);
  const maskPrompt = options.maskPrompt ?? true;
  const template = options.template ?? DEFAULT_CHAT_TEMPLATE;
  const sequences: SftSequence[] = [];
  let truncated = 0;
  let dropped = 0;
  const droppedExamples: { line: number; promptTokens: number }[] = [];
  for (const example of examples) {
    let { tokens, trainable } = encodeSegments(sftSegments(example, template), tokenizer);
    if (!maskPrompt) trainable.fill(1);
    const firstTrainable = trainable.indexOf(1, 1);
    if (tokens.length > maxLength) {
      truncated++;
      tokens = tokens.slice(0, maxLength);
      trainable = trainable.slice(0, maxLength);
    }
    trainable[0] = 0;
    if (!trainable.includes(1)) {
      dropped++;
      droppedExamples.push({ line: example.line, promptTokens: firstTrainable < 0 ? tokens.length : firstTrainable });
      continue;
    }
    sequences.push({ tokens, trainable, line: example.line });
  }
  return { sequences, truncated, dropped, droppedExamples };
}

export interface SftBatchOptions {
  /**
   * `pad`: one example per row, padded with EOS at weight 0.
   * `pack`: the epoch's examples back to back (each ends with its EOS), cut
   * into rows of T+1 tokens at stride T, so every token but the first is a
   * target exactly once; the last row is padded.
   */
  mode: 'pad' | 'pack';
  seed: number;
  /** a new seeded order of the examples each epoch (default); false keeps file order */
  shuffle?: boolean;
}

export interface SftBatcher {
  /** rows k·B … k·B+B-1 of the endless sequence of epochs, for 0-based step k */
  batch(k: number): Batch;
  /** rows in one pass over the data */
  rowsPerEpoch: number;
}

interface Row {
  /** up to T+1 tokens */
  tokens: Int32Array;
  trainable: Uint8Array;
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`SFT batches: ${name} must be a positive integer, got ${value}`);
}

/** The example order of one epoch, concatenated and cut into windows of T+1 at stride T. */
function packedRows(sequences: readonly SftSequence[], order: Int32Array, T: number): Row[] {
  const total = sequences.reduce((n, s) => n + s.tokens.length, 0);
  const tokens = new Int32Array(total);
  const trainable = new Uint8Array(total);
  let at = 0;
  for (const i of order) {
    const s = sequences[i]!;
    tokens.set(s.tokens, at);
    trainable.set(s.trainable, at);
    at += s.tokens.length;
  }
  const rows: Row[] = [];
  for (let start = 0; start + 1 < total; start += T) {
    rows.push({ tokens: tokens.subarray(start, start + T + 1), trainable: trainable.subarray(start, start + T + 1) });
  }
  return rows;
}

export function sftBatches(sequences: readonly SftSequence[], B: number, T: number, eosId: number, options: SftBatchOptions): SftBatcher {
  positiveInteger('B', B);
  positiveInteger('T', T);
  if (sequences.length === 0) throw new Error('no SFT examples left to train on');
  if (options.mode === 'pad') {
    const long = sequences.find((s) => s.tokens.length > T + 1);
    if (long) {
      // Cutting it here would be silent truncation; tokenizeSft's maxLength reports it.
      throw new Error(`the SFT example of line ${long.line} has ${long.tokens.length} tokens, more than a row of T+1 = ${T + 1}`);
    }
  }
  const shuffle = options.shuffle ?? true;
  const identity = Int32Array.from(sequences, (_, i) => i);
  const rowsOfEpoch = (epoch: number): Row[] => {
    const order = shuffle ? epochPermutation(sequences.length, options.seed, epoch) : identity;
    return options.mode === 'pad' ? Array.from(order, (i) => sequences[i]!) : packedRows(sequences, order, T);
  };

  // Two epochs cached: a batch can straddle the border between them.
  const cache = new Map<number, Row[]>();
  const rowsOf = (epoch: number): Row[] => {
    let rows = cache.get(epoch);
    if (!rows) {
      rows = rowsOfEpoch(epoch);
      if (cache.size >= 2) cache.delete(cache.keys().next().value!);
      cache.set(epoch, rows);
    }
    return rows;
  };
  const rowsPerEpoch = rowsOf(0).length;

  return {
    rowsPerEpoch,
    batch(k: number): Batch {
      if (!Number.isInteger(k) || k < 0) throw new Error(`SFT batches: step must be a non-negative integer, got ${k}`);
      const tokens = new Int32Array(B * T).fill(eosId);
      const targets = new Int32Array(B * T).fill(eosId);
      const weights = new Float32Array(B * T);
      for (let r = 0; r < B; r++) {
        const index = k * B + r;
        const { tokens: seq, trainable } = rowsOf(Math.floor(index / rowsPerEpoch))[index % rowsPerEpoch]!;
        const base = r * T;
        tokens.set(seq.subarray(0, Math.min(seq.length, T)), base);
        for (let j = 0; j + 1 < seq.length; j++) {
          targets[base + j] = seq[j + 1]!;
          weights[base + j] = trainable[j + 1]!;
        }
      }
      return { tokens, targets, weights };
    },
  };
}
