/**
 * The vanilla ECN model of the paper's section 2.3.1: from a resampled
 * level-2 series it builds the S0 and S samples, fits one Gaussian mixture to each on the first
 * 70% (chronological split), scores them on train/validation/test, records BIC, the deeper-level
 * decay alpha, the typical order sizes, and the long-range mean/covariance of the level volumes
 * implied by the theory of proposition 2.3 next to the empirical ones and next to the fitted
 * model's simulated recursion (8). The result is plain JSON data (`EcnModelData`);
 * `gmmVariationModel` turns it into the `EcnVariationModel` the ECN agent samples from.
 *
 * Decisions: volumes are in lots (raw / volumeUnit) everywhere, prices in ticks. If the fitted
 * alpha is not positive (real books often thicken with depth in the top levels), alpha is floored
 * at `minAlpha` (default 0.01) and the raw slope is kept in `alphaFitted`, because the paper
 * requires alpha > 0 for the extrapolated book to be finite.
 *
 * The S samples are the paper's (hybrid deltas of eq. (8)), but the S mixture is fitted in a step
 * space (`StepSpace`): an increase stays in lots, a decrease becomes V_ref ln(V_{n+1}/V_n) with
 * V_ref the level's mean volume (for small decreases, the lots removed at the mean volume). Fitted
 * to delta itself, the mixture mixes a relative scale in [-1, 0) with an absolute one in lots:
 * Gaussians wide enough for increases of several lots put mass far below -1 (clipped, the level
 * emptied) and the spike of unchanged levels is smeared symmetrically, each relative -0.1 costing
 * a tenth of the level while the matching +0.1 adds a tenth of a lot. Measured on the default data
 * the model's long-run level volumes were about half the data's; in the step space they are within
 * 10%, and the log-likelihood of the delta samples is higher too (docs/ecn-model.md).
 *
 * Depth calibration ("long-run-mean", the default): after the fit, each level's increases are
 * multiplied by increaseScale_i so that the model's mu+/mu- (proposition 2.3) equals the data's
 * mean level volume. On real books the decreases are larger where the volume is larger
 * (E[delta^- V] > E[delta^-] E[V]), which i.i.d. variations cannot reproduce, so even the data's
 * own mu+/mu- overstates the depth, 1.07-1.86 times per level on the LOBSTER samples; the scale
 * (0.50-0.96 there, 0.92-1.00 on the default data) puts the simulated book at the data's depth.
 * `longRange.mean` keeps the uncalibrated figure (`fitted`) next to the calibrated one (`theory`).
 *
 * Degenerate data is refused with an `L2InputError` naming the data, not fitted: a book that never
 * changes (a stale feed, a halted session, a window outside trading hours) carries no dynamics to
 * learn, and a mixture of K components needs at least K distinct samples of S0 and of S, or its
 * components collapse onto single points and its scores mean nothing. A level whose volume never
 * decreases has mu^- = 0, where the long-range theory (mean mu^+ / mu^-) does not exist.
 */
import type { Random } from "../random/philox.ts";
import type { EcnVariationModel, EcnVariationSampler } from "./variation-model.ts";
import { fitGmm, gmmParameterCount, GmmSampler, scoreGmm, type GaussianMixture, type GmmFitOptions } from "./gmm.ts";
import type { LobsterData } from "./lobster.ts";
import {
  applyHybridDelta,
  buildSamples,
  chronologicalSplit,
  fitDecayRate,
  levelVolume,
  orderSizesFromMessages,
  orderSizesFromSnapshots,
  summariseDistribution,
  type EcnSamples
} from "./samples.ts";
import { inferTick, lastSecondsWindow, lobsterSnapshots, resample, toLots, toTicks, type SnapshotSeries } from "./snapshots.ts";
import { L2InputError } from "./errors.ts";
import { deltaMomentsFromSamples, longRangeCovarianceDiscrete, longRangeMean, type DeltaMoments } from "./theory.ts";

/** A mixture as plain JSON: weights[k], means[k][a], covariances[k][a][b]. */
export interface GaussianMixtureData {
  readonly nComponents: number;
  readonly dim: number;
  readonly weights: number[];
  readonly means: number[][];
  readonly covariances: number[][][];
}

export interface SplitScores {
  readonly train: number;
  readonly val: number;
  readonly test: number;
}

export interface LongRangeMoments {
  /**
   * Level order: ask 1..m then bid 1..m, in lots. `theory`: mu+/mu- of the model as sampled;
   * `fitted`: the same before the depth calibration; `theoryFromData`: mu+/mu- of the training
   * samples; `empirical`: the series' mean level volumes; `simulated`: the mean of recursion (8)
   * run with fresh draws of the model as sampled.
   */
  readonly mean: {
    readonly theory: number[];
    readonly fitted: number[];
    readonly theoryFromData: number[];
    readonly empirical: number[];
    readonly simulated: number[];
  };
  readonly covariance: { readonly theory: number[][]; readonly theoryFromData: number[][]; readonly empirical: number[][] };
}

/**
 * How a draw z of the S mixture's first 2m coordinates becomes the hybrid variation delta of
 * eq. (8), level by level: an increase delta = increaseScale_i z when z >= 0 (lots); a decrease
 * delta = exp(z / reference_i) - 1 when z < 0, i.e. z = reference_i ln(V_{n+1} / V_n): for small
 * decreases, the lots removed at the reference volume; a draw does not empty the level (delta > -1).
 * A model without a step space has its mixture over delta itself (the paper's literal fit), and
 * its draws are clipped to delta >= -1.
 */
export interface StepSpace {
  readonly reference: readonly number[];
  readonly increaseScale: readonly number[];
}

/** What the depth calibration does: nothing, or scale increases so mu+/mu- is the mean volume. */
export type DepthCalibration = "long-run-mean" | "none";

/** A fitted vanilla ECN model, serialisable as JSON. */
export interface EcnModelData {
  readonly kind: "gmm-ecn-model";
  readonly version: 2;
  readonly levels: number;
  readonly alpha: number;
  readonly alphaFitted: number;
  readonly tick: number;
  readonly volumeUnit: number;
  /** Typical order sizes in lots (an empirical distribution, drawn uniformly). */
  readonly orderSizes: number[];
  readonly s0: GaussianMixtureData;
  /** The S mixture, over the fitting coordinates of `stepSpace` (delta, spread, mid change otherwise). */
  readonly s: GaussianMixtureData;
  readonly stepSpace: { reference: number[]; increaseScale: number[] };
  readonly depthCalibration: DepthCalibration;
  /** Mean log-likelihood per sample on each chronological part (S: of the delta samples, as sampled). */
  readonly scores: { readonly S0: SplitScores; readonly S: SplitScores };
  /** BIC on the training part. */
  readonly bic: { readonly S0: number; readonly S: number };
  readonly sampleCounts: { readonly S0: SplitScores; readonly S: SplitScores };
  readonly fit: {
    readonly nComponents: number;
    readonly nInit: number;
    readonly S0: { readonly lowerBound: number; readonly converged: boolean; readonly iterations: number };
    readonly S: { readonly lowerBound: number; readonly converged: boolean; readonly iterations: number };
  };
  readonly longRange: LongRangeMoments;
}

export interface FitEcnOptions extends Omit<GmmFitOptions, "onIteration"> {
  /** Price units per tick; inferred from the data when absent. */
  readonly tick?: number;
  /** Raw volume per lot (default 1). */
  readonly volumeUnit?: number;
  /** Raw typical order sizes (e.g. LOBSTER message sizes); default: snapshot differences of `series`. */
  readonly rawOrderSizes?: Float64Array;
  /** Largest number of order sizes kept (evenly spaced quantiles beyond). Default 4096. */
  readonly maxOrderSizes?: number;
  readonly split?: readonly [number, number, number];
  readonly minAlpha?: number;
  /** Draws of the S mixture used to estimate the theory's moments (default 200,000). */
  readonly theoryDraws?: number;
  /** Steps of recursion (8) simulated with the fitted model after a burn-in (default 100,000). */
  readonly simulationSteps?: number;
  /** Default "long-run-mean": scale each level's increases so the model's mu+/mu- is the series' mean volume. */
  readonly depthCalibration?: DepthCalibration;
}

export const mixtureToData = (g: GaussianMixture): GaussianMixtureData => {
  const { nComponents: K, dim: d } = g;
  return {
    nComponents: K,
    dim: d,
    weights: Array.from(g.weights),
    means: Array.from({ length: K }, (_, k) => Array.from(g.means.subarray(k * d, k * d + d))),
    covariances: Array.from({ length: K }, (_, k) =>
      Array.from({ length: d }, (_, a) => Array.from(g.covariances.subarray(k * d * d + a * d, k * d * d + a * d + d)))
    )
  };
};

/** A mixture as read-only JSON (accepts both mutable and read-only decoded data). */
export interface ReadonlyGaussianMixtureData {
  readonly nComponents: number;
  readonly dim: number;
  readonly weights: readonly number[];
  readonly means: readonly (readonly number[])[];
  readonly covariances: readonly (readonly (readonly number[])[])[];
}

export const mixtureFromData = (g: ReadonlyGaussianMixtureData): GaussianMixture => ({
  nComponents: g.nComponents,
  dim: g.dim,
  weights: Float64Array.from(g.weights),
  means: Float64Array.from(g.means.flat()),
  covariances: Float64Array.from(g.covariances.flat(2))
});

const toMatrix = (a: Float64Array, L: number): number[][] =>
  Array.from({ length: L }, (_, i) => Array.from(a.subarray(i * L, i * L + L)));

const rowsOf = (data: Float64Array, dim: number, [from, to]: readonly [number, number]) => data.subarray(from * dim, to * dim);

/** Empirical mean and covariance (1/n) of the 2m level volumes of a series (lots). */
const empiricalVolumeMoments = (series: SnapshotSeries): { mean: number[]; covariance: number[][] } => {
  const L = 2 * series.levels;
  const n = series.rows;
  const mean = new Float64Array(L);
  for (let r = 0; r < n; r++) for (let j = 0; j < L; j++) mean[j] = mean[j]! + levelVolume(series, r, j) / n;
  const cov = new Float64Array(L * L);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < L; i++) {
      const x = levelVolume(series, r, i) - mean[i]!;
      for (let j = 0; j < L; j++) cov[i * L + j] = cov[i * L + j]! + (x * (levelVolume(series, r, j) - mean[j]!)) / n;
    }
  }
  return { mean: Array.from(mean), covariance: toMatrix(cov, L) };
};

/** "ask level 2" / "bid level 1" for index j of the 2m level volumes (asks first). */
const levelName = (j: number, m: number): string => (j < m ? `ask level ${j + 1}` : `bid level ${j - m + 1}`);

/** Distinct rows among the first `count` rows of `data` (dim columns), counted up to `enough`. */
const distinctRows = (data: Float64Array, dim: number, count: number, enough: number): number => {
  const seen = new Set<string>();
  for (let r = 0; r < count && seen.size < enough; r++) seen.add(data.subarray(r * dim, r * dim + dim).join(","));
  return seen.size;
};

/** Refuses samples a K-component mixture cannot be fitted to (see the module comment). */
const checkFittable = (source: string, samples: EcnSamples, rows: number, s0: Float64Array, n0: number, s: Float64Array, nS: number, K: number): void => {
  const d0 = 2 * samples.levels + 1;
  const d = 2 * samples.levels + 2;
  const distinct0 = distinctRows(s0, d0, n0, K);
  const distinctS = distinctRows(s, d, nS, K);
  const fix = `the variation model needs at least ${K} distinct snapshots and ${K} distinct variations, one per mixture component`;
  // Every variation the same, with no volume or mid-price change: nothing ever moves.
  const still = samples.sCount > 0 && distinctRows(samples.s, d, samples.sCount, 2) === 1 && samples.s.subarray(0, d).every((v, a) => v === 0 || a === d - 2);
  if (still) {
    throw new L2InputError(
      source,
      0,
      `the book never changes (the ${rows} snapshots of the fitted window are all the same)`,
      `${fix}; pick a window where the market trades, or check the data`
    );
  }
  if (distinct0 < K || distinctS < K) {
    const [what, found, of] = distinct0 < K ? ["snapshots", distinct0, n0] : ["variations", distinctS, nS];
    throw new L2InputError(
      source,
      0,
      `the book barely changes: only ${found} distinct ${what} among the ${of} of the training part`,
      `${fix}; fit fewer mixture components (nComponents) or use a longer window`
    );
  }
};

/** Refuses moments with mu^- = 0 at some level: the long-range mean mu^+ / mu^- is undefined there. */
const checkMeanReverting = (source: string, moments: DeltaMoments, m: number, fitted: boolean): void => {
  const j = moments.muMinus.findIndex((v) => !(v > 0));
  if (j < 0) return;
  throw new L2InputError(
    source,
    0,
    fitted
      ? `the fitted variation model never lowers the volume at ${levelName(j, m)}, so the long-range theory (mean mu+/mu-) is undefined there`
      : `the volume at ${levelName(j, m)} never decreases in the training part, so the long-range theory (mean mu+/mu-) is undefined there`,
    "use a longer window in which every level of the book loses volume at times"
  );
};

/** The smallest remaining fraction 1 + delta a data decrease maps from (a level emptied in one step). */
const MIN_REMAINING = 1e-3;

/**
 * S rows (delta, spread, mid change) to the mixture's fitting coordinates (see `StepSpace`);
 * spread and mid change are kept, and so is everything without a step space. A new array.
 */
export const toStepFittingSpace = (rows: Float64Array, levels: number, space: StepSpace | undefined): Float64Array => {
  const L = 2 * levels;
  const d = L + 2;
  const out = Float64Array.from(rows);
  if (space === undefined) return out;
  for (let o = 0; o < out.length; o += d) {
    for (let j = 0; j < L; j++) {
      const x = out[o + j]!;
      out[o + j] = x >= 0 ? x / space.increaseScale[j]! : space.reference[j]! * Math.log(Math.max(1 + x, MIN_REMAINING));
    }
  }
  return out;
};

/**
 * Mean log-likelihood per S sample (delta, spread, mid change) under the model as sampled: the
 * mixture's density at the fitting coordinates times the Jacobian of the map from delta to them
 * (1 / increaseScale for delta >= 0, reference / (1 + delta) for delta < 0), so that it compares
 * with any other density of the same samples (the neural models').
 */
export const stepLogLikelihood = (data: { readonly levels: number; readonly s: ReadonlyGaussianMixtureData; readonly stepSpace?: StepSpace | undefined }, rows: Float64Array): number => {
  const L = 2 * data.levels;
  const d = L + 2;
  const n = Math.floor(rows.length / d);
  if (n === 0) return Number.NaN;
  const space = data.stepSpace;
  const mixture = mixtureFromData(data.s);
  if (space === undefined) return scoreGmm(mixture, rows.subarray(0, n * d));
  const logReference = space.reference.map(Math.log);
  const logScale = space.increaseScale.map(Math.log);
  let jacobian = 0;
  for (let o = 0; o < n * d; o += d) {
    for (let j = 0; j < L; j++) {
      const x = rows[o + j]!;
      jacobian += x >= 0 ? -logScale[j]! : logReference[j]! - Math.log(Math.max(1 + x, MIN_REMAINING));
    }
  }
  return scoreGmm(mixture, toStepFittingSpace(rows.subarray(0, n * d), data.levels, space)) + jacobian / n;
};

/**
 * Runs recursion (8) for `burnIn + steps` steps from `start` with draws of `sampler`, and returns
 * the mean level volumes over the last `steps` (the fitted model's long-run mean, measured).
 */
export const simulateRecursionMean = (sampler: EcnVariationSampler, start: readonly number[], steps: number, rng: Random, burnIn = 1000): Float64Array => {
  const L = start.length;
  const volume = Float64Array.from(start);
  const sum = new Float64Array(L);
  const row = new Float64Array(L + 2);
  for (let n = 0; n < burnIn + steps; n++) {
    sampler.sampleStep(rng, row);
    for (let j = 0; j < L; j++) {
      volume[j] = applyHybridDelta(volume[j]!, row[j]!);
      if (n >= burnIn) sum[j] = sum[j]! + volume[j]!;
    }
  }
  return sum.map((v) => v / steps);
};

/**
 * Fits the vanilla model on `series` (prices in price units, sizes raw), already resampled to the
 * simulation step. Deterministic given `rng`. The step space's reference volumes and the depth
 * target are the series' mean level volumes (one moment per level of the whole window, like alpha;
 * the mixtures themselves are fitted on the training part only).
 */
export const fitEcnModel = (rawSeries: SnapshotSeries, options: FitEcnOptions, rng: Random): EcnModelData => {
  const tick = options.tick ?? inferTick(rawSeries);
  const volumeUnit = options.volumeUnit ?? 1;
  const series = toTicks(toLots(rawSeries, volumeUnit), tick);
  const m = series.levels;
  const L = 2 * m;
  const samples = buildSamples(series);
  const d0 = L + 1;
  const d = L + 2;
  const split0 = chronologicalSplit(samples.s0Count, options.split);
  const splitS = chronologicalSplit(samples.sCount, options.split);
  const gmmOptions: GmmFitOptions = {
    nComponents: options.nComponents ?? 5,
    nInit: options.nInit ?? 1,
    ...(options.regCovar === undefined ? {} : { regCovar: options.regCovar }),
    ...(options.tol === undefined ? {} : { tol: options.tol }),
    ...(options.maxIter === undefined ? {} : { maxIter: options.maxIter })
  };
  const nTrainS = splitS.train[1] - splitS.train[0];
  const empirical = empiricalVolumeMoments(series);
  // Reference volumes and the depth target: the series' mean level volumes. Like alpha, they are
  // one moment per level of the whole window (the mixtures alone are fitted on the training part).
  const reference = empirical.mean.map((v) => (v > 0 && Number.isFinite(v) ? v : 1));
  const fittingSpace: StepSpace = { reference, increaseScale: new Array<number>(L).fill(1) };

  const train0 = rowsOf(samples.s0, d0, split0.train);
  const trainS = rowsOf(samples.s, d, splitS.train);
  const n0 = split0.train[1] - split0.train[0];
  const nS = splitS.train[1] - splitS.train[0];
  checkFittable(rawSeries.source, samples, series.rows, train0, n0, trainS, nS, gmmOptions.nComponents!);
  const fit0 = fitGmm(train0, split0.train[1] - split0.train[0], d0, gmmOptions, rng.split("S0"));
  const fitS = fitGmm(toStepFittingSpace(trainS, m, fittingSpace), nTrainS, d, gmmOptions, rng.split("S"));
  const s0 = mixtureToData(fit0.model);
  const s = mixtureToData(fitS.model);

  const alphaFitted = fitDecayRate(series);
  const minAlpha = options.minAlpha ?? 0.01;
  const alpha = Number.isFinite(alphaFitted) && alphaFitted > minAlpha ? alphaFitted : minAlpha;

  const rawSizes = options.rawOrderSizes ?? orderSizesFromSnapshots(rawSeries);
  const orderSizes = summariseDistribution(rawSizes.map((v) => v / volumeUnit), options.maxOrderSizes ?? 4096);

  // Theory: moments of delta+- under the fitted S mixture (clipped as the sampler does) and in the data.
  const draws = options.theoryDraws ?? 200_000;
  const drawStep = (space: StepSpace) => gmmVariationModel({ levels: m, alpha, tick, volumeUnit, orderSizes: [], s0, s, stepSpace: space }).forEpisode();
  const drawn = new Float64Array(draws * d);
  const drawRng = rng.split("theory");
  const row = new Float64Array(d);
  const fittedSampler = drawStep(fittingSpace);
  for (let r = 0; r < draws; r++) {
    fittedSampler.sampleStep(drawRng, row);
    drawn.set(row, r * d);
  }
  const fittedMoments = deltaMomentsFromSamples(drawn, draws, d, L);
  const fittedMean = longRangeMean(fittedMoments);
  const depthCalibration = options.depthCalibration ?? "long-run-mean";
  const increaseScale = fittedMean.map((mu, j) => {
    const c = reference[j]! / mu;
    return depthCalibration === "long-run-mean" && Number.isFinite(c) && c > 0 ? c : 1;
  });
  const stepSpace = { reference, increaseScale: Array.from(increaseScale) };
  // The same draws with the increases scaled are draws of the model as sampled.
  for (let r = 0; r < draws; r++) for (let j = 0; j < L; j++) if (drawn[r * d + j]! > 0) drawn[r * d + j] = drawn[r * d + j]! * increaseScale[j]!;
  const theoryMoments = deltaMomentsFromSamples(drawn, draws, d, L);
  const dataMoments = deltaMomentsFromSamples(trainS, nTrainS, d, L);
  checkMeanReverting(rawSeries.source, dataMoments, m, false);
  checkMeanReverting(rawSeries.source, theoryMoments, m, true);
  const simulated = simulateRecursionMean(drawStep(stepSpace), reference, options.simulationSteps ?? 100_000, rng.split("simulate"));

  const sampled = { levels: m, s, stepSpace };
  const score0 = (data: Float64Array) => scoreGmm(fit0.model, data);
  const scoreS = (data: Float64Array) => stepLogLikelihood(sampled, data);
  const score = (f: (data: Float64Array) => number, data: Float64Array, dim: number, sp: typeof split0): SplitScores => ({
    train: f(rowsOf(data, dim, sp.train)),
    val: sp.validation[1] > sp.validation[0] ? f(rowsOf(data, dim, sp.validation)) : Number.NaN,
    test: sp.test[1] > sp.test[0] ? f(rowsOf(data, dim, sp.test)) : Number.NaN
  });
  const counts = (sp: typeof split0): SplitScores => ({
    train: sp.train[1] - sp.train[0],
    val: sp.validation[1] - sp.validation[0],
    test: sp.test[1] - sp.test[0]
  });
  const scores = { S0: score(score0, samples.s0, d0, split0), S: score(scoreS, samples.s, d, splitS) };
  const bic = (trainScore: number, n: number, dim: number) => -2 * trainScore * n + gmmParameterCount(gmmOptions.nComponents!, dim) * Math.log(n);

  return {
    kind: "gmm-ecn-model",
    version: 2,
    levels: m,
    alpha,
    alphaFitted,
    tick,
    volumeUnit,
    orderSizes: Array.from(orderSizes),
    s0,
    s,
    stepSpace,
    depthCalibration,
    scores,
    bic: { S0: bic(scores.S0.train, split0.train[1] - split0.train[0], d0), S: bic(scores.S.train, nTrainS, d) },
    sampleCounts: { S0: counts(split0), S: counts(splitS) },
    fit: {
      nComponents: gmmOptions.nComponents!,
      nInit: gmmOptions.nInit!,
      S0: { lowerBound: fit0.lowerBound, converged: fit0.converged, iterations: fit0.iterations },
      S: { lowerBound: fitS.lowerBound, converged: fitS.converged, iterations: fitS.iterations }
    },
    longRange: {
      mean: {
        theory: Array.from(longRangeMean(theoryMoments)),
        fitted: Array.from(fittedMean),
        theoryFromData: Array.from(longRangeMean(dataMoments)),
        empirical: empirical.mean,
        simulated: Array.from(simulated)
      },
      covariance: {
        theory: toMatrix(longRangeCovarianceDiscrete(theoryMoments), L),
        theoryFromData: toMatrix(longRangeCovarianceDiscrete(dataMoments), L),
        empirical: empirical.covariance
      }
    }
  };
};

/** The parts of `EcnModelData` the sampler needs. */
export interface EcnSamplerData {
  readonly levels: number;
  readonly alpha: number;
  readonly tick: number;
  readonly volumeUnit: number;
  readonly orderSizes: readonly number[];
  readonly s0: ReadonlyGaussianMixtureData;
  readonly s: ReadonlyGaussianMixtureData;
  /** Absent: the S mixture is over delta itself, draws clipped to delta >= -1 (the paper's literal fit). */
  readonly stepSpace?: StepSpace | undefined;
  /** The fitted model's long-run level volumes (`theory`: mu+/mu- of the model as sampled); absent in hand-written models. */
  readonly longRange?: { readonly mean: { readonly theory: readonly number[] } } | undefined;
}

/**
 * The fitted model as the ECN agent's `EcnVariationModel`. Stateless (i.i.d. draws), so every
 * episode shares one sampler. S0: spread rounded to an integer >= 1. S: each level's draw mapped to
 * delta by the step space (delta > -1), or clipped to delta >= -1 without one, so delta^- is in
 * [0, 1]; spread rounded to an integer >= 1, mid change as drawn.
 */
export const gmmVariationModel = (data: EcnSamplerData): EcnVariationModel => {
  const m = data.levels;
  const initial = new GmmSampler(mixtureFromData(data.s0));
  const step = new GmmSampler(mixtureFromData(data.s));
  if (initial.dim !== 2 * m + 1 || step.dim !== 2 * m + 2) {
    throw new RangeError(`mixture dimensions ${initial.dim}/${step.dim} do not match ${m} levels (expected ${2 * m + 1}/${2 * m + 2})`);
  }
  const space = data.stepSpace;
  if (space !== undefined && (space.reference.length !== 2 * m || space.increaseScale.length !== 2 * m)) {
    throw new RangeError(`the step space has ${space.reference.length}/${space.increaseScale.length} levels, expected ${2 * m}`);
  }
  const inverseReference = space === undefined ? undefined : Float64Array.from(space.reference, (v) => 1 / v);
  const increaseScale = space === undefined ? undefined : Float64Array.from(space.increaseScale);
  const spreadIndex0 = 2 * m;
  const spreadIndex = 2 * m;
  const sampler: EcnVariationSampler = {
    levels: m,
    sampleInitial(rng: Random, out: Float64Array): void {
      initial.sampleInto(rng, out, 0);
      out[spreadIndex0] = Math.max(1, Math.round(out[spreadIndex0]!));
    },
    sampleStep(rng: Random, out: Float64Array): void {
      step.sampleInto(rng, out, 0);
      if (inverseReference === undefined || increaseScale === undefined) {
        for (let j = 0; j < 2 * m; j++) if (out[j]! < -1) out[j] = -1;
      } else {
        for (let j = 0; j < 2 * m; j++) {
          const z = out[j]!;
          out[j] = z >= 0 ? z * increaseScale[j]! : Math.exp(z * inverseReference[j]!) - 1;
        }
      }
      out[spreadIndex] = Math.max(1, Math.round(out[spreadIndex]!));
    }
  };
  return {
    levels: m,
    alpha: data.alpha,
    tick: data.tick,
    volumeUnit: data.volumeUnit,
    orderSizes: Float64Array.from(data.orderSizes),
    longRunVolumes: data.longRange === undefined ? undefined : Float64Array.from(data.longRange.mean.theory),
    forEpisode: () => sampler
  };
};

export interface PreparedEcnInput {
  /** Resampled series, prices in price units, raw sizes. */
  readonly series: SnapshotSeries;
  /** Raw typical order sizes at the data's finest resolution. */
  readonly rawOrderSizes: Float64Array;
  readonly tick: number;
}

export interface PrepareOptions {
  /** Resampling step in seconds (default 1). */
  readonly dt?: number;
  /** Keep the last `lastSeconds` of the session (default 7200, the last two hours). */
  readonly lastSeconds?: number;
  /** Session end in seconds after midnight (default: last update rounded up). */
  readonly sessionEnd?: number;
}

/**
 * LOBSTER data to model input: the orderbook as snapshots (dollars, shares), the last
 * `lastSeconds` resampled at dt, order sizes from the visible-level messages of that window.
 */
export const prepareLobsterInput = (data: LobsterData, options: PrepareOptions = {}): PreparedEcnInput => {
  const raw = lobsterSnapshots(data);
  const window = lastSecondsWindow(raw, options.lastSeconds ?? 7200, options.sessionEnd);
  const series = resample(raw, { dt: options.dt ?? 1, ...window });
  return {
    series,
    rawOrderSizes: orderSizesFromMessages(data.messages, window.windowStart, window.windowEnd),
    tick: inferTick(raw)
  };
};

/** A snapshot series to model input: the last window resampled at dt, order sizes from raw row differences. */
export const prepareSnapshotInput = (raw: SnapshotSeries, options: PrepareOptions = {}): PreparedEcnInput => {
  const window =
    options.lastSeconds === undefined ? { windowStart: raw.time[0]!, windowEnd: raw.time[raw.rows - 1]! + (options.dt ?? 1) } : lastSecondsWindow(raw, options.lastSeconds, options.sessionEnd);
  const series = resample(raw, { dt: options.dt ?? 1, ...window });
  let first = 0;
  while (first < raw.rows && raw.time[first]! < window.windowStart) first++;
  let last = first;
  while (last < raw.rows && raw.time[last]! < window.windowEnd) last++;
  const m = raw.levels;
  const slice = (a: Float64Array) => a.subarray(Math.max(0, first - 1) * m, last * m);
  const inWindow: SnapshotSeries = {
    source: raw.source,
    rows: last - Math.max(0, first - 1),
    levels: m,
    time: raw.time.subarray(Math.max(0, first - 1), last),
    askPrice: slice(raw.askPrice),
    askSize: slice(raw.askSize),
    bidPrice: slice(raw.bidPrice),
    bidSize: slice(raw.bidSize)
  };
  return { series, rawOrderSizes: orderSizesFromSnapshots(inWindow), tick: inferTick(raw) };
};
