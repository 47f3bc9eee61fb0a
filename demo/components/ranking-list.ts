/**
 * Responses to put in order, best first: drag them, or use the keyboard —
 * arrow keys move between responses, Alt+↑ / Alt+↓ (or Space to pick one up,
 * the arrows, Space to put it down) move the focused one. Each move is
 * announced. It fires `order-change` with the new order (indices into `responses`).
 */
import { LitElement, css, html } from 'lit';
import { shared } from '../lib/styles.ts';

export class RankingList extends LitElement {
  static override properties = {
    responses: { attribute: false },
    order: { attribute: false },
    scores: { attribute: false },
    grabbed: { state: true },
    announcement: { state: true },
  };
  declare responses: string[];
  /** indices into responses, best first */
  declare order: number[];
  /** optional per-response notes (the gold labeler's and the reward model's scores) */
  declare scores: (string | null)[];
  declare grabbed: number | null;
  declare announcement: string;
  private dragFrom: number | null = null;

  static override styles = [
    shared,
    css`
      ol {
        list-style: none;
        padding: 0;
        margin: 0;
        display: grid;
        gap: 0.4rem;
      }
      li {
        display: grid;
        grid-template-columns: 2rem minmax(0, 1fr) auto;
        gap: 0.5rem;
        align-items: center;
        border: 1px solid var(--border);
        border-radius: 8px;
        padding: 0.45rem 0.5rem;
        background: var(--surface);
        cursor: grab;
      }
      li.grabbed {
        border-color: var(--accent);
        box-shadow: 0 0 0 2px var(--accent);
      }
      li.drop-target {
        border-top: 3px solid var(--accent);
      }
      .rank {
        font-weight: 700;
        text-align: center;
        font-size: 1.1rem;
      }
      .text {
        white-space: pre-wrap;
        overflow-wrap: anywhere;
      }
      .moves {
        display: flex;
        gap: 0.25rem;
      }
      .moves button {
        min-height: 2.25rem;
        min-width: 2.25rem;
        padding: 0;
      }
      .note {
        display: block;
        font-size: 0.78rem;
        padding: 0;
        background: none;
      }
    `,
  ];

  constructor() {
    super();
    this.responses = [];
    this.order = [];
    this.scores = [];
    this.grabbed = null;
    this.announcement = '';
  }

  private move(from: number, to: number, focus = true): void {
    if (to < 0 || to >= this.order.length || from === to) return;
    const order = [...this.order];
    const [item] = order.splice(from, 1);
    order.splice(to, 0, item!);
    this.order = order;
    this.announcement = `Response moved to position ${to + 1} of ${order.length}.`;
    this.dispatchEvent(new CustomEvent('order-change', { detail: order, bubbles: true, composed: true }));
    if (focus) void this.updateComplete.then(() => this.focusAt(to));
  }

  private focusAt(position: number): void {
    this.renderRoot.querySelectorAll<HTMLElement>('li')[position]?.focus();
  }

  private onKey(e: KeyboardEvent, position: number): void {
    const up = e.key === 'ArrowUp';
    const down = e.key === 'ArrowDown';
    if ((up || down) && (e.altKey || this.grabbed === position)) {
      e.preventDefault();
      this.move(position, position + (up ? -1 : 1));
      if (this.grabbed !== null) this.grabbed = position + (up ? -1 : 1);
    } else if (up || down) {
      e.preventDefault();
      this.focusAt(Math.min(this.order.length - 1, Math.max(0, position + (up ? -1 : 1))));
    } else if (e.key === ' ' || e.key === 'Enter') {
      e.preventDefault();
      this.grabbed = this.grabbed === position ? null : position;
      this.announcement = this.grabbed === null ? `Response put down at position ${position + 1}.` : `Response picked up at position ${position + 1}. Use the arrow keys to move it, Space to put it down.`;
    } else if (e.key === 'Escape' && this.grabbed !== null) {
      this.grabbed = null;
      this.announcement = 'Response put down.';
    }
  }

  private onDrop(e: DragEvent, position: number): void {
    e.preventDefault();
    (e.currentTarget as HTMLElement).classList.remove('drop-target');
    if (this.dragFrom !== null) this.move(this.dragFrom, position, false);
    this.dragFrom = null;
  }

  override render() {
    const n = this.order.length;
    return html`
      <p class="muted" id="ranking-help">Best first. Drag a response, or focus it and press Alt+↑ / Alt+↓ (or Space, then the arrows, then Space).</p>
      <ol aria-describedby="ranking-help" aria-label="Responses, best first">
        ${this.order.map(
          (index, position) => html`<li
            tabindex="0"
            draggable="true"
            class=${this.grabbed === position ? 'grabbed' : ''}
            aria-label=${`Position ${position + 1} of ${n}: ${this.responses[index] || 'empty response'}`}
            @keydown=${(e: KeyboardEvent) => this.onKey(e, position)}
            @blur=${() => {
              if (this.grabbed === position) this.grabbed = null;
            }}
            @dragstart=${(e: DragEvent) => {
              this.dragFrom = position;
              e.dataTransfer?.setData('text/plain', String(position));
            }}
            @dragover=${(e: DragEvent) => {
              e.preventDefault();
              (e.currentTarget as HTMLElement).classList.add('drop-target');
            }}
            @dragleave=${(e: DragEvent) => (e.currentTarget as HTMLElement).classList.remove('drop-target')}
            @drop=${(e: DragEvent) => this.onDrop(e, position)}
          >
            <span class="rank" aria-hidden="true">${position + 1}</span>
            <span>
              <span class="text mono">${this.responses[index] || html`<span class="muted">(empty)</span>`}</span>
              ${this.scores[index] ? html`<span class="note muted">${this.scores[index]}</span>` : ''}
            </span>
            <span class="moves">
              <button tabindex="-1" aria-label="Move up" ?disabled=${position === 0} @click=${() => this.move(position, position - 1, false)}>▲</button>
              <button tabindex="-1" aria-label="Move down" ?disabled=${position === n - 1} @click=${() => this.move(position, position + 1, false)}>▼</button>
            </span>
          </li>`,
        )}
      </ol>
      <div class="visually-hidden" role="status" aria-live="assertive">${this.announcement}</div>
    `;
  }
}

customElements.define('ranking-list', RankingList);
