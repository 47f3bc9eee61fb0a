/**
 * Preference data for the reward model: each prompt's responses and their
 * comparisons kept together as a group, so a ranking of K responses runs each
 * response through the model once per step and contributes all C(K,2) pairs
 * (InstructGPT's point, which TRL's pair format loses).
 */
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { PreferenceRecord } from './formats.ts';
import { epochPermutation } from './permutation.ts';
import { Rng } from './random.ts';

export interface Comparison {
  /** indices into the group's responses */
  better: number;
  worse: number;
  margin: number;
}

export interface PreferenceGroup {
  line: number;
  /** prompt + response + EOS for each response */
  sequences: Int32Array[];
  comparisons: Comparison[];
}

export interface TokenizedPreferences {
  groups: PreferenceGroup[];
  comparisons: number;
  /** groups left out, with the reason, e.g. too long for the sequence length */
  skipped: { line: number; reason: string }[];
}

export function tokenizePreferences(
  records: readonly PreferenceRecord[],
  tokenizer: Tokenizer,
  options: { maxLength: number; maxGroupSize: number },
): TokenizedPreferences {
  const groups: PreferenceGroup[] = [];
  const skipped: TokenizedPreferences['skipped'] = [];
  let comparisons = 0;
  for (const r of records) {
    const responses = r.kind === 'pair' ? [r.chosen, r.rejected] : r.ranking;
    const pairs: Comparison[] =
      r.kind === 'pair'
        ? [{ better: 0, worse: 1, margin: r.margin ?? 0 }]
        : responses.flatMap((_, i) => responses.slice(i + 1).map((__, j) => ({ better: i, worse: i + 1 + j, margin: 0 })));
    if (responses.length > options.maxGroupSize) {
      skipped.push({ line: r.line, reason: `${responses.length} responses do not fit a batch of ${options.maxGroupSize} sequences` });
      continue;
    }
    const prompt = tokenizer.encode(r.prompt);
    const sequences = responses.map((resp) => {
      const body = tokenizer.encode(resp);
      const seq = new Int32Array(prompt.length + body.length + 1);
      seq.set(prompt);
      seq.set(body, prompt.length);
      seq[seq.length - 1] = tokenizer.eosId;
      return seq;
    });
    const longest = Math.max(...sequences.map((s) => s.length));
    if (longest > options.maxLength) {
      skipped.push({ line: r.line, reason: `prompt and response take ${longest} tokens, more than the sequence length ${options.maxLength}` });
      continue;
    }
    groups.push({ line: r.line, sequences, comparisons: pairs });
    comparisons += pairs.length;
  }
  return { groups, comparisons, skipped };
}

/** A batch of B sequences and the comparisons among them. */
export interface RewardBatch {
  tokens: Int32Array; // (B,T), padded with EOS
  /** (B) position of each sequence's EOS; 0 for padding rows */
  last: Int32Array;
  /** (P,2) chosen, rejected row indices; P = B(B-1)/2 slots */
  pairs: Int32Array;
  margins: Float32Array; // (P)
  /** 1/#pairs for real pairs, 0 for empty slots */
  pairWeights: Float32Array;
  /** 1/#rows for real rows, 0 for padding */
  rowWeights: Float32Array;
  comparisons: number;
}

export function pairSlots(B: number): number {
  return Math.max(1, (B * (B - 1)) / 2);
}

/** Whole groups packed in order into batches of B rows; a batch never splits a group. */
function packEpoch(groups: readonly PreferenceGroup[], order: Int32Array, B: number): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  let rows = 0;
  for (const g of order) {
    const size = groups[g]!.sequences.length;
    if (rows + size > B) {
      batches.push(current);
      current = [];
      rows = 0;
    }
    current.push(g);
    rows += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

export interface RewardBatcher {
  batch(k: number): RewardBatch;
  /** batches in the first epoch */
  batchesPerEpoch: number;
}

export function rewardBatches(
  groups: readonly PreferenceGroup[],
  B: number,
  T: number,
  eosId: number,
  options: { seed: number; shuffle?: boolean },
): RewardBatcher {
  if (groups.length === 0) throw new Error('no preference groups left to train on');
  const shuffle = options.shuffle ?? true;
  const epochs: number[][][] = [];
  const epoch = (e: number) => {
    while (epochs.length <= e) {
      const n = epochs.length;
      const order = shuffle ? epochPermutation(groups.length, options.seed, n) : Int32Array.from(groups, (_, i) => i);
      epochs.push(packEpoch(groups, order, B));
    }
    return epochs[e]!;
  };
  const locate = (k: number): number[] => {
    let e = 0;
    let remaining = k;
    while (remaining >= epoch(e).length) remaining -= epoch(e++).length;
    return epoch(e)[remaining]!;
  };
  const P = pairSlots(B);
  return {
    batchesPerEpoch: epoch(0).length,
    batch(k: number): RewardBatch {
      const tokens = new Int32Array(B * T).fill(eosId);
      const last = new Int32Array(B);
      const pairs = new Int32Array(2 * P);
      const margins = new Float32Array(P);
      const pairWeights = new Float32Array(P);
      const rowWeights = new Float32Array(B);
      let row = 0;
      let p = 0;
      for (const g of locate(k)) {
        const group = groups[g]!;
        for (const c of group.comparisons) {
          pairs[2 * p] = row + c.better;
          pairs[2 * p + 1] = row + c.worse;
          margins[p] = c.margin;
          p++;
        }
        for (const seq of group.sequences) {
          tokens.set(seq, row * T);
          last[row] = seq.length - 1;
          rowWeights[row] = 1;
          row++;
        }
      }
      pairWeights.fill(1 / p, 0, p);
      for (let r = 0; r < row; r++) rowWeights[r] = 1 / row;
      return { tokens, last, pairs, margins, pairWeights, rowWeights, comparisons: p };
    },
  };
}

/** A seeded split of whole groups: `fraction` of them held out. */
export function splitGroups(groups: readonly PreferenceGroup[], fraction: number, seed: number) {
  const n = groups.length;
  const count = Math.floor(n * fraction);
  const rng = new Rng(seed ^ 0x5bd1e995);
  const held = new Set<number>();
  while (held.size < count) held.add(rng.int(n));
  return { train: groups.filter((_, i) => !held.has(i)), held: groups.filter((_, i) => held.has(i)) };
}
