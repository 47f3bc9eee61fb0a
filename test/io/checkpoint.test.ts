import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadModel, loadResumeState, saveCheckpoint, setSaveFaultHook, VALUE_DIR, type CheckpointToSave } from '../../src/cli/run-dir.ts';
import { decodeModel, decodeModelFiles, decodeOptimizer, encodeModel, encodeOptimizer } from '../../src/io/checkpoint.ts';
import { parseSafetensors } from '../../src/io/safetensors.ts';
import { preset } from '../../src/model/config.ts';
import { initParameters } from '../../src/model/params.ts';

const config = { ...preset('tiny'), nLayer: 1 };
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'ckpt-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function expectBitIdentical(a: ReadonlyMap<string, Float32Array>, b: ReadonlyMap<string, Float32Array>): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [name, x] of a) expect(Buffer.from(b.get(name)!.buffer).equals(Buffer.from(x.buffer)), name).toBe(true);
}

describe('checkpoints', () => {
  it('round-trip weights bit-identically through config.json + model.safetensors', () => {
    const params = initParameters(config, 3);
    const { config: json, model } = encodeModel({ config, params });
    const back = decodeModel(json, model, 'mem');
    expect(back.config).toEqual(config);
    expectBitIdentical(params, back.params);
    expect(JSON.parse(json)).toMatchObject({ architectures: ['GPT2LMHeadModel'], n_layer: 1, n_embd: 64, vocab_size: 257 });
  });

  it('round-trip optimizer state', () => {
    const m = initParameters(config, 4);
    const v = initParameters(config, 5);
    const back = decodeOptimizer(encodeOptimizer({ m, v, step: 17 }), 'opt');
    expect(back.step).toBe(17);
    expectBitIdentical(m, back.m);
    expectBitIdentical(v, back.v);
  });

  it('are written atomically into a run directory and read back', () => {
    const dir = tempDir();
    const params = initParameters(config, 6);
    const state = { m: params, v: params, step: 3 };
    saveCheckpoint(dir, { config, params, optimizer: state, trainerState: { step: 3, stage: 'pretrain', config: {} } });
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'optimizer.safetensors', 'trainer_state.json']);
    expectBitIdentical(params, loadModel(dir).params);
    expect(loadResumeState(dir)!.trainer.step).toBe(3);
  });

  it("write a reward model's trunk under transformer. beside score.weight, as transformers 4.x requires, and read it back", () => {
    const params = initParameters(config, 12);
    const score = new Float32Array(config.nEmbd).map((_, i) => i / 100);
    const { config: json, model } = encodeModel({ config, params, head: score });
    const names = [...parseSafetensors(model, 'rm').tensors.keys()];
    expect(names.filter((n) => n !== 'score.weight').every((n) => n.startsWith('transformer.'))).toBe(true);
    expect(names).toContain('score.weight');
    const back = decodeModel(json, model, 'rm');
    expectBitIdentical(params, back.params);
    expect(back.head).toEqual(score);
    // A language model keeps the hub's gpt2 names.
    expect([...parseSafetensors(encodeModel({ config, params }).model, 'lm').tensors.keys()].some((n) => n.startsWith('transformer.'))).toBe(false);
  });

  it('name the folder and file when one is missing or truncated', () => {
    const dir = tempDir();
    expect(() => loadModel(dir)).toThrow(`${dir}: no config.json`);
    saveCheckpoint(dir, { config, params: initParameters(config, 7) });
    const path = join(dir, 'model.safetensors');
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 100));
    expect(() => loadModel(dir)).toThrow(new RegExp(`${dir}/model.safetensors: truncated`));
    expect(existsSync(join(dir, 'trainer_state.json'))).toBe(false);
    expect(loadResumeState(dir)).toBeNull();
  });

  it('reject a config.json whose shapes do not match the weights', () => {
    const dir = tempDir();
    saveCheckpoint(dir, { config, params: initParameters(config, 8) });
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, n_embd: 32, n_head: 4 }));
    expect(() => loadModel(dir)).toThrow(/model.safetensors: tensor wte.weight has shape \[257,64\] but the config .* needs \[257,32\]/);
  });
});

describe('a checkpoint save is one transaction', () => {
  const RESUMABLE = ['config.json', 'model.safetensors', 'optimizer.safetensors', 'trainer_state.json'];
  const a = initParameters(config, 10);
  const b = initParameters(config, 11);
  const resumable = (params: Map<string, Float32Array>, step: number): CheckpointToSave => ({
    config,
    params,
    optimizer: { m: params, v: initParameters(config, 100 + step), step },
    trainerState: { step, stage: 'pretrain', config: {} },
  });

  /** Saves `first`, then `second` crashing (a throwing hook) after its k-th change on disk, for every k. */
  function crashEverywhere(first: CheckpointToSave, second: CheckpointToSave, check: (dir: string, what: string, committed: boolean) => void): string[] {
    const points: string[] = [];
    for (let k = 1; k < 100; k++) {
      const dir = tempDir();
      saveCheckpoint(dir, first);
      let crashed: string | null = null;
      setSaveFaultHook((point, what) => {
        if (point === k) {
          crashed = what;
          throw new Error('crash');
        }
      });
      try {
        saveCheckpoint(dir, second);
      } catch (e) {
        expect((e as Error).message).toBe('crash');
      } finally {
        setSaveFaultHook(null);
      }
      if (crashed === null) return points; // the save has fewer than k changes: every point was tried
      points.push(crashed);
      check(dir, crashed, points.some((p) => p.startsWith('committed')));
      // The next save completes or drops what the crash left, and leaves a clean folder.
      saveCheckpoint(dir, resumable(a, 9));
      expect(readdirSync(dir).sort(), crashed).toEqual(RESUMABLE);
      expect(loadResumeState(dir)!.trainer.step).toBe(9);
      expectBitIdentical(a, loadModel(dir).params);
    }
    throw new Error('a save with 100 changes?');
  }

  it('killed after any change of a save, the folder holds the previous step or the new one, whole', () => {
    const points = crashEverywhere(resumable(a, 1), resumable(b, 2), (dir, what, committed) => {
      const resume = loadResumeState(dir)!;
      const step = committed ? 2 : 1;
      expect(resume.trainer.step, what).toBe(step);
      expect(resume.optimizer.step, what).toBe(step);
      expectBitIdentical(committed ? b : a, loadModel(dir).params);
      expectBitIdentical(committed ? b : a, resume.optimizer.m);
      expectBitIdentical(initParameters(config, 100 + step), resume.optimizer.v);
    });
    // 4 files and a manifest staged, the commit, 4 files moved into place, the commit folder removed
    expect(points).toHaveLength(11);
    expect(points[5]).toMatch(/^committed/);
  });

  it('a save without optimizer state removes the earlier step\'s, in the same transaction', () => {
    const points = crashEverywhere(resumable(a, 1), { config, params: b }, (dir, what, committed) => {
      if (committed) {
        expect(loadResumeState(dir), what).toBeNull();
        expectBitIdentical(b, loadModel(dir).params);
      } else {
        expect(loadResumeState(dir)!.trainer.step, what).toBe(1);
        expectBitIdentical(a, loadModel(dir).params);
      }
    });
    expect(points.filter((p) => p.startsWith('removed the earlier step'))).toHaveLength(2);
  });

  it('a PPO save holds the value model in value/ in the same transaction: policy, value model and moments are of one step', () => {
    const withValue = (policy: Map<string, Float32Array>, value: Map<string, Float32Array>, step: number): CheckpointToSave => ({
      ...resumable(policy, step),
      trainerState: { step, stage: 'ppo', config: {}, klCoef: step / 10 },
      value: { config, params: value },
    });
    const points = crashEverywhere(withValue(a, b, 1), withValue(b, a, 2), (dir, what, committed) => {
      const resume = loadResumeState(dir)!;
      expect(resume.trainer.step, what).toBe(committed ? 2 : 1);
      expect(resume.trainer.klCoef, what).toBe(committed ? 0.2 : 0.1);
      expectBitIdentical(committed ? b : a, loadModel(dir).params);
      expectBitIdentical(committed ? a : b, loadModel(dir, VALUE_DIR).params);
    });
    // 6 files and a manifest staged, the commit, 6 files moved into place, the commit folder removed;
    // the last save of crashEverywhere (no value model) removes value/ whole.
    expect(points).toHaveLength(15);
    expect(points).toContain('moved value/model.safetensors into place');
    const dir = tempDir();
    saveCheckpoint(dir, withValue(a, b, 1));
    expect(readdirSync(join(dir, VALUE_DIR)).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(Object.keys(JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8')).files).sort()).toEqual([
      'model.safetensors',
      'optimizer.safetensors',
      'value/config.json',
      'value/model.safetensors',
    ]);
    // A value model of another save is refused like the policy's.
    const other = tempDir();
    saveCheckpoint(other, withValue(a, a, 1));
    copyFileSync(join(other, VALUE_DIR, 'model.safetensors'), join(dir, VALUE_DIR, 'model.safetensors'));
    expect(() => loadResumeState(dir)).toThrow(/value\/model.safetensors is not the file trainer_state.json \(step 1\) was saved with/);
  });

  it('a resume refuses weights or optimizer state of another save', () => {
    const one = tempDir();
    const two = tempDir();
    saveCheckpoint(one, resumable(a, 1));
    saveCheckpoint(two, resumable(b, 2));
    copyFileSync(join(two, 'model.safetensors'), join(one, 'model.safetensors'));
    expect(() => loadResumeState(one)).toThrow(
      `${one}/model.safetensors is not the file trainer_state.json (step 1) was saved with (its SHA-256 differs): the run directory mixes files of different saves; cannot resume`,
    );
    const three = tempDir();
    saveCheckpoint(three, resumable(a, 1));
    copyFileSync(join(two, 'optimizer.safetensors'), join(three, 'optimizer.safetensors'));
    expect(() => loadResumeState(three)).toThrow(/optimizer.safetensors is not the file trainer_state.json \(step 1\) was saved with/);
  });
});

describe('checkpoints from browser files', () => {
  it('load from File objects, and say which file is missing', async () => {
    const params = initParameters(config, 9);
    const { config: json, model } = encodeModel({ config, params });
    const files = [new File([json], 'config.json'), new File([new Uint8Array(model)], 'model.safetensors')];
    expectBitIdentical(params, (await decodeModelFiles(files, 'upload')).params);
    await expect(decodeModelFiles(files.slice(1), 'upload')).rejects.toThrow('upload: no config.json among model.safetensors');
  });
});
