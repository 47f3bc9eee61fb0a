/**
 * The pipeline's report: one self-contained HTML page (uPlot and the data
 * inlined, so it opens from disk with nothing to download) with the summary,
 * the loss, accuracy, reward and KL curves of every stage, and samples of SFT
 * and PPO side by side.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { PipelineStage, PipelineSummary } from '../stages/pipeline.ts';

export type MetricsByStage = Partial<Record<PipelineStage, ({ step: number } & Record<string, number>)[]>>;

interface Chart {
  title: string;
  stage: PipelineStage;
  series: { key: string; label: string; color: string }[];
}

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

/** Columns per chart: steps, then one array per series (null where a step lacks the metric). */
function chartData(chart: Chart, metrics: MetricsByStage): (number | null)[][] {
  const records = (metrics[chart.stage] ?? []).filter((r) => chart.series.some((s) => r[s.key] !== undefined));
  const steps = [...new Set(records.map((r) => r.step))].sort((a, b) => a - b);
  const byStep = new Map<number, Record<string, number>>();
  for (const r of records) byStep.set(r.step, { ...byStep.get(r.step), ...r });
  return [steps, ...chart.series.map((s) => steps.map((step) => byStep.get(step)?.[s.key] ?? null))];
}

export function stageRows(summary: PipelineSummary): [string, string, string][] {
  const s = summary.stages;
  return [
    ['pretrain', `${fmt(s.pretrain.seconds, 1)} s`, `loss ${fmt(s.pretrain.loss)}, eval loss ${fmt(s.pretrain.eval_loss)}`],
    ['sft', `${fmt(s.sft.seconds, 1)} s`, `loss ${fmt(s.sft.loss)}, eval loss ${fmt(s.sft.eval_loss)}`],
    ['rankings', `${fmt(s.rankings.seconds, 1)} s`, `${s.rankings.rankings} rankings (${s.rankings.pairs} pairs) of ${s.rankings.responses} SFT responses`],
    ['reward', `${fmt(s.reward.seconds, 1)} s`, `accuracy ${fmt(s.reward.accuracy)}, held-out accuracy ${fmt(s.reward.eval_accuracy)}`],
    ['ppo', `${fmt(s.ppo.seconds, 1)} s`, `RM score ${fmt(s.ppo.first_scores)} → ${fmt(s.ppo.scores)}, KL ${fmt(s.ppo.kl)}`],
    ['eval', `${fmt(s.eval.seconds, 1)} s`, `${s.eval.prompts} held-out prompts`],
  ];
}

export function resultRows(summary: PipelineSummary): [string, string][] {
  return [
    ['reward model agrees with the gold labeler (held-out pairs)', fmt(summary.rm_gold_accuracy)],
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
  const charts = CHARTS.map((c) => ({ ...c, data: chartData(c, metrics) }));
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
<h2>Stages</h2>
${table(['stage', 'time', 'final'], stageRows(summary))}
<h2>Curves</h2>
<div class="charts" id="charts"></div>
<h2>Held-out samples (gold score in brackets)</h2>
${table(['prompt', 'SFT', 'PPO'], samples)}
<script>${js}</script>
<script>
const charts = ${inlineJson(charts)};
for (const c of charts) {
  const box = document.createElement('div');
  document.getElementById('charts').append(box);
  if (c.data[0].length === 0) { box.textContent = c.title + ': no data'; continue; }
  new uPlot({
    title: c.title, width: 520, height: 260,
    scales: { x: { time: false } },
    series: [{ label: 'step' }, ...c.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: true }))],
  }, c.data, box);
}
</script>
</body></html>
`;
}
