/**
 * `webgpu-rlhf pipeline` (what `npm start` runs): every stage on the built-in
 * task into sub-directories of --out, then summary.json, report.html and a
 * summary table on the terminal.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { withCommandRun } from '../command-run.ts';
import { planBatch } from '../../model/activations.ts';
import { BYTES_VOCAB, preset, validateConfig, type GPTConfig } from '../../model/config.ts';
import {
  PIPELINE_PRESETS,
  PIPELINE_STAGES,
  PipelineStopped,
  runPipeline,
  type PipelinePresetName,
  type PipelineSettings,
  type PipelineStage,
  type PipelineSummary,
} from '../../stages/pipeline.ts';
import { number } from '../options.ts';
import { Progress } from '../progress.ts';
import { renderReport, resultRows, stageRows, type MetricsByStage } from '../report.ts';
import { appendMetrics, saveCheckpoint, writeFileAtomic } from '../run-dir.ts';
import { formatTable } from '../text-table.ts';

const positiveInt = z.number().int().positive();
const positive = z.number().positive();
const training = { steps: positiveInt, batchSize: positiveInt, lr: positive, warmup: z.number().int().nonnegative() };
/** What --config may override: any part of the preset's settings, nothing else. */
const settingsSchema = z
  .strictObject({
    seed: z.number().int().nonnegative(),
    model: z.string().min(1),
    modelOverrides: z.strictObject({ nLayer: positiveInt, nHead: positiveInt, nEmbd: positiveInt, nPositions: positiveInt }).partial(),
    task: z.strictObject({ corpusDialogues: positiveInt, sftExamples: positiveInt, rankingPrompts: positiveInt, ppoPrompts: positiveInt, evalPrompts: positiveInt }).partial(),
    pretrain: z.strictObject({ ...training, seqLen: positiveInt }).partial(),
    sft: z.strictObject({ ...training, seqLen: positiveInt }).partial(),
    rankings: z.strictObject({ samples: z.number().int().min(2), temperature: positive, maxNewTokens: positiveInt }).partial(),
    reward: z.strictObject({ ...training, evalFraction: z.number().gt(0).lt(1) }).partial(),
    ppo: z
      .strictObject({
        ...training,
        responseLength: positiveInt,
        temperature: positive,
        klCoef: z.number().nonnegative(),
        ppoEpochs: positiveInt,
        miniBatches: positiveInt,
        missingEosPenalty: z.number().nullable(),
      })
      .partial(),
    eval: z.strictObject({ temperature: z.number().nonnegative(), maxNewTokens: positiveInt, batchSize: positiveInt }).partial(),
  })
  .partial();

/** The preset with a --config file's settings over it, section by section. */
export function pipelineSettings(presetName: PipelinePresetName, overrides: unknown, source: string): PipelineSettings {
  const parsed = settingsSchema.safeParse(overrides);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${source}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  const settings = structuredClone(PIPELINE_PRESETS[presetName]) as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(parsed.data)) {
    settings[key] = typeof value === 'object' && value !== null ? { ...(settings[key] as object), ...value } : value;
  }
  return settings as unknown as PipelineSettings;
}

/**
 * The model the settings describe, after checking that every stage can run
 * with them: a valid shape, sequences and responses that fit its context,
 * PPO minibatches that split its batch.
 */
export function checkPipelineSettings(s: PipelineSettings, source: string): GPTConfig {
  let config: GPTConfig;
  try {
    config = validateConfig({ ...preset(s.model), ...s.modelOverrides, vocabSize: BYTES_VOCAB });
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  const context = config.nPositions;
  const problems: string[] = [];
  for (const stage of ['pretrain', 'sft'] as const) {
    if (s[stage].seqLen > context) problems.push(`${stage}.seqLen ${s[stage].seqLen} is longer than the model's context of ${context} positions`);
  }
  for (const [key, n] of [['rankings.maxNewTokens', s.rankings.maxNewTokens], ['ppo.responseLength', s.ppo.responseLength], ['eval.maxNewTokens', s.eval.maxNewTokens]] as const) {
    if (n >= context) problems.push(`${key} ${n} leaves no room for a prompt in the model's context of ${context} positions`);
  }
  if (s.ppo.batchSize % s.ppo.miniBatches !== 0) problems.push(`ppo.miniBatches ${s.ppo.miniBatches} must divide ppo.batchSize ${s.ppo.batchSize}`);
  if (problems.length > 0) throw new Error(`${source}: ${problems.join('; ')}`);
  return config;
}

const timestamp = () => new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);

/** Stage names as directories; the rankings and the datasets go to data/. */
const STAGE_DIRS: Partial<Record<PipelineStage, string>> = { pretrain: 'pretrain', sft: 'sft', reward: 'reward', ppo: 'ppo', eval: 'eval' };

export function registerPipeline(program: Command): void {
  const cmd = program
    .command('pipeline')
    .description(
      'the whole RLHF run on the built-in task: pretrain → SFT → K samples per prompt ranked by the gold labeler → reward model → PPO → ' +
        'PPO vs SFT under the reward model and the gold labeler; writes every stage, summary.json and report.html into --out',
    )
    .option('--out <dir>', 'run directory (default: runs/pipeline-<date>-<time>)')
    .addOption(new Option('--preset <name>', 'cpu: a tiny model, minutes on a CPU adapter; gpu: a larger model trained longer').choices(Object.keys(PIPELINE_PRESETS)).default('cpu'))
    .option('--seed <n>', 'seed of the task data, initialisation and sampling (default: the preset\'s)', number)
    .option('--config <file>', 'JSON overriding any of the preset\'s settings, e.g. {"ppo": {"steps": 60}} (pipeline_config.json in a run shows them all)');
  cmd.action(async () => {
    const o = cmd.opts<{ out?: string; preset: PipelinePresetName; seed?: number; config?: string }>();
    const out = o.out ?? join('runs', `pipeline-${timestamp()}`);
    let overrides: unknown = {};
    if (o.config) {
      try {
        overrides = JSON.parse(readFileSync(o.config, 'utf8'));
      } catch (e) {
        throw new Error(`--config ${o.config}: ${(e as Error).message}`);
      }
    }
    const settings = pipelineSettings(o.preset, overrides, o.config ?? 'settings');
    if (o.seed !== undefined) settings.seed = o.seed;
    if (existsSync(out) && readdirSync(out).length > 0) throw new Error(`${out} is not empty; choose another --out`);
    // Settings no stage can run stop here, before anything is written (a later stage's failure would leave the earlier ones in --out).
    const config = checkPipelineSettings(settings, o.config ?? `--preset ${o.preset}`);
    await withCommandRun(
      {
        prefix: 'pipeline',
        setUp: (gpu) => {
          // The longest sequence any stage runs is the model's context.
          planBatch(gpu, config, 1, config.nPositions);
          mkdirSync(join(out, 'data'), { recursive: true });
          writeFileAtomic(join(out, 'pipeline_config.json'), `${JSON.stringify({ preset: o.preset, ...settings }, null, 2)}\n`);
          console.log(`pipeline: preset ${o.preset}, seed ${settings.seed}, writing ${out}`);
        },
      },
      async ({ gpu, shouldStop, progress: startProgress }) => {
        const metrics: MetricsByStage = {};
        let progress: Progress | null = null;
        const began = performance.now();
        try {
          const summary = await runPipeline(gpu, settings, {
            onDataset: (name, contents) => writeFileAtomic(join(out, 'data', name), contents),
            onStageStart: (stage, steps, report) => {
              const dir = STAGE_DIRS[stage];
              if (dir) mkdirSync(join(out, dir), { recursive: true });
              console.log(`\n== ${stage}`);
              for (const line of report) console.log(`${stage}: ${line}`);
              progress = startProgress(stage, steps);
            },
            onStep: (_stage, step, m) =>
              progress?.update(step, { loss: m.loss ?? m['objective/scores'], tokensPerSecond: m.tokens_per_second }),
            onMetrics: (stage, record) => {
              (metrics[stage] ??= []).push(record);
              const dir = STAGE_DIRS[stage];
              if (dir) appendMetrics(join(out, dir), { stage, ...record });
              const shown = stage === 'ppo' ? { scores: record['objective/scores']!, kl: record['objective/kl']! } : { ...record, step: undefined, lr: undefined };
              progress?.log(record.step, Object.fromEntries(Object.entries(shown).filter(([, v]) => v !== undefined)) as Record<string, number>);
            },
            onStageEnd: (stage, stageSummary, weights) => {
              progress?.stop();
              progress = null;
              const dir = STAGE_DIRS[stage];
              if (weights && dir) saveCheckpoint(join(out, dir), { ...weights, tokenizer: 'bytes' }); // the built-in task's tokenizer
              const figures = Object.entries(stageSummary).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`);
              console.log(`${stage}: done; ${figures.join(', ')}`);
            },
            shouldStop,
          });
          writeFileAtomic(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
          writeFileAtomic(join(out, 'report.html'), renderReport(summary, metrics, `webgpu-rlhf pipeline (${o.preset}, seed ${settings.seed})`));
          printSummary(summary, out, (performance.now() - began) / 1000);
        } catch (e) {
          if (e instanceof PipelineStopped) {
            console.log(`\npipeline: ${e.message}; the stages before it are saved in ${out}`);
            process.exitCode = 130;
            return;
          }
          throw e;
        }
      },
    );
  });
}

function printSummary(summary: PipelineSummary, out: string, seconds: number): void {
  const table = (rows: string[][]) => formatTable(rows, 2, 'text').join('\n');
  console.log(`\n== summary (${seconds.toFixed(0)} s in all, adapter ${summary.adapter})\n`);
  console.log(table([['stage', 'time', 'final'], ...stageRows(summary)]));
  console.log();
  console.log(table(resultRows(summary)));
  console.log('\nheld-out samples (gold score in brackets):');
  for (const x of summary.samples) {
    console.log(`  ${JSON.stringify(x.prompt.replace(/^User: |\nAssistant:$/g, ''))}`);
    console.log(`    SFT: ${JSON.stringify(x.baseline)} (${x.baseline_gold?.toFixed(2)})`);
    console.log(`    PPO: ${JSON.stringify(x.policy)} (${x.policy_gold?.toFixed(2)})`);
  }
  console.log(`\nwrote ${out}: data/ (every dataset), ${PIPELINE_STAGES.filter((s) => STAGE_DIRS[s]).join('/, ')}/, summary.json, report.html`);
}
