/**
 * Checkpoints as Hugging Face run directories, encoded to and from bytes so
 * that Node (files) and the browser (File / ArrayBuffer, downloads) share one
 * format: `config.json` + `model.safetensors` (GPT-2 names, Conv1D layouts),
 * and for resumable runs `optimizer.safetensors` + `trainer_state.json`.
 */
import type { GPTConfig } from '../model/config.ts';
import { configFromHF, configToHF, HF_TRUNK_PREFIX, paramsFromHF, paramsToHF } from './hf-gpt2.ts';
import { parseSafetensors, serializeSafetensors, tensorToFloat32 } from './safetensors.ts';

export const CONFIG_FILE = 'config.json';
export const MODEL_FILE = 'model.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const TRAINER_STATE_FILE = 'trainer_state.json';

export interface ModelCheckpoint {
  config: GPTConfig;
  params: Map<string, Float32Array>;
  /** tensors in model.safetensors that are not GPT-2 parameters (e.g. a reward head) */
  extra: Map<string, Float32Array>;
}

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

export function encodeModel(
  config: GPTConfig,
  params: ReadonlyMap<string, Float32Array>,
  options: { extraConfig?: Record<string, unknown>; extraTensors?: ReadonlyMap<string, { shape: number[]; data: Float32Array }> } = {},
): { config: string; model: Uint8Array } {
  // With a head beside the trunk (a reward or value model's score.weight), the trunk's names take
  // `transformer.` as GPT2ForSequenceClassification.save_pretrained writes them: transformers 4.x
  // refuses a head beside unprefixed trunk names ("the state dictionary … is corrupted"). Language
  // models keep the hub's gpt2 layout (no prefix). We read both.
  const prefix = options.extraTensors?.size ? HF_TRUNK_PREFIX : '';
  const tensors: [string, { dtype: 'F32'; shape: number[]; data: Float32Array }][] = paramsToHF(new Map(params), config).map(([name, t]) => [
    prefix + name,
    t,
  ]);
  for (const [name, { shape, data }] of options.extraTensors ?? []) tensors.push([name, { dtype: 'F32', shape, data }]);
  return {
    config: `${JSON.stringify(configToHF(config, options.extraConfig), null, 2)}\n`,
    model: serializeSafetensors(tensors, { format: 'pt' }),
  };
}

/** Reads a run directory's or a Hugging Face GPT-2 folder's config.json and model.safetensors. */
export function decodeModel(configJson: string, model: Uint8Array | ArrayBuffer, source: string): ModelCheckpoint {
  let json: unknown;
  try {
    json = JSON.parse(configJson);
  } catch (e) {
    throw new Error(`${source}/${CONFIG_FILE}: invalid JSON: ${(e as Error).message}`);
  }
  const config = configFromHF(json, `${source}/${CONFIG_FILE}`);
  const { tensors } = parseSafetensors(model, `${source}/${MODEL_FILE}`);
  const { params, ignored } = paramsFromHF(tensors, config, `${source}/${MODEL_FILE}`);
  const extra = new Map<string, Float32Array>();
  for (const name of ignored) extra.set(name, tensorToFloat32(tensors.get(name)!, name));
  return { config, params, extra };
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
export async function decodeModelFiles(files: Iterable<NamedBlob>, source = 'selected files'): Promise<ModelCheckpoint> {
  const byName = new Map<string, NamedBlob>();
  for (const f of files) byName.set(f.name.replace(/^.*[\\/]/, ''), f);
  for (const needed of [CONFIG_FILE, MODEL_FILE]) {
    if (!byName.has(needed)) throw new Error(`${source}: no ${needed} among ${[...byName.keys()].join(', ') || 'them'}`);
  }
  const config = new TextDecoder().decode(await byName.get(CONFIG_FILE)!.arrayBuffer());
  return decodeModel(config, await byName.get(MODEL_FILE)!.arrayBuffer(), source);
}
