/**
 * Params of the calibration stages (paper tables 3-5): the training schedule, the LP
 * shared policy's PPO, the CALSHEQ calibrator, the BO baseline and the targets. Defaults are the
 * `quick` scale; the calibration pipelines set the policy's learning rate and each experiment's
 * quick schedule (its module's `quick`: for experiment 4, 400 iterations, ratio 20 and a BO
 * proposal every 5 iterations; pipelines/calibrate.ts says what changes from the paper and why);
 * the `paper` preset restores the paper's values.
 */
import { Schema } from "effect";
import { experimentIds, isExperiment } from "../core/calibration/experiments.ts";
import { PpoSettings } from "./ppo.ts";
import { defaultStoppingSettings, StoppingSettings } from "./stopping.ts";
import { defaultRolloutSettings, EpisodesPerShard, RolloutSettings } from "./rollouts.ts";

const Positive = Schema.Number.pipe(Schema.positive(), Schema.finite());
const PositiveInt = Schema.Int.pipe(Schema.positive());
const Fraction = Schema.Number.pipe(Schema.between(0, 1));
const opt = <A, I>(schema: Schema.Schema<A, I>, value: A) => Schema.optionalWith(schema, { default: () => value });


export const CalibrationParams = Schema.Struct({
  experiment: opt(
    Schema.Int.pipe(Schema.filter((id) => isExperiment(id) || `a registered experiment (${experimentIds().join(", ")})`)),
    4
  ).annotations({ description: "Calibration experiment: the paper's 1-4 (section 5.1) or another registered one (core/calibration/experiments.ts)." }),
  iterations: opt(Schema.Int.pipe(Schema.nonNegative()), 100).annotations({ description: "Training iterations N (each: B episodes, one PPO update, one calibrator update)." }),
  checkpointEvery: opt(PositiveInt, 10).annotations({ description: "Checkpoint every K iterations." }),
  episodes: opt(PositiveInt, 20).annotations({ description: "B: episodes per iteration (= CALSHEQ particles: 60)." }),
  horizon: opt(PositiveInt, 100).annotations({ description: "T: steps per episode (paper: 100)." }),
  episodesPerShard: opt(EpisodesPerShard, 5).annotations({ description: "Episodes per rollout shard (the unit of work of a worker thread)." }),
  rollouts: opt(RolloutSettings, defaultRolloutSettings()).annotations({ description: "Rollout execution (worker threads); never changes results, so not in the cache key." }),
  ppo: opt(PpoSettings, PpoSettings.make({})),
  calsheq: opt(
    Schema.Struct({
      learningRateRatio: opt(Positive, 1).annotations({ description: "alpha_cal / alpha_shared (two-timescale, assumption 4.1)." }),
      maxStepFraction: opt(Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(1)), 1).annotations({ description: "Largest increment per iteration as a fraction of each range (table 3: 1)." }),
      boundary: opt(Schema.Literal("clip", "reflect"), "clip").annotations({ description: "How a move leaving the state range comes back: clip or reflect." }),
      form: opt(Schema.Literal("increment", "distribution"), "distribution").annotations({ description: "Policy form: \"increment\" is algorithm 1 (state Lambda, particles step from where they are); \"distribution\" is the paper's CALSHEQ_no_state ablation (particles drawn around Lambda_0, no state; core/calibration/calsheq.ts)." }),
      sgdPasses: opt(PositiveInt, 10).annotations({ description: "SGD passes of the calibrator's PPO per update." }),
      hidden: opt(Schema.mutable(Schema.Array(PositiveInt)), [32, 32]).annotations({ description: "Hidden widths of the calibrator's networks." })
    }),
    { learningRateRatio: 1, maxStepFraction: 1, boundary: "clip" as const, form: "distribution" as const, sgdPasses: 10, hidden: [32, 32] }
  ),
  bo: opt(
    Schema.Struct({
      every: opt(PositiveInt, 10).annotations({ description: "M: iterations between proposals (100)." }),
      acquisition: opt(Schema.Literal("ucb", "ei"), "ucb").annotations({ description: "Acquisition: UCB (the paper's) or expected improvement." }),
      kappa: opt(Schema.Number.pipe(Schema.nonNegative()), 0.5).annotations({ description: "UCB exploration weight (0.5)." })
    }),
    { every: 10, acquisition: "ucb" as const, kappa: 0.5 }
  ),
  stopping: opt(StoppingSettings, defaultStoppingSettings).annotations({
    description: "When training stops: after `iterations`, or on the equilibrium diagnostics (paper section 3.1) with `iterations` as the cap."
  }),
  targets: opt(
    Schema.Struct({
      m_super1: opt(Fraction, 0.25).annotations({ description: "Experiment 4: the market share of LP supertype 1 to reach (table 5: 0.25)." }),
      m_total: opt(Fraction, 0.8).annotations({ description: "The market share all LPs should at least reach (table 5: 0.8)." }),
      m_super1_min: opt(Fraction, 0.15).annotations({ description: "Experiments 1-3: the least market share of LP supertype 1 (table 5: 0.15)." })
    }),
    { m_super1: 0.25, m_total: 0.8, m_super1_min: 0.15 }
  )
});
export type CalibrationParams = typeof CalibrationParams.Type;

export const ReportParams = Schema.Struct({
  calsheqBeside: opt(Schema.Literal("none", "increment", "distribution"), "none").annotations({
    description: "Also train CALSHEQ in this form (same seed, budget and stopping rule) and report it beside the main run: none, increment (algorithm 1) or distribution (the no-state ablation)."
  }),
  tailFraction: opt(Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(1)), 0.1).annotations({ description: "Fraction of the last iterations over which the summary figures are averaged." }),
  plotPoints: opt(Schema.Int.pipe(Schema.between(10, 10_000)), 200).annotations({ description: "Points per curve in the plots (curves are averaged into this many buckets)." })
});
export type ReportParams = typeof ReportParams.Type;
