/** `webgpu-rlhf reward`: train a reward model on preference comparisons. */
import type { Command } from 'commander';
import { z } from 'zod';
import { buildRewardData, runRewardModel } from '../../stages/reward.ts';
import { addTrainingOptions, number, optimizerConfig, resolveOptions, trainingOptionsSchema } from '../options.ts';
import { readDataFiles } from '../run-dir.ts';
import { runTrainingCommand } from '../training-run.ts';

const schema = trainingOptionsSchema.extend({ centerRewards: z.number().nonnegative() });


export function registerReward(program: Command): void {
  const cmd = addTrainingOptions(
    program
      .command('reward')
      .description(
        'train a reward model (GPT-2 + scalar head) on comparisons: JSONL {"prompt","chosen","rejected"[,"margin"]} or ' +
          '{"prompt","ranking":[best, …, worst]}; --init an SFT run, or an earlier reward model to continue it',
      ),
    { out: 'runs/reward', steps: 200, lr: 3e-4 },
  ).option('--center-rewards <x>', 'add x · mean squared reward to the loss (keeps rewards near 0; 0 = off)', number, 0);
  cmd.action(async () => {
    const opts = resolveOptions(cmd, schema);
    await runTrainingCommand('reward', opts, (tokenizer, weights, resume) => {
      const data = buildRewardData({
        ...opts,
        tokenizer,
        ...readDataFiles(opts),
      });
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
              steps: opts.steps,
              optimizer: optimizerConfig(opts),
              schedule: opts.lrSchedule,
              warmup: opts.warmup,
              logEvery: opts.logEvery,
              evalEvery: opts.evalEvery,
              saveEvery: opts.saveEvery,
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
