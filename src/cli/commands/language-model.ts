/**
 * `pretrain` and `sft`: the language-modelling stages on files, writing a run
 * directory (DESIGN.md §5). Their flags come from the stages' schemas and
 * defaults (src/stages/pretrain.ts, sft.ts).
 */
import type { Command } from 'commander';
import type { StageData } from '../../stages/language-model.ts';
import * as pretrainStage from '../../stages/pretrain.ts';
import * as sftStage from '../../stages/sft.ts';
import type { Tokenizer } from '../../tokenizer/index.ts';
import { addSchemaOptions, addTrainingOptions, resolveOptions, trainingOptionsSchema, type TrainingOptions } from '../options.ts';
import { readDataFiles } from '../run-dir.ts';
import { runTrainingCommand } from '../training-run.ts';

const sftOptions = sftStage.schema.pick({ packing: true, maskPrompt: true });
const sftSchema = trainingOptionsSchema.extend(sftOptions.shape);

export function registerLanguageModelCommands(program: Command): void {
  const pretrain = addTrainingOptions(
    program.command('pretrain').description('next-token pretraining on a plain UTF-8 text file (--data FILE.txt)'),
    { ...pretrainStage.defaults, out: 'runs/pretrain' },
  );
  pretrain.action(async () => {
    const opts = resolveOptions(pretrain, trainingOptionsSchema);
    await runStage('pretrain', opts, (tokenizer) => pretrainStage.buildPretrainData({ ...opts, tokenizer, ...readDataFiles(opts) }));
  });

  const sft = addSchemaOptions(
    addTrainingOptions(
      program
        .command('sft')
        .description('supervised fine-tuning on JSONL demonstrations: {"prompt","completion"}, {"messages":[…]} or {"text"}'),
      { ...sftStage.defaults, out: 'runs/sft' },
    ),
    sftOptions,
    sftStage.defaults,
    { packing: 'pack several examples into each sequence instead of padding each to --seq-len', maskPrompt: 'also train on prompt (non-assistant) tokens' },
  );
  sft.action(async () => {
    const opts = resolveOptions(sft, sftSchema);
    await runStage('sft', opts, (tokenizer) => sftStage.buildSftData({ ...opts, tokenizer, ...readDataFiles(opts) }));
  });
}

async function runStage(stage: string, opts: TrainingOptions, buildData: (t: Tokenizer) => StageData): Promise<void> {
  await runTrainingCommand(stage, opts, (tokenizer, weights, resume) => {
    const data = buildData(tokenizer);
    return {
      report: data.report,
      // pretrain.run and sft.run are the same language-model run; the data makes the difference.
      run: (gpu, hooks) => pretrainStage.run(gpu, weights, opts, { data, optimizerState: resume?.optimizer }, hooks),
    };
  });
}
