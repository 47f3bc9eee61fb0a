import { describe, expect, it } from 'vitest';
import { loadSftExamples } from '../../src/data/formats.ts';
import { sftBatches, tokenizeSft } from '../../src/data/sft.ts';
import { TextTokens } from '../../src/data/text.ts';
import { createTokenizer } from '../../src/tokenizer/index.ts';

const range = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

describe('pretraining batches', () => {
  it('follow llm.c: advance by B·T, take B·T+1, return to the start when too few remain', () => {
    const text = new TextTokens(range(30), 'c.txt'); // B=2,T=4: 8+1 tokens a batch, 3 batches a cycle
    const b0 = text.batch(0, 2, 4);
    expect([...b0.tokens]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect([...b0.targets]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...text.batch(2, 2, 4).tokens]).toEqual([16, 17, 18, 19, 20, 21, 22, 23]);
    // position 24: 24 + 9 > 30, so back to 0
    expect([...text.batch(3, 2, 4).tokens]).toEqual([...b0.tokens]);
  });
  it('name the file when the corpus is too short or empty', () => {
    expect(() => new TextTokens(range(8), 'c.txt').batch(0, 2, 4)).toThrow('c.txt: the corpus has 8 tokens; a batch of 2×4 needs at least 9');
    expect(() => new TextTokens(new Int32Array(0), 'e.txt')).toThrow('e.txt: the file is empty');
  });
  it('shuffle windows by seed, covering every window once per epoch', () => {
    const text = new TextTokens(range(41), 'c.txt'); // 10 windows of 5 at stride 4
    const firsts = (seed: number) =>
      Array.from({ length: 5 }, (_, k) => text.shuffledBatch(k, 2, 4, seed)).flatMap((b) => [b.tokens[0], b.tokens[4]]);
    expect(firsts(1)).toEqual(firsts(1));
    expect(firsts(1)).not.toEqual(firsts(2));
    expect([...firsts(1)].sort((a, b) => a! - b!)).toEqual([0, 4, 8, 12, 16, 20, 24, 28, 32, 36]);
    const b = text.shuffledBatch(0, 1, 4, 1);
    expect(b.targets[0]).toBe(b.tokens[0]! + 1);
  });
  it('hold out the end of the corpus', () => {
    const { train, eval: held } = new TextTokens(range(100), 'c.txt').split(0.1);
    expect(train.length).toBe(90);
    expect(held.tokens[0]).toBe(90);
  });
});

describe('SFT sequences and batches', () => {
  const bytes = createTokenizer('bytes');
  const examples = loadSftExamples(
    ['{"prompt":"Q: 1+1?","completion":" 2"}', '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}', '{"text":"abc"}'].join('\n'),
    'sft.jsonl',
  );

  it('mask the prompt, keep the completion and its EOS', () => {
    const { sequences } = tokenizeSft(examples, bytes, { maxLength: 64 });
    const s = sequences[0]!;
    const text = bytes.decode(s.tokens);
    expect(text).toBe('Q: 1+1? 2');
    expect(s.tokens[s.tokens.length - 1]).toBe(bytes.eosId);
    const trained = [...s.tokens].filter((_, i) => s.trainable[i]);
    expect(trained).toEqual([...bytes.encode(' 2'), bytes.eosId]);
    // chat template: only the assistant's content and its EOS
    const m = sequences[1]!;
    expect(bytes.decode(m.tokens)).toBe('User: hi\nAssistant: yo');
    expect(bytes.decode([...m.tokens].filter((_, i) => m.trainable[i]))).toBe('yo');
  });

  it('train on everything with maskPrompt false, except the first token', () => {
    const { sequences } = tokenizeSft(examples, bytes, { maxLength: 64, maskPrompt: false });
    expect(sequences[0]!.trainable[0]).toBe(0);
    expect([...sequences[0]!.trainable.subarray(1)].every((t) => t === 1)).toBe(true);
  });

  it('report truncation and drop examples with nothing left to learn', () => {
    const r = tokenizeSft(examples, bytes, { maxLength: 8 });
    expect(r.truncated).toBe(2); // "abc" + EOS fits
    // The chat example keeps only "User: hi" and is left out; the prompt/completion
    // one keeps the completion's first byte.
    expect(r.dropped).toBe(1);
    expect(r.sequences.map((s) => s.line)).toEqual([1, 3]);
  });

  it.each(['pad', 'pack'] as const)('batch (%s) with every trainable token a weighted target exactly once', (mode) => {
    const { sequences } = tokenizeSft(examples, bytes, { maxLength: 33 });
    const trainable = sequences.reduce((n, s) => n + s.trainable.reduce((a, b) => a + b, 0), 0);
    const batcher = sftBatches(sequences, 1, 32, bytes.eosId, { mode, seed: 1, shuffle: false });
    let counted = 0;
    for (let k = 0; k < batcher.rowsPerEpoch; k++) {
      const b = batcher.batch(k);
      for (let i = 0; i < 32; i++) {
        if (b.weights![i]) counted++;
        // a weighted target follows its input in the sequence
        if (b.weights![i] && i + 1 < 32 && b.weights![i + 1]) expect(b.tokens[i + 1]).toBe(b.targets[i]);
      }
    }
    if (mode === 'pad') expect(counted).toBe(trainable);
    else expect(counted).toBeLessThanOrEqual(trainable); // the tail that fills no whole row is left for the next epoch
  });

  it('shuffle per epoch by seed', () => {
    const { sequences } = tokenizeSft(examples, bytes, { maxLength: 33 });
    const firsts = (seed: number) => Array.from({ length: 6 }, (_, k) => sftBatches(sequences, 1, 32, 256, { mode: 'pad', seed }).batch(k).tokens[0]);
    expect(firsts(3)).toEqual(firsts(3));
    expect(new Set(firsts(3).slice(0, 3))).toEqual(new Set([81, 85, 97])); // 'Q', 'U', 'a': each example once per epoch
  });
});
