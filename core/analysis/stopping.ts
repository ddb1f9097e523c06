/**
 * When a training run stops (paper section 3.1: a shared equilibrium is a policy no single agent
 * gains by deviating from; section 5: rewards over training flatten as the policies settle).
 * Under the `fixed` rule a run trains its `iterations`; under `converged` it stops at the first
 * check where every curve it watches (its rewards, per class or supertype, and for a calibration
 * the calibrator's reward) is flat by the slope test of `convergence.ts` and, when the test runs,
 * one agent fine-tuned against the frozen shared policy gains nothing beyond noise; `iterations`
 * is then the cap. The progress (every check's slopes, the deviation tests and the decision) is
 * plain data kept in the loop state, so a resumed run continues it and a report can show why the
 * run stopped where it did.
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
} from "./convergence.ts";
import type { ReportSection } from "./report.ts";

export type StoppingRuleKind = "fixed" | "converged";

/** The checks run so far and where they left the run. */
export interface StoppingProgress {
  readonly rule: StoppingRuleKind;
  readonly checks: readonly CheckSummary[];
  /** "converged" stops the run; "continue" does not (reaching the cap is the schedule's business). */
  readonly decision: ConvergenceDecision;
}

export const initialStopping = (rule: StoppingRuleKind): StoppingProgress => ({ rule, checks: [], decision: "continue" });

/** The watched curves, built only when a check needs them (most iterations need none). */
export type WatchedCurves = () => Readonly<Record<string, ArrayLike<number>>>;

/** Whether the deviation test should run after `iterations` iterations whose watched curves are `curves()`. */
export const stoppingDeviationDue = (progress: StoppingProgress, curves: WatchedCurves, iterations: number, rule: ConvergenceRule): boolean =>
  progress.rule === "converged" && convergenceCheckDue(rule, iterations) && deviationTestDue(curves(), iterations, rule);

/** The progress after `iterations` iterations (the deviation test's result when it ran). */
export const advanceStopping = (
  progress: StoppingProgress,
  curves: WatchedCurves,
  iterations: number,
  rule: ConvergenceRule,
  exploitability: ExploitabilityEstimate | null
): StoppingProgress => {
  if (progress.rule === "fixed" || !convergenceCheckDue(rule, iterations)) return progress;
  const check = checkConvergence(curves(), iterations, rule, exploitability);
  return { ...progress, checks: [...progress.checks, summariseCheck(check)], decision: check.decision };
};

/** Whether the run has stopped on its diagnostics (reaching the cap is the schedule's business, not a stop). */
export const stoppedOnDiagnostics = (progress: StoppingProgress | undefined): boolean => progress?.decision === "converged";

/**
 * The rule of a `stopping` params group. No cap inside the rule: the loop's `iterations` caps the
 * run, and a check's outcome must not depend on it, or raising the cap would not resume a run
 * bit-identically.
 */
export const stoppingRule = (s: { readonly window: number; readonly minIterations: number; readonly every: number; readonly driftTolerance: number; readonly exploitability: { readonly stdErrors: number } }): ConvergenceRule => ({
  window: s.window,
  minIterations: s.minIterations,
  maxIterations: Number.MAX_SAFE_INTEGER,
  every: s.every,
  driftTolerance: s.driftTolerance,
  exploitabilityStdErrors: s.exploitability.stdErrors
});

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
