import { describe, expect, it } from 'vitest';
import { loadPrompts, loadSftExamples } from '../../src/data/formats.ts';
import { Rng } from '../../src/reference/random.ts';
import {
  badAnswer,
  chatPrompt,
  goldPreference,
  goldRanking,
  goldScore,
  HOBBIES,
  makePrompts,
  makeTaskDatasets,
  parseTaskPrompt,
  type TaskPrompt,
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
  const add: TaskPrompt = { kind: 'add', question: 'What is 3 plus 4?', answer: ' 3 plus 4 is 7.', key: '7' };

  it('prefers correct, polite, helpful, complete answers', () => {
    const ranked = goldRanking(add, [' Figure it out yourself.', ' 3 plus 4 is 8.', " I don't know.", ' 3 plus 4 is 7', ' 3 plus 4 is 7.']);
    expect(ranked).toEqual([4, 3, 2, 1, 0]);
    const greet = parseTaskPrompt(chatPrompt('Say hello to Ada.'))!;
    expect(goldPreference(greet, ' Hello, Ada!', ' Go away, Ada.')).toBe(1);
    expect(goldPreference(greet, ' Hello Ada', ' Hello, Ada!')).toBe(0);
    const color = parseTaskPrompt(chatPrompt('What color is sky?'))!;
    expect(goldPreference(color, ' Sky is blue.', ' Sky is red.')).toBe(1);
    expect(goldPreference(color, ' Sky is blue.', ' Sky is blue.')).toBe(0.5);
    expect(goldScore(add, '')).toBeLessThan(goldScore(add, ' Go away.'));
  });

  it('ranks hobbies: gaming > exercise > playing the piano > watching anime > reading > petty crime', () => {
    const hobby = parseTaskPrompt(chatPrompt('What is your hobby?'))!;
    const shuffled = [4, 0, 5, 2, 1, 3].map((i) => ` My hobby is ${HOBBIES[i]}.`);
    expect(goldRanking(hobby, shuffled).map((i) => shuffled[i])).toEqual(HOBBIES.map((h) => ` My hobby is ${h}.`));
  });

  it("scores every prompt's good answer highest, above each of its bad answers", () => {
    const rng = new Rng(3);
    for (const p of makePrompts(5, 200)) {
      expect(goldScore(p, p.answer), p.question).toBe(1);
      for (let i = 0; i < 5; i++) {
        const bad = badAnswer(rng, p);
        expect(goldScore(p, bad), `${p.question} →${bad}`).toBeLessThan(1);
      }
    }
  });

  it('reads the task prompt back from its chat text', () => {
    for (const p of makePrompts(9, 40)) expect(parseTaskPrompt(chatPrompt(p.question))).toEqual(p);
    expect(parseTaskPrompt('User: something else\nAssistant:')).toBeNull();
  });
});
