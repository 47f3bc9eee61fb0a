/** The built-in tokenizers' vocabulary sizes, which the model presets take (model/config.ts). */

/** Vocabulary of the `bytes` tokenizer: 256 byte values and EOS. */
export const BYTES_VOCAB = 257;
/** Vocabulary of the GPT-2 BPE tokenizer. */
export const GPT2_VOCAB = 50257;
