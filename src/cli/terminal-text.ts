/**
 * Model output and file contents shown on a terminal. A terminal acts on some
 * characters instead of showing them: ESC and the other C0 controls start
 * escape sequences (colours, cursor moves, window titles, hyperlinks, …), CR
 * overwrites the line, the C1 controls (U+0080–U+009F) are 8-bit escape
 * sequences to some terminals, and the bidirectional overrides reorder what is
 * shown. Sampled text can hold any of them, so it is shown with each escaped;
 * machine-readable output (JSON, --out files) keeps the exact text.
 */

/** C0 controls except TAB and LF, DEL, C1 controls, and the bidirectional embeddings, overrides and isolates. */
const ACTIVE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string): string => {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/**
 * `text` with every character a terminal would act on written as an escape
 * (`\x1b`, `\r` as `\x0d`, `\u202e`); tabs and line breaks are kept.
 */
export function terminalSafe(text: string): string {
  return text.replace(ACTIVE, escape);
}
