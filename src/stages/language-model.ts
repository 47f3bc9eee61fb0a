/**
 * The stage pretraining and SFT share: train a GPT on next-token batches
 * (their loss weights decide what counts), evaluate held-out loss, and hand
 * checkpoints to whoever saves them. The stages differ only in their batches
 * and their settings (pretrain.ts, sft.ts).
 */
import type { Gpu } from '../gpu/gpu.ts';
import type { OptimizerState } from '../io/checkpoint.ts';
import type { Weights } from '../model/weights.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { GPT, type Batch } from '../model/gpt.ts';
import { AdamW } from '../train/adamw.ts';
import { languageModelTrainer, loopConfigOf, trainWithCheckpoints } from '../train/loop.ts';
import type { TrainingSettings } from '../train/training-settings.ts';
import { cadenceOf, runTrained, type StageOutcome, type TrainedStageHooks, type TrainedSummary } from './stage.ts';

/** What a language-model stage works on that is not a setting. */
export interface LanguageModelInput {
  /** the batches (prepared by buildPretrainData or buildSftData) */
  data: StageData;
  /** a resumed run's optimizer state; its step is where the run continues */
  optimizerState?: OptimizerState;
}

/** Mean loss over batches, forward only. */
export async function meanLoss(model: GPT, batches: readonly Batch[]): Promise<number> {
  let sum = 0;
  for (const b of batches) sum += await model.loss(b);
  return sum / batches.length;
}

/**
 * The `run` of pretraining and SFT (the stage contract, stage.ts): train
 * `from` on the data's batches of batchSize·gradAccum sequences, held-out
 * loss every evalEvery steps, checkpoints through hooks.save.
 */
export async function runLanguageModel(
  gpu: Gpu,
  from: Weights,
  settings: TrainingSettings,
  input: LanguageModelInput,
  hooks: TrainedStageHooks = {},
): Promise<StageOutcome<TrainedSummary>> {
  const { config } = from;
  const { data } = input;
  const model = new GPT(gpu, config, settings.batchSize * settings.gradAccum, settings.seqLen, { microBatchSize: settings.batchSize });
  const evalModel = data.evalBatches.length > 0 ? new GPT(gpu, config, settings.batchSize, settings.seqLen, { shareParametersWith: model }) : null;
  const cadence = cadenceOf(settings);
  const optimizer = new AdamW(gpu, model.params, cadence.optimizer);
  try {
    model.setParameters(from.params);
    if (input.optimizerState) optimizer.setState(input.optimizerState);
    return await runTrained(from, hooks, (h) =>
      trainWithCheckpoints(
        languageModelTrainer(model, optimizer, data.batch),
        loopConfigOf(cadence),
        {
          onStep: h.onStep,
          onLog: h.onLog,
          evaluate: evalModel ? async () => ({ eval_loss: await meanLoss(evalModel, data.evalBatches) }) : undefined,
          onEval: h.onEval,
          shouldStop: h.shouldStop,
        },
        { weights: async () => ({ config, params: await model.getParameters() }), optimizer, save: h.save },
      ),
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
