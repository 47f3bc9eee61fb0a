/**
 * Run directories the training commands can be trusted with: nothing a run
 * finds in --out is overwritten, --resume continues only the very run it
 * names, a refused or failed start writes nothing, and a save killed at any
 * point of it resumes to the weights of a run never interrupted.
 */
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { KILL_IN_SAVE_ENV } from '../../src/cli/run-dir.ts';
import { preferenceJsonl } from '../stages/preferences.ts';
import { cli, ROOT, tempDir } from './cli.ts';

const INIT = join(ROOT, 'test/fixtures/pretrain/init'); // a GPT-2 folder in the Hugging Face layout (32 positions)
const CORPUS = join(ROOT, 'test/fixtures/pretrain/corpus.txt');
const SFT_DATA = join(ROOT, 'test/fixtures/data/sft.jsonl');

/** Every file under `dir` (relative path → bytes), to check a refused command changed nothing. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (sub: string) => {
    for (const name of readdirSync(join(dir, sub))) {
      const rel = join(sub, name);
      if (statSync(join(dir, rel)).isDirectory()) walk(rel);
      else files.set(rel, readFileSync(join(dir, rel)).toString('base64'));
    }
  };
  walk('');
  return files;
}

function expectRefused(r: { status: number | null; stderr: string }, message: string): void {
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr).toContain(message);
}

function metricsSteps(dir: string): number[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; loss?: number })
    .filter((m) => m.loss !== undefined)
    .map((m) => m.step);
}

describe('--out', () => {
  it('refuses a folder that holds a model, config, metrics or run files, or is the --init folder, naming them, and writes nothing', () => {
    const dir = tempDir();
    const hf = join(dir, 'hf');
    cpSync(INIT, hf, { recursive: true });
    const before = snapshot(hf);
    const sft = (init: string, out: string) =>
      cli(['sft', '--init', init, '--data', SFT_DATA, '--out', out, '--steps', '1', '--batch-size', '2', '--seq-len', '32']);

    expectRefused(sft(hf, hf), `--out ${hf} and --init ${hf} are the same folder: the run would overwrite the model it reads; choose another --out`);
    expectRefused(sft(hf, `${hf}/`), `are the same folder`);
    expectRefused(sft(INIT, hf), `${hf} already holds a model or run files (config.json, model.safetensors); choose another --out`);
    expect(snapshot(hf)).toEqual(before);

    // A stage folder of a pipeline run: a model and its metrics, no trainer state.
    const stage = join(dir, 'stage');
    cpSync(INIT, stage, { recursive: true });
    writeFileSync(join(stage, 'metrics.jsonl'), '{"stage":"sft","step":1,"loss":2}\n');
    const stageBefore = snapshot(stage);
    expectRefused(sft(INIT, stage), `${stage} already holds a model or run files (config.json, metrics.jsonl, model.safetensors)`);
    expect(snapshot(stage)).toEqual(stageBefore);

    // Metrics alone (a run killed before its first checkpoint) are a run's too.
    const metricsOnly = join(dir, 'metrics-only');
    cpSync(join(stage, 'metrics.jsonl'), join(metricsOnly, 'metrics.jsonl'));
    expectRefused(sft(INIT, metricsOnly), `${metricsOnly} already holds a model or run files (metrics.jsonl)`);

    // PPO writes its policy and value model: --out may be neither input.
    const prompts = join(dir, 'prompts.jsonl');
    writeFileSync(prompts, '{"prompt":"Q: "}\n');
    const ppo = cli(['ppo', '--init', INIT, '--reward-model', hf, '--data', prompts, '--out', hf, '--response-length', '8']);
    expectRefused(ppo, `--out ${hf} and --reward-model ${hf} are the same folder`);
    expect(snapshot(hf)).toEqual(before);

    // Other files do not make a run: a folder of notes is written into.
    const notes = join(dir, 'notes');
    cpSync(CORPUS, join(notes, 'notes.txt'));
    const ok = sft(INIT, notes);
    expect(ok.status, ok.stderr).toBe(0);
    expect(existsSync(join(notes, 'model.safetensors'))).toBe(true);
  });
});

describe('--resume', () => {
  const dir = tempDir();
  const prefs = join(dir, 'prefs.jsonl');
  const pretrainRun = join(dir, 'pretrain');
  const rewardRun = join(dir, 'reward');
  const pretrainArgs = ['--data', CORPUS, '--batch-size', '2', '--seq-len', '16', '--save-every', '2', '--eval-every', '0', '--log-every', '1'];
  const rewardArgs = ['--init', INIT, '--data', prefs, '--batch-size', '6', '--seq-len', '32', '--eval-fraction', '0'];

  beforeAll(() => {
    writeFileSync(prefs, preferenceJsonl(24, 3, 'Q: '));
    const p = cli(['pretrain', ...pretrainArgs, '--steps', '4', '--out', pretrainRun]);
    expect(p.status, p.stderr).toBe(0);
    const r = cli(['reward', ...rewardArgs, '--steps', '2', '--out', rewardRun]);
    expect(r.status, r.stderr).toBe(0);
  }, 120_000);

  it('refuses another stage\'s run, before writing anything', () => {
    const before = snapshot(rewardRun);
    const r = cli(['pretrain', ...pretrainArgs, '--steps', '8', '--out', rewardRun, '--resume']);
    expectRefused(r, `${rewardRun} holds a run of stage reward, not pretrain; \`pretrain --resume\` cannot continue it (stage reward → pretrain)`);
    expect(snapshot(rewardRun)).toEqual(before); // score.weight and GPT2ForSequenceClassification kept

    const pretrainBefore = snapshot(pretrainRun);
    const s = cli(['reward', ...rewardArgs, '--steps', '8', '--out', pretrainRun, '--resume']);
    expectRefused(s, `${pretrainRun} holds a run of stage pretrain, not reward`);
    expect(snapshot(pretrainRun)).toEqual(pretrainBefore); // run_config.json too
  });

  it('refuses settings that change shapes or batches, naming each (old → new), and --steps not above the steps done', () => {
    const before = snapshot(pretrainRun);
    const changed = cli(['pretrain', ...pretrainArgs, '--steps', '8', '--batch-size', '4', '--model', 'small', '--seed', '7', '--out', pretrainRun, '--resume']);
    expectRefused(changed, `${pretrainRun}: --resume continues the run with the settings it was started with, and these differ:`);
    for (const line of ['--model: tiny → small', '--batch-size: 2 → 4', '--seed: 1337 → 7']) expect(changed.stderr).toContain(line);

    const shuffled = cli(['pretrain', ...pretrainArgs, '--steps', '8', '--no-shuffle', '--eval-data', CORPUS, '--out', pretrainRun, '--resume']);
    expect(shuffled.stderr).toContain('--shuffle: true → false');
    expect(shuffled.stderr).toContain(`--eval-data: (none) → ${CORPUS}`);

    for (const steps of ['4', '3']) {
      const r = cli(['pretrain', ...pretrainArgs, '--steps', steps, '--out', pretrainRun, '--resume']);
      expectRefused(r, `--steps ${steps}: the run in ${pretrainRun} has already done 4 steps; pass a larger --steps to continue it`);
    }
    expect(snapshot(pretrainRun)).toEqual(before);

    // What does not change shapes or batches may change: more steps, another learning rate.
    const more = cli(['pretrain', ...pretrainArgs, '--steps', '6', '--lr', '5e-4', '--out', pretrainRun, '--resume']);
    expect(more.status, more.stderr).toBe(0);
    expect(metricsSteps(pretrainRun)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('a start that fails', () => {
  it('fails before writing anything, so that the same --out can be used again', () => {
    const dir = tempDir();
    const out = join(dir, 'sft');
    const args = ['sft', '--init', INIT, '--data', SFT_DATA, '--out', out, '--steps', '1', '--batch-size', '2'];
    expectRefused(cli([...args, '--seq-len', '64']), `--seq-len: 64 is longer than the model's context of 32 positions (from ${INIT})`);
    expect(existsSync(out)).toBe(false);
    const r = cli([...args, '--seq-len', '32']);
    expect(r.status, r.stderr).toBe(0);

    // PPO: minibatches that do not split the batch, a reward model of another shape.
    const prompts = join(dir, 'prompts.jsonl');
    writeFileSync(prompts, '{"prompt":"Q: "}\n{"prompt":"Hi: "}\n{"prompt":"A: "}\n');
    const rm = join(dir, 'rm');
    const prefs = join(dir, 'prefs.jsonl');
    writeFileSync(prefs, preferenceJsonl(24, 3, 'Q: '));
    const trained = cli(['reward', '--init', INIT, '--data', prefs, '--out', rm, '--steps', '1', '--batch-size', '6', '--seq-len', '32', '--eval-fraction', '0']);
    expect(trained.status, trained.stderr).toBe(0);
    const ppoOut = join(dir, 'ppo');
    const ppo = ['ppo', '--init', out, '--reward-model', rm, '--data', prompts, '--out', ppoOut, '--steps', '1', '--response-length', '8'];
    expectRefused(cli([...ppo, '--batch-size', '3', '--mini-batches', '2']), '--mini-batches 2 must divide --batch-size 3');
    expect(existsSync(ppoOut)).toBe(false);
    const pretrained = join(dir, 'small');
    const p = cli(['pretrain', '--data', CORPUS, '--out', pretrained, '--steps', '1', '--batch-size', '1', '--seq-len', '8', '--eval-fraction', '0']);
    expect(p.status, p.stderr).toBe(0);
    expectRefused(
      cli(['ppo', '--init', pretrained, '--reward-model', rm, '--data', prompts, '--out', ppoOut, '--response-length', '8']),
      `--reward-model ${rm} (n_layer 2, n_head 2, n_embd 32) must have the shape of the --init policy ${pretrained} (n_layer 2, n_head 4, n_embd 64)`,
    );
    expect(existsSync(ppoOut)).toBe(false);

    // The pipeline: settings a later stage cannot run stop it before the first stage writes.
    const config = join(dir, 'pipeline.json');
    writeFileSync(config, JSON.stringify({ sft: { seqLen: 100 }, ppo: { miniBatches: 3 } }));
    const pipelineOut = join(dir, 'pipeline');
    expectRefused(
      cli(['pipeline', '--config', config, '--out', pipelineOut]),
      `${config}: sft.seqLen 100 is longer than the model's context of 80 positions; ppo.miniBatches 3 must divide ppo.batchSize 16`,
    );
    writeFileSync(config, JSON.stringify({ modelOverrides: { nHead: 3 } }));
    expectRefused(cli(['pipeline', '--config', config, '--out', pipelineOut]), `${config}: GPT config: nEmbd (64) must be a multiple of nHead (3)`);
    expect(existsSync(pipelineOut)).toBe(false);
  });
});

describe('a save', () => {
  it('is one transaction: killed after any change of it, the run resumes to the weights of a run never interrupted', () => {
    const common = ['pretrain', '--data', CORPUS, '--steps', '15', '--batch-size', '2', '--seq-len', '16', '--save-every', '5', '--log-every', '1',
      '--eval-every', '5', '--warmup', '3'];
    const whole = join(tempDir(), 'whole');
    const w = cli([...common, '--out', whole]);
    expect(w.status, w.stderr).toBe(0);
    const compared = ['model.safetensors', 'optimizer.safetensors', 'config.json'];

    const points: string[] = [];
    for (let k = 1; k < 40; k++) {
      const out = join(tempDir(), 'killed');
      // Killed in the second save (step 10), after its k-th change on disk.
      const killed = cli([...common, '--out', out], 300_000, { [KILL_IN_SAVE_ENV]: `2:${k}` });
      if (killed.status === 0) break; // that save has fewer changes: every point was tried
      const point = killed.stderr.match(/killed after change \d+ of save 2 \((.*)\)/)?.[1];
      expect(point, killed.stderr).toBeDefined();
      points.push(point!);
      const resumed = cli([...common, '--out', out, '--resume']);
      expect(resumed.status, `killed after ${point}: ${resumed.stderr}`).toBe(0);
      // Before the commit, the run resumes from step 5; from it on, from step 10.
      expect(resumed.stdout, point).toContain(`resumed at step ${points.some((p) => p.startsWith('committed')) ? 10 : 5}`);
      for (const f of compared) expect(readFileSync(join(out, f)).equals(readFileSync(join(whole, f))), `${f}, killed after ${point}`).toBe(true);
      expect(metricsSteps(out), point).toEqual(metricsSteps(whole));
      expect(readdirSync(out).sort(), point).toEqual(readdirSync(whole).sort());
    }
    // Each file and a manifest staged, the commit, each file moved into place, the commit folder removed.
    const files = points.filter((p) => p.startsWith('wrote ')).length - 1;
    expect(files).toBeGreaterThanOrEqual(4); // model, config, optimizer, trainer state (and whatever else a save holds)
    expect(points).toHaveLength(2 * files + 3);
    expect(points[files + 1]).toMatch(/^committed/);
    expect(points.at(-1)).toBe('removed .checkpoint-commit');
  }, 600_000);
});
