/**
 * Paired comparison of two markets on common random numbers (paper section 1: "study, from an
 * empirical perspective, specific what-if scenarios"; section 5.2 for the metrics compared). A
 * what-if scenario and its baseline are evaluated on the same episode seeds, so episode e of the
 * scenario and episode e of the baseline share their LT types, ECN path and every other draw
 * that the change does not touch. The difference of a metric is then estimated from the
 * per-episode differences d_e = scenario_e - baseline_e: their mean, its standard error and a
 * Student-t confidence interval with n - 1 degrees of freedom. Pairing removes the variance the
 * two runs share, which is what makes a small effect measurable in few episodes; an unpaired
 * interval is reported beside it so the gain from pairing is visible.
 */
import { studentTQuantile } from "./stats.ts";

export interface PairedDifference {
  /** Mean over episodes of scenario - baseline. */
  readonly mean: number;
  readonly stdError: number;
  /** Two-sided confidence interval of the mean difference at `level`. */
  readonly ciLow: number;
  readonly ciHigh: number;
  readonly level: number;
  /** Episodes where both values are finite. */
  readonly n: number;
  readonly baselineMean: number;
  readonly scenarioMean: number;
  /** Standard error the difference would have if the two samples were independent (Welch). */
  readonly unpairedStdError: number;
}

export class PairedSampleError extends Error {
  readonly _tag = "PairedSampleError";
  constructor(baseline: number, scenario: number) {
    super(
      `A paired comparison needs one baseline and one scenario value per episode, got ${baseline} and ${scenario}; evaluate both on the same episode seeds.`
    );
  }
}

const variance = (values: ReadonlyArray<number>, mean: number): number => {
  let ss = 0;
  for (const v of values) ss += (v - mean) ** 2;
  return values.length > 1 ? ss / (values.length - 1) : Number.NaN;
};

const average = (values: ReadonlyArray<number>): number => {
  let sum = 0;
  for (const v of values) sum += v;
  return values.length > 0 ? sum / values.length : Number.NaN;
};

/**
 * The paired difference scenario - baseline over the episodes where both are finite. Fewer than
 * two such episodes give a NaN interval (the spread is not identified); identical differences
 * give a zero-width interval at their common value.
 */
export const pairedDifference = (baseline: ArrayLike<number>, scenario: ArrayLike<number>, level = 0.95): PairedDifference => {
  if (baseline.length !== scenario.length) throw new PairedSampleError(baseline.length, scenario.length);
  if (!(level > 0 && level < 1)) throw new RangeError(`pairedDifference: level must be in (0, 1), got ${level}.`);
  const b: number[] = [];
  const s: number[] = [];
  const d: number[] = [];
  for (let e = 0; e < baseline.length; e++) {
    const be = baseline[e]!;
    const se = scenario[e]!;
    if (!Number.isFinite(be) || !Number.isFinite(se)) continue;
    b.push(be);
    s.push(se);
    d.push(se - be);
  }
  const n = d.length;
  const mean = average(d);
  const stdError = Math.sqrt(variance(d, mean) / n);
  const half = n > 1 ? studentTQuantile(0.5 + level / 2, n - 1) * stdError : Number.NaN;
  const baselineMean = average(b);
  const scenarioMean = average(s);
  const unpairedStdError = Math.sqrt(variance(b, baselineMean) / n + variance(s, scenarioMean) / n);
  return { mean, stdError, ciLow: mean - half, ciHigh: mean + half, level, n, baselineMean, scenarioMean, unpairedStdError };
};

/** True when the interval lies wholly on one side of 0 (a NaN interval excludes nothing). */
export const excludesZero = (difference: Pick<PairedDifference, "ciLow" | "ciHigh">): boolean =>
  (difference.ciLow > 0 && difference.ciHigh > 0) || (difference.ciLow < 0 && difference.ciHigh < 0);
