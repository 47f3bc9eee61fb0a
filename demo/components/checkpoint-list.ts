/**
 * The run's models and data: the policy, the SFT reference and the reward
 * model, each downloadable as the CLI writes a run directory (config.json +
 * model.safetensors with Hugging Face GPT-2 names), and the datasets in use.
 */
import { css, html } from 'lit';
import { encodeModel, parameterCount, tokenizerFor, type GPTConfig, type Weights } from '../../src/index.ts';
import { download } from '../lib/download.ts';
import { DATASET_TITLES, type DatasetKind } from '../lib/files.ts';
import { SessionElement } from '../lib/session-element.ts';
import { shared } from '../lib/styles.ts';

const describe = (c: GPTConfig) => `L${c.nLayer} C${c.nEmbd} H${c.nHead}, context ${c.nPositions}, ${(parameterCount(c) / 1e6).toFixed(2)} M parameters`;

export class CheckpointList extends SessionElement {
  static override styles = [
    shared,
    css`
      ul {
        list-style: none;
        padding: 0;
        margin: 0;
        display: grid;
        gap: 0.5rem;
      }
      li {
        display: grid;
        gap: 0.25rem;
      }
      button {
        min-height: 2rem;
        padding: 0.2rem 0.6rem;
      }
    `,
  ];

  private save(name: string, w: Weights): void {
    // As the CLI writes it (a reward model as GPT2ForSequenceClassification).
    const { config, model } = encodeModel(w, { eosId: tokenizerFor(w.config).eosId });
    if (name === 'config.json') download(name, config, 'application/json');
    else download(name, model);
  }

  /** One JSON object per logged step, {"stage","step",…}, as the CLI's metrics.jsonl. */
  private metricsJsonl(): string {
    const r = this.session!.run;
    return Object.entries(r.metrics)
      .flatMap(([stage, points]) => points.map((p) => `${JSON.stringify({ stage, ...p })}\n`))
      .join('');
  }

  private item(id: string, title: string, w: Weights | null) {
    if (!w) return html`<li><strong>${title}</strong><span class="muted">none yet</span></li>`;
    return html`<li id=${id}>
      <strong>${title}</strong><span class="muted">${describe(w.config)}</span>
      <span class="row">
        <button @click=${() => this.save('config.json', w)} aria-label="Download the ${title}'s config.json">config.json</button>
        <button @click=${() => this.save('model.safetensors', w)} aria-label="Download the ${title}'s model.safetensors">model.safetensors</button>
      </span>
    </li>`;
  }

  override render() {
    const s = this.session;
    if (!s) return html``;
    const r = s.run;
    const kinds = Object.keys(DATASET_TITLES) as DatasetKind[];
    return html`
      <h3>Checkpoints</h3>
      <ul>
        ${this.item('ckpt-policy', 'policy', r.policy)} ${this.item('ckpt-reference', 'SFT reference', r.reference)}
        ${this.item('ckpt-reward', 'reward model', r.rewardModel)}
      </ul>
      <p class="row">
        <button
          id="download-metrics"
          ?disabled=${Object.values(r.metrics).every((m) => m.length === 0)}
          @click=${() => download('metrics.jsonl', this.metricsJsonl(), 'application/jsonl')}
          aria-label="Download every stage's metrics as metrics.jsonl"
        >
          metrics.jsonl
        </button>
        <span class="muted">every logged step of every stage, as the CLI logs them</span>
      </p>
      <h3>Data</h3>
      <ul>
        ${kinds.map((k) => {
          const d = r.datasets[k];
          return html`<li>
            <span><strong>${DATASET_TITLES[k]}</strong>: ${d ? `${d.name} (${d.summary})` : k === 'preferences' ? html`<span class="muted">the page's rankings (${r.rankings.length})</span>` : html`<span class="muted">built-in task</span>`}</span>
            ${d ? html`<span><button @click=${() => s.removeDataset(k)} ?disabled=${s.running !== null}>Use the built-in task's instead</button></span>` : ''}
          </li>`;
        })}
      </ul>
    `;
  }
}

customElements.define('checkpoint-list', CheckpointList);
