import { describe, expect, it } from 'vitest';
import { ADAMW_DEFAULTS } from '../../src/train/adamw.ts';
import { TRAINING_DEFAULTS, trainingSettingsSchema } from '../../src/train/training-settings.ts';
import { cli } from '../cli/cli.ts';

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

describe('training settings, declared once', () => {
  it('the defaults satisfy the schema and are AdamW\'s', () => {
    expect(trainingSettingsSchema.parse(TRAINING_DEFAULTS)).toEqual(TRAINING_DEFAULTS);
    const { lr: _lr, ...adamw } = ADAMW_DEFAULTS;
    expect(TRAINING_DEFAULTS).toMatchObject(adamw);
  });

  it('every training command has a flag for every setting, with its help and default', () => {
    for (const [command, own] of [['pretrain', { steps: 200, lr: 1e-3 }], ['sft', { steps: 200, lr: 3e-4 }], ['reward', { steps: 200, lr: 3e-4 }]] as const) {
      const help = cli([command, '--help']);
      expect(help.status, help.stderr).toBe(0);
      const text = help.stdout.replace(/\s+/g, ' ');
      for (const [key, value] of Object.entries({ ...TRAINING_DEFAULTS, ...own })) {
        const described = trainingSettingsSchema.shape[key as keyof typeof trainingSettingsSchema.shape].description!;
        expect(text, `${command} ${key}`).toContain(`--${kebab(key)}`);
        expect(text, `${command} ${key}`).toContain(described.slice(0, 20));
        expect(text, `${command} ${key}`).toContain(typeof value === 'number' ? `(default: ${value})` : `default: "${value}"`);
      }
    }
  });
});
