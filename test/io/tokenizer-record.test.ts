/**
 * A checkpoint saves its tokenizer's Hugging Face files in the same
 * transaction as the weights: a crash at any point of a save leaves the
 * tokenizer of the step the folder holds, never another save's; a save with
 * another tokenizer removes the files the new one does not have.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadModel, saveCheckpoint, setSaveFaultHook, type CheckpointToSave } from '../../src/cli/run-dir.ts';
import { recordedTokenizer } from '../../src/cli/tokenizer-choice.ts';
import { preset } from '../../src/model/config.ts';
import { initParameters } from '../../src/model/params.ts';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'tok-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

// A padded vocabulary, so that the EOS id is not the last id.
const config = { ...preset('tiny'), nLayer: 1, vocabSize: 260 };

describe('a checkpoint with its tokenizer', () => {
  it('holds the tokenizer files beside the model, and config.json names the tokenizer\'s EOS', () => {
    const dir = tempDir();
    saveCheckpoint(dir, { config, params: initParameters(config, 1), tokenizer: 'bytes' });
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
    expect(recordedTokenizer(dir)).toBe('bytes');
    const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(json).toMatchObject({ vocab_size: 260, eos_token_id: 256, bos_token_id: 256 });
    expect(JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')).model_max_length).toBe(config.nPositions);
    expect(loadModel(dir).config).toEqual(config);
  });

  it("keeps a reward model's pad_token_id from its own config keys", () => {
    const dir = tempDir();
    const score = new Float32Array(config.nEmbd).fill(0.5);
    saveCheckpoint(dir, { config, params: initParameters(config, 2), head: score, tokenizer: 'bytes' });
    const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(json.eos_token_id).toBe(256);
    expect(typeof json.pad_token_id).toBe('number');
    expect(loadModel(dir).head).toEqual(score);
  });

  it('has no record where a save names no tokenizer (a foreign Hugging Face folder)', () => {
    const dir = tempDir();
    saveCheckpoint(dir, { config, params: initParameters(config, 3) });
    expect(recordedTokenizer(dir)).toBeNull();
  });

  it('killed after any change of a save, the folder holds the tokenizer of the step it holds', () => {
    const big = { ...config, nEmbd: 8, nHead: 2, vocabSize: 50304 }; // GPT-2's vocabulary padded as llm.c pads it
    const a = initParameters(big, 4);
    const b = initParameters(big, 5);
    const first: CheckpointToSave = { config: big, params: a, tokenizer: 'gpt2' };
    const second: CheckpointToSave = { config: big, params: b, tokenizer: 'bytes' };
    const wte = (p: ReadonlyMap<string, Float32Array>) => p.get('wte.weight')![0];
    let points = 0;
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
      if (crashed === null) break;
      points++;
      // Whichever step the model is, the tokenizer is that step's.
      const params = loadModel(dir).params;
      const isSecond = wte(params) === wte(b);
      expect(isSecond || wte(params) === wte(a), crashed).toBe(true);
      expect(recordedTokenizer(dir), crashed).toBe(isSecond ? 'bytes' : 'gpt2');
      rmSync(dir, { recursive: true, force: true });
    }
    expect(points).toBeGreaterThan(10);
    // Completed, the bytes save leaves none of GPT-2's files behind.
    const dir = tempDir();
    saveCheckpoint(dir, first);
    expect(existsSync(join(dir, 'vocab.json'))).toBe(true);
    saveCheckpoint(dir, second);
    expect(existsSync(join(dir, 'vocab.json'))).toBe(false);
    expect(existsSync(join(dir, 'merges.txt'))).toBe(false);
    expect(recordedTokenizer(dir)).toBe('bytes');
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).eos_token_id).toBe(256);
  });
});
