/**
 * A lower bound on one LP's gain from deviating from the shared policy (paper section 3.1: at a
 * shared equilibrium no single agent gains by deviating while the others keep playing it) that
 * does not rely on the policy's own exploration. The fine-tuning estimate of core/rl/
 * exploitability.ts moves the deviator only as far as PPO's trust region lets a Gaussian policy
 * move, about one standard deviation of its actions per update: once the policy's log-stDev sits
 * at its floor that is nothing, and a flat fine-tuning curve says no more than that. Here the
 * deviator is instead each rule of a small family of textbook market makers (section 2.2: quote
 * both sides at a fixed eps_spread, skew against the inventory, eps_skew = -k q / 100 lots, never
 * hedge), played for one LP of every episode against the frozen policy. The best rule is chosen on
 * selection batches and its gain measured on fresh evaluation batches, both with common random
 * numbers (same types, ECN, LT coins and the other agents' action draws with and without the
 * deviator), so the reported gain is not inflated by the choice. A policy whose log-stDev is held
 * above a floor keeps exploring, and a rule that does not pays none of that exploration's cost; so
 * the family is also played inside the policy's own class (each rule's action plus the exploration
 * draw the policy made at that decision, the same Gaussian noise; "never hedge" is then a hedge
 * mean of -1, a whole range below eps_hedge's bound of 0), and the policy's mean action is
 * played without noise: the first says whether the policy's strategy can be beaten by a policy
 * like it, the second what its exploration costs.
 */
import { OtcEnv } from "../otc/env.ts";
import type { Random } from "../random/philox.ts";
import type { PpoAgent } from "../rl/ppo.ts";
import { stepInStages } from "../rl/vec-env.ts";

export interface RuleDeviationOptions {
  /** The deviating LP's index among an episode's LPs. */
  readonly agent: number;
  /** eps_spread values of the rule family. */
  readonly spreads: readonly number[];
  /** Inventory skew slopes k of the rule family: eps_skew = -k * inventory / 100 lots. */
  readonly skews: readonly number[];
  /** Batches of episodes each rule is scored on to pick the best one. */
  readonly selectionBatches: number;
  /** Fresh batches on which the chosen rule and the policy are compared. */
  readonly evaluationBatches: number;
}

/** A market maker's rule: quote at `spread`, skew by -`skew` per 100 lots of inventory, never hedge. */
export interface MarketMakerRule {
  readonly spread: number;
  readonly skew: number;
}

/** What the deviating LP and the market did over some episodes. */
export interface DeviationPlay {
  /** Mean episode reward of the deviating LP. */
  readonly reward: number;
  /** Market shares of LP supertype 1 and of all LPs (episode totals, averaged over episodes). */
  readonly shareSuper1: number;
  readonly shareTotal: number;
}

/** The best rule of the family played one way: chosen on the selection batches, compared with the policy on the evaluation batches. */
export interface RuleFamilyResult {
  /** Each rule's mean gain on the selection batches. */
  readonly rules: ReadonlyArray<MarketMakerRule & { readonly selectionGain: number }>;
  readonly best: MarketMakerRule;
  /** Mean over evaluation episodes of (rule's reward - policy's reward) for the deviating LP. */
  readonly gain: number;
  readonly gainStdError: number;
  readonly deviator: DeviationPlay;
}

/** A deviation compared with the policy on the evaluation batches. */
export interface DeviationGain {
  readonly gain: number;
  readonly gainStdError: number;
  readonly deviator: DeviationPlay;
}

/** The rules played without noise (their own, deterministic actions, never hedging) are the top-level fields. */
export interface RuleDeviationResult extends RuleFamilyResult {
  readonly episodes: number;
  readonly policy: DeviationPlay;
  /** The rules played inside the policy's class: each rule's action plus the policy's own exploration draw at that decision (hedge mean -1: never, but for the noise). */
  readonly withPolicyNoise: RuleFamilyResult;
  /** The policy's mean action played without exploration: what the policy's exploration costs the LP (the negative of this gain). */
  readonly meanAction: DeviationGain;
  /** The policy's log-stDev per action (eps_spread, eps_skew, eps_hedge) for the deviating LP, averaged over its decisions. */
  readonly policyLogStd: readonly number[];
}

export class RuleDeviationError extends Error {
  readonly _tag = "RuleDeviationError";
  constructor(reason: string) {
    super(`The rule-deviation probe cannot run: ${reason}; fix the probe's settings.`);
  }
}

interface Played extends DeviationPlay {
  /** Episode reward of the deviating LP in every episode. */
  readonly rewards: Float64Array;
  readonly logStd: Float64Array;
}

/** One class's buffers for a batch: observations, distribution parameters, actions. */
const classBuffers = (env: OtcEnv, shared: readonly PpoAgent[]) =>
  env.classes.map((c, k) => {
    const policy = shared[k]!.net.policy;
    return { obs: new Float32Array(c.count * c.obsDim), params: new Float32Array(c.count * policy.paramDim), actions: new Float32Array(c.count * policy.actionDim), logProbs: new Float32Array(c.count) };
  });

/**
 * What LP `agent` of each episode plays instead of its policy: a rule, deterministic or with the
 * policy's own exploration draw added, or the policy's mean action.
 */
type Deviation = { readonly kind: "rule"; readonly rule: MarketMakerRule; readonly policyNoise: boolean } | { readonly kind: "mean-action" };

/** One batch of episodes, every agent on its class's `shared` policy except LP `agent` of each episode when a `deviation` is given. */
const playBatch = (env: OtcEnv, shared: readonly PpoAgent[], agent: number, deviation: Deviation | null, rng: Random): Played => {
  const lpClass = env.lpClassIndex;
  const spec = env.classes[lpClass]!;
  if (spec.action.kind !== "continuous") throw new RuleDeviationError("the LP class does not have continuous actions");
  const nLp = env.nLp;
  const episodes = spec.count / nLp;
  const inventoryAt = env.lpObservationLayout().indexOf("inventory");
  const inventoryScale = env.config.observation.inventoryLots;
  const buffers = classBuffers(env, shared);
  const lpPolicy = shared[lpClass]!.net.policy;
  const paramDim = lpPolicy.paramDim;
  const actionDim = lpPolicy.actionDim;
  const stepRewards = new Float32Array(spec.count);
  const rewards = new Float64Array(episodes);
  const logStd = new Float64Array(actionDim);
  env.reset(rng.split("reset"));
  const actionRng = rng.split("actions");
  const envRng = rng.split("env");
  for (let t = 0; t < env.horizon; t++) {
    stepInStages(
      env,
      (k) => {
        const c = env.classes[k]!;
        const { obs, params, actions, logProbs } = buffers[k]!;
        const net = shared[k]!.net;
        const pd = net.policy.paramDim;
        env.observe(k, obs);
        const out = net.evaluate(obs, c.count);
        for (let r = 0; r < c.count; r++) for (let q = 0; q < pd; q++) params[r * pd + q] = out[r * (pd + 1) + q]!;
        // Every row draws, deviator included, so the other agents' draws do not depend on the rule.
        net.policy.sample(params, c.count, actionRng, actions, logProbs);
        if (k !== lpClass) return actions;
        for (let e = 0; e < episodes; e++) {
          const row = e * nLp + agent;
          // A diagonal Gaussian's parameters are the means, then the log-stDevs.
          for (let d = 0; d < actionDim; d++) logStd[d]! += params[row * paramDim + actionDim + d]!;
          if (deviation === null) continue;
          const at = row * actionDim;
          const meanAt = row * paramDim;
          if (deviation.kind === "mean-action") {
            for (let d = 0; d < actionDim; d++) actions[at + d] = params[meanAt + d]!;
            continue;
          }
          const inventory = obs[row * spec.obsDim + inventoryAt]! * inventoryScale;
          // eps_hedge is clipped to [0, 1]: a noisy 0 would hedge half the time, so inside the
          // policy's class "never hedge" is a mean a whole range below the bound.
          const ruleAction = [deviation.rule.spread, (-deviation.rule.skew * inventory) / 100, deviation.policyNoise ? -1 : 0];
          // The policy's draw minus its mean is its exploration noise at this decision.
          for (let d = 0; d < actionDim; d++) actions[at + d] = ruleAction[d]! + (deviation.policyNoise ? actions[at + d]! - params[meanAt + d]! : 0);
        }
        return actions;
      },
      envRng
    );
    env.rewards(lpClass, stepRewards);
    for (let e = 0; e < episodes; e++) rewards[e]! += stepRewards[e * nLp + agent]!;
  }
  const outcomes = env.episodeOutcomes();
  let shareSuper1 = 0;
  let shareTotal = 0;
  for (let e = 0; e < episodes; e++) {
    const total = outcomes.totalLtQuantity[e]!;
    if (!(total > 0)) continue;
    shareSuper1 += outcomes.lpSupertypeLtQuantity[e * outcomes.nLpSupertypes]! / total / episodes;
    shareTotal += (total - outcomes.ecnLtQuantity[e]!) / total / episodes;
  }
  for (let d = 0; d < actionDim; d++) logStd[d] = logStd[d]! / (episodes * env.horizon);
  return { rewards, reward: rewards.reduce((a, b) => a + b, 0) / episodes, shareSuper1, shareTotal, logStd };
};

const meanOf = (plays: readonly Played[], pick: (p: Played) => number) => plays.reduce((a, p) => a + pick(p), 0) / plays.length;

const summary = (plays: readonly Played[]): DeviationPlay => ({
  reward: meanOf(plays, (p) => p.reward),
  shareSuper1: meanOf(plays, (p) => p.shareSuper1),
  shareTotal: meanOf(plays, (p) => p.shareTotal)
});

/** The deviation's mean gain over the policy per episode, with its standard error, on the same (common random number) episodes. */
const gainOver = (policyPlays: readonly Played[], deviatorPlays: readonly Played[]): DeviationGain => {
  const gains: number[] = [];
  policyPlays.forEach((p, b) => p.rewards.forEach((reward, e) => gains.push(deviatorPlays[b]!.rewards[e]! - reward)));
  const n = gains.length;
  const gain = gains.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? gains.reduce((a, x) => a + (x - gain) ** 2, 0) / (n - 1) : 0;
  return { gain, gainStdError: Math.sqrt(variance / n), deviator: summary(deviatorPlays) };
};

/**
 * Scores every rule of the family for LP `agent` against the frozen `shared` policies (one per
 * learning class of `env`, in its class order), picks the best on the selection batches and
 * measures its gain on fresh evaluation batches, once with the rules' own actions and once with
 * the policy's exploration noise added to them; and measures the gain of the policy's mean
 * action on the same evaluation batches. `env` is reset for every batch; the policies are not
 * modified.
 */
export const probeRuleDeviations = (env: OtcEnv, shared: readonly PpoAgent[], options: RuleDeviationOptions, rng: Random): RuleDeviationResult => {
  if (shared.length !== env.classes.length) throw new RuleDeviationError(`${shared.length} policies for the env's ${env.classes.length} learning classes`);
  if (!(Number.isInteger(options.agent) && options.agent >= 0 && options.agent < env.nLp)) {
    throw new RuleDeviationError(`LP ${options.agent} is not among the episode's ${env.nLp} LPs`);
  }
  if (options.spreads.length === 0 || options.skews.length === 0) throw new RuleDeviationError("the rule family is empty (give at least one spread and one skew)");
  if (!(options.selectionBatches >= 1 && options.evaluationBatches >= 1)) throw new RuleDeviationError("selection and evaluation need at least one batch each");
  const rules: MarketMakerRule[] = options.spreads.flatMap((spread) => options.skews.map((skew) => ({ spread, skew })));
  const play = (batches: readonly Random[], deviation: Deviation | null) => batches.map((r) => playBatch(env, shared, options.agent, deviation, r));
  const selection = Array.from({ length: options.selectionBatches }, (_, b) => rng.split("selection").split(b));
  const evaluation = Array.from({ length: options.evaluationBatches }, (_, b) => rng.split("evaluation").split(b));
  const baselineReward = meanOf(play(selection, null), (p) => p.reward);
  const policyPlays = play(evaluation, null);
  const family = (policyNoise: boolean): RuleFamilyResult => {
    const scored = rules.map((rule) => ({ ...rule, selectionGain: meanOf(play(selection, { kind: "rule", rule, policyNoise }), (p) => p.reward) - baselineReward }));
    const chosen = scored.reduce((a, b) => (b.selectionGain > a.selectionGain ? b : a));
    const best = { spread: chosen.spread, skew: chosen.skew };
    return { rules: scored, best, ...gainOver(policyPlays, play(evaluation, { kind: "rule", rule: best, policyNoise })) };
  };
  const actionDim = policyPlays[0]!.logStd.length;
  return {
    ...family(false),
    episodes: policyPlays.reduce((a, p) => a + p.rewards.length, 0),
    policy: summary(policyPlays),
    withPolicyNoise: family(true),
    meanAction: gainOver(policyPlays, play(evaluation, { kind: "mean-action" })),
    policyLogStd: Array.from({ length: actionDim }, (_, d) => meanOf(policyPlays, (p) => p.logStd[d]!))
  };
};
