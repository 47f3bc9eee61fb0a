/** Pretraining: next-token prediction on a plain text corpus. */
import { TextTokens } from '../data/text.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { StageData } from './language-model.ts';

export interface PretrainDataOptions {
  tokenizer: Tokenizer;
  text: string;
  source: string;
  /** held-out text; without it, the last evalFraction of `text` (0: no evaluation) */
  evalText?: string;
  evalSource?: string;
  evalFraction: number;
  evalBatches: number;
  batchSize: number;
  gradAccum: number;
  seqLen: number;
  /** seeded shuffling; false follows llm.c's deterministic rule */
  shuffle: boolean;
  seed: number;
}

export function buildPretrainData(o: PretrainDataOptions): StageData {
  const corpus = new TextTokens(o.tokenizer.encode(o.text), o.source);
  let train = corpus;
  let held: TextTokens | null = null;
  if (o.evalText !== undefined) held = new TextTokens(o.tokenizer.encode(o.evalText), o.evalSource ?? 'eval data');
  else if (o.evalFraction > 0) ({ train, eval: held } = corpus.split(o.evalFraction));

  const B = o.batchSize * o.gradAccum;
  const T = o.seqLen;
  // Check sizes now, before any training.
  train.batch(0, B, T);
  const evalBatches = [];
  if (held) {
    const available = Math.floor((held.length - 1) / (o.batchSize * T));
    if (available === 0) held.batch(0, o.batchSize, T); // throws, naming the data
    for (let k = 0; k < Math.min(o.evalBatches, available); k++) evalBatches.push(held.batch(k, o.batchSize, T));
  }
  return {
    batch: (step) => (o.shuffle ? train.shuffledBatch(step, B, T, o.seed) : train.batch(step, B, T)),
    evalBatches,
    report: [
      `${o.source}: ${corpus.length} tokens (${o.tokenizer.name}); training on ${train.length}` +
        (held ? `, held out ${held.length} (${evalBatches.length} eval batches)` : ', no held-out evaluation'),
    ],
  };
}
