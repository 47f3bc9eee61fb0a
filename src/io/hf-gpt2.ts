/**
 * Hugging Face GPT-2 checkpoints (DESIGN.md §5): config.json keys and tensor
 * names/layouts, mapped to and from the internal parameter table.
 *
 * Internal names are HF's without the `transformer.` prefix. HF's Conv1D
 * weights are (in, out); internally they are (out, in) (`conv1d: true` in the
 * table), so they are transposed on the way in and out.
 */
import { validateConfig, type GPTConfig } from '../model/config.ts';
import { parameterTable, type ParamSpec } from '../model/params.ts';
import { tensorToFloat32, type SafeTensor } from './safetensors.ts';

/** The LayerNorm epsilon the kernels hard-code. */
const LAYER_NORM_EPS = 1e-5;
/** HF names of the tanh-approximated GELU the kernels implement. */
const TANH_GELU = ['gelu_new', 'gelu_pytorch_tanh'];

/** The trunk's prefix in transformers' own saves (GPT2LMHeadModel, GPT2ForSequenceClassification). */
export const HF_TRUNK_PREFIX = 'transformer.';
const PREFIX = HF_TRUNK_PREFIX;
/** Causal-mask buffers older `transformers` versions saved with the weights. */
const ATTENTION_BUFFER = /^(transformer\.)?h\.\d+\.attn\.(bias|masked_bias)$/;
/** The LM head is tied to wte, so its copy (when saved) carries nothing new. */
const LM_HEAD = 'lm_head.weight';
/**
 * The scalar head of a reward or value model, (1, C), as
 * GPT2ForSequenceClassification names it; in memory it is Weights.head. Also
 * the key of its AdamW moments in optimizer.safetensors.
 */
export const SCORE_NAME = 'score.weight';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export function configFromHF(json: unknown, source: string): GPTConfig {
  if (!isObject(json)) throw new Error(`${source}: a GPT-2 config must be a JSON object`);
  const field = (key: string, fallback?: string): number => {
    let v = json[key];
    if (v === undefined && fallback !== undefined) v = json[fallback];
    if (v === undefined) throw new Error(`${source}: config field ${key} is missing`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new Error(`${source}: config field ${key} must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const config: GPTConfig = {
    nLayer: field('n_layer'),
    nHead: field('n_head'),
    nEmbd: field('n_embd'),
    nPositions: field('n_positions', 'n_ctx'),
    vocabSize: field('vocab_size'),
  };

  // Fields below change the model's function; the kernels implement only
  // GPT-2's own choices, so anything else must stop here, not train silently.
  const eps = json.layer_norm_epsilon;
  if (eps !== undefined && !(typeof eps === 'number' && Math.abs(eps - LAYER_NORM_EPS) <= 1e-6 * LAYER_NORM_EPS)) {
    throw new Error(`${source}: layer_norm_epsilon ${JSON.stringify(eps)} is not supported (the kernels use 1e-5)`);
  }
  const act = json.activation_function;
  if (act !== undefined && !(typeof act === 'string' && TANH_GELU.includes(act))) {
    throw new Error(
      `${source}: activation_function ${JSON.stringify(act)} is not supported (the kernels use the tanh GELU: ${TANH_GELU.join(' or ')})`,
    );
  }
  const nInner = json.n_inner;
  if (nInner !== undefined && nInner !== null && nInner !== 4 * config.nEmbd) {
    throw new Error(`${source}: n_inner ${JSON.stringify(nInner)} is not supported (the MLP width is 4*n_embd)`);
  }
  const unsupported: [string, unknown][] = [
    ['scale_attn_weights', false],
    ['scale_attn_by_inverse_layer_idx', true],
    ['tie_word_embeddings', false],
  ];
  for (const [key, bad] of unsupported) {
    if (json[key] === bad) throw new Error(`${source}: ${key}=${bad} is not supported`);
  }

  try {
    return validateConfig(config);
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
}

/** A config.json that `transformers` loads as GPT2LMHeadModel; `extra` keys override or add. */
export function configToHF(config: GPTConfig, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    n_layer: config.nLayer,
    n_head: config.nHead,
    n_embd: config.nEmbd,
    n_positions: config.nPositions,
    n_ctx: config.nPositions,
    vocab_size: config.vocabSize,
    n_inner: null,
    layer_norm_epsilon: LAYER_NORM_EPS,
    activation_function: 'gelu_new',
    // Training runs without dropout; a loader must not add it back.
    resid_pdrop: 0.0,
    embd_pdrop: 0.0,
    attn_pdrop: 0.0,
    initializer_range: 0.02,
    bos_token_id: config.vocabSize - 1,
    eos_token_id: config.vocabSize - 1,
    tie_word_embeddings: true,
    scale_attn_weights: true,
    torch_dtype: 'float32',
    ...extra,
  };
}

/**
 * The `pad_token_id` a reward (or value) model's config.json carries, so that
 * Hugging Face's GPT2ForSequenceClassification pools where we read the score.
 * It pools at the last position whose token is not `pad_token_id`; our score
 * is read at each sequence's EOS, so the pad id must differ from EOS (were it
 * EOS, transformers would pool at the token before). The id: the first one
 * past EOS when the model's vocabulary is padded beyond the tokenizer's (no
 * text holds it; it is the id `add_special_tokens({"pad_token": …})` gives a
 * GPT-2 tokenizer), else EOS − 1: for `bytes` 255, the byte 0xFF that UTF-8
 * never holds; for GPT-2's 50257 ids (all real tokens) 50255, harmless since
 * only the last non-pad token, the EOS, is read. What fills the positions
 * after EOS does not change our scores (attention is causal), so our own
 * batches keep padding with EOS.
 */
export function rewardPadTokenId(eosId: number, vocabSize: number): number {
  if (!(Number.isInteger(eosId) && eosId >= 0 && eosId < vocabSize)) {
    throw new Error(`EOS id ${eosId} is outside the vocabulary [0, ${vocabSize})`);
  }
  if (eosId + 1 < vocabSize) return eosId + 1;
  if (eosId > 0) return eosId - 1;
  throw new Error(`a vocabulary of ${vocabSize} has no id besides EOS to pad with`);
}

/** GPT2ForSequenceClassification's config keys; `pad_token_id` by rewardPadTokenId. */
export function sequenceClassificationConfig(eosId: number, vocabSize: number): Record<string, unknown> {
  return {
    architectures: ['GPT2ForSequenceClassification'],
    num_labels: 1,
    pad_token_id: rewardPadTokenId(eosId, vocabSize),
    id2label: { 0: 'LABEL_0' },
    label2id: { LABEL_0: 0 },
  };
}

/** HF's shape of a parameter: Conv1D weights are (in, out). */
function hfShape(spec: ParamSpec): number[] {
  return spec.conv1d ? [...spec.shape].reverse() : [...spec.shape];
}

/** The config fields a parameter's shape depends on, for error messages. */
function shapeFields(spec: ParamSpec, config: GPTConfig): string {
  const C = `n_embd=${config.nEmbd}`;
  if (spec.name === 'wte.weight') return `vocab_size=${config.vocabSize}, ${C}`;
  if (spec.name === 'wpe.weight') return `n_positions=${config.nPositions}, ${C}`;
  return C;
}

/** (rows, cols) row-major into (cols, rows) row-major. */
function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c]!;
  }
  return out;
}

/**
 * Every parameter of the table from HF-named tensors (with or without the
 * `transformer.` prefix; F32, F16 or BF16). Attention mask buffers and the tied
 * `lm_head.weight` are skipped; other unknown names are returned in `ignored`
 * for the caller to judge (a reward model's `score.weight` lands there).
 */
export function paramsFromHF(
  tensors: Map<string, SafeTensor>,
  config: GPTConfig,
  source: string,
): { params: Map<string, Float32Array>; ignored: string[] } {
  const params = new Map<string, Float32Array>();
  const known = new Set<string>();
  for (const spec of parameterTable(config)) {
    const prefixed = PREFIX + spec.name;
    known.add(spec.name).add(prefixed);
    const key = tensors.has(spec.name) ? spec.name : tensors.has(prefixed) ? prefixed : undefined;
    if (key === undefined) throw new Error(`${source}: missing tensor ${spec.name}`);
    const t = tensors.get(key)!;

    const want = hfShape(spec);
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new Error(
        `${source}: tensor ${key} has shape ${fmtShape(t.shape)} but the config (${shapeFields(spec, config)}) needs ${fmtShape(want)}`,
      );
    }
    let data: Float32Array;
    try {
      data = tensorToFloat32(t, key);
    } catch (e) {
      throw new Error(`${source}: ${(e as Error).message}`);
    }
    if (spec.conv1d) data = transpose(data, want[0]!, want[1]!);
    params.set(spec.name, data);
  }

  const ignored = [...tensors.keys()].filter(
    (name) => !known.has(name) && name !== LM_HEAD && !ATTENTION_BUFFER.test(name),
  );
  return { params, ignored };
}

/**
 * The parameters as HF tensors: Conv1D layout, unprefixed names, table order.
 * Non-transposed tensors share the caller's arrays rather than copying them.
 */
export function paramsToHF(
  params: Map<string, Float32Array>,
  config: GPTConfig,
): [string, { dtype: 'F32'; shape: number[]; data: Float32Array }][] {
  return parameterTable(config).map((spec) => {
    const data = params.get(spec.name);
    if (data === undefined) throw new Error(`paramsToHF: missing parameter ${spec.name}`);
    if (data.length !== spec.size) {
      throw new Error(
        `paramsToHF: parameter ${spec.name} has ${data.length} elements but shape ${fmtShape(spec.shape)} needs ${spec.size}`,
      );
    }
    const shape = hfShape(spec);
    // Internal (out, in) = HF (in, out) transposed: rows are `out` here.
    const out = spec.conv1d ? transpose(data, spec.shape[0]!, spec.shape[1]!) : data;
    return [spec.name, { dtype: 'F32' as const, shape, data: out }];
  });
}
