/**
 * The paired comparison behind what-if reports: the textbook paired-t interval on a hand-computed
 * example; a scenario equal to its baseline gives a zero difference with an interval that
 * contains 0; noise common to both arms (what common random numbers share) leaves the estimate
 * unchanged; and the 95% interval covers the true shift in about 95% of repeated experiments.
 */
import { describe, expect, it } from "vitest";
import { excludesZero, pairedDifference, PairedSampleError } from "../../core/analysis/paired.ts";
import { Random } from "../../core/random/philox.ts";

describe("pairedDifference", () => {
  it("matches the hand-computed paired t interval", () => {
    // d = 1, 0, 2, 0: mean 0.75, s^2 = 2.75 / 3, se = sqrt(s^2 / 4) = 0.478714; t(0.975, 3) = 3.182446.
    const result = pairedDifference([1, 2, 3, 4], [2, 2, 5, 4]);
    expect(result.mean).toBeCloseTo(0.75, 12);
    expect(result.stdError).toBeCloseTo(0.478714, 6);
    expect(result.ciLow).toBeCloseTo(0.75 - 3.182446 * 0.478714, 5);
    expect(result.ciHigh).toBeCloseTo(0.75 + 3.182446 * 0.478714, 5);
    expect(result.baselineMean).toBeCloseTo(2.5, 12);
    expect(result.scenarioMean).toBeCloseTo(3.25, 12);
    expect(result.n).toBe(4);
  });

  it("reports no difference for a scenario that changes nothing", () => {
    const rng = Random.fromSeed(3);
    const values = Array.from({ length: 50 }, () => rng.normal());
    const result = pairedDifference(values, values);
    expect(result.mean).toBe(0);
    expect(result.ciLow).toBeLessThanOrEqual(0);
    expect(result.ciHigh).toBeGreaterThanOrEqual(0);
    expect(excludesZero(result)).toBe(false);
  });

  it("is unaffected by noise the two arms share, which an unpaired comparison is not", () => {
    const rng = Random.fromSeed(5);
    const n = 40;
    const own = Array.from({ length: n }, () => 0.1 * rng.normal());
    const shared = Array.from({ length: n }, () => 10 * rng.normal());
    const baseline = own.map(() => 0);
    const scenario = own.map((v) => 0.5 + v);
    const quiet = pairedDifference(baseline, scenario);
    const noisy = pairedDifference(
      baseline.map((v, e) => v + shared[e]!),
      scenario.map((v, e) => v + shared[e]!)
    );
    expect(noisy.mean).toBeCloseTo(quiet.mean, 10);
    expect(noisy.stdError).toBeCloseTo(quiet.stdError, 10);
    expect(excludesZero(noisy)).toBe(true);
    expect(noisy.unpairedStdError).toBeGreaterThan(20 * noisy.stdError);
  });

  it("covers the true shift in about 95% of experiments", () => {
    const rng = Random.fromSeed(7);
    const experiments = 2000;
    const shift = 0.3;
    let covered = 0;
    for (let k = 0; k < experiments; k++) {
      const baseline: number[] = [];
      const scenario: number[] = [];
      for (let e = 0; e < 12; e++) {
        const common = rng.normal();
        baseline.push(common + 0.5 * rng.normal());
        scenario.push(common + shift + 0.5 * rng.normal());
      }
      const result = pairedDifference(baseline, scenario);
      if (result.ciLow <= shift && shift <= result.ciHigh) covered++;
    }
    // Binomial(2000, 0.95) has sd 0.0049: 0.935..0.965 is three sd either side.
    expect(covered / experiments).toBeGreaterThan(0.935);
    expect(covered / experiments).toBeLessThan(0.965);
  });

  it("skips episodes without a value in either arm and refuses unpaired samples", () => {
    const result = pairedDifference([1, Number.NaN, 3, 5], [2, 4, Number.NaN, 7]);
    expect(result.n).toBe(2);
    expect(result.mean).toBeCloseTo(1.5, 12);
    expect(() => pairedDifference([1, 2], [1])).toThrow(PairedSampleError);
    expect(Number.isNaN(pairedDifference([1], [2]).ciLow)).toBe(true);
  });
});
