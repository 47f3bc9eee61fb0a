/**
 * The public API of webgpu-rlhf, shared by the CLI and the browser demo.
 * Nothing reachable from here imports a Node-only module.
 */
export { requestGpu, type RequestGpuOptions } from './gpu/device.ts';
export { Gpu, type GpuInfo, type GpuLimits } from './gpu/gpu.ts';
export { Recorder, type KernelWork } from './gpu/recorder.ts';
export { Profiler, type DispatchTiming } from './gpu/profiler.ts';
export { summarizeByKernel, toChromeTrace, type KernelSummary } from './gpu/profile-report.ts';
export type { Binding, BufferWindow } from './gpu/buffers.ts';

export {
  PRESETS,
  BYTES_VOCAB,
  GPT2_VOCAB,
  preset,
  validateConfig,
  parameterCount,
  type GPTConfig,
  type PresetName,
} from './model/config.ts';
export { parameterTable, initParameters, type ParamSpec } from './model/params.ts';
export { checkHead, headOf, type Weights } from './model/weights.ts';
export { GPT, type Batch, type ParamTensor, type StepResult, type StepOptimizer } from './model/gpt.ts';
export type { BatchPlan } from './model/activations.ts';
export { AdamW, ADAMW_DEFAULTS, type AdamWConfig } from './train/adamw.ts';

export {
  parseSafetensors,
  serializeSafetensors,
  tensorToFloat32,
  tensorToInt32,
  type SafeTensor,
  type DType,
} from './io/safetensors.ts';
export { configFromHF, configToHF, paramsFromHF, paramsToHF, rewardPadTokenId, sequenceClassificationConfig } from './io/hf-gpt2.ts';

export * as kernels from './kernels/index.ts';
/** The matmul variant per adapter: measured once and kept in a TuningStore (localStorageTuningStore() in a browser). */
export { autotuneMatmul, localStorageTuningStore, memoryTuningStore, parseMatmulPin, type AutotuneOptions, type MatmulTuning, type TuningStore } from './kernels/matmul-autotune.ts';
export * as reference from './reference/index.ts';
export {
  decodeModel,
  decodeModelFiles,
  decodeOptimizer,
  encodeModel,
  encodeOptimizer,
  headFrom,
  type OptimizerState,
  type TrainerState,
  type NamedBlob,
} from './io/checkpoint.ts';

export { createTokenizer, BytesTokenizer, Gpt2Tokenizer, type Tokenizer } from './tokenizer/index.ts';
export { guessTokenizer, parseTokenizerRecord, tokenizerFiles, tokenizerFor, TOKENIZER_FILES } from './tokenizer/hf-files.ts';
export { parseJsonl } from './data/jsonl.ts';
export { loadSftExamples, loadPreferenceRecords, loadPrompts, type SftExample, type PreferenceRecord } from './data/formats.ts';
export { checkRankingSheet, rankingSheetProblems } from './data/ranking-sheet.ts';
export { DEFAULT_CHAT_TEMPLATE, chatPrompt, sftSegments, type ChatTemplate } from './data/chat-template.ts';
export { tokenizeSft, sftBatches, type SftSequence } from './data/sft.ts';
export { TextTokens } from './data/text.ts';

export { Generator, type GenerateOptions, type Generation } from './model/generate.ts';
export { learningRate, type ScheduleConfig, type ScheduleName } from './train/schedule.ts';
export { trainLoop, languageModelTrainer, NonFiniteLossError, type Trainer, type StepMetrics, type TrainLoopConfig, type TrainLoopHooks } from './train/loop.ts';
/** The stages, each a module of the one contract (src/stages/stage.ts): `schema`, `defaults`, `run(gpu, from, settings, input, hooks)`. */
export * as pretrainStage from './stages/pretrain.ts';
export * as sftStage from './stages/sft.ts';
export * as rewardStage from './stages/reward.ts';
export * as rankingsStage from './stages/rankings.ts';
export * as ppoStage from './stages/ppo.ts';
export * as evaluateStage from './stages/evaluate.ts';
export { DATA_DEFAULTS, dataSettingsSchema, TRAINED_STAGE_DEFAULTS, trainedStageSchema, cadenceOf } from './stages/stage.ts';
export type { StageOutcome, TrainedStageHooks, TrainedSummary, TrainedStageSettings } from './stages/stage.ts';
export { meanLoss, type LanguageModelInput, type StageData } from './stages/language-model.ts';
export { buildPretrainData, type PretrainDataOptions } from './stages/pretrain.ts';
export { buildSftData, type SftDataOptions } from './stages/sft.ts';
export { buildRewardData, evaluateRewardModel, type RewardData, type RewardInput } from './stages/reward.ts';
export { tokenizePrompts, promptBatch, type PpoInput, type PpoOutcome, type PpoSummary, type PpoHooks, type PpoStepMetrics, type PpoPrompts } from './stages/ppo.ts';
export type { RankingSource, RankingsInput, RankingsHooks, RankingsSummary, RankingsOutcome } from './stages/rankings.ts';
export type { ComparisonReport, ComparisonSample, EvaluateInput, EvaluateHooks } from './stages/evaluate.ts';
export { PpoTrainer, type PpoMetrics, type PpoModels, type PpoTrainerState } from './train/ppo-trainer.ts';
export { PPO_DEFAULTS, ppoSettingsSchema, type PpoSettings } from './train/ppo-settings.ts';
export { TRAINING_DEFAULTS, trainingSettingsSchema, type TrainingSettings } from './train/training-settings.ts';
export { RewardModel } from './model/reward-model.ts';
export type { DataInput } from './stages/language-model.ts';
export type { TrainLoopResult, SaveCheckpoint } from './train/loop.ts';
/** The built-in task: its world, datasets and the gold labeler. */
export * as task from './task/index.ts';
export {
  runPipeline,
  PIPELINE_PRESETS,
  PIPELINE_STAGES,
  PipelineStopped,
  type PipelineSettings,
  type PipelineSummary,
  type PipelineHooks,
  type PipelineStage,
  type PipelinePresetName,
} from './stages/pipeline.ts';
