/**
 * `webgpu-rlhf pretrain` end to end: parity with PyTorch from a Hugging Face
 * folder, and a killed run resumed to the same weights as an uninterrupted one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, loadResumeState } from '../../src/cli/run-dir.ts';
import { paramsFromHF } from '../../src/io/hf-gpt2.ts';
import { parseSafetensors, tensorToFloat32 } from '../../src/io/safetensors.ts';
import { relativeError } from '../helpers.ts';
import { cli, cliProcess, ROOT, tempDir } from './cli.ts';

const FIXTURE = join(ROOT, 'test/fixtures/pretrain');

function metricsOf(dir: string): { step: number; loss?: number }[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe('pretrain', () => {
  it('from a PyTorch-saved Hugging Face GPT-2 matches torch.optim.AdamW on llm.c batches', () => {
    const { tensors, metadata } = parseSafetensors(readFileSync(join(FIXTURE, 'expected.safetensors')), 'expected');
    const a = JSON.parse(metadata.args!) as { batch_size: number; seq_len: number; steps: number; lr: number };
    const out = tempDir();
    const r = cli([
      'pretrain', '--init', join(FIXTURE, 'init'), '--data', join(FIXTURE, 'corpus.txt'), '--tokenizer', 'bytes',
      '--no-shuffle', '--lr-schedule', 'constant', '--warmup', '0', '--grad-clip', '0', '--weight-decay', '0',
      '--batch-size', String(a.batch_size), '--seq-len', String(a.seq_len), '--steps', String(a.steps), '--lr', String(a.lr),
      '--eval-fraction', '0', '--log-every', '1', '--out', out,
    ]);
    expect(r.status, r.stderr).toBe(0);

    const expectedLosses = tensorToFloat32(tensors.get('losses')!, 'losses');
    const losses = metricsOf(out).filter((m) => m.loss !== undefined).map((m) => m.loss!);
    expect(losses).toHaveLength(a.steps);
    losses.forEach((l, i) => expect(Math.abs(l - expectedLosses[i]!), `loss of step ${i + 1}`).toBeLessThan(1e-4));

    const got = loadModel(out);
    const finals = new Map([...tensors].filter(([n]) => n.startsWith('final.')).map(([n, t]) => [n.slice(6), t]));
    const expected = paramsFromHF(finals, got.config, 'expected final').params;
    for (const [name, w] of expected) {
      const err = relativeError(got.params.get(name)!, w);
      // AdamW turns f32 rounding in near-zero gradients into visible steps (see test/helpers.ts).
      expect(err, `${name}: relative error ${err}`).toBeLessThan(1e-3);
    }
  });

  it('resumes a killed run to the same weights, bit for bit, as a run never interrupted', async () => {
    const common = ['--data', join(FIXTURE, 'corpus.txt'), '--steps', '40', '--batch-size', '2', '--seq-len', '16',
      '--save-every', '5', '--log-every', '1', '--eval-every', '10', '--warmup', '3'];
    const whole = tempDir();
    expect(cli(['pretrain', ...common, '--out', whole]).status).toBe(0);

    const killed = tempDir();
    const child = cliProcess(['pretrain', ...common, '--out', killed]);
    const stateFile = join(killed, 'trainer_state.json');
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        if (existsSync(stateFile)) {
          clearInterval(poll);
          child.kill('SIGKILL');
          resolve();
        }
      }, 5);
      child.on('exit', () => {
        clearInterval(poll);
        reject(new Error('the run ended before it could be killed'));
      });
    });
    await new Promise((r) => child.on('exit', r));
    const stoppedAt = loadResumeState(killed)!.trainer.step;
    expect(stoppedAt).toBeLessThan(40);

    const resumed = cli(['pretrain', ...common, '--out', killed, '--resume']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(readFileSync(join(killed, 'model.safetensors')).equals(readFileSync(join(whole, 'model.safetensors')))).toBe(true);
    expect(readFileSync(join(killed, 'optimizer.safetensors')).equals(readFileSync(join(whole, 'optimizer.safetensors')))).toBe(true);
    // The metrics log reads as one run: every step once.
    const steps = metricsOf(killed).filter((m) => m.loss !== undefined).map((m) => m.step);
    expect(steps).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('refuses to overwrite a run, and to resume where there is none', () => {
    const out = tempDir();
    const args = ['pretrain', '--data', join(FIXTURE, 'corpus.txt'), '--steps', '1', '--batch-size', '1', '--seq-len', '8', '--out', out];
    expect(cli(args).status).toBe(0);
    const again = cli(args);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`${out} already holds a run; pass --resume`);
    const fresh = tempDir();
    const r = cli([...args.slice(0, -1), fresh, '--resume']);
    expect(r.stderr).toContain(`${fresh}: nothing to resume`);
  });
});
