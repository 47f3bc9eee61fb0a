import { describe, expect, it } from 'vitest';
import { TextTokens } from '../../src/data/text.ts';

const range = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

/** llm.c's DataLoader (train_gpt2.c) as written there: state carried from batch to batch. */
function* llmcBatches(tokens: Int32Array, B: number, T: number) {
  let position = 0;
  for (;;) {
    if (position + B * T + 1 > tokens.length) position = 0;
    const batch = tokens.slice(position, position + B * T + 1);
    position += B * T;
    yield { tokens: batch.slice(0, B * T), targets: batch.slice(1) };
  }
}

describe('pretraining batches under the llm.c rule (--no-shuffle)', () => {
  it('advance by B·T, take B·T+1 tokens, and return to the start when too few remain (hand-checked)', () => {
    const text = new TextTokens(range(30), 'c.txt'); // B=2, T=4: 9 tokens a batch
    const b0 = text.batch(0, 2, 4);
    expect([...b0.tokens]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]); // rows (0..3), (4..7)
    expect([...b0.targets]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...text.batch(1, 2, 4).tokens]).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
    const b2 = text.batch(2, 2, 4);
    expect([...b2.tokens]).toEqual([16, 17, 18, 19, 20, 21, 22, 23]);
    expect([...b2.targets]).toEqual([17, 18, 19, 20, 21, 22, 23, 24]);
    // position 24: 24 + 9 > 30, so back to 0
    expect([...text.batch(3, 2, 4).tokens]).toEqual([...b0.tokens]);
    expect([...text.batch(4, 2, 4).targets]).toEqual([9, 10, 11, 12, 13, 14, 15, 16]);
  });

  it('use the last token when it is exactly the final target', () => {
    const text = new TextTokens(range(25), 'c.txt'); // 24 + 1: three whole batches
    expect([...text.batch(2, 2, 4).targets].at(-1)).toBe(24);
    expect([...text.batch(3, 2, 4).tokens]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("match llm.c's stateful loop for many corpus and batch sizes", () => {
    for (const N of [9, 10, 16, 17, 18, 33, 50, 101])
      for (const [B, T] of [[1, 1], [1, 8], [2, 4], [4, 2], [3, 5], [1, 16]] as const) {
        if (N < B * T + 1) continue;
        const text = new TextTokens(range(N), 'c.txt');
        const loop = llmcBatches(text.tokens, B, T);
        for (let k = 0; k < 40; k++) {
          const expected = loop.next().value!;
          const got = text.batch(k, B, T);
          expect([...got.tokens], `N=${N} B=${B} T=${T} k=${k}`).toEqual([...expected.tokens]);
          expect([...got.targets]).toEqual([...expected.targets]);
        }
      }
  });

  it('name the file when the corpus is too short for one batch, or empty', () => {
    expect(() => new TextTokens(range(8), 'c.txt').batch(0, 2, 4)).toThrow('c.txt: the corpus has 8 tokens; a batch of 2×4 needs at least 9');
    expect(() => new TextTokens(range(8), 'c.txt').shuffledBatch(0, 2, 4, 1)).toThrow('c.txt: the corpus has 8 tokens; a batch of 2×4 needs at least 9');
    expect(() => new TextTokens(new Int32Array(0), 'e.txt')).toThrow('e.txt: the file is empty');
  });

  it('reject bad sizes and steps', () => {
    const text = new TextTokens(range(30), 'c.txt');
    expect(() => text.batch(0, 0, 4)).toThrow('B must be a positive integer, got 0');
    expect(() => text.batch(0, 2, 1.5)).toThrow('T must be a positive integer, got 1.5');
    expect(() => text.batch(-1, 2, 4)).toThrow('the batch index must be a non-negative integer, got -1');
  });
});

describe('shuffled pretraining batches', () => {
  const text = new TextTokens(range(43), 'c.txt'); // T=4: 10 windows of 5 tokens at stride 4, tokens 41 and 42 left out
  const windowStarts = (seed: number, batches: number, B = 2) =>
    Array.from({ length: batches }, (_, k) => text.shuffledBatch(k, B, 4, seed)).flatMap((b) =>
      Array.from({ length: B }, (_, r) => b.tokens[r * 4]!),
    );

  it('are windows of T+1 consecutive tokens: inputs the first T, targets the last T', () => {
    const b = text.shuffledBatch(3, 2, 4, 9);
    for (let r = 0; r < 2; r++) {
      const start = b.tokens[r * 4]!;
      expect(start % 4).toBe(0);
      expect([...b.tokens.subarray(r * 4, r * 4 + 4)]).toEqual([start, start + 1, start + 2, start + 3]);
      expect([...b.targets.subarray(r * 4, r * 4 + 4)]).toEqual([start + 1, start + 2, start + 3, start + 4]);
    }
  });

  it('are the same for the same seed and differ for another', () => {
    expect(windowStarts(1, 5)).toEqual(windowStarts(1, 5));
    expect(windowStarts(1, 5)).not.toEqual(windowStarts(2, 5));
  });

  it('cover every window exactly once per epoch (every token but the first a target once), in a new order each epoch', () => {
    // 10 windows, B=3: epochs end inside batches, which must not matter
    const starts = windowStarts(7, 10, 3);
    const all = [0, 4, 8, 12, 16, 20, 24, 28, 32, 36];
    const epochs = [starts.slice(0, 10), starts.slice(10, 20), starts.slice(20, 30)];
    for (const e of epochs) expect([...e].sort((a, b) => a - b)).toEqual(all);
    expect(epochs[0]).not.toEqual(epochs[1]);
  });

  it('give batch k as a pure function of (k, seed): the same in any call order', () => {
    const inOrder = Array.from({ length: 8 }, (_, k) => text.shuffledBatch(k, 3, 4, 11));
    const other = new TextTokens(range(43), 'c.txt');
    for (const k of [7, 0, 5, 5, 2, 6]) expect(other.shuffledBatch(k, 3, 4, 11)).toEqual(inOrder[k]);
    // interleaving seeds and shapes doesn't disturb the cached order
    expect(other.shuffledBatch(1, 2, 4, 3)).toEqual(text.shuffledBatch(1, 2, 4, 3));
    expect(other.shuffledBatch(4, 3, 4, 11)).toEqual(inOrder[4]);
  });
});

describe('held-out split', () => {
  it('holds out the end of the corpus, deterministically', () => {
    const { train, eval: held } = new TextTokens(range(100), 'c.txt').split(0.1);
    expect(train.length).toBe(90);
    expect([...train.tokens.subarray(-1)]).toEqual([89]);
    expect(held.length).toBe(10);
    expect(held.tokens[0]).toBe(90);
    expect(held.source).toBe('c.txt (held-out last 10%)');
  });

  it('names the held-out part when it is too short for a batch', () => {
    const { eval: held } = new TextTokens(range(100), 'c.txt').split(0.05);
    expect(() => held.batch(0, 2, 4)).toThrow('c.txt (held-out last 5%): the corpus has 5 tokens; a batch of 2×4 needs at least 9');
  });

  it.each([0, 1, -0.1, 1.5, Number.NaN])('rejects the fraction %s', (f) => {
    expect(() => new TextTokens(range(100), 'c.txt').split(f)).toThrow('c.txt: the held-out fraction must be between 0 and 1 (exclusive)');
  });

  it('rejects a split that leaves one side empty', () => {
    expect(() => new TextTokens(range(1), 'c.txt').split(0.1)).toThrow('c.txt: holding out 0.1 of 1 tokens leaves no tokens on one side');
    expect(() => new TextTokens(range(100), 'c.txt').split(1e-20)).toThrow('c.txt: holding out 1e-20 of 100 tokens leaves no tokens on one side');
  });
});
