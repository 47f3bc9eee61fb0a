/**
 * Choosing a stage and a preset, and editing the stage's config as JSON. An
 * edit takes effect when it parses and checks; otherwise the error says which
 * key is wrong and the last good config stays.
 */
import { css, html } from 'lit';
import { SessionElement } from '../lib/session-element.ts';
import { PRESET_TITLES, STAGE_TITLES, STAGES, parseSettings, type PresetName, type StageName } from '../lib/settings.ts';
import { shared } from '../lib/styles.ts';

export class ConfigEditor extends SessionElement {
  static override properties = { ...SessionElement.properties, problem: { state: true }, draft: { state: true } };
  declare problem: string | null;
  /** the text being edited, while it differs from the session's settings */
  declare draft: { stage: StageName; text: string } | null;

  static override styles = [
    shared,
    css`
      label {
        display: grid;
        gap: 0.2rem;
        font-weight: 600;
        min-width: 0;
      }
      select {
        width: 100%;
        font-weight: normal;
      }
      .grid {
        display: grid;
        grid-template-columns: 1fr 1fr;
        gap: 0.6rem;
      }
      textarea {
        width: 100%;
        min-height: 14rem;
        font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
        font-size: 0.82rem;
        font-weight: normal;
        resize: vertical;
      }
      @media (max-width: 480px) {
        .grid {
          grid-template-columns: 1fr;
        }
      }
    `,
  ];

  constructor() {
    super();
    this.problem = null;
    this.draft = null;
  }

  private get stage(): StageName {
    return this.session!.run.stage;
  }

  private onText(e: Event): void {
    const text = (e.target as HTMLTextAreaElement).value;
    this.draft = { stage: this.stage, text };
    try {
      this.session!.setSettings(this.stage, parseSettings(this.stage, text));
      this.problem = null;
    } catch (err) {
      this.problem = (err as Error).message;
    }
  }

  override render() {
    const s = this.session;
    if (!s) return html``;
    const busy = s.running !== null;
    const text = this.draft?.stage === this.stage ? this.draft.text : JSON.stringify(s.run.settings[this.stage], null, 2);
    return html`
      <div class="grid">
        <label
          >Stage
          <select
            id="stage"
            ?disabled=${busy}
            @change=${(e: Event) => {
              this.draft = null;
              this.problem = null;
              s.selectStage((e.target as HTMLSelectElement).value as StageName);
            }}
          >
            ${STAGES.map((st) => html`<option value=${st} ?selected=${st === this.stage}>${STAGE_TITLES[st]}</option>`)}
          </select>
        </label>
        <label
          >Preset
          <select
            id="preset"
            ?disabled=${busy}
            @change=${(e: Event) => {
              this.draft = null;
              this.problem = null;
              s.usePreset((e.target as HTMLSelectElement).value as PresetName);
            }}
          >
            ${(Object.keys(PRESET_TITLES) as PresetName[]).map((p) => html`<option value=${p} ?selected=${p === s.run.preset}>${PRESET_TITLES[p]}</option>`)}
          </select>
        </label>
      </div>
      <label style="margin-top:0.6rem"
        >Config (JSON)
        <textarea id="config" spellcheck="false" ?disabled=${busy} .value=${text} @input=${this.onText} aria-invalid=${this.problem ? 'true' : 'false'} aria-describedby="config-problem"></textarea>
      </label>
      <div id="config-problem" role="alert">${this.problem ? html`<p class="error">${this.problem}</p>` : ''}</div>
    `;
  }
}

customElements.define('config-editor', ConfigEditor);
