import { tmpdir } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Shader compilation on the CPU rasteriser (lavapipe) takes seconds the first time.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Dawn warns on every device creation when XDG_RUNTIME_DIR is unset.
    env: { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? tmpdir() },
  },
});
