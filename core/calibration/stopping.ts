/**
 * The stopping rule of calibration runs (core/analysis/stopping.ts) applied to the rows of a
 * calibration loop (paper sections 3.1 and 5.1: the LP rewards and the calibrator's reward
 * converge): the curves watched are each LP supertype's mean episode reward and the calibrator's
 * reward r_cal, and the deviation test fine-tunes one LP in the market frozen at the calibrator's
 * current mean profile.
 */
import type { ConvergenceRule, ExploitabilityEstimate } from "../analysis/convergence.ts";
import { advanceStopping, stoppingDeviationDue, type StoppingProgress } from "../analysis/stopping.ts";
import type { IterationRow } from "./loop.ts";

export { initialStopping, stoppedOnDiagnostics, type StoppingProgress, type StoppingRuleKind } from "../analysis/stopping.ts";

/** The curves the rule watches: each LP supertype's mean episode reward and the calibrator's reward, per iteration. */
export const calibrationCurves = (rows: readonly IterationRow[]): Record<string, Float64Array> => {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r).filter((k) => /^rewards\/lp_super\d+$/.test(k)))), "calibration/reward"].sort();
  return Object.fromEntries(names.map((name) => [name, Float64Array.from(rows, (r) => r[name] ?? Number.NaN)]));
};

/** Whether the deviation test should run after the iteration that produced `rows`' last row. */
export const calibrationDeviationDue = (progress: StoppingProgress, rows: readonly IterationRow[], rule: ConvergenceRule): boolean =>
  stoppingDeviationDue(progress, () => calibrationCurves(rows), rows.length, rule);

/** The progress after the iteration that produced `rows`' last row (the deviation test's result when it ran). */
export const advanceCalibrationStopping = (
  progress: StoppingProgress,
  rows: readonly IterationRow[],
  rule: ConvergenceRule,
  exploitability: ExploitabilityEstimate | null
): StoppingProgress => advanceStopping(progress, () => calibrationCurves(rows), rows.length, rule, exploitability);
