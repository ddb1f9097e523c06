/**
 * Market metrics per episode, from the step record, agree with what the env itself accounts by
 * another path (its episode outcomes: supertype LT quantities, total LT quantity, ECN quantity,
 * final PnLs and reward sums); the supertype and market shares add up the LPs' shares; an LT that
 * always pays above the mid when it buys has a positive cost; and a record missing steps is refused.
 */
import { describe, expect, it } from "vitest";
import { entityLabel, marketEpisodeMetrics, MarketRecordError, type MetricSeries } from "../../core/analysis/market-metrics.ts";
import { defaultGameConfig, type OtcGameConfig } from "../../core/otc/config.ts";
import { OtcEnv, type OtcStepRecord } from "../../core/otc/env.ts";
import { constant, type LpSupertype, type LtSupertype, type Population } from "../../core/otc/supertypes.ts";
import { Random } from "../../core/random/philox.ts";
import { stepInStages } from "../../core/rl/vec-env.ts";
import { standInModel } from "../otc/fixtures.ts";

const lp = (name: string, count: number, gamma: number): LpSupertype => ({
  name,
  count,
  gamma: constant(gamma),
  eta: constant(0.01),
  omega: constant(1),
  mTarget: constant(1),
  connectivity: [constant(0.8), constant(0.5)],
  ecnConnected: true
});
const lt = (name: string, size: number): LtSupertype => ({
  name,
  count: 10,
  gamma: constant(0),
  eta: constant(0.01),
  omega: constant(0.5),
  qA: constant(0.3),
  qB: constant(0.6),
  qLT: constant(size),
  ecnConnected: true,
  stationary: false
});
const population: Population = { lp: [lp("lp1", 1, 0.5), lp("lp2", 3, 1)], lt: [lt("lt1", 2), lt("lt2", 5)] };
const B = 3;
const T = 12;

const play = (seed: number): { env: OtcEnv; record: OtcStepRecord } => {
  const config: OtcGameConfig = { ...defaultGameConfig(population), horizon: T };
  const env = new OtcEnv({ config, batchSize: B, ecnModel: standInModel({ meanVolume: 8 }), record: true });
  const rng = Random.fromSeed(seed);
  const actionRng = rng.split("actions");
  env.reset(rng.split("reset"));
  for (let t = 0; t < T; t++) {
    const actions = env.classes.map((c) => {
      if (c.action.kind === "discrete") {
        const n = c.action.n;
        return Float32Array.from({ length: c.count }, () => actionRng.int(n));
      }
      // Spreads >= 0 and no skew: every LP quote lies beyond the ECN's price for the size, which lies beyond the mid.
      return Float32Array.from({ length: c.count * 3 }, (_, i) => (i % 3 === 1 ? 0 : actionRng.uniformIn(0, 1)));
    });
    stepInStages(env, (ci) => actions[ci]!, rng);
  }
  return { env, record: env.takeRecord() };
};

const find = (series: ReadonlyArray<MetricSeries>, metric: string, label: string): Float64Array => {
  const found = series.find((s) => s.metric === metric && entityLabel(s.entity) === label);
  if (found === undefined) throw new Error(`no series ${metric} for ${label}`);
  return found.values;
};

describe("marketEpisodeMetrics", () => {
  it("agrees with the env's own episode accounting", () => {
    const { env, record } = play(1);
    const outcomes = env.episodeOutcomes();
    const metrics = marketEpisodeMetrics(record, { nLp: 4, nLpSupertypes: 2, horizon: T });
    expect(Array.from(metrics.episodes)).toEqual([0, 1, 2]);
    for (let e = 0; e < B; e++) {
      const total = outcomes.totalLtQuantity[e]!;
      expect(total).toBeGreaterThan(0);
      expect(find(metrics.series, "ltVolume", "market")[e]).toBeCloseTo(total, 9);
      for (let s = 0; s < 2; s++) {
        expect(find(metrics.series, "marketShare", `supertype ${s + 1}`)[e]).toBeCloseTo(outcomes.lpSupertypeLtQuantity[e * 2 + s]! / total, 9);
      }
      expect(find(metrics.series, "marketShare", "market")[e]).toBeCloseTo(1 - outcomes.ecnLtQuantity[e]! / total, 9);
      for (let i = 0; i < 4; i++) {
        expect(find(metrics.series, "pnl", `LP ${i + 1}`)[e]).toBeCloseTo(outcomes.lpPnl[e * 4 + i]!, 6);
        expect(find(metrics.series, "reward", `LP ${i + 1}`)[e]).toBeCloseTo(outcomes.lpEpisodeReward[e * 4 + i]!, 6);
      }
      const lpShares = [1, 2, 3, 4].reduce((sum, i) => sum + find(metrics.series, "marketShare", `LP ${i}`)[e]!, 0);
      expect(lpShares).toBeCloseTo(find(metrics.series, "marketShare", "market")[e]!, 12);
      // The ECN fills the LTs' ECN trades and the LPs' hedges; hedging something means more than the LTs' part.
      expect(find(metrics.series, "ecnVolume", "market")[e]).toBeGreaterThanOrEqual(outcomes.ecnLtQuantity[e]! - 1e-9);
    }
    const stats = env.marketStats();
    const ecnTotal = Array.from(find(metrics.series, "ecnVolume", "market")).reduce((a, b) => a + b, 0);
    expect(ecnTotal).toBeCloseTo(stats.ltEcnQty + stats.hedgeQty, 6);
  });

  it("averages supertype metrics over the supertype's LPs", () => {
    const { record } = play(2);
    const metrics = marketEpisodeMetrics(record, { nLp: 4, nLpSupertypes: 2, horizon: T });
    for (const metric of ["spread", "hedgeFraction", "meanAbsInventory"]) {
      const lps = [2, 3, 4].map((i) => find(metrics.series, metric, `LP ${i}`));
      const supertype = find(metrics.series, metric, "supertype 2");
      for (let e = 0; e < B; e++) expect(supertype[e]).toBeCloseTo((lps[0]![e]! + lps[1]![e]! + lps[2]![e]!) / 3, 12);
      expect(find(metrics.series, metric, "supertype 1")).toEqual(find(metrics.series, metric, "LP 1"));
    }
    for (const v of find(metrics.series, "hedgeFraction", "LP 1")) expect(v >= 0 && v <= 1).toBe(true);
  });

  it("prices an LT's trades against the mid, and refuses incomplete episodes", () => {
    const { record } = play(3);
    const metrics = marketEpisodeMetrics(record, { nLp: 4, nLpSupertypes: 2, horizon: T });
    // With those quotes an LT buying pays above the mid and one selling receives below it: a positive cost.
    for (const cost of find(metrics.series, "ltCost", "market")) expect(cost).toBeGreaterThan(0);
    expect(() => marketEpisodeMetrics(record, { nLp: 4, nLpSupertypes: 2, horizon: T + 1 })).toThrow(MarketRecordError);
    expect(() => marketEpisodeMetrics(record, { nLp: 3, nLpSupertypes: 2, horizon: T })).toThrow(/outside the 3 LPs/);
  });
});
