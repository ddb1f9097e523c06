import { describe, expect, it } from "vitest";
import { Either } from "effect";
import { decodeOtcGameConfig, OtcConfigError } from "../../schemas/otc.ts";
import { PopulationTypes } from "../../core/otc/supertypes.ts";

const valid = {
  population: {
    lp: [
      { name: "lp1", count: 1, gamma: 0.5, connectivity: [0.3, { kind: "uniform", low: 0, high: 1 }] },
      { name: "lp2", count: 4, gamma: { kind: "clippedNormal", mean: 1, stDev: 0.5, low: 0, high: 5 }, connectivity: [1, 0] }
    ],
    lt: [
      { name: "small", count: 10, qLT: 1, stationary: true },
      { name: "big", count: 5, qLT: { kind: "uniform", low: 5, high: 10 }, qA: 0.25, qB: 0.75 }
    ]
  }
};

const issuesOf = (input: unknown): readonly string[] => {
  const result = decodeOtcGameConfig(input);
  if (Either.isRight(result)) throw new Error("expected a decoding failure");
  expect(result.left).toBeInstanceOf(OtcConfigError);
  expect(result.left._tag).toBe("OtcConfigError");
  return result.left.issues;
};

describe("OTC config schema", () => {
  it("decodes a config, fills the paper's defaults, and the result builds a population", () => {
    const result = decodeOtcGameConfig(valid);
    if (Either.isLeft(result)) throw result.left;
    const config = result.right;
    expect(config.horizon).toBe(100);
    expect(config.lpGridBp).toBe(0.1);
    expect(config.hedgeCostFractions).toEqual([0.25, 0.5, 0.75, 1]);
    expect(config.population.lp[0]!.gamma).toEqual({ kind: "constant", value: 0.5 });
    expect(config.population.lp[0]!.omega).toEqual({ kind: "constant", value: 1 });
    expect(config.population.lt[0]!.stationary).toBe(true);
    expect(config.population.lt[1]!.stationary).toBe(false);
    const types = new PopulationTypes(config.population);
    expect([types.nLp, types.nLt]).toEqual([5, 15]);
  });

  it("names the field of a probability outside [0, 1]", () => {
    const input = structuredClone(valid);
    (input.population.lp[1]!.connectivity as unknown[])[0] = 1.2;
    expect(issuesOf(input).some((i) => i.startsWith("population.lp.1.connectivity.0:") && /\[0, 1\]/.test(i))).toBe(true);
    const uniformAbove = structuredClone(valid);
    (uniformAbove.population.lp[0]!.connectivity as unknown[])[1] = { kind: "uniform", low: 0.5, high: 1.5 };
    expect(issuesOf(uniformAbove).some((i) => i.startsWith("population.lp.0.connectivity.1:"))).toBe(true);
  });

  it("names an empty supertype and an empty supertype list", () => {
    const input = structuredClone(valid);
    input.population.lt[0]!.count = 0;
    expect(issuesOf(input).some((i) => i.startsWith("population.lt.0.count:"))).toBe(true);
    const none = structuredClone(valid);
    (none.population as { lp: unknown[] }).lp = [];
    expect(issuesOf(none).some((i) => i.startsWith("population.lp:"))).toBe(true);
  });

  it("names a negative stDev", () => {
    const input = structuredClone(valid);
    (input.population.lp[1]!.gamma as { stDev: number }).stDev = -0.1;
    const issues = issuesOf(input);
    expect(issues.some((i) => i.startsWith("population.lp.1.gamma.stDev:"))).toBe(true);
    // Only the specific issue, not every union member's mismatch.
    expect(issues.filter((i) => i.startsWith("population.lp.1.gamma"))).toHaveLength(1);
  });

  it("names q^a + q^b > 1 and a connectivity vector of the wrong length", () => {
    const input = structuredClone(valid);
    input.population.lt[1]!.qA = 0.5;
    expect(issuesOf(input).some((i) => i.startsWith("population.lt.1.qB:") && /q\^a \+ q\^b/.test(i))).toBe(true);
    const short = structuredClone(valid);
    (short.population.lp[0]!.connectivity as unknown[]).pop();
    expect(issuesOf(short).some((i) => i.startsWith("population.lp.0.connectivity:"))).toBe(true);
  });

  it("reports every bad field at once", () => {
    const input = structuredClone(valid);
    input.population.lt[0]!.count = -1;
    (input.population.lp[0]!.connectivity as unknown[])[0] = -0.5;
    expect(issuesOf(input).length).toBeGreaterThanOrEqual(2);
  });
});
