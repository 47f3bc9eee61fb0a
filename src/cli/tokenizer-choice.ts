/**
 * Which tokenizer a command uses with the models it reads (Node only).
 *
 * A run directory records its tokenizer (tokenizer_config.json, see
 * src/tokenizer/hf-files.ts); a command takes it from there. `--tokenizer`
 * overrides the record, and is refused only when its ids cannot fit the
 * model (more ids than the model's vocabulary). A model whose vocabulary is
 * larger than the tokenizer's (padded, as llm.c pads 50257 to 50304) is
 * fine: the ids stay below the tokenizer's size, and sampling never chooses
 * the padded ones. A foreign Hugging Face folder without a record is guessed
 * from its vocabulary size, and the guess is printed on stderr. Models that
 * work together (a policy and its reward model, baseline or reference) must
 * have one tokenizer: different ones are refused, naming both, before
 * anything runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GPTConfig } from '../model/config.ts';
import { guessTokenizer, parseTokenizerRecord, RECORD_KEY, TOKENIZER_CONFIG_FILE } from '../tokenizer/hf-files.ts';
import { createTokenizer, type Tokenizer, type TokenizerName } from '../tokenizer/index.ts';
import { checkpointFile } from './run-dir.ts';

/** A model a command reads: the flag that named it, its folder, its config. */
export interface ModelInput {
  flag: string;
  dir: string;
  config: GPTConfig;
}

/** The tokenizer `dir` records, or null when it has no record of ours (a foreign Hugging Face folder). */
export function recordedTokenizer(dir: string): TokenizerName | null {
  const path = checkpointFile(dir, TOKENIZER_CONFIG_FILE);
  if (!path) return null;
  return parseTokenizerRecord(readFileSync(path, 'utf8'), join(dir, TOKENIZER_CONFIG_FILE));
}

interface Choice {
  name: TokenizerName;
  /** where it came from, for messages */
  how: string;
  recorded: boolean;
}

function choiceOf(m: ModelInput): Choice {
  const recorded = recordedTokenizer(m.dir);
  if (recorded) return { name: recorded, how: `recorded in ${join(m.dir, TOKENIZER_CONFIG_FILE)}`, recorded: true };
  return { name: guessTokenizer(m.config.vocabSize), how: `guessed from its vocabulary of ${m.config.vocabSize}`, recorded: false };
}

/** Refuses a tokenizer whose ids the model's vocabulary cannot hold, naming both. */
export function checkTokenizerFits(tokenizer: Tokenizer, how: string, m: ModelInput): void {
  if (tokenizer.vocabSize <= m.config.vocabSize) return;
  throw new Error(
    `${m.flag} ${m.dir}: the ${tokenizer.name} tokenizer (${how}) has ${tokenizer.vocabSize} token ids, more than the model's vocabulary of ` +
      `${m.config.vocabSize} (vocab_size in its config.json): ids from ${m.config.vocabSize} up have no embedding. ` +
      `Use the tokenizer the model was trained with, or a model whose vocabulary holds ${tokenizer.vocabSize} ids.`,
  );
}

/**
 * The one tokenizer of the models a command uses together (or of its one
 * model): `--tokenizer` when given, else the one they record (without a
 * record, a guess from the vocabulary, printed through `log`). Models that
 * record different tokenizers are refused, naming both, whatever
 * `--tokenizer` says (no one tokenizer serves both); so are different
 * guesses without `--tokenizer`. Every model's vocabulary must hold the
 * tokenizer's ids.
 */
export function resolveTokenizer(models: readonly ModelInput[], override?: TokenizerName, log: (line: string) => void = (l) => console.error(l)): Tokenizer {
  const choices = models.map(choiceOf);
  // With --tokenizer, guesses give way; records never do.
  const compared = models.map((m, i) => ({ m, c: choices[i]! })).filter(({ c }) => !override || c.recorded);
  for (const other of compared.slice(1)) {
    const { m: a, c: first } = compared[0]!;
    const { m: b, c } = other;
    if (c.name === first.name) continue;
    throw new Error(
      `${a.flag} ${a.dir} uses the ${first.name} tokenizer (${first.how}) but ${b.flag} ${b.dir} uses the ${c.name} tokenizer (${c.how}): ` +
        'the same token id means different text to the two models, so one would read the other\'s tokens as other text. ' +
        'Use models trained with one tokenizer' +
        (first.recorded && c.recorded ? '.' : ', or pass --tokenizer bytes|gpt2 if a guess is wrong.'),
    );
  }
  models.forEach((m, i) => {
    const c = choices[i]!;
    if (override && c.recorded && c.name !== override) {
      log(`webgpu-rlhf: --tokenizer ${override} overrides the ${c.name} tokenizer ${c.how} (${m.flag})`);
    }
    if (!override && !c.recorded) {
      log(
        `webgpu-rlhf: ${m.flag} ${m.dir} records no tokenizer (no ${TOKENIZER_CONFIG_FILE} naming one in "${RECORD_KEY}"); ` +
          `guessed ${c.name} from its vocabulary of ${m.config.vocabSize} (pass --tokenizer bytes|gpt2 to choose)`,
      );
    }
  });
  const tokenizer = createTokenizer(override ?? choices[0]!.name);
  models.forEach((m, i) => checkTokenizerFits(tokenizer, override ? '--tokenizer' : choices[i]!.how, m));
  return tokenizer;
}

/**
 * The tokenizer of the run being resumed in `out`: its record, or for a run
 * saved before runs recorded one, the tokenizer its saved settings name;
 * undefined when neither says (resolveTokenizer then guesses).
 */
export function resumedTokenizer(out: string, savedSettings: Record<string, unknown> | undefined): TokenizerName | undefined {
  const recorded = recordedTokenizer(out);
  if (recorded) return recorded;
  const saved = savedSettings?.tokenizer;
  return saved === 'bytes' || saved === 'gpt2' ? saved : undefined;
}
