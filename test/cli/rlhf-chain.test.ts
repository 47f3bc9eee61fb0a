/** sft → reward → ppo → eval on the CLI, each stage reading the previous stage's run directory. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { preferenceJsonl } from '../stages/preferences.ts';
import { cli, ROOT, tempDir } from './cli.ts';

const INIT = join(ROOT, 'test/fixtures/pretrain/init'); // a pretrained GPT-2 in the Hugging Face layout (32 positions)

it('chains sft → reward → ppo → eval through run directories, and explains bad inputs', () => {
  const dir = tempDir();
  const run = (args: string[]) => {
    const r = cli(args);
    expect(r.status, `${args[0]}: ${r.stderr.replace(/^Warning.*\n/gm, "")}`).toBe(0);
    return r;
  };
  const sft = join(dir, 'sft');
  run(['sft', '--init', INIT, '--data', join(ROOT, 'test/fixtures/data/sft.jsonl'), '--out', sft, '--steps', '3', '--batch-size', '4', '--seq-len', '32']);
  const prefs = join(dir, 'prefs.jsonl');
  writeFileSync(prefs, preferenceJsonl(24, 9, 'Q: '));
  const rm = join(dir, 'rm');
  run(['reward', '--init', sft, '--data', prefs, '--out', rm, '--steps', '3', '--batch-size', '6', '--seq-len', '32']);
  const prompts = join(dir, 'prompts.jsonl');
  writeFileSync(prompts, `${['Q: ', 'Hi: ', 'Say: ', 'A: '].map((p) => JSON.stringify({ prompt: p })).join('\n')}\n{"prompt":"${'y'.repeat(40)}"}\n`);
  const ppo = join(dir, 'ppo');
  const p = run(['ppo', '--init', sft, '--reward-model', rm, '--data', prompts, '--out', ppo, '--steps', '2', '--batch-size', '4', '--response-length', '8',
    '--mini-batches', '2', '--whiten-rewards', '--ptx-coef', '0.5', '--ptx-data', join(ROOT, 'test/fixtures/pretrain/corpus.txt'), '--ptx-batch-size', '2']);
  expect(p.stdout).toContain(`${prompts}:5: skipped: the prompt takes 40 tokens, more than 24`);
  const metrics = readFileSync(join(ppo, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(metrics).toHaveLength(2);
  for (const name of ['objective/kl', 'objective/entropy', 'objective/scores', 'objective/rlhf_reward', 'objective/non_score_reward',
    'policy/approxkl_avg', 'policy/clipfrac_avg', 'loss/policy_avg', 'loss/value_avg', 'val/clipfrac_avg', 'val/ratio', 'lr']) {
    expect(metrics[1], name).toHaveProperty([name]);
  }
  // PPO-ptx: a pretraining loss near ln(257) for this barely trained model
  expect(metrics[1]['loss/ptx']).toBeGreaterThan(3);
  expect(metrics[1]['loss/ptx']).toBeLessThan(7);
  const samples = join(dir, 'samples.jsonl');
  const e = run(['eval', '--policy', ppo, '--baseline', sft, '--reward-model', rm, '--data', prompts, '--max-new-tokens', '8',
    '--samples', samples, '--json']);
  const report = JSON.parse(e.stdout.trim().split('\n').at(-1)!);
  expect(report.prompts).toBe(4);
  expect(report.skipped).toBe(1); // the 40-token prompt
  expect(report.win_rate).toBeGreaterThanOrEqual(0);
  expect(report.win_rate).toBeLessThanOrEqual(1);
  expect(Number.isFinite(report.kl)).toBe(true);
  expect(readFileSync(samples, 'utf8').trim().split('\n')).toHaveLength(4);

  // A policy where a reward model belongs is refused with the reason.
  const wrong = cli(['ppo', '--init', sft, '--reward-model', sft, '--data', prompts, '--out', join(dir, 'x'), '--steps', '1']);
  expect(wrong.status).toBe(1);
  expect(wrong.stderr).toContain(`${sft}: no score.weight in model.safetensors: not a reward model`);
});
