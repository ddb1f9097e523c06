/**
 * What-if evaluation on common random numbers: a scenario identical to its baseline differs in
 * nothing, episode by episode (so every interval is exactly [0, 0]); the tables do not depend on
 * the worker count; cutting supertype 2 off from every taker moves all of its flow away, an effect
 * whose interval excludes 0; and markets played on different episodes are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { excludesZero } from "../../core/analysis/paired.ts";
import { compareMarkets, evaluateMarket, MarketComparisonError, marketEvalEnv, type MarketEvaluationOptions } from "../../core/analysis/whatif-eval.ts";
import { defaultGameConfig, type OtcGameConfig } from "../../core/otc/config.ts";
import { constant, type LpSupertype, type LtSupertype, type Population } from "../../core/otc/supertypes.ts";
import { Random } from "../../core/random/philox.ts";
import { initTfBackend } from "../../core/rl/backend.ts";
import { defaultPpoParams, PpoAgent } from "../../core/rl/ppo.ts";
import { standInGmmData } from "../otc/fixtures.ts";

const lp = (name: string, count: number, connectivity: number): LpSupertype => ({
  name,
  count,
  gamma: constant(0.5),
  eta: constant(0.01),
  omega: constant(1),
  mTarget: constant(1),
  connectivity: [constant(connectivity), constant(connectivity)],
  ecnConnected: true
});
const lt = (name: string, size: number): LtSupertype => ({
  name,
  count: 10,
  gamma: constant(0),
  eta: constant(0.01),
  omega: constant(0),
  qA: constant(0.3),
  qB: constant(0.6),
  qLT: constant(size),
  ecnConnected: true,
  stationary: true
});
const market = (supertype2Connectivity: number): OtcGameConfig => {
  const population: Population = { lp: [lp("lp1", 1, 0.8), lp("lp2", 3, supertype2Connectivity)], lt: [lt("lt1", 2), lt("lt2", 4)] };
  return { ...defaultGameConfig(population), horizon: 10 };
};
const ecn = { kind: "gmm" as const, data: standInGmmData() };
const baseline = market(0.8);
const ppo = { ...defaultPpoParams, network: { ...defaultPpoParams.network, policy: { ...defaultPpoParams.network.policy, hiddenWidths: [8] }, value: { ...defaultPpoParams.network.value, hiddenWidths: [8] } } };
const probe = marketEvalEnv.create({ config: baseline, ecn }, 0, 1);
const agents: PpoAgent[] = [];
beforeAll(async () => {
  await initTfBackend("cpu");
  agents.push(...probe.classes.map((c, k) => new PpoAgent(c.obsDim, c.action, ppo, Random.fromSeed(11).split(k))));
});
afterAll(() => agents.forEach((a) => a.dispose()));
const options = (workers: number): MarketEvaluationOptions => ({
  ecn,
  returns: probe.classes.map(() => ({ discount: 1, gaeLambda: 1 })),
  episodes: 8,
  episodesPerShard: 2,
  workers,
  backend: "cpu"
});

describe("what-if evaluation", { timeout: 60_000 }, () => {
  it("finds no difference at all in a scenario that changes nothing", async () => {
    const a = await evaluateMarket({ config: baseline, policies: agents }, options(0), Random.fromSeed(3));
    const b = await evaluateMarket({ config: market(0.8), policies: agents }, options(0), Random.fromSeed(3));
    const rows = compareMarkets(a, b);
    expect(rows.length).toBeGreaterThan(20);
    for (const row of rows) {
      if (!Number.isFinite(row.difference.mean)) continue;
      expect([row.difference.mean, row.difference.ciLow, row.difference.ciHigh]).toEqual([0, 0, 0]);
      expect(excludesZero(row.difference)).toBe(false);
    }
  });

  it("gives the same tables with no worker thread and with two", async () => {
    const inThread = await evaluateMarket({ config: baseline, policies: agents }, options(0), Random.fromSeed(4));
    const threaded = await evaluateMarket({ config: baseline, policies: agents }, options(2), Random.fromSeed(4));
    expect(threaded).toEqual(inThread);
    expect(Array.from(inThread.episodes)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("measures the flow a supertype loses when no taker can reach it", async () => {
    const a = await evaluateMarket({ config: baseline, policies: agents }, options(0), Random.fromSeed(5));
    const b = await evaluateMarket({ config: market(0), policies: agents }, options(0), Random.fromSeed(5));
    const rows = compareMarkets(a, b);
    const share2 = rows.find((r) => r.metric === "marketShare" && r.entity === "supertype 2")!;
    expect(share2.difference.scenarioMean).toBe(0);
    expect(share2.difference.baselineMean).toBeGreaterThan(0);
    expect(share2.difference.ciHigh).toBeLessThan(0);
    const share1 = rows.find((r) => r.metric === "marketShare" && r.entity === "supertype 1")!;
    expect(share1.difference.mean).toBeGreaterThan(0);
  });

  it("refuses markets played on different episodes", async () => {
    const a = await evaluateMarket({ config: baseline, policies: agents }, options(0), Random.fromSeed(6));
    const b = await evaluateMarket({ config: baseline, policies: agents }, { ...options(0), episodes: 6 }, Random.fromSeed(6));
    expect(() => compareMarkets(a, b)).toThrow(MarketComparisonError);
  });
});
