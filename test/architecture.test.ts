/**
 * The layering of DESIGN.md §3 (gpu → kernels → model → train → stages →
 * cli / demo; nothing at run time on reference/ or test/; nothing Node-only in
 * what src/index.ts reaches), as the rules of .dependency-cruiser.cjs state
 * it. Runs dependency-cruiser's own command line, as `npx depcruise src demo
 * bench` would, and lists every violation with its rule.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

interface Violation {
  type?: string;
  from: string;
  to: string;
  rule: { name: string; severity: string };
  cycle?: { name: string }[];
  via?: { name: string }[];
}

const root = fileURLToPath(new URL('..', import.meta.url));
// The package's exports hide its bin and package.json from require.resolve.
const cli = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

it('src/, demo/ and bench/ import only down the layers', () => {
  const run = spawnSync(process.execPath, [cli, '--config', '.dependency-cruiser.cjs', '--output-type', 'json', 'src', 'demo', 'bench'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  // Exit status 0 means no violations; otherwise it counts them, and the JSON says which.
  if (!run.stdout) throw new Error(`dependency-cruiser failed (status ${run.status}):\n${run.stderr}`);
  const result = JSON.parse(run.stdout) as { summary: { violations: Violation[]; totalCruised: number } };
  const lines = result.summary.violations.map((v) => {
    const path = v.cycle ?? v.via;
    const through = path?.length ? ` (through ${[v.from, ...path.map((m) => m.name)].join(' → ')})` : '';
    return `${v.from} → ${v.to}: ${v.rule.name}${through}`;
  });
  expect(result.summary.totalCruised).toBeGreaterThan(100); // it did read the tree
  expect(lines, `imports against the layering (.dependency-cruiser.cjs says why each rule holds):\n  ${lines.join('\n  ')}\n`).toEqual([]);
}, 120_000);
