#!/usr/bin/env node
// Runs the TypeScript CLI in this process through vite-node, which compiles it
// on the fly and inlines the WGSL shader sources (src/gpu/shaders.ts) the way
// the browser build does.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';
import { ViteNodeRunner } from 'vite-node/client';
import { ViteNodeServer } from 'vite-node/server';
import { installSourcemapsSupport } from 'vite-node/source-map';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Dawn warns on every device creation when this is unset.
process.env.XDG_RUNTIME_DIR ??= '/tmp';

const server = await createServer({
  root,
  configFile: false,
  logLevel: 'error',
  // Middleware mode: no HTTP server, and none of the dev server's own SIGTERM
  // handling (it would exit at once, where the CLI stops at the next step and saves).
  server: { middlewareMode: true, hmr: false, watch: null },
  optimizeDeps: { noDiscovery: true, include: undefined },
});
const node = new ViteNodeServer(server);
installSourcemapsSupport({ getSourceMap: (source) => node.getSourceMap(source) });
const runner = new ViteNodeRunner({
  root: server.config.root,
  base: server.config.base,
  fetchModule: (id) => node.fetchModule(id),
  resolveId: (id, importer) => node.resolveId(id, importer),
});
try {
  await runner.executeFile(join(root, 'src/cli/main.ts'));
} finally {
  await server.close();
}
