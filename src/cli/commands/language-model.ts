/**
 * `pretrain` and `sft`: the language-modelling stages on files, writing a run
 * directory (DESIGN.md §5).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { requestGpu } from '../../gpu/device.ts';
import type { OptimizerState } from '../../io/checkpoint.ts';
import { preset, type GPTConfig } from '../../model/config.ts';
import { initParameters } from '../../model/params.ts';
import { runLanguageModel, type StageData } from '../../stages/language-model.ts';
import { buildPretrainData } from '../../stages/pretrain.ts';
import { buildSftData } from '../../stages/sft.ts';
import { createTokenizer, type Tokenizer } from '../../tokenizer/index.ts';
import { NonFiniteLossError } from '../../train/loop.ts';
import { addTrainingOptions, resolveOptions, trainingOptionsSchema, type TrainingOptions } from '../options.ts';
import { Progress } from '../progress.ts';
import {
  appendMetrics,
  loadModel,
  loadResumeState,
  RUN_CONFIG_FILE,
  saveCheckpoint,
  truncateMetrics,
  writeFileAtomic,
} from '../run-dir.ts';

const sftSchema = trainingOptionsSchema.extend({
  packing: z.boolean(),
  maskPrompt: z.boolean(),
});

export function registerLanguageModelCommands(program: Command): void {
  const pretrain = addTrainingOptions(
    program.command('pretrain').description('next-token pretraining on a plain UTF-8 text file (--data FILE.txt)'),
    { out: 'runs/pretrain', steps: 200, lr: 1e-3 },
  );
  pretrain.action(async () => {
    const opts = resolveOptions(pretrain, trainingOptionsSchema);
    await runStage('pretrain', opts, (tokenizer) =>
      buildPretrainData({
        ...opts,
        tokenizer,
        text: readText(opts.data),
        source: opts.data,
        evalText: opts.evalData ? readText(opts.evalData) : undefined,
        evalSource: opts.evalData,
      }),
    );
  });

  const sft = addTrainingOptions(
    program
      .command('sft')
      .description('supervised fine-tuning on JSONL demonstrations: {"prompt","completion"}, {"messages":[…]} or {"text"}'),
    { out: 'runs/sft', steps: 200, lr: 3e-4 },
  )
    .option('--packing', 'pack several examples into each sequence instead of padding each to --seq-len', false)
    .addOption(new Option('--no-mask-prompt', 'also train on prompt (non-assistant) tokens'));
  sft.action(async () => {
    const opts = resolveOptions(sft, sftSchema);
    await runStage('sft', opts, (tokenizer) =>
      buildSftData({
        ...opts,
        tokenizer,
        text: readText(opts.data),
        source: opts.data,
        evalText: opts.evalData ? readText(opts.evalData) : undefined,
        evalSource: opts.evalData,
      }),
    );
  });
}

function readText(path: string): string {
  if (!existsSync(path)) throw new Error(`${path}: no such file`);
  return readFileSync(path, 'utf8');
}

async function runStage(stage: string, opts: TrainingOptions, buildData: (t: Tokenizer) => StageData): Promise<void> {
  const out = opts.out;
  const resume = opts.resume ? loadResumeState(out) : null;
  if (opts.resume && !resume) throw new Error(`${out}: nothing to resume (no trainer_state.json)`);
  if (!opts.resume && existsSync(join(out, 'trainer_state.json'))) {
    throw new Error(`${out} already holds a run; pass --resume to continue it, or choose another --out`);
  }
  const tokenizer = createTokenizer(opts.tokenizer);

  // Weights: the run being resumed, --init, or a fresh preset.
  let config: GPTConfig;
  let params: Map<string, Float32Array>;
  let source: string;
  if (resume) {
    ({ config, params } = loadModel(out));
    source = `resumed at step ${resume.trainer.step}`;
  } else if (opts.init) {
    ({ config, params } = loadModel(opts.init));
    source = `from ${opts.init}`;
  } else {
    config = { ...preset(opts.model), vocabSize: tokenizer.vocabSize };
    params = initParameters(config, opts.seed);
    source = `preset ${opts.model}, seed ${opts.seed}`;
  }
  if (config.vocabSize < tokenizer.vocabSize) {
    throw new Error(`the model's vocabulary (${config.vocabSize}) is smaller than the ${tokenizer.name} tokenizer's (${tokenizer.vocabSize})`);
  }
  const data = buildData(tokenizer);

  mkdirSync(out, { recursive: true });
  const runConfig = { stage, ...opts, resume: undefined };
  writeFileAtomic(join(out, RUN_CONFIG_FILE), `${JSON.stringify(runConfig, null, 2)}\n`);
  if (resume) truncateMetrics(out, resume.trainer.step);

  const gpu = await requestGpu();
  console.log(`${stage}: adapter ${gpu.name}`);
  console.log(`${stage}: model L=${config.nLayer} C=${config.nEmbd} NH=${config.nHead} V=${config.vocabSize} (${source})`);
  for (const line of data.report) console.log(`${stage}: ${line}`);

  let stopRequested = false;
  const onSignal = () => {
    stopRequested = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = new Progress(stage, opts.steps, resume?.trainer.step ?? 0);
  try {
    const result = await runLanguageModel(
      {
        gpu,
        config,
        params,
        optimizerState: resume?.optimizer,
        batchSize: opts.batchSize,
        gradAccum: opts.gradAccum,
        seqLen: opts.seqLen,
        steps: opts.steps,
        optimizer: {
          lr: opts.lr,
          beta1: opts.beta1,
          beta2: opts.beta2,
          eps: opts.eps,
          weightDecay: opts.weightDecay,
          gradClip: opts.gradClip,
        },
        schedule: opts.lrSchedule,
        warmup: opts.warmup,
        logEvery: opts.logEvery,
        evalEvery: opts.evalEvery,
        saveEvery: opts.saveEvery,
        batch: data.batch,
        evalBatches: data.evalBatches,
      },
      {
        onStep: (m) => progress.update(m.step, { loss: m.loss, tokensPerSecond: m.tokens_per_second }),
        onLog: (m) => {
          appendMetrics(out, { stage, ...m });
          progress.log(m.step, { loss: m.loss, lr: m.lr, grad_norm: m.grad_norm, tokens_per_second: Math.round(m.tokens_per_second) });
        },
        onEval: (step, m) => {
          appendMetrics(out, { stage, step, ...m });
          progress.note(`${stage}: step ${step} eval_loss ${m.eval_loss.toFixed(4)}`);
        },
        save: (step, weights, optimizer: OptimizerState) =>
          saveCheckpoint(out, { config, params: weights, optimizer, trainerState: { step, stage, config: runConfig } }),
        shouldStop: () => stopRequested,
      },
    );
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
