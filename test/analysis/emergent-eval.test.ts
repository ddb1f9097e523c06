/**
 * The section 5.2 evaluation: the population has the shape section 5.2 describes; a profile
 * fixes the first LP's attributes (connectivity 0 leaves it with no LT of that class, 1 with all);
 * the figure 3 market with "0 PnL LTs" never lets its PnL LT trade; and the evaluation tables do
 * not depend on the worker count (episodes draw from their own streams, ARCHITECTURE section 5).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EMERGENT_ATTRIBUTES, emergentEvalEnv, lp1Profile, runEmergentEvaluation, withPnlLtCount } from "../../core/analysis/emergent-eval.ts";
import { defaultGameConfig, emergentBehaviourPopulation } from "../../core/otc/config.ts";
import { constant, uniform } from "../../core/otc/supertypes.ts";
import { Random } from "../../core/random/philox.ts";
import { initTfBackend } from "../../core/rl/backend.ts";
import { defaultPpoParams, PpoAgent } from "../../core/rl/ppo.ts";
import { collectRollouts } from "../../core/rl/rollout.ts";
import { standInGmmData } from "../otc/fixtures.ts";


const population = emergentBehaviourPopulation();
const config = { ...defaultGameConfig(population), horizon: 8 };
const ecn = { kind: "gmm" as const, data: standInGmmData() };
const ppo = { ...defaultPpoParams, network: { ...defaultPpoParams.network, policy: { ...defaultPpoParams.network.policy, hiddenWidths: [8] }, value: { ...defaultPpoParams.network.value, hiddenWidths: [8] } } };
const probe = emergentEvalEnv.create({ config, ecn }, 0, 1);
const agents: PpoAgent[] = [];
beforeAll(async () => {
  await initTfBackend("cpu");
  agents.push(...probe.classes.map((c, k) => new PpoAgent(c.obsDim, c.action, ppo, Random.fromSeed(11).split(k))));
});
afterAll(() => agents.forEach((a) => a.dispose()));
const returns = probe.classes.map(() => ({ discount: 1, gaeLambda: 1 }));

describe("the section 5.2 population", () => {
  it("matches section 5.2: LP supertypes of 1 and 2 agents, 12 flow and 2 PnL LTs on the ECN, lp1 randomised", () => {
    const [lp1, lp2] = population.lp;
    expect(lp1!.count).toBe(1);
    expect(lp2!.count).toBe(2);
    expect(lp2!.gamma).toEqual(constant(0.5));
    expect(lp1!.connectivity).toEqual([uniform(0, 1), uniform(0, 1)]);
    expect(lp1!.omega).toEqual(uniform(0, 1));
    expect(lp1!.gamma).toEqual(uniform(0, 2));
    expect(lp2!.connectivity).toEqual([constant(1), constant(1)]);
    const [flow, pnl] = population.lt;
    expect([flow!.count, flow!.omega, flow!.stationary]).toEqual([12, constant(0), false]);
    expect([pnl!.count, pnl!.omega, pnl!.stationary]).toEqual([2, constant(1), false]);
    expect(population.lt.every((s) => s.ecnConnected) && population.lp.every((s) => s.ecnConnected)).toBe(true);
  });
});

describe("profiles", () => {
  it("fix the first LP's attributes and leave the other LPs alone", () => {
    const env = emergentEvalEnv.create({ config, ecn }, 0, 2);
    const base = { flowConnectivity: 1, pnlConnectivity: 0, pnlWeight: 0.3, riskAversion: 1.7 };
    emergentEvalEnv.prepare!(env, [lp1Profile(population, base), lp1Profile(population, { ...base, flowConnectivity: 0, pnlConnectivity: 1 })]);
    env.reset(Random.fromSeed(1));
    const [a, b] = [env.typesOf(0), env.typesOf(1)];
    expect([a.lpGamma[0], a.lpOmega[0]]).toEqual([1.7, 0.3]);
    expect([a.lpConnectedFraction[0], a.lpConnectedFraction[1]]).toEqual([1, 0]);
    expect([b.lpConnectedFraction[0], b.lpConnectedFraction[1]]).toEqual([0, 1]);
    expect([a.lpGamma[1], a.lpConnectedFraction[2], a.lpConnectedFraction[3]]).toEqual([0.5, 1, 1]);
  });

  it("'0 PnL LTs' keeps one PnL LT that can never trade", async () => {
    const market = { ...config, population: withPnlLtCount(population, 0) };
    const env = emergentEvalEnv.create({ config: market, ecn }, 0, 2);
    await collectRollouts(env, agents, Random.fromSeed(2), returns);
    const record = env.takeRecord();
    for (let r = 0; r < record.rows; r++) {
      if (record.agentClass[r] === 1 && record.supertype[r] === 1) expect(record.ltBuyQty[r]! + record.ltSellQty[r]! + record.ecnBuyQty[r]! + record.ecnSellQty[r]!).toBe(0);
    }
    expect(withPnlLtCount(population, 3).lt[1]!.count).toBe(3);
  });
});

describe("runEmergentEvaluation", { timeout: 60_000 }, () => {
  const evaluate = (workers: number) =>
    runEmergentEvaluation(
      {
        config,
        ecn,
        policies: agents,
        returns,
        grid: { flowConnectivity: [0, 1], pnlConnectivity: [0.5], pnlWeight: [1], riskAversion: [2] },
        base: { flowConnectivity: 1, pnlConnectivity: 1, pnlWeight: 0.5, riskAversion: 0.5 },
        episodes: 2,
        pnlLtCounts: [0, 1],
        epsBins: { low: -1.5, high: 2.5, width: 0.5 },
        inventoryBucket: 2,
        scatterPoints: 10,
        episodesPerShard: 1,
        workers,
        backend: "cpu"
      },
      Random.fromSeed(5)
    );

  it("gives the same tables with no worker thread and with two", async () => {
    const [inThread, threaded] = [await evaluate(0), await evaluate(2)];
    for (const key of ["episodes", "values", "flowResponse", "holding", "skewPoints", "pnlLtFlow"] as const) expect(threaded[key]).toEqual(inThread[key]);
    // 5 attribute values x 2 episodes on the grid, then 2 markets x 2 episodes.
    expect(inThread.episodes["attribute"]).toHaveLength(10);
    expect(inThread.episodesPlayed).toBe(14);
    expect(new Set(inThread.episodes["attribute"] as string[])).toEqual(new Set(EMERGENT_ATTRIBUTES));
    // With no flow LT connected the flow-LT flow per connected agent is undefined.
    const attr = inThread.episodes["attribute"] as string[];
    const value = inThread.episodes["value"] as Float64Array;
    const flowPer = inThread.episodes["flowPerConnected_flowLt"] as Float64Array;
    attr.forEach((a, r) => {
      if (a === "flowConnectivity" && value[r] === 0) expect(Number.isNaN(flowPer[r]!)).toBe(true);
    });
  });
});
