import { describe, expect, it } from 'vitest';
import { PRESETS_BY_STAGE, STAGES, parseSettings, type PresetName } from '../../demo/lib/settings.ts';
import { PIPELINE_PRESETS } from '../../src/stages/pipeline.ts';

describe("the demo page's settings", () => {
  it('every preset of every stage passes its own check', () => {
    for (const preset of Object.keys(PRESETS_BY_STAGE) as PresetName[]) {
      for (const stage of STAGES) expect(parseSettings(stage, JSON.stringify(PRESETS_BY_STAGE[preset][stage])), `${preset}.${stage}`).toEqual(PRESETS_BY_STAGE[preset][stage]);
    }
  });

  it('the cpu and gpu presets are the pipeline presets', () => {
    for (const name of ['cpu', 'gpu'] as const) {
      const page = PRESETS_BY_STAGE[name];
      const pipeline = PIPELINE_PRESETS[name];
      expect(page.pretrain).toMatchObject({ model: pipeline.model, ...pipeline.pretrain });
      expect(page.sft).toMatchObject(pipeline.sft);
      expect(page.reward).toMatchObject(pipeline.reward);
      const { evalEvery: _evalEvery, evalPrompts: _evalPrompts, value: _value, ...ppo } = pipeline.ppo;
      expect(page.ppo).toMatchObject(ppo);
    }
  });

  it('an edited config is refused with the key that is wrong', () => {
    const ppo = PRESETS_BY_STAGE.quick.ppo;
    const edited = (o: object) => () => parseSettings('ppo', JSON.stringify({ ...ppo, ...o }));
    expect(edited({ klCoeff: 0.1 })).toThrow('config: unknown key "klCoeff" for ppo');
    expect(edited({ miniBatches: 0 })).toThrow('config: "miniBatches"');
    expect(edited({ temperature: 'hot' })).toThrow('config: "temperature"');
    expect(edited({ targetKl: 2 })()).toMatchObject({ targetKl: 2 });
    const { lr: _lr, ...withoutLr } = ppo;
    expect(() => parseSettings('ppo', JSON.stringify(withoutLr))).toThrow('config: "lr" is missing');
    expect(() => parseSettings('pretrain', '{"steps": 1,')).toThrow('config: not valid JSON');
    expect(() => parseSettings('pretrain', JSON.stringify({ ...PRESETS_BY_STAGE.quick.pretrain, model: 'huge' }))).toThrow('config: "model"');
  });
});
