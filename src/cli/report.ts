/**
 * The pipeline's report: one self-contained HTML page (uPlot and the data
 * inlined, so it opens from disk with nothing to download) with the summary,
 * the loss, accuracy, reward and KL curves of every stage (a line per round
 * for the stages rounds repeat), the gold and reward-model scores against KL
 * (the over-optimisation curve of Gao, Schulman & Hilton 2022), and samples of
 * SFT and PPO side by side.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { PipelineStage, PipelineSummary } from '../stages/pipeline.ts';

/** Metrics records per stage; `round` is 0 for the stages that run once. */
export type MetricsByStage = Partial<Record<PipelineStage, ({ step: number; round: number } & Record<string, number>)[]>>;

interface Series {
  key: string;
  label: string;
  color: string;
  /** a second y axis, on the right, with its label */
  scale?: string;
  axisLabel?: string;
  dash?: number[];
}

interface Chart {
  title: string;
  stage: PipelineStage;
  series: Series[];
  /** the x axis: a metric of the same records instead of the step (points, not lines: the metric need not grow with the step) */
  x?: { key: string; label: string };
  /** the left axis's label */
  y?: string;
}

/**
 * A chart with several rounds gives each round a colour of its own, and tells
 * the series of a round apart by style: the second and later lines dashed,
 * points filled or hollow (as the chart's own series already are).
 */
const ROUND_COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#8c564b', '#e377c2'];

const CHARTS: Chart[] = [
  { title: 'Pretraining: loss per token', stage: 'pretrain', series: [{ key: 'loss', label: 'loss', color: '#1f77b4' }, { key: 'eval_loss', label: 'eval loss', color: '#ff7f0e' }] },
  { title: 'SFT: loss per response token', stage: 'sft', series: [{ key: 'loss', label: 'loss', color: '#1f77b4' }, { key: 'eval_loss', label: 'eval loss', color: '#ff7f0e' }] },
  {
    title: 'Reward model: pairwise accuracy',
    stage: 'reward',
    series: [{ key: 'accuracy', label: 'accuracy', color: '#1f77b4' }, { key: 'eval_accuracy', label: 'held-out accuracy (vs gold)', color: '#ff7f0e' }],
  },
  { title: 'PPO: reward-model score', stage: 'ppo', series: [{ key: 'objective/scores', label: 'score', color: '#2ca02c' }, { key: 'objective/rlhf_reward', label: 'score − β·KL', color: '#9467bd' }] },
  { title: 'PPO: KL to the SFT policy (nats per response)', stage: 'ppo', series: [{ key: 'objective/kl', label: 'KL', color: '#d62728' }] },
  {
    title: 'Over-optimisation: held-out scores against KL to SFT',
    stage: 'ppo',
    // KL measured on the same held-out responses as the scores: the step's batch KL is too noisy to order points by.
    x: { key: 'eval/kl', label: 'KL to SFT on the held-out prompts (nats per response)' },
    y: 'gold score',
    series: [
      { key: 'eval/gold_score', label: 'gold score (filled)', color: '#ff7f0e' },
      { key: 'eval/rm_score', label: 'reward-model score (hollow, right axis)', color: '#1f77b4', scale: 'rm', dash: [6, 4], axisLabel: 'reward-model score' },
    ],
  },
];

function uplotAssets(): { js: string; css: string } {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  return { js: readFileSync(join(dir, 'uPlot.iife.min.js'), 'utf8'), css: readFileSync(join(dir, 'uPlot.min.css'), 'utf8') };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fmt = (x: number | undefined, digits = 3) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));
/** JSON that cannot close the script element it sits in. */
const inlineJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

/**
 * Columns per chart: x values (steps, or the chart's x metric), then one array
 * per series and round (null where a record lacks it; lines span the gaps).
 */
function chartData(chart: Chart, metrics: MetricsByStage): { series: Series[]; data: (number | null)[][] } {
  const records = (metrics[chart.stage] ?? []).filter((r) => chart.series.some((s) => r[s.key] !== undefined) && (!chart.x || r[chart.x.key] !== undefined));
  const rounds = [...new Set(records.map((r) => r.round))].sort((a, b) => a - b);
  const xOf = (r: Record<string, number>) => (chart.x ? r[chart.x.key]! : r.step!);
  const xs = [...new Set(records.map(xOf))].sort((a, b) => a - b);
  const series: Series[] = [];
  const columns: (number | null)[][] = [];
  for (const round of rounds) {
    const byX = new Map<number, Record<string, number>>();
    for (const r of records) if (r.round === round) byX.set(xOf(r), { ...byX.get(xOf(r)), ...r });
    for (const [i, s] of chart.series.entries()) {
      const dash = s.dash ?? (i > 0 ? [6, 4] : undefined);
      const color = ROUND_COLOURS[(round - 1) % ROUND_COLOURS.length]!;
      series.push(rounds.length === 1 ? s : { ...s, ...(dash ? { dash } : {}), color, label: `${s.label}, round ${round}` });
      columns.push(xs.map((x) => byX.get(x)?.[s.key] ?? null));
    }
  }
  return { series, data: [xs, ...columns] };
}

export function stageRows(summary: PipelineSummary): [string, string, string][] {
  const s = summary.stages;
  const rows: [string, string, string][] = [
    ['pretrain', `${fmt(s.pretrain.seconds, 1)} s`, `loss ${fmt(s.pretrain.loss)}, eval loss ${fmt(s.pretrain.eval_loss)}`],
    ['sft', `${fmt(s.sft.seconds, 1)} s`, `loss ${fmt(s.sft.loss)}, eval loss ${fmt(s.sft.eval_loss)}`],
  ];
  for (const { round, stages: r } of summary.rounds) {
    const name = (stage: string) => (summary.rounds.length > 1 ? `${stage} ${round}` : stage);
    rows.push(
      [name('rankings'), `${fmt(r.rankings.seconds, 1)} s`, `${r.rankings.rankings} rankings (${r.rankings.pairs} pairs) of ${r.rankings.responses} responses`],
      [name('reward'), `${fmt(r.reward.seconds, 1)} s`, `accuracy ${fmt(r.reward.accuracy)}, held-out accuracy ${fmt(r.reward.eval_accuracy)}`],
      [name('ppo'), `${fmt(r.ppo.seconds, 1)} s`, `RM score ${fmt(r.ppo.first_scores)} → ${fmt(r.ppo.scores)}, KL ${fmt(r.ppo.kl)}, β ${fmt(r.ppo.kl_coef)}`],
      [name('eval'), `${fmt(r.eval.seconds, 1)} s`, `${r.eval.prompts} held-out prompts: gold win rate ${fmt(r.eval.gold_win_rate)}, gold ${fmt(r.eval.gold_score_sft)} → ${fmt(r.eval.gold_score_ppo)}`],
    );
  }
  return rows;
}

/** Per round: the reward model's agreement on that round's samples, the policy against SFT, KL and time. */
export function roundRows(summary: PipelineSummary): string[][] {
  return [
    ['round', 'RM agreement (its samples)', 'gold win rate', 'RM win rate', 'gold score', 'KL', 'time'],
    ...summary.rounds.map((r) => [
      String(r.round),
      fmt(r.rm_gold_accuracy),
      fmt(r.gold_win_rate),
      fmt(r.rm_win_rate),
      fmt(r.gold_score),
      fmt(r.kl, 2),
      `${fmt(r.seconds, 1)} s`,
    ]),
  ];
}

export function resultRows(summary: PipelineSummary): [string, string][] {
  return [
    ['reward model agrees with the gold labeler (held-out pairs of the last round)', fmt(summary.rm_gold_accuracy)],
    ['mean gold score, SFT → PPO', `${fmt(summary.gold_score_sft)} → ${fmt(summary.gold_score_ppo)}`],
    ['PPO wins over SFT under the gold labeler (ties half)', fmt(summary.gold_win_rate)],
    ['PPO wins over SFT under the reward model', fmt(summary.rm_win_rate)],
    ['mean KL of PPO to SFT (nats per response)', fmt(summary.kl)],
  ];
}

export function renderReport(summary: PipelineSummary, metrics: MetricsByStage, title: string): string {
  const { js, css } = uplotAssets();
  const table = (head: string[], rows: string[][]) =>
    `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows
      .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
      .join('')}</tbody></table>`;
  const samples = summary.samples.map((x) => [
    x.prompt.replace(/^User: |\nAssistant:$/g, ''),
    `${x.baseline} (${fmt(x.baseline_gold, 2)})`,
    `${x.policy} (${fmt(x.policy_gold, 2)})`,
  ]);
  const charts = CHARTS.map((c) => ({ ...c, ...chartData(c, metrics) }));
  const [roundHeader, ...roundBody] = roundRows(summary);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${css}
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.8rem; text-align: left; vertical-align: top; }
td { white-space: pre-wrap; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(500px, 1fr)); gap: 1rem; }
</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>Adapter: ${escapeHtml(summary.adapter)} · seed ${summary.seed}</p>
<h2>Result</h2>
${table(['', ''], resultRows(summary))}
<h2>Rounds</h2>
${table(roundHeader!, roundBody)}
<h2>Stages</h2>
${table(['stage', 'time', 'final'], stageRows(summary))}
<h2>Curves</h2>
<div class="charts" id="charts"></div>
<h2>Held-out samples (gold score in brackets)</h2>
${table(['prompt', 'SFT', 'PPO'], samples)}
<script>${js}</script>
<script>
const charts = ${inlineJson(charts)};
// A point chart's right-axis series is hollow.
const pointFill = (s) => (s.scale ? '#fff' : s.color);
for (const c of charts) {
  const box = document.createElement('div');
  document.getElementById('charts').append(box);
  if (c.data[0].length === 0) { box.textContent = c.title + ': no data'; continue; }
  const right = c.series.find((s) => s.scale);
  new uPlot({
    title: c.title, width: 520, height: 260,
    scales: { x: { time: false } },
    // uPlot takes a key set to undefined as given (a series or axis then loses its scale): only defined keys.
    axes: [{ label: c.x ? c.x.label : 'step' }, c.y ? { scale: 'y', label: c.y } : { scale: 'y' }, ...(right ? [{ scale: right.scale, side: 1, label: right.axisLabel || '', grid: { show: false } }] : [])],
    series: [{ label: c.x ? c.x.label : 'step' }, ...c.series.map((s) => Object.assign({ label: s.label, stroke: s.color, width: 2, spanGaps: true, scale: s.scale || 'y' }, s.dash ? { dash: s.dash } : {}, c.x ? { paths: () => null, points: { show: true, size: 7, fill: pointFill(s) } } : {}))],
    // The legend's markers in the series' style too: dashed for a dashed line (or hollow points), filled for filled points.
    // (uPlot replaces the whole markers object, so every key is given.)
    legend: {
      markers: {
        show: true,
        width: 2,
        stroke: (u, i) => (c.series[i - 1] ? c.series[i - 1].color : '#222'),
        dash: (u, i) => (c.series[i - 1] && c.series[i - 1].dash ? 'dashed' : 'solid'),
        fill: (u, i) => (c.x && c.series[i - 1] ? pointFill(c.series[i - 1]) : 'transparent'),
      },
    },
  }, c.data, box);
}
</script>
</body></html>
`;
}
