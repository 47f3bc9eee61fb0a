/** Running the real CLI (bin/webgpu-rlhf.js) from tests. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/webgpu-rlhf.js');

/**
 * The matmul autotune's cache for the CLI runs of the tests: one folder for
 * them all (the first run measures, the rest read it), away from the user's.
 */
export const TEST_CACHE = join(tmpdir(), 'webgpu-rlhf-test-cache');
const env = { ...process.env, XDG_CACHE_HOME: TEST_CACHE };

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], timeoutMs = 300_000, extraEnv: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, env: { ...env, ...extraEnv } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the CLI without waiting, for tests that interrupt it. */
export function cliProcess(args: string[]) {
  return spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
}

export function tempDir(prefix = 'cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
