/** Pretraining: next-token prediction on a plain text corpus (the stage contract: stage.ts). */
import { TextTokens } from '../data/text.ts';
import { runLanguageModel, type DataInput, type StageData } from './language-model.ts';
import { TRAINED_STAGE_DEFAULTS, trainedStageSchema, type TrainedStageSettings } from './stage.ts';

export const schema = trainedStageSchema;
export type Settings = TrainedStageSettings;
/** nanoGPT-style (TRAINING_DEFAULTS): 200 steps at 1e-3, cosine; a tenth held out. */
export const defaults: Settings = { ...TRAINED_STAGE_DEFAULTS, steps: 200, lr: 1e-3 };
/** Trains `from` on the corpus's batches (buildPretrainData). */
export const run = runLanguageModel;

/** Held out: the last evalFraction of the corpus. Without shuffling, batches follow llm.c's rule. */
export interface PretrainDataOptions extends DataInput {
  evalBatches: number;
  gradAccum: number;
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
