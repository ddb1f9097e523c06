/**
 * What-if changes of a fitted ECN model sample what the model samples, changed as stated: on the
 * same random numbers, a scaled spread is the model's spread times the scale rounded to whole
 * ticks (never below one), a scaled depth adds ln(scale) to every initial level volume (volumes
 * are ln V) and leaves the relative step variations alone; no change is the model itself.
 */
import { describe, expect, it } from "vitest";
import { editedEcnModel } from "../../core/ecn/edited-model.ts";
import { gmmVariationModel } from "../../core/ecn/model.ts";
import { Random } from "../../core/random/philox.ts";
import { standInGmmData } from "../otc/fixtures.ts";

const model = gmmVariationModel(standInGmmData());
const m = model.levels;

const draws = (target: typeof model, seed: number) => {
  const sampler = target.forEpisode();
  const rng = Random.fromSeed(seed);
  const initial = new Float64Array(2 * m + 1);
  const step = new Float64Array(2 * m + 2);
  sampler.sampleInitial(rng, initial);
  sampler.sampleStep(rng, step);
  return { initial, step };
};

describe("editedEcnModel", () => {
  it("scales the spread to whole ticks and the depth by its log, on the same draws", () => {
    for (let seed = 0; seed < 50; seed++) {
      const base = draws(model, seed);
      const edited = draws(editedEcnModel(model, { spreadScale: 2.5, depthScale: 3 }), seed);
      expect(edited.initial[2 * m]).toBe(Math.max(1, Math.round(base.initial[2 * m]! * 2.5)));
      expect(edited.step[2 * m]).toBe(Math.max(1, Math.round(base.step[2 * m]! * 2.5)));
      for (let j = 0; j < 2 * m; j++) {
        expect(edited.initial[j]).toBeCloseTo(base.initial[j]! + Math.log(3), 12);
        expect(edited.step[j]).toBe(base.step[j]);
      }
      expect(edited.step[2 * m + 1]).toBe(base.step[2 * m + 1]);
      const tight = draws(editedEcnModel(model, { spreadScale: 0.1 }), seed);
      expect(tight.initial[2 * m]).toBeGreaterThanOrEqual(1);
    }
  });

  it("is the model itself when nothing changes", () => {
    expect(editedEcnModel(model, {})).toBe(model);
    expect(editedEcnModel(model, { spreadScale: 1, depthScale: 1 })).toBe(model);
  });
});
