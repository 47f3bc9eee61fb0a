/**
 * The one weights type that travels between stages, io, evaluation, the
 * pipeline and the demo: a model's config, its GPT-2 parameters (internal
 * names, src/model/params.ts) and, for a reward or value model, its scalar
 * score head. How the head is named and laid out in a file is io's business
 * (src/io/checkpoint.ts); here it is just n_embd numbers.
 */
import type { GPTConfig } from './config.ts';

export interface Weights {
  config: GPTConfig;
  params: ReadonlyMap<string, Float32Array>;
  /** the scalar score head of a reward or value model: n_embd values (HF's (1, C) weight) */
  head?: Float32Array;
}

/** The head of a reward or value model, refused when `what` (e.g. "the reward model") has none or one of another width. */
export function headOf(w: Weights, what: string): Float32Array {
  if (!w.head) throw new Error(`${what} has no score head`);
  checkHead(w.head, w.config, what);
  return w.head;
}

/** A score head must hold n_embd values; `what` names whose head it is in the error. */
export function checkHead(head: Float32Array, config: GPTConfig, what: string): void {
  if (head.length !== config.nEmbd) throw new Error(`${what}: the score head has ${head.length} values, expected ${config.nEmbd} (n_embd)`);
}
