/** `webgpu-rlhf generate`: sample responses from a checkpoint on the GPU. */
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { loadPrompts } from '../../data/formats.ts';
import { requestCommandGpu } from '../autotune-cache.ts';
import { Generator } from '../../model/generate.ts';
import { GPT } from '../../model/gpt.ts';
import { number, resolveOptions } from '../options.ts';
import { loadModel, readInputFile } from '../run-dir.ts';
import { resolveTokenizer } from '../tokenizer-choice.ts';
import { terminalSafe } from '../terminal-text.ts';

const schema = z.strictObject({
  init: z.string().min(1),
  prompt: z.array(z.string()).optional(),
  data: z.string().min(1).optional(),
  tokenizer: z.enum(['bytes', 'gpt2']).optional(),
  maxNewTokens: z.number().int().positive(),
  temperature: z.number().nonnegative(),
  topK: z.number().int().nonnegative(),
  topP: z.number().gt(0).max(1),
  seed: z.number().int().nonnegative(),
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
    .option('--max-new-tokens <n>', 'tokens to generate at most per prompt', number, 64)
    .option('--temperature <x>', 'sampling temperature; 0 = greedy', number, 1)
    .option('--top-k <n>', 'sample from the k most likely tokens (0 = all)', number, 0)
    .option('--top-p <x>', 'sample from the smallest set holding this much probability (1 = all)', number, 1)
    .option('--seed <n>', 'sampling seed', number, 0)
    .option('--batch-size <n>', 'prompts decoded together', number, 8)
    .option('--no-kv-cache', 'recompute the whole prefix every token (slow; for comparison)')
    .option('--out <file>', 'also write {"prompt","response","finished"} JSONL here, with the exact text (the listing shows control characters escaped, e.g. \\x1b)');
  cmd.action(async () => {
    const o = resolveOptions(cmd, schema);
    const prompts = [...(o.prompt ?? []), ...(o.data ? loadPrompts(readInputFile(o.data), o.data).map((p) => p.prompt) : [])];
    if (prompts.length === 0) throw new Error('give prompts with --prompt TEXT or --data prompts.jsonl');
    const { config, params } = loadModel(o.init);
    const tokenizer = resolveTokenizer([{ flag: '--init', dir: o.init, config }], o.tokenizer);
    const encoded = prompts.map((p) => tokenizer.encode(p));
    const longest = Math.max(...encoded.map((e) => e.length));
    const maxLength = Math.min(config.nPositions, longest + o.maxNewTokens);
    encoded.forEach((e, i) => {
      if (e.length + o.maxNewTokens > config.nPositions) {
        throw new Error(`prompt ${i + 1} has ${e.length} tokens; with --max-new-tokens ${o.maxNewTokens} it exceeds the model's context of ${config.nPositions}`);
      }
    });

    const gpu = await requestCommandGpu((line) => console.error(line));
    const model = new GPT(gpu, config, 1, 1);
    model.setParameters(params);
    const generator = new Generator(model, { maxBatch: Math.min(o.batchSize, prompts.length), maxLength });
    const lines: string[] = [];
    const started = performance.now();
    let generated = 0;
    try {
      for (let first = 0; first < prompts.length; first += o.batchSize) {
        const batch = encoded.slice(first, first + o.batchSize);
        const out = await generator.generate(batch, {
          maxNewTokens: o.maxNewTokens,
          temperature: o.temperature,
          topK: o.topK,
          topP: o.topP,
          seed: o.seed + first,
          eosId: tokenizer.eosId,
          // A padded vocabulary's ids beyond the tokenizer's are never sampled.
          vocabLimit: tokenizer.vocabSize,
          kvCache: o.kvCache,
        });
        out.responses.forEach((r, i) => {
          const prompt = prompts[first + i]!;
          const response = tokenizer.decode(r);
          generated += r.length;
          // Sampled text can hold escape sequences: shown escaped here, exact in --out.
          console.log(`--- ${first + i + 1}${out.finished[i] ? '' : ' (token limit)'}\n${terminalSafe(prompt)}${terminalSafe(response)}`);
          lines.push(JSON.stringify({ prompt, response, finished: out.finished[i] }));
        });
      }
    } finally {
      generator.destroy();
      model.destroy();
      gpu.destroy();
    }
    const seconds = (performance.now() - started) / 1000;
    console.error(`generated ${generated} tokens in ${seconds.toFixed(2)} s (${(generated / seconds).toFixed(1)} tokens/s) on ${gpu.name}`);
    if (o.out) writeFileSync(o.out, `${lines.join('\n')}\n`);
  });
}
