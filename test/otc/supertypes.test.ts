import { experimentPopulation } from "../../core/calibration/experiments.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Random } from "../../core/random/philox.ts";
import {
  clippedNormal,
  constant,
  PopulationError,
  PopulationTypes,
  ProfileShapeError,
  sampleParam,
  uniform,
  type LpSupertype,
  type LtSupertype,
  type Population
} from "../../core/otc/supertypes.ts";
import { emergentBehaviourPopulation } from "../../core/otc/config.ts";

const lt = (name: string, count: number, qLT = 1, stationary = true): LtSupertype => ({
  name,
  count,
  gamma: constant(0),
  eta: constant(1),
  omega: constant(0),
  qA: constant(0.5),
  qB: constant(0.5),
  qLT: constant(qLT),
  ecnConnected: true,
  stationary
});
const lp = (name: string, count: number, connectivity: number[]): LpSupertype => ({
  name,
  count,
  gamma: uniform(0, 2),
  eta: constant(1e-3),
  omega: constant(1),
  mTarget: constant(1),
  connectivity: connectivity.map(constant),
  ecnConnected: true
});

describe("supertype parameters", () => {
  it("draws constants, uniform ranges and clipped normals inside their bounds", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -5, max: 5, noNaN: true }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        fc.double({ min: -2, max: 0, noNaN: true }),
        fc.double({ min: 0, max: 2, noNaN: true }),
        fc.integer({ min: 0, max: 1_000_000 }),
        (mean, stDev, low, high, seed) => {
          const rng = Random.fromSeed(seed);
          for (let i = 0; i < 50; i++) {
            const x = sampleParam(clippedNormal(mean, stDev, low, high), rng);
            expect(x).toBeGreaterThanOrEqual(low);
            expect(x).toBeLessThanOrEqual(high);
            const u = sampleParam(uniform(low, high), rng);
            expect(u).toBeGreaterThanOrEqual(low);
            expect(u).toBeLessThanOrEqual(high);
          }
          expect(sampleParam(constant(mean), rng)).toBe(mean);
        }
      ),
      { numRuns: 50 }
    );
  });

  it("clipped normals have the normal's mean and stDev when the bounds are far", () => {
    const rng = Random.fromSeed(3);
    const n = 20_000;
    let sum = 0;
    let sum2 = 0;
    for (let i = 0; i < n; i++) {
      const x = sampleParam(clippedNormal(1.5, 0.5, -100, 100), rng);
      sum += x;
      sum2 += x * x;
    }
    const mean = sum / n;
    const sd = Math.sqrt(sum2 / n - mean * mean);
    expect(Math.abs(mean - 1.5)).toBeLessThan(5 * (0.5 / Math.sqrt(n)));
    expect(Math.abs(sd - 0.5)).toBeLessThan(0.02);
  });
});

describe("population types", () => {
  it("draws each (LP, LT) connection as a Bernoulli of the LP supertype's probability for the LT's supertype", () => {
    const population: Population = { lp: [lp("a", 4, [0.2, 0.7, 1, 0])], lt: [lt("x", 100), lt("y", 100), lt("z", 20), lt("w", 20)] };
    const types = new PopulationTypes(population);
    const counts = [0, 0, 0, 0];
    const trials = [0, 0, 0, 0];
    for (let e = 0; e < 20; e++) {
      types.sample(Random.fromSeed(11).split(e));
      for (let i = 0; i < types.nLp; i++) {
        for (let k = 0; k < types.nLt; k++) {
          const s = types.ltSupertype[k]!;
          trials[s]!++;
          if (types.connected(i, k)) counts[s]!++;
        }
      }
    }
    [0.2, 0.7].forEach((p, s) => {
      const n = trials[s]!;
      expect(Math.abs(counts[s]! / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
    });
    expect(counts[2]).toBe(trials[2]);
    expect(counts[3]).toBe(0);
  });

  it("connected fractions are the empirical fractions of the drawn connectivity graph", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 3, maxLength: 3 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 3, maxLength: 3 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        (p1, p2, seed) => {
          const population: Population = {
            lp: [lp("a", 2, p1), lp("b", 3, p2)],
            lt: [lt("x", 5), lt("y", 7, 2), lt("z", 1, 3)]
          };
          const types = new PopulationTypes(population);
          types.sample(Random.fromSeed(seed));
          for (let i = 0; i < types.nLp; i++) {
            for (let j = 0; j < 3; j++) {
              let c = 0;
              let n = 0;
              for (let k = 0; k < types.nLt; k++) {
                if (types.ltSupertype[k] !== j) continue;
                n++;
                if (types.connected(i, k)) c++;
              }
              expect(types.lpConnectedFraction[i * 3 + j]).toBeCloseTo(c / n, 12);
            }
          }
          for (let k = 0; k < types.nLt; k++) {
            for (let s = 0; s < 2; s++) {
              let c = 0;
              let n = 0;
              for (let i = 0; i < types.nLp; i++) {
                if (types.lpSupertype[i] !== s) continue;
                n++;
                if (types.connected(i, k)) c++;
              }
              expect(types.ltConnectedFraction[k * 2 + s]).toBeCloseTo(c / n, 12);
            }
          }
        }
      ),
      { numRuns: 40 }
    );
  });

  it("is deterministic per stream and rounds trade sizes to whole lots >= 1", () => {
    const population: Population = { lp: [lp("a", 3, [0.5])], lt: [{ ...lt("x", 50), qLT: uniform(0.2, 4) }] };
    const a = new PopulationTypes(population);
    const b = new PopulationTypes(population);
    a.sample(Random.fromSeed(5));
    b.sample(Random.fromSeed(5));
    expect(Array.from(a.ltLpMask)).toEqual(Array.from(b.ltLpMask));
    expect(Array.from(a.lpGamma)).toEqual(Array.from(b.lpGamma));
    for (const q of a.ltSize) {
      expect(Number.isInteger(q)).toBe(true);
      expect(q).toBeGreaterThanOrEqual(1);
    }
  });

  it("rejects inconsistent populations and profiles with the field named", () => {
    expect(() => new PopulationTypes({ lp: [lp("a", 1, [0.5, 0.5])], lt: [lt("x", 2)] })).toThrow(/lp\[0\]\.connectivity/);
    expect(() => new PopulationTypes({ lp: [lp("a", 0, [0.5])], lt: [lt("x", 2)] })).toThrow(PopulationError);
    expect(() => new PopulationTypes({ lp: [lp("a", 1, [1.5])], lt: [lt("x", 2)] })).toThrow(/probability/);
    const bad = { ...lt("x", 2), qA: constant(0.6), qB: constant(0.6) };
    expect(() => new PopulationTypes({ lp: [lp("a", 1, [0.5])], lt: [bad] })).toThrow(/q\^a \+ q\^b/);
    const types = new PopulationTypes({ lp: [lp("a", 2, [0.5])], lt: [lt("x", 2)] });
    expect(() => types.sample(Random.fromSeed(1), { lp: [lp("a", 3, [0.5])], lt: [lt("x", 2)] })).toThrow(ProfileShapeError);
  });

  it("builds the paper's populations (sections 5.1 and 5.2)", () => {
    for (const exp of [1, 2, 3, 4] as const) {
      const types = new PopulationTypes(experimentPopulation(exp));
      expect(types.nLt).toBe(500);
      expect(types.nLtSupertypes).toBe(10);
      expect(types.nLp).toBe(exp <= 2 ? 5 : 10);
      expect(Array.from(types.lpSupertype).filter((s) => s === 0)).toHaveLength(1);
      types.sample(Random.fromSeed(exp));
      for (let k = 0; k < types.nLt; k++) expect(types.ltSize[k]).toBe(types.ltSupertype[k]! + 1);
    }
    const types = new PopulationTypes(emergentBehaviourPopulation());
    expect([types.nLp, types.nLt]).toEqual([3, 14]);
  });
});
