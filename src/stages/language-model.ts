/**
 * The stage pretraining and SFT share: train a GPT on next-token batches
 * (their loss weights decide what counts), evaluate held-out loss, and hand
 * checkpoints to whoever saves them. The stages differ only in their batches.
 */
import type { Gpu } from '../gpu/gpu.ts';
import type { OptimizerState } from '../io/checkpoint.ts';
import type { GPTConfig } from '../model/config.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { GPT, type Batch } from '../model/gpt.ts';
import { AdamW } from '../train/adamw.ts';
import { languageModelTrainer, loopConfigOf, trainWithCheckpoints, type SaveCheckpoint, type StageCadence, type StepMetrics, type TrainLoopResult } from '../train/loop.ts';

export interface LanguageModelRun extends StageCadence {
  gpu: Gpu;
  config: GPTConfig;
  params: ReadonlyMap<string, Float32Array>;
  /** a resumed run's optimizer state; its step is where the run continues */
  optimizerState?: OptimizerState;
  /** sequences per micro-batch, micro-batches per step, tokens per sequence */
  batchSize: number;
  gradAccum: number;
  seqLen: number;
  /** the batch of step k, of batchSize·gradAccum sequences */
  batch(step: number): Batch;
  /** held-out batches of batchSize sequences (empty: no evaluation) */
  evalBatches: readonly Batch[];
}

export interface LanguageModelHooks {
  onStep?(m: StepMetrics): void;
  onLog?(m: StepMetrics): void | Promise<void>;
  onEval?(step: number, metrics: { eval_loss: number }): void | Promise<void>;
  /** weights and optimizer state to persist at `step` */
  save?: SaveCheckpoint;
  shouldStop?(): boolean;
}

/** Mean loss over batches, forward only. */
export async function meanLoss(model: GPT, batches: readonly Batch[]): Promise<number> {
  let sum = 0;
  for (const b of batches) sum += await model.loss(b);
  return sum / batches.length;
}

export async function runLanguageModel(run: LanguageModelRun, hooks: LanguageModelHooks = {}): Promise<TrainLoopResult> {
  const { gpu, config } = run;
  const model = new GPT(gpu, config, run.batchSize * run.gradAccum, run.seqLen, { microBatchSize: run.batchSize });
  const evalModel = run.evalBatches.length > 0 ? new GPT(gpu, config, run.batchSize, run.seqLen, { shareParametersWith: model }) : null;
  const optimizer = new AdamW(gpu, model.params, run.optimizer);
  try {
    model.setParameters(run.params);
    if (run.optimizerState) optimizer.setState(run.optimizerState);
    return await trainWithCheckpoints(
      languageModelTrainer(model, optimizer, run.batch),
      loopConfigOf(run),
      {
        onStep: hooks.onStep,
        onLog: hooks.onLog,
        evaluate: evalModel ? async () => ({ eval_loss: await meanLoss(evalModel, run.evalBatches) }) : undefined,
        onEval: hooks.onEval ? (step, m) => hooks.onEval!(step, m as { eval_loss: number }) : undefined,
        shouldStop: hooks.shouldStop,
      },
      { weights: async () => ({ config, params: await model.getParameters() }), optimizer, save: hooks.save },
    );
  } finally {
    optimizer.destroy();
    evalModel?.destroy();
    model.destroy();
  }
}

/** A stage's data files as read, and how to batch and hold them out. */
export interface DataInput {
  tokenizer: Tokenizer;
  text: string;
  source: string;
  /** held-out data; without it, evalFraction of `text` is held out (0: no evaluation) */
  evalText?: string;
  evalSource?: string;
  evalFraction: number;
  /** sequences per batch (per micro-batch where there is gradient accumulation) */
  batchSize: number;
  seqLen: number;
  /** seeded shuffling; false keeps file order */
  shuffle: boolean;
  seed: number;
}

/** What a stage's data gives the training loop. */
export interface StageData {
  /** the batch of step k, of batchSize·gradAccum sequences */
  batch(step: number): Batch;
  /** held-out batches of batchSize sequences */
  evalBatches: Batch[];
  /** lines worth telling the user before training (sizes, truncation) */
  report: string[];
}
