/**
 * Bad input a careless or hostile user gives the CLI (issue 17, items 6 and
 * 7): each stops with an error naming what is wrong before anything is
 * written, or is shown harmlessly.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendMetrics } from '../../src/cli/run-dir.ts';
import { cli, ROOT, tempDir, type CliResult } from './cli.ts';

const INIT = join(ROOT, 'test/fixtures/pretrain/init');
const CORPUS = join(ROOT, 'test/fixtures/pretrain/corpus.txt');

function expectError(r: CliResult, ...needles: string[]): void {
  expect(r.status, r.stdout + r.stderr).toBe(1);
  for (const needle of needles) expect(r.stderr).toContain(needle);
}

describe('a config.json with absurd sizes', () => {
  it('stops at once, naming the file and the field, before a table or a buffer is built', () => {
    const dir = tempDir('evil-');
    const model = join(dir, 'model');
    mkdirSync(model);
    writeFileSync(
      join(model, 'config.json'),
      JSON.stringify({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_layer: 20_000_000, n_head: 12, n_embd: 768, n_positions: 1024, vocab_size: 50257 }),
    );
    writeFileSync(join(model, 'model.safetensors'), readFileSync(join(INIT, 'model.safetensors')));
    const started = performance.now();
    const r = cli(['generate', '--init', model, '--prompt', 'hi'], 60_000);
    expectError(r, `${model}/config.json: GPT config: nLayer/n_layer=20000000 is more than the 1024 transformer blocks supported`);
    expect(performance.now() - started).toBeLessThan(30_000); // it was 79 s and a V8 heap abort
    const out = join(dir, 'sft');
    expectError(cli(['sft', '--init', model, '--data', join(dir, 'x.jsonl'), '--out', out], 60_000), 'n_layer=20000000');
    expect(existsSync(out)).toBe(false);
  });
});

describe('input files', () => {
  it('refuses a corpus that is not UTF-8, with the byte offset and line, and writes nothing', () => {
    const dir = tempDir('utf8-');
    const bad = join(dir, 'latin1.txt');
    writeFileSync(bad, Buffer.concat([Buffer.from('first line\ncaf'), Buffer.from([0xe9]), Buffer.from(' noir\n')]));
    const out = join(dir, 'run');
    expectError(cli(['pretrain', '--data', bad, '--out', out, '--steps', '1']), `${bad}: invalid UTF-8 at byte offset 14 (line 2)`);
    expect(existsSync(out)).toBe(false);
  });

  it('drops a leading byte-order mark with a note', () => {
    const dir = tempDir('bom-');
    const withBom = join(dir, 'bom.txt');
    writeFileSync(withBom, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(CORPUS)]));
    const a = cli(['eval', '--init', INIT, '--data', withBom, '--batch-size', '2', '--seq-len', '16', '--json']);
    const b = cli(['eval', '--init', INIT, '--data', CORPUS, '--batch-size', '2', '--seq-len', '16', '--json']);
    expect(a.status, a.stderr).toBe(0);
    expect(a.stderr).toContain(`${withBom}: note: dropped the UTF-8 byte-order mark (EF BB BF) at its start`);
    const result = (r: CliResult) => {
      const { tokens, loss } = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      return { tokens, loss };
    };
    expect(result(a)).toEqual(result(b)); // the same tokens as without the mark
  });

  it('refuses preferences that compare a response with itself, naming file:line, before writing', () => {
    const dir = tempDir('dup-');
    const prefs = join(dir, 'prefs.jsonl');
    writeFileSync(prefs, '{"prompt":"p","ranking":["a","b"]}\n{"prompt":"p","ranking":["a","b","a"]}\n');
    const out = join(dir, 'rm');
    expectError(cli(['reward', '--init', INIT, '--data', prefs, '--seq-len', '16', '--out', out]), `${prefs}:2: "ranking" holds the same response at positions 1 and 3`);
    expect(existsSync(out)).toBe(false);
  });

  it('sft: names the file, the count and the --seq-len when every prompt is too long, before writing', () => {
    const dir = tempDir('long-');
    const data = join(dir, 'long.jsonl');
    writeFileSync(data, `${JSON.stringify({ prompt: 'a rather long question?', completion: ' yes' })}\n${JSON.stringify({ prompt: 'another long question here?', completion: ' no' })}\n`);
    const out = join(dir, 'sft');
    expectError(
      cli(['sft', '--init', INIT, '--data', data, '--seq-len', '8', '--out', out]),
      `${data}: no SFT examples left to train on: all 2 were left out because their prompt fills the whole sequence of --seq-len 8 tokens`,
      '--seq-len 23 would keep its example',
    );
    expect(existsSync(out)).toBe(false);
  });
});

describe('--model', () => {
  it('knows only its presets ("constructor" is not one) and lists them, before writing', () => {
    const dir = tempDir('preset-');
    const out = join(dir, 'run');
    expectError(cli(['pretrain', '--model', 'constructor', '--data', CORPUS, '--out', out]), 'unknown model preset "constructor"; choose one of: tiny, small, mid, gpt2, gpt2-medium');
    expect(existsSync(out)).toBe(false);
  });
});

describe('metrics.jsonl as a symbolic link', () => {
  it('is never followed: appending refuses it and leaves its target alone', () => {
    const dir = tempDir('link-');
    const target = join(dir, 'elsewhere.txt');
    writeFileSync(target, 'precious\n');
    const run = join(dir, 'run');
    mkdirSync(run);
    symlinkSync(target, join(run, 'metrics.jsonl'));
    expect(() => appendMetrics(run, { stage: 'pretrain', step: 1 })).toThrow(`${run}/metrics.jsonl is a symbolic link (to ${target})`);
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
  });

  it('stops a --resume before it writes anything', () => {
    const dir = tempDir('link-');
    const run = join(dir, 'run');
    const args = ['pretrain', '--init', INIT, '--data', CORPUS, '--batch-size', '1', '--seq-len', '8', '--eval-fraction', '0', '--out', run];
    const first = cli([...args, '--steps', '2']);
    expect(first.status, first.stderr).toBe(0);
    const target = join(dir, 'elsewhere.jsonl');
    writeFileSync(target, 'precious\n');
    const metrics = join(run, 'metrics.jsonl');
    rmSync(metrics);
    symlinkSync(target, metrics);
    const before = Object.fromEntries(readdirSync(run).filter((n) => n !== 'metrics.jsonl').map((n) => [n, readFileSync(join(run, n))]));
    expectError(cli([...args, '--steps', '3', '--resume']), `${metrics} is a symbolic link (to ${target})`, 'remove the link, or choose another --out');
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    for (const [name, bytes] of Object.entries(before)) expect(readFileSync(join(run, name)).equals(bytes), name).toBe(true);
  });
});

describe('generate', () => {
  it('shows control characters escaped and keeps the exact text in --out', () => {
    const dir = tempDir('gen-');
    const prompt = '\x1b[31mred\x07\x1b]0;owned\x07';
    const out = join(dir, 'out.jsonl');
    const r = cli(['generate', '--init', INIT, '--prompt', prompt, '--max-new-tokens', '6', '--temperature', '0', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('\\x1b[31mred\\x07\\x1b]0;owned\\x07');
    expect(r.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    const line = JSON.parse(readFileSync(out, 'utf8').trim());
    expect(line.prompt).toBe(prompt);
  });
});
