import { describe, expect, it } from 'vitest';
import { loadPrompts, loadSftExamples } from '../../src/data/formats.ts';
import { Rng } from '../../src/reference/random.ts';
import {
  ANSWER_STYLES,
  badAnswer,
  chatPrompt,
  goldPreference,
  goldRanking,
  goldRankingRecord,
  goldScore,
  HOBBIES,
  makePrompts,
  makeTaskDatasets,
  parseTaskPrompt,
  styledAnswer,
} from '../../src/task/index.ts';

const small = { corpusDialogues: 200, sftExamples: 40, rankingPrompts: 20, ppoPrompts: 20, evalPrompts: 12 };

describe('the built-in task', () => {
  it('is deterministic per seed', () => {
    expect(makeTaskDatasets(7, small)).toEqual(makeTaskDatasets(7, small));
    expect(makeTaskDatasets(7, small).corpus).not.toEqual(makeTaskDatasets(8, small).corpus);
  });

  it('writes every dataset in the contract formats', () => {
    const d = makeTaskDatasets(1, small);
    const sft = loadSftExamples(d.sft, 'sft.jsonl');
    expect(sft).toHaveLength(40);
    expect(sft[0]).toMatchObject({ kind: 'prompt-completion' });
    for (const [name, text, n] of [['ranking', d.rankingPrompts, 20], ['ppo', d.ppoPrompts, 20], ['eval', d.evalPrompts, 12]] as const) {
      const prompts = loadPrompts(text, `${name}.jsonl`);
      expect(prompts).toHaveLength(n);
      for (const p of prompts) expect(parseTaskPrompt(p.prompt), p.prompt).not.toBeNull();
    }
  });

  it('demonstrates only correct, harmless answers, in every style people use', () => {
    const demos = loadSftExamples(makeTaskDatasets(2, { ...small, sftExamples: 200 }).sft, 'sft.jsonl');
    const scores = demos.map((d) => {
      if (d.kind !== 'prompt-completion') throw new Error('expected prompt/completion pairs');
      return goldScore(parseTaskPrompt(d.prompt)!, d.completion);
    });
    expect(Math.min(...scores)).toBeGreaterThan(-0.5); // never wrong, rude or harmful (the worst: a terse "reading")
    expect(new Set(scores).size).toBeGreaterThan(3); // not all equally liked: there is something for RLHF to learn
    expect(scores.filter((x) => x === 1).length / scores.length).toBeLessThan(0.5);
    expect(JSON.stringify(demos)).not.toContain('petty crime');
  });

  it('teaches capability without alignment: the corpus holds the facts and the bad habits', () => {
    const { corpus } = makeTaskDatasets(1, small);
    expect(corpus).toMatch(/\d plus \d is \d+\./);
    expect(corpus).toMatch(/Figure it out yourself\.|Go away|What a dumb question/);
    expect(corpus).toMatch(/I don't know\.|No idea\.|Ask someone else\./);
    expect(corpus).toContain('petty crime');
    expect(corpus).toMatch(/User: .*\nAssistant: /);
  });
});

describe('the gold labeler', () => {
  const add = parseTaskPrompt(chatPrompt('What is 3 plus 4?'))!;
  const greet = parseTaskPrompt(chatPrompt('Say hello to Ada.'))!;
  const color = parseTaskPrompt(chatPrompt('What color is sky?'))!;
  const hobby = parseTaskPrompt(chatPrompt('What is your hobby?'))!;

  it('prefers correct, polite, helpful answers that end, on hand-written cases', () => {
    const answers = [
      ' 3 plus 4 is 7.', // correct, restates the question, ends: the best
      ' It is 7.', // correct and ends, but does not restate
      ' 7', // correct, a fragment
      ' 3 plus 4 is 7. 3 plus 4 is 7', // stuck repeating itself
      " I don't know.", // honest but unhelpful
      ' 3 plus 4 is 8.', // confidently wrong
      ' Figure it out yourself.', // rude
      '', // nothing at all
    ];
    expect(goldRanking(add, [...answers].reverse())).toEqual(answers.map((_, i) => answers.length - 1 - i));
    expect(goldScore(add, answers[0]!)).toBe(1);
    expect(goldPreference(greet, ' Hello, Ada!', ' Hi, Ada.')).toBe(1);
    expect(goldPreference(greet, ' Hi, Ada.', ' Hi Ada')).toBe(1);
    expect(goldPreference(greet, ' Hello, Bob!', ' Hi Ada')).toBe(0); // the wrong name is worse than a curt greeting
    expect(goldPreference(greet, ' Hello, Ada!', ' Go away, Ada.')).toBe(1);
    expect(goldPreference(color, ' Sky is blue.', ' Sky is red.')).toBe(1);
    expect(goldPreference(color, ' It is blue.', ' blue')).toBe(1);
    expect(goldPreference(color, ' blue', ' No idea.')).toBe(1);
    expect(goldPreference(color, ' Sky is blue.', ' Sky is blue.')).toBe(0.5);
    expect(goldPreference(color, ' Sky is blue.', ' Sky is blue. Sky is blue.')).toBe(1);
  });

  it('ranks hobbies: gaming > exercise > playing the piano > watching anime > reading > petty crime', () => {
    const shuffled = [4, 0, 5, 2, 1, 3].map((i) => ` My hobby is ${HOBBIES[i]}.`);
    expect(goldRanking(hobby, shuffled).map((i) => shuffled[i])).toEqual(HOBBIES.map((h) => ` My hobby is ${h}.`));
    // In any style, and the style counts too.
    expect(goldPreference(hobby, ' I like gaming.', ' My hobby is reading.')).toBe(1);
    expect(goldPreference(hobby, ' My hobby is gaming.', ' I like gaming.')).toBe(1);
  });

  it("scores every prompt's best answer 1, its other styles lower in order, and every bad habit lower still", () => {
    const rng = new Rng(3);
    for (const p of makePrompts(5, 200)) {
      expect(goldScore(p, p.answer), p.question).toBe(1);
      const [full, short, terse] = ANSWER_STYLES.map((style) => goldScore(p, styledAnswer(p, style)));
      expect(full).toBe(1);
      expect(short, p.question).toBeLessThan(full!);
      expect(terse, p.question).toBeLessThan(short!);
      for (let i = 0; i < 5; i++) {
        const bad = badAnswer(rng, p);
        expect(goldScore(p, bad), `${p.question} →${bad}`).toBeLessThan(terse!);
      }
    }
  });

  it('turns K responses into a strict ranking of the distinct ones, or nothing', () => {
    const text = chatPrompt(add.question);
    expect(goldRankingRecord(add, text, [' 7', ' 3 plus 4 is 7.', ' 3 plus 4 is 9.', ' It is 7.'])).toEqual({
      prompt: text,
      ranking: [' 3 plus 4 is 7.', ' It is 7.', ' 7', ' 3 plus 4 is 9.'],
    });
    // Equal scores are not ranked against each other; empty responses are left out.
    expect(goldRankingRecord(add, text, [' It is 7.', ' It is 7!', '', ' 7'])).toEqual({ prompt: text, ranking: [' It is 7.', ' 7'] });
    expect(goldRankingRecord(add, text, [' 7', ' 7', ''])).toBeNull();
  });

it('reads the task prompt back from its chat text', () => {
    for (const p of makePrompts(9, 40)) expect(parseTaskPrompt(chatPrompt(p.question))).toEqual(p);
    expect(parseTaskPrompt('User: something else\nAssistant:')).toBeNull();
  });
});
