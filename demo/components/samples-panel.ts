/** The policy's responses to a few prompts, sampled again as training goes (and their gold scores, for the task's prompts). */
import { css, html } from 'lit';
import { SessionElement } from '../lib/session-element.ts';
import { shared } from '../lib/styles.ts';

export class SamplesPanel extends SessionElement {
  static override styles = [
    shared,
    css`
      ol {
        list-style: none;
        padding: 0;
        margin: 0;
        display: grid;
        gap: 0.5rem;
      }
      .prompt {
        white-space: pre-wrap;
        color: var(--muted);
      }
      .response {
        white-space: pre-wrap;
        overflow-wrap: anywhere;
      }
      .gold {
        float: right;
        font-size: 0.8rem;
      }
    `,
  ];

  override render() {
    const samples = this.session?.run.samples;
    return html`
      <section class="panel" aria-live="polite" id="samples">
        <h2>Samples ${samples ? html`<span class="muted">— ${samples.stage}, step ${samples.step}</span>` : ''}</h2>
        ${!samples
          ? html`<p class="muted">Responses of the policy appear here every <code>sampleEvery</code> steps.</p>`
          : html`<ol>
              ${samples.items.map(
                (x) => html`<li>
                  ${x.gold !== undefined ? html`<span class="gold muted" title="the built-in task's gold labeler (best 1)">gold ${x.gold.toFixed(2)}</span>` : ''}
                  <div class="prompt mono">${x.prompt}</div>
                  <div class="response mono">${x.response || html`<span class="muted">(empty)</span>`}</div>
                </li>`,
              )}
            </ol>`}
      </section>
    `;
  }
}

customElements.define('samples-panel', SamplesPanel);
