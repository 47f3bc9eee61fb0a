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
  pipelineSettingsSchema,
  PipelineStopped,
  runPipeline,
  type PipelinePresetName,
  type PipelineSettings,
  type PipelineStage,
  type PipelineSummary,
} from '../../stages/pipeline.ts';
import { number } from '../options.ts';
import { Progress } from '../progress.ts';
import { renderReport, resultRows, roundRows, stageRows, type MetricsByStage } from '../report.ts';
import { appendMetrics, saveCheckpoint, writeFileAtomic } from '../run-dir.ts';
import { formatTable } from '../text-table.ts';

/** What --config may override: any part of the preset's settings, section by section, nothing else. */
const overridesSchema = z
  .strictObject(
    Object.fromEntries(
      Object.entries(pipelineSettingsSchema.shape).map(([key, setting]) => [key, setting instanceof z.ZodObject ? setting.partial() : setting]),
    ) as Record<string, z.ZodType>,
  )
  .partial();

/** The preset with a --config file's settings over it, section by section. */
export function pipelineSettings(presetName: PipelinePresetName, overrides: unknown, source: string): PipelineSettings {
  const parsed = overridesSchema.safeParse(overrides);
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

/**
 * Where a stage's checkpoint and metrics go: pretrain/, sft/, and the last
 * round's reward/ and ppo/ (the models a user continues from); earlier rounds'
 * under round-N/. Rankings and datasets go to data/; evaluations only to the summary.
 */
function stageDir(stage: PipelineStage, round: number, rounds: number): string | null {
  if (stage === 'rankings' || stage === 'eval') return null;
  return round === 0 || round === rounds ? stage : join(`round-${round}`, stage);
}

export function registerPipeline(program: Command): void {
  const cmd = program
    .command('pipeline')
    .description(
      'the whole RLHF run on the built-in task: pretrain → SFT → rounds of (K samples per fresh prompt from the current policy, ranked by the gold labeler → ' +
        'the reward model refitted on every ranking so far → PPO) → the final policy vs SFT under the reward model and the gold labeler; ' +
        'writes every stage, summary.json and report.html into --out',
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
            onStageStart: (stage, round, steps, report) => {
              const dir = stageDir(stage, round, settings.rounds);
              if (dir) mkdirSync(join(out, dir), { recursive: true });
              const name = round > 0 ? `${stage} (round ${round} of ${settings.rounds})` : stage;
              console.log(`\n== ${name}`);
              for (const line of report) console.log(`${stage}: ${line}`);
              progress = startProgress(round > 0 ? `${stage} ${round}` : stage, steps);
            },
            onStep: (_stage, _round, step, m) =>
              progress?.update(step, { loss: m.loss ?? m['objective/scores'], tokensPerSecond: m.tokens_per_second }),
            onMetrics: (stage, round, record) => {
              (metrics[stage] ??= []).push({ ...record, round });
              const dir = stageDir(stage, round, settings.rounds);
              if (dir) appendMetrics(join(out, dir), { stage, ...(round > 0 ? { round } : {}), ...record });
              const shown =
                stage === 'ppo'
                  ? record['eval/gold_score'] !== undefined
                    ? { 'eval/rm_score': record['eval/rm_score']!, 'eval/gold_score': record['eval/gold_score']!, 'eval/kl': record['eval/kl']! }
                    : { scores: record['objective/scores']!, kl: record['objective/kl']!, beta: record['objective/kl_coef']! }
                  : { ...record, step: undefined, lr: undefined };
              progress?.log(record.step, Object.fromEntries(Object.entries(shown).filter(([, v]) => v !== undefined)) as Record<string, number>);
            },
            onStageEnd: (stage, round, stageSummary, weights) => {
              progress?.stop();
              progress = null;
              const dir = stageDir(stage, round, settings.rounds);
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
  console.log(table(roundRows(summary)));
  console.log();
  console.log(table(resultRows(summary)));
  console.log('\nheld-out samples (gold score in brackets):');
  for (const x of summary.samples) {
    console.log(`  ${JSON.stringify(x.prompt.replace(/^User: |\nAssistant:$/g, ''))}`);
    console.log(`    SFT: ${JSON.stringify(x.baseline)} (${x.baseline_gold?.toFixed(2)})`);
    console.log(`    PPO: ${JSON.stringify(x.policy)} (${x.policy_gold?.toFixed(2)})`);
  }
  const earlier = summary.rounds.length > 1 ? `, round-1/${summary.rounds.length > 2 ? ` … round-${summary.rounds.length - 1}/` : ''} (earlier rounds' reward/ and ppo/)` : '';
  console.log(`\nwrote ${out}: data/ (every dataset), pretrain/, sft/, reward/ and ppo/ (the last round's)${earlier}, summary.json, report.html`);
}
