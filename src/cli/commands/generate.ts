/** `webgpu-rlhf generate`: sample responses from a checkpoint on the GPU. */
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { loadPrompts } from '../../data/formats.ts';
import { requestCommandGpu } from '../autotune-cache.ts';
import { addSchemaOptions, number, resolveOptions } from '../options.ts';
import { SAMPLING_DEFAULTS, samplingSettingsSchema } from '../../model/sampling-settings.ts';
import { loadModel, readInputFile } from '../run-dir.ts';
import { resolveTokenizer } from '../tokenizer-choice.ts';
import { terminalSafe } from '../terminal-text.ts';
import { encodePrompts, samplePrompts } from '../sample-prompts.ts';

const schema = z.strictObject({
  init: z.string().min(1),
  prompt: z.array(z.string()).optional(),
  data: z.string().min(1).optional(),
  tokenizer: z.enum(['bytes', 'gpt2']).optional(),
  ...samplingSettingsSchema.shape,
  batchSize: z.number().int().positive(),
  kvCache: z.boolean(),
  out: z.string().min(1).optional(),
});

export function registerGenerate(program: Command): void {
  const cmd = program
    .command('generate')
    .description('generate responses to prompts from a checkpoint')
    .option('--config <file>', 'JSON file whose keys are any of these options')
    .requiredOption('--init <dir>', 'run directory or Hugging Face GPT-2 folder')
    .option('--prompt <text...>', 'one or more prompts')
    .option('--data <file>', 'prompts as JSONL {"prompt": …}')
    .addOption(new Option('--tokenizer <name>', 'tokenizer (default: the one --init records; for a folder without a record, a guess from its vocabulary)').choices(['bytes', 'gpt2']))
    .option('--batch-size <n>', 'prompts decoded together', number, 8)
    .option('--no-kv-cache', 'recompute the whole prefix every token (slow; for comparison)')
    .option('--out <file>', 'also write {"prompt","response","finished"} JSONL here, with the exact text (the listing shows control characters escaped, e.g. \\x1b)');
  addSchemaOptions(cmd, samplingSettingsSchema, SAMPLING_DEFAULTS);
  cmd.action(async () => {
    const o = resolveOptions(cmd, schema);
    const prompts = [...(o.prompt ?? []), ...(o.data ? loadPrompts(readInputFile(o.data), o.data).map((p) => p.prompt) : [])];
    if (prompts.length === 0) throw new Error('give prompts with --prompt TEXT or --data prompts.jsonl');
    const { config, params } = loadModel(o.init);
    const tokenizer = resolveTokenizer([{ flag: '--init', dir: o.init, config }], o.tokenizer);
    const encoded = encodePrompts(prompts, tokenizer, config, o.maxNewTokens);

    const gpu = await requestCommandGpu((line) => console.error(line));
    const lines: string[] = [];
    const started = performance.now();
    let generated = 0;
    try {
      await samplePrompts(gpu, { config, params }, tokenizer, encoded, o, (batch) => {
        for (const { index, tokens, finished } of batch) {
          const prompt = prompts[index]!;
          const response = tokenizer.decode(tokens);
          generated += tokens.length;
          // Sampled text can hold escape sequences: shown escaped here, exact in --out.
          console.log(`--- ${index + 1}${finished ? '' : ' (token limit)'}\n${terminalSafe(prompt)}${terminalSafe(response)}`);
          lines.push(JSON.stringify({ prompt, response, finished }));
        }
      });
    } finally {
      gpu.destroy();
    }
    const seconds = (performance.now() - started) / 1000;
    console.error(`generated ${generated} tokens in ${seconds.toFixed(2)} s (${(generated / seconds).toFixed(1)} tokens/s) on ${gpu.name}`);
    if (o.out) writeFileSync(o.out, `${lines.join('\n')}\n`);
  });
}
