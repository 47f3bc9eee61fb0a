/**
 * `ppo --resume`: a killed PPO run, resumed, ends on the same policy, value
 * model, optimizer state and metrics, bit for bit, as a run never
 * interrupted; so does one stopped by SIGTERM (a checkpoint, exit code 130); a crash inside a save (policy and value model are one
 * transaction) resumes just as well; and a resume that would not continue
 * the same run is refused, naming why.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { KILL_IN_SAVE_ENV, loadResumeState } from '../../src/cli/run-dir.ts';
import { preferenceJsonl } from '../stages/preferences.ts';
import { cli, cliProcess, ROOT, tempDir } from './cli.ts';

const INIT = join(ROOT, 'test/fixtures/pretrain/init'); // a pretrained GPT-2 in the Hugging Face layout (32 positions)
const CORPUS = join(ROOT, 'test/fixtures/pretrain/corpus.txt');
const STEPS = 6;
/** Files a run must end with, identical to an uninterrupted run's. */
const COMPARED = ['model.safetensors', 'value/model.safetensors', 'optimizer.safetensors', 'metrics.jsonl'];

let common: string[];
let whole: string;

beforeAll(() => {
  const dir = tempDir('ppo-resume-');
  const prefs = join(dir, 'prefs.jsonl');
  writeFileSync(prefs, preferenceJsonl(24, 9, 'Q: '));
  const rm = join(dir, 'rm');
  const r = cli(['reward', '--init', INIT, '--data', prefs, '--out', rm, '--steps', '2', '--batch-size', '6', '--seq-len', '32', '--eval-fraction', '0']);
  expect(r.status, r.stderr).toBe(0);
  const prompts = join(dir, 'prompts.jsonl');
  writeFileSync(prompts, `${['Q: ', 'Hi: ', 'Say: ', 'A: ', 'B: '].map((p) => JSON.stringify({ prompt: p })).join('\n')}\n`);
  // Adaptive KL control (the coefficient is state), two minibatches (seeded
  // orders), PPO-ptx (seeded batches): everything a resume must carry or replay.
  common = ['ppo', '--init', INIT, '--reward-model', rm, '--data', prompts, '--steps', String(STEPS), '--batch-size', '4',
    '--response-length', '8', '--mini-batches', '2', '--ppo-epochs', '2', '--target-kl', '0.01', '--kl-horizon', '40',
    '--ptx-coef', '0.5', '--ptx-data', CORPUS, '--ptx-batch-size', '2', '--save-every', '2', '--seed', '3', '--lr', '3e-4'];
  whole = join(dir, 'whole');
  const w = cli([...common, '--out', whole]);
  expect(w.status, w.stderr).toBe(0);
}, 300_000);

function expectSameRun(dir: string): void {
  for (const file of COMPARED) expect(readFileSync(join(dir, file)).equals(readFileSync(join(whole, file))), file).toBe(true);
  // trainer_state.json too (step, KL coefficient, the files' hashes, the settings), but for the --out it names.
  const state = (d: string) => {
    const s = JSON.parse(readFileSync(join(d, 'trainer_state.json'), 'utf8'));
    return { ...s, config: { ...s.config, out: undefined } };
  };
  expect(state(dir)).toEqual(state(whole));
}

describe('ppo --resume', () => {
  it('continues a killed run to the same policy, value model, moments and metrics, bit for bit', async () => {
    const metrics = readFileSync(join(whole, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(metrics.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // The KL coefficient moved: it is state a resume must restore.
    expect(new Set(metrics.map((m) => m['objective/kl_coef'])).size).toBeGreaterThan(1);

    const killed = join(tempDir(), 'killed');
    const child = cliProcess([...common, '--out', killed]);
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
    expect(stoppedAt).toBeLessThan(STEPS);

    const resumed = cli([...common, '--out', killed, '--resume']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`resumed at step ${stoppedAt} of ${killed}`);
    expectSameRun(killed);
  });

  it('stops on SIGTERM at the next step with a checkpoint, exits 130, and resumes to the same end', async () => {
    const stopped = join(tempDir(), 'stopped');
    const child = cliProcess([...common, '--out', stopped]);
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const stateFile = join(stopped, 'trainer_state.json');
    const poll = setInterval(() => {
      if (existsSync(stateFile)) {
        clearInterval(poll);
        child.kill('SIGTERM');
      }
    }, 5);
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    clearInterval(poll);
    // Stopped, not killed: the signal became a stop between steps, with a checkpoint at that step.
    expect(code, stdout).toBe(130);
    const step = loadResumeState(stopped)!.trainer.step;
    expect(stdout).toContain(`ppo: stopped after ${step} steps`);
    expect(step).toBeLessThan(STEPS);
    const resumed = cli([...common, '--out', stopped, '--resume']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expectSameRun(stopped);
  });

  it('resumes a run killed in the middle of a save (policy moved into place, value model not yet) to the same end', () => {
    const out = join(tempDir(), 'killed');
    // Save 2 (step 4) has 13 files and a manifest staged, then the commit: change 16 is the second file moved into place.
    const k = cli([...common, '--out', out], 300_000, { [KILL_IN_SAVE_ENV]: '2:16' });
    expect(k.status).not.toBe(0);
    expect(k.stderr).toMatch(/killed after change 16 of save 2 \(moved .* into place\)/);
    expect(loadResumeState(out)!.trainer.step).toBe(4);
    const resumed = cli([...common, '--out', out, '--resume']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expectSameRun(out);
  });

  it('refuses a resume that would not continue the same run, and a new run over an old one', () => {
    const again = cli([...common, '--out', whole]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`${whole} already holds a run; pass --resume to continue it`);
    const changed = cli([...common.map((a) => (a === '0.01' ? '0.02' : a)), '--steps', '8', '--out', whole, '--resume']);
    expect(changed.status).toBe(1);
    expect(changed.stderr).toContain('--target-kl: 0.01 → 0.02');
    const done = cli([...common, '--out', whole, '--resume']);
    expect(done.status).toBe(1);
    expect(done.stderr).toContain(`--steps ${STEPS}: the run in ${whole} has already done ${STEPS} steps`);
    const nothing = join(tempDir(), 'none');
    expect(cli([...common, '--out', nothing, '--resume']).stderr).toContain(`${nothing}: nothing to resume`);
    // Refusals leave the run as it was.
    expect(loadResumeState(whole)!.trainer.step).toBe(STEPS);
  });
});
