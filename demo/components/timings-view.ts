/**
 * The Shader timings tab: every kernel of the last profiled training step —
 * calls, total and mean time, share of the step, GFLOP/s, GB/s — the step's
 * dispatches on a time line, and the step as a Chrome trace for Perfetto.
 * Where the adapter has no timestamp queries it says so and shows CPU-side
 * timings (each dispatch submitted alone) instead.
 */
import { css, html } from 'lit';
import { summarizeByKernel, toChromeTrace } from '../../src/index.ts';
import { download } from '../lib/download.ts';
import { SessionElement } from '../lib/session-element.ts';
import { STAGE_TITLES } from '../lib/settings.ts';
import { shared } from '../lib/styles.ts';
import { kernelColor } from './dispatch-timeline.ts';
import './dispatch-timeline.ts';

const fixed = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : '–');

export class TimingsView extends SessionElement {
  static override styles = [
    shared,
    css`
      .scroll {
        overflow-x: auto;
      }
      table {
        border-collapse: collapse;
        width: 100%;
        font-variant-numeric: tabular-nums;
      }
      th,
      td {
        padding: 0.3rem 0.5rem;
        border-bottom: 1px solid var(--border);
        text-align: right;
        white-space: nowrap;
      }
      th:first-child,
      td:first-child {
        text-align: left;
      }
      .bar {
        display: inline-block;
        height: 0.55rem;
        vertical-align: 1px;
        margin-right: 0.3rem;
        border-radius: 2px;
      }
      section + section {
        margin-top: 1rem;
      }
      @media (max-width: 600px) {
        th,
        td {
          padding: 0.25rem 0.3rem;
          font-size: 0.8rem;
        }
      }
    `,
  ];

  override render() {
    const s = this.session;
    if (!s || !s.gpu) return html``;
    const profile = s.run.profile;
    const noTimestamps = !s.gpu.timestamps;
    const summary = profile ? summarizeByKernel(profile.timings) : [];
    const ranked = summary.map((k) => k.name);
    const totalMs = summary.reduce((a, k) => a + k.totalMs, 0);
    // Chrome rounds timestamps to 100 µs unless started with --enable-webgpu-developer-features.
    const rounded = profile?.mode === 'timestamps' && profile.timings.length > 0 && profile.timings.every((t) => t.durationNs % 100_000 === 0);
    return html`
      <section class="panel" aria-labelledby="timings-heading">
        <h2 id="timings-heading">Shader timings ${profile ? html`<span class="muted">— ${STAGE_TITLES[profile.stage]}, step ${profile.step}</span>` : ''}</h2>
        <p class="note" id="timing-mode">
          ${noTimestamps
            ? html`<strong>This adapter has no timestamp queries</strong> (<code>timestamp-query</code>), so the times below are CPU-side: each dispatch of the profiled step is submitted alone and timed until the queue reports it done. They include submission overhead; compare kernels with each other, not with other machines.`
            : profile?.mode === 'cpu'
              ? html`CPU-side timings (each dispatch submitted alone, timed until the queue reports it done), as asked below; the adapter has timestamp queries.`
              : html`GPU times from timestamp queries around every dispatch (<code>${s.gpu.name}</code>).`}
          ${profile?.mode === 'cpu' && !crossOriginIsolated
            ? html`<br />The page is not cross-origin isolated, so the browser's clock moves in 100 µs steps and short kernels may show 0; serve it with COOP/COEP headers (as <code>npm run demo</code> does) for 5 µs steps.`
            : ''}
          ${rounded ? html`<br />Chrome rounds these timestamps to 100 µs; start it with <code>--enable-webgpu-developer-features</code> for exact ones.` : ''}
        </p>
        <div class="row">
          <label style="display:flex;gap:0.35rem;align-items:baseline"
            ><input
              type="checkbox"
              id="cpu-timings"
              .checked=${s.cpuTimings || noTimestamps}
              ?disabled=${noTimestamps}
              @change=${(e: Event) => {
                s.cpuTimings = (e.target as HTMLInputElement).checked;
                s.changed();
              }}
            />
            Time on the CPU (each dispatch submitted alone)</label
          >
          <button
            id="export-trace"
            ?disabled=${!profile}
            @click=${() => download(`webgpu-rlhf-${profile!.stage}-step${profile!.step}.trace.json`, toChromeTrace(profile!.timings, `webgpu-rlhf ${profile!.stage} step ${profile!.step}`), 'application/json')}
          >
            Export Chrome trace (opens in Perfetto)
          </button>
        </div>
        ${!profile ? html`<p class="muted" id="no-profile">Start a stage in the Train tab: every <code>profileEvery</code> steps, one step is timed kernel by kernel.</p>` : ''}
      </section>
      ${profile
        ? html`
            <section class="panel" aria-labelledby="kernels-heading">
              <h2 id="kernels-heading">Kernels <span class="muted">— ${profile.timings.length} dispatches, ${fixed(totalMs, 2)} ms in all</span></h2>
              <div class="scroll">
                <table id="timings-table">
                  <thead>
                    <tr>
                      <th scope="col">kernel</th>
                      <th scope="col">calls</th>
                      <th scope="col">total ms</th>
                      <th scope="col">mean µs</th>
                      <th scope="col">share of step</th>
                      <th scope="col">GFLOP/s</th>
                      <th scope="col">GB/s</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${summary.map(
                      (k) => html`<tr data-kernel=${k.name}>
                        <td><span class="bar" style="width:${Math.max(2, k.share * 80)}px;background:${kernelColor(k.name, ranked)}"></span>${k.name}</td>
                        <td>${k.calls}</td>
                        <td class="total">${fixed(k.totalMs, 3)}</td>
                        <td>${fixed(k.meanUs, 1)}</td>
                        <td>${fixed(k.share * 100, 1)}%</td>
                        <td>${k.gflops > 0 ? fixed(k.gflops, 2) : '–'}</td>
                        <td>${k.gbps > 0 ? fixed(k.gbps, 2) : '–'}</td>
                      </tr>`,
                    )}
                  </tbody>
                </table>
              </div>
            </section>
            <section class="panel" aria-labelledby="timeline-heading">
              <h2 id="timeline-heading">Timeline of the step</h2>
              <dispatch-timeline .timings=${profile.timings} .ranked=${ranked}></dispatch-timeline>
            </section>
          `
        : ''}
    `;
  }
}

customElements.define('timings-view', TimingsView);
