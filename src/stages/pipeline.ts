/**
 * The whole ChatGPT-style run on the built-in task, one stage after another:
 * pretrain → SFT → K samples per prompt from SFT, ranked by the gold labeler →
 * reward model on those rankings → PPO against it → PPO against SFT on
 * held-out prompts, under the reward model and under the gold labeler.
 *
 * Browser-safe: the caller gets every dataset, metric and checkpoint through
 * hooks and decides where they go (the CLI writes a run directory).
 */
import type { Gpu } from '../gpu/gpu.ts';
import { preset, type GPTConfig } from '../model/config.ts';
import { Generator } from '../model/generate.ts';
import { GPT } from '../model/gpt.ts';
import { initParameters } from '../model/params.ts';
import type { Weights } from '../model/weights.ts';
import { loadPrompts } from '../data/formats.ts';
import { goldJudge, goldRankingRecord, goldScore } from '../task/labeler.ts';
import { makeTaskDatasets, parseTaskPrompt, type TaskSizes } from '../task/datasets.ts';
import { BytesTokenizer } from '../tokenizer/bytes.ts';
import { ADAMW_DEFAULTS, type AdamWConfig } from '../train/adamw.ts';
import type { StepMetrics } from '../train/loop.ts';
import { PPO_DEFAULTS, type PpoMetrics, type PpoSettings } from '../train/ppo-trainer.ts';
import { comparePolicies, type ComparisonReport, type ComparisonSample } from './evaluate.ts';
import { runLanguageModel } from './language-model.ts';
import { runPpo, tokenizePrompts } from './ppo.ts';
import { buildPretrainData } from './pretrain.ts';
import { buildRewardData, runRewardModel } from './reward.ts';
import { buildSftData } from './sft.ts';

export const PIPELINE_STAGES = ['pretrain', 'sft', 'rankings', 'reward', 'ppo', 'eval'] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

interface TrainingSettings {
  steps: number;
  batchSize: number;
  lr: number;
  warmup: number;
}

export interface PipelineSettings {
  seed: number;
  /** a preset name, with overrides */
  model: string;
  modelOverrides: Partial<GPTConfig>;
  task: TaskSizes;
  pretrain: TrainingSettings & { seqLen: number };
  sft: TrainingSettings & { seqLen: number };
  /** K responses per ranking prompt, sampled from the SFT policy */
  rankings: { samples: number; temperature: number; maxNewTokens: number };
  /** batchSize counts responses; evalFraction of the ranked prompts is held out */
  reward: TrainingSettings & { evalFraction: number };
  ppo: TrainingSettings & Pick<PpoSettings, 'responseLength' | 'temperature' | 'klCoef' | 'ppoEpochs' | 'miniBatches' | 'missingEosPenalty'>;
  /** both policies sample at `temperature` */
  eval: { temperature: number; maxNewTokens: number; batchSize: number };
}

/**
 * The default run, sized for a CPU adapter (lavapipe on two cores: a few
 * minutes); `gpu` is a larger model trained longer, for real GPUs.
 */
export const PIPELINE_PRESETS: Record<'cpu' | 'gpu', PipelineSettings> = {
  cpu: {
    seed: 1,
    model: 'tiny',
    modelOverrides: { nPositions: 80 },
    task: { corpusDialogues: 3000, sftExamples: 400, rankingPrompts: 1024, ppoPrompts: 200, evalPrompts: 128 },
    pretrain: { steps: 800, batchSize: 8, seqLen: 64, lr: 1e-2, warmup: 20 },
    sft: { steps: 250, batchSize: 8, seqLen: 64, lr: 2e-3, warmup: 5 },
    rankings: { samples: 4, temperature: 0.7, maxNewTokens: 32 },
    reward: { steps: 200, batchSize: 16, lr: 3e-4, warmup: 10, evalFraction: 0.2 },
    ppo: { steps: 35, batchSize: 16, lr: 3e-4, warmup: 0, responseLength: 32, temperature: 0.7, klCoef: 0.15, ppoEpochs: 2, miniBatches: 2, missingEosPenalty: 1 },
    eval: { temperature: 0.7, maxNewTokens: 32, batchSize: 32 },
  },
  gpu: {
    seed: 1,
    model: 'mid',
    modelOverrides: { nPositions: 128 },
    task: { corpusDialogues: 20000, sftExamples: 1000, rankingPrompts: 512, ppoPrompts: 512, evalPrompts: 256 },
    pretrain: { steps: 1500, batchSize: 32, seqLen: 64, lr: 1e-3, warmup: 100 },
    sft: { steps: 200, batchSize: 32, seqLen: 64, lr: 3e-4, warmup: 10 },
    rankings: { samples: 4, temperature: 1, maxNewTokens: 32 },
    reward: { steps: 400, batchSize: 32, lr: 3e-4, warmup: 20, evalFraction: 0.2 },
    ppo: { steps: 150, batchSize: 32, lr: 1e-4, warmup: 0, responseLength: 32, temperature: 1, klCoef: 0.05, ppoEpochs: 4, miniBatches: 2, missingEosPenalty: 1 },
    eval: { temperature: 1, maxNewTokens: 32, batchSize: 64 },
  },
};

export type PipelinePresetName = keyof typeof PIPELINE_PRESETS;

export interface StageSummary {
  seconds: number;
  [metric: string]: number;
}

export interface PipelineSummary {
  adapter: string;
  seed: number;
  stages: Record<PipelineStage, StageSummary>;
  /** the reward model's agreement with the gold labeler on held-out ranked pairs */
  rm_gold_accuracy: number;
  gold_score_sft: number;
  gold_score_ppo: number;
  /** PPO over SFT on held-out prompts under the gold labeler, ties count half */
  gold_win_rate: number;
  /** the same under the reward model */
  rm_win_rate: number;
  /** PPO's mean KL to the SFT reference per response, in nats */
  kl: number;
  /** a few held-out prompts with both policies' responses (one of each prompt kind first) */
  samples: ComparisonSample[];
}

export interface PipelineHooks {
  /** every dataset of the task, as files in the contract formats (name → contents) */
  onDataset?(name: string, contents: string): void;
  onStageStart?(stage: PipelineStage, steps: number, report: string[]): void;
  /** every step, for progress */
  onStep?(stage: PipelineStage, step: number, metrics: Record<string, number>): void;
  /** one metrics record (a logged step or an evaluation) */
  onMetrics?(stage: PipelineStage, record: { step: number } & Record<string, number>): void;
  /** with the stage's weights: the trained model (the reward model with its head); null for rankings and eval */
  onStageEnd?(stage: PipelineStage, summary: StageSummary, weights: Weights | null): void | Promise<void>;
  shouldStop?(): boolean;
}

export class PipelineStopped extends Error {
  constructor(readonly stage: PipelineStage) {
    super(`stopped during ${stage}`);
  }
}

const DATASET_FILES = {
  corpus: 'corpus.txt',
  sft: 'sft.jsonl',
  rankingPrompts: 'ranking_prompts.jsonl',
  ppoPrompts: 'ppo_prompts.jsonl',
  evalPrompts: 'eval_prompts.jsonl',
} as const;
export const RANKINGS_FILE = 'rankings.jsonl';

const seconds = (since: number) => (performance.now() - since) / 1000;

function optimizer(lr: number, weightDecay = ADAMW_DEFAULTS.weightDecay): AdamWConfig {
  return { ...ADAMW_DEFAULTS, lr, weightDecay };
}

export async function runPipeline(gpu: Gpu, s: PipelineSettings, hooks: PipelineHooks = {}): Promise<PipelineSummary> {
  const tokenizer = new BytesTokenizer();
  const config: GPTConfig = { ...preset(s.model), ...s.modelOverrides, vocabSize: tokenizer.vocabSize };
  const data = makeTaskDatasets(s.seed, s.task);
  for (const [key, file] of Object.entries(DATASET_FILES)) hooks.onDataset?.(file, data[key as keyof typeof DATASET_FILES]);
  const stages = {} as Record<PipelineStage, StageSummary>;
  const stopIfAsked = (stage: PipelineStage) => {
    if (hooks.shouldStop?.()) throw new PipelineStopped(stage);
  };
  const logged = (stage: PipelineStage) => ({
    onStep: (m: StepMetrics) => hooks.onStep?.(stage, m.step, m as unknown as Record<string, number>),
    onLog: (m: StepMetrics) => hooks.onMetrics?.(stage, m as unknown as { step: number } & Record<string, number>),
    onEval: (step: number, m: Record<string, number>) => hooks.onMetrics?.(stage, { step, ...m }),
    shouldStop: hooks.shouldStop,
  });

  // Language-model stages: train, keep the final weights and metrics.
  const languageModel = async (
    stage: 'pretrain' | 'sft',
    start: Weights,
    t: TrainingSettings & { seqLen: number },
    built: ReturnType<typeof buildPretrainData>,
  ): Promise<Weights> => {
    const begun = performance.now();
    hooks.onStageStart?.(stage, t.steps, built.report);
    let final = start;
    let evalLoss = NaN;
    const log = logged(stage);
    const result = await runLanguageModel(
      {
        gpu,
        config,
        params: start.params,
        batchSize: t.batchSize,
        gradAccum: 1,
        seqLen: t.seqLen,
        steps: t.steps,
        optimizer: optimizer(t.lr),
        schedule: 'cosine',
        warmup: t.warmup,
        logEvery: Math.max(1, Math.floor(t.steps / 50)),
        evalEvery: Math.max(1, Math.floor(t.steps / 5)),
        saveEvery: 0,
        batch: built.batch,
        evalBatches: built.evalBatches,
      },
      {
        ...log,
        onEval: (step, m) => {
          evalLoss = m.eval_loss;
          log.onEval(step, m);
        },
        save: (_step, weights) => {
          final = weights;
        },
      },
    );
    stopIfAsked(stage);
    stages[stage] = { seconds: seconds(begun), steps: result.step, loss: result.lastLoss, eval_loss: evalLoss };
    await hooks.onStageEnd?.(stage, stages[stage], final);
    return final;
  };

  const common = { tokenizer, evalFraction: 0.1, shuffle: true, seed: s.seed };
  const pretrained = await languageModel(
    'pretrain',
    { config, params: initParameters(config, s.seed) },
    s.pretrain,
    buildPretrainData({ ...common, text: data.corpus, source: DATASET_FILES.corpus, batchSize: s.pretrain.batchSize, seqLen: s.pretrain.seqLen, evalBatches: 4, gradAccum: 1 }),
  );
  const sft = await languageModel(
    'sft',
    pretrained,
    s.sft,
    buildSftData({
      ...common,
      text: data.sft,
      source: DATASET_FILES.sft,
      batchSize: s.sft.batchSize,
      seqLen: s.sft.seqLen,
      evalBatches: 4,
      gradAccum: 1,
      packing: false,
      maskPrompt: true,
    }),
  );

  // Rankings: the SFT policy answers each ranking prompt K times; the gold labeler orders the answers.
  const rankings = await (async () => {
    const begun = performance.now();
    const prompts = loadPrompts(data.rankingPrompts, DATASET_FILES.rankingPrompts).map((r) => r.prompt);
    const K = s.rankings.samples;
    hooks.onStageStart?.('rankings', prompts.length, [`${prompts.length} prompts, ${K} responses each, ranked by the gold labeler`]);
    const encoded = prompts.map((p) => tokenizer.encode(p));
    const longest = Math.max(...encoded.map((e) => e.length));
    const promptsPerBatch = Math.max(1, Math.floor(64 / K));
    const model = new GPT(gpu, config, 1, 1);
    model.setParameters(sft.params);
    const generator = new Generator(model, { maxBatch: promptsPerBatch * K, maxLength: longest + s.rankings.maxNewTokens });
    const records: string[] = [];
    let sampled = 0;
    let pairs = 0;
    let goldSum = 0;
    try {
      for (let first = 0; first < prompts.length; first += promptsPerBatch) {
        stopIfAsked('rankings');
        const batch = encoded.slice(first, first + promptsPerBatch);
        const generation = await generator.generate(
          batch.flatMap((p) => Array.from({ length: K }, () => p)),
          { maxNewTokens: s.rankings.maxNewTokens, temperature: s.rankings.temperature, seed: s.seed * 7919 + first, eosId: tokenizer.eosId },
        );
        batch.forEach((_, i) => {
          const text = prompts[first + i]!;
          const responses = generation.responses.slice(i * K, (i + 1) * K).map((r) => tokenizer.decode(r));
          sampled += K;
          const task = parseTaskPrompt(text)!;
          for (const r of responses) goldSum += goldScore(task, r);
          const record = goldRankingRecord(task, text, responses);
          if (record) {
            records.push(JSON.stringify(record));
            pairs += (record.ranking.length * (record.ranking.length - 1)) / 2;
          }
        });
        hooks.onStep?.('rankings', Math.min(first + promptsPerBatch, prompts.length), {});
      }
    } finally {
      generator.destroy();
      model.destroy();
    }
    if (records.length < 2) throw new Error(`rankings: the SFT policy's ${sampled} responses gave only ${records.length} rankings; train SFT longer`);
    const text = `${records.join('\n')}\n`;
    hooks.onDataset?.(RANKINGS_FILE, text);
    stages.rankings = { seconds: seconds(begun), prompts: prompts.length, responses: sampled, gold_score: goldSum / sampled, rankings: records.length, pairs };
    await hooks.onStageEnd?.('rankings', stages.rankings, null);
    return { text, longestPrompt: longest };
  })();

  // Reward model: the SFT trunk and a fresh scalar head on the gold rankings; accuracy on held-out prompts' pairs.
  const rewardModel = await (async (): Promise<Weights> => {
    const begun = performance.now();
    const t = s.reward;
    // Room for the longest ranked prompt, a whole response and its EOS, and no more: padding costs time.
    const seqLen = Math.min(config.nPositions, rankings.longestPrompt + s.rankings.maxNewTokens + 1);
    const built = buildRewardData({ ...common, evalFraction: t.evalFraction, text: rankings.text, source: RANKINGS_FILE, batchSize: t.batchSize, seqLen });
    hooks.onStageStart?.('reward', t.steps, built.report);
    let final: Weights = sft;
    const last: Record<string, number> = {};
    const log = logged('reward');
    const result = await runRewardModel(
      {
        gpu,
        ...sft,
        batchSize: t.batchSize,
        seqLen,
        steps: t.steps,
        optimizer: optimizer(t.lr),
        schedule: 'cosine',
        warmup: t.warmup,
        logEvery: Math.max(1, Math.floor(t.steps / 50)),
        evalEvery: Math.max(1, Math.floor(t.steps / 5)),
        saveEvery: 0,
        center: 0,
        seed: s.seed,
        data: built,
      },
      {
        ...log,
        onLog: (m) => {
          Object.assign(last, m);
          log.onLog(m);
        },
        onEval: (step, m) => {
          Object.assign(last, m);
          log.onEval(step, m);
        },
        save: (_step, weights) => {
          final = weights;
        },
      },
    );
    stopIfAsked('reward');
    stages.reward = { seconds: seconds(begun), steps: result.step, loss: result.lastLoss, accuracy: last.accuracy ?? NaN, eval_accuracy: last.eval_accuracy ?? NaN };
    await hooks.onStageEnd?.('reward', stages.reward, final);
    return final;
  })();

  // PPO: the SFT policy against the frozen reward model, the SFT model its KL reference.
  const ppo = await (async (): Promise<Weights> => {
    const begun = performance.now();
    const t = s.ppo;
    const room = config.nPositions - t.responseLength;
    const prompts = tokenizePrompts(loadPrompts(data.ppoPrompts, DATASET_FILES.ppoPrompts), tokenizer, room);
    hooks.onStageStart?.('ppo', t.steps, [`${prompts.prompts.length} prompts, ${t.batchSize} per step, responses of up to ${t.responseLength} tokens`]);
    let policy = sft;
    let lastMetrics: PpoMetrics | null = null;
    let firstScore = NaN;
    const result = await runPpo(
      {
        gpu,
        models: { policy: sft, reward: rewardModel },
        settings: {
          ...PPO_DEFAULTS,
          batchSize: t.batchSize,
          maxPromptLength: prompts.longest,
          responseLength: t.responseLength,
          temperature: t.temperature,
          klCoef: t.klCoef,
          ppoEpochs: t.ppoEpochs,
          miniBatches: t.miniBatches,
          missingEosPenalty: t.missingEosPenalty,
          seed: s.seed,
        },
        optimizer: optimizer(t.lr, 0),
        schedule: 'constant',
        warmup: t.warmup,
        steps: t.steps,
        prompts: prompts.prompts,
        eosId: tokenizer.eosId,
        logEvery: 1,
        saveEvery: 0,
      },
      {
        onStep: (step, m) => {
          if (step === 1) firstScore = m['objective/scores'];
          hooks.onStep?.('ppo', step, m);
        },
        onLog: (step, m) => {
          lastMetrics = m;
          hooks.onMetrics?.('ppo', { step, ...m });
        },
        save: async (_step, trainer) => {
          policy = { config, params: await trainer.getPolicyParameters() };
        },
        shouldStop: hooks.shouldStop,
      },
    );
    stopIfAsked('ppo');
    const m = lastMetrics as PpoMetrics | null;
    stages.ppo = {
      seconds: seconds(begun),
      steps: result.step,
      first_scores: firstScore,
      scores: m?.['objective/scores'] ?? NaN,
      kl: m?.['objective/kl'] ?? NaN,
    };
    await hooks.onStageEnd?.('ppo', stages.ppo, policy);
    return policy;
  })();

  // Evaluation: PPO against SFT on held-out prompts, under the reward model and the gold labeler.
  const begun = performance.now();
  const evalPrompts = loadPrompts(data.evalPrompts, DATASET_FILES.evalPrompts).map((r) => r.prompt);
  hooks.onStageStart?.('eval', evalPrompts.length, [`${evalPrompts.length} held-out prompts; PPO and SFT sample at temperature ${s.eval.temperature}`]);
  const report: ComparisonReport = await comparePolicies({
    gpu,
    policy: ppo,
    baseline: sft,
    reference: sft,
    reward: rewardModel,
    tokenizer,
    prompts: evalPrompts,
    maxNewTokens: s.eval.maxNewTokens,
    temperature: s.eval.temperature,
    topK: 0,
    topP: 1,
    seed: s.seed,
    batchSize: s.eval.batchSize,
    judge: goldJudge,
    onProgress: (done) => hooks.onStep?.('eval', done, {}),
  });
  const gold = report.gold!;
  stages.eval = {
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
  await hooks.onStageEnd?.('eval', stages.eval, null);
  hooks.onDataset?.('eval_samples.jsonl', `${report.samples.map((x) => JSON.stringify(x)).join('\n')}\n`);

  return {
    adapter: gpu.name,
    seed: s.seed,
    stages,
    rm_gold_accuracy: stages.reward.eval_accuracy!,
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
