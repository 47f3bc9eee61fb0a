/** How a command picks its tokenizer from the models it reads (no GPU). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../../src/cli/run-dir.ts';
import { recordedTokenizer, resolveTokenizer, resumedTokenizer, type ModelInput } from '../../src/cli/tokenizer-choice.ts';
import { preset, type GPTConfig } from '../../src/model/config.ts';
import { initParameters } from '../../src/model/params.ts';
import type { TokenizerName } from '../../src/tokenizer/index.ts';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A model folder with vocabulary V, recording `tokenizer` (none: a foreign Hugging Face folder). */
function folder(flag: string, vocabSize: number, tokenizer?: TokenizerName): ModelInput {
  const dir = mkdtempSync(join(tmpdir(), 'tokchoice-'));
  dirs.push(dir);
  const config: GPTConfig = { ...preset('tiny'), nLayer: 1, nEmbd: 8, nHead: 2, vocabSize };
  saveCheckpoint(dir, { config, params: initParameters(config, 1), tokenizer });
  return { flag, dir, config };
}

function resolve(models: ModelInput[], override?: TokenizerName) {
  const lines: string[] = [];
  const tokenizer = resolveTokenizer(models, override, (l) => lines.push(l));
  return { name: tokenizer.name, lines };
}

describe('the tokenizer of a command', () => {
  it('is the one the model records, padded vocabulary or not, with nothing printed', () => {
    expect(resolve([folder('--init', 260, 'bytes')])).toEqual({ name: 'bytes', lines: [] });
    expect(resolve([folder('--init', 50304, 'gpt2')])).toEqual({ name: 'gpt2', lines: [] });
    // A padded GPT-2-sized vocabulary trained on bytes stays bytes: the record, not the size, decides.
    expect(resolve([folder('--init', 50304, 'bytes')])).toEqual({ name: 'bytes', lines: [] });
  });

  it('is guessed from the vocabulary of a folder without a record, and the guess printed', () => {
    const hf = folder('--init', 50257);
    const r = resolve([hf]);
    expect(r.name).toBe('gpt2');
    expect(r.lines).toEqual([
      `webgpu-rlhf: --init ${hf.dir} records no tokenizer (no tokenizer_config.json naming one in "webgpu_rlhf_tokenizer"); ` +
        'guessed gpt2 from its vocabulary of 50257 (pass --tokenizer bytes|gpt2 to choose)',
    ]);
    expect(resolve([folder('--init', 260)]).name).toBe('bytes');
  });

  it('is --tokenizer when given: a note where it overrides a record, an error naming both where its ids do not fit', () => {
    const g = folder('--init', 50257, 'gpt2');
    expect(resolve([g], 'bytes')).toEqual({
      name: 'bytes',
      lines: [`webgpu-rlhf: --tokenizer bytes overrides the gpt2 tokenizer recorded in ${join(g.dir, 'tokenizer_config.json')} (--init)`],
    });
    expect(resolve([folder('--init', 50257)], 'bytes')).toEqual({ name: 'bytes', lines: [] }); // a guess gives way silently
    const small = folder('--init', 260, 'bytes');
    expect(() => resolve([small], 'gpt2')).toThrow(
      `--init ${small.dir}: the gpt2 tokenizer (--tokenizer) has 50257 token ids, more than the model's vocabulary of 260 ` +
        '(vocab_size in its config.json): ids from 260 up have no embedding. Use the tokenizer the model was trained with, or a model whose vocabulary holds 50257 ids.',
    );
    const tiny = folder('--init', 100);
    expect(() => resolve([tiny])).toThrow(`--init ${tiny.dir}: the bytes tokenizer (guessed from its vocabulary of 100) has 257 token ids, more than the model's vocabulary of 100`);
  });

  it('must be one for models used together: different records are refused naming both, --tokenizer or not', () => {
    const policy = folder('--init', 257, 'bytes');
    const rm = folder('--reward-model', 50257, 'gpt2');
    const message =
      `--init ${policy.dir} uses the bytes tokenizer (recorded in ${join(policy.dir, 'tokenizer_config.json')}) but --reward-model ${rm.dir} ` +
      `uses the gpt2 tokenizer (recorded in ${join(rm.dir, 'tokenizer_config.json')}): the same token id means different text to the two models`;
    expect(() => resolve([policy, rm])).toThrow(message);
    expect(() => resolve([policy, rm], 'bytes')).toThrow(message);
    // A record against a guess: refused, unless --tokenizer settles the guess.
    const foreign = folder('--reward-model', 50257);
    expect(() => resolve([policy, foreign])).toThrow(`uses the gpt2 tokenizer (guessed from its vocabulary of 50257)`);
    expect(() => resolve([policy, foreign])).toThrow('or pass --tokenizer bytes|gpt2 if a guess is wrong');
    expect(resolve([policy, foreign], 'bytes').name).toBe('bytes');
    // Agreeing records of different (padded) vocabularies are fine.
    expect(resolve([policy, folder('--baseline', 260, 'bytes'), folder('--reward-model', 300, 'bytes')]).name).toBe('bytes');
  });

  it('of a resumed run is its record, else the tokenizer its saved settings name', () => {
    expect(resumedTokenizer(folder('--out', 50257, 'gpt2').dir, { tokenizer: 'bytes' })).toBe('gpt2');
    const old = folder('--out', 257);
    expect(recordedTokenizer(old.dir)).toBeNull();
    expect(resumedTokenizer(old.dir, { tokenizer: 'bytes' })).toBe('bytes');
    expect(resumedTokenizer(old.dir, {})).toBeUndefined();
  });
});
