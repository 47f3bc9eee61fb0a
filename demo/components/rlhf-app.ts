/**
 * The page: a header naming the adapter, three tabs (Train, Rank, Shader
 * timings) over one session, or, without WebGPU, what is missing and how to
 * enable it.
 */
import { LitElement, css, html } from 'lit';
import { Session } from '../lib/session.ts';
import { shared } from '../lib/styles.ts';
import './rank-view.ts';
import './timings-view.ts';
import './train-view.ts';
import './webgpu-missing.ts';

const TABS = [
  { id: 'train', title: 'Train' },
  { id: 'rank', title: 'Rank' },
  { id: 'timings', title: 'Shader timings' },
] as const;
type TabId = (typeof TABS)[number]['id'];

export class RlhfApp extends LitElement {
  static override properties = { tab: { state: true }, ready: { state: true } };
  declare tab: TabId;
  declare ready: boolean;
  readonly session = new Session();

  static override styles = [
    shared,
    css`
      :host {
        max-width: 1280px;
        margin: 0 auto;
        padding: 0.75rem 1rem 2rem;
      }
      header {
        display: flex;
        flex-wrap: wrap;
        align-items: baseline;
        gap: 0.25rem 1rem;
        margin-bottom: 0.75rem;
      }
      h1 {
        font-size: 1.3rem;
        margin: 0;
      }
      [role='tablist'] {
        display: flex;
        gap: 0.25rem;
        border-bottom: 1px solid var(--border);
        margin-bottom: 1rem;
        overflow-x: auto;
      }
      [role='tab'] {
        border: none;
        border-bottom: 3px solid transparent;
        border-radius: 6px 6px 0 0;
        background: none;
        padding: 0.5rem 0.9rem;
        white-space: nowrap;
      }
      [role='tab'][aria-selected='true'] {
        border-bottom-color: var(--accent);
        font-weight: 600;
      }
    `,
  ];

  constructor() {
    super();
    this.tab = this.tabFromHash();
    this.ready = false;
    this.session.addEventListener('change', () => this.requestUpdate());
    addEventListener('hashchange', () => (this.tab = this.tabFromHash()));
    void this.session.init().then(() => (this.ready = true));
  }

  private tabFromHash(): TabId {
    const id = location.hash.slice(1);
    return TABS.some((t) => t.id === id) ? (id as TabId) : 'train';
  }

  private select(tab: TabId, focus = false): void {
    this.tab = tab;
    history.replaceState(null, '', `#${tab}`);
    if (focus) void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(`#tab-${tab}`)?.focus());
  }

  /** Arrow keys move between tabs (the ARIA tabs pattern). */
  private onTabKey(e: KeyboardEvent): void {
    const i = TABS.findIndex((t) => t.id === this.tab);
    const next = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? TABS.length - 1 : null;
    if (next === null) return;
    e.preventDefault();
    this.select(TABS[(next + TABS.length) % TABS.length]!.id, true);
  }

  override render() {
    const s = this.session;
    return html`
      <header>
        <h1>webgpu-rlhf</h1>
        <span class="muted">GPT-2 training and RLHF in hand-written WebGPU kernels</span>
        <span class="muted" id="adapter">${s.gpu ? `adapter: ${s.gpu.name}${s.gpu.timestamps ? '' : ' (no timestamp queries)'}` : ''}</span>
      </header>
      ${!this.ready
        ? html`<p class="muted" role="status">Starting WebGPU…</p>`
        : !s.gpu
          ? html`<webgpu-missing .reason=${s.gpuError ?? ''}></webgpu-missing>`
          : html`
              <nav role="tablist" aria-label="Views" @keydown=${this.onTabKey}>
                ${TABS.map(
                  (t) => html`<button
                    role="tab"
                    id="tab-${t.id}"
                    aria-selected=${this.tab === t.id ? 'true' : 'false'}
                    aria-controls="panel-${t.id}"
                    tabindex=${this.tab === t.id ? 0 : -1}
                    @click=${() => this.select(t.id)}
                  >
                    ${t.title}
                  </button>`,
                )}
              </nav>
              <section role="tabpanel" id="panel-${this.tab}" aria-labelledby="tab-${this.tab}">
                ${this.tab === 'train'
                  ? html`<train-view .session=${s}></train-view>`
                  : this.tab === 'rank'
                    ? html`<rank-view .session=${s} @show-train=${() => this.select('train')}></rank-view>`
                    : html`<timings-view .session=${s}></timings-view>`}
              </section>
            `}
    `;
  }
}

customElements.define('rlhf-app', RlhfApp);
