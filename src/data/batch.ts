/** What a language model trains on: the batches data/text.ts and data/sft.ts make and model/gpt.ts consumes. */

/** A batch of B sequences of T tokens, row-major (B,T). */
export interface Batch {
  tokens: Int32Array;
  /** next-token targets; ignored where the weight is 0 */
  targets: Int32Array;
  /**
   * Loss weight per position, 0 to mask it (e.g. SFT prompts). Normalised to
   * sum to 1, so the loss is the mean over counted positions. Default: all 1.
   */
  weights?: Float32Array;
}
