/**
 * Run directories on disk (Node only). Every file is written atomically: to a
 * temporary file in the same directory, flushed, then renamed over the old
 * one, so a crash never leaves a half-written checkpoint.
 */
import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  CONFIG_FILE,
  decodeModel,
  decodeOptimizer,
  encodeModel,
  encodeOptimizer,
  MODEL_FILE,
  OPTIMIZER_FILE,
  TRAINER_STATE_FILE,
  type ModelCheckpoint,
  type OptimizerState,
  type TrainerState,
} from '../io/checkpoint.ts';
import type { GPTConfig } from '../model/config.ts';

export const METRICS_FILE = 'metrics.jsonl';
export const RUN_CONFIG_FILE = 'run_config.json';

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

export interface CheckpointToSave {
  config: GPTConfig;
  params: ReadonlyMap<string, Float32Array>;
  extraConfig?: Record<string, unknown>;
  extraTensors?: ReadonlyMap<string, { shape: number[]; data: Float32Array }>;
  optimizer?: OptimizerState;
  trainerState?: TrainerState;
}

/**
 * Writes a checkpoint into `dir`. The trainer state goes last: a resume reads
 * it first, so it never points at weights that were not fully written.
 */
export function saveCheckpoint(dir: string, c: CheckpointToSave): void {
  mkdirSync(dir, { recursive: true });
  const { config, model } = encodeModel(c.config, c.params, { extraConfig: c.extraConfig, extraTensors: c.extraTensors });
  writeFileAtomic(join(dir, MODEL_FILE), model);
  writeFileAtomic(join(dir, CONFIG_FILE), config);
  if (c.optimizer) writeFileAtomic(join(dir, OPTIMIZER_FILE), encodeOptimizer(c.optimizer));
  if (c.trainerState) writeFileAtomic(join(dir, TRAINER_STATE_FILE), `${JSON.stringify(c.trainerState, null, 2)}\n`);
}

/** A run directory or a Hugging Face GPT-2 folder. */
export function loadModel(dir: string): ModelCheckpoint {
  for (const file of [CONFIG_FILE, MODEL_FILE]) {
    if (!existsSync(join(dir, file))) {
      throw new Error(`${dir}: no ${file} (expected a run directory or a Hugging Face GPT-2 folder)`);
    }
  }
  return decodeModel(readFileSync(join(dir, CONFIG_FILE), 'utf8'), readFileSync(join(dir, MODEL_FILE)), dir);
}

export interface ResumeState {
  trainer: TrainerState;
  optimizer: OptimizerState;
}

/** The optimizer and trainer state of a resumable run, or null when `dir` holds none. */
export function loadResumeState(dir: string): ResumeState | null {
  const statePath = join(dir, TRAINER_STATE_FILE);
  if (!existsSync(statePath)) return null;
  const optimizerPath = join(dir, OPTIMIZER_FILE);
  if (!existsSync(optimizerPath)) throw new Error(`${dir}: ${TRAINER_STATE_FILE} without ${OPTIMIZER_FILE}: cannot resume`);
  let trainer: TrainerState;
  try {
    trainer = JSON.parse(readFileSync(statePath, 'utf8')) as TrainerState;
  } catch (e) {
    throw new Error(`${statePath}: invalid JSON: ${(e as Error).message}`);
  }
  if (!Number.isInteger(trainer.step) || trainer.step < 0) throw new Error(`${statePath}: "step" must be a non-negative integer`);
  return { trainer, optimizer: decodeOptimizer(readFileSync(optimizerPath), optimizerPath) };
}

export function appendMetrics(dir: string, record: Record<string, unknown>): void {
  appendFileSync(join(dir, METRICS_FILE), `${JSON.stringify(record)}\n`);
}

/** Metrics of steps up to `step` only: a resumed run drops lines it will log again. */
export function truncateMetrics(dir: string, step: number): void {
  const path = join(dir, METRICS_FILE);
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && (JSON.parse(line) as { step?: number }).step! <= step);
  writeFileAtomic(path, kept.map((l) => `${l}\n`).join(''));
}

/** A UTF-8 input file, or an error naming it when it does not exist. */
export function readInputFile(path: string): string {
  if (!existsSync(path)) throw new Error(`${path}: no such file`);
  return readFileSync(path, 'utf8');
}

/** The --data file and the optional --eval-data file of a training command, read. */
export function readDataFiles(o: { data: string; evalData?: string }): { text: string; source: string; evalText?: string; evalSource?: string } {
  return {
    text: readInputFile(o.data),
    source: o.data,
    evalText: o.evalData ? readInputFile(o.evalData) : undefined,
    evalSource: o.evalData,
  };
}
