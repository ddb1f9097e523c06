/**
 * Multivariate Gaussian mixtures with full covariances, fitted by expectation-maximisation with the
 * semantics of scikit-learn's `GaussianMixture` (the paper's vanilla ECN model of section
 * 2.3.1 fits one mixture to the S0 samples and one to the S samples with sklearn):
 * - initialisation `kmeans`: one k-means run (k-means++ seeding with 2 + floor(ln k) local trials,
 *   then Lloyd iterations, tolerance 1e-4 x mean feature variance, at most 300 iterations), whose
 *   hard labels are the initial responsibilities, turned into weights/means/covariances by an
 *   M-step;
 * - EM loop: E-step then M-step; the lower bound of an iteration is the mean log-likelihood of the
 *   parameters before its M-step; stop when it changes by less than `tol` (1e-3) or after `maxIter`
 *   (100) iterations;
 * - `nInit` restarts, keeping the one with the largest final lower bound;
 * - `regCovar` (1e-6) added to every covariance diagonal; component masses get 10 x machine epsilon.
 * Log densities use the Cholesky factor of each covariance; responsibilities use log-sum-exp.
 * Data are row-major Float64Arrays of n x dim. The fit runs on the distinct rows weighted by
 * multiplicity (sklearn's `sample_weight` semantics): the ECN samples are discrete and repeat
 * rows often, and the weighted sums are the raw ones. Given the same k-means labels, the fit
 * reproduces sklearn 1.2's lower bound, iteration count and test score to the printed digits;
 * the k-means++ draws come from `Random`, so single seeds differ from sklearn's but the
 * distribution of restart outcomes is the same (see test/bench/ecn.bench.ts).
 */
import type { Random } from "../random/philox.ts";
import { zigguratNormal } from "./ziggurat.ts";

/** A fitted mixture: K weights, K x dim means, K x dim x dim covariances (row-major). */
export interface GaussianMixture {
  readonly nComponents: number;
  readonly dim: number;
  readonly weights: Float64Array;
  readonly means: Float64Array;
  readonly covariances: Float64Array;
}

export interface GmmFitOptions {
  /** Number of components (default 5). */
  readonly nComponents?: number;
  /** Restarts; the best final lower bound wins (default 1, as in sklearn). */
  readonly nInit?: number;
  readonly regCovar?: number;
  readonly tol?: number;
  readonly maxIter?: number;
  /** Called after every EM iteration with the restart index, iteration (1-based) and lower bound. */
  readonly onIteration?: (restart: number, iteration: number, lowerBound: number) => void;
  /**
   * Called with every restart's final fit, kept or not: the spread of restart outcomes tells
   * whether a difference between two fitters is more than the luck of the initialisation.
   */
  readonly onRestart?: (restart: number, fit: GmmFit) => void;
}

export interface GmmFit {
  readonly model: GaussianMixture;
  /** Mean log-likelihood per sample of the kept restart at its last E-step. */
  readonly lowerBound: number;
  readonly converged: boolean;
  readonly iterations: number;
}

/** A covariance that is not positive definite even after `regCovar`. */
export class GmmFitError extends Error {
  readonly _tag = "GmmFitError" as const;
  constructor(readonly problem: string) {
    super(`${problem}; increase regCovar, reduce nComponents, or remove duplicated/constant samples.`);
    this.name = "GmmFitError";
  }
}

const LOG_2PI = Math.log(2 * Math.PI);
const EPS10 = 10 * 2.220446049250313e-16;

/**
 * In-place lower Cholesky factor of the dim x dim matrix at `offset` of `a` (upper part zeroed).
 * Returns false if the matrix is not positive definite.
 */
export const choleskyInPlace = (a: Float64Array, dim: number, offset = 0): boolean => {
  for (let j = 0; j < dim; j++) {
    const rowJ = offset + j * dim;
    let diag = a[rowJ + j]!;
    for (let k = 0; k < j; k++) diag -= a[rowJ + k]! * a[rowJ + k]!;
    if (!(diag > 0)) return false;
    const ljj = Math.sqrt(diag);
    a[rowJ + j] = ljj;
    for (let i = j + 1; i < dim; i++) {
      const rowI = offset + i * dim;
      let s = a[rowI + j]!;
      for (let k = 0; k < j; k++) s -= a[rowI + k]! * a[rowJ + k]!;
      a[rowI + j] = s / ljj;
    }
    for (let k = j + 1; k < dim; k++) a[rowJ + k] = 0;
  }
  return true;
};

/**
 * Cholesky factors of every component with the reciprocals of their diagonals (the forward
 * substitution multiplies instead of dividing) and the log normalising constants.
 */
interface Factors {
  readonly chol: Float64Array;
  /** 1 / L_k[r][r], K x dim */
  readonly invDiag: Float64Array;
  /** log w_k - 0.5 (dim ln 2pi + ln det Sigma_k) */
  readonly logConst: Float64Array;
}

/** Factors of `model`, written into `into` when given (the EM loop reuses one set of buffers). */
const factorise = (model: GaussianMixture, into?: Factors): Factors => {
  const { nComponents: K, dim: d } = model;
  const factors = into ?? { chol: new Float64Array(K * d * d), invDiag: new Float64Array(K * d), logConst: new Float64Array(K) };
  const { chol, invDiag, logConst } = factors;
  chol.set(model.covariances);
  for (let k = 0; k < K; k++) {
    if (!choleskyInPlace(chol, d, k * d * d)) {
      throw new GmmFitError(`the covariance of component ${k + 1} is not positive definite`);
    }
    let logDet = 0;
    for (let i = 0; i < d; i++) {
      const lii = chol[k * d * d + i * d + i]!;
      invDiag[k * d + i] = 1 / lii;
      logDet += 2 * Math.log(lii);
    }
    logConst[k] = Math.log(model.weights[k]!) - 0.5 * (d * LOG_2PI + logDet);
  }
  return factors;
};

/**
 * Writes log(w_k N(x_i; mu_k, Sigma_k)) into `out` (n x K), log sum_k of them into `logNorm`
 * (length n) and returns the sum of `logNorm`, each term times its row's multiplicity when
 * `multiplicity` is given. With `normalise`, `out` receives the
 * responsibilities exp(out - logNorm) instead, from the exponentials the log-sum-exp already
 * computed (the E-step then needs n x K exponentials, not 2 n x K).
 * The component loop is outermost so that one factor and mean stay hot over all samples.
 */
const weightedLogProb = (
  model: GaussianMixture,
  factors: Factors,
  data: Float64Array,
  n: number,
  out: Float64Array,
  logNorm: Float64Array,
  normalise = false,
  multiplicity?: Float64Array
): number => {
  const { nComponents: K, dim: d, means } = model;
  const { chol, invDiag, logConst } = factors;
  const y = new Float64Array(d);
  const z = new Float64Array(d);
  for (let k = 0; k < K; k++) {
    const mo = k * d;
    const co = k * d * d;
    const lc = logConst[k]!;
    let i = 0;
    // Forward substitution L y = x - mu for two samples per pass: each substitution is one long
    // dependency chain, and interleaving two independent ones keeps the FPU busy (1.35x here).
    for (; i + 1 < n; i += 2) {
      const xo = i * d;
      const xp = xo + d;
      let mahaY = 0;
      let mahaZ = 0;
      for (let r = 0; r < d; r++) {
        const mu = means[mo + r]!;
        let s = data[xo + r]! - mu;
        let t = data[xp + r]! - mu;
        const row = co + r * d;
        for (let c = 0; c < r; c++) {
          const l = chol[row + c]!;
          s -= l * y[c]!;
          t -= l * z[c]!;
        }
        const inv = invDiag[mo + r]!;
        const v = s * inv;
        const u = t * inv;
        y[r] = v;
        z[r] = u;
        mahaY += v * v;
        mahaZ += u * u;
      }
      out[i * K + k] = lc - 0.5 * mahaY;
      out[(i + 1) * K + k] = lc - 0.5 * mahaZ;
    }
    for (; i < n; i++) {
      const xo = i * d;
      let maha = 0;
      for (let r = 0; r < d; r++) {
        let s = data[xo + r]! - means[mo + r]!;
        const row = co + r * d;
        for (let c = 0; c < r; c++) s -= chol[row + c]! * y[c]!;
        const v = s * invDiag[mo + r]!;
        y[r] = v;
        maha += v * v;
      }
      out[i * K + k] = lc - 0.5 * maha;
    }
  }
  let total = 0;
  for (let i = 0, o = 0; i < n; i++, o += K) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) if (out[o + k]! > max) max = out[o + k]!;
    let sum = 0;
    if (normalise) {
      for (let k = 0; k < K; k++) {
        const e = Math.exp(out[o + k]! - max);
        out[o + k] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let k = 0; k < K; k++) out[o + k] = out[o + k]! * inv;
    } else {
      for (let k = 0; k < K; k++) sum += Math.exp(out[o + k]! - max);
    }
    const ln = max + Math.log(sum);
    logNorm[i] = ln;
    total += multiplicity === undefined ? ln : multiplicity[i]! * ln;
  }
  return total;
};

/** Per-sample log-likelihoods log p(x_i) under the mixture. */
export const logLikelihoods = (model: GaussianMixture, data: Float64Array): Float64Array => {
  const n = Math.floor(data.length / model.dim);
  const buffer = new Float64Array(n * model.nComponents);
  const logNorm = new Float64Array(n);
  weightedLogProb(model, factorise(model), data, n, buffer, logNorm);
  return logNorm;
};

/** Mean log-likelihood per sample (sklearn's `score`). */
export const scoreGmm = (model: GaussianMixture, data: Float64Array): number => {
  const ll = logLikelihoods(model, data);
  let s = 0;
  for (const v of ll) s += v;
  return s / ll.length;
};

/** Number of free parameters of a full-covariance mixture. */
export const gmmParameterCount = (nComponents: number, dim: number): number =>
  nComponents * ((dim * (dim + 1)) / 2) + nComponents * dim + nComponents - 1;

/** Bayesian information criterion on `data` (lower is better), as sklearn's `bic`. */
export const bicGmm = (model: GaussianMixture, data: Float64Array): number => {
  const n = Math.floor(data.length / model.dim);
  return -2 * scoreGmm(model, data) * n + gmmParameterCount(model.nComponents, model.dim) * Math.log(n);
};

/**
 * The distinct rows of `data` and how often each occurs. Level volumes and spreads are discrete,
 * so the ECN samples repeat rows a lot (about 40% of the 1-second LOBSTER rows are repeats);
 * k-means and EM on distinct rows weighted by multiplicity compute exactly the same sums as on
 * the raw rows (sklearn's `sample_weight` semantics), in proportionally less time.
 */
export const distinctRows = (
  data: Float64Array,
  n: number,
  d: number
): { readonly rows: Float64Array; readonly multiplicity: Float64Array; readonly count: number } => {
  const index = new Map<string, number>();
  const rows = new Float64Array(n * d);
  const multiplicity = new Float64Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const row = data.subarray(i * d, i * d + d);
    const key = row.join(",");
    const seen = index.get(key);
    if (seen === undefined) {
      index.set(key, count);
      rows.set(row, count * d);
      multiplicity[count] = 1;
      count++;
    } else {
      multiplicity[seen] = multiplicity[seen]! + 1;
    }
  }
  return { rows: rows.slice(0, count * d), multiplicity: multiplicity.slice(0, count), count };
};

/** Column-major copy (dim x n) of row-major data, so that the M-step's sums run over contiguous memory. */
const transpose = (data: Float64Array, n: number, d: number): Float64Array => {
  const cols = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) cols[a * n + i] = data[i * d + a]!;
  return cols;
};

/** Buffers of the M-step, allocated once per fit. */
interface MStepScratch {
  /** resp[:, k] x multiplicity, length n */
  readonly rk: Float64Array;
  /** x - mu_k, dim x n */
  readonly diff: Float64Array;
  /** rk (x - mu_k), dim x n */
  readonly weighted: Float64Array;
}

const mStepScratch = (n: number, d: number): MStepScratch => ({
  rk: new Float64Array(n),
  diff: new Float64Array(n * d),
  weighted: new Float64Array(n * d)
});

/**
 * M-step as sklearn's `_estimate_gaussian_parameters` ("full"): N_k = sum_i m_i r_ik + 10 eps,
 * means sum_i m_i r_ik x_i / N_k, covariances sum_i m_i r_ik (x_i - mu_k)(x_i - mu_k)^T / N_k plus
 * `regCovar` on the diagonal, weights N_k / sum N_k; m_i is the multiplicity of row i. `cols` is the
 * data column-major (dim x n), `resp` the responsibilities (n x K). Every covariance entry is a dot
 * product of two contiguous columns, summed with four accumulators: a single running sum is
 * bound by the latency of floating-point addition.
 */
const estimateParameters = (
  cols: Float64Array,
  n: number,
  d: number,
  multiplicity: Float64Array,
  resp: Float64Array,
  K: number,
  regCovar: number,
  scratch: MStepScratch
): GaussianMixture => {
  const nk = new Float64Array(K);
  const means = new Float64Array(K * d);
  const covariances = new Float64Array(K * d * d);
  const { rk, diff, weighted } = scratch;
  for (let k = 0; k < K; k++) {
    let mass = 0;
    for (let i = 0, o = k; i < n; i++, o += K) {
      const r = resp[o]! * multiplicity[i]!;
      rk[i] = r;
      mass += r;
    }
    mass += EPS10;
    nk[k] = mass;
    for (let a = 0; a < d; a++) {
      const base = a * n;
      let s = 0;
      for (let i = 0; i < n; i++) s += rk[i]! * cols[base + i]!;
      const mu = s / mass;
      means[k * d + a] = mu;
      for (let i = 0; i < n; i++) {
        const v = cols[base + i]! - mu;
        diff[base + i] = v;
        weighted[base + i] = rk[i]! * v;
      }
    }
    const co = k * d * d;
    for (let a = 0; a < d; a++) {
      const wa = a * n;
      for (let b = 0; b <= a; b++) {
        const db = b * n;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        let i = 0;
        for (; i + 3 < n; i += 4) {
          s0 += weighted[wa + i]! * diff[db + i]!;
          s1 += weighted[wa + i + 1]! * diff[db + i + 1]!;
          s2 += weighted[wa + i + 2]! * diff[db + i + 2]!;
          s3 += weighted[wa + i + 3]! * diff[db + i + 3]!;
        }
        for (; i < n; i++) s0 += weighted[wa + i]! * diff[db + i]!;
        const v = (s0 + s1 + (s2 + s3)) / mass;
        covariances[co + a * d + b] = v;
        covariances[co + b * d + a] = v;
      }
      covariances[co + a * d + a] = covariances[co + a * d + a]! + regCovar;
    }
  }
  let total = 0;
  for (let k = 0; k < K; k++) total += nk[k]!;
  const weights = nk.map((v) => v / total);
  return { nComponents: K, dim: d, weights, means, covariances };
};

const squaredDistance = (data: Float64Array, i: number, centers: Float64Array, c: number, d: number): number => {
  let s = 0;
  for (let a = 0; a < d; a++) {
    const t = data[i * d + a]! - centers[c * d + a]!;
    s += t * t;
  }
  return s;
};

/** Index of the first cumulative value >= target (numpy searchsorted, side="left"), clipped to n-1. */
const searchSorted = (cumulative: Float64Array, target: number): number => {
  let lo = 0;
  let hi = cumulative.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return Math.min(lo, cumulative.length - 1);
};

const ones = (n: number): Float64Array => new Float64Array(n).fill(1);

/**
 * k-means++ seeding as sklearn's `_kmeans_plusplus` (greedy, 2 + floor(ln k) local trials), with
 * sample weights: the first centre is drawn with probability proportional to the weight, the
 * others proportional to weight x squared distance, and a candidate's potential is the weighted
 * sum of squared distances; with unit weights this is the unweighted algorithm.
 */
export const kmeansPlusPlus = (
  data: Float64Array,
  n: number,
  d: number,
  k: number,
  rng: Random,
  weights: Float64Array = ones(n)
): Float64Array => {
  const centers = new Float64Array(k * d);
  const localTrials = 2 + Math.floor(Math.log(k));
  const cumulative = new Float64Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) cumulative[i] = acc += weights[i]!;
  const first = searchSorted(cumulative, rng.uniform() * acc);
  centers.set(data.subarray(first * d, first * d + d), 0);
  const closest = new Float64Array(n);
  let potential = 0;
  for (let i = 0; i < n; i++) {
    closest[i] = squaredDistance(data, i, centers, 0, d);
    potential += weights[i]! * closest[i]!;
  }
  const candidateDist = new Float64Array(n);
  const bestDist = new Float64Array(n);
  for (let c = 1; c < k; c++) {
    acc = 0;
    for (let i = 0; i < n; i++) cumulative[i] = acc += weights[i]! * closest[i]!;
    let bestPotential = Infinity;
    let bestCandidate = 0;
    for (let t = 0; t < localTrials; t++) {
      const candidate = searchSorted(cumulative, rng.uniform() * potential);
      let pot = 0;
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let a = 0; a < d; a++) {
          const diff = data[i * d + a]! - data[candidate * d + a]!;
          s += diff * diff;
        }
        const v = Math.min(closest[i]!, s);
        candidateDist[i] = v;
        pot += weights[i]! * v;
      }
      if (pot < bestPotential) {
        bestPotential = pot;
        bestCandidate = candidate;
        bestDist.set(candidateDist);
      }
    }
    centers.set(data.subarray(bestCandidate * d, bestCandidate * d + d), c * d);
    closest.set(bestDist);
    potential = bestPotential;
  }
  return centers;
};

/**
 * One k-means run (sklearn `KMeans(n_init=1)` with `sample_weight`): k-means++ then Lloyd
 * iterations until labels stop changing or the total squared centre shift is <= 1e-4 x mean
 * feature variance, at most `maxIter`. An empty cluster takes the point farthest from its centre,
 * whose weight leaves its old cluster, as in sklearn. Returns the labels.
 */
export const kmeans = (
  data: Float64Array,
  n: number,
  d: number,
  k: number,
  rng: Random,
  maxIter = 300,
  weights: Float64Array = ones(n)
): Int32Array => {
  const centers = kmeansPlusPlus(data, n, d, k, rng, weights);
  let totalWeight = 0;
  for (let i = 0; i < n; i++) totalWeight += weights[i]!;
  let meanVariance = 0;
  for (let a = 0; a < d; a++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += weights[i]! * data[i * d + a]!;
    const mean = s / totalWeight;
    let s2 = 0;
    for (let i = 0; i < n; i++) s2 += weights[i]! * (data[i * d + a]! - mean) ** 2;
    meanVariance += s2 / totalWeight;
  }
  const tol = (1e-4 * meanVariance) / d;
  const labels = new Int32Array(n).fill(-1);
  const distance = new Float64Array(n);
  const sums = new Float64Array(k * d);
  const counts = new Float64Array(k);
  const assign = (): boolean => {
    let changed = false;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const dist = squaredDistance(data, i, centers, c, d);
        if (dist < bestD) {
          bestD = dist;
          best = c;
        }
      }
      distance[i] = bestD;
      if (labels[i] !== best) {
        labels[i] = best;
        changed = true;
      }
    }
    return changed;
  };
  assign();
  for (let iter = 0; iter < maxIter; iter++) {
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = labels[i]!;
      const w = weights[i]!;
      counts[c] = counts[c]! + w;
      for (let a = 0; a < d; a++) sums[c * d + a] = sums[c * d + a]! + w * data[i * d + a]!;
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] !== 0) continue;
      let far = 0;
      for (let i = 1; i < n; i++) if (distance[i]! > distance[far]!) far = i;
      distance[far] = -1; // a second empty cluster takes the next farthest point
      const old = labels[far]!;
      const w = weights[far]!;
      counts[old] = counts[old]! - w;
      counts[c] = w;
      for (let a = 0; a < d; a++) {
        const v = w * data[far * d + a]!;
        sums[old * d + a] = sums[old * d + a]! - v;
        sums[c * d + a] = v;
      }
    }
    let shift = 0;
    for (let c = 0; c < k; c++) {
      if (!(counts[c]! > 0)) continue;
      for (let a = 0; a < d; a++) {
        const v = sums[c * d + a]! / counts[c]!;
        shift += (v - centers[c * d + a]!) ** 2;
        centers[c * d + a] = v;
      }
    }
    const changed = assign();
    if (!changed || shift <= tol) break;
  }
  return labels;
};

/**
 * Fits a mixture by EM with sklearn `GaussianMixture(covariance_type="full", init_params="kmeans")`
 * semantics, on the distinct rows of `data` weighted by multiplicity (the same fit as on the raw
 * rows; see `distinctRows`).
 */
export const fitGmm = (data: Float64Array, n: number, dim: number, options: GmmFitOptions, rng: Random): GmmFit => {
  const K = options.nComponents ?? 5;
  const nInit = options.nInit ?? 1;
  const regCovar = options.regCovar ?? 1e-6;
  const tol = options.tol ?? 1e-3;
  const maxIter = options.maxIter ?? 100;
  if (n < K) throw new GmmFitError(`${n} samples cannot fit ${K} components`);
  if (data.length < n * dim) throw new RangeError(`data holds ${data.length} values, fewer than n x dim = ${n * dim}`);
  const { rows, multiplicity, count: u } = distinctRows(data, n, dim);
  const cols = transpose(rows, u, dim);
  const scratch = mStepScratch(u, dim);
  const resp = new Float64Array(u * K);
  const logNorm = new Float64Array(u);
  const factors: Factors = { chol: new Float64Array(K * dim * dim), invDiag: new Float64Array(K * dim), logConst: new Float64Array(K) };
  let best: GmmFit | undefined;
  for (let restart = 0; restart < nInit; restart++) {
    const labels = kmeans(rows, u, dim, K, rng.split(restart), 300, multiplicity);
    resp.fill(0);
    for (let i = 0; i < u; i++) resp[i * K + labels[i]!] = 1;
    let model = estimateParameters(cols, u, dim, multiplicity, resp, K, regCovar, scratch);
    let lowerBound = -Infinity;
    let converged = false;
    let iterations = 0;
    for (let iteration = 1; iteration <= maxIter; iteration++) {
      const previous = lowerBound;
      // E-step: responsibilities of the current parameters, in place in `resp`.
      const total = weightedLogProb(model, factorise(model, factors), rows, u, resp, logNorm, true, multiplicity);
      model = estimateParameters(cols, u, dim, multiplicity, resp, K, regCovar, scratch);
      lowerBound = total / n;
      iterations = iteration;
      options.onIteration?.(restart, iteration, lowerBound);
      if (Math.abs(lowerBound - previous) < tol) {
        converged = true;
        break;
      }
    }
    factorise(model, factors); // fails loudly if the last M-step produced a singular covariance
    const fit: GmmFit = { model, lowerBound, converged, iterations };
    options.onRestart?.(restart, fit);
    if (best === undefined || lowerBound > best.lowerBound) best = fit;
  }
  return best!;
};

/** Fast sampler of a fitted mixture: Cholesky factors and cumulative weights precomputed. */
export class GmmSampler {
  readonly dim: number;
  private readonly nComponents: number;
  private readonly cumulative: Float64Array;
  private readonly chol: Float64Array;
  private readonly means: Float64Array;
  private readonly z: Float64Array;

  constructor(model: GaussianMixture) {
    this.dim = model.dim;
    this.nComponents = model.nComponents;
    this.chol = factorise(model).chol;
    this.means = Float64Array.from(model.means);
    this.cumulative = new Float64Array(model.nComponents);
    let acc = 0;
    for (let k = 0; k < model.nComponents; k++) this.cumulative[k] = acc += model.weights[k]!;
    for (let k = 0; k < model.nComponents; k++) this.cumulative[k] = this.cumulative[k]! / acc;
    this.z = new Float64Array(model.dim);
  }

  /** Writes one draw into out[offset .. offset + dim); returns the component drawn. */
  sampleInto(rng: Random, out: Float64Array, offset = 0): number {
    const d = this.dim;
    const u = rng.uniform();
    let k = 0;
    while (k < this.nComponents - 1 && u >= this.cumulative[k]!) k++;
    const z = this.z;
    for (let a = 0; a < d; a++) z[a] = zigguratNormal(rng);
    const co = k * d * d;
    const mo = k * d;
    for (let a = 0; a < d; a++) {
      let s = this.means[mo + a]!;
      const row = co + a * d;
      for (let b = 0; b <= a; b++) s += this.chol[row + b]! * z[b]!;
      out[offset + a] = s;
    }
    return k;
  }
}

/** `count` draws from the mixture, row-major count x dim. */
export const sampleGmm = (model: GaussianMixture, count: number, rng: Random): Float64Array => {
  const sampler = new GmmSampler(model);
  const out = new Float64Array(count * model.dim);
  for (let i = 0; i < count; i++) sampler.sampleInto(rng, out, i * model.dim);
  return out;
};
