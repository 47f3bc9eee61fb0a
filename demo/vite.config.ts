/**
 * The demo page: `npm run demo` serves it, `npm run build` writes a static site
 * to demo/dist. The build fails if a Node-only module (fs, path, node:*, Dawn)
 * would reach the browser bundle, naming the module and who imported it.
 */
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const NODE_ONLY = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`), 'webgpu']);

export function noNodeModules(): Plugin {
  return {
    name: 'webgpu-rlhf:no-node-modules',
    enforce: 'pre',
    resolveId(source, importer) {
      if (NODE_ONLY.has(source) || source.startsWith('node:')) {
        this.error(`"${source}" is Node-only and may not reach the browser bundle (imported by ${importer ?? 'the entry'})`);
      }
      return null;
    },
  };
}

const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Relative URLs: the built site works from any folder or sub-path.
  base: './',
  plugins: [noNodeModules()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // uPlot and the library are one chunk; a warning about its size would only be noise.
    chunkSizeWarningLimit: 2000,
  },
  // Cross-origin isolation gives performance.now() 5 µs steps instead of 100 µs: finer CPU-side kernel timings.
  server: { host: '127.0.0.1', headers: ISOLATION },
  preview: { host: '127.0.0.1', headers: ISOLATION },
});
