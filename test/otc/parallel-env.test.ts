/**
 * The PettingZoo-style parallel API over the OTC market: one agent per learning LP and LT with
 * the spaces of table 1; an episode runs exactly T steps and then truncates every agent; the same
 * seed and actions replay the same episode; within a step LTs decide after the LPs have quoted
 * (their observation, handed to a function action, moves with this step's LP spreads); and
 * malformed calls are refused with one sentence.
 */
import { describe, expect, it } from "vitest";
import { defaultGameConfig, emergentBehaviourPopulation, type OtcGameConfig } from "../../core/otc/config.ts";
import { OtcParallelEnv, ParallelEnvError, type AgentAction } from "../../core/otc/parallel-env.ts";
import { standInGmmData } from "./fixtures.ts";

const config: OtcGameConfig = { ...defaultGameConfig(emergentBehaviourPopulation()), horizon: 6 };
const ecn = { kind: "gmm" as const, data: standInGmmData() };
const make = () => new OtcParallelEnv({ config, ecn });

/** A fixed LP quote and "no trade" for every LT, as the parallel API's action dict. */
const fixedActions = (env: OtcParallelEnv, spread: number, lt: AgentAction = 2): Record<string, AgentAction> =>
  Object.fromEntries(env.agents.map((a) => [a, a.startsWith("lp_") ? [spread, 0, 0.5] : lt]));

describe("OtcParallelEnv", () => {
  it("has one agent per learning LP and LT, with the spaces of table 1", () => {
    const env = make();
    // Section 5.2's market: 1 + 2 LPs, 12 flow and 2 PnL LTs, all learning.
    expect(env.possibleAgents).toEqual([...["lp_0", "lp_1", "lp_2"], ...Array.from({ length: 14 }, (_, i) => `lt_${i}`)]);
    const lpAction = env.actionSpace("lp_1");
    expect(lpAction.kind === "box" && [Array.from(lpAction.low), Array.from(lpAction.high)]).toEqual([
      [-1, -config.skewMax, 0],
      [config.spreadMax, config.skewMax, 1]
    ]);
    expect(env.actionSpace("lt_3")).toMatchObject({ kind: "discrete", n: 3, labels: ["buy", "sell", "no trade"] });
    const obs = env.observationSpace("lp_0");
    expect(obs.kind === "box" && obs.labels.length === obs.shape[0]).toBe(true);
    const { infos } = env.reset(1);
    expect(infos["lp_0"]).toMatchObject({ agentClass: "lp", supertype: 1, index: 0, t: 0 });
    expect(infos["lt_13"]).toMatchObject({ agentClass: "lt", supertype: 2 });
  });

  it("runs T steps, then truncates every agent, and replays the same episode from the same seed", () => {
    const play = () => {
      const env = make();
      const { observations } = env.reset(7);
      expect(Object.keys(observations)).toEqual(env.possibleAgents);
      const rewards: number[] = [];
      let last;
      for (let t = 0; t < config.horizon; t++) {
        last = env.step(fixedActions(env, 0.5, t % 2));
        rewards.push(...env.possibleAgents.map((a) => last!.rewards[a]!));
        if (t < config.horizon - 1) expect(Object.values(last.truncations).every((x) => !x)).toBe(true);
      }
      expect(Object.values(last!.truncations).every((x) => x)).toBe(true);
      expect(Object.values(last!.terminations).every((x) => !x)).toBe(true);
      expect(env.agents).toEqual([]);
      expect(() => env.step({})).toThrow(/the episode is over; call reset/);
      return rewards;
    };
    const first = play();
    expect(first.every(Number.isFinite)).toBe(true);
    expect(play()).toEqual(first);
  });

  it("lets LTs decide after this step's quotes", () => {
    const seen = (spread: number): Float32Array => {
      const env = make();
      env.reset(3);
      let observed: Float32Array = new Float32Array(0);
      env.step(fixedActions(env, spread, (observation) => ((observed = observation), 2)));
      return observed;
    };
    const env = make();
    const labels = env.observationSpace("lt_0").labels;
    const buyCost = labels.findIndex((l) => /buy.*cost|cost.*buy/i.test(l));
    expect(buyCost).toBeGreaterThanOrEqual(0);
    // LP quotes inside the ECN's price this step (eps_spread < 0) make buying cheaper for a connected LT in the same step.
    expect(seen(-1)[buyCost]!).toBeLessThan(seen(1)[buyCost]!);
  });

  it("refuses malformed calls with one sentence", () => {
    const env = make();
    expect(() => env.step({})).toThrow(ParallelEnvError);
    env.reset(1);
    const actions = fixedActions(env, 0.5);
    const { lp_0: _dropped, ...missing } = actions;
    expect(() => env.step(missing)).toThrow(/no action for lp_0/);
    expect(() => env.step({ ...actions, lp_0: [1, 2] })).toThrow(/lp_0's action has 2 values; pass 3/);
    expect(() => env.step({ ...actions, lt_0: 5 })).toThrow(/lt_0's action 5 is not one of 0..2/);
    expect(() => env.step({ ...actions, lp_9: [0, 0, 0] })).toThrow(/"lp_9" is not an agent of this market/);
  });
});
