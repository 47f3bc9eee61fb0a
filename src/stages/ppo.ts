/**
 * The PPO stage: prompts in seeded batches, PPO steps against a frozen reward
 * model, metrics with TRL's names, and checkpoints of the policy (and its value
 * model) handed to whoever saves them.
 */
import { epochPermutation } from '../data/sft.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { AdamWConfig } from '../train/adamw.ts';
import { loopConfigOf, trainLoop, type StepMetrics, type Trainer } from '../train/loop.ts';
import { PpoTrainer, type PpoModels, type PpoMetrics, type PpoTrainerState } from '../train/ppo-trainer.ts';
import type { PpoSettings } from '../train/ppo-settings.ts';
import type { ScheduleName } from '../train/schedule.ts';

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

export interface PpoRun {
  gpu: Gpu;
  models: PpoModels;
  settings: PpoSettings;
  optimizer: AdamWConfig;
  schedule: ScheduleName;
  warmup: number;
  steps: number;
  prompts: Int32Array[];
  eosId: number;
  logEvery: number;
  saveEvery: number;
  /** hooks.evaluate runs before the first step and every this many steps (0 or absent: never) */
  evalEvery?: number;
  /** the policy's KL to the reference before the first step, reported with the first evaluation (default 0: the policy is the reference) */
  initialKl?: number;
  /**
   * A resumed run: the steps done and the trainer's state after them (the
   * weights come through `models`: policy, value (with its head) and the
   * SFT model as reference). Step k's prompts, rollouts and
   * minibatch orders depend on k alone, so the run continues as if never
   * stopped.
   */
  start?: { step: number; state: PpoTrainerState };
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

/** PPO steps through the one training loop (trainLoop), each step a batch of prompts. */
export async function runPpo(run: PpoRun, hooks: PpoHooks = {}): Promise<{ step: number; stopped: boolean; last: PpoMetrics | null }> {
  if (run.prompts.length === 0) throw new Error('no prompts to train on');
  const s = run.settings;
  const trainer = new PpoTrainer(run.gpu, run.models, s, run.optimizer, run.eosId);
  const first = run.start?.step ?? 0;
  let last: PpoMetrics | null = null;
  // An evaluation carries the KL of the step before it (initialKl before the first step).
  let kl = run.initialKl ?? 0;
  const evaluate = hooks.evaluate && (run.evalEvery ?? 0) > 0 ? async () => ({ ...(await hooks.evaluate!(trainer)), 'objective/kl': kl }) : undefined;
  const steps: Trainer = {
    tokensPerStep: s.batchSize * (s.maxPromptLength + s.responseLength),
    stepsDone: first,
    step: async (step, lr) => {
      const m = await trainer.step(promptBatch(run.prompts, s.batchSize, step, s.seed), step, lr);
      // Any PPO figure, not only the loss: a reward model scoring NaN would otherwise train on silently.
      for (const [k, v] of Object.entries(m)) {
        if (!Number.isFinite(v)) throw new Error(`PPO step ${step + 1}: ${k} became ${v}; stopped without saving. Try a lower learning rate.`);
      }
      last = m;
      kl = m['objective/kl'];
      return { loss: m['loss/policy_avg'], gradNorm: m.grad_norm, metrics: m };
    },
  };
  // The loop's own additions (loss, tokens_per_second) are not PPO metrics: TRL's names and the step's lr only.
  const ppoMetrics = ({ loss: _loss, tokens_per_second: _speed, ...m }: StepMetrics) => m as PpoStepMetrics;
  try {
    if (run.start) trainer.setState(run.start.state);
    if (evaluate && first === 0) hooks.onEval?.(0, await evaluate());
    const save = hooks.save ? (step: number) => hooks.save!(step, trainer) : undefined;
    const result = await trainLoop(steps, loopConfigOf({ ...run, evalEvery: run.evalEvery ?? 0 }), {
      onStep: hooks.onStep && ((m) => hooks.onStep!(ppoMetrics(m))),
      onLog: hooks.onLog && ((m) => hooks.onLog!(ppoMetrics(m))),
      evaluate,
      onEval: hooks.onEval,
      save,
      shouldStop: hooks.shouldStop,
    });
    if (result.stopped && result.step > first && save) await save(result.step);
    return { step: result.step, stopped: result.stopped, last };
  } finally {
    trainer.destroy();
  }
}
