/**
 * `webgpu-rlhf bench`: the benchmark of bench/ (ours beside tfjs-webgpu on the
 * same adapter). It needs a checkout with the dev dependencies, so it is
 * loaded only when asked for.
 */
import type { Command } from 'commander';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('matmul variants and a training step beside tfjs-webgpu on this adapter, generation speed (--help for its options)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[options...]', 'the bench\'s own options (see `webgpu-rlhf bench --help`)')
    .action(async (args: string[]) => {
      let bench: typeof import('../../../bench/index.ts');
      try {
        bench = await import('../../../bench/index.ts');
      } catch (e) {
        throw new Error(`the bench needs a checkout of webgpu-rlhf with its dev dependencies (npm install): ${(e as Error).message}`);
      }
      await bench.runBench(args);
    });
}
