import { describe, expect, it } from 'vitest';
import { PIPELINE_PRESETS, pipelineSettingsSchema } from '../../src/stages/pipeline.ts';
import { PPO_DEFAULTS, ppoSettingsSchema } from '../../src/train/ppo-settings.ts';
import { cli } from '../cli/cli.ts';

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

describe('PPO settings, declared once', () => {
  it('the defaults and both pipeline presets satisfy their schemas', () => {
    expect(ppoSettingsSchema.parse(PPO_DEFAULTS)).toEqual(PPO_DEFAULTS);
    for (const name of ['cpu', 'gpu'] as const) expect(pipelineSettingsSchema.parse(PIPELINE_PRESETS[name])).toEqual(PIPELINE_PRESETS[name]);
  });

  it('the schema refuses what PPO cannot run with, naming the setting', () => {
    for (const [key, bad] of [['miniBatches', 0], ['topP', 1.5], ['klEstimator', 'k2'], ['gamma', -1], ['targetKl', 0]] as const) {
      const r = ppoSettingsSchema.safeParse({ ...PPO_DEFAULTS, [key]: bad });
      expect(r.success, key).toBe(false);
      expect(r.error!.issues[0]!.path, key).toEqual([key]);
    }
  });

  it('the ppo command has a flag for every setting, with its help and default, and checks values by the schema', () => {
    const help = cli(['ppo', '--help']);
    expect(help.status, help.stderr).toBe(0);
    const text = help.stdout.replace(/\s+/g, ' ');
    for (const [key, value] of Object.entries(PPO_DEFAULTS)) {
      if (key === 'maxPromptLength') continue; // the command's own: the longest prompt that fits
      const described = ppoSettingsSchema.shape[key as keyof typeof ppoSettingsSchema.shape].description!;
      expect(text, key).toContain(`--${kebab(key)}`);
      expect(text, key).toContain(described.replace(/\s+/g, ' ').slice(0, 30));
      if (typeof value === 'number') expect(text, key).toContain(`(default: ${value})`);
    }
    expect(text).toMatch(/--target-kl <x> .*\(default: none\)/);
    expect(text).toMatch(/--kl-estimator <name> .*\(choices: "k1", "k3", default: "k1"\)/);
    const bad = cli(['ppo', '--init', 'a', '--reward-model', 'b', '--data', 'c', '--top-p', '2']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('--top-p');
  });
});
