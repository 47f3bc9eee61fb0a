/**
 * What every training command does around its stage: refuse to overwrite a
 * run, load the weights to start from (the run being resumed, --init, or a
 * fresh preset), write the merged config, show progress, log metrics, save
 * checkpoints, and stop cleanly on Ctrl-C.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { requestCommandGpu } from './autotune-cache.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { OptimizerState } from '../io/checkpoint.ts';
import { preset, type GPTConfig } from '../model/config.ts';
import { initParameters } from '../model/params.ts';
import { createTokenizer, type Tokenizer } from '../tokenizer/index.ts';
import { NonFiniteLossError, type StepMetrics, type TrainLoopResult } from '../train/loop.ts';
import type { TrainingOptions } from './options.ts';
import { Progress } from './progress.ts';
import { appendMetrics, loadModel, loadResumeState, RUN_CONFIG_FILE, saveCheckpoint, truncateMetrics, writeFileAtomic, type ResumeState } from './run-dir.ts';

export interface StartingWeights {
  config: GPTConfig;
  params: Map<string, Float32Array>;
  /** non-GPT-2 tensors of the checkpoint (a reward head) */
  extra: Map<string, Float32Array>;
  resume: ResumeState | null;
}

export interface StageHooks {
  onStep(m: StepMetrics): void;
  onLog(m: StepMetrics): void;
  onEval(step: number, metrics: Record<string, number>): void;
  save(step: number, params: Map<string, Float32Array>, optimizer: OptimizerState): void;
  shouldStop(): boolean;
}

export interface PreparedStage {
  /** lines to print before training */
  report: string[];
  run(gpu: Gpu, hooks: StageHooks): Promise<TrainLoopResult>;
  /** tensors saved beside the GPT-2 ones, with their shapes (taken out of `params` on save) */
  extraTensorShapes?: Record<string, number[]>;
  /** keys added to config.json */
  extraConfig?: Record<string, unknown>;
}

export async function runTrainingCommand(
  stage: string,
  opts: TrainingOptions,
  prepare: (tokenizer: Tokenizer, weights: StartingWeights) => PreparedStage,
): Promise<void> {
  const out = opts.out;
  const resume = opts.resume ? loadResumeState(out) : null;
  if (opts.resume && !resume) throw new Error(`${out}: nothing to resume (no trainer_state.json)`);
  if (!opts.resume && existsSync(join(out, 'trainer_state.json'))) {
    throw new Error(`${out} already holds a run; pass --resume to continue it, or choose another --out`);
  }
  const tokenizer = createTokenizer(opts.tokenizer);

  let weights: StartingWeights;
  let source: string;
  if (resume) {
    weights = { ...loadModel(out), resume };
    source = `resumed at step ${resume.trainer.step}`;
  } else if (opts.init) {
    weights = { ...loadModel(opts.init), resume: null };
    source = `from ${opts.init}`;
  } else {
    const config = { ...preset(opts.model), vocabSize: tokenizer.vocabSize };
    weights = { config, params: initParameters(config, opts.seed), extra: new Map(), resume: null };
    source = `preset ${opts.model}, seed ${opts.seed}`;
  }
  const { config } = weights;
  if (config.vocabSize < tokenizer.vocabSize) {
    throw new Error(`the model's vocabulary (${config.vocabSize}) is smaller than the ${tokenizer.name} tokenizer's (${tokenizer.vocabSize})`);
  }
  // Data problems surface here, before a GPU is touched or a file written.
  const prepared = prepare(tokenizer, weights);

  mkdirSync(out, { recursive: true });
  const runConfig = { stage, ...opts, resume: undefined };
  writeFileAtomic(join(out, RUN_CONFIG_FILE), `${JSON.stringify(runConfig, null, 2)}\n`);
  if (resume) truncateMetrics(out, resume.trainer.step);

  const gpu = await requestCommandGpu((line) => console.log(`${stage}: ${line}`));
  console.log(`${stage}: model L=${config.nLayer} C=${config.nEmbd} NH=${config.nHead} V=${config.vocabSize} (${source})`);
  for (const line of prepared.report) console.log(`${stage}: ${line}`);

  let stopRequested = false;
  const onSignal = () => {
    stopRequested = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = new Progress(stage, opts.steps, resume?.trainer.step ?? 0);
  const shapes = prepared.extraTensorShapes ?? {};
  try {
    const result = await prepared.run(gpu, {
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
      save: (step, params, optimizer) => {
        const trunk = new Map(params);
        const extraTensors = new Map<string, { shape: number[]; data: Float32Array }>();
        for (const [name, shape] of Object.entries(shapes)) {
          extraTensors.set(name, { shape, data: trunk.get(name)! });
          trunk.delete(name);
        }
        saveCheckpoint(out, {
          config,
          params: trunk,
          extraConfig: prepared.extraConfig,
          extraTensors,
          optimizer,
          trainerState: { step, stage, config: runConfig },
        });
      },
      shouldStop: () => stopRequested,
    });
    progress.stop();
    if (result.stopped) {
      console.log(`${stage}: stopped at step ${result.step}; checkpoint saved in ${out} (continue with --resume)`);
      process.exitCode = 130;
    } else {
      console.log(`${stage}: done, ${result.step} steps, final loss ${result.lastLoss.toFixed(4)}; wrote ${out}`);
    }
  } catch (e) {
    progress.stop();
    if (e instanceof NonFiniteLossError) throw new Error(`${stage}: ${e.message}`);
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    gpu.destroy();
  }
}
