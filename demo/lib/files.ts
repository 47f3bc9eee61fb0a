/**
 * Files a person picks or drops: datasets (told apart by extension and by the
 * keys of their first record, then checked whole, so a bad line is reported
 * as file:line before anything trains) and checkpoints (config.json +
 * model.safetensors of a run directory or a Hugging Face GPT-2 folder).
 */
import { decodeModelFiles, loadPreferenceRecords, loadPrompts, loadSftExamples, parseJsonl, type Weights } from '../../src/index.ts';

export type DatasetKind = 'corpus' | 'sft' | 'preferences' | 'prompts';

export const DATASET_TITLES: Record<DatasetKind, string> = {
  corpus: 'pretraining corpus',
  sft: 'SFT demonstrations',
  preferences: 'preferences (pairs or rankings)',
  prompts: 'prompts (PPO, ranking, samples)',
};

export interface Dataset {
  kind: DatasetKind;
  name: string;
  text: string;
  /** what it holds, for the page */
  summary: string;
}

export type LoadedFile = { type: 'dataset'; dataset: Dataset } | { type: 'checkpoint'; name: string; checkpoint: Weights };

const CHECKPOINT_FILES = /(^config\.json$|\.safetensors$|^trainer_state\.json$)/;

/** Every file read and checked; throws on the first bad one, naming it (and the line). */
export async function readFiles(picked: readonly File[]): Promise<LoadedFile[]> {
  // A picked folder is a run directory: only its model files matter (not metrics.jsonl and the like).
  const fromFolder = picked.some((f) => (f as File & { webkitRelativePath?: string }).webkitRelativePath);
  const files = fromFolder ? picked.filter((f) => f.name === 'config.json' || f.name === 'model.safetensors') : picked;
  if (fromFolder && files.length === 0) throw new Error('that folder has no config.json or model.safetensors');
  const checkpointFiles = files.filter((f) => CHECKPOINT_FILES.test(f.name));
  const out: LoadedFile[] = [];
  if (checkpointFiles.length > 0) {
    // The optimizer and trainer state only matter to the CLI's --resume.
    const model = checkpointFiles.filter((f) => f.name === 'config.json' || f.name === 'model.safetensors');
    const folder = (picked[0] as File & { webkitRelativePath?: string }).webkitRelativePath?.split('/')[0] || 'checkpoint';
    out.push({ type: 'checkpoint', name: folder, checkpoint: await decodeModelFiles(model, model.map((f) => f.name).join(' + ')) });
  }
  for (const file of files) {
    if (CHECKPOINT_FILES.test(file.name)) continue;
    out.push({ type: 'dataset', dataset: readDataset(file.name, await file.text()) });
  }
  return out;
}

export function readDataset(name: string, text: string): Dataset {
  if (/\.txt$/i.test(name)) {
    if (text.trim().length === 0) throw new Error(`${name}: the file is empty`);
    return { kind: 'corpus', name, text, summary: `${text.length.toLocaleString()} characters of text` };
  }
  if (!/\.jsonl?$/i.test(name)) throw new Error(`${name}: expected a .txt corpus or a .jsonl dataset (or config.json + model.safetensors)`);
  const first = parseJsonl(text, name)[0]!;
  const keys = Object.keys(first.value);
  const has = (k: string) => keys.includes(k);
  if (has('chosen') || has('rejected') || has('ranking')) {
    const records = loadPreferenceRecords(text, name);
    return { kind: 'preferences', name, text, summary: `${records.length} preference records` };
  }
  if (has('completion') || has('messages') || has('text')) {
    const records = loadSftExamples(text, name);
    return { kind: 'sft', name, text, summary: `${records.length} demonstrations` };
  }
  if (has('prompt')) {
    const records = loadPrompts(text, name);
    return { kind: 'prompts', name, text, summary: `${records.length} prompts` };
  }
  throw new Error(`${name}:${first.line}: cannot tell the dataset's kind from its keys (${keys.join(', ') || 'none'}); see DESIGN.md §5 for the formats`);
}
