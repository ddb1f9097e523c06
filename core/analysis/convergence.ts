/**
 * When has training reached an equilibrium? (paper section 3.1: a shared equilibrium is a policy
 * no single agent gains by deviating from; section 5: rewards over training flatten as the
 * policies settle.) The stopping rule used by what-if re-equilibration and by runs that train
 * "until converged": every `every` iterations after `minIterations`, fit a line to the last
 * `window` iterations of each tracked reward curve (a supertype's mean episode reward, say) and
 * call the curve flat when the 95% interval of its slope contains 0, or when the drift it implies
 * over the window is below `driftTolerance` (a change too small to matter even if measurable).
 * When an exploitability estimate is supplied (the gain of a one-agent deviator fine-tuned against
 * the frozen policy, with its standard error), it must also be within `exploitabilityStdErrors`
 * standard errors of 0. Training stops when every curve is flat and the exploitability test
 * passes, or at `maxIterations`, and the decision names which of the two happened.
 */
import { linearFit, type LinearFit } from "./stats.ts";

export interface ConvergenceRule {
  /** Iterations (the most recent ones) the slope of each reward curve is fitted on. */
  readonly window: number;
  /** No convergence is declared before this many iterations. */
  readonly minIterations: number;
  /** The cap: training stops here whatever the diagnostics say. */
  readonly maxIterations: number;
  /** A check runs every this many iterations. */
  readonly every: number;
  /** Reward change over the window below which a curve counts as flat even if its slope is significant. */
  readonly driftTolerance: number;
  /** The exploitability gain must lie within this many standard errors of 0. */
  readonly exploitabilityStdErrors: number;
}

export const defaultConvergenceRule: ConvergenceRule = {
  window: 20,
  minIterations: 20,
  maxIterations: 400,
  every: 5,
  driftTolerance: 0,
  exploitabilityStdErrors: 2
};

export interface CurveCheck {
  readonly name: string;
  readonly fit: LinearFit;
  /** slope x window: the reward change the fitted line implies over the window. */
  readonly drift: number;
  readonly flat: boolean;
}

export interface ExploitabilityEstimate {
  readonly gain: number;
  readonly gainStdError: number;
}

export type ConvergenceDecision = "continue" | "converged" | "cap";

export interface ConvergenceCheck {
  /** Iterations completed when the check ran. */
  readonly iterations: number;
  readonly curves: ReadonlyArray<CurveCheck>;
  readonly exploitability: (ExploitabilityEstimate & { readonly withinNoise: boolean }) | null;
  readonly decision: ConvergenceDecision;
}

export class ConvergenceRuleError extends Error {
  readonly _tag = "ConvergenceRuleError";
  constructor(reason: string) {
    super(`The convergence rule is not usable: ${reason}.`);
  }
}

export const validateConvergenceRule = (rule: ConvergenceRule): ConvergenceRule => {
  if (!Number.isInteger(rule.window) || rule.window < 3) throw new ConvergenceRuleError(`window must be an integer >= 3 (a slope needs 3 points), got ${rule.window}`);
  if (!Number.isInteger(rule.every) || rule.every < 1) throw new ConvergenceRuleError(`every must be a positive integer, got ${rule.every}`);
  if (!Number.isInteger(rule.maxIterations) || rule.maxIterations < 1) throw new ConvergenceRuleError(`maxIterations must be a positive integer, got ${rule.maxIterations}`);
  if (rule.minIterations < rule.window) throw new ConvergenceRuleError(`minIterations (${rule.minIterations}) must be at least the window (${rule.window})`);
  if (!(rule.driftTolerance >= 0)) throw new ConvergenceRuleError(`driftTolerance must be >= 0, got ${rule.driftTolerance}`);
  if (!(rule.exploitabilityStdErrors > 0)) throw new ConvergenceRuleError(`exploitabilityStdErrors must be > 0, got ${rule.exploitabilityStdErrors}`);
  return rule;
};

/** Whether a check is due after `iterations` completed iterations. */
export const convergenceCheckDue = (rule: ConvergenceRule, iterations: number): boolean =>
  iterations >= rule.maxIterations || (iterations >= rule.minIterations && iterations % rule.every === 0);

/** The slope test of one reward curve over its last `window` points. */
export const checkCurve = (name: string, curve: ArrayLike<number>, rule: ConvergenceRule): CurveCheck => {
  const start = Math.max(0, curve.length - rule.window);
  const x: number[] = [];
  const y: number[] = [];
  for (let i = start; i < curve.length; i++) {
    x.push(i);
    y.push(curve[i]!);
  }
  const fit = linearFit(x, y);
  const drift = fit.slope * rule.window;
  const identified = Number.isFinite(fit.ciLow) && Number.isFinite(fit.ciHigh);
  // Fewer than 3 points identify no slope: such a curve is not yet flat.
  const flat = identified && ((fit.ciLow <= 0 && fit.ciHigh >= 0) || Math.abs(drift) <= rule.driftTolerance);
  return { name, fit, drift, flat };
};

/**
 * The stopping decision after `iterations` completed iterations, given each tracked reward curve
 * (one value per iteration so far) and optionally an exploitability estimate.
 */
export const checkConvergence = (
  curves: Readonly<Record<string, ArrayLike<number>>>,
  iterations: number,
  rule: ConvergenceRule,
  exploitability: ExploitabilityEstimate | null = null
): ConvergenceCheck => {
  const checks = Object.entries(curves).map(([name, curve]) => checkCurve(name, curve, rule));
  const exploit =
    exploitability === null
      ? null
      : {
          ...exploitability,
          withinNoise: Math.abs(exploitability.gain) <= rule.exploitabilityStdErrors * exploitability.gainStdError
        };
  const settled = iterations >= rule.minIterations && checks.length > 0 && checks.every((c) => c.flat) && (exploit === null || exploit.withinNoise);
  const decision: ConvergenceDecision = settled ? "converged" : iterations >= rule.maxIterations ? "cap" : "continue";
  return { iterations, curves: checks, exploitability: exploit, decision };
};

/** One convergence check as plain numbers (what reports tabulate and checkpoints keep). */
export interface CheckSummary {
  readonly iterations: number;
  readonly decision: ConvergenceDecision;
  /** The deviation test when it ran (the slopes were flat): the deviator's gain and its standard error. */
  readonly exploitability: { readonly gain: number; readonly gainStdError: number; readonly withinNoise: boolean } | null;
  readonly curves: ReadonlyArray<{ readonly name: string; readonly slope: number; readonly ciLow: number; readonly ciHigh: number; readonly drift: number; readonly flat: boolean }>;
}

export const summariseCheck = (check: ConvergenceCheck): CheckSummary => ({
  iterations: check.iterations,
  decision: check.decision,
  exploitability: check.exploitability === null ? null : { gain: check.exploitability.gain, gainStdError: check.exploitability.gainStdError, withinNoise: check.exploitability.withinNoise },
  curves: check.curves.map((c) => ({ name: c.name, slope: c.fit.slope, ciLow: c.fit.ciLow, ciHigh: c.fit.ciHigh, drift: c.drift, flat: c.flat }))
});

/**
 * Whether the deviation test is due after `iterations` completed iterations: a check is due and
 * every curve is already flat (the test is the expensive half of the rule, so it runs only when
 * it can decide).
 */
export const deviationTestDue = (curves: Readonly<Record<string, ArrayLike<number>>>, iterations: number, rule: ConvergenceRule): boolean =>
  convergenceCheckDue(rule, iterations) && checkConvergence(curves, iterations, rule).decision === "converged";
