/** `webgpu-rlhf ppo`: optimise an SFT policy against a reward model with PPO. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { loadPrompts } from '../../data/formats.ts';
import { TextTokens } from '../../data/text.ts';
import { planBatch } from '../../model/activations.ts';
import type { GPTConfig } from '../../model/config.ts';
import type { Batch } from '../../model/gpt.ts';
import { withCommandRun } from '../command-run.ts';
import { OPTIMIZER_SETTINGS } from '../../train/training-settings.ts';
import { headFrom } from '../../io/checkpoint.ts';
import type { Weights } from '../../model/weights.ts';
import { defaults, run as runPpo, schema as ppoSchema, tokenizePrompts } from '../../stages/ppo.ts';
import { LOOP_SETTINGS } from '../../stages/stage.ts';
import { addSchemaOptions, number, resolveOptions } from '../options.ts';
import { resolveTokenizer, resumedTokenizer } from '../tokenizer-choice.ts';
import { checkResume } from '../training-run.ts';
import {
  appendMetrics,
  checkNewRunDir,
  checkNotAnInput,
  loadModel,
  loadResumeState,
  readInputFile,
  RUN_CONFIG_FILE,
  saveCheckpoint,
  truncateMetrics,
  VALUE_DIR,
  writeFileAtomic,
  type ResumeState,
} from '../run-dir.ts';

const positiveInt = z.number().int().positive();
// The stage's settings (ppoSchema, defaults), in the order the help lists them.
const stepsSettings = ppoSchema.pick({ steps: true });
/** The PPO settings a command line sets: all of the core's but the two the command derives (from its prompts and its tokenizer). */
const commandPpoSettings = ppoSchema.omit({ ...LOOP_SETTINGS, maxPromptLength: true, vocabLimit: true });
const cadenceSettings = ppoSchema.pick({ logEvery: true, saveEvery: true });
// One AdamW and one gradient clip over policy and value together, as TRL.
const optimizerSettings = ppoSchema.pick(OPTIMIZER_SETTINGS);
const schema = z.strictObject({
  init: z.string().min(1),
  rewardModel: z.string().min(1),
  data: z.string().min(1),
  out: z.string().min(1),
  tokenizer: z.enum(['bytes', 'gpt2']).optional(),
  ...stepsSettings.shape,
  maxPromptLength: ppoSchema.shape.maxPromptLength.optional(),
  ...commandPpoSettings.shape,
  ptxData: z.string().min(1).optional(),
  ptxBatchSize: positiveInt.optional(),
  ...optimizerSettings.shape,
  ...cadenceSettings.shape,
  resume: z.boolean(),
});

export function registerPpo(program: Command): void {
  const cmd = program
    .command('ppo')
    .description('PPO of an SFT policy against a reward model, on JSONL prompts {"prompt": …} (defaults follow TRL\'s PPOConfig)')
    .option('--config <file>', 'JSON file whose keys are any of these options (flags win over it)')
    .requiredOption('--init <dir>', 'the SFT run: the policy starts from it, and a frozen copy is the KL reference')
    .requiredOption('--reward-model <dir>', 'the reward model run (frozen); the value model starts from it')
    .requiredOption('--data <file>', 'prompts, JSONL {"prompt": …}')
    .option('--out <dir>', 'run directory for the policy (value model in <out>/value)', 'runs/ppo')
    .addOption(new Option('--tokenizer <name>', 'tokenizer (default: the one the SFT run and the reward model record; for a folder without a record, a guess from its vocabulary)').choices(['bytes', 'gpt2']));
  addSchemaOptions(cmd, stepsSettings, defaults).option('--max-prompt-length <n>', 'longer prompts are skipped (default: the longest that fits the context)', number);
  addSchemaOptions(cmd, commandPpoSettings, defaults)
    .option('--ptx-data <file>', 'plain text for the PPO-ptx pretraining loss (--ptx-coef)')
    .option('--ptx-batch-size <n>', 'sequences of --ptx-data per PPO step (default: --batch-size)', number);
  addSchemaOptions(cmd, cadenceSettings, defaults).option(
    '--resume',
    'continue the run in --out from its last checkpoint (policy, value model, optimizer, KL coefficient), as if never stopped',
    false,
  );
  addSchemaOptions(cmd, optimizerSettings, defaults, { lr: 'learning rate (TRL: 3e-6 for large models; small ones want more)' });
  cmd.action(async () => {
    let o = resolveOptions(cmd, schema);
    // Everything is checked before the first write, so that a refused start can be run again as it is.
    const inputs = [['--init', o.init], ['--reward-model', o.rewardModel]] as const;
    let resume: ResumeState | null = null;
    if (o.resume) {
      checkNotAnInput(o.out, inputs);
      resume = loadResumeState(o.out);
      if (!resume) throw new Error(`${o.out}: nothing to resume (no trainer_state.json)`);
      // Without --tokenizer, the run's own (another is refused as a changed setting).
      o = { ...o, tokenizer: o.tokenizer ?? resumedTokenizer(o.out, resume.trainer.config) };
      checkResume('ppo', o, resume, schema);
    } else {
      checkNewRunDir(o.out, inputs, true);
    }
    const sft = loadModel(o.init);
    const rm = loadModel(o.rewardModel);
    headFrom(rm, o.rewardModel, 'a reward model (train one with `webgpu-rlhf reward`)');
    const shape = (c: GPTConfig) => `n_layer ${c.nLayer}, n_head ${c.nHead}, n_embd ${c.nEmbd}`;
    if (rm.config.nLayer !== sft.config.nLayer || rm.config.nHead !== sft.config.nHead || rm.config.nEmbd !== sft.config.nEmbd) {
      throw new Error(
        `--reward-model ${o.rewardModel} (${shape(rm.config)}) must have the shape of the --init policy ${o.init} (${shape(sft.config)}): the value model starts from it`,
      );
    }
    if (o.batchSize % o.miniBatches !== 0) {
      throw new Error(`--mini-batches ${o.miniBatches} must divide --batch-size ${o.batchSize} (each minibatch an equal share of the prompts)`);
    }
    // Policy and reward model must read token ids alike: one tokenizer, refused before anything runs when they differ.
    const tokenizer = resolveTokenizer(
      [
        { flag: '--init', dir: o.init, config: sft.config },
        { flag: '--reward-model', dir: o.rewardModel, config: rm.config },
      ],
      o.tokenizer,
    );
    // A resumed run's policy and value model (with its head) come from --out; the KL reference stays the --init model.
    let resumed: { policy: Weights; value: Weights; klCoef: number } | null = null;
    if (resume) {
      const policy = loadModel(o.out);
      const value = loadModel(o.out, VALUE_DIR);
      headFrom(value, join(o.out, VALUE_DIR), 'the value model of a PPO run');
      const klCoef = resume.trainer.klCoef;
      if (typeof klCoef !== 'number' || !Number.isFinite(klCoef) || klCoef < 0) {
        throw new Error(`${join(o.out, 'trainer_state.json')}: "klCoef" must be the run's KL coefficient (a number ≥ 0): not a resumable PPO checkpoint`);
      }
      resumed = { policy: { config: sft.config, params: policy.params }, value, klCoef };
    }
    const room = sft.config.nPositions - o.responseLength;
    if (room < 1) throw new Error(`--response-length ${o.responseLength} leaves no room for a prompt in a context of ${sft.config.nPositions}`);
    const records = loadPrompts(readInputFile(o.data), o.data);
    const data = tokenizePrompts(records, tokenizer, Math.min(o.maxPromptLength ?? room, room));
    for (const s of data.skipped) console.log(`ppo: ${o.data}:${s.line}: skipped: ${s.reason}`);
    if (data.prompts.length === 0) throw new Error(`${o.data}: no prompt fits (${data.skipped.length} skipped)`);

    let ptxBatch: ((step: number) => Batch) | undefined;
    if (o.ptxCoef > 0) {
      if (!o.ptxData) throw new Error('--ptx-coef needs --ptx-data FILE (plain text)');
      const corpus = new TextTokens(tokenizer.encode(readInputFile(o.ptxData)), o.ptxData);
      const B = o.ptxBatchSize ?? o.batchSize;
      const T = data.longest + o.responseLength;
      corpus.batch(0, B, T); // too short a corpus stops here, before training
      ptxBatch = (step) => corpus.shuffledBatch(step, B, T, o.seed);
    }

    await withCommandRun(
      {
        prefix: 'ppo',
        setUp: (gpu) => {
          // What the device cannot hold stops here, before any file is written.
          planBatch(gpu, sft.config, 1, data.longest + o.responseLength);
          mkdirSync(o.out, { recursive: true });
          writeFileAtomic(join(o.out, RUN_CONFIG_FILE), `${JSON.stringify({ stage: 'ppo', ...o, resume: undefined, tokenizer: tokenizer.name }, null, 2)}\n`);
          if (resume) truncateMetrics(o.out, resume.trainer.step);
          console.log(
            `ppo: ${data.prompts.length} prompts (longest ${data.longest} tokens); ` +
              (resume ? `resumed at step ${resume.trainer.step} of ${o.out}` : `policy from ${o.init}`) +
              `, reward model ${o.rewardModel}`,
          );
        },
      },
      async ({ gpu, shouldStop, progress: startProgress }) => {
        const progress = startProgress('ppo', o.steps, resume?.trainer.step ?? 0);
        const { summary: result } = await runPpo(
          gpu,
          resumed?.policy ?? sft,
          // The schema keeps the stage's settings of the command's options and drops the rest; no evaluation (the command has none).
          // A padded vocabulary's ids beyond the tokenizer's are never sampled.
          ppoSchema.parse({ ...o, maxPromptLength: data.longest, vocabLimit: tokenizer.vocabSize, evalEvery: defaults.evalEvery }),
          {
            prompts: data.prompts,
            eosId: tokenizer.eosId,
            reference: sft,
            value: resumed?.value,
            reward: rm,
            ptxBatch,
            ptxBatchSize: o.ptxBatchSize ?? o.batchSize,
            start: resume && resumed ? { step: resume.trainer.step, state: { optimizer: resume.optimizer, beta: resumed.klCoef } } : undefined,
          },
          {
            onStep: (m) => progress.update(m.step, { loss: m['objective/scores'] }),
            onLog: (m) => {
              appendMetrics(o.out, { stage: 'ppo', ...m });
              progress.log(m.step, { scores: m['objective/scores'], kl: m['objective/kl'], 'loss/policy': m['loss/policy_avg'], 'loss/value': m['loss/value_avg'] });
            },
            save: async (step, trainer) => {
              // Policy, value model, moments and KL coefficient in one transaction: a crash leaves one step's set.
              const value = await trainer.getValueModel();
              const state = await trainer.getState();
              saveCheckpoint(o.out, {
                config: sft.config,
                params: await trainer.getPolicyParameters(),
                tokenizer: tokenizer.name,
                optimizer: state.optimizer,
                trainerState: { step, stage: 'ppo', config: { ...o, resume: undefined, tokenizer: tokenizer.name }, klCoef: state.beta },
                value: { ...value, tokenizer: tokenizer.name },
              });
            },
            shouldStop,
          },
        );
        progress.stop();
        const last = result.last;
        console.log(
          `ppo: ${result.stopped ? 'stopped' : 'done'} after ${result.steps} steps` +
            (last ? `; scores ${last['objective/scores'].toFixed(4)}, kl ${last['objective/kl'].toFixed(4)}` : '') +
            `; wrote ${o.out}`,
        );
        if (result.stopped) process.exitCode = 130;
      },
    );
  });
}
