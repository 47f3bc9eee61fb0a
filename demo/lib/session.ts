/**
 * The page's training session: the current run (policy, SFT reference, reward
 * model, metrics, human rankings, loaded data), the stage runners of the
 * library that train it (the same stage modules' `run` the CLI and the
 * pipeline call), pause and stop, per-step shader profiles, and keeping it all
 * in the browser's storage. Elements listen for 'change' and render from it.
 */
import {
  BYTES_VOCAB,
  GPT,
  Generator,
  ppoSettingsSchema,
  Profiler,
  RewardModel,
  TRAINED_STAGE_DEFAULTS,
  headOf,
  initParameters,
  loadPrompts,
  preset,
  requestGpu,
  ppoStage,
  pretrainStage,
  rewardStage,
  sftStage,
  task,
  tokenizePrompts,
  tokenizerFor,
  type DispatchTiming,
  type GPTConfig,
  type Gpu,
  type OptimizerState,
  type Weights,
} from '../../src/index.ts';
import type { Dataset, DatasetKind } from './files.ts';
import { clearRun, loadRun, saveRun } from './storage.ts';
import { PRESETS_BY_STAGE, type LanguageModelSettings, type PpoStageSettings, type PresetName, type RewardSettings, type StageName, type StageSettings } from './settings.ts';

export interface MetricPoint {
  step: number;
  [metric: string]: number;
}

export interface Sample {
  prompt: string;
  response: string;
  /** the built-in task's gold score, for its prompts */
  gold?: number;
}

/** A K-way ranking in the contract format of DESIGN.md §5. */
export interface RankingRecord {
  prompt: string;
  ranking: string[];
}

export interface StepProfile {
  stage: StageName;
  step: number;
  /** 'timestamps': GPU timestamp queries; 'cpu': each dispatch submitted alone and timed on the CPU */
  mode: 'timestamps' | 'cpu';
  timings: DispatchTiming[];
}

/** A run stopped with Pause: where it was and the optimizer's moments, to resume exactly. */
export interface PausedRun {
  stage: StageName;
  step: number;
  steps: number;
  optimizer: OptimizerState;
  /** PPO: the value model with its head and the KL coefficient (the policy is run.policy, saved with it) */
  ppo?: { value: Weights; beta: number };
}

export interface RunState {
  version: 1;
  stage: StageName;
  preset: PresetName;
  settings: StageSettings;
  /** the model being trained (pretraining, SFT, PPO) */
  policy: Weights | null;
  /** the SFT model: the first PPO round starts from it, and every round measures its KL to it */
  reference: Weights | null;
  /** with its head */
  rewardModel: Weights | null;
  /**
   * How many PPO runs the policy has been through since the SFT model (0: it
   * is the SFT model, or a language model being trained). The next PPO run
   * is round ppoRound + 1, and starts from the policy when this is above 0.
   * Absent in runs saved before rounds were counted (init works it out).
   */
  ppoRound?: number;
  /** what the reward model was last trained on, from buildRewardData's report (absent before its first training) */
  rewardData?: RewardDataCounts;
  paused: PausedRun | null;
  metrics: Record<StageName, MetricPoint[]>;
  rankings: RankingRecord[];
  datasets: Partial<Record<DatasetKind, Dataset>>;
  samples: { stage: StageName; step: number; items: Sample[] } | null;
  profile: StepProfile | null;
  /** what happened, newest last */
  log: string[];
}

/** A reward run's data: preference groups (one a ranking or a pair) and their comparisons, trained on and held out. */
export interface RewardDataCounts {
  rankings: number;
  comparisons: number;
  heldOutRankings: number;
  heldOutComparisons: number;
}

/** The counts in buildRewardData's report ("training: 3 prompts, 12 responses, 18 comparisons", "held out: …"); null where it has no training line. */
export function rewardDataCounts(report: readonly string[]): RewardDataCounts | null {
  const read = (name: string) => {
    for (const line of report) {
      const m = new RegExp(`^${name}: (\\d+) prompts, \\d+ responses, (\\d+) comparisons$`).exec(line);
      if (m) return { groups: Number(m[1]), comparisons: Number(m[2]) };
    }
    return null;
  };
  const train = read('training');
  if (!train) return null;
  const held = read('held out') ?? { groups: 0, comparisons: 0 };
  return { rankings: train.groups, comparisons: train.comparisons, heldOutRankings: held.groups, heldOutComparisons: held.comparisons };
}

export function freshRun(): RunState {
  return {
    version: 1,
    stage: 'pretrain',
    preset: 'quick',
    settings: structuredClone(PRESETS_BY_STAGE.quick),
    policy: null,
    reference: null,
    rewardModel: null,
    ppoRound: 0,
    paused: null,
    metrics: { pretrain: [], sft: [], reward: [], ppo: [] },
    rankings: [],
    datasets: {},
    samples: null,
    profile: null,
    log: [],
  };
}

/**
 * A run saved before the heads were Weights.head kept them as `score` (the
 * value model without its config, which is the reward model's).
 */
function withHeads(run: RunState): RunState {
  type Old = { score?: Float32Array };
  const rm = run.rewardModel as (Weights & Old) | null;
  if (rm?.score && !rm.head) {
    const { score, ...rest } = rm;
    run.rewardModel = { ...rest, head: score };
  }
  const value = run.paused?.ppo?.value as (Partial<Weights> & Old) | undefined;
  if (value?.score && run.paused?.ppo && run.rewardModel) {
    run.paused.ppo.value = { config: value.config ?? run.rewardModel.config, params: value.params!, head: value.score };
  }
  return run;
}

/**
 * A run saved before PPO rounds were counted: its policy came from PPO (one
 * round; earlier PPO runs all started from SFT) when it is not the SFT model
 * and PPO has logged steps, or when a PPO run is paused.
 */
function withRound(run: Partial<RunState>): Partial<RunState> {
  if (run.ppoRound !== undefined) return run;
  const afterPpo = run.paused?.stage === 'ppo' || (!!run.policy && !!run.reference && run.policy !== run.reference && (run.metrics?.ppo.length ?? 0) > 0);
  return { ...run, ppoRound: afterPpo ? 1 : 0 };
}

/** The built-in task's datasets (for whatever the person has not loaded a file). */
const TASK_SIZES = { corpusDialogues: 3000, sftExamples: 400, rankingPrompts: 200, ppoPrompts: 200, evalPrompts: 64 };
const SAMPLE_PROMPTS = 4;
const SAMPLE_TOKENS = 32;

export interface Progress {
  stage: StageName;
  step: number;
  steps: number;
  startedAt: number;
  startStep: number;
}

export class Session extends EventTarget {
  gpu: Gpu | null = null;
  /** why there is no GPU, for the page to explain */
  gpuError: string | null = null;
  run: RunState = freshRun();
  running: StageName | null = null;
  progress: Progress | null = null;
  /** the last failure, shown until the next start */
  error: string | null = null;
  /** time dispatches on the CPU even where timestamp queries exist */
  cpuTimings = new URLSearchParams(globalThis.location?.search ?? '').get('timings') === 'cpu';
  private request: 'pause' | 'stop' | null = null;
  private taskData: ReturnType<typeof task.makeTaskDatasets> | null = null;
  private saveTimer: ReturnType<typeof setTimeout> | null = null;
  private rankingSeed = 1;
  private weightsChanged = false;

  async init(): Promise<void> {
    try {
      const saved = await loadRun<Partial<RunState>>();
      this.run = withHeads({ ...freshRun(), ...(saved ? withRound(saved) : {}) });
    } catch (e) {
      this.log(`could not read the saved run: ${(e as Error).message}`);
    }
    try {
      this.gpu = await requestGpu();
      void this.gpu.device.lost.then((info) => {
        this.error = `the GPU device was lost (${info.reason || 'unknown reason'}: ${info.message}). Reload the page; the run is saved up to its last checkpoint.`;
        this.changed();
      });
    } catch (e) {
      this.gpuError = (e as Error).message;
    }
    this.changed();
  }

  changed(): void {
    this.dispatchEvent(new Event('change'));
  }

  log(line: string): void {
    this.run.log = [...this.run.log.slice(-199), line];
    this.changed();
  }

  /**
   * Save to IndexedDB soon (coalescing bursts of changes), or now. The weights
   * (large) are written only when `weights` says they changed; metrics and
   * the rest (small) every time.
   */
  persist(now = false, weights = false): Promise<void> {
    this.weightsChanged ||= weights;
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    const save = () => {
      const { policy, reference, rewardModel, paused, ...state } = this.run;
      const heavy = this.weightsChanged ? { policy, reference, rewardModel, paused } : undefined;
      this.weightsChanged = false;
      return saveRun(state, heavy).catch((e: Error) => {
        this.error = `could not save the run in the browser: ${e.message}`;
        this.changed();
      });
    };
    if (now) return save();
    this.saveTimer = setTimeout(() => void save(), 300);
    return Promise.resolve();
  }

  async reset(): Promise<void> {
    if (this.running) return;
    const keep = { stage: this.run.stage, preset: this.run.preset, settings: this.run.settings };
    this.run = { ...freshRun(), ...keep };
    this.error = null;
    await clearRun();
    this.log('started a new run');
    await this.persist(true, true);
  }

  setSettings<S extends StageName>(stage: S, settings: StageSettings[S]): void {
    this.run.settings = { ...this.run.settings, [stage]: settings };
    this.persist();
    this.changed();
  }

  usePreset(name: PresetName): void {
    this.run.preset = name;
    this.run.settings = structuredClone(PRESETS_BY_STAGE[name]);
    this.persist();
    this.changed();
  }

  selectStage(stage: StageName): void {
    this.run.stage = stage;
    this.persist();
    this.changed();
  }

  addDataset(d: Dataset): void {
    this.run.datasets = { ...this.run.datasets, [d.kind]: d };
    this.log(`loaded ${d.name}: ${d.summary}`);
    this.persist();
  }

  removeDataset(kind: DatasetKind): void {
    const { [kind]: _removed, ...rest } = this.run.datasets;
    this.run.datasets = rest;
    this.persist();
    this.changed();
  }

  /** A loaded checkpoint: a reward model (it has a head) or the new policy and SFT reference. */
  addCheckpoint(name: string, c: Weights): void {
    if (c.head) {
      this.run.rewardModel = c;
      this.log(`loaded the reward model ${name}`);
    } else {
      this.run.policy = c;
      this.run.reference = this.run.policy;
      this.run.ppoRound = 0;
      this.log(`loaded ${name} as the policy and the SFT reference`);
    }
    this.run.paused = null;
    this.persist(false, true);
  }

  /** The dataset of a kind: the loaded file, else the built-in task's. */
  dataset(kind: DatasetKind | 'rankingPrompts' | 'evalPrompts'): { text: string; source: string } {
    const prompts = this.run.datasets.prompts;
    if ((kind === 'rankingPrompts' || kind === 'evalPrompts') && prompts) return { text: prompts.text, source: prompts.name };
    const loaded = this.run.datasets[kind as DatasetKind];
    if (loaded) return { text: loaded.text, source: loaded.name };
    this.taskData ??= task.makeTaskDatasets(1, TASK_SIZES);
    const builtIn = {
      corpus: ['corpus', 'corpus.txt'],
      sft: ['sft', 'sft.jsonl'],
      prompts: ['ppoPrompts', 'ppo_prompts.jsonl'],
      rankingPrompts: ['rankingPrompts', 'ranking_prompts.jsonl'],
      evalPrompts: ['evalPrompts', 'eval_prompts.jsonl'],
    } as const;
    if (kind === 'preferences') return { text: '', source: 'no preference file' };
    const [key, file] = builtIn[kind];
    return { text: this.taskData[key], source: `built-in task: ${file}` };
  }

  // ---- training ----

  pause(): void {
    if (this.running) this.request = 'pause';
    this.changed();
  }

  stop(): void {
    if (this.running) this.request = 'stop';
    this.changed();
  }

  get requested(): 'pause' | 'stop' | null {
    return this.request;
  }

  /** Start the stage (or resume it, when it is the paused one). */
  async start(stage: StageName): Promise<void> {
    if (!this.gpu || this.running) return;
    this.run.stage = stage;
    const resume = this.run.paused?.stage === stage ? this.run.paused : null;
    // Resuming drops what was logged after the saved step (a reload mid-run): those steps run again.
    const kept = resume ? this.run.metrics[stage].filter((m) => m.step <= resume.step) : [];
    this.run.metrics = { ...this.run.metrics, [stage]: kept };
    if (!resume) this.run.paused = null;
    this.running = stage;
    this.request = null;
    this.error = null;
    this.changed();
    try {
      if (stage === 'pretrain' || stage === 'sft') await this.trainLanguageModel(stage, this.run.settings[stage], resume);
      else if (stage === 'reward') await this.trainRewardModel(this.run.settings.reward, resume);
      else await this.trainPpo(this.run.settings.ppo, resume);
    } catch (e) {
      this.error = `${stage}: ${(e as Error).message}`;
      this.log(this.error);
    } finally {
      if (this.gpu) this.gpu.profiler = undefined;
      this.running = null;
      this.progress = null;
      this.request = null;
      await this.persist(true, true);
      this.changed();
    }
  }

  /** What every stage's loop hooks share: progress, profiling one step in `profileEvery`, pause and stop. */
  private loopHooks(stage: StageName, steps: number, startStep: number, profileEvery: number) {
    const gpu = this.gpu!;
    this.progress = { stage, step: startStep, steps, startedAt: performance.now(), startStep };
    return {
      // Polled just before each step: the place to attach a profiler to exactly that step.
      shouldStop: (): boolean => {
        if (this.request) return true;
        if (this.progress!.step % profileEvery === 0) gpu.profiler = new Profiler(gpu, { cpuTimings: this.cpuTimings ? 'always' : 'fallback' });
        return false;
      },
      stepDone: (step: number): void => {
        const profiler = gpu.profiler;
        gpu.profiler = undefined;
        this.progress = { ...this.progress!, step };
        if (profiler) {
          profiler
            .collect()
            .then((timings) => {
              this.run.profile = { stage, step, mode: profiler.timestamps ? 'timestamps' : 'cpu', timings };
              this.changed();
            })
            .catch((e: Error) => this.log(`profile of step ${step}: ${e.message}`));
        }
        this.changed();
      },
    };
  }

  private record(stage: StageName, point: MetricPoint): void {
    const series = this.run.metrics[stage];
    const last = series[series.length - 1];
    // A step's log and its evaluation arrive separately; they are one point.
    if (last && last.step === point.step) series[series.length - 1] = { ...last, ...point };
    else series.push({ ...point });
    this.run.metrics = { ...this.run.metrics, [stage]: series };
    this.persist();
    this.changed();
  }

  private finish(stage: StageName, stopped: boolean, step: number, summary: string): void {
    if (!stopped || this.request === 'stop') this.run.paused = null;
    const how = stopped ? (this.request === 'pause' ? 'paused' : 'stopped') : 'finished';
    this.log(`${stage} ${how} at step ${step}${summary ? `: ${summary}` : ''}`);
  }

  private async trainLanguageModel(stage: 'pretrain' | 'sft', s: LanguageModelSettings, resume: PausedRun | null): Promise<void> {
    const gpu = this.gpu!;
    let start = this.run.policy;
    if (!start) {
      const config: GPTConfig = { ...preset(s.model), nPositions: s.contextLength, vocabSize: BYTES_VOCAB };
      start = { config, params: initParameters(config, s.seed) };
      this.log(`a fresh ${s.model} model (context ${s.contextLength})`);
    }
    const { config } = start;
    if (s.seqLen > config.nPositions) throw new Error(`seqLen ${s.seqLen} is longer than the model's context (${config.nPositions})`);
    const tokenizer = tokenizerFor(config);
    const data = this.dataset(stage === 'pretrain' ? 'corpus' : 'sft');
    const settings = {
      ...TRAINED_STAGE_DEFAULTS,
      steps: s.steps,
      batchSize: s.batchSize,
      seqLen: s.seqLen,
      lr: s.lr,
      lrSchedule: s.schedule,
      warmup: s.warmup,
      seed: s.seed,
      logEvery: 1,
      evalEvery: s.evalEvery,
      saveEvery: s.sampleEvery,
    };
    const common = { ...settings, tokenizer, text: data.text, source: data.source };
    const built = stage === 'pretrain' ? pretrainStage.buildPretrainData(common) : sftStage.buildSftData({ ...common, packing: sftStage.defaults.packing, maskPrompt: sftStage.defaults.maskPrompt });
    for (const line of built.report) this.log(line);
    const hooks = this.loopHooks(stage, s.steps, resume?.step ?? 0, s.profileEvery);
    const { summary: result } = await pretrainStage.run(
      gpu,
      start,
      settings,
      { data: built, optimizerState: resume?.optimizer },
      {
        onStep: (m) => hooks.stepDone(m.step),
        onLog: (m) => this.record(stage, { step: m.step, loss: m.loss, lr: m.lr, grad_norm: m.grad_norm, tokens_per_second: m.tokens_per_second }),
        onEval: (step, m) => this.record(stage, { step, eval_loss: m.eval_loss! }),
        save: async (step, weights, optimizer) => {
          this.run.policy = weights;
          this.run.ppoRound = 0;
          this.run.paused = { stage, step, steps: s.steps, optimizer };
          this.persist(false, true);
          await this.refreshSamples(stage, step);
        },
        shouldStop: hooks.shouldStop,
      },
    );
    if (!result.stopped && stage === 'sft') this.run.reference = this.run.policy;
    this.finish(stage, result.stopped, result.steps, Number.isFinite(result.loss) ? `loss ${result.loss.toFixed(3)}` : '');
  }

  /** The rankings the reward model learns from: a loaded preference file, then the page's own. */
  preferenceText(): { text: string; source: string } {
    const file = this.run.datasets.preferences;
    const own = this.run.rankings.map((r) => JSON.stringify(r)).join('\n');
    const text = [file?.text.trimEnd(), own].filter((t) => t).join('\n');
    const source = file ? (own ? `${file.name} + the page's rankings` : file.name) : "the page's rankings";
    return { text: text ? `${text}\n` : '', source };
  }

  private async trainRewardModel(s: RewardSettings, resume: PausedRun | null): Promise<void> {
    const gpu = this.gpu!;
    const trunk = this.run.rewardModel ?? this.run.reference ?? this.run.policy;
    if (!trunk) throw new Error('there is no model yet: pretrain and fine-tune one first (or load a checkpoint); the reward model starts from it');
    const { config } = trunk;
    const { text, source } = this.preferenceText();
    if (!text) throw new Error('no rankings yet: rank some samples in the Rank tab, or load a preference file');
    const tokenizer = tokenizerFor(config);
    const settings = {
      ...rewardStage.defaults,
      steps: s.steps,
      batchSize: s.batchSize,
      seqLen: config.nPositions,
      lr: s.lr,
      lrSchedule: s.schedule,
      warmup: s.warmup,
      seed: s.seed,
      evalFraction: s.evalFraction,
      logEvery: 1,
      evalEvery: s.evalEvery,
      saveEvery: Math.max(1, Math.floor(s.steps / 4)),
    };
    const data = rewardStage.buildRewardData({ ...settings, tokenizer, text, source });
    for (const line of data.report) this.log(line);
    const counts = rewardDataCounts(data.report);
    const hooks = this.loopHooks('reward', s.steps, resume?.step ?? 0, s.profileEvery);
    // From the trunk, and the head of the reward model when continuing one.
    const from = { config, params: trunk.params, head: this.run.rewardModel?.head };
    const { summary: result } = await rewardStage.run(
      gpu,
      from,
      settings,
      { data, optimizerState: resume?.optimizer },
      {
        onStep: (m) => hooks.stepDone(m.step),
        onLog: (m) => this.record('reward', { step: m.step, loss: m.loss, accuracy: m.accuracy ?? NaN, margin: m.margin ?? NaN, lr: m.lr }),
        onEval: (step, m) => this.record('reward', { step, eval_accuracy: m.eval_accuracy ?? NaN, eval_loss: m.eval_loss ?? NaN }),
        save: (step, weights, optimizer) => {
          this.run.rewardModel = weights;
          if (counts) this.run.rewardData = counts;
          this.run.paused = { stage: 'reward', step, steps: s.steps, optimizer };
          this.persist(false, true);
        },
        shouldStop: hooks.shouldStop,
      },
    );
    const last = this.run.metrics.reward.at(-1);
    const on = counts ? `trained on ${counts.comparisons} comparisons from ${counts.rankings} rankings` : '';
    this.finish('reward', result.stopped, result.steps, [last ? `accuracy ${(last.accuracy ?? NaN).toFixed(2)}` : '', on].filter((x) => x).join(', '));
  }

  /**
   * A round of PPO: from the current policy (the SFT model in round 1, the
   * last round's policy after it), with its KL measured to the SFT model and a
   * value model that starts from the reward model (as trained now, on every
   * ranking so far) with fresh optimizer moments. Or resumed where Pause left
   * it: the paused policy, value model, moments and KL coefficient, and the
   * step (rollouts are seeded by it), so a paused run ends where an
   * uninterrupted one would.
   */
  private async trainPpo(s: PpoStageSettings, resume: PausedRun | null): Promise<void> {
    const gpu = this.gpu!;
    const rm = this.run.rewardModel;
    const reference = this.run.reference ?? this.run.policy;
    if (!reference) throw new Error('there is no policy yet: pretrain and fine-tune one first (or load a checkpoint)');
    if (!rm) throw new Error('there is no reward model yet: rank samples and train one (Rank tab), or load one');
    if (s.batchSize % s.miniBatches !== 0) throw new Error(`batchSize ${s.batchSize} must be a multiple of miniBatches ${s.miniBatches}`);
    this.run.reference = reference;
    const { config } = reference;
    const tokenizer = tokenizerFor(config);
    const room = config.nPositions - s.responseLength;
    if (room < 1) throw new Error(`responseLength ${s.responseLength} leaves no room for a prompt in a context of ${config.nPositions}`);
    const data = this.dataset('prompts');
    const prompts = tokenizePrompts(loadPrompts(data.text, data.source), tokenizer, room);
    for (const skip of prompts.skipped.slice(0, 3)) this.log(`${data.source}:${skip.line}: skipped: ${skip.reason}`);
    const resumed = resume?.ppo && this.run.policy ? { ...resume, ppo: resume.ppo, policy: this.run.policy } : null;
    if (resume && !resumed) throw new Error('the paused PPO run lacks its value model or policy: press Stop, then start PPO again');
    const previous = this.run.ppoRound ?? 0;
    // A paused round has saved its policy (and counted itself) at its first save.
    const round = resumed ? Math.max(1, previous) : previous + 1;
    const start = !resumed && previous > 0 && this.run.policy ? this.run.policy : reference;
    if (JSON.stringify(start.config) !== JSON.stringify(config)) throw new Error("the policy's config differs from the SFT model's: start over from the SFT model (Rank tab)");
    this.log(
      resumed
        ? `PPO round ${round}: resumed at step ${resumed.step}`
        : `PPO round ${round}: from ${start === reference ? 'the SFT model' : `the policy of round ${previous}`}, KL to the SFT model, the value model from the reward model${this.run.rewardData ? ` (trained on ${this.run.rewardData.comparisons} comparisons)` : ''}`,
    );
    const hooks = this.loopHooks('ppo', s.steps, resumed?.step ?? 0, s.profileEvery);
    const { summary: result } = await ppoStage.run(
      gpu,
      { config, params: (resumed?.policy ?? start).params },
      {
        // The page's PPO settings over the stage's defaults (the schema drops the page's own: steps, lr, cadence, which follow).
        ...ppoStage.defaults,
        ...ppoSettingsSchema.partial().parse(s),
        maxPromptLength: prompts.longest,
        lr: s.lr,
        lrSchedule: s.schedule,
        warmup: s.warmup,
        steps: s.steps,
        logEvery: 1,
        saveEvery: s.sampleEvery,
        evalEvery: 0,
      },
      {
        prompts: prompts.prompts,
        eosId: tokenizer.eosId,
        reference,
        value: resumed?.ppo.value,
        reward: rm,
        start: resumed ? { step: resumed.step, state: { optimizer: resumed.optimizer, beta: resumed.ppo.beta } } : undefined,
      },
      {
        onStep: (m) => hooks.stepDone(m.step),
        onLog: (m) => this.record('ppo', m),
        save: async (step, trainer) => {
          const state = await trainer.getState();
          this.run.policy = { config, params: await trainer.getPolicyParameters() };
          this.run.ppoRound = round;
          this.run.paused = { stage: 'ppo', step, steps: s.steps, optimizer: state.optimizer, ppo: { value: await trainer.getValueModel(), beta: state.beta } };
          this.persist(false, true);
          await this.refreshSamples('ppo', step);
        },
        shouldStop: hooks.shouldStop,
      },
    );
    const m = result.last;
    this.finish('ppo', result.stopped, result.steps, m ? `round ${round}, score ${m['objective/scores'].toFixed(3)}, KL ${m['objective/kl'].toFixed(3)}` : '');
  }

  /** Forget the PPO rounds: the policy is the SFT model again (a paused PPO run is dropped), and the next PPO run is round 1. */
  policyToSft(): void {
    if (this.running || !this.run.reference) return;
    this.run.policy = this.run.reference;
    this.run.ppoRound = 0;
    if (this.run.paused?.stage === 'ppo') this.run.paused = null;
    this.log('the policy is the SFT model again: the next PPO run starts from it (round 1)');
    void this.persist(true, true);
  }

  // ---- sampling ----

  /** Responses of `weights` to prompts, on the GPU with the KV cache. */
  async generate(weights: Weights, prompts: readonly string[], o: { maxNewTokens: number; temperature: number; seed: number }): Promise<string[]> {
    const gpu = this.gpu!;
    const tokenizer = tokenizerFor(weights.config);
    const encoded = prompts.map((p) => tokenizer.encode(p));
    const longest = Math.max(...encoded.map((e) => e.length));
    // One position stays free for the EOS a reward model reads its score at.
    const maxNewTokens = Math.min(o.maxNewTokens, weights.config.nPositions - longest - 1);
    if (maxNewTokens < 1) throw new Error(`the prompt takes ${longest} tokens, the whole context of the model`);
    const model = new GPT(gpu, weights.config, 1, 1);
    const generator = new Generator(model, { maxBatch: prompts.length, maxLength: longest + maxNewTokens });
    try {
      model.setParameters(weights.params);
      const g = await generator.generate(encoded, { maxNewTokens, temperature: o.temperature, seed: o.seed, eosId: tokenizer.eosId });
      return g.responses.map((r) => tokenizer.decode(r));
    } finally {
      generator.destroy();
      model.destroy();
    }
  }

  private async refreshSamples(stage: StageName, step: number): Promise<void> {
    if (!this.run.policy) return;
    const { text, source } = this.dataset('evalPrompts');
    const prompts = loadPrompts(text, source).slice(0, SAMPLE_PROMPTS).map((r) => r.prompt);
    const responses = await this.generate(this.run.policy, prompts, { maxNewTokens: SAMPLE_TOKENS, temperature: 0.7, seed: step });
    const items = prompts.map((prompt, i) => {
      const taskPrompt = task.parseTaskPrompt(prompt);
      return { prompt, response: responses[i]!, ...(taskPrompt ? { gold: task.goldScore(taskPrompt, responses[i]!) } : {}) };
    });
    this.run.samples = { stage, step, items };
    this.changed();
  }

  // ---- ranking ----

  /** The next prompt to rank: the loaded prompts, else the task's ranking prompts, in turn. */
  nextRankingPrompt(): string {
    const { text, source } = this.dataset('rankingPrompts');
    const prompts = loadPrompts(text, source);
    return prompts[this.run.rankings.length % prompts.length]!.prompt;
  }

  /** K responses of the current policy to one prompt. */
  async sampleForRanking(prompt: string, k: number): Promise<string[]> {
    if (!this.gpu) throw new Error('no WebGPU');
    if (!this.run.policy) throw new Error('there is no policy to sample from yet: train one (Train tab) or load a checkpoint');
    if (this.running) throw new Error(`wait for ${this.running} to finish (or pause it) before sampling`);
    return this.generate(this.run.policy, Array.from({ length: k }, () => prompt), { maxNewTokens: SAMPLE_TOKENS, temperature: 1, seed: this.rankingSeed++ * 7919 });
  }

  /** The reward model's score of each response to the prompt (read at the EOS after it, as in training); null without one. */
  async rewardScores(prompt: string, responses: readonly string[]): Promise<number[] | null> {
    const rm = this.run.rewardModel;
    if (!rm || !this.gpu || this.running) return null;
    const tokenizer = tokenizerFor(rm.config);
    const T = rm.config.nPositions;
    const B = responses.length;
    const tokens = new Int32Array(B * T).fill(tokenizer.eosId);
    const last = new Int32Array(B);
    const head = tokenizer.encode(prompt);
    responses.forEach((r, i) => {
      const sequence = [...head, ...tokenizer.encode(r)].slice(0, T - 1);
      tokens.set(sequence, i * T);
      last[i] = sequence.length; // the EOS that follows
    });
    const model = new RewardModel(this.gpu, rm.config, B, T);
    try {
      model.setParameters(rm.params, headOf(rm, 'the reward model'));
      return [...(await model.rewards(tokens, last))];
    } finally {
      model.destroy();
    }
  }

  /** The gold labeler's order of the responses (best first), where the prompt is one of the task's. */
  goldSuggestion(prompt: string, responses: readonly string[]): number[] | null {
    const p = task.parseTaskPrompt(prompt);
    return p ? task.goldRanking(p, responses) : null;
  }

  /**
   * Keep a ranking (best first). Identical responses say nothing about each
   * other and empty ones are not allowed in the format, so both are left out.
   */
  submitRanking(prompt: string, ordered: readonly string[]): RankingRecord {
    const ranking = [...new Set(ordered)].filter((r) => r.trim().length > 0);
    if (ranking.length < 2) throw new Error('a ranking needs at least two different, non-empty responses; sample again');
    const record = { prompt, ranking };
    this.run.rankings = [...this.run.rankings, record];
    this.log(`ranking ${this.run.rankings.length} saved (${ranking.length} responses)`);
    void this.persist(true);
    return record;
  }

  rankingsJsonl(): string {
    return this.run.rankings.map((r) => `${JSON.stringify(r)}\n`).join('');
  }
}
