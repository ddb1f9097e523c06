/**
 * A box-constrained quasi-Newton minimiser (projected L-BFGS with a backtracking Armijo line
 * search), used twice by the Bayesian-optimisation baseline of paper section 5.1: to
 * maximise the GP log marginal likelihood over log-hyperparameters, and to refine the maximiser of
 * the acquisition function inside the unit box. It is deterministic (no random draws): restarts
 * and starting points are the caller's business.
 *
 * Why projected L-BFGS rather than full L-BFGS-B: the problems here are small (d <= 25 or so),
 * their optima rarely sit on many bounds at once, and the projection keeps the code short. A
 * point where the objective is not finite (e.g. a covariance matrix that is not positive
 * definite) is treated as a failed step and the line search backs off.
 */

export interface BoxMinimizerParams {
  /** Maximum number of quasi-Newton iterations. */
  maxIterations: number;
  /** Number of (s, y) pairs kept for the inverse-Hessian approximation. */
  memory: number;
  /** Stop when every component of the projected gradient is below this in magnitude. */
  gradientTolerance: number;
  /** Stop when an iteration lowers the objective by less than this times max(1, |f|). */
  relativeTolerance: number;
  /** Maximum number of step halvings per line search. */
  maxLineSearchSteps: number;
}

export const defaultBoxMinimizerParams: BoxMinimizerParams = {
  maxIterations: 100,
  memory: 8,
  gradientTolerance: 1e-6,
  relativeTolerance: 1e-10,
  maxLineSearchSteps: 40
};

/** Objective: returns f(x) and writes its gradient into `gradient`. */
export type BoxObjective = (x: Float64Array, gradient: Float64Array) => number;

export interface BoxMinimum {
  x: Float64Array;
  value: number;
  iterations: number;
  evaluations: number;
}

const clampInto = (x: Float64Array, lower: ArrayLike<number>, upper: ArrayLike<number>): void => {
  for (let i = 0; i < x.length; i++) x[i] = Math.min(upper[i]!, Math.max(lower[i]!, x[i]!));
};

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/**
 * Minimises `objective` over the box [lower, upper] starting from `start` (clamped into the box).
 * Returns the best point seen.
 */
export const minimizeInBox = (
  objective: BoxObjective,
  start: ArrayLike<number>,
  lower: ArrayLike<number>,
  upper: ArrayLike<number>,
  params: BoxMinimizerParams = defaultBoxMinimizerParams
): BoxMinimum => {
  const d = start.length;
  const x = Float64Array.from(start);
  clampInto(x, lower, upper);
  const g = new Float64Array(d);
  let f = objective(x, g);
  let evaluations = 1;
  if (!Number.isFinite(f)) return { x, value: f, iterations: 0, evaluations };

  const sHistory: Float64Array[] = [];
  const yHistory: Float64Array[] = [];
  const rhoHistory: number[] = [];
  const direction = new Float64Array(d);
  const alpha = new Float64Array(params.memory);
  const xNew = new Float64Array(d);
  const gNew = new Float64Array(d);
  const atBound = (i: number, gi: number): boolean =>
    (x[i]! <= lower[i]! && gi > 0) || (x[i]! >= upper[i]! && gi < 0);

  let iterations = 0;
  for (; iterations < params.maxIterations; iterations++) {
    let projectedNorm = 0;
    for (let i = 0; i < d; i++) if (!atBound(i, g[i]!)) projectedNorm = Math.max(projectedNorm, Math.abs(g[i]!));
    if (projectedNorm < params.gradientTolerance) break;

    // Two-loop recursion on the projected gradient: direction = -H pg.
    for (let i = 0; i < d; i++) direction[i] = atBound(i, g[i]!) ? 0 : g[i]!;
    const m = sHistory.length;
    for (let k = m - 1; k >= 0; k--) {
      const a = rhoHistory[k]! * dot(sHistory[k]!, direction);
      alpha[k] = a;
      const yk = yHistory[k]!;
      for (let i = 0; i < d; i++) direction[i]! -= a * yk[i]!;
    }
    if (m > 0) {
      const gamma = dot(sHistory[m - 1]!, yHistory[m - 1]!) / dot(yHistory[m - 1]!, yHistory[m - 1]!);
      for (let i = 0; i < d; i++) direction[i]! *= gamma;
    }
    for (let k = 0; k < m; k++) {
      const b = rhoHistory[k]! * dot(yHistory[k]!, direction);
      const sk = sHistory[k]!;
      for (let i = 0; i < d; i++) direction[i]! += (alpha[k]! - b) * sk[i]!;
    }
    for (let i = 0; i < d; i++) direction[i] = -direction[i]!;
    // Variables pinned at a bound by their gradient stay there.
    for (let i = 0; i < d; i++) if (atBound(i, g[i]!)) direction[i] = 0;
    let slope = dot(direction, g);
    if (!(slope < 0)) {
      // Not a descent direction: fall back to projected steepest descent and forget the curvature.
      sHistory.length = 0;
      yHistory.length = 0;
      rhoHistory.length = 0;
      for (let i = 0; i < d; i++) direction[i] = atBound(i, g[i]!) ? 0 : -g[i]!;
      slope = dot(direction, g);
    }
    // First step of a steepest-descent direction is scaled to unit length (no curvature known yet).
    let step = sHistory.length === 0 ? Math.min(1, 1 / Math.sqrt(-slope)) : 1;
    let accepted = false;
    let fNew = f;
    for (let ls = 0; ls < params.maxLineSearchSteps; ls++) {
      for (let i = 0; i < d; i++) xNew[i] = x[i]! + step * direction[i]!;
      clampInto(xNew, lower, upper);
      let predicted = 0;
      for (let i = 0; i < d; i++) predicted += g[i]! * (xNew[i]! - x[i]!);
      fNew = objective(xNew, gNew);
      evaluations++;
      if (Number.isFinite(fNew) && fNew <= f + 1e-4 * predicted) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) {
      if (sHistory.length === 0) break;
      // The curvature model misled the search: forget it and retry from steepest descent.
      sHistory.length = 0;
      yHistory.length = 0;
      rhoHistory.length = 0;
      continue;
    }
    const s = new Float64Array(d);
    const y = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      s[i] = xNew[i]! - x[i]!;
      y[i] = gNew[i]! - g[i]!;
    }
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      sHistory.push(s);
      yHistory.push(y);
      rhoHistory.push(1 / sy);
      if (sHistory.length > params.memory) {
        sHistory.shift();
        yHistory.shift();
        rhoHistory.shift();
      }
    }
    const decrease = f - fNew;
    x.set(xNew);
    g.set(gNew);
    f = fNew;
    if (decrease < params.relativeTolerance * Math.max(1, Math.abs(f))) {
      iterations++;
      break;
    }
  }
  return { x, value: f, iterations, evaluations };
};
