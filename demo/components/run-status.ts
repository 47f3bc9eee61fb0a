/** Start / resume, pause and stop for a stage, with its progress and the last error. */
import { css, html } from 'lit';
import { SessionElement } from '../lib/session-element.ts';
import { STAGE_TITLES, type StageName } from '../lib/settings.ts';
import { shared } from '../lib/styles.ts';

export class RunStatus extends SessionElement {
  static override properties = { ...SessionElement.properties, stage: {} };
  /** the stage the Start button starts (default: the selected one) */
  declare stage: StageName | undefined;

  static override styles = [
    shared,
    css`
      progress {
        width: 100%;
        height: 0.6rem;
      }
    `,
  ];

  override render() {
    const s = this.session;
    if (!s) return html``;
    const stage = this.stage ?? s.run.stage;
    const running = s.running;
    const paused = s.run.paused?.stage === stage ? s.run.paused : null;
    const p = s.progress;
    const eta = p && p.step > p.startStep ? ((performance.now() - p.startedAt) / (p.step - p.startStep)) * (p.steps - p.step) / 1000 : NaN;
    return html`
      <div class="row">
        <button class="primary" id="start" ?disabled=${running !== null} @click=${() => void s.start(stage)}>
          ${paused ? `Resume ${STAGE_TITLES[stage]} (step ${paused.step})` : `Start ${STAGE_TITLES[stage]}`}
        </button>
        <button
          id="pause"
          ?disabled=${running === null || s.requested !== null}
          title=${running === 'ppo'
            ? 'Stop after this step, keeping the policy, value model, optimizer state and KL coefficient to resume exactly'
            : 'Stop after this step, keeping the optimizer state to resume exactly'}
          @click=${() => s.pause()}
        >
          Pause
        </button>
        <button id="stop" ?disabled=${running === null || s.requested !== null} @click=${() => s.stop()}>Stop</button>
      </div>
      <div role="status" aria-live="polite" id="status" style="margin-top:0.5rem">
        ${running && p
          ? html`<progress max=${p.steps} .value=${p.step}></progress>
              <p>
                ${STAGE_TITLES[running]}: step <span id="step">${p.step}</span> of ${p.steps}${Number.isFinite(eta) ? `, about ${Math.ceil(eta)} s left` : ''}${s.requested
                  ? ` — ${s.requested === 'pause' ? 'pausing' : 'stopping'} after this step`
                  : ''}
              </p>`
          : html`<p class="muted" id="idle">${s.run.log.at(-1) ?? 'Ready.'}</p>`}
      </div>
      ${s.error ? html`<p class="error" role="alert" id="run-error">${s.error}</p>` : ''}
    `;
  }
}

customElements.define('run-status', RunStatus);
