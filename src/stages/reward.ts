/**
 * Reward modelling: a GPT-2 trunk (from SFT, or an earlier reward model to
 * continue on new comparisons) and a scalar head, trained on preference groups
 * with the Bradley–Terry loss; held-out accuracy as it goes.
 */
import { loadPreferenceRecords } from '../data/formats.ts';
import { rewardBatches, splitGroups, tokenizePreferences, type PreferenceGroup, type RewardBatch } from '../data/preferences.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { OptimizerState } from '../io/checkpoint.ts';
import { SCORE_NAME } from '../io/hf-gpt2.ts';
import { RewardModel } from '../model/reward-model.ts';
import type { Weights } from '../model/weights.ts';
import type { DataInput } from './language-model.ts';
import { AdamW } from '../train/adamw.ts';
import { loopConfigOf, trainWithCheckpoints, type SaveCheckpoint, type StageCadence, type StepMetrics, type TrainLoopResult } from '../train/loop.ts';

/** Held out: a seeded evalFraction of whole prompt groups; batchSize counts responses. */
export type RewardDataOptions = DataInput;

export interface RewardData {
  batch(step: number): RewardBatch;
  evalBatches: RewardBatch[];
  report: string[];
}

function describeSet(name: string, groups: readonly PreferenceGroup[]): string {
  const comparisons = groups.reduce((n, g) => n + g.comparisons.length, 0);
  const responses = groups.reduce((n, g) => n + g.sequences.length, 0);
  return `${name}: ${groups.length} prompts, ${responses} responses, ${comparisons} comparisons`;
}

export function buildRewardData(o: RewardDataOptions): RewardData {
  const tokenize = (text: string, source: string) =>
    tokenizePreferences(loadPreferenceRecords(text, source), o.tokenizer, { maxLength: o.seqLen, maxGroupSize: o.batchSize });
  const all = tokenize(o.text, o.source);
  const report = all.skipped.map((s) => `${o.source}:${s.line}: skipped: ${s.reason}`);
  let train = all.groups;
  let held: PreferenceGroup[] = [];
  if (o.evalText !== undefined) {
    const e = tokenize(o.evalText, o.evalSource ?? 'eval data');
    held = e.groups;
    report.push(...e.skipped.map((s) => `${o.evalSource}:${s.line}: skipped: ${s.reason}`));
  } else if (o.evalFraction > 0) {
    ({ train, held } = splitGroups(all.groups, o.evalFraction, o.seed));
  }
  if (train.length === 0) {
    const first = all.skipped.slice(0, 3).map((s) => `\n  ${o.source}:${s.line}: ${s.reason}`).join('');
    throw new Error(`${o.source}: no usable comparisons: ${all.skipped.length} skipped${all.skipped.length > 3 ? ' (the first 3 shown)' : ''}${first}`);
  }
  const batcher = rewardBatches(train, o.batchSize, o.seqLen, o.tokenizer.eosId, { seed: o.seed, shuffle: o.shuffle });
  const evalBatcher = held.length > 0 ? rewardBatches(held, o.batchSize, o.seqLen, o.tokenizer.eosId, { seed: 0, shuffle: false }) : null;
  report.unshift(describeSet('training', train), ...(held.length > 0 ? [describeSet('held out', held)] : []));
  return {
    batch: (k) => batcher.batch(k),
    evalBatches: evalBatcher ? Array.from({ length: evalBatcher.batchesPerEpoch }, (_, k) => evalBatcher.batch(k)) : [],
    report,
  };
}

/** The weights to start from: a trunk, and a head when continuing a reward model (a fresh one otherwise). */
export interface RewardRun extends Weights, StageCadence {
  gpu: Gpu;
  optimizerState?: OptimizerState;
  batchSize: number;
  seqLen: number;
  /** reward-centering coefficient (0: off) */
  center: number;
  seed: number;
  data: RewardData;
}

export interface RewardHooks {
  onStep?(m: StepMetrics): void;
  onLog?(m: StepMetrics): void;
  onEval?(step: number, m: Record<string, number>): void;
  save?: SaveCheckpoint;
  shouldStop?(): boolean;
}

/** Comparison-weighted accuracy and loss over held-out batches. */
export async function evaluateRewardModel(rm: RewardModel, batches: readonly RewardBatch[]): Promise<{ eval_loss: number; eval_accuracy: number }> {
  let loss = 0;
  let correct = 0;
  let n = 0;
  for (const b of batches) {
    const m = await rm.evaluate(b);
    loss += m.loss * b.comparisons;
    correct += m.accuracy * b.comparisons;
    n += b.comparisons;
  }
  return { eval_loss: loss / n, eval_accuracy: correct / n };
}

export async function runRewardModel(run: RewardRun, hooks: RewardHooks = {}): Promise<TrainLoopResult> {
  const rm = new RewardModel(run.gpu, run.config, run.batchSize, run.seqLen);
  rm.center = run.center;
  // The head's moments are kept under its name in model.safetensors.
  const optimizer = new AdamW(run.gpu, rm.params, run.optimizer, [...rm.gpt.params.map((p) => p.spec.name), SCORE_NAME]);
  try {
    rm.setParameters(run.params, run.head ?? RewardModel.initScore(run.config, run.seed));
    if (run.optimizerState) optimizer.setState(run.optimizerState);
    return await trainWithCheckpoints(
      {
        tokensPerStep: run.batchSize * run.seqLen,
        get stepsDone() {
          return optimizer.step;
        },
        step: async (step, lr) => {
          optimizer.lr = lr;
          const { gradNorm, loss, ...metrics } = await rm.trainStep(run.data.batch(step), optimizer);
          return { loss, gradNorm, metrics };
        },
      },
      loopConfigOf(run),
      {
        onStep: hooks.onStep,
        onLog: hooks.onLog,
        evaluate: run.data.evalBatches.length > 0 ? () => evaluateRewardModel(rm, run.data.evalBatches) : undefined,
        onEval: hooks.onEval,
        shouldStop: hooks.shouldStop,
      },
      {
        weights: async () => ({ config: run.config, params: await rm.gpt.getParameters(), head: await rm.getScore() }),
        optimizer,
        save: hooks.save,
      },
    );
  } finally {
    optimizer.destroy();
    rm.destroy();
  }
}
