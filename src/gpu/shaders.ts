/**
 * The WGSL sources, one file per kernel family in shaders/. Vite (the demo,
 * vitest, vite-node) inlines them at build time, so the library reads no files
 * at run time and stays browser-safe.
 */
const files = import.meta.glob('../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<
  string,
  string
>;

export const SHADERS: ReadonlyMap<string, string> = new Map(
  Object.entries(files).map(([path, code]) => [path.replace(/^.*\//, '').replace(/\.wgsl$/, ''), code]),
);

export function shaderSource(name: string): string {
  const code = SHADERS.get(name);
  if (code === undefined) throw new Error(`unknown shader "${name}" (have: ${[...SHADERS.keys()].join(', ')})`);
  return code;
}
