import { describe, expect, it } from 'vitest';
import { SAMPLING_DEFAULTS, samplingSettingsSchema } from '../../src/model/sampling-settings.ts';
import { cli } from '../cli/cli.ts';

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

describe('sampling settings, declared once', () => {
  it('generate, sample and eval list every sampling setting with their own defaults, and sample refuses greedy decoding', () => {
    expect(samplingSettingsSchema.parse(SAMPLING_DEFAULTS)).toEqual(SAMPLING_DEFAULTS);
    for (const [command, own] of [['generate', {}], ['sample', {}], ['eval', { maxNewTokens: 32, temperature: 0.7 }]] as const) {
      const help = cli([command, '--help']);
      expect(help.status, help.stderr).toBe(0);
      const text = help.stdout.replace(/\s+/g, ' ');
      for (const [key, value] of Object.entries({ ...SAMPLING_DEFAULTS, ...own })) {
        expect(text, `${command} ${key}`).toMatch(new RegExp(`--${kebab(key)} <[nx]> [^-]*\\(default: ${value}\\)`));
      }
    }
    const greedy = cli(['sample', '--policy', 'p', '--data', 'd', '--out', 'o', '--temperature', '0']);
    expect(greedy.status).toBe(1);
    expect(greedy.stderr).toContain('--temperature');
  });
});
