/**
 * The library (src/index.ts) bundles for the browser: nothing Node-only is
 * reachable from it, and the WGSL sources are inlined.
 */
import { fileURLToPath } from 'node:url';
import { build, type Rollup } from 'vite';
import { expect, it } from 'vitest';

it('bundles src/index.ts for the browser without Node modules', async () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const result = (await build({
    root,
    configFile: false,
    logLevel: 'silent',
    build: {
      write: false,
      minify: false,
      lib: { entry: `${root}src/index.ts`, formats: ['es'], fileName: 'index' },
      rollupOptions: { onwarn: () => {} },
    },
  })) as Rollup.RollupOutput[];
  const code = result.flatMap((r) => r.output).map((o) => ('code' in o ? o.code : '')).join('\n');
  // Vite swaps Node built-ins for an empty "__vite-browser-external" stub in browser builds.
  expect(code).not.toContain('__vite-browser-external');
  expect(code).not.toMatch(/from ["']node:|require\(["'](fs|path|child_process)/);
  expect(code).not.toContain('dawn.node');
  expect(code).toContain('fn matmul_vec4'); // the shaders travel inside the bundle
}, 120_000);
