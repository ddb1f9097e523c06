/**
 * Params and summaries of the emergent-behaviour pipeline (paper sections 3.2 and 5.2):
 * the evaluation grid of the first LP's attributes, the figure 3 populations, the figure 6 games
 * whose Hamiltonian weights are logged during training, and the report's findings table. Paper
 * values in brackets where the defaults are the quick scale.
 */
import type * as arrow from "apache-arrow";
import { arrowTableCodec } from "../core/pipeline/codecs/arrow.ts";
import { compositeCodec } from "../core/pipeline/codecs/composite.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { textCodec } from "../core/pipeline/codecs/text.ts";
import { Schema } from "effect";
import { PpoSettings } from "./ppo.ts";
import { defaultRolloutSettings, EpisodesPerShard, RolloutSettings } from "./rollouts.ts";

const PositiveInt = Schema.Int.pipe(Schema.positive());
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative());
const Positive = Schema.Number.pipe(Schema.positive(), Schema.finite());
const Fraction = Schema.Number.pipe(Schema.between(0, 1));
const opt = <A, I>(schema: Schema.Schema<A, I>, value: A) => Schema.optionalWith(schema, { default: () => value });

/** At least 5 values per attribute, so a slope and its interval are meaningful. */
const Grid = <A, I>(value: Schema.Schema<A, I>) => Schema.mutable(Schema.Array(value)).pipe(Schema.minItems(5));

const defaultBase = { flowConnectivity: 1, pnlConnectivity: 1, pnlWeight: 0.5, riskAversion: 0.5 };

/** The first LP's attributes; each defaults to its base value, so `--set ...base.pnlWeight=0.2` alone is valid. */
export const AttributeValues = Schema.Struct({
  flowConnectivity: opt(Fraction, defaultBase.flowConnectivity).annotations({ description: "Connectivity of the first LP to the flow LTs." }),
  pnlConnectivity: opt(Fraction, defaultBase.pnlConnectivity).annotations({ description: "Connectivity of the first LP to the PnL LTs." }),
  pnlWeight: opt(Fraction, defaultBase.pnlWeight).annotations({ description: "PnL weight omega of the first LP." }),
  riskAversion: opt(Schema.Number.pipe(Schema.between(0, 2)), defaultBase.riskAversion).annotations({ description: "Risk aversion gamma of the first LP." })
});
export type AttributeValues = typeof AttributeValues.Type;

export const EvaluationParams = Schema.Struct({
  episodes: opt(PositiveInt, 16).annotations({ description: "Episodes per attribute value [100]." }),
  grid: opt(
    Schema.Struct({
      flowConnectivity: opt(Grid(Fraction), [0, 0.25, 0.5, 0.75, 1]),
      pnlConnectivity: opt(Grid(Fraction), [0, 0.25, 0.5, 0.75, 1]),
      pnlWeight: opt(Grid(Fraction), [0, 0.25, 0.5, 0.75, 1]),
      riskAversion: opt(Grid(Schema.Number.pipe(Schema.between(0, 2))), [0, 0.5, 1, 1.5, 2])
    }),
    {
      flowConnectivity: [0, 0.25, 0.5, 0.75, 1],
      pnlConnectivity: [0, 0.25, 0.5, 0.75, 1],
      pnlWeight: [0, 0.25, 0.5, 0.75, 1],
      riskAversion: [0, 0.5, 1, 1.5, 2]
    }
  ).annotations({ description: "The values of each attribute of the first LP (the others stay at `base`)." }),
  base: opt(AttributeValues, defaultBase).annotations({ description: "Base values: the network is fully connected, omega and gamma those of LP supertype 2." }),
  pnlLtCounts: opt(Schema.mutable(Schema.Array(NonNegativeInt)).pipe(Schema.minItems(1)), [0, 1, 3, 4]).annotations({ description: "Figure 3: numbers of PnL LTs in the market (the first LP at its base values)." }),
  epsBinWidth: opt(Positive, 0.1).annotations({ description: "Width of the eps_alpha bins of the flow response curve F(eps) (eq. 27)." }),
  inventoryBucket: opt(Positive, 2).annotations({ description: "Width (lots) of the inventory buckets of the holding-time curve (figure 14)." }),
  scatterPoints: opt(PositiveInt, 400).annotations({ description: "Skew-vs-inventory points kept per attribute value for the scatter plots (a deterministic stride)." }),
  episodesPerShard: opt(EpisodesPerShard, 8).annotations({ description: "Episodes per rollout shard (the unit of work of a worker thread); never changes results." })
});
export type EvaluationParams = typeof EvaluationParams.Type;

/** One game of figure 6. */
export const GameChoice = Schema.Literal("pnl-1v1", "pnl-2v1", "flow-1v1");
export type GameChoice = typeof GameChoice.Type;

export const GameTrainingParams = Schema.Struct({
  game: Schema.propertySignature(GameChoice).annotations({ description: "Which figure 6 game: the LP and LT populations that play it." }),
  iterations: opt(NonNegativeInt, 30).annotations({ description: "Training iterations N of the game." }),
  checkpointEvery: opt(PositiveInt, 10).annotations({ description: "Checkpoint every K iterations." }),
  episodes: opt(PositiveInt, 8).annotations({ description: "B, episodes per training iteration." }),
  horizon: opt(PositiveInt, 100).annotations({ description: "T." }),
  analysisEvery: opt(PositiveInt, 5).annotations({ description: "The weights are measured every this many iterations (and at iteration 1)." }),
  analysisEpisodes: opt(PositiveInt, 8).annotations({ description: "Episodes of the batch the game gradient and Jacobian products are estimated on." }),
  lpRiskAversion: opt(Schema.Number.pipe(Schema.between(0, 10)), 0.5).annotations({ description: "LP risk aversion in these games (the paper states only omega = 1): 0.5, the base of section 5.2. At 0 the PnL games without ECN are exactly zero-sum (the LP's PnL is the LT's loss, same eta), so J_21 = -J_12^T, S = 0 and omega_A = 1 whatever the policies." }),
  episodesPerShard: opt(EpisodesPerShard, 4).annotations({ description: "Episodes per rollout shard (the unit of work of a worker thread); never changes results." }),
  rollouts: opt(RolloutSettings, defaultRolloutSettings()).annotations({ description: "Worker threads of the training rollouts; never changes results." }),
  lp: opt(PpoSettings, PpoSettings.make({})),
  lt: opt(PpoSettings, PpoSettings.make({}))
});
export type GameTrainingParams = typeof GameTrainingParams.Type;

export const ReportParams = Schema.Struct({
  level: opt(Schema.Number.pipe(Schema.between(0.5, 0.999)), 0.95).annotations({ description: "Confidence level of every interval in the findings table." }),
  smoothing: opt(PositiveInt, 5).annotations({ description: "Moving-average width of the training curves (figures 19-20)." }),
  trainingReplicates: opt(Schema.Int.pipe(Schema.between(0, 8)), 0).annotations({
    description:
      "Training runs besides the main one (same params, their own random streams), each evaluated like it: the findings table gives their slopes beside the main run's, which tells a verdict that depends on the training run from one that does not."
  })
});
export type ReportParams = typeof ReportParams.Type;

/** A number that may be undefined (NaN in memory, null in JSON). */
const MaybeNumber = Schema.NullOr(Schema.Number);

export const Finding = Schema.Struct({
  finding: Schema.String,
  attribute: Schema.String,
  metric: Schema.String,
  claimedSign: Schema.Literal(1, -1),
  source: Schema.propertySignature(Schema.String).annotations({ description: "Where the claim is stated: \"section 5.2 headline\" (the five headline findings of section 5.2) or \"section 5.2 text\" (its text)." }),
  slope: MaybeNumber,
  ciLow: MaybeNumber,
  ciHigh: MaybeNumber,
  episodes: Schema.Number,
  verdict: Schema.Literal("reproduced", "opposite", "inconclusive"),
  replicates: Schema.optionalWith(Schema.mutable(Schema.Array(Schema.Struct({ slope: MaybeNumber, ciLow: MaybeNumber, ciHigh: MaybeNumber }))), { default: () => [] }).annotations({
    description: "The same finding in each training replicate (report.trainingReplicates): slope and interval."
  })
});
export type Finding = typeof Finding.Type;

export const EmergentSummary = Schema.Struct({
  trainingIterations: Schema.Number,
  evaluationEpisodes: Schema.Number,
  findings: Schema.mutable(Schema.Array(Finding)),
  lastOmegaA: Schema.propertySignature(Schema.Record({ key: Schema.String, value: MaybeNumber })).annotations({ description: "Per game and pair, the last logged omega_A." }),
  plots: Schema.propertySignature(Schema.Number).annotations({ description: "Plots in the HTML report." })
});
export type EmergentSummary = typeof EmergentSummary.Type;

/** The artifact of `emergent-report`: the HTML page, the findings table and the summary. */
export type EmergentReport = { html: string; findings: arrow.Table; summary: EmergentSummary };

export const emergentReportCodec = compositeCodec<EmergentReport>("emergent-report", {
  html: textCodec("html"),
  findings: arrowTableCodec,
  summary: jsonCodec(EmergentSummary)
});

