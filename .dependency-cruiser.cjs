// The layering of DESIGN.md §3, checked in `npm test` (test/architecture.test.ts)
// and by hand with `npx depcruise src demo bench`.
//
// Layers import downward only. Bottom to top:
//   gpu → kernels → model → io → train → stages → src/index.ts (the library)
//   → cli helpers → bench → cli commands;  demo beside the CLI, through src/index.ts.
// tokenizer, data and task sit beside the model: below it, since the model
// consumes their batches and vocabularies. reference/ is the tests' spec.
//
// Type-only imports count like any other (tsPreCompilationDeps): a type is
// part of a layer's contract, and `import type` upward is how circles start.
// What a layer may not see as a value it may not see as a type either.

const { builtinModules } = require('node:module');

/** Anchored regular expression of the folders src/<name>/. */
const folders = (...names) => `^src/(${names.join('|')})/`;

/**
 * Per folder under src/: the folders it may import besides itself, and why
 * it sits where it does. Anything else in src/, demo/, bench/ or test/ is
 * refused. Packages and Node builtins are ruled separately (see the end).
 */
const LAYERS = [
  {
    folder: 'gpu',
    may: [],
    why: 'the bottom: the WebGPU device, buffers, the Recorder and the Profiler; it knows no kernel',
  },
  {
    folder: 'kernels',
    may: ['gpu'],
    why: 'typed launchers of the WGSL kernels, one module per shader, and the matmul autotune; they record into a gpu Recorder',
  },
  {
    folder: 'tokenizer',
    may: [],
    why: 'beside the model, below it: text to token ids; it owns the vocabulary sizes the model presets use',
  },
  {
    folder: 'data',
    may: ['tokenizer'],
    why: 'beside the model, below it: file formats, batches (Batch, RewardBatch), shuffling and the seeded Rng; it tokenizes but knows no model',
  },
  {
    folder: 'task',
    may: ['data', 'tokenizer'],
    why: 'beside data: the built-in task (its world, datasets, gold labeler), plain CPU data',
  },
  {
    folder: 'model',
    may: ['gpu', 'kernels', 'tokenizer', 'data'],
    why: 'GPT-2, the reward model and generation, built from kernels; they take batches from data',
  },
  {
    folder: 'io',
    may: ['model', 'tokenizer', 'data'],
    why: 'beside the model, just above it: checkpoints, safetensors, the Hugging Face mapping of model configs and parameter tables',
  },
  {
    folder: 'train',
    may: ['gpu', 'kernels', 'tokenizer', 'data', 'model', 'io'],
    why: 'optimizers, schedules, the training loop and the trainers (language model, PPO) over models',
  },
  {
    folder: 'stages',
    may: ['gpu', 'kernels', 'tokenizer', 'data', 'task', 'model', 'io', 'train'],
    why: 'every stage (pretrain, sft, reward, ppo, evaluate) and the pipeline that chains them: the top of the library core',
  },
];

const CORE = LAYERS.map((l) => l.folder);

/** Node builtins as dependency-cruiser names them: `fs`, `node:fs`, `fs/promises`. */
const NODE_BUILTINS = `^(node:)?(${builtinModules.filter((m) => !m.startsWith('_')).join('|')})(/|$)`;
/**
 * The packages the library core may use: both run in a browser. Any other
 * package (commander, cli-progress, webgpu, vite, ...) is Node-only or a
 * build tool, and a new browser-safe one is added here on purpose.
 * (gpu/device.ts loads Dawn's `webgpu` through a computed specifier in Node
 * only; no tool sees it, by design.)
 */
const BROWSER_PACKAGES = ['zod', 'gpt-tokenizer'];
const NODE_MODULES = '(^|/)node_modules/';
const BROWSER_PACKAGE_PATHS = `(^|/)node_modules/(${BROWSER_PACKAGES.join('|')})/`;

module.exports = {
  forbidden: [
    ...LAYERS.map(({ folder, may, why }) => ({
      name: `layer-${folder}`,
      severity: 'error',
      comment: `src/${folder}/ may import only ${may.length ? may.map((m) => `src/${m}/`).join(', ') : 'nothing else in src/'}: ${why}`,
      from: { path: folders(folder) },
      to: { path: '^(src|demo|bench|test)/', pathNot: folders(folder, ...may) },
    })),
    {
      name: 'layer-index',
      severity: 'error',
      comment:
        'src/index.ts, the public API, re-exports the library core (and the reference namespace, see no-reference); nothing of the CLI, bench or demo',
      from: { path: '^src/index\\.ts$' },
      to: { path: '^(src|demo|bench|test)/', pathNot: [folders(...CORE, 'reference')] },
    },
    {
      name: 'layer-cli',
      severity: 'error',
      comment:
        "src/cli/'s helpers (run directories, the autotune cache file, options, progress, tables) are the Node side of the library: they may use the core and each other, not bench/ or the commands",
      from: { path: '^src/cli/', pathNot: '^src/cli/(commands/|main\\.ts$)' },
      to: { path: '^(src|demo|bench|test)/', pathNot: [folders(...CORE), '^src/cli/(?!commands/|main\\.ts$)'] },
    },
    {
      name: 'layer-bench',
      severity: 'error',
      comment:
        "bench/ (npm run bench) sits above the CLI's helpers (it uses the autotune cache and tables) and below its commands (`webgpu-rlhf bench` loads it)",
      from: { path: '^bench/' },
      to: { path: '^(src|demo|bench|test)/', pathNot: [folders(...CORE), '^src/cli/(?!commands/|main\\.ts$)', '^bench/'] },
    },
    {
      name: 'layer-cli-commands',
      severity: 'error',
      comment: 'the commands (src/cli/commands/, src/cli/main.ts) are the top of the Node side: anything but the demo, the tests and the spec',
      from: { path: '^src/cli/(commands/|main\\.ts$)' },
      to: { path: '^(src|demo|bench|test)/', pathNot: [folders(...CORE, 'cli'), '^bench/'] },
    },
    {
      name: 'layer-demo',
      severity: 'error',
      comment: 'the browser demo uses the library through its public API, src/index.ts, only',
      from: { path: '^demo/' },
      to: { path: '^(src|demo|bench|test)/', pathNot: ['^src/index\\.ts$', '^demo/'] },
    },
    {
      name: 'layer-reference',
      severity: 'error',
      comment:
        'src/reference/, the CPU spec the tests check kernels against, stands alone but for the plain-CPU run-time modules it re-exports (the seeded Rng, the CPU sampler)',
      from: { path: '^src/reference/' },
      to: {
        path: '^(src|demo|bench|test)/',
        pathNot: ['^src/reference/', '^src/data/random\\.ts$', '^src/kernels/sampling-cpu\\.ts$'],
      },
    },
    {
      name: 'no-reference',
      severity: 'error',
      comment:
        "run-time code never imports src/reference/ (the tests' spec). src/index.ts alone re-exports it as the `reference` namespace of the public API, for users checking kernels the way the tests do",
      from: { path: '^(src|demo|bench)/', pathNot: ['^src/reference/', '^src/index\\.ts$'] },
      to: { path: '^src/reference/' },
    },
    {
      name: 'no-test',
      severity: 'error',
      comment: 'run-time code never imports the tests',
      from: { path: '^(src|demo|bench)/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'no module reaches itself through its imports (type-only imports included)',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-no-node-builtins',
      severity: 'error',
      comment: 'the library core runs in a browser: no Node builtin (fs, path, ...) in any module src/index.ts reaches',
      from: { path: '^src/index\\.ts$' },
      to: { path: NODE_BUILTINS, reachable: true },
    },
    {
      name: 'core-browser-packages-only',
      severity: 'error',
      comment: `the library core runs in a browser: of the packages, only ${BROWSER_PACKAGES.join(', ')} in any module src/index.ts reaches`,
      from: { path: '^src/index\\.ts$' },
      to: { path: NODE_MODULES, pathNot: BROWSER_PACKAGE_PATHS, reachable: true },
    },
    {
      name: 'core-no-node',
      severity: 'error',
      comment: 'the core folders import no Node builtin and no package outside the browser-safe list, even in a module src/index.ts does not reach yet',
      from: { path: folders(...CORE) },
      to: { path: [NODE_BUILTINS, NODE_MODULES], pathNot: BROWSER_PACKAGE_PATHS },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'an import that does not resolve is a typo or a missing package, and would hide a dependency from the rules above',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count (see the top).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Packages resolve through their `exports` (gpt-tokenizer/encoding/r50k_base).
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
  },
};
