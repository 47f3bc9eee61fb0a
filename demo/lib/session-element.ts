/**
 * The base of the page's elements: each gets the session as a property and
 * renders again whenever the session changes.
 */
import { LitElement } from 'lit';
import type { Session } from './session.ts';

export class SessionElement extends LitElement {
  static override properties = { session: { attribute: false } };
  declare session: Session | undefined;
  private readonly onChange = () => this.requestUpdate();
  private listeningTo: Session | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    this.listen();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.listeningTo?.removeEventListener('change', this.onChange);
    this.listeningTo = undefined;
  }

  protected override willUpdate(): void {
    this.listen();
  }

  private listen(): void {
    if (this.session === this.listeningTo) return;
    this.listeningTo?.removeEventListener('change', this.onChange);
    this.session?.addEventListener('change', this.onChange);
    this.listeningTo = this.session;
  }
}
