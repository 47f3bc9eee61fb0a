/** Pretraining batches from one tokenized corpus. */
import type { Batch } from '../model/gpt.ts';
import { epochPermutation } from './sft.ts';

export class TextTokens {
  constructor(
    readonly tokens: Int32Array,
    readonly source: string,
  ) {
    if (tokens.length === 0) throw new Error(`${source}: the file is empty`);
  }

  get length(): number {
    return this.tokens.length;
  }

  private check(B: number, T: number, what: string): void {
    if (this.tokens.length < B * T + 1) {
      throw new Error(
        `${this.source}: the ${what} has ${this.tokens.length} tokens; a batch of ${B}×${T} needs at least ${B * T + 1}`,
      );
    }
  }

  /**
   * Batch k under llm.c's DataLoader rule (--no-shuffle): a position starts at
   * 0 and advances by B·T per batch; each batch takes the B·T+1 tokens from
   * there (inputs the first B·T, targets the same shifted by one); when fewer
   * than B·T+1 tokens remain, the position first returns to 0. So the batches
   * cycle every floor((N-1)/(B·T)) steps.
   */
  batch(k: number, B: number, T: number): Batch {
    this.check(B, T, 'corpus');
    const perCycle = Math.floor((this.tokens.length - 1) / (B * T));
    const start = (k % perCycle) * B * T;
    return {
      tokens: this.tokens.slice(start, start + B * T),
      targets: this.tokens.slice(start + 1, start + B * T + 1),
    };
  }

  /**
   * Batch k of seeded shuffling: the corpus cut into windows of T+1 tokens at
   * stride T (every token is a target once per epoch), visited in a new seeded
   * order each epoch.
   */
  shuffledBatch(k: number, B: number, T: number, seed: number): Batch {
    this.check(B, T, 'corpus');
    const windows = Math.floor((this.tokens.length - 1) / T);
    const tokens = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    let epoch = -1;
    let order: Int32Array = new Int32Array(0);
    for (let r = 0; r < B; r++) {
      const index = k * B + r;
      const e = Math.floor(index / windows);
      if (e !== epoch) {
        order = epochPermutation(windows, seed, e);
        epoch = e;
      }
      const start = order[index % windows]! * T;
      tokens.set(this.tokens.subarray(start, start + T), r * T);
      targets.set(this.tokens.subarray(start + 1, start + T + 1), r * T);
    }
    return { tokens, targets };
  }

  /** The last `fraction` of the corpus held out for evaluation; training keeps the rest. */
  split(fraction: number): { train: TextTokens; eval: TextTokens } {
    const cut = Math.floor(this.tokens.length * (1 - fraction));
    if (cut <= 0 || cut >= this.tokens.length) {
      throw new Error(`${this.source}: a held-out fraction of ${fraction} leaves no tokens on one side`);
    }
    return {
      train: new TextTokens(this.tokens.subarray(0, cut), this.source),
      eval: new TextTokens(this.tokens.subarray(cut), `${this.source} (held-out ${Math.round(fraction * 100)}%)`),
    };
  }
}
