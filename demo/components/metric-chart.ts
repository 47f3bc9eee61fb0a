/**
 * A live line chart of some metrics against the step (uPlot). It follows its
 * container's width, so it fits a phone as well as a laptop.
 */
import { LitElement, css, html, unsafeCSS } from 'lit';
import uPlot from 'uplot';
import uplotCss from 'uplot/dist/uPlot.min.css?inline';
import type { MetricPoint } from '../lib/session.ts';
import { shared } from '../lib/styles.ts';

export interface ChartSeries {
  key: string;
  label: string;
  color: string;
}

export class MetricChart extends LitElement {
  static override properties = { label: {}, series: { attribute: false }, points: { attribute: false } };
  declare label: string;
  declare series: ChartSeries[];
  declare points: MetricPoint[];
  private chart: uPlot | null = null;
  private resize: ResizeObserver | null = null;

  static override styles = [
    shared,
    unsafeCSS(uplotCss),
    css`
      .panel {
        padding: 0.6rem 0.7rem 0.3rem;
      }
      .plot {
        min-height: 180px;
      }
      .empty {
        position: absolute;
        inset: 40% 0 auto;
        text-align: center;
      }
      .wrap {
        position: relative;
      }
      .u-legend {
        font-size: 0.8rem;
      }
    `,
  ];

  constructor() {
    super();
    this.label = '';
    this.series = [];
    this.points = [];
  }

  override render() {
    const last = this.points.at(-1);
    const latest = this.series
      .map((s) => [s.label, [...this.points].reverse().find((p) => Number.isFinite(p[s.key]))?.[s.key]] as const)
      .filter(([, v]) => v !== undefined)
      .map(([l, v]) => `${l} ${formatValue(v!)}`)
      .join(', ');
    return html`<figure class="panel" style="margin:0" aria-label=${`${this.label}${latest ? `: ${latest}` : ''}`}>
      <figcaption><strong>${this.label}</strong> <span class="muted">${last ? `step ${last.step}` : ''}</span></figcaption>
      <div class="wrap">
        <div class="plot"></div>
        ${this.points.length === 0 ? html`<div class="empty muted">no data yet</div>` : ''}
      </div>
    </figure>`;
  }

  override firstUpdated(): void {
    const el = this.renderRoot.querySelector<HTMLElement>('.plot')!;
    const width = () => Math.max(200, el.clientWidth);
    this.chart = new uPlot(
      {
        width: width(),
        height: 170,
        legend: { show: true },
        scales: { x: { time: false } },
        axes: [
          // Steps are whole numbers: no ticks between them.
          { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.15)' }, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] },
          { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.15)' }, size: 52, values: (_u, ticks) => ticks.map(formatValue) },
        ],
        series: [{ label: 'step' }, ...this.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: true, points: { show: false } }))],
      },
      this.data(),
      el,
    );
    this.resize = new ResizeObserver(() => this.chart?.setSize({ width: width(), height: 170 }));
    this.resize.observe(el);
  }

  override updated(changed: Map<string, unknown>): void {
    if (this.chart && changed.has('points')) this.chart.setData(this.data());
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.resize?.disconnect();
    this.chart?.destroy();
    this.chart = null;
  }

  private data(): uPlot.AlignedData {
    const xs = this.points.map((p) => p.step);
    const ys = this.series.map((s) => this.points.map((p) => (Number.isFinite(p[s.key]) ? p[s.key]! : null)));
    return [xs, ...ys];
  }
}

function formatValue(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(1) : String(+v.toPrecision(3));
}

customElements.define('metric-chart', MetricChart);
