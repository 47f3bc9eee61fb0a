/**
 * The matmul autotune in Node's commands: its store (one JSON file of tuning
 * results keyed by adapter, under ~/.cache/webgpu-rlhf/ or
 * $XDG_CACHE_HOME/webgpu-rlhf/), the WEBGPU_RLHF_MATMUL environment variable
 * that pins a choice, and the device every command that runs kernels starts
 * from (requestCommandGpu).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { autotuneMatmul, parseMatmulPin, TUNED_LAYOUTS, type MatmulTuning, type TuningStore } from '../kernels/matmul-autotune.ts';
import { requestGpu } from '../gpu/device.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { MatmulVariant, MatmulVariantChoice } from '../kernels/matmul.ts';
import { enableShapeTuning } from '../kernels/matmul-tune.ts';

export function defaultTuningCachePath(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'webgpu-rlhf', 'autotune.json');
}

export function fileTuningStore(path = defaultTuningCachePath()): TuningStore {
  const readAll = (): Record<string, string> => {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
    } catch {
      return {}; // missing or damaged: tune again
    }
  };
  return {
    get: (key) => readAll()[key],
    set: (key, value) => {
      const all = { ...readAll(), [key]: value };
      mkdirSync(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(all, null, 2)}\n`);
      renameSync(tmp, path);
    },
  };
}

/** The pin from WEBGPU_RLHF_MATMUL (`bcast`, or `NT=bcast,NN=vec4`), if set. */
export function matmulPinFromEnv(env: NodeJS.ProcessEnv = process.env): MatmulVariant | MatmulVariantChoice | undefined {
  const text = env.WEBGPU_RLHF_MATMUL?.trim();
  return text ? parseMatmulPin(text) : undefined;
}

/**
 * What a command does at start-up, after requestGpu: the pin from
 * WEBGPU_RLHF_MATMUL if set, else the cached choice for this adapter, else a
 * quick measurement (once per adapter; seconds, most of it compiling).
 */
export async function tuneMatmulAtStartup(gpu: Gpu, store: TuningStore = fileTuningStore()): Promise<MatmulTuning> {
  return autotuneMatmul(gpu, { store, pin: matmulPinFromEnv() });
}

/** One line for a command's log: the variant each layout runs, and where the choice came from. */
export function describeTuning(t: MatmulTuning, cachePath = defaultTuningCachePath()): string {
  const choice = TUNED_LAYOUTS.map((layout) => `${layout}=${t.choice[layout] ?? 'default'}`).join(' ');
  const why = {
    pinned: 'pinned by WEBGPU_RLHF_MATMUL',
    cache: `the choice cached for this adapter in ${cachePath}`,
    measured: `measured now and cached in ${cachePath}`,
  }[t.source];
  return `matmul kernels ${choice} (${why})`;
}

/**
 * The device of a command that runs kernels: requestGpu, then the matmul
 * kernels chosen at start-up (tuneMatmulAtStartup), each reported as a line
 * through `log`.
 */
export async function requestCommandGpu(log: (line: string) => void): Promise<Gpu> {
  const gpu = await requestGpu();
  log(`adapter ${gpu.name}`);
  const store = fileTuningStore();
  log(describeTuning(await tuneMatmulAtStartup(gpu, store)));
  // Models then tune the blocked matmul at the shapes their steps run (GPUs only).
  enableShapeTuning(gpu, store);
  return gpu;
}
