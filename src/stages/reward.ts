/**
 * Reward modelling: a GPT-2 trunk (from SFT, or an earlier reward model to
 * continue on new comparisons) and a scalar head, trained on preference groups
 * with the Bradley–Terry loss; held-out accuracy as it goes. The stage
 * contract: stage.ts.
 */
import { z } from 'zod';
import { loadPreferenceRecords } from '../data/formats.ts';
import { rewardBatches, splitGroups, tokenizePreferences, type PreferenceGroup, type RewardBatch } from '../data/preferences.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { OptimizerState } from '../io/checkpoint.ts';
import { SCORE_NAME } from '../io/hf-gpt2.ts';
import { RewardModel } from '../model/reward-model.ts';
import type { Weights } from '../model/weights.ts';
import { AdamW } from '../train/adamw.ts';
import { loopConfigOf, trainWithCheckpoints } from '../train/loop.ts';
import type { DataInput } from './language-model.ts';
import { cadenceOf, runTrained, TRAINED_STAGE_DEFAULTS, trainedStageSchema, type StageOutcome, type TrainedStageHooks, type TrainedSummary } from './stage.ts';

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

export const schema = trainedStageSchema.extend({
  centerRewards: z.number().nonnegative().describe('add x · mean squared reward to the loss (keeps rewards near 0; 0 = off)'),
});
export type Settings = z.infer<typeof schema>;
/** InstructGPT-like: a learning rate below pretraining's, no centering. */
export const defaults: Settings = { ...TRAINED_STAGE_DEFAULTS, steps: 200, lr: 3e-4, centerRewards: 0 };

/** What the reward stage works on that is not a setting. */
export interface RewardInput {
  /** the comparisons in batches (buildRewardData); batchSize counts responses */
  data: RewardData;
  /** a resumed run's optimizer state (its step is where the run continues) */
  optimizerState?: OptimizerState;
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

/**
 * Trains a reward model from `from`: its trunk, and its head when it has one
 * (continuing a reward model), else a fresh head seeded by settings.seed.
 */
export async function run(gpu: Gpu, from: Weights, settings: Settings, input: RewardInput, hooks: TrainedStageHooks = {}): Promise<StageOutcome<TrainedSummary>> {
  const { config } = from;
  const { data } = input;
  const cadence = cadenceOf(settings);
  const rm = new RewardModel(gpu, config, settings.batchSize, settings.seqLen);
  rm.center = settings.centerRewards;
  // The head's moments are kept under its name in model.safetensors.
  const optimizer = new AdamW(gpu, rm.params, cadence.optimizer, [...rm.gpt.params.map((p) => p.spec.name), SCORE_NAME]);
  try {
    rm.setParameters(from.params, from.head ?? RewardModel.initScore(config, settings.seed));
    if (input.optimizerState) optimizer.setState(input.optimizerState);
    return await runTrained(from, hooks, (h) =>
      trainWithCheckpoints(
        {
          tokensPerStep: settings.batchSize * settings.seqLen,
          get stepsDone() {
            return optimizer.step;
          },
          step: async (step, lr) => {
            optimizer.lr = lr;
            const { gradNorm, loss, ...metrics } = await rm.trainStep(data.batch(step), optimizer);
            return { loss, gradNorm, metrics };
          },
        },
        loopConfigOf(cadence),
        {
          onStep: h.onStep,
          onLog: h.onLog,
          evaluate: data.evalBatches.length > 0 ? () => evaluateRewardModel(rm, data.evalBatches) : undefined,
          onEval: h.onEval,
          shouldStop: h.shouldStop,
        },
        {
          weights: async () => ({ config, params: await rm.gpt.getParameters(), head: await rm.getScore() }),
          optimizer,
          save: h.save,
        },
      ),
    );
  } finally {
    optimizer.destroy();
    rm.destroy();
  }
}
