/** Shown instead of the page where the browser offers no WebGPU: what is missing and how to get it. */
import { LitElement, html } from 'lit';
import { shared } from '../lib/styles.ts';

export class WebgpuMissing extends LitElement {
  static override properties = { reason: {} };
  declare reason: string;
  static override styles = [shared];

  constructor() {
    super();
    this.reason = '';
  }

  override render() {
    const noApi = !('gpu' in navigator);
    const insecure = !isSecureContext;
    return html`
      <div class="panel" role="alert" id="no-webgpu">
        <h2>This page needs WebGPU, and ${noApi ? 'this browser does not offer it' : 'no WebGPU adapter could be opened'}</h2>
        ${insecure
          ? html`<p><strong>The page is not a secure context.</strong> WebGPU only exists on <code>https://</code> pages and on <code>http://localhost</code> / <code>127.0.0.1</code>; open it that way.</p>`
          : ''}
        <p>How to enable it:</p>
        <ul>
          <li><strong>Chrome / Edge 113+</strong> on Windows, macOS and ChromeOS: on by default. Check <code>chrome://gpu</code> for “WebGPU: Hardware accelerated”.</li>
          <li><strong>Chrome on Linux</strong>: start it with <code>--enable-unsafe-webgpu</code> (and <code>--enable-features=Vulkan</code> on a GPU), or turn on <code>chrome://flags/#enable-unsafe-webgpu</code>. Without a GPU, Chrome runs WebGPU on its software renderer (SwiftShader), slowly but correctly.</li>
          <li><strong>Firefox</strong>: on by default on Windows from version 141; elsewhere set <code>dom.webgpu.enabled</code> in <code>about:config</code>.</li>
          <li><strong>Safari</strong>: Safari 26, or enable the WebGPU feature flag (Develop → Feature Flags).</li>
        </ul>
        ${this.reason ? html`<details><summary>What the browser said</summary><pre class="mono">${this.reason}</pre></details>` : ''}
        <p class="muted">Everything else — the command line, the same kernels through Dawn in Node — is in the README.</p>
      </div>
    `;
  }
}

customElements.define('webgpu-missing', WebgpuMissing);
