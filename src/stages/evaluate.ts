/**
 * Evaluation of a policy against a baseline on held-out prompts: responses of
 * both, their reward-model scores, the policy's win rate (ties count half),
 * the policy's KL to a reference, response lengths, and the samples.
 */
import { z } from 'zod';
import type { Gpu } from '../gpu/gpu.ts';
import { Recorder } from '../gpu/recorder.ts';
import { tokenLogprobs } from '../kernels/ppo.ts';
import { Generator } from '../model/generate.ts';
import { GPT } from '../model/gpt.ts';
import { RewardModel } from '../model/reward-model.ts';
import { SAMPLING_DEFAULTS, samplingSettingsSchema } from '../model/sampling-settings.ts';
import { headOf, type Weights } from '../model/weights.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { StageOutcome } from './stage.ts';

/** The evaluation stage's settings (the stage contract: stage.ts): how both policies sample, picked from samplingSettingsSchema. */
export const schema = samplingSettingsSchema.pick({ maxNewTokens: true, temperature: true, topK: true, topP: true, seed: true }).extend({
  batchSize: z.number().int().positive().describe('prompts each policy answers at once'),
});
export type Settings = z.infer<typeof schema>;
export const defaults: Settings = { ...SAMPLING_DEFAULTS, maxNewTokens: 32, temperature: 0.7, batchSize: 8 };

export interface ComparisonSample {
  prompt: string;
  policy: string;
  baseline: string;
  policy_score: number;
  baseline_score: number;
  policy_finished: boolean;
  baseline_finished: boolean;
  /** the judge's scores, when there is one */
  policy_gold?: number;
  baseline_gold?: number;
}

export interface ComparisonReport {
  prompts: number;
  policy_score: number;
  baseline_score: number;
  win_rate: number;
  /** mean over the policy's responses of the summed per-token log(p_policy / p_reference) */
  kl: number;
  policy_length: number;
  baseline_length: number;
  /** prompts left out: with the response limit they would not fit a model's context */
  skipped: number;
  /** under the gold judge, when one was given: mean scores and the policy's win rate */
  gold?: { policy_score: number; baseline_score: number; win_rate: number };
  samples: ComparisonSample[];
}

/** What evaluation works on that is not a setting: the policy is `from`. */
export interface EvaluateInput {
  baseline: Weights;
  /** the KL reference */
  reference: Weights;
  /** the reward model: its head is required */
  reward: Weights;
  tokenizer: Tokenizer;
  prompts: readonly string[];
  /** a gold judge (the built-in task's labeler): a score for a response to a prompt */
  judge?: (prompt: string, response: string) => number;
}

export interface EvaluateHooks {
  /** called after each batch of prompts */
  onProgress?(done: number): void;
}

/**
 * Compares `from` (the policy) with the baseline on the prompts. Trains
 * nothing: the outcome's weights are `from`.
 */
export async function run(
  gpu: Gpu,
  from: Weights,
  settings: Settings,
  input: EvaluateInput,
  hooks: EvaluateHooks = {},
): Promise<StageOutcome<ComparisonReport>> {
  const context = Math.min(...[from, input.baseline, input.reference, input.reward].map((w) => w.config.nPositions));
  if (settings.maxNewTokens >= context) throw new Error(`${settings.maxNewTokens} new tokens leave no room for a prompt in a context of ${context}`);
  const all = input.prompts.map((text) => ({ text, ids: input.tokenizer.encode(text) }));
  const kept = all.filter((p) => p.ids.length > 0 && p.ids.length + settings.maxNewTokens <= context);
  if (kept.length === 0) throw new Error(`no prompt fits a context of ${context} with ${settings.maxNewTokens} new tokens`);
  const encoded = kept.map((p) => p.ids);
  const texts = kept.map((p) => p.text);
  const longest = Math.max(...encoded.map((e) => e.length));
  const T = longest + settings.maxNewTokens;
  const B = Math.min(settings.batchSize, encoded.length);
  const rewardHead = headOf(input.reward, 'the reward model');
  const load = (w: Weights, batch: number, seqLen: number) => {
    const m = new GPT(gpu, w.config, batch, seqLen);
    m.setParameters(w.params);
    return m;
  };
  const policy = load(from, 1, 1);
  const baseline = load(input.baseline, 1, 1);
  const policyGen = new Generator(policy, { maxBatch: B, maxLength: T });
  const baselineGen = new Generator(baseline, { maxBatch: B, maxLength: T });
  // The policy itself and the reference score the policy's tokens, at the sampling temperature.
  const policyFull = new GPT(gpu, from.config, B, T, { shareParametersWith: policy });
  const reference = load(input.reference, B, T);
  const rm = new RewardModel(gpu, input.reward.config, B, T);
  rm.setParameters(input.reward.params, rewardHead);
  const logp = gpu.createBuffer('eval.logp', B * T * 4);
  const entropy = gpu.createBuffer('eval.entropy', B * T * 4);
  const targets = gpu.createBuffer('eval.targets', B * T * 4);
  const invTemp = 1 / (settings.temperature + 1e-7);
  const eos = input.tokenizer.eosId;

  const logprobsOf = async (model: GPT, tokens: Int32Array): Promise<Float32Array> => {
    const next = new Int32Array(B * T).fill(eos);
    next.set(tokens.subarray(1));
    gpu.write(targets, next);
    model.uploadTokens(tokens);
    const rec = new Recorder(gpu);
    for (let k = 0; k < model.plan.microBatches; k++) {
      model.recordWithLogitsHead(rec, k, false, (r, logits, firstRow, rows) =>
        tokenLogprobs(r, logp, entropy, logits, targets, { R: rows, V: model.config.vocabSize, rowOffset: firstRow, invTemp }),
      );
    }
    rec.submit();
    return gpu.readF32(logp, 0, B * T);
  };

  const samples: ComparisonSample[] = [];
  let kl = 0;
  let wins = 0;
  let policyLength = 0;
  let baselineLength = 0;
  try {
    for (let first = 0; first < encoded.length; first += B) {
      // Every batch is full; the last repeats prompts, whose results are not counted twice.
      const idx = Array.from({ length: B }, (_, i) => Math.min(first + i, encoded.length - 1));
      const prompts = idx.map((i) => encoded[i]!);
      // vocabLimit: a padded vocabulary's ids beyond the tokenizer's are never sampled.
      const opts = {
        maxNewTokens: settings.maxNewTokens,
        temperature: settings.temperature,
        topK: settings.topK,
        topP: settings.topP,
        seed: settings.seed + first,
        eosId: eos,
        vocabLimit: input.tokenizer.vocabSize,
      };
      const a = await policyGen.generate(prompts, opts);
      const b = await baselineGen.generate(prompts, opts);
      const pack = (responses: Int32Array[]) => {
        const tokens = new Int32Array(B * T).fill(eos);
        const last = new Int32Array(B);
        prompts.forEach((p, i) => {
          tokens.set(p, i * T);
          tokens.set(responses[i]!, i * T + p.length);
          last[i] = p.length + responses[i]!.length - 1;
        });
        return { tokens, last };
      };
      const pa = pack(a.responses);
      const pb = pack(b.responses);
      const scoreA = await rm.rewards(pa.tokens, pa.last);
      const scoreB = await rm.rewards(pb.tokens, pb.last);
      const lpPolicy = await logprobsOf(policyFull, pa.tokens);
      const lpRef = await logprobsOf(reference, pa.tokens);
      for (let i = 0; i < B; i++) {
        if (first + i >= encoded.length) break;
        const p = prompts[i]!;
        for (let t = p.length - 1; t < p.length - 1 + a.responses[i]!.length; t++) kl += lpPolicy[i * T + t]! - lpRef[i * T + t]!;
        wins += scoreA[i]! > scoreB[i]! ? 1 : scoreA[i] === scoreB[i] ? 0.5 : 0;
        policyLength += a.responses[i]!.length;
        baselineLength += b.responses[i]!.length;
        const prompt = texts[first + i]!;
        const policyText = input.tokenizer.decode(a.responses[i]!);
        const baselineText = input.tokenizer.decode(b.responses[i]!);
        samples.push({
          prompt,
          policy: policyText,
          baseline: baselineText,
          ...(input.judge ? { policy_gold: input.judge(prompt, policyText), baseline_gold: input.judge(prompt, baselineText) } : {}),
          policy_score: scoreA[i]!,
          baseline_score: scoreB[i]!,
          policy_finished: a.finished[i]!,
          baseline_finished: b.finished[i]!,
        });
      }
      hooks.onProgress?.(Math.min(first + B, encoded.length));
    }
  } finally {
    for (const x of [logp, entropy, targets]) x.destroy();
    rm.destroy();
    reference.destroy();
    policyFull.destroy();
    policyGen.destroy();
    baselineGen.destroy();
    baseline.destroy();
    policy.destroy();
  }
  const n = samples.length;
  const mean = (f: (s: ComparisonSample) => number) => samples.reduce((acc, s) => acc + f(s), 0) / n;
  const summary: ComparisonReport = {
    prompts: n,
    policy_score: mean((s) => s.policy_score),
    baseline_score: mean((s) => s.baseline_score),
    win_rate: wins / n,
    kl: kl / n,
    policy_length: policyLength / n,
    baseline_length: baselineLength / n,
    skipped: all.length - kept.length,
    ...(input.judge
      ? {
          gold: {
            policy_score: mean((s) => s.policy_gold!),
            baseline_score: mean((s) => s.baseline_gold!),
            win_rate: mean((s) => (s.policy_gold! > s.baseline_gold! ? 1 : s.policy_gold === s.baseline_gold ? 0.5 : 0)),
          },
        }
      : {}),
    samples,
  };
  return { weights: from, summary };
}
