/**
 * `webgpu-rlhf eval --init DIR --data FILE`: the model's loss and perplexity
 * on a text file (every token), or on SFT JSONL (response tokens only).
 */
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { loadPrompts, loadSftExamples } from '../../data/formats.ts';
import { headFrom } from '../../io/checkpoint.ts';
import * as evaluateStage from '../../stages/evaluate.ts';
import { goldJudge, parseTaskPrompt } from '../../task/index.ts';
import { sftBatches, tokenizeSft } from '../../data/sft.ts';
import { noSftExamplesLeft } from '../../stages/sft.ts';
import { TextTokens } from '../../data/text.ts';
import { requestCommandGpu } from '../autotune-cache.ts';
import { GPT, type Batch } from '../../model/gpt.ts';
import { addSchemaOptions, number, resolveOptions } from '../options.ts';
import { Progress } from '../progress.ts';
import { loadModel, readInputFile } from '../run-dir.ts';
import { resolveTokenizer } from '../tokenizer-choice.ts';
import { terminalSafe } from '../terminal-text.ts';
import { formatTable } from '../text-table.ts';

/** The evaluation stage's sampling settings; its batchSize is the command's own --batch-size (also the loss's batches). */
const sampling = evaluateStage.schema.omit({ batchSize: true });

const schema = z.strictObject({
  init: z.string().min(1).optional(),
  policy: z.string().min(1).optional(),
  baseline: z.string().min(1).optional(),
  rewardModel: z.string().min(1).optional(),
  reference: z.string().min(1).optional(),
  samples: z.string().min(1).optional(),
  ...sampling.shape,
  data: z.string().min(1),
  tokenizer: z.enum(['bytes', 'gpt2']).optional(),
  batchSize: z.number().int().positive(),
  seqLen: z.number().int().positive(),
  json: z.boolean(),
});

export function registerEval(program: Command): void {
  const cmd = program
    .command('eval')
    .description(
      'with --init: loss and perplexity on a text file or SFT JSONL (responses only); with --policy: compare a policy with a ' +
        'baseline on JSONL prompts under a reward model (scores, win rate, KL to the reference, lengths, samples)',
    )
    .option('--config <file>', 'JSON file whose keys are any of these options')
    .option('--init <dir>', 'run directory or Hugging Face GPT-2 folder whose loss to measure')
    .option('--policy <dir>', 'the policy to evaluate (e.g. a PPO run)')
    .option('--baseline <dir>', 'the policy to compare with (e.g. the SFT run)')
    .option('--reward-model <dir>', 'the reward model that scores responses')
    .option('--reference <dir>', 'the KL reference (default: the baseline)')
    .option('--samples <file>', 'write every prompt with both responses and their scores here (JSONL)')
    .requiredOption('--data <file>', 'a .txt corpus or SFT .jsonl (--init), or prompts JSONL (--policy)')
    .addOption(new Option('--tokenizer <name>', 'tokenizer (default: the one the models record; for a folder without a record, a guess from its vocabulary)').choices(['bytes', 'gpt2']))
    .option('--batch-size <n>', 'sequences per batch', number, 8)
    .option('--seq-len <n>', 'tokens per sequence', number, 64)
    .option('--json', 'print the result as JSON', false);
  addSchemaOptions(cmd, sampling, evaluateStage.defaults);
  cmd.action(async () => {
    const o = resolveOptions(cmd, schema);
    if (o.policy) {
      await compare(o);
      return;
    }
    if (!o.init) throw new Error('give --init DIR to measure a loss, or --policy, --baseline and --reward-model to compare policies');
    const { config, params } = loadModel(o.init);
    const tokenizer = resolveTokenizer([{ flag: '--init', dir: o.init, config }], o.tokenizer);
    const text = readInputFile(o.data);
    const B = o.batchSize;
    const T = o.seqLen;
    let batches: Batch[];
    if (o.data.endsWith('.jsonl')) {
      const tokenized = tokenizeSft(loadSftExamples(text, o.data), tokenizer, { maxLength: T + 1 });
      const { sequences, truncated } = tokenized;
      if (sequences.length === 0) throw new Error(noSftExamplesLeft(o.data, tokenized, T, 'evaluate'));
      if (truncated > 0) console.error(`${o.data}: ${truncated} examples truncated to ${T + 1} tokens`);
      const batcher = sftBatches(sequences, B, T, tokenizer.eosId, { mode: 'pad', seed: 0, shuffle: false });
      batches = Array.from({ length: Math.ceil(batcher.rowsPerEpoch / B) }, (_, k) => batcher.batch(k));
      // The last batch wraps to the first examples; count them once.
      const extra = batches.length * B - batcher.rowsPerEpoch;
      if (extra > 0) batches.at(-1)!.weights!.fill(0, (B - extra) * T);
    } else {
      const corpus = new TextTokens(tokenizer.encode(text), o.data);
      corpus.batch(0, B, T);
      batches = Array.from({ length: Math.floor((corpus.length - 1) / (B * T)) }, (_, k) => corpus.batch(k, B, T));
    }

    const gpu = await requestCommandGpu((line) => console.error(`eval: ${line}`));
    const model = new GPT(gpu, config, B, T);
    model.setParameters(params);
    const progress = new Progress('eval', batches.length);
    let weighted = 0;
    let counted = 0;
    try {
      for (const [k, batch] of batches.entries()) {
        const n = batch.weights ? batch.weights.reduce((a, w) => a + (w > 0 ? 1 : 0), 0) : B * T;
        if (n === 0) continue;
        weighted += (await model.loss(batch)) * n;
        counted += n;
        progress.update(k + 1, {});
      }
    } finally {
      progress.stop();
      model.destroy();
      gpu.destroy();
    }
    const loss = weighted / counted;
    const result = { data: o.data, tokens: counted, loss, perplexity: Math.exp(loss) };
    if (o.json) console.log(JSON.stringify(result));
    else console.log(`${o.data}: loss ${loss.toFixed(4)}, perplexity ${result.perplexity.toFixed(2)} over ${counted} tokens`);
  });
}

async function compare(o: z.infer<typeof schema>): Promise<void> {
  if (!o.baseline || !o.rewardModel) throw new Error('--policy needs --baseline DIR and --reward-model DIR');
  const policy = loadModel(o.policy!);
  const baseline = loadModel(o.baseline);
  const reference = o.reference ? loadModel(o.reference) : baseline;
  const rm = loadModel(o.rewardModel);
  headFrom(rm, o.rewardModel, 'a reward model');
  // One tokenizer for all four models, before anything runs.
  const tokenizer = resolveTokenizer(
    [
      { flag: '--policy', dir: o.policy!, config: policy.config },
      { flag: '--baseline', dir: o.baseline, config: baseline.config },
      ...(o.reference ? [{ flag: '--reference', dir: o.reference, config: reference.config }] : []),
      { flag: '--reward-model', dir: o.rewardModel, config: rm.config },
    ],
    o.tokenizer,
  );
  const prompts = loadPrompts(readInputFile(o.data), o.data).map((p) => p.prompt);
  const gpu = await requestCommandGpu((line) => console.error(`eval: ${line}`));
  const progress = new Progress('eval', prompts.length);
  let report;
  try {
    ({ summary: report } = await evaluateStage.run(
      gpu,
      policy,
      { maxNewTokens: o.maxNewTokens, temperature: o.temperature, topK: o.topK, topP: o.topP, seed: o.seed, batchSize: o.batchSize },
      { baseline, reference, reward: rm, tokenizer, prompts, judge: builtinJudge(prompts) },
      { onProgress: (done) => progress.update(done, {}) },
    ));
  } finally {
    progress.stop();
    gpu.destroy();
  }
  if (o.samples) writeFileSync(o.samples, report.samples.map((s) => JSON.stringify(s)).join('\n') + '\n');
  const { samples, ...summary } = report;
  if (o.json) {
    console.log(JSON.stringify(summary));
    return;
  }
  const rows = [
    ['', 'policy', 'baseline'],
    ['mean reward', summary.policy_score.toFixed(4), summary.baseline_score.toFixed(4)],
    ['response length', summary.policy_length.toFixed(1), summary.baseline_length.toFixed(1)],
  ];
  for (const line of formatTable(rows, 3)) console.log(line);
  console.log(`win rate of the policy over the baseline: ${(summary.win_rate * 100).toFixed(1)}% of ${summary.prompts} prompts (ties count half)`);
  console.log(`KL of the policy to the reference: ${summary.kl.toFixed(4)} per response`);
  if (summary.gold) {
    console.log(
      `gold labeler (built-in task): policy ${summary.gold.policy_score.toFixed(3)}, baseline ${summary.gold.baseline_score.toFixed(3)}, ` +
        `win rate ${(summary.gold.win_rate * 100).toFixed(1)}%`,
    );
  }
  if (summary.skipped > 0) console.log(`skipped ${summary.skipped} prompts too long for the context with --max-new-tokens ${o.maxNewTokens}`);
  for (const s of samples.slice(0, 3)) {
    // JSON escapes the C0 controls; terminalSafe the rest a terminal acts on (DEL, C1, bidirectional overrides).
    const shown = (text: string) => terminalSafe(JSON.stringify(text));
    console.log(`--- ${shown(s.prompt)}\n  policy   (${s.policy_score.toFixed(3)}): ${shown(s.policy)}\n  baseline (${s.baseline_score.toFixed(3)}): ${shown(s.baseline)}`);
  }
}

/** The built-in task's gold labeler, when every prompt is one of the task's. */
function builtinJudge(prompts: readonly string[]): typeof goldJudge | undefined {
  return prompts.every((p) => parseTaskPrompt(p) !== null) ? goldJudge : undefined;
}
