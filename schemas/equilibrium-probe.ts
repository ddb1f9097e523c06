/**
 * The artifact of `equilibrium-probe` (paper section 3.1's shared equilibrium, checked for the
 * first LP of a calibrated market): the market-maker rules tried, the best one's gain over the
 * policy with its standard error, played as plain rules and inside the policy's class (with its
 * exploration noise), the gain of the policy's own mean action, the market shares with the policy
 * and with the rule, and the policy's remaining exploration. Here, not in the stage, so reports
 * that read it do not fingerprint the probe's code.
 */
import { Schema } from "effect";

const Play = Schema.Struct({
  reward: Schema.Number.annotations({ description: "Mean episode reward of the first LP." }),
  shareSuper1: Schema.Number.annotations({ description: "Market share of LP supertype 1 (episode totals, averaged over episodes)." }),
  shareTotal: Schema.Number.annotations({ description: "Market share of all LPs." })
});
const Rule = Schema.Struct({ spread: Schema.Number, skew: Schema.Number });
const Rules = Schema.Array(Schema.Struct({ ...Rule.fields, selectionGain: Schema.Number })).annotations({ description: "Every rule tried, with its mean gain on the selection batches." });

export const EquilibriumProbe = Schema.Struct({
  market: Schema.String.annotations({ description: "The trained market probed: \"experiment 3\", \"section 5.2\"." }),
  iterations: Schema.Number.annotations({ description: "Training iterations of the probed policy." }),
  rules: Rules,
  best: Rule,
  gain: Schema.Number.annotations({ description: "The best rule's mean gain over the policy on fresh episodes (common random numbers), the rule playing its own actions." }),
  gainStdError: Schema.Number,
  episodes: Schema.Number,
  policy: Play,
  deviator: Play,
  withPolicyNoise: Schema.Struct({ rules: Rules, best: Rule, gain: Schema.Number, gainStdError: Schema.Number, deviator: Play }).annotations({
    description: "The same family played inside the policy's class: each rule's action plus the policy's own exploration draw at that decision."
  }),
  meanAction: Schema.Struct({ gain: Schema.Number, gainStdError: Schema.Number, deviator: Play }).annotations({
    description: "The policy's mean action played without exploration, against the policy: what the exploration costs the first LP."
  }),
  policyLogStd: Schema.Array(Schema.Number).annotations({ description: "The policy's log-stDev of eps_spread, eps_skew and eps_hedge for the first LP, averaged over its decisions." }),
  logStdFloor: Schema.Number.annotations({ description: "The lowest log-stDev the policy's network can output." })
});
export type EquilibriumProbe = typeof EquilibriumProbe.Type;
