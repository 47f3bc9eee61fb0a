/**
 * Reward hacking reproduced and cured, at a reduced size: the named configs
 * `configs/reward-hacking.json` (one round, a small fixed KL coefficient, a
 * high learning rate, long PPO) and `configs/reward-hacking-cured.json` (the
 * same PPO with rounds and the adaptive KL controller), run through
 * `webgpu-rlhf pipeline` with fewer ranking prompts, reward-model steps and
 * PPO steps. What is asserted is the direction, read off the run's files:
 * in the hack the reward model's score rises while the gold labeler's falls
 * from its peak and ends below SFT's; with the cure the gold score ends above
 * SFT's and above the hack's, and the reward model no longer claims far more
 * wins than the gold labeler grants.
 *
 * About four minutes on two CPU cores. On the default seed: the hack's gold
 * score 0.49 (SFT) -> 0.27, its RM win rate 0.93 against a gold win rate of
 * 0.61, its held-out gold curve peaking at 0.70 and ending at 0.45 while the
 * RM score goes 1.51 -> 1.66. The cure (2 rounds): gold score 0.49 -> 0.71,
 * gold win rate 0.78 and RM win rate 0.79.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { cli, tempDir } from './cli.ts';

const named = (file: string) => JSON.parse(readFileSync(new URL(`../../configs/${file}`, import.meta.url), 'utf8'));
/** The cpu preset with half the ranking data and a shorter PPO. */
const REDUCED = { task: { rankingPrompts: 960 }, reward: { steps: 120 } };

interface CurvePoint {
  step: number;
  'eval/rm_score': number;
  'eval/gold_score': number;
  'eval/kl': number;
}

function run(name: string, config: object) {
  const dir = tempDir(`${name}-`);
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  const out = join(dir, 'run');
  const r = cli(['pipeline', '--config', file, '--out', out], 420_000);
  expect(r.status, r.stderr.replace(/^Warning.*\n/gm, '')).toBe(0);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  const curve: CurvePoint[] = readFileSync(join(out, 'ppo', 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((x) => x['eval/gold_score'] !== undefined);
  return { summary, curve };
}

it('the one-round config reward-hacks and the same PPO with rounds and KL control does not', () => {
  const hackConfig = named('reward-hacking.json');
  const hack = run('hack', { ...REDUCED, ...hackConfig, ppo: { ...hackConfig.ppo, steps: 60, evalPrompts: 32 } });

  // The proxy rises while the gold score falls from its peak: over-optimisation.
  const peak = hack.curve.reduce((best, p) => (p['eval/gold_score'] > best['eval/gold_score'] ? p : best));
  const end = hack.curve[hack.curve.length - 1]!;
  expect(end.step).toBe(60);
  expect(end['eval/rm_score']).toBeGreaterThan(peak['eval/rm_score']);
  expect(end['eval/gold_score']).toBeLessThan(peak['eval/gold_score'] - 0.15);
  expect(end['eval/kl']).toBeGreaterThan(1);
  // The final policy: the reward model says it wins far more often than the gold labeler does, and its gold score is below SFT's.
  expect(hack.summary.rm_win_rate - hack.summary.gold_win_rate).toBeGreaterThan(0.2);
  expect(hack.summary.gold_score_ppo).toBeLessThan(hack.summary.gold_score_sft);

  const curedConfig = named('reward-hacking-cured.json');
  expect(curedConfig.ppo.lr).toBe(hackConfig.ppo.lr);
  expect(curedConfig.ppo.klCoef).toBe(hackConfig.ppo.klCoef);
  expect(curedConfig.rounds).toBeGreaterThan(1);
  const cured = run('cured', { ...REDUCED, ...curedConfig, rounds: 2, ppo: { ...curedConfig.ppo, steps: 20, klHorizon: 20, evalPrompts: 32 } });
  expect(cured.summary.rounds).toHaveLength(2);
  expect(cured.summary.gold_score_ppo).toBeGreaterThan(cured.summary.gold_score_sft);
  expect(cured.summary.gold_score_ppo).toBeGreaterThan(hack.summary.gold_score_ppo + 0.2);
  expect(cured.summary.gold_win_rate).toBeGreaterThan(hack.summary.gold_win_rate);
  expect(cured.summary.rm_win_rate - cured.summary.gold_win_rate).toBeLessThan(hack.summary.rm_win_rate - hack.summary.gold_win_rate);
}, 900_000);
