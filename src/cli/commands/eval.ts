/**
 * `webgpu-rlhf eval --init DIR --data FILE`: the model's loss and perplexity
 * on a text file (every token), or on SFT JSONL (response tokens only).
 */
import { existsSync, readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { loadSftExamples } from '../../data/formats.ts';
import { sftBatches, tokenizeSft } from '../../data/sft.ts';
import { TextTokens } from '../../data/text.ts';
import { requestGpu } from '../../gpu/device.ts';
import { GPT, type Batch } from '../../model/gpt.ts';
import { createTokenizer } from '../../tokenizer/index.ts';
import { number, resolveOptions, tokenizerFor } from '../options.ts';
import { Progress } from '../progress.ts';
import { loadModel } from '../run-dir.ts';

const schema = z.strictObject({
  init: z.string().min(1),
  data: z.string().min(1),
  tokenizer: z.enum(['bytes', 'gpt2']).optional(),
  batchSize: z.number().int().positive(),
  seqLen: z.number().int().positive(),
  json: z.boolean(),
});

export function registerEval(program: Command): void {
  const cmd = program
    .command('eval')
    .description('loss and perplexity of a checkpoint on a text file or SFT JSONL (responses only)')
    .option('--config <file>', 'JSON file whose keys are any of these options')
    .requiredOption('--init <dir>', 'run directory or Hugging Face GPT-2 folder')
    .requiredOption('--data <file>', 'a .txt corpus or SFT .jsonl')
    .addOption(new Option('--tokenizer <name>', 'tokenizer (default: from the model vocabulary)').choices(['bytes', 'gpt2']))
    .option('--batch-size <n>', 'sequences per batch', number, 8)
    .option('--seq-len <n>', 'tokens per sequence', number, 64)
    .option('--json', 'print the result as JSON', false);
  cmd.action(async () => {
    const o = resolveOptions(cmd, schema);
    if (!existsSync(o.data)) throw new Error(`${o.data}: no such file`);
    const { config, params } = loadModel(o.init);
    const tokenizer = createTokenizer(o.tokenizer ?? tokenizerFor(config.vocabSize));
    const text = readFileSync(o.data, 'utf8');
    const B = o.batchSize;
    const T = o.seqLen;
    let batches: Batch[];
    if (o.data.endsWith('.jsonl')) {
      const { sequences, truncated } = tokenizeSft(loadSftExamples(text, o.data), tokenizer, { maxLength: T + 1 });
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

    const gpu = await requestGpu();
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
