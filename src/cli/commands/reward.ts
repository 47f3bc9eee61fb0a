/** `webgpu-rlhf reward`: train a reward model on preference comparisons. */
import type { Command } from 'commander';
import { z } from 'zod';
import { checkRankingSheet } from '../../data/ranking-sheet.ts';
import { buildRewardData, runRewardModel } from '../../stages/reward.ts';
import { addTrainingOptions, number, resolveOptions, stageCadence, trainingOptionsSchema } from '../options.ts';
import { readDataFiles, readInputFile } from '../run-dir.ts';
import { runTrainingCommand } from '../training-run.ts';

const schema = trainingOptionsSchema.extend({ centerRewards: z.number().nonnegative(), sampled: z.string().min(1).optional() });

export function registerReward(program: Command): void {
  const cmd = addTrainingOptions(
    program
      .command('reward')
      .description(
        'train a reward model (GPT-2 + scalar head) on comparisons: JSONL {"prompt","chosen","rejected"[,"margin"]} or ' +
          '{"prompt","ranking":[best, …, worst]}; --init an SFT run, or an earlier reward model to continue it',
      ),
    { out: 'runs/reward', steps: 200, lr: 3e-4 },
  )
    .option('--center-rewards <x>', 'add x · mean squared reward to the loss (keeps rewards near 0; 0 = off)', number, 0)
    .option(
      '--sampled <sheet>',
      'the sheet `sample` wrote, which --data ranks: each line of --data must rank every response of the sheet\'s line at its position, ' +
        'same prompt, none left out or added (checked before training)',
    );
  cmd.action(async () => {
    const opts = resolveOptions(cmd, schema);
    await runTrainingCommand('reward', opts, (tokenizer, weights, resume) => {
      const files = readDataFiles(opts);
      if (opts.sampled) checkRankingSheet(files.text, files.source, readInputFile(opts.sampled), opts.sampled);
      const data = buildRewardData({ ...opts, tokenizer, ...files });
      if (weights.head) data.report.push(`continuing the reward head of the starting checkpoint`);
      return {
        report: data.report,
        run: (gpu, hooks) =>
          runRewardModel(
            {
              gpu,
              ...weights,
              optimizerState: resume?.optimizer,
              batchSize: opts.batchSize,
              seqLen: opts.seqLen,
              ...stageCadence(opts),
              center: opts.centerRewards,
              seed: opts.seed,
              data,
            },
            hooks,
          ),
      };
    });
  });
}
