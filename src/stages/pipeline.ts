/**
 * The whole ChatGPT-style run on the built-in task: pretrain → SFT, then
 * rounds of RLHF, each: K samples per fresh prompt from the current policy
 * (and from SFT), ranked by the gold labeler → the reward model refitted on
 * every ranking so far → PPO of the current policy against it → the round's
 * policy against SFT on held-out prompts, under the reward model and under
 * the gold labeler. Each stage is one call of pipeline-stages.ts.
 *
 * Browser-safe: the caller gets every dataset, metric and checkpoint through
 * hooks and decides where they go (the CLI writes a run directory).
 */
import type { Gpu } from '../gpu/gpu.ts';
import { preset } from '../model/config.ts';
import { initParameters } from '../model/params.ts';
import { loadPrompts } from '../data/formats.ts';
import { makeTaskDatasets, parseTaskPrompt } from '../task/datasets.ts';
import { BytesTokenizer } from '../tokenizer/bytes.ts';
import type { ComparisonSample } from './evaluate.ts';
import type { PipelineSettings } from './pipeline-settings.ts';
import {
  commonData,
  evaluateRound,
  ppoRound,
  rankRound,
  refitRewardModel,
  seconds,
  trainLanguageModel,
  type PipelineHooks,
  type PipelineRun,
  type PpoCarry,
  type RankingsSoFar,
  type RoundStage,
  type StageSummary,
} from './pipeline-stages.ts';
import { tokenizePrompts } from './ppo.ts';
import { buildPretrainData } from './pretrain.ts';
import { buildSftData, defaults as sftDefaults } from './sft.ts';

export { PIPELINE_PRESETS, pipelineSettingsSchema, type PipelinePresetName, type PipelineSettings } from './pipeline-settings.ts';
export {
  PIPELINE_STAGES,
  PipelineStopped,
  RANKINGS_FILE,
  ROUND_STAGES,
  roundRankingsFile,
  type PipelineHooks,
  type PipelineStage,
  type RoundStage,
  type StageSummary,
} from './pipeline-stages.ts';

/** One round of rankings → reward model → PPO, and its policy measured against SFT. */
export interface RoundSummary {
  round: number;
  seconds: number;
  stages: Record<RoundStage, StageSummary>;
  /** the refitted reward model's agreement with the gold labeler on held-out pairs of this round's samples */
  rm_gold_accuracy: number;
  gold_score: number;
  /** this round's policy over SFT on held-out prompts under the gold labeler (ties half), and under this round's reward model */
  gold_win_rate: number;
  rm_win_rate: number;
  /** this round's policy's mean KL to SFT per response, in nats */
  kl: number;
}

export interface PipelineSummary {
  adapter: string;
  seed: number;
  stages: Record<'pretrain' | 'sft', StageSummary>;
  rounds: RoundSummary[];
  /** the last reward model's agreement with the gold labeler on held-out pairs of the last round */
  rm_gold_accuracy: number;
  gold_score_sft: number;
  gold_score_ppo: number;
  /** the final policy over SFT on held-out prompts under the gold labeler, ties count half */
  gold_win_rate: number;
  /** the same under the last reward model */
  rm_win_rate: number;
  /** the final policy's mean KL to the SFT reference per response, in nats */
  kl: number;
  /** a few held-out prompts with both policies' responses (one of each prompt kind first) */
  samples: ComparisonSample[];
}

const DATASET_FILES = {
  corpus: 'corpus.txt',
  sft: 'sft.jsonl',
  rankingPrompts: 'ranking_prompts.jsonl',
  ppoPrompts: 'ppo_prompts.jsonl',
  evalPrompts: 'eval_prompts.jsonl',
} as const;

export async function runPipeline(gpu: Gpu, s: PipelineSettings, hooks: PipelineHooks = {}): Promise<PipelineSummary> {
  const tokenizer = new BytesTokenizer();
  const config = { ...preset(s.model), ...s.modelOverrides, vocabSize: tokenizer.vocabSize };
  const run: PipelineRun = { gpu, settings: s, hooks, tokenizer, config };
  const data = makeTaskDatasets(s.seed, s.task);
  for (const [key, file] of Object.entries(DATASET_FILES)) hooks.onDataset?.(file, data[key as keyof typeof DATASET_FILES]);
  const common = commonData(run);

  const pretrain = await trainLanguageModel(
    run,
    'pretrain',
    { config, params: initParameters(config, s.seed) },
    buildPretrainData({ ...common, text: data.corpus, source: DATASET_FILES.corpus, batchSize: s.pretrain.batchSize, seqLen: s.pretrain.seqLen }),
  );
  const supervised = await trainLanguageModel(
    run,
    'sft',
    pretrain.weights,
    buildSftData({ ...common, text: data.sft, source: DATASET_FILES.sft, batchSize: s.sft.batchSize, seqLen: s.sft.seqLen, packing: sftDefaults.packing, maskPrompt: sftDefaults.maskPrompt }),
  );
  const sft = supervised.weights;

  const rankingPrompts = loadPrompts(data.rankingPrompts, DATASET_FILES.rankingPrompts).map((r) => r.prompt);
  const promptsPerRound = Math.floor(rankingPrompts.length / s.rounds);
  if (promptsPerRound < 2) throw new Error(`${rankingPrompts.length} ranking prompts do not split into ${s.rounds} rounds; raise task.rankingPrompts`);
  // Room for the longest ranked prompt, a whole response and its EOS, and no more: padding costs time.
  const longestRankingPrompt = Math.max(...rankingPrompts.map((p) => tokenizer.encode(p).length));
  const rewardSeqLen = Math.min(config.nPositions, longestRankingPrompt + s.rankings.maxNewTokens + 1);
  const ppoPrompts = tokenizePrompts(loadPrompts(data.ppoPrompts, DATASET_FILES.ppoPrompts), tokenizer, config.nPositions - s.ppo.responseLength);
  const evalPrompts = loadPrompts(data.evalPrompts, DATASET_FILES.evalPrompts).map((r) => r.prompt);
  // The over-optimisation curve's prompts: held-out ones that fit PPO's prompt length, answered with one seed at every measurement.
  const curvePrompts = evalPrompts
    .map((text) => ({ text, ids: tokenizer.encode(text) }))
    .filter((p) => p.ids.length <= ppoPrompts.longest)
    .slice(0, s.ppo.evalPrompts);

  const rankings: RankingsSoFar = { training: [], all: [] };
  const rounds: RoundSummary[] = [];
  let rewardModel = sft;
  let ppo: PpoCarry = { policy: sft, value: null, beta: s.ppo.klCoef, kl: 0 };
  let final: Awaited<ReturnType<typeof evaluateRound>> | null = null;
  for (let round = 1; round <= s.rounds; round++) {
    const begun = performance.now();
    const prompts = rankingPrompts.slice((round - 1) * promptsPerRound, round * promptsPerRound);
    const ranked = await rankRound(run, round, prompts, { policy: ppo.policy, sft }, rankings);
    const reward = await refitRewardModel(run, round, rewardModel, { training: rankings.training, heldOut: ranked.heldOut, seqLen: rewardSeqLen });
    rewardModel = reward.weights;
    const trained = await ppoRound(run, round, { sft, reward: rewardModel }, ppo, { train: ppoPrompts, curve: curvePrompts });
    ppo = trained.carry;
    final = await evaluateRound(run, round, { policy: ppo.policy, sft, reward: rewardModel }, evalPrompts);
    const stages: Record<RoundStage, StageSummary> = { rankings: ranked.summary, reward: reward.summary, ppo: trained.summary, eval: final.summary };
    rounds.push({
      round,
      seconds: seconds(begun),
      stages,
      rm_gold_accuracy: reward.summary.eval_accuracy!,
      gold_score: final.gold.policy_score,
      gold_win_rate: final.gold.win_rate,
      rm_win_rate: final.report.win_rate,
      kl: final.report.kl,
    });
  }
  const { report, gold } = final!;
  hooks.onDataset?.('eval_samples.jsonl', `${report.samples.map((x) => JSON.stringify(x)).join('\n')}\n`);

  const last = rounds[rounds.length - 1]!;
  return {
    adapter: gpu.name,
    seed: s.seed,
    stages: { pretrain: pretrain.summary, sft: supervised.summary },
    rounds,
    rm_gold_accuracy: last.rm_gold_accuracy,
    gold_score_sft: gold.baseline_score,
    gold_score_ppo: gold.policy_score,
    gold_win_rate: gold.win_rate,
    rm_win_rate: report.win_rate,
    kl: report.kl,
    samples: pickSamples(report.samples, 6),
  };
}

/** One sample of each prompt kind first, then the rest in order, `n` in all. */
function pickSamples(samples: readonly ComparisonSample[], n: number): ComparisonSample[] {
  const byKind = new Map<string, ComparisonSample>();
  for (const x of samples) {
    const kind = parseTaskPrompt(x.prompt)?.kind ?? 'other';
    if (!byKind.has(kind)) byKind.set(kind, x);
  }
  const first = [...byKind.values()];
  return [...first, ...samples.filter((x) => !first.includes(x))].slice(0, n);
}
