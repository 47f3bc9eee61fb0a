/**
 * Checkpoints as Hugging Face run directories, encoded to and from bytes so
 * that Node (files) and the browser (File / ArrayBuffer, downloads) share one
 * format: `config.json` + `model.safetensors` (GPT-2 names, Conv1D layouts),
 * and for resumable runs `optimizer.safetensors` + `trainer_state.json`.
 */
import { checkHead, type Weights } from '../model/weights.ts';
import { configFromHF, configToHF, HF_TRUNK_PREFIX, paramsFromHF, paramsToHF, SCORE_NAME, sequenceClassificationConfig } from './hf-gpt2.ts';
import { parseSafetensors, serializeSafetensors, tensorToFloat32 } from './safetensors.ts';

export const CONFIG_FILE = 'config.json';
export const MODEL_FILE = 'model.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const TRAINER_STATE_FILE = 'trainer_state.json';

export interface OptimizerState {
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
  /** AdamW steps taken */
  step: number;
}

/** What a resumed run needs besides weights and moments. */
export interface TrainerState {
  /** optimizer steps completed */
  step: number;
  /** the stage that wrote it (pretrain, sft, …) */
  stage: string;
  /** the merged run config, to check a resume continues the same run */
  config: Record<string, unknown>;
  /**
   * SHA-256 (hex) of the files saved with this state (model.safetensors,
   * optimizer.safetensors), filled in by the saver: a resume refuses files of
   * another save. Absent in older runs.
   */
  files?: Record<string, string>;
  /** PPO: the KL coefficient after this step (adaptive control moves it) */
  klCoef?: number;
}

/**
 * A model folder's config.json and model.safetensors. `eosId` (the tokenizer's
 * EOS; default the last id) is written as bos/eos_token_id when given, and
 * decides a head's pad_token_id. A model with a head is saved as
 * GPT2ForSequenceClassification: its config keys, the head as score.weight,
 * and the trunk's names under `transformer.`, as its save_pretrained writes
 * them (transformers 4.x refuses a head beside unprefixed trunk names: "the
 * state dictionary … is corrupted"). Language models keep the hub's gpt2
 * layout (no prefix). decodeModel reads both.
 */
export function encodeModel(w: Weights, options: { eosId?: number } = {}): { config: string; model: Uint8Array } {
  const { config, head } = w;
  const { eosId } = options;
  if (head) checkHead(head, config, 'encodeModel');
  const prefix = head ? HF_TRUNK_PREFIX : '';
  const tensors: [string, { dtype: 'F32'; shape: number[]; data: Float32Array }][] = paramsToHF(new Map(w.params), config).map(([name, t]) => [
    prefix + name,
    t,
  ]);
  if (head) tensors.push([SCORE_NAME, { dtype: 'F32', shape: [1, config.nEmbd], data: head }]);
  const extraConfig = {
    ...(eosId === undefined ? {} : { bos_token_id: eosId, eos_token_id: eosId }),
    ...(head ? sequenceClassificationConfig(eosId ?? config.vocabSize - 1, config.vocabSize) : {}),
  };
  return {
    config: `${JSON.stringify(configToHF(config, extraConfig), null, 2)}\n`,
    model: serializeSafetensors(tensors, { format: 'pt' }),
  };
}

/**
 * Reads a run directory's or a Hugging Face GPT-2 folder's config.json and
 * model.safetensors; a score.weight beside the trunk becomes the head. Other
 * tensors that are not GPT-2 parameters are ignored.
 */
export function decodeModel(configJson: string, model: Uint8Array | ArrayBuffer, source: string): Weights {
  let json: unknown;
  try {
    json = JSON.parse(configJson);
  } catch (e) {
    throw new Error(`${source}/${CONFIG_FILE}: invalid JSON: ${(e as Error).message}`);
  }
  const config = configFromHF(json, `${source}/${CONFIG_FILE}`);
  const { tensors } = parseSafetensors(model, `${source}/${MODEL_FILE}`);
  const { params, ignored } = paramsFromHF(tensors, config, `${source}/${MODEL_FILE}`);
  if (!ignored.includes(SCORE_NAME)) return { config, params };
  return { config, params, head: tensorToFloat32(tensors.get(SCORE_NAME)!, SCORE_NAME) };
}

/**
 * The head of a reward (or value) model read from `source`, refused naming the
 * folder when it has none (`not <what>`) or one of another width.
 */
export function headFrom(w: Weights, source: string, what: string): Float32Array {
  if (!w.head) throw new Error(`${source}: no ${SCORE_NAME} in ${MODEL_FILE}: not ${what}`);
  if (w.head.length !== w.config.nEmbd) throw new Error(`${source}: ${SCORE_NAME} has ${w.head.length} values, expected ${w.config.nEmbd} (n_embd)`);
  return w.head;
}

export function encodeOptimizer(state: OptimizerState): Uint8Array {
  const tensors: [string, { dtype: 'F32'; shape: number[]; data: Float32Array }][] = [];
  for (const [name, data] of state.m) tensors.push([`m.${name}`, { dtype: 'F32', shape: [data.length], data }]);
  for (const [name, data] of state.v) tensors.push([`v.${name}`, { dtype: 'F32', shape: [data.length], data }]);
  return serializeSafetensors(tensors, { step: String(state.step) });
}

export function decodeOptimizer(bytes: Uint8Array | ArrayBuffer, source: string): OptimizerState {
  const { tensors, metadata } = parseSafetensors(bytes, source);
  const step = Number(metadata.step);
  if (!Number.isInteger(step) || step < 0) throw new Error(`${source}: missing or invalid "step" in the metadata`);
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [name, t] of tensors) {
    const target = name.startsWith('m.') ? m : name.startsWith('v.') ? v : null;
    if (!target) throw new Error(`${source}: unexpected tensor "${name}" (expected m.* and v.*)`);
    target.set(name.slice(2), tensorToFloat32(t, name));
  }
  return { m, v, step };
}

/** A browser `File` (or anything with a name and bytes). */
export interface NamedBlob {
  name: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/**
 * A checkpoint from files a person picked or dropped in the browser: the
 * config.json and model.safetensors of a run directory or Hugging Face folder.
 */
export async function decodeModelFiles(files: Iterable<NamedBlob>, source = 'selected files'): Promise<Weights> {
  const byName = new Map<string, NamedBlob>();
  for (const f of files) byName.set(f.name.replace(/^.*[\\/]/, ''), f);
  for (const needed of [CONFIG_FILE, MODEL_FILE]) {
    if (!byName.has(needed)) throw new Error(`${source}: no ${needed} among ${[...byName.keys()].join(', ') || 'them'}`);
  }
  const config = new TextDecoder().decode(await byName.get(CONFIG_FILE)!.arrayBuffer());
  return decodeModel(config, await byName.get(MODEL_FILE)!.arrayBuffer(), source);
}
