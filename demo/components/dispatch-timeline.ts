/**
 * The dispatches of one step on a time line: one bar per dispatch, coloured
 * by kernel (the legend names the heaviest), its name and time on hover or
 * focus; zoom to see the short ones.
 */
import { LitElement, css, html, svg } from 'lit';
import type { DispatchTiming } from '../../src/index.ts';
import { shared } from '../lib/styles.ts';

const PALETTE = ['#2f5fd0', '#e07b00', '#1a9a5b', '#c0392b', '#8e44ad', '#16a0b5', '#b7950b', '#d35400', '#7f8c8d', '#2c3e50'];

export function kernelColor(name: string, ranked: readonly string[]): string {
  const i = ranked.indexOf(name);
  return i >= 0 && i < PALETTE.length - 1 ? PALETTE[i]! : PALETTE[PALETTE.length - 1]!;
}

export class DispatchTimeline extends LitElement {
  static override properties = { timings: { attribute: false }, ranked: { attribute: false }, zoom: { state: true } };
  declare timings: DispatchTiming[];
  /** kernel names, heaviest first (colours follow this order) */
  declare ranked: string[];
  declare zoom: number;

  static override styles = [
    shared,
    css`
      .scroll {
        overflow-x: auto;
        border: 1px solid var(--border);
        border-radius: 6px;
      }
      svg {
        display: block;
        height: 56px;
      }
      rect:hover {
        stroke: var(--text);
        stroke-width: 1px;
      }
      .legend {
        display: flex;
        flex-wrap: wrap;
        gap: 0.2rem 0.8rem;
        font-size: 0.8rem;
        margin-top: 0.4rem;
      }
      .swatch {
        display: inline-block;
        width: 0.8rem;
        height: 0.8rem;
        border-radius: 2px;
        vertical-align: -1px;
        margin-right: 0.25rem;
      }
    `,
  ];

  constructor() {
    super();
    this.timings = [];
    this.ranked = [];
    this.zoom = 1;
  }

  override render() {
    const shown = this.timings.filter((t) => Number.isFinite(t.startNs));
    const end = Math.max(1, ...shown.map((t) => t.startNs + t.durationNs));
    const W = 1000;
    return html`
      <div class="row" style="justify-content:space-between">
        <span class="muted">${shown.length} dispatches over ${(end / 1e6).toFixed(2)} ms</span>
        <label class="muted"
          >Zoom
          <select @change=${(e: Event) => (this.zoom = Number((e.target as HTMLSelectElement).value))}>
            ${[1, 4, 16, 64].map((z) => html`<option value=${z} ?selected=${z === this.zoom}>${z}×</option>`)}
          </select>
        </label>
      </div>
      <div class="scroll">
        <svg viewBox="0 0 ${W} 40" preserveAspectRatio="none" style="width:${this.zoom * 100}%" role="img" aria-label="Timeline of the step's ${shown.length} dispatches">
          ${shown.map((t) => {
            const x = (t.startNs / end) * W;
            const w = Math.max(0.4 / this.zoom, (t.durationNs / end) * W);
            return svg`<rect x=${x} y="4" width=${w} height="32" fill=${kernelColor(t.name, this.ranked)}><title>${t.name}: ${(t.durationNs / 1e3).toFixed(1)} µs at ${(t.startNs / 1e6).toFixed(3)} ms</title></rect>`;
          })}
        </svg>
      </div>
      <div class="legend">
        ${this.ranked.slice(0, PALETTE.length - 1).map((name) => html`<span><span class="swatch" style="background:${kernelColor(name, this.ranked)}"></span>${name}</span>`)}
        ${this.ranked.length > PALETTE.length - 1 ? html`<span><span class="swatch" style="background:${PALETTE.at(-1)}"></span>others</span>` : ''}
      </div>
    `;
  }
}

customElements.define('dispatch-timeline', DispatchTimeline);
