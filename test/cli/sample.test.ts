/**
 * A round of RLHF by hand: `sample` writes K responses per prompt from a
 * policy as a sheet, a person ranks each line, and `reward --init` continues
 * a reward model on those rankings.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { preferenceJsonl } from '../stages/preferences.ts';
import { cli, ROOT, tempDir } from './cli.ts';

// A pretrained GPT-2 (bytes, 32 positions) standing in for a policy; its short responses, whose invalid
// UTF-8 turns into U+FFFD (3 bytes each), still fit the context with prompt and EOS.
const INIT = join(ROOT, 'test/fixtures/pretrain/init');

describe('sample', () => {
  it('writes K distinct responses per prompt, which ranked by a person continue a reward model', () => {
    const dir = tempDir();
    const prompts = join(dir, 'prompts.jsonl');
    writeFileSync(prompts, `${['Q: ', 'Hi: ', 'Say: '].map((p) => JSON.stringify({ prompt: p })).join('\n')}\n`);
    const sheet = join(dir, 'to-rank.jsonl');
    const args = ['sample', '--policy', INIT, '--data', prompts, '--out', sheet, '--responses', '4', '--max-new-tokens', '4', '--seed', '5'];
    const r = cli(args);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`wrote 3 prompts × up to 4 responses to ${sheet}`);
    const lines = readFileSync(sheet, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { prompt: string; responses: string[] });
    expect(lines.map((l) => l.prompt)).toEqual(['Q: ', 'Hi: ', 'Say: ']);
    for (const l of lines) {
      expect(l.responses.length).toBeGreaterThanOrEqual(2);
      expect(l.responses.length).toBeLessThanOrEqual(4);
      expect(new Set(l.responses).size).toBe(l.responses.length);
    }
    // The same seed samples the same sheet; an existing sheet is never overwritten.
    const again = cli(args);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`--out ${sheet} exists; a sheet is not overwritten`);
    const copy = join(dir, 'copy.jsonl');
    expect(cli([...args.slice(0, 6), copy, ...args.slice(7)]).status).toBe(0);
    expect(readFileSync(copy, 'utf8')).toBe(readFileSync(sheet, 'utf8'));

    // A person ranks every line (here: shortest first) and the reward model continues on it.
    const ranked = join(dir, 'ranked.jsonl');
    writeFileSync(ranked, lines.map((l) => JSON.stringify({ prompt: l.prompt, ranking: [...l.responses].sort((a, b) => a.length - b.length || (a < b ? -1 : 1)) })).join('\n'));
    const prefs = join(dir, 'prefs.jsonl');
    writeFileSync(prefs, preferenceJsonl(24, 3, 'Q: '));
    const rm = join(dir, 'rm');
    const trained = cli(['reward', '--init', INIT, '--data', prefs, '--out', rm, '--steps', '1', '--batch-size', '6', '--seq-len', '32', '--eval-fraction', '0']);
    expect(trained.status, trained.stderr).toBe(0);
    // --sampled checks the rankings against the sheet they were made from.
    const rm2 = join(dir, 'rm2');
    const nextArgs = ['reward', '--init', rm, '--data', ranked, '--sampled', sheet, '--out', rm2, '--steps', '2', '--batch-size', '4', '--seq-len', '32', '--eval-fraction', '0'];
    const next = cli(nextArgs);
    expect(next.status, next.stderr).toBe(0);
    expect(next.stdout).toContain('continuing the reward head');
    const model = readFileSync(join(rm2, 'model.safetensors'));
    // A second run into the same --out is refused and leaves the reward model as it was.
    const again2 = cli(nextArgs);
    expect(again2.status).toBe(1);
    expect(again2.stderr).toContain(`${rm2} already holds a run; pass --resume to continue it, or choose another --out`);
    expect(readFileSync(join(rm2, 'model.safetensors')).equals(model)).toBe(true);
  });

  it('refuses rankings that do not rank their sheet line for line, before the GPU is touched and writing nothing', () => {
    const dir = tempDir();
    const sheet = join(dir, 'to-rank.jsonl');
    const jsonl = (...records: object[]) => `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;
    writeFileSync(sheet, jsonl({ prompt: 'Q: ', responses: ['ab', 'cd', 'ef'] }, { prompt: 'Hi: ', responses: ['gh', 'ij'] }));
    const good = [
      { prompt: 'Q: ', ranking: ['ef', 'ab', 'cd'] },
      { prompt: 'Hi: ', ranking: ['ij', 'gh'] },
    ];
    const reward = (name: string, content: string, sampled: string[] = ['--sampled', sheet]) => {
      const ranked = join(dir, `${name}.jsonl`);
      writeFileSync(ranked, content);
      const out = join(dir, `rm-${name}`);
      const r = cli(['reward', '--init', INIT, '--data', ranked, ...sampled, '--out', out, '--steps', '1', '--batch-size', '4', '--seq-len', '32', '--eval-fraction', '0']);
      expect(r.status, r.stderr).toBe(1);
      // Checked before a GPU is requested (its log lines and the model's start with "reward: ") and before --out is made.
      expect(r.stdout).not.toContain('reward: ');
      expect(existsSync(out)).toBe(false);
      return { ranked, stderr: r.stderr };
    };

    let r = reward('mismatch', jsonl(good[0]!, { prompt: 'Hello: ', ranking: ['ij', 'gh'] }));
    expect(r.stderr).toContain(`${r.ranked}:2: prompt "Hello: " is not the prompt of ${sheet}:2, the sheet's line at the same position ("Hi: ")`);
    r = reward('dropped', jsonl({ prompt: 'Q: ', ranking: ['ef', 'ab'] }, good[1]!));
    expect(r.stderr).toContain(`${r.ranked}:1: the ranking leaves out 1 response of ${sheet}:1: "cd"; rank every response`);
    r = reward('invented', jsonl(good[0]!, { prompt: 'Hi: ', ranking: ['ij', 'gh', 'kl'] }));
    expect(r.stderr).toContain(`${r.ranked}:2: the ranking holds 1 response that ${sheet}:2 does not: "kl"`);
    r = reward('short', jsonl(good[0]!));
    expect(r.stderr).toContain(`${sheet}:2: 1 line of the sheet, from here on, has no ranking: ${r.ranked} ends after 1 ranking (its line 1)`);
    r = reward('empty', '\n');
    expect(r.stderr).toContain(`${r.ranked}: no rankings (the file is empty): an empty round; rank the 2 lines of ${sheet}`);
    // Without --sampled an empty file is refused too.
    r = reward('empty-unchecked', '', []);
    expect(r.stderr).toContain(`${r.ranked}: no records (the file is empty)`);
    // Every problem at once.
    r = reward('many', jsonl({ prompt: 'Q: ', ranking: ['ef', 'ab'] }, { prompt: 'Hi: ', ranking: ['ij', 'gh', 'kl'] }));
    expect(r.stderr).toContain(`${r.ranked} does not rank ${sheet} line for line (2 problems):\n  ${r.ranked}:1: the ranking leaves out`);
    expect(r.stderr).toContain(`\n  ${r.ranked}:2: the ranking holds 1 response`);
  });

  it('says why no comparison was usable', () => {
    const dir = tempDir();
    const ranked = join(dir, 'ranked.jsonl');
    writeFileSync(ranked, '{"prompt":"Q: ","ranking":["a","b","c","d"]}\n');
    const r = cli(['reward', '--init', INIT, '--data', ranked, '--out', join(dir, 'rm'), '--steps', '1', '--batch-size', '2', '--seq-len', '32']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${ranked}: no usable comparisons: 1 skipped\n  ${ranked}:1: 4 responses do not fit a batch of 2 sequences`);
  });

  it('refuses an unranked sheet in reward, naming the line', () => {
    const dir = tempDir();
    const sheet = join(dir, 'sheet.jsonl');
    writeFileSync(sheet, '{"prompt":"Q: ","responses":["a","b"]}\n');
    const r = cli(['reward', '--init', INIT, '--data', sheet, '--out', join(dir, 'rm'), '--steps', '1', '--batch-size', '2', '--seq-len', '32']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${sheet}:1`);
  });
});
