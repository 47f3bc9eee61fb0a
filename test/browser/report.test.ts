/**
 * The pipeline's report.html in a real browser: every chart that has data is
 * drawn (its series' colours on the canvas, a legend entry per series and
 * round), a chart without data says so, and the page raises no error. The
 * CLI test only reads the HTML as text, which passes even when uPlot refuses
 * the chart options (a key set to undefined once made it throw).
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport, type MetricsByStage } from '../../src/cli/report.ts';
import type { PipelineSummary } from '../../src/stages/pipeline.ts';
import type { StageSummary } from '../../src/stages/pipeline-stages.ts';
import { launchChromium } from './chromium.ts';

const stage = (figures: Record<string, number>): StageSummary => ({ seconds: 1.5, ...figures });

function summaryOf(rounds: number): PipelineSummary {
  return {
    adapter: 'test adapter',
    seed: 7,
    stages: { pretrain: stage({ loss: 0.3, eval_loss: 0.35 }), sft: stage({ loss: 0.2, eval_loss: 0.25 }) },
    rounds: Array.from({ length: rounds }, (_, i) => ({
      round: i + 1,
      seconds: 10,
      stages: {
        rankings: stage({ rankings: 40, pairs: 120, responses: 240 }),
        reward: stage({ accuracy: 0.9, eval_accuracy: 0.85 }),
        ppo: stage({ first_scores: 0.1, scores: 1.2, kl: 1.1, kl_coef: 0.2 }),
        eval: stage({ prompts: 32, gold_win_rate: 0.7, gold_score_sft: 0.4, gold_score_ppo: 0.6 }),
      },
      rm_gold_accuracy: 0.85,
      gold_score: 0.6,
      gold_win_rate: 0.7,
      rm_win_rate: 0.8,
      kl: 1.1,
    })),
    rm_gold_accuracy: 0.85,
    gold_score_sft: 0.4,
    gold_score_ppo: 0.6,
    gold_win_rate: 0.7,
    rm_win_rate: 0.8,
    kl: 1.1,
    samples: [
      {
        prompt: 'User: What is 1 plus 2?\nAssistant:',
        policy: ' 1 plus 2 is 3.',
        baseline: ' It is 3.',
        policy_gold: 1,
        baseline_gold: 0.75,
        policy_score: 2,
        baseline_score: 1,
        policy_finished: true,
        baseline_finished: true,
      },
    ],
  };
}

/** Curves that move, for `rounds` rounds of reward and PPO; `ppo`: false leaves PPO without records. */
function metricsOf(rounds: number, ppo = true): MetricsByStage {
  const steps = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  const supervised = steps(20).map((step) => ({ step, round: 0, loss: 2 / step, ...(step % 5 === 0 ? { eval_loss: 2.2 / step } : {}) }));
  const m: MetricsByStage = { pretrain: supervised, sft: supervised, reward: [], ppo: [] };
  for (let round = 1; round <= rounds; round++) {
    m.reward!.push(...steps(20).map((step) => ({ step, round, accuracy: 0.4 + step / 50 + round / 10, ...(step % 5 === 0 ? { eval_accuracy: 0.3 + step / 60 + round / 10 } : {}) })));
    if (!ppo) continue;
    for (const step of steps(10)) {
      m.ppo!.push({ step, round, 'objective/scores': step / 5 + round, 'objective/rlhf_reward': step / 6 + round, 'objective/kl': step / 8 + round / 4 });
      if (step % 2 === 0) m.ppo!.push({ step, round, 'eval/kl': step / 7 + round, 'eval/gold_score': 0.5 + Math.sin(step) / 4, 'eval/rm_score': step / 3 });
    }
  }
  return m;
}

/** Per chart: its title (or the no-data text), and per legend entry its label, its marker's colour, line style and fill, and how many canvas pixels are near that colour. */
interface DrawnChart {
  text: string;
  series: { label: string; colour: string; style: string; fill: string; pixels: number }[];
}

describe('pipeline report in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  }, 120_000);
  afterAll(() => browser?.close());

  async function draw(html: string): Promise<{ charts: DrawnChart[]; errors: string[] }> {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
    await page.setContent(html, { waitUntil: 'load' });
    const charts = await page.evaluate(() =>
      Array.from(document.getElementById('charts')!.children).map((box) => {
        const canvas = box.querySelector('canvas');
        const data = canvas ? canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data : new Uint8ClampedArray();
        // The legend's first row is the x axis; each other row's marker is drawn in its series' colour.
        const rows = Array.from(box.querySelectorAll('.u-legend .u-series')).slice(1);
        return {
          text: (box.querySelector('.u-title')?.textContent ?? box.textContent ?? '').trim(),
          series: rows.map((row) => {
            const marker = getComputedStyle(row.querySelector('.u-marker')!);
            const colour = marker.borderColor;
            const [r, g, b] = colour.match(/\d+/g)!.map(Number);
            let pixels = 0;
            for (let i = 0; i < data.length; i += 4) {
              if (data[i + 3]! > 200 && Math.abs(data[i]! - r!) + Math.abs(data[i + 1]! - g!) + Math.abs(data[i + 2]! - b!) < 24) pixels++;
            }
            return { label: row.querySelector('.u-label')?.textContent ?? '', colour, style: marker.borderStyle, fill: marker.backgroundColor, pixels };
          }),
        };
      }),
    );
    await page.close();
    return { charts, errors };
  }

  it('draws every chart, a line per series and round, and the over-optimisation points', async () => {
    const { charts, errors } = await draw(renderReport(summaryOf(2), metricsOf(2), 'report test'));
    expect(errors).toEqual([]);
    expect(charts.map((c) => c.text)).toEqual([
      'Pretraining: loss per token',
      'SFT: loss per response token',
      'Reward model: pairwise accuracy',
      'PPO: reward-model score',
      'PPO: KL to the SFT policy (nats per response)',
      'Over-optimisation: held-out scores against KL to SFT',
    ]);
    const labels = (c: DrawnChart) => c.series.map((x) => x.label);
    const [pretrain, , reward, , , curve] = charts;
    expect(labels(pretrain!)).toEqual(['loss', 'eval loss']);
    expect(labels(reward!)).toEqual(['accuracy, round 1', 'held-out accuracy (vs gold), round 1', 'accuracy, round 2', 'held-out accuracy (vs gold), round 2']);
    expect(labels(curve!)).toEqual([
      'gold score (filled), round 1',
      'reward-model score (hollow, right axis), round 1',
      'gold score (filled), round 2',
      'reward-model score (hollow, right axis), round 2',
    ]);
    for (const chart of charts) {
      // Each legend entry looks like no other: a colour per round when there are rounds, and within one the series' style (dashed, hollow).
      const looks = chart.series.map((x) => `${x.colour} ${x.style} ${x.fill}`);
      expect(new Set(looks).size, `${chart.text}: ${looks.join('; ')}`).toBe(chart.series.length);
      const rounds = chart === pretrain || chart === charts[1] ? 1 : 2;
      expect(new Set(chart.series.map((x) => x.colour)).size, chart.text).toBe(rounds === 1 ? chart.series.length : rounds);
      // …and drawn in its colour: lines, or the over-optimisation chart's points.
      for (const x of chart.series) expect(x.pixels, `${chart.text}: ${x.label} (${x.colour})`).toBeGreaterThan(chart === curve ? 15 : 50);
    }
  }, 60_000);

  it('says "no data" for a chart whose stage logged nothing, and draws the rest', async () => {
    const { charts, errors } = await draw(renderReport(summaryOf(1), metricsOf(1, false), 'report test'));
    expect(errors).toEqual([]);
    expect(charts.filter((c) => c.text.endsWith(': no data')).map((c) => c.text)).toEqual([
      'PPO: reward-model score: no data',
      'PPO: KL to the SFT policy (nats per response): no data',
      'Over-optimisation: held-out scores against KL to SFT: no data',
    ]);
    expect(charts[2]!.series.map((x) => x.label)).toEqual(['accuracy', 'held-out accuracy (vs gold)']);
    for (const x of charts[2]!.series) expect(x.pixels, x.label).toBeGreaterThan(50);
  }, 60_000);
});
