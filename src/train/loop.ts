/**
 * The generic training loop every stage runs: a step at a time, the learning
 * rate from the schedule, and callbacks the CLI and the demo subscribe to for
 * logging, evaluation, checkpoints and stopping. No I/O of its own.
 */
import type { OptimizerState } from '../io/checkpoint.ts';
import type { Batch, GPT } from '../model/gpt.ts';
import type { Weights } from '../model/weights.ts';
import type { AdamW, AdamWConfig } from './adamw.ts';
import { learningRate, type ScheduleConfig, type ScheduleName } from './schedule.ts';

export interface StepMetrics {
  /** optimizer steps completed, 1-based */
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens_per_second: number;
  /** a stage's own metrics (accuracy, margin, …) */
  [metric: string]: number;
}

/** One optimizer step of a stage: its batch, forward, backward and update. */
export interface Trainer {
  /** tokens a step processes, for tokens_per_second */
  readonly tokensPerStep: number;
  /** optimizer steps already taken (a resumed run starts there) */
  readonly stepsDone: number;
  /** run 0-based step `step` at learning rate `lr` */
  step(step: number, lr: number): Promise<{ loss: number; gradNorm: number; metrics?: Record<string, number> }>;
}

export interface TrainLoopConfig {
  /** total optimizer steps of the run */
  steps: number;
  /** call onLog every this many steps (and on the last) */
  logEvery: number;
  /** evaluate every this many steps (0: only at the end, when evaluate is given) */
  evalEvery: number;
  /** save every this many steps (0: only at the end) */
  saveEvery: number;
  schedule: ScheduleConfig;
}

export interface TrainLoopHooks {
  /** after every step (progress displays) */
  onStep?(m: StepMetrics): void;
  /** every logEvery steps */
  onLog?(m: StepMetrics): void | Promise<void>;
  evaluate?(): Promise<Record<string, number>>;
  onEval?(step: number, metrics: Record<string, number>): void | Promise<void>;
  save?(step: number): Promise<void> | void;
  /** polled between steps: pause/stop buttons, signals */
  shouldStop?(): boolean;
}

export class NonFiniteLossError extends Error {
  constructor(
    readonly step: number,
    readonly loss: number,
    lastSaved: number | null,
  ) {
    super(
      `the loss became ${loss} at step ${step}; training stopped without saving. ` +
        (lastSaved === null ? 'No checkpoint was written in this run.' : `The checkpoint of step ${lastSaved} is intact.`) +
        ' Try a lower learning rate or gradient clipping.',
    );
  }
}

export interface TrainLoopResult {
  /** optimizer steps completed in total */
  step: number;
  lastLoss: number;
  stopped: boolean;
}

export async function trainLoop(trainer: Trainer, config: TrainLoopConfig, hooks: TrainLoopHooks): Promise<TrainLoopResult> {
  let step = trainer.stepsDone;
  let lastLoss = NaN;
  let lastSaved: number | null = step > 0 ? step : null;
  const every = (n: number) => n > 0 && (step % n === 0 || step === config.steps);
  while (step < config.steps) {
    if (hooks.shouldStop?.()) return { step, lastLoss, stopped: true };
    const lr = learningRate(config.schedule, step);
    const started = performance.now();
    const { loss, gradNorm, metrics: extra } = await trainer.step(step, lr);
    const seconds = (performance.now() - started) / 1000;
    step++;
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      throw new NonFiniteLossError(step, Number.isFinite(loss) ? gradNorm : loss, lastSaved);
    }
    lastLoss = loss;
    const metrics: StepMetrics = { step, loss, ...extra, lr, grad_norm: gradNorm, tokens_per_second: trainer.tokensPerStep / seconds };
    hooks.onStep?.(metrics);
    if (every(config.logEvery)) await hooks.onLog?.(metrics);
    if (hooks.evaluate && (every(config.evalEvery) || (config.evalEvery === 0 && step === config.steps))) {
      await hooks.onEval?.(step, await hooks.evaluate());
    }
    if (hooks.save && (every(config.saveEvery) || step === config.steps)) {
      await hooks.save(step);
      lastSaved = step;
    }
  }
  return { step, lastLoss, stopped: false };
}

/** The Trainer of a language model (pretraining, SFT): `batch(step)` gives each step's batch. */
export function languageModelTrainer(model: GPT, optimizer: AdamW, batch: (step: number) => Batch): Trainer {
  return {
    tokensPerStep: model.batchSize * model.seqLen,
    get stepsDone() {
      return optimizer.step;
    },
    step: (step, lr) => {
      optimizer.lr = lr;
      return model.trainStep(batch(step), optimizer);
    },
  };
}

/** Persists a checkpoint: the weights and the optimizer's moments at `step`. */
export type SaveCheckpoint = (step: number, weights: Weights, optimizer: OptimizerState) => void | Promise<void>;

/**
 * trainLoop whose checkpoints hold `weights()` and the optimizer's state: every
 * saveEvery steps, at the end, and once more when the run is stopped early
 * (a stopped run keeps what it has done).
 */
export async function trainWithCheckpoints(
  trainer: Trainer,
  config: TrainLoopConfig,
  hooks: Omit<TrainLoopHooks, 'save'>,
  checkpoint: { weights(): Promise<Weights>; optimizer: AdamW; save?: SaveCheckpoint },
): Promise<TrainLoopResult> {
  const startStep = trainer.stepsDone;
  const save = checkpoint.save;
  const saveAt = save
    ? async (step: number) => {
        const { m, v } = await checkpoint.optimizer.getState();
        await save(step, await checkpoint.weights(), { m, v, step });
      }
    : undefined;
  const result = await trainLoop(trainer, config, { ...hooks, save: saveAt });
  if (result.stopped && saveAt && result.step > startStep) await saveAt(result.step);
  return result;
}

/** The schedule and cadence settings every stage's run carries. */
export interface RunCadence {
  steps: number;
  logEvery: number;
  evalEvery: number;
  saveEvery: number;
  schedule: ScheduleName;
  warmup: number;
  optimizer: { lr: number };
}

/** A trained stage's cadence with its whole optimizer: what every stage run (language model, reward model) takes. */
export interface StageCadence extends RunCadence {
  optimizer: AdamWConfig;
}

export function scheduleOf(run: Pick<RunCadence, 'steps' | 'schedule' | 'warmup' | 'optimizer'>): ScheduleConfig {
  return { schedule: run.schedule, lr: run.optimizer.lr, warmup: run.warmup, steps: run.steps };
}

export function loopConfigOf(run: RunCadence): TrainLoopConfig {
  return { steps: run.steps, logEvery: run.logEvery, evalEvery: run.evalEvery, saveEvery: run.saveEvery, schedule: scheduleOf(run) };
}
