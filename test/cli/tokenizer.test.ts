/**
 * Every run directory records its tokenizer and every command reads it
 * (issue 17): a padded vocabulary goes through sft → reward → ppo → eval →
 * generate, sampling never emits a padded id, and mismatched or misfitting
 * tokenizers are refused before anything is written.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../../src/cli/run-dir.ts';
import { preset, type GPTConfig } from '../../src/model/config.ts';
import { initParameters } from '../../src/model/params.ts';
import { preferenceJsonl } from '../stages/preferences.ts';
import { cli, ROOT, tempDir } from './cli.ts';

const SFT_DATA = join(ROOT, 'test/fixtures/data/sft.jsonl');
const CORPUS = join(ROOT, 'test/fixtures/pretrain/corpus.txt');
const shape = { ...preset('tiny'), nLayer: 1, nHead: 2, nEmbd: 32, nPositions: 64 };
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const tokenizerOf = (dir: string) => json(join(dir, 'tokenizer_config.json')).webgpu_rlhf_tokenizer;

let dir: string;
let prompts: string;
beforeAll(() => {
  dir = tempDir('cli-tokenizer-');
  prompts = join(dir, 'prompts.jsonl');
  writeFileSync(prompts, `${['Q: ', 'Hi: '].map((p) => JSON.stringify({ prompt: p })).join('\n')}\n`);
});

function ok(args: string[]) {
  const r = cli(args);
  expect(r.status, `${args.join(' ')}: ${r.stderr.replace(/^Warning.*\n/gm, '')}`).toBe(0);
  return r;
}

/**
 * A Hugging Face GPT-2 folder without a tokenizer record, vocabulary 260
 * (bytes padded by 3). The padded ids are the model's favourites: ln_f
 * passes only its bias, and their embeddings lie along it, so any sampler
 * that let them through would choose them; 'A' is the favourite among the
 * tokenizer's ids.
 */
function paddedBytesFolder(): string {
  const out = join(dir, 'hf-260');
  const config: GPTConfig = { ...shape, vocabSize: 260 };
  const params = initParameters(config, 7);
  const C = config.nEmbd;
  const bias = params.get('ln_f.bias')!;
  const wte = params.get('wte.weight')!;
  params.get('ln_f.weight')!.fill(0);
  for (let c = 0; c < C; c++) bias[c] = c % 2 === 0 ? 1 : -1;
  for (let v = 257; v < 260; v++) for (let c = 0; c < C; c++) wte[v * C + c] = bias[c]!;
  for (let c = 0; c < C; c++) wte[65 * C + c] = 0.5 * bias[c]!;
  saveCheckpoint(out, { config, params });
  return out;
}

describe('a padded vocabulary (260 ids, the bytes tokenizer)', () => {
  it('goes through sft, reward, ppo, eval and generate, each reading the record; sampling never emits a padded id', () => {
    const hf = paddedBytesFolder();
    const sft = join(dir, 'sft');
    const s = ok(['sft', '--init', hf, '--data', SFT_DATA, '--out', sft, '--steps', '2', '--batch-size', '4', '--seq-len', '32', '--lr', '1e-5']);
    // No record in a foreign folder: the guess is printed.
    expect(s.stderr).toContain(`webgpu-rlhf: --init ${hf} records no tokenizer`);
    expect(s.stderr).toContain('guessed bytes from its vocabulary of 260');
    expect(tokenizerOf(sft)).toBe('bytes');
    expect(json(join(sft, 'run_config.json')).tokenizer).toBe('bytes');
    expect(json(join(sft, 'config.json'))).toMatchObject({ vocab_size: 260, eos_token_id: 256 });
    expect(existsSync(join(sft, 'tokenizer.json'))).toBe(true);
    expect(existsSync(join(sft, 'vocab.json'))).toBe(false);

    const prefs = join(dir, 'prefs.jsonl');
    writeFileSync(prefs, preferenceJsonl(12, 9, 'Q: '));
    const rm = join(dir, 'rm');
    const r = ok(['reward', '--init', sft, '--data', prefs, '--out', rm, '--steps', '2', '--batch-size', '4', '--seq-len', '32']);
    expect(r.stderr).not.toContain('records no tokenizer');
    expect(tokenizerOf(rm)).toBe('bytes');

    // The failing case: ppo --init on an SFT run of a padded vocabulary.
    const ppo = join(dir, 'ppo');
    const p = ok(['ppo', '--init', sft, '--reward-model', rm, '--data', prompts, '--out', ppo, '--steps', '1', '--batch-size', '2',
      '--response-length', '4', '--ppo-epochs', '1', '--lr', '1e-5']);
    expect(p.stderr).not.toContain('records no tokenizer');
    expect(tokenizerOf(ppo)).toBe('bytes');
    expect(tokenizerOf(join(ppo, 'value'))).toBe('bytes');
    expect(json(join(ppo, 'run_config.json')).tokenizer).toBe('bytes');

    const samples = join(dir, 'samples.jsonl');
    const e = ok(['eval', '--policy', ppo, '--baseline', sft, '--reward-model', rm, '--data', prompts, '--max-new-tokens', '4',
      '--temperature', '0', '--samples', samples, '--json']);
    expect(JSON.parse(e.stdout.trim().split('\n').at(-1)!).prompts).toBe(2);
    // Greedy over the tokenizer's ids is 'A' four times; a padded id would decode to nothing.
    for (const line of readFileSync(samples, 'utf8').trim().split('\n')) expect(JSON.parse(line)).toMatchObject({ policy: 'AAAA', baseline: 'AAAA' });

    const loss = JSON.parse(ok(['eval', '--init', ppo, '--data', CORPUS, '--batch-size', '2', '--seq-len', '32', '--json']).stdout.trim().split('\n').at(-1)!);
    expect(Number.isFinite(loss.loss)).toBe(true);

    const gen = join(dir, 'gen.jsonl');
    ok(['generate', '--init', ppo, '--prompt', 'Hi', '--max-new-tokens', '4', '--temperature', '0', '--out', gen]);
    expect(json(gen)).toEqual({ prompt: 'Hi', response: 'AAAA', finished: false });
    ok(['generate', '--init', ppo, '--prompt', 'Hi', '--max-new-tokens', '6', '--temperature', '1', '--seed', '3', '--out', gen]);
    expect(new TextEncoder().encode(json(gen).response).length + (json(gen).finished ? 1 : 0)).toBe(6); // every token has text
  });
});

describe('tokenizers that cannot work', () => {
  /** A tiny model of GPT-2's vocabulary recording the gpt2 tokenizer (a reward model with `score`). */
  function gpt2Folder(name: string, score: boolean): string {
    const out = join(dir, name);
    const config: GPTConfig = { ...shape, vocabSize: 50257 };
    const head = score ? new Float32Array(config.nEmbd).fill(0.1) : undefined;
    saveCheckpoint(out, { config, params: initParameters(config, 3), head, tokenizer: 'gpt2' });
    return out;
  }

  it('are refused before anything is written: a policy and a reward model of different tokenizers, ids beyond the vocabulary', () => {
    const bytes = join(dir, 'bytes-lm');
    const config: GPTConfig = { ...shape, vocabSize: 257 };
    saveCheckpoint(bytes, { config, params: initParameters(config, 2), tokenizer: 'bytes' });
    const bytesRm = join(dir, 'bytes-rm');
    saveCheckpoint(bytesRm, { config, params: initParameters(config, 4), head: new Float32Array(32), tokenizer: 'bytes' });
    const gpt2Rm = gpt2Folder('gpt2-rm', true);
    const mismatch = `uses the bytes tokenizer (recorded in ${join(bytes, 'tokenizer_config.json')}) but --reward-model ${gpt2Rm} uses the gpt2 tokenizer`;

    const out = join(dir, 'never');
    const p = cli(['ppo', '--init', bytes, '--reward-model', gpt2Rm, '--data', prompts, '--out', out, '--steps', '1']);
    expect(p.status).toBe(1);
    expect(p.stderr).toContain(`--init ${bytes} ${mismatch}`);
    expect(existsSync(out)).toBe(false);

    const e = cli(['eval', '--policy', bytes, '--baseline', bytes, '--reward-model', gpt2Rm, '--data', prompts]);
    expect(e.status).toBe(1);
    expect(e.stderr).toContain(`--policy ${bytes} ${mismatch}`);
    const ref = cli(['eval', '--policy', bytes, '--baseline', bytes, '--reference', gpt2Folder('gpt2-lm-ref', false), '--reward-model', bytesRm, '--data', prompts]);
    expect(ref.status).toBe(1);
    expect(ref.stderr).toContain('--reference');
    expect(ref.stderr).toContain('uses the gpt2 tokenizer');

    const f = cli(['sft', '--init', bytes, '--tokenizer', 'gpt2', '--data', SFT_DATA, '--out', out, '--steps', '1']);
    expect(f.status).toBe(1);
    expect(f.stderr).toContain(`--init ${bytes}: the gpt2 tokenizer (--tokenizer) has 50257 token ids, more than the model's vocabulary of 257`);
    expect(existsSync(out)).toBe(false);
    const g = cli(['generate', '--init', bytes, '--tokenizer', 'gpt2', '--prompt', 'Hi']);
    expect(g.status).toBe(1);
    expect(g.stderr).toContain('more than the model\'s vocabulary of 257');
  });

  it('a GPT-2 vocabulary trains with its recorded gpt2 tokenizer by default, not bytes, and records it for transformers', () => {
    const lm = gpt2Folder('gpt2-lm', false);
    const out = join(dir, 'gpt2-sft');
    const r = ok(['sft', '--init', lm, '--data', SFT_DATA, '--out', out, '--steps', '1', '--batch-size', '2', '--seq-len', '16']);
    expect(r.stderr).not.toContain('records no tokenizer');
    expect(tokenizerOf(out)).toBe('gpt2');
    expect(json(join(out, 'run_config.json')).tokenizer).toBe('gpt2');
    for (const f of ['vocab.json', 'merges.txt', 'tokenizer.json', 'special_tokens_map.json']) expect(existsSync(join(out, f)), f).toBe(true);
    // --tokenizer bytes still overrides (its ids fit), with a note.
    const b = ok(['sft', '--init', lm, '--tokenizer', 'bytes', '--data', SFT_DATA, '--out', join(dir, 'gpt2-as-bytes'), '--steps', '1', '--batch-size', '2', '--seq-len', '16']);
    expect(b.stderr).toContain(`webgpu-rlhf: --tokenizer bytes overrides the gpt2 tokenizer recorded in ${join(lm, 'tokenizer_config.json')} (--init)`);
    expect(tokenizerOf(join(dir, 'gpt2-as-bytes'))).toBe('bytes');
  });
});
