/**
 * The artifact of `calibration-report` (paper figures 7, 8, 25-32; table 5): the HTML page, the
 * per-iteration table of every method, and the summary of the last iterations, with its schema.
 * Here, not in the stage, so stages that read the report (the reproduction report) do not
 * fingerprint the report's code.
 */
import { Schema } from "effect";
import { tableReportCodec, type TableReport } from "./report-codec.ts";
import { StoppingSummary } from "./stopping.ts";

const MethodSummary = Schema.Struct({
  iterations: Schema.Number,
  envSteps: Schema.Number,
  tail: Schema.propertySignature(Schema.Record({ key: Schema.String, value: Schema.Number })).annotations({ description: "Means over the last `tailFraction` of iterations, under the paper's names." }),
  maxParamMeanStep: Schema.propertySignature(Schema.Number).annotations({ description: "Largest per-iteration change of any calibrated parameter's particle mean, in units of its range." }),
  stopping: Schema.propertySignature(StoppingSummary).annotations({ description: "Why training stopped where it did, with the stopping rule's last check." })
});
export const CalibrationSummary = Schema.Struct({
  experiment: Schema.Number,
  methods: Schema.propertySignature(Schema.Struct({ calsheq: Schema.String, bo: Schema.String, calsheqBeside: Schema.optional(Schema.String) })).annotations({
    description: "The calibrators as actually run (form, timescale ratio, BO proposal interval)."
  }),
  tailFraction: Schema.Number,
  targets: Schema.Record({ key: Schema.String, value: Schema.Number }),
  calsheq: MethodSummary,
  bo: MethodSummary,
  calsheqBeside: Schema.optional(MethodSummary).annotations({ description: "CALSHEQ in the other form (report.calsheqBeside), on the same seed, budget and stopping rule." })
});
export type CalibrationSummary = typeof CalibrationSummary.Type;

export type CalibrationReport = TableReport<CalibrationSummary>;
export const calibrationReportCodec = tableReportCodec("calibration-report", CalibrationSummary);

