/**
 * A check of proposition 2.3 (paper section 2.3.1) on a given ECN variation sampler: the
 * long-range mean mu+/mu- and the discrete-time long-range covariance of the level volumes of
 * recursion (8), V_{n+1} = (1 - delta^-) V_n + delta^+, evaluated on the moments of the sampler's
 * step draws, against the same recursion simulated with the sampler's own draws. The closed forms
 * hold only for i.i.d. variations, so agreement says the sampler behaves as the theory assumes
 * (the fitted mixture does by construction; a history-dependent sampler need not), and
 * disagreement says the theory's long-range figures (and the depth calibration built on them) do
 * not describe the book the sampler drives. Both sides are Monte-Carlo estimates, so both carry a
 * batch-means standard error: the closed forms are evaluated per batch of draws (their error is
 * that of a nonlinear function of sampled moments), and the simulation is cut into consecutive
 * batches long enough to be nearly independent despite the recursion's memory. Every entry is
 * compared with a z-score and the verdict uses a Bonferroni threshold over all entries (Student's
 * t, since the standard errors come from few batches), so that an i.i.d. sampler is flagged at
 * most about 5% of the time. Plain TypeScript, deterministic given the `Random` passed in.
 */
import { studentTQuantile } from "../analysis/stats.ts";
import type { Random } from "../random/philox.ts";
import { applyHybridDelta } from "./samples.ts";
import { deltaMomentsFromSamples, longRangeCovarianceDiscrete, longRangeMean } from "./theory.ts";
import type { EcnVariationSampler } from "./variation-model.ts";

/** The part of a sampler the check draws from (hand-made samplers need not sample S0). */
export type StepSampler = Pick<EcnVariationSampler, "levels" | "sampleStep">;

export interface LongRangeCheckOptions {
  /** Step draws for the closed forms, split into `batches` equal batches. */
  readonly draws: number;
  /** Simulated steps kept after the burn-in, split into `batches` consecutive batches. */
  readonly steps: number;
  readonly batches: number;
  /** Simulated steps discarded first, so the start volumes are forgotten. */
  readonly burnIn: number;
}

/** Estimates and standard errors of the theory (closed forms on sampled moments) and of the simulation. */
export interface LongRangeEstimates<T> {
  readonly theory: T;
  readonly simulated: T;
  readonly theoryStdError: T;
  readonly simulatedStdError: T;
}

export interface LongRangeCheck {
  readonly levels: number;
  readonly steps: number;
  readonly draws: number;
  readonly batches: number;
  readonly mean: LongRangeEstimates<number[]>;
  /** L x L; both halves are filled, only i <= j is compared. */
  readonly covariance: LongRangeEstimates<number[][]>;
  readonly maxAbsZMean: number;
  readonly maxAbsZCovariance: number;
  readonly maxRelErrorMean: number;
  /** Over the diagonal (variances) only: off-diagonal closed forms may be 0. */
  readonly maxRelErrorVariance: number;
  /** L means plus L(L+1)/2 covariance entries. */
  readonly comparisons: number;
  /**
   * Two-sided quantile at a 5% family-wise level, Bonferroni over `comparisons`, of Student's t
   * with batches - 1 degrees of freedom: each standard error is estimated from `batches` batch
   * values; with the normal quantile an i.i.d. sampler failed 4 runs in 20 (10 levels, 20 batches).
   */
  readonly zThreshold: number;
  /** Every |z| <= zThreshold (false if any z is NaN, e.g. a level that never decreases). */
  readonly agrees: boolean;
}

const isPositiveInteger = (x: number): boolean => Number.isSafeInteger(x) && x > 0;

const validate = (sampler: StepSampler, L: number, start: readonly number[], options: LongRangeCheckOptions): void => {
  const { draws, steps, batches, burnIn } = options;
  if (!isPositiveInteger(L)) throw new RangeError(`levels must be a positive integer, got ${L}`);
  if (L !== 2 * sampler.levels) throw new RangeError(`levels ${L} does not match the sampler's ${sampler.levels} levels per side (expected ${2 * sampler.levels})`);
  if (start.length !== L) throw new RangeError(`start has ${start.length} volumes, expected levels = ${L}`);
  if (!start.every((v) => Number.isFinite(v) && v >= 0)) throw new RangeError(`start volumes must be finite and non-negative, got [${start.join(", ")}]`);
  if (!Number.isSafeInteger(batches) || batches < 2) throw new RangeError(`batches must be an integer >= 2 (a standard error needs two batches), got ${batches}`);
  // Each batch needs two rows for a (co)variance.
  if (!Number.isSafeInteger(draws) || draws % batches !== 0 || draws / batches < 2) {
    throw new RangeError(`draws must be a multiple of batches (${batches}) with at least 2 per batch, got ${draws}`);
  }
  if (!Number.isSafeInteger(steps) || steps % batches !== 0 || steps / batches < 2) {
    throw new RangeError(`steps must be a multiple of batches (${batches}) with at least 2 per batch, got ${steps}`);
  }
  if (!Number.isSafeInteger(burnIn) || burnIn < 0) throw new RangeError(`burnIn must be a non-negative integer, got ${burnIn}`);
};

/** Mean over batches and its standard error (across-batch sd / sqrt(batches)) of each of `width` entries. */
const batchSummary = (perBatch: Float64Array, batches: number, width: number): { mean: Float64Array; stdError: Float64Array } => {
  const mean = new Float64Array(width);
  const stdError = new Float64Array(width);
  for (let k = 0; k < width; k++) {
    let s = 0;
    for (let b = 0; b < batches; b++) s += perBatch[b * width + k]!;
    const m = s / batches;
    let ss = 0;
    for (let b = 0; b < batches; b++) {
      const e = perBatch[b * width + k]! - m;
      ss += e * e;
    }
    mean[k] = m;
    stdError[k] = Math.sqrt(ss / (batches - 1) / batches);
  }
  return { mean, stdError };
};

/**
 * Compares proposition 2.3's long-range mean and discrete covariance on the moments of `sampler`'s
 * step draws with recursion (8) run from `start` with its draws (see the module comment).
 * `levels` is L = 2m (asks then bids), the first L entries of each step draw. Deterministic given `rng`.
 */
export const checkLongRangeMoments = (
  sampler: StepSampler,
  levels: number,
  start: readonly number[],
  options: LongRangeCheckOptions,
  rng: Random
): LongRangeCheck => {
  validate(sampler, levels, start, options);
  const L = levels;
  const LL = L * L;
  const { draws, steps, batches, burnIn } = options;
  const stride = 2 * sampler.levels + 2;

  // Closed forms per batch of draws.
  const drawRng = rng.split("theory");
  const perDrawBatch = draws / batches;
  const rows = new Float64Array(perDrawBatch * stride);
  const row = new Float64Array(stride);
  const theoryMeans = new Float64Array(batches * L);
  const theoryCovariances = new Float64Array(batches * LL);
  for (let b = 0; b < batches; b++) {
    for (let r = 0; r < perDrawBatch; r++) {
      sampler.sampleStep(drawRng, row);
      rows.set(row, r * stride);
    }
    const moments = deltaMomentsFromSamples(rows, perDrawBatch, stride, L);
    theoryMeans.set(longRangeMean(moments), b * L);
    theoryCovariances.set(longRangeCovarianceDiscrete(moments), b * LL);
  }

  // The recursion, batch by batch; (co)variances accumulate around the batch's first volumes so
  // that large depths do not cancel away the digits of small variances.
  const simulateRng = rng.split("simulate");
  const volume = Float64Array.from(start);
  for (let n = 0; n < burnIn; n++) {
    sampler.sampleStep(simulateRng, row);
    for (let j = 0; j < L; j++) volume[j] = applyHybridDelta(volume[j]!, row[j]!);
  }
  const perStepBatch = steps / batches;
  const simulatedMeans = new Float64Array(batches * L);
  const simulatedCovariances = new Float64Array(batches * LL);
  const shift = new Float64Array(L);
  const x = new Float64Array(L);
  const sum = new Float64Array(L);
  const products = new Float64Array((L * (L + 1)) / 2);
  for (let b = 0; b < batches; b++) {
    shift.set(volume);
    sum.fill(0);
    products.fill(0);
    for (let n = 0; n < perStepBatch; n++) {
      sampler.sampleStep(simulateRng, row);
      for (let j = 0; j < L; j++) {
        const v = applyHybridDelta(volume[j]!, row[j]!);
        volume[j] = v;
        const centred = v - shift[j]!;
        x[j] = centred;
        sum[j] = sum[j]! + centred;
      }
      let k = 0;
      for (let i = 0; i < L; i++) {
        const xi = x[i]!;
        for (let j = i; j < L; j++) {
          products[k] = products[k]! + xi * x[j]!;
          k++;
        }
      }
    }
    let k = 0;
    for (let i = 0; i < L; i++) {
      const mi = sum[i]! / perStepBatch;
      simulatedMeans[b * L + i] = shift[i]! + mi;
      for (let j = i; j < L; j++, k++) {
        const c = products[k]! / perStepBatch - mi * (sum[j]! / perStepBatch);
        simulatedCovariances[b * LL + i * L + j] = c;
        simulatedCovariances[b * LL + j * L + i] = c;
      }
    }
  }

  const theoryMean = batchSummary(theoryMeans, batches, L);
  const theoryCovariance = batchSummary(theoryCovariances, batches, LL);
  const simulatedMean = batchSummary(simulatedMeans, batches, L);
  const simulatedCovariance = batchSummary(simulatedCovariances, batches, LL);

  const z = (sim: { mean: Float64Array; stdError: Float64Array }, th: { mean: Float64Array; stdError: Float64Array }, k: number): number =>
    (sim.mean[k]! - th.mean[k]!) / Math.hypot(sim.stdError[k]!, th.stdError[k]!);
  const relativeError = (sim: Float64Array, th: Float64Array, k: number): number => Math.abs(sim[k]! - th[k]!) / Math.abs(th[k]!);

  const comparisons = L + (L * (L + 1)) / 2;
  // Conservative: z combines two standard errors of batches - 1 degrees of freedom each, so its
  // Welch-Satterthwaite degrees of freedom are between batches - 1 and 2 (batches - 1).
  const zThreshold = studentTQuantile(1 - 0.05 / (2 * comparisons), batches - 1);
  // NaN (undefined theory, or two zero standard errors) propagates through Math.max and fails `agrees`.
  let agrees = true;
  let maxAbsZMean = 0;
  let maxRelErrorMean = 0;
  for (let i = 0; i < L; i++) {
    const zi = Math.abs(z(simulatedMean, theoryMean, i));
    maxAbsZMean = Math.max(maxAbsZMean, zi);
    maxRelErrorMean = Math.max(maxRelErrorMean, relativeError(simulatedMean.mean, theoryMean.mean, i));
    if (!(zi <= zThreshold)) agrees = false;
  }
  let maxAbsZCovariance = 0;
  let maxRelErrorVariance = 0;
  for (let i = 0; i < L; i++) {
    maxRelErrorVariance = Math.max(maxRelErrorVariance, relativeError(simulatedCovariance.mean, theoryCovariance.mean, i * L + i));
    for (let j = i; j < L; j++) {
      const zij = Math.abs(z(simulatedCovariance, theoryCovariance, i * L + j));
      maxAbsZCovariance = Math.max(maxAbsZCovariance, zij);
      if (!(zij <= zThreshold)) agrees = false;
    }
  }

  const matrix = (a: Float64Array): number[][] => Array.from({ length: L }, (_, i) => Array.from(a.subarray(i * L, (i + 1) * L)));
  return {
    levels: L,
    steps,
    draws,
    batches,
    mean: {
      theory: Array.from(theoryMean.mean),
      simulated: Array.from(simulatedMean.mean),
      theoryStdError: Array.from(theoryMean.stdError),
      simulatedStdError: Array.from(simulatedMean.stdError)
    },
    covariance: {
      theory: matrix(theoryCovariance.mean),
      simulated: matrix(simulatedCovariance.mean),
      theoryStdError: matrix(theoryCovariance.stdError),
      simulatedStdError: matrix(simulatedCovariance.stdError)
    },
    maxAbsZMean,
    maxAbsZCovariance,
    maxRelErrorMean,
    maxRelErrorVariance,
    comparisons,
    zThreshold,
    agrees
  };
};
