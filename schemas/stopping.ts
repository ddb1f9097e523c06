/**
 * Params of the stopping rule every training loop can run under (core/analysis/stopping.ts; paper
 * section 3.1): a fixed count of iterations, or training until the watched reward curves are flat
 * and one agent fine-tuned against the frozen shared policy gains nothing beyond noise, with the
 * loop's `iterations` as the cap.
 */
import { Schema } from "effect";
import { initialStopping, type StoppingProgress } from "../core/analysis/stopping.ts";

const PositiveInt = Schema.Int.pipe(Schema.positive());
const opt = <A, I>(schema: Schema.Schema<A, I>, value: A) => Schema.optionalWith(schema, { default: () => value });

export const defaultStoppingSettings = {
  rule: "fixed" as const,
  window: 100,
  minIterations: 200,
  every: 50,
  driftTolerance: 0,
  exploitability: { agent: 0, fineTuneIterations: 20, evaluationBatches: 5, stdErrors: 2 }
};

export const StoppingSettings = Schema.Struct({
  rule: opt(Schema.Literal("fixed", "converged"), "fixed").annotations({
    description: "fixed: train `iterations` iterations; converged: stop once the watched reward curves are flat and one agent fine-tuned against the policy gains nothing beyond noise, `iterations` being the cap."
  }),
  window: opt(Schema.Int.pipe(Schema.greaterThanOrEqualTo(3)), defaultStoppingSettings.window).annotations({ description: "Iterations (the most recent ones) each curve's slope is fitted on." }),
  minIterations: opt(PositiveInt, defaultStoppingSettings.minIterations).annotations({ description: "No stop before this many iterations (at least the window)." }),
  every: opt(PositiveInt, defaultStoppingSettings.every).annotations({ description: "A check every this many iterations." }),
  driftTolerance: opt(Schema.Number.pipe(Schema.nonNegative()), defaultStoppingSettings.driftTolerance).annotations({
    description: "A change over the window below which a curve counts as flat even if its slope is significant."
  }),
  exploitability: opt(
    Schema.Struct({
      agent: opt(Schema.Int.pipe(Schema.nonNegative()), 0).annotations({ description: "The deviating LP's index among an episode's LPs (0: the first, supertype 1's in a calibration)." }),
      fineTuneIterations: opt(Schema.Int.pipe(Schema.nonNegative()), 20).annotations({ description: "PPO iterations of the deviator against the frozen policy once the curves are flat; 0 leaves the test out." }),
      evaluationBatches: opt(PositiveInt, 5).annotations({ description: "Batches of B episodes on which the deviator and the policy are compared (same seeds)." }),
      stdErrors: opt(Schema.Number.pipe(Schema.positive(), Schema.finite()), 2).annotations({ description: "The deviator's gain must lie within this many standard errors of 0." })
    }),
    defaultStoppingSettings.exploitability
  )
}).pipe(Schema.filter((r) => r.minIterations >= r.window || `minIterations (${r.minIterations}) must be at least the window (${r.window})`));
export type StoppingSettings = typeof StoppingSettings.Type;

/** Why a run stopped where it did (what reports and `pipeline show --json` carry). */
const CheckSummarySchema = Schema.Struct({
  iterations: Schema.Number,
  decision: Schema.String,
  exploitability: Schema.NullOr(Schema.Struct({ gain: Schema.Number, gainStdError: Schema.Number, withinNoise: Schema.Boolean })),
  curves: Schema.Array(Schema.Struct({ name: Schema.String, slope: Schema.Number, ciLow: Schema.Number, ciHigh: Schema.Number, drift: Schema.Number, flat: Schema.Boolean }))
});

export const StoppingSummary = Schema.Struct({
  rule: Schema.Literal("fixed", "converged"),
  stoppedBy: Schema.propertySignature(Schema.Literal("iterations", "diagnostics", "cap")).annotations({
    description: "iterations: the fixed count ran; diagnostics: every watched curve flat and the deviation gain within noise; cap: the converged rule reached the cap first."
  }),
  checks: Schema.Number,
  lastCheck: Schema.NullOr(CheckSummarySchema)
});
export type StoppingSummary = typeof StoppingSummary.Type;

export const stoppingSummary = (progress: StoppingProgress | undefined): StoppingSummary => {
  const p = progress ?? initialStopping("fixed");
  const stoppedBy = p.rule === "fixed" ? ("iterations" as const) : p.decision === "converged" ? ("diagnostics" as const) : ("cap" as const);
  return { rule: p.rule, stoppedBy, checks: p.checks.length, lastCheck: p.checks[p.checks.length - 1] ?? null };
};

