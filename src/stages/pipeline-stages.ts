/**
 * The pipeline's stages, each one call over the run's context: a language
 * model trained (pretrain, SFT), and a round's rankings, reward model, PPO
 * and evaluation. Each reports through the pipeline's hooks and returns its
 * weights (or records) and its summary; runPipeline chains them.
 *
 * The gold labeler stands in for the human raters: it ranks samples and
 * scores evaluations; no training decision reads it.
 */
import type { Gpu } from '../gpu/gpu.ts';
import type { GPTConfig } from '../model/config.ts';
import type { Weights } from '../model/weights.ts';
import { epochPermutation } from '../data/permutation.ts';
import { goldJudge, goldRankingRecord } from '../task/labeler.ts';
import { parseTaskPrompt } from '../task/datasets.ts';
import type { BytesTokenizer } from '../tokenizer/bytes.ts';
import type { StepMetrics } from '../train/loop.ts';
import type { PpoTrainer } from '../train/ppo-trainer.ts';
import * as evaluateStage from './evaluate.ts';
import type { ComparisonReport } from './evaluate.ts';
import type { StageData } from './language-model.ts';
import * as pretrainStage from './pretrain.ts';
import * as sftStage from './sft.ts';
import * as rewardStage from './reward.ts';
import { DATA_DEFAULTS, TRAINED_STAGE_DEFAULTS, type StageOutcome, type TrainedStageSettings } from './stage.ts';
import type { PipelineSettings, StageTraining } from './pipeline-settings.ts';
import * as ppoStage from './ppo.ts';
import type { PpoPrompts } from './ppo.ts';
import * as rankingsStage from './rankings.ts';

export const PIPELINE_STAGES = ['pretrain', 'sft', 'rankings', 'reward', 'ppo', 'eval'] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];
/** The stages every round runs again; pretrain and SFT run once. */
export const ROUND_STAGES = ['rankings', 'reward', 'ppo', 'eval'] as const;
export type RoundStage = (typeof ROUND_STAGES)[number];

export interface StageSummary {
  seconds: number;
  [metric: string]: number;
}

/** `round` is 0 for the stages that run once (pretrain, SFT), 1… for a round's. */
export interface PipelineHooks {
  /** every dataset of the task, as files in the contract formats (name → contents) */
  onDataset?(name: string, contents: string): void;
  onStageStart?(stage: PipelineStage, round: number, steps: number, report: string[]): void;
  /** every step, for progress */
  onStep?(stage: PipelineStage, round: number, step: number, metrics: Record<string, number>): void;
  /** one metrics record (a logged step or an evaluation) */
  onMetrics?(stage: PipelineStage, round: number, record: { step: number } & Record<string, number>): void;
  /** with the stage's weights: the trained model (the reward model with its head); null for rankings and eval */
  onStageEnd?(stage: PipelineStage, round: number, summary: StageSummary, weights: Weights | null): void | Promise<void>;
  shouldStop?(): boolean;
}

export class PipelineStopped extends Error {
  constructor(
    readonly stage: PipelineStage,
    readonly round = 0,
  ) {
    super(`stopped during ${stage}${round > 0 ? ` of round ${round}` : ''}`);
  }
}

/** every round's rankings so far (what the last reward model was fitted on, its held-out part too) */
export const RANKINGS_FILE = 'rankings.jsonl';
export const roundRankingsFile = (round: number) => `rankings_round_${round}.jsonl`;

/** What every stage of one pipeline run shares. */
export interface PipelineRun {
  gpu: Gpu;
  settings: PipelineSettings;
  hooks: PipelineHooks;
  tokenizer: BytesTokenizer;
  config: GPTConfig;
}

/** Seconds since a performance.now() reading. */
export const seconds = (since: number) => (performance.now() - since) / 1000;

/**
 * A supervised stage's settings (pretrain, SFT, reward model): its section
 * over the stage defaults, a cosine schedule, 50 log lines, 5 evaluations,
 * and no checkpoint but the final weights, which the stage returns.
 */
function supervisedSettings(run: PipelineRun, t: StageTraining, seqLen: number): TrainedStageSettings {
  return {
    ...TRAINED_STAGE_DEFAULTS,
    steps: t.steps,
    batchSize: t.batchSize,
    seqLen,
    gradAccum: 1,
    lr: t.lr,
    lrSchedule: 'cosine',
    warmup: t.warmup,
    seed: run.settings.seed,
    logEvery: Math.max(1, Math.floor(t.steps / 50)),
    evalEvery: Math.max(1, Math.floor(t.steps / 5)),
    saveEvery: 0,
  };
}

/** The data settings every supervised stage's data shares. */
export const commonData = (run: PipelineRun) => ({ tokenizer: run.tokenizer, ...DATA_DEFAULTS, gradAccum: 1, seed: run.settings.seed });

function stopIfAsked(run: PipelineRun, stage: PipelineStage, round = 0): void {
  if (run.hooks.shouldStop?.()) throw new PipelineStopped(stage, round);
}

/** The training loop's hooks of a stage, reported through the pipeline's. */
function logged(run: PipelineRun, stage: PipelineStage, round: number) {
  const hooks = run.hooks;
  return {
    onStep: (m: StepMetrics) => hooks.onStep?.(stage, round, m.step, m as unknown as Record<string, number>),
    onLog: (m: StepMetrics) => hooks.onMetrics?.(stage, round, m as unknown as { step: number } & Record<string, number>),
    onEval: (step: number, m: Record<string, number>) => hooks.onMetrics?.(stage, round, { step, ...m }),
    shouldStop: hooks.shouldStop,
  };
}

export type StageResult = StageOutcome<StageSummary>;

/** Pretraining or SFT: train, keep the final weights and metrics. */
export async function trainLanguageModel(
  run: PipelineRun,
  stage: 'pretrain' | 'sft',
  start: Weights,
  built: StageData,
): Promise<StageResult> {
  const t = run.settings[stage];
  const begun = performance.now();
  run.hooks.onStageStart?.(stage, 0, t.steps, built.report);
  const settings = supervisedSettings(run, t, t.seqLen);
  const trained = await (stage === 'pretrain' ? pretrainStage : sftStage).run(run.gpu, start, settings, { data: built }, logged(run, stage, 0));
  stopIfAsked(run, stage);
  const { summary: s, weights } = trained;
  const summary = { seconds: seconds(begun), steps: s.steps, loss: s.loss, eval_loss: s.lastEval.eval_loss ?? NaN };
  await run.hooks.onStageEnd?.(stage, 0, summary, weights);
  return { weights, summary };
}

/** Every ranking so far: those the reward model trains on, and all of them (held-out ones too). */
export interface RankingsSoFar {
  training: string[];
  all: string[];
}

/**
 * A round's rankings: fresh prompts; the current policy answers K times (and
 * SFT too after round 1); the gold labeler orders them. A fifth (evalFraction)
 * of the round's rankings is held out: the reward model is judged on the
 * distribution it must judge next. Adds the rest to `soFar.training`.
 */
export async function rankRound(
  run: PipelineRun,
  round: number,
  prompts: readonly string[],
  policies: { policy: Weights; sft: Weights },
  soFar: RankingsSoFar,
): Promise<{ heldOut: string[]; summary: StageSummary }> {
  const { settings: s, hooks } = run;
  const begun = performance.now();
  // After `policies.policy`, SFT answers too in later rounds.
  const others = round > 1 && s.rankings.sftSamples > 0 ? [{ weights: policies.sft, samples: s.rankings.sftSamples }] : [];
  const who = round === 1 ? 'the SFT policy' : `round ${round - 1}'s policy${others.length > 0 ? ` and ${s.rankings.sftSamples} from SFT` : ''}`;
  hooks.onStageStart?.('rankings', round, prompts.length, [`${prompts.length} prompts, ${s.rankings.samples} responses each from ${who}, ranked by the gold labeler`]);
  const ranked = await rankingsStage.run(
    run.gpu,
    policies.policy,
    { samples: s.rankings.samples, temperature: s.rankings.temperature, maxNewTokens: s.rankings.maxNewTokens, seed: s.seed + (round - 1) * 1009 },
    {
      tokenizer: run.tokenizer,
      prompts,
      others,
      rank: (prompt, responses) => goldRankingRecord(parseTaskPrompt(prompt)!, prompt, responses),
      score: goldJudge,
    },
    { onProgress: (done) => hooks.onStep?.('rankings', round, done, {}), shouldStop: hooks.shouldStop },
  );
  stopIfAsked(run, 'rankings', round);
  if (ranked.records.length < 2) throw new Error(`rankings: ${ranked.summary.responses} responses in round ${round} gave only ${ranked.records.length} rankings; train SFT longer`);
  const order = epochPermutation(ranked.records.length, s.seed + round, 0);
  const held = Math.max(1, Math.round(ranked.records.length * s.reward.evalFraction));
  const heldOut = new Set(Array.from(order.slice(0, held)));
  soFar.training.push(...ranked.records.filter((_, i) => !heldOut.has(i)));
  soFar.all.push(...ranked.records);
  hooks.onDataset?.(roundRankingsFile(round), `${ranked.records.join('\n')}\n`);
  hooks.onDataset?.(RANKINGS_FILE, `${soFar.all.join('\n')}\n`);
  const summary = {
    seconds: seconds(begun),
    prompts: prompts.length,
    responses: ranked.summary.responses,
    gold_score: ranked.summary.meanScore,
    rankings: ranked.summary.rankings,
    pairs: ranked.summary.pairs,
  };
  await hooks.onStageEnd?.('rankings', round, summary, null);
  return { heldOut: ranked.records.filter((_, i) => heldOut.has(i)), summary };
}

/**
 * The reward model of a round: continues the last one (round 1: the SFT trunk
 * and a fresh head) on every training ranking so far, judged on the round's
 * held-out rankings.
 */
export async function refitRewardModel(
  run: PipelineRun,
  round: number,
  start: Weights,
  rankings: { training: readonly string[]; heldOut: readonly string[]; seqLen: number },
): Promise<StageResult> {
  const { settings: s, hooks } = run;
  const begun = performance.now();
  const t = s.reward;
  const built = rewardStage.buildRewardData({
    ...commonData(run),
    evalFraction: 0,
    text: rankings.training.join('\n'),
    source: RANKINGS_FILE,
    evalText: rankings.heldOut.join('\n'),
    evalSource: `${roundRankingsFile(round)} (held out)`,
    batchSize: t.batchSize,
    seqLen: rankings.seqLen,
    seed: s.seed + round - 1,
  });
  hooks.onStageStart?.('reward', round, t.steps, [...(round > 1 ? [`continuing round ${round - 1}'s reward model`] : []), ...built.report]);
  const trained = await rewardStage.run(run.gpu, start, { ...supervisedSettings(run, t, rankings.seqLen), centerRewards: 0 }, { data: built }, logged(run, 'reward', round));
  stopIfAsked(run, 'reward', round);
  const r = trained.summary;
  const last = { ...r.lastLog, ...r.lastEval };
  const summary = { seconds: seconds(begun), steps: r.steps, loss: r.loss, accuracy: last.accuracy ?? NaN, eval_accuracy: last.eval_accuracy ?? NaN };
  await hooks.onStageEnd?.('reward', round, summary, trained.weights);
  return { weights: trained.weights, summary };
}

/** What PPO carries from round to round. */
export interface PpoCarry {
  policy: Weights;
  /** the last round's value model, when `ppo.value` is 'carry' */
  value: Weights | null;
  /** the KL controller's β */
  beta: number;
  /** the policy's KL to SFT as the last PPO step measured it */
  kl: number;
}

/**
 * A round's PPO: the current policy against the new reward model. The KL
 * reference stays SFT, so the KL budget is the policy's whole distance from
 * the demonstrations, not a fresh one each round; the value model restarts
 * from the new reward model by default (the returns it predicts are in that
 * model's units; carrying the last one on measured no better on seed 3: gold
 * win rate 0.691 against 0.727); the controller's β carries over (it measures
 * the same KL to SFT). Every evalEvery steps the held-out `curvePrompts` are
 * answered and scored (the over-optimisation curve).
 */
export async function ppoRound(
  run: PipelineRun,
  round: number,
  models: { sft: Weights; reward: Weights },
  carry: PpoCarry,
  prompts: { train: PpoPrompts; curve: readonly CurvePrompt[] },
): Promise<{ carry: PpoCarry; summary: StageSummary }> {
  const { settings: s, hooks } = run;
  const begun = performance.now();
  const t = s.ppo;
  hooks.onStageStart?.('ppo', round, t.steps, [
    `${prompts.train.prompts.length} prompts, ${t.batchSize} per step, responses of up to ${t.responseLength} tokens; KL to SFT, β ${carry.beta.toPrecision(3)}${t.targetKl === null ? ' (fixed)' : `, steered towards KL ${t.targetKl}`}`,
  ]);
  const settings: ppoStage.Settings = {
    // The section's settings over the stage's defaults (the schema drops the pipeline's own: value, evalPrompts).
    ...ppoStage.defaults,
    ...ppoStage.schema.partial().parse(t),
    maxPromptLength: prompts.train.longest,
    klCoef: carry.beta,
    // Round 1 keeps the seed a one-round run always had; later rounds draw other batches.
    seed: s.seed + (round - 1) * 7907,
    // A metrics record every step, for the report's curves (the stage returns its weights: no checkpoint hook).
    logEvery: 1,
    evalEvery: prompts.curve.length > 0 ? t.evalEvery : 0,
  };
  const result = await ppoStage.run(
    run.gpu,
    carry.policy,
    settings,
    {
      prompts: prompts.train.prompts,
      eosId: run.tokenizer.eosId,
      reward: models.reward,
      reference: models.sft,
      ...(t.value === 'carry' && carry.value ? { value: carry.value } : {}),
      initialKl: carry.kl,
    },
    {
      onStep: (m) => hooks.onStep?.('ppo', round, m.step, m),
      onLog: (m) => hooks.onMetrics?.('ppo', round, m),
      evaluate: (trainer) => scoreCurvePrompts(trainer, prompts.curve, run.tokenizer, s.seed),
      onEval: (step, m) => hooks.onMetrics?.('ppo', round, { step, ...m }),
      shouldStop: hooks.shouldStop,
    },
  );
  stopIfAsked(run, 'ppo', round);
  const m = result.summary.last;
  const next: PpoCarry = {
    policy: result.weights,
    value: t.value === 'carry' ? result.value : carry.value,
    beta: result.beta,
    kl: m?.['objective/kl'] ?? carry.kl,
  };
  const summary = {
    seconds: seconds(begun),
    steps: result.summary.steps,
    first_scores: result.summary.firstScores,
    scores: m?.['objective/scores'] ?? NaN,
    kl: m?.['objective/kl'] ?? NaN,
    kl_coef: next.beta,
  };
  await hooks.onStageEnd?.('ppo', round, summary, next.policy);
  return { carry: next, summary };
}

/** A round's evaluation: its policy against SFT on held-out prompts, under its reward model and the gold labeler. */
export async function evaluateRound(
  run: PipelineRun,
  round: number,
  models: { policy: Weights; sft: Weights; reward: Weights },
  prompts: string[],
): Promise<{ report: ComparisonReport; gold: NonNullable<ComparisonReport['gold']>; summary: StageSummary }> {
  const { settings: s, hooks } = run;
  const begun = performance.now();
  hooks.onStageStart?.('eval', round, prompts.length, [`${prompts.length} held-out prompts; round ${round}'s policy and SFT sample at temperature ${s.eval.temperature}`]);
  const { summary: report } = await evaluateStage.run(
    run.gpu,
    models.policy,
    { maxNewTokens: s.eval.maxNewTokens, temperature: s.eval.temperature, topK: 0, topP: 1, seed: s.seed, batchSize: s.eval.batchSize },
    { baseline: models.sft, reference: models.sft, reward: models.reward, tokenizer: run.tokenizer, prompts, judge: goldJudge },
    { onProgress: (done) => hooks.onStep?.('eval', round, done, {}) },
  );
  const gold = report.gold!;
  const summary = {
    seconds: seconds(begun),
    prompts: report.prompts,
    rm_score_sft: report.baseline_score,
    rm_score_ppo: report.policy_score,
    rm_win_rate: report.win_rate,
    gold_score_sft: gold.baseline_score,
    gold_score_ppo: gold.policy_score,
    gold_win_rate: gold.win_rate,
    kl: report.kl,
  };
  await hooks.onStageEnd?.('eval', round, summary, null);
  return { report, gold, summary };
}

/** A held-out prompt of the over-optimisation curve, as text and as token ids. */
export interface CurvePrompt {
  text: string;
  ids: Int32Array;
}

/**
 * The over-optimisation curve's measurement: the current policy answers the
 * held-out prompts (one seed each time, so measurements differ by the policy
 * alone), scored by the reward model PPO optimises and by the gold labeler,
 * which only watches.
 */
async function scoreCurvePrompts(trainer: PpoTrainer, prompts: readonly CurvePrompt[], tokenizer: BytesTokenizer, seed: number): Promise<Record<string, number>> {
  const B = trainer.settings.batchSize;
  let rm = 0;
  let gold = 0;
  let kl = 0;
  for (let first = 0; first < prompts.length; first += B) {
    // Full batches; the last repeats a prompt, counted once.
    const batch = Array.from({ length: B }, (_, i) => prompts[Math.min(first + i, prompts.length - 1)]!);
    const ids = batch.map((p) => p.ids);
    const generation = await trainer.generate(ids, seed * 31337 + first);
    const scores = await trainer.score(ids, generation.responses);
    const kls = await trainer.klToReference(ids, generation.responses);
    for (let i = 0; i < B && first + i < prompts.length; i++) {
      rm += scores[i]!;
      kl += kls[i]!;
      gold += goldJudge(batch[i]!.text, tokenizer.decode(generation.responses[i]!));
    }
  }
  return { 'eval/rm_score': rm / prompts.length, 'eval/gold_score': gold / prompts.length, 'eval/kl': kl / prompts.length };
}
