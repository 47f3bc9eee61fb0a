/**
 * The PPO stage: prompts in seeded batches, PPO steps against a frozen reward
 * model, metrics with TRL's names, and checkpoints of the policy (and its value
 * model) handed to whoever saves them.
 */
import { epochPermutation } from '../data/sft.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { AdamWConfig } from '../train/adamw.ts';
import { scheduleOf } from '../train/loop.ts';
import { PpoTrainer, type PpoModels, type PpoMetrics, type PpoTrainerState } from '../train/ppo-trainer.ts';
import type { PpoSettings } from '../train/ppo-settings.ts';
import { learningRate, type ScheduleName } from '../train/schedule.ts';

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

export interface PpoHooks {
  onStep?(step: number, m: PpoMetrics & { lr: number }): void;
  onLog?(step: number, m: PpoMetrics & { lr: number }): void;
  save?(step: number, trainer: PpoTrainer): Promise<void>;
  /** measures the current policy (e.g. held-out prompts scored by the reward model), every evalEvery steps */
  evaluate?(trainer: PpoTrainer): Promise<Record<string, number>>;
  /** the evaluation's figures with the step they were measured after (0: before any), and that step's KL to the reference */
  onEval?(step: number, m: Record<string, number>): void;
  shouldStop?(): boolean;
}

export async function runPpo(run: PpoRun, hooks: PpoHooks = {}): Promise<{ step: number; stopped: boolean; last: PpoMetrics | null }> {
  if (run.prompts.length === 0) throw new Error('no prompts to train on');
  const trainer = new PpoTrainer(run.gpu, run.models, run.settings, run.optimizer, run.eosId);
  let last: PpoMetrics | null = null;
  const first = run.start?.step ?? 0;
  let step = first;
  const evalEvery = hooks.evaluate ? (run.evalEvery ?? 0) : 0;
  const evaluate = async (kl: number) => hooks.onEval?.(step, { ...(await hooks.evaluate!(trainer)), 'objective/kl': kl });
  try {
    if (run.start) trainer.setState(run.start.state);
    if (evalEvery > 0 && step === 0) await evaluate(run.initialKl ?? 0);
    for (; step < run.steps; ) {
      if (hooks.shouldStop?.()) break;
      const lr = learningRate(scheduleOf(run), step);
      const m = await trainer.step(promptBatch(run.prompts, run.settings.batchSize, step, run.settings.seed), step, lr);
      step++;
      for (const [k, v] of Object.entries(m)) {
        if (!Number.isFinite(v)) throw new Error(`PPO step ${step}: ${k} became ${v}; stopped without saving. Try a lower learning rate.`);
      }
      last = m;
      const metrics = { ...m, lr };
      hooks.onStep?.(step, metrics);
      if (step % run.logEvery === 0 || step === run.steps) hooks.onLog?.(step, metrics);
      if (evalEvery > 0 && (step % evalEvery === 0 || step === run.steps)) await evaluate(m['objective/kl']);
      if (hooks.save && ((run.saveEvery > 0 && step % run.saveEvery === 0) || step === run.steps)) await hooks.save(step, trainer);
    }
    const stopped = step < run.steps;
    if (stopped && step > first && hooks.save) await hooks.save(step, trainer);
    return { step, stopped, last };
  } finally {
    trainer.destroy();
  }
}
