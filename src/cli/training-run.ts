/**
 * What every training command does around its stage: refuse to overwrite a
 * run, load the weights to start from (the run being resumed, --init, or a
 * fresh preset), write the merged config, show progress, log metrics, save
 * checkpoints, and stop cleanly on Ctrl-C.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import { withCommandRun } from './command-run.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { preset } from '../model/config.ts';
import { planBatch } from '../model/activations.ts';
import { initParameters } from '../model/params.ts';
import type { Weights } from '../model/weights.ts';
import { createTokenizer, type Tokenizer } from '../tokenizer/index.ts';
import { resolveTokenizer, resumedTokenizer } from './tokenizer-choice.ts';
import type { StageOutcome, TrainedStageHooks, TrainedSummary } from '../stages/stage.ts';
import { NonFiniteLossError } from '../train/loop.ts';
import { trainingOptionsSchema, type TrainingOptions } from './options.ts';
import {
  appendMetrics,
  checkNewRunDir,
  checkNotAnInput,
  loadModel,
  loadResumeState,
  RUN_CONFIG_FILE,
  saveCheckpoint,
  truncateMetrics,
  writeFileAtomic,
  type ResumeState,
} from './run-dir.ts';

export interface PreparedStage {
  /** lines to print before training */
  report: string[];
  /** the stage's run (stage.ts) on the prepared data */
  run(gpu: Gpu, hooks: Required<TrainedStageHooks>): Promise<StageOutcome<TrainedSummary>>;
}

export async function runTrainingCommand(
  stage: string,
  opts: TrainingOptions,
  /** `weights`: the run being resumed (`resume` its optimizer and trainer state), --init, or a fresh preset */
  prepare: (tokenizer: Tokenizer, weights: Weights, resume: ResumeState | null) => PreparedStage,
): Promise<void> {
  // Everything is checked before the first write: a refused or failed start
  // leaves --out as it was, so the same command can be run again.
  const out = opts.out;
  checkNotAnInput(out, [['--init', opts.init]]);
  let resume: ResumeState | null = null;
  if (opts.resume) {
    resume = loadResumeState(out);
    if (!resume) throw new Error(`${out}: nothing to resume (no trainer_state.json)`);
    // Without --tokenizer, the run's own (another is refused below as a changed setting).
    opts = { ...opts, tokenizer: opts.tokenizer ?? resumedTokenizer(out, resume.trainer.config) };
    checkResume(stage, opts as TrainingOptions & Record<string, unknown>, resume);
  } else {
    checkNewRunDir(out, [['--init', opts.init]], true);
  }

  // The tokenizer: --tokenizer, else the one the run or --init records (a
  // guess for a folder without a record), else bytes; its ids must fit the model.
  let tokenizer: Tokenizer;
  let weights: Weights;
  let source: string;
  if (resume) {
    weights = loadModel(out);
    source = `resumed at step ${resume.trainer.step}`;
    tokenizer = resolveTokenizer([{ flag: '--out', dir: out, config: weights.config }], opts.tokenizer);
  } else if (opts.init) {
    weights = loadModel(opts.init);
    source = `from ${opts.init}`;
    tokenizer = resolveTokenizer([{ flag: '--init', dir: opts.init, config: weights.config }], opts.tokenizer);
  } else {
    tokenizer = createTokenizer(opts.tokenizer ?? 'bytes');
    const config = { ...preset(opts.model), vocabSize: tokenizer.vocabSize };
    weights = { config, params: initParameters(config, opts.seed) };
    source = `preset ${opts.model}, seed ${opts.seed}`;
  }
  const { config } = weights;
  // run_config.json and trainer_state.json name the tokenizer used, chosen or not.
  opts = { ...opts, tokenizer: tokenizer.name };
  if (opts.seqLen > config.nPositions) {
    throw new Error(`--seq-len: ${opts.seqLen} is longer than the model's context of ${config.nPositions} positions (${source})`);
  }
  // Data problems surface here, before a GPU is touched or a file written.
  const prepared = prepare(tokenizer, weights, resume);

  const runConfig = { stage, ...opts, resume: undefined };
  await withCommandRun(
    {
      prefix: stage,
      setUp: (gpu) => {
        // What the device cannot hold (a sequence's activations, a weight matrix) stops here, before any file is written.
        planBatch(gpu, config, 1, opts.seqLen);
        mkdirSync(out, { recursive: true });
        writeFileAtomic(join(out, RUN_CONFIG_FILE), `${JSON.stringify(runConfig, null, 2)}\n`);
        if (resume) truncateMetrics(out, resume.trainer.step);
        console.log(`${stage}: model L=${config.nLayer} C=${config.nEmbd} NH=${config.nHead} V=${config.vocabSize} (${source})`);
        for (const line of prepared.report) console.log(`${stage}: ${line}`);
      },
    },
    async ({ gpu, shouldStop, progress: startProgress }) => {
      const progress = startProgress(stage, opts.steps, resume?.trainer.step ?? 0);
      try {
        const { summary: result } = await prepared.run(gpu, {
          onStep: (m) => progress.update(m.step, { loss: m.loss, tokensPerSecond: m.tokens_per_second }),
          onLog: (m) => {
            appendMetrics(out, { stage, ...m });
            const { step: _s, tokens_per_second: tps, ...rest } = m;
            progress.log(m.step, { ...rest, tokens_per_second: Math.round(tps) });
          },
          onEval: (step, m) => {
            appendMetrics(out, { stage, step, ...m });
            progress.note(`${stage}: step ${step} ${Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' ')}`);
          },
          save: (step, saved, optimizer) => {
            saveCheckpoint(out, {
              ...saved,
              tokenizer: tokenizer.name,
              optimizer,
              trainerState: { step, stage, config: runConfig },
            });
          },
          shouldStop,
        });
        progress.stop();
        if (result.stopped) {
          console.log(`${stage}: stopped at step ${result.steps}; checkpoint saved in ${out} (continue with --resume)`);
          process.exitCode = 130;
        } else {
          console.log(`${stage}: done, ${result.steps} steps, final loss ${result.loss.toFixed(4)}; wrote ${out}`);
        }
      } catch (e) {
        progress.stop();
        if (e instanceof NonFiniteLossError) throw new Error(`${stage}: ${e.message}`);
        throw e;
      }
    },
  );
}

/**
 * Options a resumed run may change: how long it runs, the optimizer's
 * hyperparameters and the loss's coefficients, and how often it logs,
 * evaluates and saves. Every other one (the model, tokenizer, data, batch
 * shape, seed, shuffling, held-out split, …) decides the weights' shapes or
 * the batches, and must stay as the run was started.
 */
const CHANGEABLE_ON_RESUME = new Set([
  'out',
  'resume',
  'steps',
  'lr',
  'lrSchedule',
  'warmup',
  'beta1',
  'beta2',
  'eps',
  'weightDecay',
  'gradClip',
  'logEvery',
  'evalEvery',
  'evalBatches',
  'saveEvery',
  'centerRewards',
  // A check of --data against its sheet, not a setting of the training.
  'sampled',
]);

const flagOf = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
const shown = (v: unknown) => (v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v));

const PATH_KEYS = new Set(['init', 'data', 'evalData', 'rewardModel', 'ptxData']);

function sameSetting(key: string, a: unknown, b: unknown): boolean {
  if (a === b) return true;
  // Paths typed differently (relative, absolute) may name the same file.
  if (PATH_KEYS.has(key) && typeof a === 'string' && typeof b === 'string') return resolve(a) === resolve(b);
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * A resume must continue the very run in --out: the same stage, the same
 * settings of shape and batches (naming each difference, old → new), and
 * more steps than it has done.
 */
export function checkResume(
  stage: string,
  opts: { out: string; steps: number } & Record<string, unknown>,
  resume: ResumeState,
  schema: z.ZodObject = trainingOptionsSchema,
): void {
  const out = opts.out;
  const { trainer } = resume;
  let started: Record<string, unknown> = {};
  const runConfigPath = join(out, RUN_CONFIG_FILE);
  if (existsSync(runConfigPath)) {
    try {
      started = JSON.parse(readFileSync(runConfigPath, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`${runConfigPath}: invalid JSON: ${(e as Error).message}`);
    }
  }
  const storedStage = trainer.stage ?? started.stage;
  if (storedStage !== stage) {
    throw new Error(`${out} holds a run of stage ${String(storedStage)}, not ${stage}; \`${stage} --resume\` cannot continue it (stage ${String(storedStage)} → ${stage}); choose another --out`);
  }
  // The settings saved with the checkpoint are those the weights were trained under.
  const stored = (typeof trainer.config === 'object' && trainer.config !== null ? trainer.config : started) as Record<string, unknown>;
  const optionalKeys = new Set(Object.entries(schema.shape).filter(([, s]) => (s as z.ZodType).safeParse(undefined).success).map(([k]) => k));
  const differences: string[] = [];
  for (const key of new Set([...Object.keys(stored), ...Object.keys(opts)])) {
    if (key === 'stage' || CHANGEABLE_ON_RESUME.has(key)) continue;
    // A key the stored config lacks was unset, when it is optional, or unknown to the version that wrote it.
    if (!(key in stored) && !optionalKeys.has(key)) continue;
    if (!sameSetting(key, stored[key], opts[key])) differences.push(`${flagOf(key)}: ${shown(stored[key])} → ${shown(opts[key])}`);
  }
  if (differences.length > 0) {
    throw new Error(
      `${out}: --resume continues the run with the settings it was started with, and these differ:\n` +
        differences.map((d) => `  ${d}\n`).join('') +
        'Resume with the original values, or start a new run in another --out.',
    );
  }
  if (opts.steps <= trainer.step) {
    throw new Error(`--steps ${opts.steps}: the run in ${out} has already done ${trainer.step} steps; pass a larger --steps to continue it`);
  }
}
