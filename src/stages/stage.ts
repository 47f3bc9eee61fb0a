/**
 * The contract every stage module keeps (pretrain, sft, rankings, reward,
 * ppo, evaluate), so that stages compose like bricks: the CLI runs one, the
 * pipeline and the demo chain them.
 *
 *   export const schema   zod schema of the stage's settings, each declared
 *                         once: the CLI's flags and --config checking, the
 *                         pipeline's sections and the demo's validation
 *                         derive from it
 *   export const defaults its settings when nobody says otherwise
 *   export function run(gpu, from, settings, input, hooks) → { weights, summary }
 *                         `from`: the weights it starts from; `input`: what it
 *                         works on that is not a setting (batches, prompts,
 *                         the other models, a resumed optimizer);
 *                         `weights`: what it ends with (rankings and
 *                         evaluation train nothing: `from` itself)
 *
 * Reading data into batches (`prepare…`) is separate from `run`, so that bad
 * data is refused before a GPU is touched or a file written.
 */
import { z } from 'zod';
import type { Weights } from '../model/weights.ts';
import type { SaveCheckpoint, StageCadence, StepMetrics } from '../train/loop.ts';
import { OPTIMIZER_SETTINGS, TRAINING_DEFAULTS, trainingSettingsSchema, type TrainingSettings } from '../train/training-settings.ts';

export interface StageOutcome<Summary> {
  weights: Weights;
  summary: Summary;
}

/** The hooks of a trained stage: the one training loop's (TrainLoopHooks), with checkpoints to persist. */
export interface TrainedStageHooks<M extends { step: number } = StepMetrics> {
  /** after every step (progress) */
  onStep?(m: M): void;
  /** every logEvery steps */
  onLog?(m: M): void | Promise<void>;
  /** held-out figures after `step` */
  onEval?(step: number, m: Record<string, number>): void | Promise<void>;
  /** weights and optimizer state to persist at `step` (every saveEvery steps, at the end, and when stopped early) */
  save?: SaveCheckpoint;
  /** polled between steps: signals, pause and stop buttons */
  shouldStop?(): boolean;
}

/** What a trained stage (pretrain, SFT, reward model) reports. */
export interface TrainedSummary {
  /** optimizer steps completed in total */
  steps: number;
  /** whether shouldStop ended it before `settings.steps` */
  stopped: boolean;
  /** the loss of the last step (NaN when no step ran) */
  loss: number;
  /** the last logged step's metrics (accuracy, margin, …) */
  lastLog: Record<string, number>;
  /** the last held-out evaluation's figures (empty when none ran) */
  lastEval: Record<string, number>;
}

/** How a trained stage's data is held out and ordered: settings of `prepare…`, not of the loop. */
export const dataSettingsSchema = z.object({
  evalFraction: z.number().min(0).lt(1).describe('share of the data held out when there is no separate held-out file (0 = none)'),
  evalBatches: z.number().int().positive().describe('batches per evaluation'),
  shuffle: z.boolean().describe('seeded shuffling of the training examples (off: file order, the llm.c rule)'),
});

export const DATA_DEFAULTS: z.infer<typeof dataSettingsSchema> = { evalFraction: 0.1, evalBatches: 4, shuffle: true };

/** The settings every trained stage shares: the loop's (trainingSettingsSchema) and its data's. */
export const trainedStageSchema = trainingSettingsSchema.extend(dataSettingsSchema.shape);
export type TrainedStageSettings = z.infer<typeof trainedStageSchema>;
export const TRAINED_STAGE_DEFAULTS: TrainedStageSettings = { ...TRAINING_DEFAULTS, ...DATA_DEFAULTS };

/** The settings cadenceOf reads: the loop's length, optimizer and cadence (a stage whose batches are not the trained stages', PPO, picks these). */
export const LOOP_SETTINGS = { ...OPTIMIZER_SETTINGS, steps: true, logEvery: true, saveEvery: true, evalEvery: true } as const;

/** A stage's loop cadence and optimizer, from its settings. */
export function cadenceOf(s: Pick<TrainingSettings, keyof typeof LOOP_SETTINGS>): StageCadence {
  return {
    steps: s.steps,
    optimizer: { lr: s.lr, beta1: s.beta1, beta2: s.beta2, eps: s.eps, weightDecay: s.weightDecay, gradClip: s.gradClip },
    schedule: s.lrSchedule,
    warmup: s.warmup,
    logEvery: s.logEvery,
    evalEvery: s.evalEvery,
    saveEvery: s.saveEvery,
  };
}

/**
 * Runs a trained stage's loop through `train(hooks)`, keeping the last
 * logged metrics, the last evaluation and the final weights (those of the
 * last save, which the loop always makes at the end: the caller's `save`
 * still gets every checkpoint).
 */
export async function runTrained(
  from: Weights,
  hooks: TrainedStageHooks,
  train: (hooks: TrainedStageHooks & { save: SaveCheckpoint }) => Promise<{ step: number; lastLoss: number; stopped: boolean }>,
): Promise<StageOutcome<TrainedSummary>> {
  let weights = from;
  let lastLog: Record<string, number> = {};
  let lastEval: Record<string, number> = {};
  const result = await train({
    ...hooks,
    onLog: (m) => {
      const { step: _step, ...figures } = m;
      lastLog = figures;
      return hooks.onLog?.(m);
    },
    onEval: (step, m) => {
      lastEval = m;
      return hooks.onEval?.(step, m);
    },
    save: (step, saved, optimizer) => {
      weights = saved;
      return hooks.save?.(step, saved, optimizer);
    },
  });
  return { weights, summary: { steps: result.step, stopped: result.stopped, loss: result.lastLoss, lastLog, lastEval } };
}
