/** The `webgpu-rlhf` command line (Node only). */
import { Command } from 'commander';
import { registerBench } from './commands/bench.ts';
import { registerEval } from './commands/eval.ts';
import { registerGenerate } from './commands/generate.ts';
import { registerInfo } from './commands/info.ts';
import { registerLanguageModelCommands } from './commands/language-model.ts';
import { registerPipeline } from './commands/pipeline.ts';
import { registerPpo } from './commands/ppo.ts';
import { registerProfile } from './commands/profile.ts';
import { registerReward } from './commands/reward.ts';
import { registerSample } from './commands/sample.ts';
import { terminalSafe } from './terminal-text.ts';

const program = new Command()
  .name('webgpu-rlhf')
  .description('Train GPT-2 models and run RLHF with hand-written WebGPU kernels')
  .showHelpAfterError('(add --help for usage)')
  .configureHelp({ sortOptions: false });

registerLanguageModelCommands(program);
registerReward(program);
registerPpo(program);
registerGenerate(program);
registerSample(program);
registerEval(program);
registerPipeline(program);
registerBench(program);
registerProfile(program);
registerInfo(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // Messages quote file contents (field names, JSON snippets): shown with terminal controls escaped.
  process.stderr.write(`webgpu-rlhf: ${terminalSafe((e as Error).message)}\n`);
  process.exitCode = 1;
}
