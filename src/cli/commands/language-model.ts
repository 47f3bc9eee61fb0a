/**
 * `pretrain` and `sft`: the language-modelling stages on files, writing a run
 * directory (DESIGN.md §5).
 */
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { runLanguageModel, type StageData } from '../../stages/language-model.ts';
import { buildPretrainData } from '../../stages/pretrain.ts';
import { buildSftData } from '../../stages/sft.ts';
import type { Tokenizer } from '../../tokenizer/index.ts';
import { addTrainingOptions, resolveOptions, stageCadence, trainingOptionsSchema, type TrainingOptions } from '../options.ts';
import { readDataFiles } from '../run-dir.ts';
import { runTrainingCommand } from '../training-run.ts';

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
        ...readDataFiles(opts),
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
        ...readDataFiles(opts),
      }),
    );
  });
}


async function runStage(stage: string, opts: TrainingOptions, buildData: (t: Tokenizer) => StageData): Promise<void> {
  await runTrainingCommand(stage, opts, (tokenizer, weights, resume) => {
    const data = buildData(tokenizer);
    return {
      report: data.report,
      run: (gpu, hooks) =>
        runLanguageModel(
          {
            gpu,
            config: weights.config,
            params: weights.params,
            optimizerState: resume?.optimizer,
            batchSize: opts.batchSize,
            gradAccum: opts.gradAccum,
            seqLen: opts.seqLen,
            ...stageCadence(opts),
            batch: data.batch,
            evalBatches: data.evalBatches,
          },
          hooks,
        ),
    };
  });
}
