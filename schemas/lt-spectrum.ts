/**
 * Params of figure 2's LT-spectrum training (paper section 3.1, eq. 6): schedule, B and T, LTs
 * per episode, the quantity targets q^a / q^b, the PnL normaliser, the fixed mid path, the ECN
 * spread and the LT policy's PPO. Read by `train-lt-spectrum` and by `lt-spectrum-report`, which
 * rebuilds the environment to evaluate the trained policy.
 */
import { tableReportCodec, type TableReport } from "./report-codec.ts";
import { StoppingSummary } from "./stopping.ts";
import { defaultStoppingSettings, StoppingSettings } from "./stopping.ts";
import { Schema } from "effect";
import { PpoSettings as PpoSettingsSchema } from "./ppo.ts";

const PositiveInt = Schema.Int.pipe(Schema.positive());
const Fraction = Schema.Number.pipe(Schema.between(0, 1));
const opt = <A, I>(schema: Schema.Schema<A, I>, value: A) => Schema.optionalWith(schema, { default: () => value });

export const LtSpectrumTrainingParams = Schema.Struct({
  iterations: opt(Schema.Int.pipe(Schema.nonNegative()), 150).annotations({ description: "Training iterations N of the LT shared policy." }),
  checkpointEvery: opt(PositiveInt, 25).annotations({ description: "Checkpoint every K iterations." }),
  episodes: opt(PositiveInt, 16).annotations({ description: "B, episodes per iteration." }),
  horizon: opt(PositiveInt, 100).annotations({ description: "T, steps per episode (the paper's 100)." }),
  ltsPerEpisode: opt(PositiveInt, 8).annotations({ description: "Learning LTs per episode (independent samples of the same game: the ECN ignores them)." }),
  qA: opt(Fraction, 0.25).annotations({ description: "Target fraction of steps with a sell (q^a) and with a buy (q^b): figure 2's 25% / 75%." }),
  qB: opt(Fraction, 0.75).annotations({ description: "Target fraction of steps with a buy (q^b)." }),
  eta: opt(Schema.Number.pipe(Schema.positive()), 4e-4).annotations({ description: "PnL normaliser eta: the best PnL on the default path (~1,200 ticks x lots) times eta is ~0.5, the scale of the target term." }),
  path: opt(
    Schema.Struct({
      kind: opt(Schema.Literal("sine", "walk"), "sine"),
      amplitudeTicks: opt(Schema.Number.pipe(Schema.positive()), 20),
      cycles: opt(Schema.Number.pipe(Schema.positive()), 2),
      stepTicks: opt(Schema.Number.pipe(Schema.positive()), 3),
      seed: opt(Schema.Int.pipe(Schema.nonNegative()), 7)
    }),
    { kind: "sine" as const, amplitudeTicks: 20, cycles: 2, stepTicks: 3, seed: 7 }
  ).annotations({ description: "The fixed mid path: a sine (amplitude, cycles over the episode) or a seeded random walk." }),
  spreadTicks: opt(PositiveInt, 1).annotations({ description: "ECN spread in ticks (the book is rebuilt around the path with this spread)." }),
  ppo: opt(PpoSettingsSchema, PpoSettingsSchema.make({ entropyCoeff: 0.01 })),
  stopping: opt(StoppingSettings, defaultStoppingSettings).annotations({
    description: "When training stops: after `iterations`, or once the LT policy's mean reward is flat (`iterations` the cap). The LTs here do not interact, so no deviation test runs and `exploitability` is ignored."
  })
});
export type LtSpectrumTrainingParams = typeof LtSpectrumTrainingParams.Type;

/** The artifact of `lt-spectrum-report` (figure 2): the HTML page, the per-omega table and the summary. */
const OmegaRow = Schema.Struct({
  omega: Schema.Number,
  sellFraction: Schema.Number,
  buyFraction: Schema.Number,
  sellFractionStdError: Schema.Number,
  buyFractionStdError: Schema.Number,
  meanPnl: Schema.Number,
  pnlStdError: Schema.Number,
  meanReward: Schema.Number
});
export const LtSpectrumSummary = Schema.Struct({
  iterations: Schema.Number,
  qA: Schema.Number,
  qB: Schema.Number,
  greedy: Schema.Boolean,
  omegas: Schema.mutable(Schema.Array(OmegaRow)),
  omega0OnTargets: Schema.propertySignature(Schema.NullOr(Schema.Boolean)).annotations({ description: "The figure-2 check: omega = 0 within tolerance of both targets; omega = 1 mean PnL > 0 (null when not evaluated)." }),
  omega1PnlPositive: Schema.NullOr(Schema.Boolean),
  stopping: Schema.propertySignature(StoppingSummary).annotations({ description: "Why training stopped where it did, with the stopping rule's last check." })
});
export type LtSpectrumSummary = typeof LtSpectrumSummary.Type;

export type LtSpectrumReport = TableReport<LtSpectrumSummary>;
export const ltSpectrumReportCodec = tableReportCodec("lt-spectrum-report", LtSpectrumSummary);

