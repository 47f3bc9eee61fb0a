/**
 * The PPO stage (the stage contract: stage.ts): prompts in seeded batches,
 * PPO steps against a frozen reward model, metrics with TRL's names, and
 * checkpoints of the policy (and its value model) handed to whoever saves
 * them; it returns the final policy, value model and KL coefficient.
 */
import { z } from 'zod';
import { epochPermutation } from '../data/sft.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Weights } from '../model/weights.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { loopConfigOf, trainLoop, type StepMetrics, type Trainer } from '../train/loop.ts';
import { PpoTrainer, type PpoModels, type PpoMetrics, type PpoTrainerState } from '../train/ppo-trainer.ts';
import { PPO_DEFAULTS, ppoSettingsSchema } from '../train/ppo-settings.ts';
import { TRAINING_DEFAULTS, trainingSettingsSchema } from '../train/training-settings.ts';
import { cadenceOf, LOOP_SETTINGS, type StageOutcome } from './stage.ts';

const loop = trainingSettingsSchema.pick(LOOP_SETTINGS).shape;

/**
 * PPO's settings (ppoSettingsSchema) and the loop's and optimizer's, picked
 * from the trained stages' (not their batch shape or seed: PPO's seed orders
 * prompts, sampling and minibatches). One AdamW and one gradient clip over
 * policy and value model together, as TRL.
 */
export const schema = ppoSettingsSchema.extend({
  ...loop,
  // The same settings, said of PPO: a step is a batch of rollouts, an evaluation hooks.evaluate's.
  steps: loop.steps.describe('PPO steps (rollout batches)'),
  logEvery: loop.logEvery.describe('log metrics every n PPO steps'),
  evalEvery: loop.evalEvery.describe('evaluate the policy (hooks.evaluate) before the first step and every n PPO steps (0 = never)'),
});
export type Settings = z.infer<typeof schema>;

/** TRL's PPOConfig (PPO_DEFAULTS), a constant learning rate for small models, no weight decay, a log line every step. */
export const defaults: Settings = {
  ...PPO_DEFAULTS,
  steps: 100,
  lr: 1e-4,
  lrSchedule: 'constant',
  warmup: TRAINING_DEFAULTS.warmup,
  beta1: TRAINING_DEFAULTS.beta1,
  beta2: TRAINING_DEFAULTS.beta2,
  eps: TRAINING_DEFAULTS.eps,
  weightDecay: 0,
  gradClip: TRAINING_DEFAULTS.gradClip,
  logEvery: 1,
  saveEvery: 0,
  evalEvery: 0,
};

export interface PpoPrompts {
  prompts: Int32Array[];
  /** the longest kept prompt, in tokens */
  longest: number;
  skipped: { line: number; reason: string }[];
}

/** Tokenized prompts; those longer than `maxLength` tokens are skipped and reported. */
export function tokenizePrompts(records: readonly { line: number; prompt: string }[], tokenizer: Tokenizer, maxLength: number): PpoPrompts {
  const prompts: Int32Array[] = [];
  const skipped: PpoPrompts['skipped'] = [];
  for (const r of records) {
    const ids = tokenizer.encode(r.prompt);
    if (ids.length > maxLength) skipped.push({ line: r.line, reason: `the prompt takes ${ids.length} tokens, more than ${maxLength}` });
    else prompts.push(ids);
  }
  return { prompts, longest: Math.max(0, ...prompts.map((p) => p.length)), skipped };
}

/** The prompts of PPO step k: B of them, a seeded order each epoch. */
export function promptBatch(prompts: readonly Int32Array[], B: number, k: number, seed: number): Int32Array[] {
  const n = prompts.length;
  return Array.from({ length: B }, (_, i) => {
    const index = k * B + i;
    return prompts[epochPermutation(n, seed, Math.floor(index / n))[index % n]!]!;
  });
}

/** What a PPO run works on besides its settings and the policy it starts from. */
export interface PpoInput extends Omit<PpoModels, 'policy' | 'reference'> {
  prompts: Int32Array[];
  eosId: number;
  /** the frozen KL reference, of the policy's shape: the SFT model */
  reference: Weights;
  /** the policy's KL to the reference before the first step, reported with the first evaluation (default 0: the policy is the reference) */
  initialKl?: number;
  /**
   * A resumed run: the steps done and the trainer's state after them (the
   * weights come through `from` and `value`, with its head; the reference
   * stays the SFT model). Step k's prompts, rollouts and minibatch orders
   * depend on k alone, so the run continues as if never stopped.
   */
  start?: { step: number; state: PpoTrainerState };
}

export interface PpoSummary {
  /** PPO steps completed in total */
  steps: number;
  /** whether shouldStop ended it before `settings.steps` */
  stopped: boolean;
  /** the last step's metrics (null when no step ran) */
  last: PpoMetrics | null;
  /** objective/scores of step 1 (NaN when this run did not take it) */
  firstScores: number;
}

/** The final policy (`weights`), value model (with its head) and KL coefficient. */
export interface PpoOutcome extends StageOutcome<PpoSummary> {
  value: Weights;
  beta: number;
}

/** One PPO step's metrics (TRL's names) with its step, 1-based, and learning rate. */
export type PpoStepMetrics = PpoMetrics & { step: number; lr: number };

/**
 * The training loop's hooks (TrainLoopHooks), with PPO's metrics; evaluate
 * and save get the trainer, whose policy and value model they read.
 */
export interface PpoHooks {
  onStep?(m: PpoStepMetrics): void;
  onLog?(m: PpoStepMetrics): void;
  save?(step: number, trainer: PpoTrainer): Promise<void>;
  /** measures the current policy (e.g. held-out prompts scored by the reward model), every evalEvery steps */
  evaluate?(trainer: PpoTrainer): Promise<Record<string, number>>;
  /** the evaluation's figures with the step they were measured after (0: before any), and that step's KL to the reference */
  onEval?(step: number, m: Record<string, number>): void;
  shouldStop?(): boolean;
}

/**
 * PPO steps from the policy `from` through the one training loop (trainLoop),
 * each step a batch of prompts.
 */
export async function run(gpu: Gpu, from: Weights, settings: Settings, input: PpoInput, hooks: PpoHooks = {}): Promise<PpoOutcome> {
  if (input.prompts.length === 0) throw new Error('no prompts to train on');
  const s = settings;
  const cadence = cadenceOf(s);
  const { prompts, eosId, initialKl, start, ...models } = input;
  const trainer = new PpoTrainer(gpu, { ...models, policy: from }, s, cadence.optimizer, eosId);
  const first = start?.step ?? 0;
  let last: PpoMetrics | null = null;
  let firstScores = NaN;
  // An evaluation carries the KL of the step before it (initialKl before the first step).
  let kl = initialKl ?? 0;
  const evaluate = hooks.evaluate && s.evalEvery > 0 ? async () => ({ ...(await hooks.evaluate!(trainer)), 'objective/kl': kl }) : undefined;
  const steps: Trainer = {
    tokensPerStep: s.batchSize * (s.maxPromptLength + s.responseLength),
    stepsDone: first,
    step: async (step, lr) => {
      const m = await trainer.step(promptBatch(prompts, s.batchSize, step, s.seed), step, lr);
      // Any PPO figure, not only the loss: a reward model scoring NaN would otherwise train on silently.
      for (const [k, v] of Object.entries(m)) {
        if (!Number.isFinite(v)) throw new Error(`PPO step ${step + 1}: ${k} became ${v}; stopped without saving. Try a lower learning rate.`);
      }
      last = m;
      if (step === 0) firstScores = m['objective/scores'];
      kl = m['objective/kl'];
      return { loss: m['loss/policy_avg'], gradNorm: m.grad_norm, metrics: m };
    },
  };
  // The loop's own additions (loss, tokens_per_second) are not PPO metrics: TRL's names and the step's lr only.
  const ppoMetrics = ({ loss: _loss, tokens_per_second: _speed, ...m }: StepMetrics) => m as PpoStepMetrics;
  try {
    if (start) trainer.setState(start.state);
    if (evaluate && first === 0) hooks.onEval?.(0, await evaluate());
    const save = hooks.save ? (step: number) => hooks.save!(step, trainer) : undefined;
    const result = await trainLoop(steps, loopConfigOf(cadence), {
      onStep: hooks.onStep && ((m) => hooks.onStep!(ppoMetrics(m))),
      onLog: hooks.onLog && ((m) => hooks.onLog!(ppoMetrics(m))),
      evaluate,
      onEval: hooks.onEval,
      save,
      shouldStop: hooks.shouldStop,
    });
    if (result.stopped && result.step > first && save) await save(result.step);
    // What the run ends with, read once its last step (and save) is done.
    const weights: Weights = { config: from.config, params: await trainer.getPolicyParameters() };
    const value = await trainer.getValueModel();
    return { weights, value, beta: trainer.beta, summary: { steps: result.step, stopped: result.stopped, last, firstScores } };
  } finally {
    trainer.destroy();
  }
}
