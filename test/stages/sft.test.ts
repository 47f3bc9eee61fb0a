import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSftExamples } from '../../src/data/formats.ts';
import { sftBatches, tokenizeSft } from '../../src/data/sft.ts';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { preset } from '../../src/model/config.ts';
import { GPT } from '../../src/model/gpt.ts';
import { initParameters } from '../../src/model/params.ts';
import { createTokenizer } from '../../src/tokenizer/index.ts';
import { cli, ROOT, tempDir } from '../cli/cli.ts';
import { testGpu } from '../helpers.ts';

const DATA = join(ROOT, 'test/fixtures/data/sft.jsonl');

describe('SFT', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });
  afterAll(() => gpu?.destroy());

  it('puts no gradient on prompt tokens: changing their targets changes no gradient', async () => {
    const bytes = createTokenizer('bytes');
    const { sequences } = tokenizeSft(loadSftExamples(readFileSync(DATA, 'utf8'), DATA), bytes, { maxLength: 33 });
    const batch = sftBatches(sequences, 4, 32, bytes.eosId, { mode: 'pad', seed: 1 }).batch(0);
    const masked = [...batch.weights!.keys()].filter((i) => batch.weights![i] === 0);
    expect(masked.length).toBeGreaterThan(20);
    expect(masked.length).toBeLessThan(4 * 32);

    const config = { ...preset('tiny'), nLayer: 1 };
    const model = new GPT(gpu, config, 4, 32);
    model.setParameters(initParameters(config, 2));
    const loss = await model.backward(batch);
    const grads = await model.getGradients();
    const scrambled = batch.targets.slice();
    for (const i of masked) scrambled[i] = (scrambled[i]! * 7 + 13) % config.vocabSize;
    const loss2 = await model.backward({ ...batch, targets: scrambled });
    const grads2 = await model.getGradients();
    expect(loss2).toBe(loss);
    for (const [name, g] of grads) expect(Buffer.from(grads2.get(name)!.buffer).equals(Buffer.from(g.buffer)), name).toBe(true);
    model.destroy();
  });

  it('lowers the loss on the responses from the CLI', () => {
    const out = tempDir();
    const r = cli(['sft', '--data', DATA, '--out', out, '--steps', '30', '--batch-size', '8', '--seq-len', '48', '--lr', '3e-3',
      '--log-every', '5', '--eval-every', '0', '--eval-fraction', '0.2', '--warmup', '2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/sft: .*sft.jsonl: 32 examples/);
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const losses = metrics.filter((m) => m.loss !== undefined).map((m) => m.loss as number);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.7);
    expect(metrics.at(-1)).toMatchObject({ stage: 'sft', step: 30 });
    expect(metrics.at(-1)!.eval_loss).toBeLessThan(losses[0]!);
  });
});
