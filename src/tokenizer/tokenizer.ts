/** What the stages need of a tokenizer. */
export interface Tokenizer {
  readonly name: 'bytes' | 'gpt2';
  /** ids are 0..vocabSize-1; a model may have a larger (padded) vocabulary */
  readonly vocabSize: number;
  /**
   * End of sequence: appended after every SFT example and response, and the
   * id generation stops at. encode() never produces it, so data can't inject it.
   */
  readonly eosId: number;
  encode(text: string): Int32Array;
  /**
   * The text of the ids. EOS and ids outside the vocabulary (a padded model
   * vocabulary can sample them) are skipped, so decoded responses come out
   * clean; bytes that don't form valid UTF-8 (a response cut mid-character)
   * become U+FFFD instead of throwing.
   */
  decode(ids: ArrayLike<number>): string;
}
