import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Random } from "../../core/random/philox.ts";
import { readLobsterZip } from "../../core/ecn/lobster.ts";
import { fitEcnModel, gmmVariationModel, prepareLobsterInput, prepareSnapshotInput, type EcnModelData } from "../../core/ecn/model.ts";
import { generateSyntheticL2 } from "../../core/ecn/synthetic.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dataDir = path.resolve(repoRoot, "../shared/data");
const amznZip = path.join(dataDir, "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip");
const haveData = existsSync(amznZip);
if (!haveData) console.warn(`[ecn/model] LOBSTER samples not found at ${dataDir}; real-data tests skipped.`);

const syntheticOptions = { rows: 3000, baseVolume: 30, decay: 0.15 };

describe("fitEcnModel on synthetic data", () => {
  const synthetic = generateSyntheticL2(Random.fromSeed(21), syntheticOptions);
  const input = prepareSnapshotInput(synthetic.series);
  const model = fitEcnModel(input.series, { tick: synthetic.tick, volumeUnit: 1, rawOrderSizes: input.rawOrderSizes, nComponents: 3, theoryDraws: 50_000 }, Random.fromSeed(22));

  it("is plain JSON and survives a round trip", () => {
    const copy = JSON.parse(JSON.stringify(model)) as EcnModelData;
    expect(copy).toEqual(model);
    expect(copy.s0.dim).toBe(11);
    expect(copy.s.dim).toBe(12);
    expect(copy.s.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it("reports finite scores, BIC and a 70/15/15 chronological split", () => {
    for (const key of ["S0", "S"] as const) {
      for (const part of ["train", "val", "test"] as const) expect(Number.isFinite(model.scores[key][part])).toBe(true);
      const c = model.sampleCounts[key];
      expect(Math.abs(c.train - 0.7 * (c.train + c.val + c.test))).toBeLessThanOrEqual(1);
      expect(Number.isFinite(model.bic[key])).toBe(true);
    }
    expect(model.fit.S.lowerBound).toBeCloseTo(model.scores.S.train, 1);
  });

  it("recovers the generator's depth decay and long-range mean volumes (proposition 2.3)", () => {
    expect(Math.abs(model.alphaFitted - syntheticOptions.decay)).toBeLessThan(0.05);
    const L = 2 * model.levels;
    for (let j = 0; j < L; j++) {
      const target = syntheticOptions.baseVolume * Math.exp(-syntheticOptions.decay * (j % model.levels));
      // The generator's own law: mu+/mu- of its i.i.d. variations is the target.
      expect(Math.abs(model.longRange.mean.theoryFromData[j]! - target) / target).toBeLessThan(0.2);
      expect(Math.abs(model.longRange.mean.empirical[j]! - target) / target).toBeLessThan(0.25);
      expect(model.longRange.covariance.empirical[j]![j]!).toBeGreaterThan(0);
    }
  });

  it("samples S with delta^- in [0,1] and integer spreads >= 1, and S0 with integer spreads", () => {
    const ecn = gmmVariationModel(JSON.parse(JSON.stringify(model)) as EcnModelData);
    expect(ecn.levels).toBe(5);
    expect(ecn.alpha).toBeGreaterThan(0);
    expect(ecn.orderSizes.length).toBeGreaterThan(0);
    const sampler = ecn.forEpisode();
    const rng = Random.fromSeed(5);
    const step = new Float64Array(12);
    const initial = new Float64Array(11);
    let violations = 0;
    let clipped = 0;
    for (let i = 0; i < 20000; i++) {
      sampler.sampleStep(rng, step);
      for (let j = 0; j < 10; j++) {
        if (!(step[j]! >= -1)) violations++;
        if (step[j] === -1) clipped++;
      }
      if (!(Number.isInteger(step[10]) && step[10]! >= 1) || !Number.isFinite(step[11])) violations++;
      sampler.sampleInitial(rng, initial);
      if (!(Number.isInteger(initial[10]) && initial[10]! >= 1)) violations++;
    }
    expect(violations).toBe(0);
    void clipped;
  });

  it("is deterministic given the Random", () => {
    const again = fitEcnModel(input.series, { tick: synthetic.tick, volumeUnit: 1, rawOrderSizes: input.rawOrderSizes, nComponents: 3, theoryDraws: 50_000 }, Random.fromSeed(22));
    expect(again).toEqual(model);
  });
});

describe.skipIf(!haveData || !process.env.LONG_TESTS)("fitEcnModel on AMZN (LONG_TESTS)", () => {
  it("fits the last two hours at 1 s with message-based order sizes", () => {
    const input = prepareLobsterInput(readLobsterZip(amznZip));
    const model = fitEcnModel(input.series, { tick: input.tick, volumeUnit: 100, rawOrderSizes: input.rawOrderSizes }, Random.fromSeed(1));
    expect(model.tick).toBe(0.01);
    expect(model.sampleCounts.S0.train + model.sampleCounts.S0.val + model.sampleCounts.S0.test).toBe(7200);
    expect(Number.isFinite(model.scores.S.test)).toBe(true);
    expect(Math.min(...model.orderSizes)).toBeGreaterThan(0);
  });
});
