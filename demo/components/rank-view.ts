/**
 * The Rank tab, real human feedback: the current policy answers a prompt K
 * times, the person orders the answers (the built-in task's gold labeler can
 * pre-fill a suggestion), and each ranking is kept in the contract format
 * ({"prompt","ranking":[best, …, worst]}), downloadable, and trains the reward
 * model in the page; then PPO runs against that reward model. After PPO the
 * policy sampled here is PPO's, so ranking again and training the reward model
 * and PPO again is the next round (PPO continues from the last round's policy,
 * its KL still measured to the SFT model).
 */
import { css, html } from 'lit';
import { download } from '../lib/download.ts';
import { SessionElement } from '../lib/session-element.ts';
import { shared } from '../lib/styles.ts';
import './ranking-list.ts';

export class RankView extends SessionElement {
  static override properties = {
    ...SessionElement.properties,
    prompt: { state: true },
    k: { state: true },
    responses: { state: true },
    order: { state: true },
    suggested: { state: true },
    problem: { state: true },
    sampling: { state: true },
    rewards: { state: true },
  };
  declare prompt: string | null;
  declare k: number;
  declare responses: string[];
  declare order: number[];
  /** whether the order shown is the gold labeler's, untouched */
  declare suggested: boolean;
  declare problem: string | null;
  declare sampling: boolean;
  /** the reward model's scores of the responses, when there is one */
  declare rewards: number[] | null;

  static override styles = [
    shared,
    css`
      .layout {
        display: grid;
        grid-template-columns: minmax(0, 1.6fr) minmax(260px, 1fr);
        gap: 1rem;
        align-items: start;
      }
      @media (max-width: 820px) {
        .layout {
          grid-template-columns: minmax(0, 1fr);
        }
      }
      label {
        display: grid;
        gap: 0.2rem;
        font-weight: 600;
      }
      textarea {
        width: 100%;
        min-height: 3.5rem;
        font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
      }
      .count {
        font-size: 1.6rem;
        font-weight: 700;
      }
      .recent {
        list-style: none;
        padding: 0;
        overflow-wrap: anywhere;
        margin: 0.3rem 0;
        max-height: 12rem;
        overflow: auto;
      }
      .side {
        display: grid;
        gap: 1rem;
      }
    `,
  ];

  constructor() {
    super();
    this.prompt = null;
    this.k = 4;
    this.responses = [];
    this.order = [];
    this.suggested = false;
    this.problem = null;
    this.sampling = false;
    this.rewards = null;
  }

  private get promptText(): string {
    return this.prompt ?? this.session?.nextRankingPrompt() ?? '';
  }

  private async sample(): Promise<void> {
    const s = this.session!;
    this.problem = null;
    this.sampling = true;
    try {
      const prompt = this.promptText;
      if (!prompt.trim()) throw new Error('write a prompt first');
      this.prompt = prompt;
      this.responses = await s.sampleForRanking(prompt, this.k);
      this.rewards = await s.rewardScores(prompt, this.responses);
      const gold = s.goldSuggestion(prompt, this.responses);
      this.order = gold ?? this.responses.map((_, i) => i);
      this.suggested = gold !== null;
    } catch (e) {
      this.problem = (e as Error).message;
    } finally {
      this.sampling = false;
    }
    await this.updateComplete;
    this.renderRoot.querySelector('ranking-list')?.shadowRoot?.querySelector<HTMLElement>('li')?.focus();
  }

  private submit(): void {
    const s = this.session!;
    try {
      s.submitRanking(this.promptText, this.order.map((i) => this.responses[i]!));
      this.problem = null;
      this.responses = [];
      this.order = [];
      this.prompt = null;
      void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>('#sample')?.focus());
    } catch (e) {
      this.problem = (e as Error).message;
    }
  }

  /** Beside each response: the gold labeler's rank for it (while its suggestion is shown) and the reward model's score. */
  private notes(): (string | null)[] {
    const s = this.session!;
    const gold = this.suggested ? s.goldSuggestion(this.promptText, this.responses) : null;
    const rankOf = new Map((gold ?? []).map((index, rank) => [index, rank + 1]));
    return this.responses.map((_, i) => {
      const parts = [gold ? `gold labeler: #${rankOf.get(i)}` : '', this.rewards ? `reward model: ${this.rewards[i]!.toFixed(2)}` : ''].filter((x) => x);
      return parts.length ? parts.join(' · ') : null;
    });
  }

  override render() {
    const s = this.session;
    if (!s) return html``;
    const r = s.run;
    const busy = s.running !== null;
    const canSample = r.policy !== null && !busy && !this.sampling;
    const round = r.ppoRound ?? 0;
    const rm = r.rewardData;
    return html`
      <div class="layout">
        <section class="panel" aria-labelledby="rank-heading">
          <h2 id="rank-heading">Rank the policy's responses</h2>
          ${!r.policy
            ? html`<p class="note">There is no policy to sample from yet: train one in the Train tab (pretraining, then SFT) or load a checkpoint.</p>`
            : html`<p class="muted" id="policy-source">
                The responses come from
                ${round > 0 ? html`the policy after <span id="ppo-round">${round}</span> PPO round${round === 1 ? '' : 's'}` : 'the SFT model (no PPO yet)'}.
              </p>`}
          <label
            >Prompt
            <textarea id="prompt" .value=${this.promptText} @input=${(e: Event) => (this.prompt = (e.target as HTMLTextAreaElement).value)} ?disabled=${this.responses.length > 0}></textarea>
          </label>
          <div class="row" style="margin:0.5rem 0">
            <label style="display:flex;gap:0.4rem;align-items:center;font-weight:normal"
              >Responses
              <select id="k" @change=${(e: Event) => (this.k = Number((e.target as HTMLSelectElement).value))} ?disabled=${this.responses.length > 0}>
                ${[2, 3, 4, 5, 6].map((k) => html`<option value=${k} ?selected=${k === this.k}>${k}</option>`)}
              </select>
            </label>
            <button id="sample" class=${this.responses.length ? '' : 'primary'} ?disabled=${!canSample} @click=${() => void this.sample()}>
              ${this.sampling ? 'Sampling…' : this.responses.length ? 'Sample again' : `Sample ${this.k} responses`}
            </button>
            ${this.responses.length
              ? html`<button
                  @click=${() => {
                    this.responses = [];
                    this.prompt = null;
                  }}
                >
                  Skip this prompt
                </button>`
              : ''}
          </div>
          ${busy ? html`<p class="muted">Sampling waits for ${s.running} to finish.</p>` : ''}
          ${this.problem ? html`<p class="error" role="alert" id="rank-error">${this.problem}</p>` : ''}
          ${this.responses.length
            ? html`
                ${this.suggested
                  ? html`<p class="note" id="suggestion">Pre-filled with the built-in task's gold labeler's order. Accept it, or change it if you disagree.</p>`
                  : ''}
                <ranking-list
                  .responses=${this.responses}
                  .order=${this.order}
                  .scores=${this.notes()}
                  @order-change=${(e: CustomEvent<number[]>) => {
                    this.order = e.detail;
                    this.suggested = false;
                  }}
                ></ranking-list>
                <div class="row" style="margin-top:0.6rem">
                  <button class="primary" id="submit-ranking" @click=${() => this.submit()}>Submit ranking</button>
                  ${s.goldSuggestion(this.promptText, this.responses) && !this.suggested
                    ? html`<button
                        @click=${() => {
                          this.order = s.goldSuggestion(this.promptText, this.responses)!;
                          this.suggested = true;
                        }}
                      >
                        Suggest (gold labeler)
                      </button>`
                    : ''}
                </div>
              `
            : ''}
        </section>
        <div class="side">
          <section class="panel" aria-labelledby="saved-heading">
            <h2 id="saved-heading">Your rankings</h2>
            <p><span class="count" id="rank-count">${r.rankings.length}</span> saved</p>
            <div class="row">
              <button id="download-rankings" ?disabled=${r.rankings.length === 0} @click=${() => download('rankings.jsonl', s.rankingsJsonl(), 'application/jsonl')}>
                Download rankings.jsonl
              </button>
            </div>
            <ol class="recent mono">
              ${r.rankings
                .slice(-5)
                .reverse()
                .map((x) => html`<li>${x.prompt.replace(/\s+/g, ' ')} → ${x.ranking.length} ranked</li>`)}
            </ol>
          </section>
          <section class="panel" aria-labelledby="learn-heading">
            <h2 id="learn-heading">Learn from them</h2>
            <p class="muted">
              The reward model trains on your rankings${r.datasets.preferences ? ` and ${r.datasets.preferences.name}` : ''} (reward stage settings, Train tab),
              continuing from the last one; PPO then optimises the policy against it. Rank the new policy's responses and do both again for another round.
            </p>
            <p id="rounds">
              Reward model:
              ${rm
                ? html`trained on <span id="rm-comparisons">${rm.comparisons}</span> comparisons from ${rm.rankings} rankings${rm.heldOutRankings
                    ? ` (${rm.heldOutComparisons} more held out)`
                    : ''}`
                : r.rewardModel
                  ? 'loaded'
                  : 'none yet'}.
              Policy: ${round > 0 ? `PPO round ${round}` : 'the SFT model'}${r.paused?.stage === 'ppo' ? ` (round ${Math.max(1, round)} paused at step ${r.paused.step})` : ''}.
            </p>
            <div class="row">
              <button id="train-reward" ?disabled=${busy || r.rankings.length + (r.datasets.preferences ? 1 : 0) === 0} @click=${() => void s.start('reward')}>
                Train the reward model
              </button>
              <button id="train-ppo" ?disabled=${busy || !r.rewardModel} @click=${() => void s.start('ppo')}>
                ${r.paused?.stage === 'ppo' ? `Resume PPO round ${Math.max(1, round)}` : `Run PPO round ${round + 1} against it`}
              </button>
              ${round > 0 && r.reference
                ? html`<button
                    id="policy-to-sft"
                    ?disabled=${busy}
                    title="Forget the PPO rounds: the next PPO run starts from the SFT model"
                    @click=${() => s.policyToSft()}
                  >
                    Back to the SFT model
                  </button>`
                : ''}
            </div>
            <p role="status" aria-live="polite" id="learn-status">
              ${s.running && s.progress ? `${s.running}: step ${s.progress.step} of ${s.progress.steps}` : (r.log.at(-1) ?? '')}
            </p>
            ${s.error ? html`<p class="error">${s.error}</p>` : ''}
            <button @click=${() => this.dispatchEvent(new CustomEvent('show-train', { bubbles: true, composed: true }))}>Watch the charts in the Train tab</button>
          </section>
        </div>
      </div>
    `;
  }
}

customElements.define('rank-view', RankView);
