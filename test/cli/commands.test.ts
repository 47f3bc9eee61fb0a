import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, ROOT, tempDir } from './cli.ts';

const INIT = join(ROOT, 'test/fixtures/pretrain/init');
const CORPUS = join(ROOT, 'test/fixtures/pretrain/corpus.txt');

describe('CLI', () => {
  it('has --help on every command', () => {
    for (const [command, needle] of [
      ['pretrain', '--no-shuffle'],
      ['sft', '--packing'],
      ['generate', '--top-p'],
      ['eval', '--seq-len'],
      ['info', '--json'],
      ['profile', '--trace'],
    ]) {
      const r = cli([command!, '--help']);
      expect(r.status, command).toBe(0);
      expect(r.stdout, command).toContain(needle);
    }
  });

  it('picks the matmul kernels at start-up: measured once per adapter, then cached, or pinned by WEBGPU_RLHF_MATMUL', () => {
    const cache = tempDir('tune-');
    const first = cli(['info'], 120_000, { XDG_CACHE_HOME: cache });
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/matmul kernels NT=\w+ NN=\w+ TN=\w+ \(measured now and cached in /);
    expect(Object.keys(JSON.parse(readFileSync(join(cache, 'webgpu-rlhf', 'autotune.json'), 'utf8')))).toHaveLength(1); // one adapter
    const again = cli(['info', '--json'], 120_000, { XDG_CACHE_HOME: cache });
    expect(JSON.parse(again.stdout).matmul).toMatchObject({ source: 'cache', timings: expect.any(Array) });
    const pinned = cli(['info'], 120_000, { XDG_CACHE_HOME: cache, WEBGPU_RLHF_MATMUL: 'scalar' });
    expect(pinned.stdout).toContain('matmul kernels NT=scalar NN=scalar TN=scalar (pinned by WEBGPU_RLHF_MATMUL)');
    const bad = cli(['info'], 120_000, { XDG_CACHE_HOME: cache, WEBGPU_RLHF_MATMUL: 'fastest' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('fastest');
  });

  it('reads options from --config, lets flags win, and rejects unknown keys', () => {
    const dir = tempDir();
    const config = join(dir, 'run.json');
    writeFileSync(config, JSON.stringify({ data: CORPUS, steps: 2, 'batch-size': 1, 'seq-len': 8, 'eval-fraction': 0 }));
    const out = join(dir, 'run');
    const r = cli(['pretrain', '--config', config, '--steps', '3', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const saved = JSON.parse(readFileSync(join(out, 'run_config.json'), 'utf8'));
    expect(saved).toMatchObject({ stage: 'pretrain', steps: 3, batchSize: 1, seqLen: 8, data: CORPUS });

    writeFileSync(config, JSON.stringify({ data: CORPUS, 'batch-szie': 4 }));
    const bad = cli(['pretrain', '--config', config, '--out', join(dir, 'other')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`${config}: unknown option "batch-szie"`);
    const invalid = cli(['pretrain', '--data', CORPUS, '--steps', '0', '--out', join(dir, 'x')]);
    expect(invalid.stderr).toContain('--steps');
  });

  it('generates the same text twice greedily, and writes JSONL', () => {
    const dir = tempDir();
    const args = ['generate', '--init', INIT, '--prompt', 'The light', 'One turn', '--max-new-tokens', '12', '--temperature', '0'];
    const a = cli([...args, '--out', join(dir, 'a.jsonl')]);
    const b = cli(args);
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const lines = readFileSync(join(dir, 'a.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.prompt)).toEqual(['The light', 'One turn']);
    expect(a.stderr).toMatch(/generated \d+ tokens/);
  });

  it('evaluates loss and perplexity on a text file', () => {
    const r = cli(['eval', '--init', INIT, '--data', CORPUS, '--batch-size', '2', '--seq-len', '16', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(result.loss).toBeGreaterThan(4); // a random model over 257 tokens: near ln(257) = 5.55
    expect(result.loss).toBeLessThan(6.5);
    expect(result.perplexity).toBeCloseTo(Math.exp(result.loss), 6);
  });

  it('profiles a training step of a checkpoint by kernel, and writes the dispatches as a Chrome trace', () => {
    const dir = tempDir();
    const trace = join(dir, 'trace.json');
    const r = cli(['profile', '--init', INIT, '--batch-size', '2', '--seq-len', '16', '--steps', '2', '--trace', trace, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ batchSize: 2, seqLen: 16, steps: 2 });
    const calls = (name: string) => result.kernels.find((k: { name: string }) => k.name === name)?.calls;
    // The optimizer runs over the parameter arena's two spans (decayed tensors,
    // the others), not tensor by tensor: two dispatches a step, not 4 + 12 L.
    expect(calls('adamw_update')).toBe(2 * 2);
    expect(calls('gradnorm_partial')).toBe(2 * 2);
    expect(calls('matmul_forward')).toBeGreaterThan(0);
    expect(calls('crossentropy_backward')).toBe(2);
    for (const k of result.kernels) expect(k.totalMs, k.name).toBeGreaterThan(0);
    const events = JSON.parse(readFileSync(trace, 'utf8')).traceEvents.filter((e: { ph: string }) => e.ph === 'X');
    expect(events).toHaveLength(result.kernels.reduce((sum: number, k: { calls: number }) => sum + k.calls, 0));
  });

  it('refuses to profile a sequence longer than the model\'s context', () => {
    const r = cli(['profile', '--init', INIT, '--seq-len', '100000']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--seq-len: 100000 is longer than the model's context of \d+ positions/);
  });

  it('names a missing file', () => {
    const r = cli(['eval', '--init', INIT, '--data', '/nonexistent.txt']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('/nonexistent.txt: no such file');
  });
});
