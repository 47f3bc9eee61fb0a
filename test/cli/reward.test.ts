import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSafetensors } from '../../src/io/safetensors.ts';
import { preferenceJsonl } from '../stages/preferences.ts';
import { cli, ROOT, tempDir } from './cli.ts';

const INIT = join(ROOT, 'test/fixtures/pretrain/init'); // stands in for an SFT run: an HF GPT-2 folder
const common = ['--steps', '6', '--batch-size', '6', '--seq-len', '32', '--log-every', '3', '--eval-every', '3'];

describe('reward', () => {
  it('writes a GPT2ForSequenceClassification run that a second reward run continues', () => {
    const dir = tempDir();
    const data = join(dir, 'prefs.jsonl');
    writeFileSync(data, preferenceJsonl(40, 5, 'Q: '));
    const first = join(dir, 'rm1');
    const r = cli(['reward', '--init', INIT, '--data', data, '--out', first, ...common]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/training: \d+ prompts, \d+ responses, \d+ comparisons/);
    const config = JSON.parse(readFileSync(join(first, 'config.json'), 'utf8'));
    // pad_token_id is not EOS (256), so transformers pools at the EOS where our score is read (issue 17).
    expect(config).toMatchObject({ architectures: ['GPT2ForSequenceClassification'], num_labels: 1, n_embd: 32, pad_token_id: 255 });
    const { tensors } = parseSafetensors(readFileSync(join(first, 'model.safetensors')));
    expect(tensors.get('score.weight')!.shape).toEqual([1, 32]);
    const metrics = readFileSync(join(first, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(Object.keys(metrics[0])).toEqual(
      expect.arrayContaining(['stage', 'step', 'loss', 'accuracy', 'margin', 'reward_chosen', 'reward_rejected', 'lr', 'grad_norm']),
    );
    expect(metrics.some((m) => m.eval_accuracy !== undefined)).toBe(true);

    const again = cli(['reward', '--init', first, '--data', data, '--out', join(dir, 'rm2'), ...common]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain('continuing the reward head');
  });

  it('stops on bad comparisons before training, and reports groups too long to fit', () => {
    const dir = tempDir();
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"prompt":"p","chosen":"a","rejected":"b"}\n{"prompt":"p","ranking":["only one"]}\n');
    const r = cli(['reward', '--init', INIT, '--data', bad, '--out', join(dir, 'x'), ...common]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${bad}:2: "ranking" needs at least 2 responses to compare`);

    const long = join(dir, 'long.jsonl');
    writeFileSync(long, `${preferenceJsonl(20, 6, 'Q: ')}{"prompt":"${'x'.repeat(60)}","chosen":"a","rejected":"b"}\n`);
    const s = cli(['reward', '--init', INIT, '--data', long, '--out', join(dir, 'y'), ...common, '--eval-fraction', '0']);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/long.jsonl:21: skipped: prompt and response take 62 tokens, more than the sequence length 32/);
  });
});
