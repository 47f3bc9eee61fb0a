/**
 * `webgpu-rlhf sample`: K responses per prompt from any policy, written as a
 * JSONL sheet {"prompt","responses":[…]} that a person turns into rankings
 * {"prompt","ranking":[best, …, worst]}, the format `reward` reads: a round
 * of RLHF by hand (rank the new policy's samples, continue the reward model
 * with `reward --init`, PPO again).
 */
import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { loadPrompts } from '../../data/formats.ts';
import { requestCommandGpu } from '../autotune-cache.ts';
import { addSchemaOptions, number, resolveOptions } from '../options.ts';
import { SAMPLING_DEFAULTS, samplingSettingsSchema } from '../../model/sampling-settings.ts';
import { loadModel, readInputFile, writeFileAtomic } from '../run-dir.ts';
import { encodePrompts, samplePrompts } from '../sample-prompts.ts';
import { resolveTokenizer } from '../tokenizer-choice.ts';
import { Progress } from '../progress.ts';

const schema = z.strictObject({
  policy: z.string().min(1),
  data: z.string().min(1),
  out: z.string().min(1),
  responses: z.number().int().min(2),
  tokenizer: z.enum(['bytes', 'gpt2']).optional(),
  ...samplingSettingsSchema.shape,
  // A sheet needs responses that differ: no greedy decoding.
  temperature: z.number().positive(),
  batchSize: z.number().int().positive(),
});

export function registerSample(program: Command): void {
  const cmd = program
    .command('sample')
    .description('sample K responses per prompt from a policy into a JSONL sheet {"prompt","responses":[…]} for a person to rank')
    .option('--config <file>', 'JSON file whose keys are any of these options (flags win over it)')
    .requiredOption('--policy <dir>', 'the policy to sample (a run directory or Hugging Face GPT-2 folder), e.g. the last PPO run')
    .requiredOption('--data <file>', 'prompts, JSONL {"prompt": …}')
    .requiredOption('--out <file>', 'the sheet to write (an existing file is not overwritten)')
    .option('--responses <k>', 'responses per prompt (K); identical ones are written once', number, 4)
    .addOption(new Option('--tokenizer <name>', 'tokenizer (default: the one --policy records; for a folder without a record, a guess from its vocabulary)').choices(['bytes', 'gpt2']))
    .option('--batch-size <n>', 'sequences decoded together', number, 16)
    .addHelpText(
      'after',
      '\nThen a person ranks each line: replaces "responses" with "ranking": [best, …, worst], every response of the line, unchanged,\n' +
        'keeping the lines in their order. Continue the reward model on the rankings, checked against this sheet:\n' +
        '  webgpu-rlhf reward --init RM_DIR --data RANKED.jsonl --sampled SHEET.jsonl --out NEW_RM_DIR',
    );
  addSchemaOptions(cmd, samplingSettingsSchema, SAMPLING_DEFAULTS, { temperature: 'sampling temperature (> 0: the responses should differ)' });
  cmd.action(async () => {
    const o = resolveOptions(cmd, schema);
    // Checked before the GPU is touched: a sheet someone may be filling in is never replaced.
    if (existsSync(o.out)) throw new Error(`--out ${o.out} exists; a sheet is not overwritten (it may hold rankings): choose another --out, or remove it first`);
    const records = loadPrompts(readInputFile(o.data), o.data);
    const { config, params } = loadModel(o.policy);
    const tokenizer = resolveTokenizer([{ flag: '--policy', dir: o.policy, config }], o.tokenizer);
    const prompts = records.map((r) => r.prompt);
    const encoded = encodePrompts(prompts, tokenizer, config, o.maxNewTokens);
    // K copies of each prompt, side by side: each copy samples its own response.
    const copies = encoded.flatMap((ids) => Array.from({ length: o.responses }, () => ids));
    const responses: string[][] = prompts.map(() => []);

    const gpu = await requestCommandGpu((line) => console.error(`sample: ${line}`));
    const progress = new Progress('sample', copies.length);
    try {
      await samplePrompts(gpu, { config, params }, tokenizer, copies, o, (batch) => {
        for (const { index, tokens } of batch) responses[Math.floor(index / o.responses)]!.push(tokenizer.decode(tokens));
        progress.update(batch.at(-1)!.index + 1, {});
      });
    } finally {
      progress.stop();
      gpu.destroy();
    }

    // A ranking compares distinct responses: repeats are written once, and a prompt left with one response is left out.
    const lines: string[] = [];
    const single: number[] = [];
    responses.forEach((rs, i) => {
      const distinct = [...new Set(rs)];
      if (distinct.length < 2) single.push(records[i]!.line);
      else lines.push(JSON.stringify({ prompt: prompts[i], responses: distinct }));
    });
    if (lines.length === 0) {
      throw new Error(`${o.data}: every prompt got ${o.responses} identical responses; nothing to rank (raise --temperature?). ${o.out} not written`);
    }
    writeFileAtomic(o.out, `${lines.join('\n')}\n`);
    const repeats = responses.reduce((n, rs) => n + rs.length - new Set(rs).size, 0);
    console.log(
      `sample: wrote ${lines.length} prompts × up to ${o.responses} responses to ${o.out}` +
        (repeats ? `; ${repeats} repeated responses written once` : '') +
        (single.length ? `; left out ${single.length} prompts whose responses were all the same (${o.data} lines ${single.slice(0, 10).join(', ')}${single.length > 10 ? ', …' : ''})` : ''),
    );
    console.log(
      `sample: rank each line ("ranking": [best, …, worst], every response, in place of "responses"), then: webgpu-rlhf reward --init RM_DIR --data RANKED.jsonl --sampled ${o.out} --out NEW_RM_DIR`,
    );
  });
}
