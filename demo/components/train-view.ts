/**
 * The Train tab: a stage, its preset and config, start / pause / stop, live
 * charts of the stage's metrics, sampled responses, and the run's files
 * (load datasets and checkpoints, download checkpoints).
 */
import { css, html } from 'lit';
import { keyed } from 'lit/directives/keyed.js';
import { SessionElement } from '../lib/session-element.ts';
import type { StageName } from '../lib/settings.ts';
import { shared } from '../lib/styles.ts';
import './checkpoint-list.ts';
import './config-editor.ts';
import './file-drop.ts';
import type { ChartSeries } from './metric-chart.ts';
import './metric-chart.ts';
import './run-status.ts';
import './samples-panel.ts';

const LOSS: ChartSeries[] = [
  { key: 'loss', label: 'loss', color: '#2f5fd0' },
  { key: 'eval_loss', label: 'eval loss', color: '#e07b00' },
];
const CHARTS: Record<StageName, { id: string; label: string; series: ChartSeries[] }[]> = {
  pretrain: [{ id: 'chart-loss', label: 'Loss', series: LOSS }],
  sft: [{ id: 'chart-loss', label: 'Loss', series: LOSS }],
  reward: [
    { id: 'chart-loss', label: 'Loss', series: LOSS },
    {
      id: 'chart-accuracy',
      label: 'Reward-model accuracy',
      series: [
        { key: 'accuracy', label: 'accuracy', color: '#2f5fd0' },
        { key: 'eval_accuracy', label: 'eval accuracy', color: '#e07b00' },
      ],
    },
  ],
  ppo: [
    {
      id: 'chart-reward',
      label: 'Reward',
      series: [
        { key: 'objective/scores', label: 'RM score', color: '#2f5fd0' },
        { key: 'objective/rlhf_reward', label: 'score − β·KL', color: '#1a9a5b' },
      ],
    },
    { id: 'chart-kl', label: 'KL to the SFT model', series: [{ key: 'objective/kl', label: 'KL', color: '#c0392b' }] },
  ],
};

export class TrainView extends SessionElement {
  static override styles = [
    shared,
    css`
      .layout {
        display: grid;
        grid-template-columns: minmax(300px, 380px) minmax(0, 1fr);
        gap: 1rem;
        align-items: start;
      }
      .side,
      .main {
        display: grid;
        gap: 1rem;
        min-width: 0;
      }
      .charts {
        display: grid;
        grid-template-columns: repeat(auto-fit, minmax(280px, 1fr));
        gap: 0.75rem;
      }
      .log {
        max-height: 10rem;
        overflow: auto;
        margin: 0;
        padding: 0;
        list-style: none;
        overflow-wrap: anywhere;
      }
      /* One column on a phone: the run, then what it shows (charts, samples), then files and the log. */
      @media (max-width: 820px) {
        .layout {
          grid-template-columns: minmax(0, 1fr);
        }
        .side,
        .main {
          display: contents;
        }
        .run {
          order: 1;
        }
        .charts {
          order: 2;
        }
        samples-panel {
          order: 3;
        }
        .files {
          order: 4;
        }
        .log-panel {
          order: 5;
        }
      }
    `,
  ];

  override render() {
    const s = this.session;
    if (!s) return html``;
    const stage = s.run.stage;
    const points = [...s.run.metrics[stage]];
    return html`
      <div class="layout">
        <div class="side">
          <section class="panel run" aria-labelledby="run-heading">
            <h2 id="run-heading">Run</h2>
            <config-editor .session=${s}></config-editor>
            <run-status .session=${s}></run-status>
          </section>
          <section class="panel files" aria-labelledby="files-heading">
            <h2 id="files-heading">Files</h2>
            <file-drop .session=${s}></file-drop>
            <checkpoint-list .session=${s}></checkpoint-list>
            <p>
              <button
                id="new-run"
                ?disabled=${s.running !== null}
                @click=${() => {
                  if (confirm('Start a new run? The current models, metrics and rankings are forgotten (download them first).')) void s.reset();
                }}
              >
                New run…
              </button>
            </p>
          </section>
        </div>
        <div class="main">
          <div class="charts">
            ${keyed(stage, CHARTS[stage].map((c) => html`<metric-chart id=${c.id} .label=${c.label} .series=${c.series} .points=${points}></metric-chart>`))}
          </div>
          <samples-panel .session=${s}></samples-panel>
          <section class="panel log-panel">
            <h2>Log <span class="muted">(newest first)</span></h2>
            <ol class="log mono" id="log">
              ${s.run.log
                .slice(-30)
                .reverse()
                .map((l) => html`<li>${l}</li>`)}
            </ol>
          </section>
        </div>
      </div>
    `;
  }
}

customElements.define('train-view', TrainView);
