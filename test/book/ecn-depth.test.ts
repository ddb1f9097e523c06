/**
 * The long-run depth of the book the ECN agent drives alone (core/book/ecn-depth.ts). With
 * variations that never empty a level (a mixture in the step space, so delta > -1), the agent's
 * book must settle where recursion (8) with the same draws settles: proposition 2.3's mu+/mu-,
 * whatever the mid moves and spreads do to the prices, because levels are indexed from the best
 * price on both sides.
 */
import { describe, expect, it } from "vitest";
import { Random } from "../../core/random/philox.ts";
import { gmmVariationModel, simulateRecursionMean, type EcnSamplerData } from "../../core/ecn/model.ts";
import { simulateAgentDepth } from "../../core/book/ecn-depth.ts";

const diagonal = (values: number[]) => values.map((v, i) => values.map((_, j) => (i === j ? v : 0)));

/** Two components: levels grow by about 6 lots, or shrink by about 15% (z = 20 ln(0.85) at 20 lots). */
const model = (levels: number): EcnSamplerData => ({
  levels,
  alpha: 0.1,
  tick: 0.01,
  volumeUnit: 1,
  orderSizes: [1, 2, 3],
  s0: { nComponents: 1, dim: 2 * levels + 1, weights: [1], means: [[...Array<number>(2 * levels).fill(Math.log(20)), 2]], covariances: [diagonal([...Array<number>(2 * levels).fill(0.04), 0.3])] },
  s: {
    nComponents: 2,
    dim: 2 * levels + 2,
    weights: [0.4, 0.6],
    means: [
      [...Array<number>(2 * levels).fill(6), 2, 0],
      [...Array<number>(2 * levels).fill(20 * Math.log(0.85)), 1.5, 0]
    ],
    covariances: [diagonal([...Array<number>(2 * levels).fill(4), 0.4, 1]), diagonal([...Array<number>(2 * levels).fill(1), 0.4, 1])]
  },
  stepSpace: { reference: new Array<number>(2 * levels).fill(20), increaseScale: new Array<number>(2 * levels).fill(1) }
});

describe("simulateAgentDepth", () => {
  it("settles where recursion (8) with the same model settles, level by level", () => {
    const ecn = gmmVariationModel(model(3));
    const agent = simulateAgentDepth(ecn, { steps: 20_000 }, Random.fromSeed(1));
    const recursion = simulateRecursionMean(ecn.forEpisode(), new Array<number>(6).fill(20), 100_000, Random.fromSeed(2));
    expect(agent.length).toBe(6);
    for (let j = 0; j < 6; j++) expect(Math.abs(agent[j]! / recursion[j]! - 1)).toBeLessThan(0.05);
  });

  it("is deterministic given the Random", () => {
    const ecn = gmmVariationModel(model(2));
    const a = simulateAgentDepth(ecn, { steps: 2000, burnIn: 100 }, Random.fromSeed(7));
    const b = simulateAgentDepth(ecn, { steps: 2000, burnIn: 100 }, Random.fromSeed(7));
    expect(Array.from(a)).toEqual(Array.from(b));
  });
});
