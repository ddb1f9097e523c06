/**
 * Scenario edits of a population: a path changes exactly the number it names and nothing else;
 * every path the catalogue lists can be set to its current value without changing the population
 * (so the catalogue and the editor agree); unknown paths and out-of-range values are refused with
 * a sentence naming the path and what is allowed; a combination the market cannot run (q^a + q^b
 * > 1) is refused as a whole.
 */
import { experimentPopulation } from "../../core/calibration/experiments.ts";
import { describe, expect, it } from "vitest";
import { applyScenario, ScenarioError, scenarioPaths } from "../../core/otc/scenario.ts";
import { clippedNormal, constant } from "../../core/otc/supertypes.ts";

const population = experimentPopulation(4);

describe("applyScenario", () => {
  it("changes exactly the named number", () => {
    const edited = applyScenario(population, [
      { path: "lp.lp2.gamma.mean", value: 1 },
      { path: "lp.lp1.connectivity.lt3", value: 0.9 },
      { path: "lt.10.qLT", value: 12 }
    ]);
    expect(edited.lp[1]!.gamma).toEqual(clippedNormal(1, 0.5, 0, 10));
    expect(edited.lp[0]!.connectivity[2]).toEqual(constant(0.9));
    expect(edited.lt[9]!.qLT).toEqual(constant(12));
    const restored = { ...edited, lp: [population.lp[0]!, population.lp[1]!], lt: [...edited.lt.slice(0, 9), population.lt[9]!] };
    expect(restored).toEqual(population);
  });

  it("lists every path it accepts, and setting each to its current value changes nothing", () => {
    const paths = scenarioPaths(population);
    // 2 LP supertypes x (4 params + 10 connectivities + ECN flag) + 10 LT supertypes x (6 params + ECN flag + count),
    // with the clipped normal of lp2.gamma contributing 4 fields instead of 1, and the ECN's spread and depth scales.
    expect(paths).toHaveLength(2 * 15 + 3 + 10 * 8 + 2);
    for (const { path, current } of paths) expect(applyScenario(population, [{ path, value: current }])).toEqual(population);
    expect(paths.find((p) => p.path === "lp.lp1.omega.value")?.allowed).toBe("in [0, 1]");
  });

  it("refuses unknown paths and values out of range with the path and what is allowed", () => {
    const refuse = (path: string, value: number) => {
      try {
        applyScenario(population, [{ path, value }]);
      } catch (error) {
        expect(error).toBeInstanceOf(ScenarioError);
        return (error as ScenarioError).message;
      }
      throw new Error(`${path}=${value} was accepted`);
    };
    expect(refuse("ecn.depthScale", 0)).toMatch(/'ecn.depthScale' must be in \[0.01, 100\], got 0/);
    expect(refuse("lp.lp3.gamma", 1)).toMatch(/'lp.lp3.gamma' names no LP supertype; use one of lp1, lp2 or 1-2/);
    expect(refuse("lp.lp1.gamma", 11)).toMatch(/'lp.lp1.gamma' must be in \[0, 10\], got 11/);
    expect(refuse("lp.lp1.connectivity.lt2", -0.1)).toMatch(/must be in \[0, 1\]/);
    expect(refuse("lp.lp2.gamma", 1)).toMatch(/needs one field of its clippedNormal distribution: .mean, .stDev, .low, .high/);
    expect(refuse("lp.lp1.count", 2)).toMatch(/LP counts stay as calibrated/);
    expect(refuse("lt.lt1.count", 2.5)).toMatch(/must be an integer in \[1, 1000\]/);
    expect(refuse("lp.lp1.speed", 1)).toMatch(/names no LP parameter/);
    expect(refuse("market.spread", 1)).toMatch(/is not of the form/);
    expect(refuse("lp.lp1.eta", 0)).toMatch(/must be in \(0, 1\]/);
    expect(refuse("lt.lt1.qA", 0.6)).toMatch(/makes an invalid population: .*q\^a \+ q\^b/);
  });
});
