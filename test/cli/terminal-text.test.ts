import { describe, expect, it } from 'vitest';
import { terminalSafe } from '../../src/cli/terminal-text.ts';

describe('terminalSafe', () => {
  it('escapes what a terminal acts on and keeps text, tabs and line breaks', () => {
    expect(terminalSafe('plain café ☕\n\tindented')).toBe('plain café ☕\n\tindented');
    expect(terminalSafe('\x1b[2J\x1b]0;title\x07red\rover')).toBe('\\x1b[2J\\x1b]0;title\\x07red\\x0dover');
    expect(terminalSafe('\u0000\u007f\u009b31m')).toBe('\\x00\\x7f\\x9b31m');
    expect(terminalSafe('abc\u202edef\u2066x\u2069')).toBe('abc\\u202edef\\u2066x\\u2069');
  });
});
