/**
 * Run directories on disk (Node only). Every file is written atomically: to a
 * temporary file in the same directory, flushed, then renamed over the old
 * one, so a crash never leaves a half-written file.
 *
 * A checkpoint (model.safetensors, config.json, optimizer.safetensors,
 * trainer_state.json) is saved as one transaction, so that a crash at any
 * point leaves one consistent step to resume from:
 *
 * 1. every file of the new step is written and flushed into
 *    `.checkpoint-staging/`, with a manifest naming them;
 * 2. one rename turns `.checkpoint-staging/` into `.checkpoint-commit/`: the
 *    commit point (before it, the top level still holds the previous step,
 *    untouched; after it, the new step is decided);
 * 3. each file is renamed from `.checkpoint-commit/` to the top level (where a
 *    Hugging Face loader finds it), checkpoint files the new step does not have
 *    are removed, and `.checkpoint-commit/` goes.
 *
 * A reader (loadModel, loadResumeState) that finds `.checkpoint-commit/` with
 * its manifest takes each file of the manifest from there while it is still
 * there, so it sees the committed step whole; the next save completes the
 * moves and drops an uncommitted `.checkpoint-staging/`. trainer_state.json
 * also records the SHA-256 of the model and optimizer files it belongs with,
 * and a resume refuses a set that does not match.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import {
  CONFIG_FILE,
  decodeModel,
  decodeOptimizer,
  encodeModel,
  encodeOptimizer,
  MODEL_FILE,
  OPTIMIZER_FILE,
  TRAINER_STATE_FILE,
  type OptimizerState,
  type TrainerState,
} from '../io/checkpoint.ts';
import type { Weights } from '../model/weights.ts';
import { TOKENIZER_FILES, tokenizerFiles } from '../tokenizer/hf-files.ts';
import { createTokenizer, type TokenizerName } from '../tokenizer/index.ts';
import { decodeUtf8 } from '../data/utf8.ts';

export const METRICS_FILE = 'metrics.jsonl';
export const RUN_CONFIG_FILE = 'run_config.json';
/** A PPO run's value model: a model folder inside the run directory, saved in the same transaction as the policy. */
export const VALUE_DIR = 'value';
const MODEL_FOLDER_FILES: readonly string[] = [MODEL_FILE, CONFIG_FILE, ...TOKENIZER_FILES];
/** The files of one checkpoint: they change together, in one transaction. */
export const CHECKPOINT_FILES: readonly string[] = [
  MODEL_FILE,
  CONFIG_FILE,
  OPTIMIZER_FILE,
  TRAINER_STATE_FILE,
  ...TOKENIZER_FILES,
  ...MODEL_FOLDER_FILES.map((name) => `${VALUE_DIR}/${name}`),
];
/** Where a save writes its files before it commits. */
export const STAGING_DIR = '.checkpoint-staging';
/** A committed save whose files are being moved into place. */
export const COMMIT_DIR = '.checkpoint-commit';
const MANIFEST_FILE = 'manifest.json';

function writeAndFlush(path: string, data: string | Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes a directory's entries (renames, removals) durable; a no-op where directories cannot be flushed. */
function flushDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows cannot open a directory for flushing; its renames are ordered anyway.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeAndFlush(tmp, data);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  renameSync(tmp, path);
}

/** A model (a reward or value model with its head) and the tokenizer its Hugging Face folder holds. */
export interface ModelToSave extends Weights {
  /** the tokenizer the model reads: its Hugging Face files are saved with it (src/tokenizer/hf-files.ts), and config.json takes its EOS id */
  tokenizer?: TokenizerName;
}

export interface CheckpointToSave extends ModelToSave {
  optimizer?: OptimizerState;
  trainerState?: TrainerState;
  /** a PPO run's value model, saved in value/ in the same transaction */
  value?: ModelToSave;
}

/** A model folder's files: weights, config.json and the tokenizer's files. */
function modelFiles(m: ModelToSave): [string, Uint8Array | string][] {
  // config.json's EOS is the tokenizer's (by default it is the last id, wrong for a padded vocabulary).
  const { config, model } = encodeModel(m, { eosId: m.tokenizer ? createTokenizer(m.tokenizer).eosId : undefined });
  const files: [string, Uint8Array | string][] = [
    [MODEL_FILE, model],
    [CONFIG_FILE, config],
  ];
  if (m.tokenizer) files.push(...tokenizerFiles(m.tokenizer, m.config.nPositions));
  return files;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Tests only: called after each change a save makes on disk (a file staged, the
 * commit, a file moved into place, …), numbered from 1 within each save. A hook
 * that throws leaves the directory as a crash at that point would.
 */
export type SaveFaultHook = (point: number, what: string) => void;
let saveFaultHook: SaveFaultHook | null = null;
export function setSaveFaultHook(hook: SaveFaultHook | null): void {
  saveFaultHook = hook;
}
/**
 * Tests only: WEBGPU_RLHF_TEST_KILL_IN_SAVE="S:K" kills the process (SIGKILL)
 * after the K-th change of its S-th save, to test resuming after a crash at
 * every point of a save.
 */
export const KILL_IN_SAVE_ENV = 'WEBGPU_RLHF_TEST_KILL_IN_SAVE';
let savesInThisProcess = 0;

function faultPoints(): (what: string) => void {
  const save = ++savesInThisProcess;
  const [killSave, killPoint] = (process.env[KILL_IN_SAVE_ENV] ?? '').split(':').map(Number);
  let point = 0;
  return (what) => {
    point++;
    saveFaultHook?.(point, what);
    if (killSave === save && killPoint === point) {
      process.stderr.write(`webgpu-rlhf: ${KILL_IN_SAVE_ENV}: killed after change ${point} of save ${save} (${what})\n`);
      process.kill(process.pid, 'SIGKILL');
      process.exit(137);
    }
  };
}

/** The files of a committed save that is not yet wholly in place, or null when there is none. */
function committedFiles(dir: string): string[] | null {
  const manifest = join(dir, COMMIT_DIR, MANIFEST_FILE);
  // Without its manifest the commit folder is only being removed: every file is in place.
  if (!existsSync(manifest)) return null;
  let files: unknown;
  try {
    files = (JSON.parse(readFileSync(manifest, 'utf8')) as { files?: unknown }).files;
  } catch (e) {
    throw new Error(`${manifest}: invalid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(files) || !files.every((f) => typeof f === 'string' && CHECKPOINT_FILES.includes(f))) {
    throw new Error(`${manifest}: "files" must list checkpoint files (${CHECKPOINT_FILES.join(', ')})`);
  }
  return files as string[];
}

/**
 * Where the current checkpoint's `name` is: at the top level, or still in the
 * folder of a committed save being moved into place; null when the current
 * checkpoint has no such file.
 */
export function checkpointFile(dir: string, name: string): string | null {
  const committed = committedFiles(dir);
  if (committed) {
    if (!committed.includes(name)) return null;
    const pending = join(dir, COMMIT_DIR, name);
    if (existsSync(pending)) return pending;
  }
  const path = join(dir, name);
  return existsSync(path) ? path : null;
}

/** Moves a committed save's files into place, removes the checkpoint files it does not have, then the commit folder. */
function completeCommit(dir: string, files: readonly string[], fault?: (what: string) => void): void {
  const commit = join(dir, COMMIT_DIR);
  const hasValue = files.some((name) => name.startsWith(`${VALUE_DIR}/`));
  if (hasValue) mkdirSync(join(dir, VALUE_DIR), { recursive: true });
  for (const name of files) {
    if (!existsSync(join(commit, name))) continue; // moved before a crash
    renameSync(join(commit, name), join(dir, name));
    fault?.(`moved ${name} into place`);
  }
  for (const name of CHECKPOINT_FILES) {
    if (files.includes(name) || !existsSync(join(dir, name))) continue;
    rmSync(join(dir, name));
    fault?.(`removed the earlier step's ${name}`);
  }
  if (hasValue) flushDirectory(join(dir, VALUE_DIR));
  else if (existsSync(join(dir, VALUE_DIR)) && readdirSync(join(dir, VALUE_DIR)).length === 0) rmSync(join(dir, VALUE_DIR), { recursive: true });
  flushDirectory(dir);
  rmSync(commit, { recursive: true, force: true });
  fault?.(`removed ${COMMIT_DIR}`);
}

/** Finishes what an interrupted save left: completes a committed one, drops an uncommitted one. */
export function recoverInterruptedSave(dir: string): void {
  const committed = committedFiles(dir);
  if (committed) completeCommit(dir, committed);
  rmSync(join(dir, COMMIT_DIR), { recursive: true, force: true });
  rmSync(join(dir, STAGING_DIR), { recursive: true, force: true });
}

/**
 * Writes a checkpoint into `dir` as one transaction (see the top of this
 * file): a crash at any point leaves either the previous checkpoint or this
 * one, whole. trainer_state.json records the SHA-256 of the weights and
 * optimizer state saved with it.
 */
export function saveCheckpoint(dir: string, c: CheckpointToSave): void {
  const fault = faultPoints();
  mkdirSync(dir, { recursive: true });
  recoverInterruptedSave(dir);
  const files = modelFiles(c);
  if (c.optimizer) files.push([OPTIMIZER_FILE, encodeOptimizer(c.optimizer)]);
  if (c.value) files.push(...modelFiles(c.value).map(([name, bytes]): [string, Uint8Array | string] => [`${VALUE_DIR}/${name}`, bytes]));
  if (c.trainerState) {
    const hashes: Record<string, string> = {};
    for (const [name, bytes] of files) {
      if (name !== CONFIG_FILE) hashes[name] = sha256(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
    }
    files.push([TRAINER_STATE_FILE, `${JSON.stringify({ ...c.trainerState, files: hashes }, null, 2)}\n`]);
  }
  const staging = join(dir, STAGING_DIR);
  mkdirSync(staging);
  if (c.value) mkdirSync(join(staging, VALUE_DIR));
  for (const [name, bytes] of files) {
    writeAndFlush(join(staging, name), bytes);
    fault(`wrote ${STAGING_DIR}/${name}`);
  }
  const names = files.map(([name]) => name);
  writeAndFlush(join(staging, MANIFEST_FILE), `${JSON.stringify({ step: c.trainerState?.step ?? null, files: names })}\n`);
  fault(`wrote ${STAGING_DIR}/${MANIFEST_FILE}`);
  if (c.value) flushDirectory(join(staging, VALUE_DIR));
  flushDirectory(staging);
  renameSync(staging, join(dir, COMMIT_DIR));
  flushDirectory(dir);
  fault(`committed (renamed ${STAGING_DIR} to ${COMMIT_DIR})`);
  completeCommit(dir, names, fault);
}

/**
 * A run directory or a Hugging Face GPT-2 folder; with `folder` (VALUE_DIR),
 * the model folder inside a run directory, read as of the run's current
 * checkpoint (also while a committed save is still being moved into place).
 */
export function loadModel(dir: string, folder?: typeof VALUE_DIR): Weights {
  const where = folder ? join(dir, folder) : dir;
  const paths = [CONFIG_FILE, MODEL_FILE].map((file) => {
    const path = checkpointFile(dir, folder ? `${folder}/${file}` : file);
    if (!path) throw new Error(`${where}: no ${file} (expected a run directory or a Hugging Face GPT-2 folder)`);
    return path;
  });
  return decodeModel(readFileSync(paths[0]!, 'utf8'), readFileSync(paths[1]!), where);
}

export interface ResumeState {
  trainer: TrainerState;
  optimizer: OptimizerState;
}

/**
 * The optimizer and trainer state of a resumable run, or null when `dir`
 * holds none. A set whose weights or optimizer state are not the ones
 * trainer_state.json was saved with is refused.
 */
export function loadResumeState(dir: string): ResumeState | null {
  refuseLinkedMetrics(dir);
  const statePath = checkpointFile(dir, TRAINER_STATE_FILE);
  if (!statePath) return null;
  const optimizerPath = checkpointFile(dir, OPTIMIZER_FILE);
  if (!optimizerPath) throw new Error(`${dir}: ${TRAINER_STATE_FILE} without ${OPTIMIZER_FILE}: cannot resume`);
  let trainer: TrainerState;
  try {
    trainer = JSON.parse(readFileSync(statePath, 'utf8')) as TrainerState;
  } catch (e) {
    throw new Error(`${join(dir, TRAINER_STATE_FILE)}: invalid JSON: ${(e as Error).message}`);
  }
  if (typeof trainer !== 'object' || trainer === null || !Number.isInteger(trainer.step) || trainer.step < 0) {
    throw new Error(`${join(dir, TRAINER_STATE_FILE)}: "step" must be a non-negative integer`);
  }
  const files = trainer.files ?? {};
  if (typeof files !== 'object' || files === null || Array.isArray(files) || !Object.entries(files).every(([n, h]) => CHECKPOINT_FILES.includes(n) && typeof h === 'string')) {
    throw new Error(`${join(dir, TRAINER_STATE_FILE)}: "files" must map checkpoint file names to SHA-256 hashes`);
  }
  const optimizerBytes = readFileSync(optimizerPath);
  for (const [name, expected] of Object.entries(files)) {
    const path = name === OPTIMIZER_FILE ? optimizerPath : checkpointFile(dir, name);
    if (!path) throw new Error(`${dir}: no ${name}, which ${TRAINER_STATE_FILE} (step ${trainer.step}) was saved with: cannot resume`);
    if (sha256(name === OPTIMIZER_FILE ? optimizerBytes : readFileSync(path)) !== expected) {
      throw new Error(
        `${join(dir, name)} is not the file ${TRAINER_STATE_FILE} (step ${trainer.step}) was saved with (its SHA-256 differs): ` +
          'the run directory mixes files of different saves; cannot resume',
      );
    }
  }
  return { trainer, optimizer: decodeOptimizer(optimizerBytes, join(dir, OPTIMIZER_FILE)) };
}

/** Names that mark a directory as a run, a model folder or a pipeline run. */
const RUN_FILE_NAMES = new Set([
  ...CHECKPOINT_FILES,
  METRICS_FILE,
  RUN_CONFIG_FILE,
  STAGING_DIR,
  COMMIT_DIR,
  'pipeline_config.json',
  'summary.json',
  'report.html',
  'generation_config.json',
  'model.safetensors.index.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'vocab.json',
  'merges.txt',
]);
/** Weight files of any framework. */
const WEIGHTS = /\.(safetensors|bin|pt|pth|ckpt|h5|msgpack|gguf|onnx)$/;

/**
 * The model, config, metrics and run files in `dir` (sorted; a sub-folder of
 * them, such as a PPO run's value/, as "value/"), or [] when there are none or
 * no such directory.
 */
export function runFilesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) throw new Error(`--out ${dir} is a file, not a directory`);
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (RUN_FILE_NAMES.has(entry.name) || WEIGHTS.test(entry.name)) found.push(entry.name);
    else if (entry.isDirectory() && !entry.name.startsWith('.') && readdirSync(join(dir, entry.name)).some((n) => RUN_FILE_NAMES.has(n) || WEIGHTS.test(n))) {
      found.push(`${entry.name}/`);
    }
  }
  return found.sort();
}

/** Whether two paths name the same folder (through symbolic links where both exist). */
export function samePath(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/**
 * Refuses an --out that would overwrite what the command reads or what an
 * earlier run wrote, before anything is written: --out equal to an input
 * folder (--init, --reward-model), or a directory that already holds a model,
 * config, metrics or run files. `resumable`: the command takes --resume (and
 * was not given it).
 */
export function checkNewRunDir(out: string, inputs: readonly (readonly [flag: string, path: string | undefined])[], resumable: boolean): void {
  checkNotAnInput(out, inputs);
  const found = runFilesIn(out);
  if (found.length === 0) return;
  const list = found.join(', ');
  if (resumable && checkpointFile(out, TRAINER_STATE_FILE)) {
    throw new Error(`${out} already holds a run; pass --resume to continue it, or choose another --out (it has ${list})`);
  }
  throw new Error(`${out} already holds a model or run files (${list}); choose another --out, or remove them first`);
}

/** --out must not be a folder the command reads. */
export function checkNotAnInput(out: string, inputs: readonly (readonly [flag: string, path: string | undefined])[]): void {
  for (const [flag, path] of inputs) {
    if (path !== undefined && samePath(out, path)) {
      throw new Error(`--out ${out} and ${flag} ${path} are the same folder: the run would overwrite the model it reads; choose another --out`);
    }
  }
}

/**
 * metrics.jsonl is the one run file written in place (appended to); every
 * other one is written whole and renamed over the old one, which replaces a
 * symbolic link rather than writing through it. So a metrics.jsonl that is a
 * symbolic link is refused: a run would append to whatever file it points at.
 */
export function refuseLinkedMetrics(dir: string): void {
  const path = join(dir, METRICS_FILE);
  let link = false;
  try {
    link = lstatSync(path).isSymbolicLink();
  } catch {
    return; // no such file
  }
  if (link) {
    throw new Error(
      `${path} is a symbolic link (to ${readlinkSync(path)}); a run writes its metrics into its own folder and does not follow links: ` +
        'remove the link, or choose another --out',
    );
  }
}

export function appendMetrics(dir: string, record: Record<string, unknown>): void {
  let fd: number;
  try {
    // O_NOFOLLOW: a link put there while the run goes is refused too, never followed.
    fd = openSync(join(dir, METRICS_FILE), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o666);
  } catch (e) {
    refuseLinkedMetrics(dir);
    throw e;
  }
  try {
    const bytes = Buffer.from(`${JSON.stringify(record)}\n`);
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
  } finally {
    closeSync(fd);
  }
}

/** Metrics of steps up to `step` only: a resumed run drops lines it will log again. */
export function truncateMetrics(dir: string, step: number): void {
  refuseLinkedMetrics(dir);
  const path = join(dir, METRICS_FILE);
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && (JSON.parse(line) as { step?: number }).step! <= step);
  writeFileAtomic(path, kept.map((l) => `${l}\n`).join(''));
}

/**
 * A UTF-8 input file, or an error naming it when it does not exist or is not
 * UTF-8 (with the byte offset and line of the first bad byte). A leading
 * byte-order mark is dropped, with a note on stderr.
 */
export function readInputFile(path: string): string {
  if (!existsSync(path)) throw new Error(`${path}: no such file`);
  const { text, bom } = decodeUtf8(readFileSync(path), path);
  if (bom) console.error(`${path}: note: dropped the UTF-8 byte-order mark (EF BB BF) at its start`);
  return text;
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
