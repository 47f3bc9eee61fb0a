/** `webgpu-rlhf reward`: train a reward model on preference comparisons. */
import type { Command } from 'commander';
import { z } from 'zod';
import { checkRankingSheet } from '../../data/ranking-sheet.ts';
import * as rewardStage from '../../stages/reward.ts';
import { addSchemaOptions, addTrainingOptions, resolveOptions, trainingOptionsSchema } from '../options.ts';
import { readDataFiles, readInputFile } from '../run-dir.ts';
import { runTrainingCommand } from '../training-run.ts';

const rewardOptions = rewardStage.schema.pick({ centerRewards: true });
const schema = trainingOptionsSchema.extend({ ...rewardOptions.shape, sampled: z.string().min(1).optional() });

export function registerReward(program: Command): void {
  const cmd = addSchemaOptions(
    addTrainingOptions(
      program
        .command('reward')
        .description(
          'train a reward model (GPT-2 + scalar head) on comparisons: JSONL {"prompt","chosen","rejected"[,"margin"]} or ' +
            '{"prompt","ranking":[best, …, worst]}; --init an SFT run, or an earlier reward model to continue it',
        ),
      { ...rewardStage.defaults, out: 'runs/reward' },
    ),
    rewardOptions,
    rewardStage.defaults,
  ).option(
    '--sampled <sheet>',
    'the sheet `sample` wrote, which --data ranks: each line of --data must rank every response of the sheet\'s line at its position, ' +
      'same prompt, none left out or added (checked before training)',
  );
  cmd.action(async () => {
    const opts = resolveOptions(cmd, schema);
    await runTrainingCommand('reward', opts, (tokenizer, weights, resume) => {
      const files = readDataFiles(opts);
      if (opts.sampled) checkRankingSheet(files.text, files.source, readInputFile(opts.sampled), opts.sampled);
      const data = rewardStage.buildRewardData({ ...opts, tokenizer, ...files });
      if (weights.head) data.report.push(`continuing the reward head of the starting checkpoint`);
      return {
        report: data.report,
        run: (gpu, hooks) => rewardStage.run(gpu, weights, opts, { data, optimizerState: resume?.optimizer }, hooks),
      };
    });
  });
}
