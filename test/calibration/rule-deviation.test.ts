/**
 * The rule-deviation probe of section 3.1's shared equilibrium: an LP no LT can reach neither
 * gains nor changes the market by deviating (its reward is zero whatever it quotes, and the other
 * agents' draws do not depend on its actions), with or without the policy's noise; a policy that
 * quotes and hedges at random is beaten by a plain two-sided market maker, and its own mean action
 * beats it too (noise of a stDev the size of the whole quoting range costs a market maker); results
 * are deterministic per seed; bad settings are refused.
 */
import { describe, expect, it } from "vitest";
import { probeRuleDeviations, RuleDeviationError, type RuleDeviationOptions } from "../../core/calibration/rule-deviation.ts";
import { calibrationPopulation, defaultGameConfig } from "../../core/otc/config.ts";
import { OtcEnv } from "../../core/otc/env.ts";
import { Random } from "../../core/random/philox.ts";
import { PpoAgent } from "../../core/rl/ppo.ts";
import { standInModel } from "../otc/fixtures.ts";
import { tinyOtcPpo } from "../rl/toy-envs.ts";

const ones = Array.from({ length: 10 }, () => 1);
const zeros = Array.from({ length: 10 }, () => 0);

/** Two LPs; the first (supertype 1) connected to the LT supertypes `first` says, the second to the others. */
const market = (first: number[], episodes = 6) => {
  const population = calibrationPopulation({ nLp: 2, lp2RiskAversion: "shared" }, { connectivity: [first, first.map((c) => 1 - c)] });
  const env = new OtcEnv({ config: { ...defaultGameConfig(population), horizon: 20 }, batchSize: episodes, ecnModel: standInModel() });
  const spec = env.classes[env.lpClassIndex]!;
  // A fresh policy: actions centred on 0 with unit stDev, i.e. quotes, skews and hedges at random.
  const policy = new PpoAgent(spec.obsDim, spec.action, tinyOtcPpo(8), Random.fromSeed(5));
  return { env, policy };
};

const options: RuleDeviationOptions = { agent: 0, spreads: [-0.5, 0], skews: [0, 0.05], selectionBatches: 1, evaluationBatches: 2 };

describe("rule-deviation probe", () => {
  it("an LP no LT can reach gains nothing and leaves the market as it was", () => {
    const { env, policy } = market(zeros);
    const result = probeRuleDeviations(env, [policy], options, Random.fromSeed(1));
    expect(result.policy.reward).toBe(0);
    expect(result.gain).toBe(0);
    expect(result.gainStdError).toBe(0);
    expect(result.deviator.shareTotal).toBe(result.policy.shareTotal);
    expect(result.policy.shareSuper1).toBe(0);
    expect(result.policy.shareTotal).toBeGreaterThan(0);
    for (const other of [result.withPolicyNoise, result.meanAction]) {
      expect(other.gain).toBe(0);
      expect(other.deviator.shareTotal).toBe(result.policy.shareTotal);
    }
    policy.dispose();
  });

  it("a policy quoting and hedging at random is beaten by a two-sided market maker", () => {
    const { env, policy } = market(ones);
    const result = probeRuleDeviations(env, [policy], options, Random.fromSeed(2));
    expect(result.gain).toBeGreaterThan(3 * result.gainStdError);
    expect(result.deviator.reward).toBeGreaterThan(result.policy.reward);
    expect(result.episodes).toBe(2 * 6);
    expect(result.rules).toHaveLength(4);
    // The reported gain is measured on fresh episodes, not those the rule was picked on.
    const best = result.rules.find((r) => r.spread === result.best.spread && r.skew === result.best.skew)!;
    expect(best.selectionGain).not.toBe(result.gain);
    // A fresh policy's log-stDev is its initial 0, far above the floor.
    for (const v of result.policyLogStd) expect(Math.abs(v)).toBeLessThan(0.5);
    expect(result.meanAction.gain).toBeGreaterThan(3 * result.meanAction.gainStdError);
    // Inside the policy's class the rules pay the same exploration as the policy, so they gain less than plain rules.
    expect(result.withPolicyNoise.rules).toHaveLength(4);
    expect(result.withPolicyNoise.gain).toBeLessThan(result.gain);
    policy.dispose();
  });

  it("is deterministic per seed and refuses bad settings", () => {
    const { env, policy } = market(ones, 3);
    const a = probeRuleDeviations(env, [policy], { ...options, evaluationBatches: 1 }, Random.fromSeed(9));
    const b = probeRuleDeviations(env, [policy], { ...options, evaluationBatches: 1 }, Random.fromSeed(9));
    expect(b).toEqual(a);
    expect(() => probeRuleDeviations(env, [policy], { ...options, agent: 2 }, Random.fromSeed(9))).toThrow(RuleDeviationError);
    expect(() => probeRuleDeviations(env, [policy], { ...options, skews: [] }, Random.fromSeed(9))).toThrow(RuleDeviationError);
    expect(() => probeRuleDeviations(env, [policy], { ...options, evaluationBatches: 0 }, Random.fromSeed(9))).toThrow(RuleDeviationError);
    policy.dispose();
  });
});
