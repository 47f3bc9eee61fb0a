/** What the stages need of a tokenizer. */
export interface Tokenizer {
  readonly name: 'bytes' | 'gpt2';
  readonly vocabSize: number;
  /** end of sequence: appended to every SFT example and response; never produced by encode() */
  readonly eosId: number;
  encode(text: string): Int32Array;
  /** text of the ids; EOS is skipped, so decoded responses come out clean */
  decode(ids: ArrayLike<number>): string;
}
