/**
 * Params of the ECN-model stages, under the same names in every pipeline that
 * fits an ECN model: `ecn.data.*` chooses and resamples the level-2 data, `ecn.gmm.*` sets the
 * Gaussian-mixture fit. Every field has a default, so a pipeline or `--set` gives only what it
 * changes.
 */
import { Schema } from "effect";

const PositiveNumber = Schema.Number.pipe(Schema.positive(), Schema.finite());

export const EcnDataParams = Schema.Struct({
  source: Schema.optionalWith(Schema.Literal("synthetic", "lobster", "csv"), { default: () => "synthetic" as const }).annotations({ description: "Where the level-2 data comes from: the embedded synthetic generator, a LOBSTER pair, or a snapshot CSV." }),
  path: Schema.optionalWith(Schema.String, { default: () => "" }).annotations({ description: "LOBSTER: a zip, or the message CSV (the orderbook CSV beside it); csv: the snapshot CSV." }),
  windowStart: Schema.optionalWith(Schema.NullOr(Schema.Number.pipe(Schema.nonNegative())), { default: () => null }).annotations({ description: "Session window start in seconds after midnight; null = two hours before the window end." }),
  windowEnd: Schema.optionalWith(Schema.NullOr(Schema.Number.pipe(Schema.nonNegative())), { default: () => null }).annotations({ description: "Session window end in seconds after midnight; null = the end of the data." }),
  dt: Schema.optionalWith(PositiveNumber, { default: () => 1 }).annotations({ description: "Simulation step in seconds." }),
  volumeUnit: Schema.optionalWith(PositiveNumber, { default: () => 1 }).annotations({ description: "Raw volume per lot (e.g. 100 shares)." }),
  tick: Schema.optionalWith(Schema.NullOr(PositiveNumber), { default: () => null }).annotations({ description: "Price units per tick; null = inferred from the data (0.01 for the synthetic data)." }),
  rows: Schema.optionalWith(Schema.Int.pipe(Schema.between(100, 10_000_000)), { default: () => 7200 }).annotations({ description: "Synthetic data only: number of snapshots at dt." })
}).pipe(
  // Checked with the params, before anything runs: an empty path would otherwise resolve to the
  // working directory and be reported as an unreadable file.
  Schema.filter((p) => {
    if (p.source === "synthetic") return true;
    if (p.path.trim() === "") return { path: ["path"], message: `is empty, but source "${p.source}" reads a file; give it with --set ecn.data.path=FILE` };
    // The orderbook file is found from the message file's name, so the name must say which it is.
    if (p.source === "lobster" && !/\.zip$/i.test(p.path) && !/_message_\d+\.csv$/i.test(p.path)) {
      return { path: ["path"], message: `"${p.path}" is neither a LOBSTER zip nor a *_message_N.csv file (its *_orderbook_N.csv is read from beside it); give one of those with --set ecn.data.path=FILE` };
    }
    return true;
  })
);
export type EcnDataParams = typeof EcnDataParams.Type;

export const EcnGmmParams = Schema.Struct({
  nComponents: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 50)), { default: () => 5 }).annotations({ description: "Mixture components of both mixtures." }),
  nInit: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100)), { default: () => 5 }).annotations({ description: "EM restarts from k-means++; the best lower bound wins." }),
  regCovar: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 1e-6 }).annotations({ description: "Added to covariance diagonals." }),
  tol: Schema.optionalWith(PositiveNumber, { default: () => 1e-3 }).annotations({ description: "Convergence threshold on the change of the mean log-likelihood." }),
  maxIter: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100_000)), { default: () => 100 }).annotations({ description: "Maximum EM iterations per restart." }),
  depthCalibration: Schema.optionalWith(Schema.Literal("long-run-mean", "none"), { default: () => "long-run-mean" as const }).annotations({ description: "\"long-run-mean\": scale each level's volume increases so the model's long-run mean volume is the data's mean (docs/ecn-model.md); \"none\": keep the fitted mixture as it is." })
});
export type EcnGmmParams = typeof EcnGmmParams.Type;

/** Arrays are mutable in the decoded type so it matches the plain domain type `EcnModelData`. */
const List = <A, I>(item: Schema.Schema<A, I>) => Schema.mutable(Schema.Array(item));

/** The fitted model artifact (core/ecn/model.ts `EcnModelData`), checked when read back. */
const Mixture = Schema.Struct({
  nComponents: Schema.Number,
  dim: Schema.Number,
  weights: List(Schema.Number),
  means: List(List(Schema.Number)),
  covariances: List(List(List(Schema.Number)))
});
const Split = Schema.Struct({ train: Schema.Number, val: Schema.Number, test: Schema.Number });
const FitInfo = Schema.Struct({ lowerBound: Schema.Number, converged: Schema.Boolean, iterations: Schema.Number });
const Moments = <A, I>(s: Schema.Schema<A, I>) => Schema.Struct({ theory: s, theoryFromData: s, empirical: s });
const MeanMoments = Schema.Struct({
  theory: List(Schema.Number),
  fitted: List(Schema.Number),
  theoryFromData: List(Schema.Number),
  empirical: List(Schema.Number),
  simulated: List(Schema.Number)
});

export const EcnModel = Schema.Struct({
  kind: Schema.Literal("gmm-ecn-model"),
  version: Schema.Literal(2),
  levels: Schema.Number,
  alpha: Schema.Number,
  alphaFitted: Schema.NullOr(Schema.Number),
  tick: Schema.Number,
  volumeUnit: Schema.Number,
  orderSizes: List(Schema.Number),
  s0: Mixture,
  s: Mixture,
  stepSpace: Schema.Struct({ reference: List(Schema.Number), increaseScale: List(Schema.Number) }),
  depthCalibration: Schema.Literal("long-run-mean", "none"),
  scores: Schema.Struct({ S0: Split, S: Split }),
  bic: Schema.Struct({ S0: Schema.Number, S: Schema.Number }),
  sampleCounts: Schema.Struct({ S0: Split, S: Split }),
  fit: Schema.Struct({ nComponents: Schema.Number, nInit: Schema.Number, S0: FitInfo, S: FitInfo }),
  longRange: Schema.Struct({
    mean: MeanMoments,
    covariance: Moments(List(List(Schema.Number)))
  }),
  data: Schema.propertySignature(Schema.String).annotations({ description: "Which data the model was fitted on, as the run output reports it." })
});
export type EcnModel = typeof EcnModel.Type;
