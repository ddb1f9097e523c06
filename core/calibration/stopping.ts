/**
 * When a calibration run stops (paper section 3.1: a shared equilibrium is a policy no single
 * agent gains by deviating from; section 5.1 judges calibrators on the LP rewards and the
 * calibrator's reward converging). Under the `fixed` rule a run trains its `iterations`; under
 * `converged` it stops at the first check where each LP supertype's mean episode reward and the
 * calibrator's reward r_cal are flat by the slope test of core/analysis/convergence.ts and one LP,
 * fine-tuned against the frozen shared policy in the market at the calibrator's current mean
 * profile, gains nothing beyond noise; `iterations` is then the cap. The progress (every check's
 * slopes, the deviation tests and the decision) is plain data in the loop state, so a resumed run
 * continues it and the report shows why the run stopped where it did.
 */
import {
  checkConvergence,
  convergenceCheckDue,
  deviationTestDue,
  summariseCheck,
  type CheckSummary,
  type ConvergenceDecision,
  type ConvergenceRule,
  type ExploitabilityEstimate
} from "../analysis/convergence.ts";
import type { IterationRow } from "./loop.ts";

export type StoppingRuleKind = "fixed" | "converged";

/** The checks run so far and where they left the run. */
export interface StoppingProgress {
  readonly rule: StoppingRuleKind;
  readonly checks: readonly CheckSummary[];
  /** "converged" stops the run; "continue" and "cap" (the last check found the cap) do not stop a run whose cap is raised. */
  readonly decision: ConvergenceDecision;
}

export const initialStopping = (rule: StoppingRuleKind): StoppingProgress => ({ rule, checks: [], decision: "continue" });

/** The curves the rule watches: each LP supertype's mean episode reward and the calibrator's reward, per iteration. */
export const calibrationCurves = (rows: readonly IterationRow[]): Record<string, Float64Array> => {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r).filter((k) => /^rewards\/lp_super\d+$/.test(k)))), "calibration/reward"].sort();
  return Object.fromEntries(names.map((name) => [name, Float64Array.from(rows, (r) => r[name] ?? Number.NaN)]));
};

/** Whether the deviation test should run after the iteration that produced `rows`' last row. */
export const calibrationDeviationDue = (progress: StoppingProgress, rows: readonly IterationRow[], rule: ConvergenceRule): boolean =>
  progress.rule === "converged" && deviationTestDue(calibrationCurves(rows), rows.length, rule);

/** The progress after the iteration that produced `rows`' last row (the deviation test's result when it ran). */
export const advanceStopping = (
  progress: StoppingProgress,
  rows: readonly IterationRow[],
  rule: ConvergenceRule,
  exploitability: ExploitabilityEstimate | null
): StoppingProgress => {
  if (progress.rule === "fixed" || !convergenceCheckDue(rule, rows.length)) return progress;
  const check = checkConvergence(calibrationCurves(rows), rows.length, rule, exploitability);
  return { ...progress, checks: [...progress.checks, summariseCheck(check)], decision: check.decision };
};

/** Whether the run has stopped on its diagnostics (reaching the cap is the schedule's business, not a stop). */
export const stoppedOnDiagnostics = (progress: StoppingProgress | undefined): boolean => progress?.decision === "converged";
