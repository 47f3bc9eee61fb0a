/** Supervised fine-tuning: demonstrations, with the loss on responses only (the stage contract: stage.ts). */
import { z } from 'zod';
import type { ChatTemplate } from '../data/chat-template.ts';
import { loadSftExamples } from '../data/formats.ts';
import { sftBatches, tokenizeSft, type TokenizedSft } from '../data/sft.ts';
import { runLanguageModel, type DataInput, type StageData } from './language-model.ts';
import { TRAINED_STAGE_DEFAULTS, trainedStageSchema } from './stage.ts';

export const schema = trainedStageSchema.extend({
  packing: z.boolean().describe('pack several examples into each sequence instead of padding each to the sequence length'),
  maskPrompt: z.boolean().describe('the loss on the assistant\'s tokens only (off: on prompt tokens too)'),
});
export type Settings = z.infer<typeof schema>;
/** A lower learning rate than pretraining's: the model already knows the language. */
export const defaults: Settings = { ...TRAINED_STAGE_DEFAULTS, steps: 200, lr: 3e-4, packing: false, maskPrompt: true };
/** Trains `from` on the demonstrations' batches (buildSftData). */
export const run = runLanguageModel;

/** Held out: a seeded evalFraction of whole examples. */
export interface SftDataOptions extends DataInput {
  evalBatches: number;
  gradAccum: number;
  packing: boolean;
  maskPrompt: boolean;
  template?: ChatTemplate;
}

/** Lines of a file, the first few of them: "lines 3, 7, 9 and 12 more". */
function someLines(lines: readonly number[], shown = 5): string {
  const head = lines.slice(0, shown).join(', ');
  return `line${lines.length > 1 ? 's' : ''} ${head}${lines.length > shown ? ` and ${lines.length - shown} more` : ''}`;
}

function describe(name: string, t: TokenizedSft, seqLen: number): string {
  const parts = [`${t.sequences.length} examples`];
  // tokenizeSft counts the examples left out among the truncated ones (they are cut before the completion): count those kept.
  const truncatedKept = Math.max(0, t.truncated - t.dropped);
  if (truncatedKept > 0) parts.push(`${truncatedKept} truncated to the sequence length`);
  if (t.dropped > 0) {
    const where = t.droppedExamples?.length ? `, ${someLines(t.droppedExamples.map((d) => d.line))}` : '';
    parts.push(`${t.dropped} left out (the prompt fills the --seq-len ${seqLen}: nothing to learn${where})`);
  }
  return `${name}: ${parts.join(', ')}`;
}

/**
 * The error when every example of a file was left out: the file, how many and
 * why, and the --seq-len that would keep the one with the shortest prompt.
 */
export function noSftExamplesLeft(source: string, t: TokenizedSft, seqLen: number, purpose = 'train on'): string {
  const dropped = t.droppedExamples ?? [];
  const shortest = Math.min(...dropped.map((d) => d.promptTokens));
  const need = Number.isFinite(shortest) ? `; the shortest prompt takes ${shortest} tokens, so --seq-len ${shortest} would keep its example` : '';
  return (
    `${source}: no SFT examples left to ${purpose}: all ${t.dropped} were left out because their prompt fills the whole ` +
    `sequence of --seq-len ${seqLen} tokens, leaving no completion token to learn (${someLines(dropped.map((d) => d.line))})${need}; ` +
    'raise --seq-len (up to the model\'s context) or shorten the prompts'
  );
}

export function buildSftData(o: SftDataOptions): StageData {
  const tokenize = (text: string, source: string) => {
    const t = tokenizeSft(loadSftExamples(text, source), o.tokenizer, {
      maxLength: o.seqLen + 1,
      maskPrompt: o.maskPrompt,
      template: o.template,
    });
    if (t.sequences.length === 0) throw new Error(noSftExamplesLeft(source, t, o.seqLen));
    return t;
  };
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
    report: [describe(o.source, train, o.seqLen), ...(held ? [describe(o.evalText !== undefined ? (o.evalSource ?? 'eval data') : 'held out', held, o.seqLen)] : [])],
  };
}

/** A small integer hash, for a seeded order that doesn't depend on anything else. */
function hash(i: number, seed: number): number {
  let h = Math.imul(i ^ seed, 0x9e3779b1);
  h ^= h >>> 15;
  return Math.imul(h, 0x85ebca77) >>> 0;
}
