/**
 * How reports show the stopping rule of their training loops (core/analysis/stopping.ts; paper
 * section 3.1): a summary of why a run stopped where it did (for `pipeline show --json` and the
 * summary files) and a report section tabulating every check: each watched curve's slope
 * interval, the deviation test, the decision. Not a stage: report stages import it.
 */
import { Schema } from "effect";
import { initialStopping, type StoppingProgress } from "../../core/analysis/stopping.ts";
import type { ReportSection } from "../../core/analysis/report.ts";

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

const fixed = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");

/**
 * The stopping rule's checks of each run: every watched curve's slope interval, the deviation
 * test, the decision. `watched` says in words which curves the runs watch.
 */
export const stoppingSection = (runs: ReadonlyArray<readonly [string, StoppingProgress | undefined]>, watched: string, deviation = true): ReportSection => {
  const rows = runs.flatMap(([name, progress]) => {
    const p = progress ?? initialStopping("fixed");
    if (p.rule === "fixed") return [[name, "-", "fixed count: no checks", "-", "-"]];
    return p.checks.map((c) => [
      name,
      c.iterations,
      c.curves.map((k) => `${k.name.replace(/^rewards\//, "")} ${k.flat ? "flat" : "moving"} [${fixed(k.ciLow, 4)}, ${fixed(k.ciHigh, 4)}]`).join("; "),
      c.exploitability === null ? "not run" : `${fixed(c.exploitability.gain, 3)} +- ${fixed(c.exploitability.gainStdError, 3)}${c.exploitability.withinNoise ? " (within noise)" : ""}`,
      c.decision
    ]);
  });
  return {
    heading: "Stopping",
    text: `Under the converged rule a run stops at the first check where ${watched} ${deviation ? "are flat (the 95% interval of the slope over the window, per iteration, contains 0) and one LP fine-tuned against the frozen shared policy gains nothing beyond the set number of standard errors (paper section 3.1)" : "is flat (the 95% interval of the slope over the window, per iteration, contains 0); no deviation test runs, as these agents do not interact"}; otherwise at the cap.`,
    table: { columns: ["run", "check at iteration", "curves: slope 95% interval per iteration", "deviation gain", "decision"], rows }
  };
};
