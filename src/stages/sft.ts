/** Supervised fine-tuning: demonstrations, with the loss on responses only. */
import type { ChatTemplate } from '../data/chat-template.ts';
import { loadSftExamples } from '../data/formats.ts';
import { sftBatches, tokenizeSft, type TokenizedSft } from '../data/sft.ts';
import type { DataInput, StageData } from './language-model.ts';

/** Held out: a seeded evalFraction of whole examples. */
export interface SftDataOptions extends DataInput {
  evalBatches: number;
  gradAccum: number;
  packing: boolean;
  maskPrompt: boolean;
  template?: ChatTemplate;
}

function describe(name: string, t: TokenizedSft): string {
  const parts = [`${t.sequences.length} examples`];
  if (t.truncated > 0) parts.push(`${t.truncated} truncated to the sequence length`);
  if (t.dropped > 0) parts.push(`${t.dropped} left out (nothing to learn after truncation)`);
  return `${name}: ${parts.join(', ')}`;
}

export function buildSftData(o: SftDataOptions): StageData {
  const tokenize = (text: string, source: string) =>
    tokenizeSft(loadSftExamples(text, source), o.tokenizer, {
      maxLength: o.seqLen + 1,
      maskPrompt: o.maskPrompt,
      template: o.template,
    });
  let train = tokenize(o.text, o.source);
  let held: TokenizedSft | null = null;
  if (o.evalText !== undefined) {
    held = tokenize(o.evalText, o.evalSource ?? 'eval data');
  } else if (o.evalFraction > 0) {
    // A seeded choice of whole examples, so no example is in both sets.
    const n = train.sequences.length;
    const count = Math.floor(n * o.evalFraction);
    if (count > 0 && count < n) {
      const pick = new Set(Array.from({ length: n }, (_, i) => i).sort((a, b) => hash(a, o.seed) - hash(b, o.seed)).slice(0, count));
      held = { sequences: train.sequences.filter((_, i) => pick.has(i)), truncated: 0, dropped: 0 };
      train = { ...train, sequences: train.sequences.filter((_, i) => !pick.has(i)) };
    }
  }
  const mode = o.packing ? 'pack' : 'pad';
  const trainBatches = sftBatches(train.sequences, o.batchSize * o.gradAccum, o.seqLen, o.tokenizer.eosId, {
    mode,
    seed: o.seed,
    shuffle: o.shuffle,
  });
  const evalBatches = [];
  if (held && held.sequences.length > 0) {
    const batcher = sftBatches(held.sequences, o.batchSize, o.seqLen, o.tokenizer.eosId, { mode, seed: o.seed, shuffle: false });
    const available = Math.max(1, Math.floor(batcher.rowsPerEpoch / o.batchSize));
    for (let k = 0; k < Math.min(o.evalBatches, available); k++) evalBatches.push(batcher.batch(k));
  }
  return {
    batch: (step) => trainBatches.batch(step),
    evalBatches,
    report: [describe(o.source, train), ...(held ? [describe('held out', held)] : [])],
  };
}

/** A small integer hash, for a seeded order that doesn't depend on anything else. */
function hash(i: number, seed: number): number {
  let h = Math.imul(i ^ seed, 0x9e3779b1);
  h ^= h >>> 15;
  return Math.imul(h, 0x85ebca77) >>> 0;
}
