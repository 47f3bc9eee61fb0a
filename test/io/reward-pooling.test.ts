/**
 * A reward model our `reward` command wrote scores the same in Hugging Face
 * transformers (issue 17): GPT2ForSequenceClassification pools at the last
 * token that is not config.pad_token_id, and our scores are read at each
 * sequence's EOS. The fixture (tools/make_reward_pooling_fixture.py) holds a
 * reward run directory written by our CLI and the scores its PyTorch copy of
 * transformers' forward and pooling gives on right-padded batches.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { decodeModel, encodeModel } from '../../src/io/checkpoint.ts';
import { rewardPadTokenId, sequenceClassificationConfig } from '../../src/io/hf-gpt2.ts';
import { parseSafetensors, tensorToFloat32, tensorToInt32 } from '../../src/io/safetensors.ts';
import { preset } from '../../src/model/config.ts';
import { initParameters } from '../../src/model/params.ts';
import { RewardModel } from '../../src/model/reward-model.ts';
import { createTokenizer } from '../../src/tokenizer/index.ts';
import { expectClose, testGpu } from '../helpers.ts';

const DIR = new URL('../fixtures/reward-pooling/', import.meta.url);

function loadFixture() {
  const configJson = readFileSync(new URL('rm/config.json', DIR), 'utf8');
  const checkpoint = decodeModel(configJson, readFileSync(new URL('rm/model.safetensors', DIR)), 'reward-pooling/rm');
  const { tensors, metadata } = parseSafetensors(readFileSync(new URL('pooling.safetensors', DIR)), 'pooling.safetensors');
  const [B, T] = tensors.get('input_ids')!.shape as [number, number];
  return {
    hfConfig: JSON.parse(configJson) as Record<string, unknown>,
    checkpoint,
    B,
    T,
    padTokenId: JSON.parse(metadata.pad_token_id!) as number,
    eosTokenId: JSON.parse(metadata.eos_token_id!) as number,
    texts: JSON.parse(metadata.texts!) as string[],
    inputIds: tensorToInt32(tensors.get('input_ids')!, 'input_ids'),
    attentionMask: tensorToInt32(tensors.get('attention_mask')!, 'attention_mask'),
    pooled: tensorToFloat32(tensors.get('pooled')!, 'pooled'),
    pooledIfPadIsEos: tensorToFloat32(tensors.get('pooled_if_pad_is_eos')!, 'pooled_if_pad_is_eos'),
  };
}

describe('reward models in transformers (GPT2ForSequenceClassification pooling)', () => {
  const f = loadFixture();
  const bytes = createTokenizer('bytes');
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });
  afterAll(() => gpu?.destroy());

  it('pads with an id other than EOS: a spare id of a padded vocabulary, else EOS - 1', () => {
    expect(rewardPadTokenId(256, 257)).toBe(255); // bytes: 0xFF, never in UTF-8
    expect(rewardPadTokenId(256, 260)).toBe(257);
    expect(rewardPadTokenId(50256, 50257)).toBe(50255); // GPT-2: every id is a token; only the last non-pad one is read
    expect(rewardPadTokenId(50256, 50304)).toBe(50257); // llm.c's padded vocabulary
    expect(() => rewardPadTokenId(0, 1)).toThrow(/no id besides EOS/);
    expect(() => rewardPadTokenId(257, 257)).toThrow(/outside the vocabulary/);
    const config = { ...preset('tiny'), nLayer: 1 };
    // What `reward`, `pipeline`, `ppo` and the demo write for a model with a head (all through encodeModel).
    const viaHead = JSON.parse(encodeModel({ config, params: initParameters(config, 1), head: new Float32Array(config.nEmbd) }, { eosId: bytes.eosId }).config);
    expect(viaHead).toMatchObject(sequenceClassificationConfig(bytes.eosId, config.vocabSize));
    expect(viaHead.pad_token_id).toBe(255);
    // The text never holds it.
    expect(bytes.encode('\u0000\u00ff\uffff\u{10ffff} any text').includes(255)).toBe(false);
  });

  it('the fixture is a reward run of ours, with the pad id our code writes now', () => {
    const { hfConfig } = f;
    expect(hfConfig.architectures).toEqual(['GPT2ForSequenceClassification']);
    expect(hfConfig.pad_token_id).toBe(f.padTokenId);
    expect(f.eosTokenId).toBe(bytes.eosId);
    expect(f.checkpoint.config.vocabSize).toBe(bytes.vocabSize);
    expect(sequenceClassificationConfig(bytes.eosId, f.checkpoint.config.vocabSize)).toMatchObject({ pad_token_id: f.padTokenId });
    expect(f.checkpoint.head?.length).toBe(f.checkpoint.config.nEmbd);
    // Rows: the text's bytes, EOS, then pad ids where the attention mask is 0.
    for (let b = 0; b < f.B; b++) {
      const row = f.inputIds.subarray(b * f.T, (b + 1) * f.T);
      const mask = f.attentionMask.subarray(b * f.T, (b + 1) * f.T);
      const text = [...bytes.encode(f.texts[b]!), bytes.eosId];
      expect([...row.subarray(0, text.length)]).toEqual(text);
      expect([...row.subarray(text.length)].every((id) => id === f.padTokenId)).toBe(true);
      expect([...mask]).toEqual(Array.from({ length: f.T }, (_, t) => (t < text.length ? 1 : 0)));
    }
    // Sequences of different lengths, one of them unpadded.
    const lengths = f.texts.map((t) => bytes.encode(t).length + 1);
    expect(new Set(lengths).size).toBe(f.B);
    expect(Math.max(...lengths)).toBe(f.T);
  });

  it('our scores at each EOS equal transformers’ pooled scores within 1e-4, whatever fills the padding', async () => {
    const { checkpoint } = f;
    const rm = new RewardModel(gpu, checkpoint.config, f.B, f.T);
    try {
      rm.setParameters(checkpoint.params, checkpoint.head!);
      const last = Int32Array.from({ length: f.B }, (_, b) => f.attentionMask.subarray(b * f.T, (b + 1) * f.T).lastIndexOf(1));
      for (let b = 0; b < f.B; b++) expect(f.inputIds[b * f.T + last[b]!]).toBe(bytes.eosId);

      const asTransformers = await rm.rewards(f.inputIds, last);
      expectClose(asTransformers, f.pooled, 'scores, batch padded with pad_token_id', { atol: 1e-4, rtol: 0 });
      // Our own batches pad with EOS; causal attention keeps the score at EOS the same.
      const eosPadded = f.inputIds.map((id, i) => (f.attentionMask[i] ? id : bytes.eosId));
      const ours = await rm.rewards(eosPadded, last);
      expectClose(ours, f.pooled, 'scores, batch padded with EOS', { atol: 1e-4, rtol: 0 });
      // The fixture tells the conventions apart: pad = EOS pools one token early.
      const gap = Math.max(...Array.from(ours, (r, b) => Math.abs(r - f.pooledIfPadIsEos[b]!)));
      expect(gap).toBeGreaterThan(1e-2);
    } finally {
      rm.destroy();
    }
  }, 60_000);
});
