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
    const next = cli(['reward', '--init', rm, '--data', ranked, '--out', join(dir, 'rm2'), '--steps', '2', '--batch-size', '4', '--seq-len', '32', '--eval-fraction', '0']);
    expect(next.status, next.stderr).toBe(0);
    expect(next.stdout).toContain('continuing the reward head');
    expect(existsSync(join(dir, 'rm2', 'model.safetensors'))).toBe(true);
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
