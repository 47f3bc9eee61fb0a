/**
 * A drop zone and a file picker for datasets and checkpoints. It reads and
 * checks what it gets (lib/files.ts) and hands it to the session; a bad file
 * is reported by name and line, and nothing of it is used.
 */
import { css, html } from 'lit';
import { readFiles } from '../lib/files.ts';
import { SessionElement } from '../lib/session-element.ts';
import { shared } from '../lib/styles.ts';

export class FileDrop extends SessionElement {
  static override properties = { ...SessionElement.properties, over: { state: true }, problem: { state: true }, busy: { state: true } };
  declare over: boolean;
  declare problem: string | null;
  declare busy: boolean;

  static override styles = [
    shared,
    css`
      .zone {
        border: 2px dashed var(--border);
        border-radius: 10px;
        padding: 0.8rem;
        text-align: center;
      }
      .zone.over {
        border-color: var(--accent);
        background: var(--note-bg);
      }
      input[type='file'] {
        display: none;
      }
    `,
  ];

  constructor() {
    super();
    this.over = false;
    this.problem = null;
    this.busy = false;
  }

  private async take(files: File[]): Promise<void> {
    if (files.length === 0 || !this.session) return;
    this.busy = true;
    this.problem = null;
    try {
      for (const item of await readFiles(files)) {
        if (item.type === 'dataset') this.session.addDataset(item.dataset);
        else this.session.addCheckpoint(item.name, item.checkpoint);
      }
    } catch (e) {
      this.problem = (e as Error).message;
    } finally {
      this.busy = false;
    }
  }

  private onDrop(e: DragEvent): void {
    e.preventDefault();
    this.over = false;
    void this.take(Array.from(e.dataTransfer?.files ?? []));
  }

  override render() {
    return html`
      <div
        class="zone ${this.over ? 'over' : ''}"
        @dragover=${(e: DragEvent) => {
          e.preventDefault();
          this.over = true;
        }}
        @dragleave=${() => (this.over = false)}
        @drop=${this.onDrop}
      >
        <p>Drop files here, or</p>
        <div class="row" style="justify-content:center">
          <button @click=${() => this.renderRoot.querySelector<HTMLInputElement>('#files')!.click()} ?disabled=${this.busy}>Choose files…</button>
          <button @click=${() => this.renderRoot.querySelector<HTMLInputElement>('#folder')!.click()} ?disabled=${this.busy}>Choose a checkpoint folder…</button>
        </div>
        <input id="files" type="file" multiple accept=".txt,.jsonl,.json,.safetensors" @change=${(e: Event) => this.picked(e)} />
        <input id="folder" type="file" webkitdirectory @change=${(e: Event) => this.picked(e)} />
        <p class="muted">A <code>.txt</code> corpus, <code>.jsonl</code> SFT data, preferences or prompts (DESIGN.md §5), or a checkpoint's <code>config.json</code> + <code>model.safetensors</code>.</p>
      </div>
      <div role="alert">${this.problem ? html`<p class="error" id="file-error">${this.problem}</p>` : ''}</div>
    `;
  }

  private picked(e: Event): void {
    const input = e.target as HTMLInputElement;
    const files = Array.from(input.files ?? []);
    input.value = '';
    void this.take(files);
  }
}

customElements.define('file-drop', FileDrop);
