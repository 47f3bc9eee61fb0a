/** Pretraining batches from one tokenized corpus. */
import type { Batch } from './batch.ts';
import { epochPermutation } from './permutation.ts';

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${value}`);
}

function step(k: number): void {
  if (!Number.isInteger(k) || k < 0) throw new Error(`the batch index must be a non-negative integer, got ${k}`);
}

export class TextTokens {
  /** the last shuffled epoch's window order, kept because consecutive batches share it */
  private order: { seed: number; T: number; epoch: number; windows: Int32Array } | undefined;

  constructor(
    readonly tokens: Int32Array,
    /** the file's name, for error messages */
    readonly source: string,
  ) {
    if (tokens.length === 0) throw new Error(`${source}: the file is empty`);
  }

  get length(): number {
    return this.tokens.length;
  }

  private check(B: number, T: number): void {
    positiveInteger('B', B);
    positiveInteger('T', T);
    if (this.tokens.length < B * T + 1) {
      throw new Error(`${this.source}: the corpus has ${this.tokens.length} tokens; a batch of ${B}×${T} needs at least ${B * T + 1}`);
    }
  }

  /**
   * Batch k under llm.c's DataLoader rule (`--no-shuffle`, DESIGN.md §5).
   * llm.c keeps a position, 0 at first, and for each batch runs:
   *
   *     if (position + B*T + 1 > N) position = 0;
   *     batch = tokens[position .. position + B*T]      // B*T+1 tokens
   *     position += B*T;
   *
   * inputs are the first B·T tokens as (B,T), targets the last B·T. The
   * positions 0, B·T, 2·B·T, … are valid while position + B·T + 1 ≤ N, which
   * holds for floor((N-1)/(B·T)) of them; the next one resets to 0. So batch k
   * starts at (k mod floor((N-1)/(B·T)))·B·T, with no state to carry.
   */
  batch(k: number, B: number, T: number): Batch {
    this.check(B, T);
    step(k);
    const perCycle = Math.floor((this.tokens.length - 1) / (B * T));
    const start = (k % perCycle) * B * T;
    return {
      tokens: this.tokens.slice(start, start + B * T),
      targets: this.tokens.slice(start + 1, start + B * T + 1),
    };
  }

  /**
   * Batch k of seeded shuffling: the corpus is cut into windows of T+1 tokens
   * at stride T (the windows share only their border token, so every token but
   * the first is a target once per epoch; a tail shorter than a window is
   * left out), visited in a new seeded order each epoch; batch k takes
   * windows k·B … k·B+B-1 of that endless sequence of epochs.
   */
  shuffledBatch(k: number, B: number, T: number, seed: number): Batch {
    this.check(B, T);
    step(k);
    const windows = Math.floor((this.tokens.length - 1) / T);
    const tokens = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    for (let r = 0; r < B; r++) {
      const index = k * B + r;
      const start = this.windowOrder(seed, T, Math.floor(index / windows), windows)[index % windows]! * T;
      tokens.set(this.tokens.subarray(start, start + T), r * T);
      targets.set(this.tokens.subarray(start + 1, start + T + 1), r * T);
    }
    return { tokens, targets };
  }

  private windowOrder(seed: number, T: number, epoch: number, windows: number): Int32Array {
    const o = this.order;
    if (o && o.seed === seed && o.T === T && o.epoch === epoch) return o.windows;
    this.order = { seed, T, epoch, windows: epochPermutation(windows, seed, epoch) };
    return this.order.windows;
  }

  /**
   * The last `evalFraction` of the corpus held out for evaluation, the rest
   * for training: deterministic, and no held-out token is ever in a training
   * batch, shuffled or not.
   */
  split(evalFraction: number): { train: TextTokens; eval: TextTokens } {
    if (!(evalFraction > 0 && evalFraction < 1)) {
      throw new Error(`${this.source}: the held-out fraction must be between 0 and 1 (exclusive), got ${evalFraction}`);
    }
    const cut = Math.floor(this.tokens.length * (1 - evalFraction));
    if (cut <= 0 || cut >= this.tokens.length) {
      throw new Error(`${this.source}: holding out ${evalFraction} of ${this.tokens.length} tokens leaves no tokens on one side`);
    }
    return {
      train: new TextTokens(this.tokens.subarray(0, cut), this.source),
      eval: new TextTokens(this.tokens.subarray(cut), `${this.source} (held-out last ${Math.round(evalFraction * 100)}%)`),
    };
  }
}
