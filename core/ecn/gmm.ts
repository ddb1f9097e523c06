/**
 * Multivariate Gaussian mixtures with full covariances, fitted by expectation-maximisation with the
 * semantics of scikit-learn's `GaussianMixture` (SPEC 1.3; the paper's vanilla ECN model of section
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
 * Data are row-major Float64Arrays of n x dim.
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

/** Cholesky factors and log normalising constants of every component. */
interface Factors {
  readonly chol: Float64Array;
  /** log w_k - 0.5 (dim ln 2pi + ln det Sigma_k) */
  readonly logConst: Float64Array;
}

const factorise = (model: GaussianMixture): Factors => {
  const { nComponents: K, dim: d } = model;
  const chol = Float64Array.from(model.covariances);
  const logConst = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    if (!choleskyInPlace(chol, d, k * d * d)) {
      throw new GmmFitError(`the covariance of component ${k + 1} is not positive definite`);
    }
    let logDet = 0;
    for (let i = 0; i < d; i++) logDet += 2 * Math.log(chol[k * d * d + i * d + i]!);
    logConst[k] = Math.log(model.weights[k]!) - 0.5 * (d * LOG_2PI + logDet);
  }
  return { chol, logConst };
};

/**
 * Writes log(w_k N(x_i; mu_k, Sigma_k)) into `out` (n x K) and returns the per-sample
 * log-likelihoods summed (for the mean). `logNorm` (length n) receives log sum_k of them.
 */
const weightedLogProb = (
  model: GaussianMixture,
  factors: Factors,
  data: Float64Array,
  n: number,
  out: Float64Array,
  logNorm: Float64Array
): number => {
  const { nComponents: K, dim: d } = model;
  const y = new Float64Array(d);
  const { chol, logConst } = factors;
  for (let i = 0; i < n; i++) {
    const xo = i * d;
    let max = -Infinity;
    for (let k = 0; k < K; k++) {
      const mo = k * d;
      const co = k * d * d;
      let maha = 0;
      // Forward substitution L y = x - mu.
      for (let r = 0; r < d; r++) {
        let s = data[xo + r]! - model.means[mo + r]!;
        const row = co + r * d;
        for (let c = 0; c < r; c++) s -= chol[row + c]! * y[c]!;
        const v = s / chol[row + r]!;
        y[r] = v;
        maha += v * v;
      }
      const lp = logConst[k]! - 0.5 * maha;
      out[i * K + k] = lp;
      if (lp > max) max = lp;
    }
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(out[i * K + k]! - max);
    logNorm[i] = max + Math.log(sum);
  }
  let total = 0;
  for (let i = 0; i < n; i++) total += logNorm[i]!;
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
 * M-step: weights, means and covariances from responsibilities `resp` (n x K).
 * Throws if a covariance is not positive definite.
 */
const estimateParameters = (data: Float64Array, n: number, d: number, resp: Float64Array, K: number, regCovar: number): GaussianMixture => {
  const nk = new Float64Array(K);
  const means = new Float64Array(K * d);
  const covariances = new Float64Array(K * d * d);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < K; k++) {
      const r = resp[i * K + k]!;
      if (r === 0) continue;
      nk[k] = nk[k]! + r;
      for (let a = 0; a < d; a++) means[k * d + a] = means[k * d + a]! + r * data[i * d + a]!;
    }
  }
  for (let k = 0; k < K; k++) {
    nk[k] = nk[k]! + EPS10;
    for (let a = 0; a < d; a++) means[k * d + a] = means[k * d + a]! / nk[k]!;
  }
  const diff = new Float64Array(d);
  for (let k = 0; k < K; k++) {
    const co = k * d * d;
    for (let i = 0; i < n; i++) {
      const r = resp[i * K + k]!;
      if (r === 0) continue;
      for (let a = 0; a < d; a++) diff[a] = data[i * d + a]! - means[k * d + a]!;
      for (let a = 0; a < d; a++) {
        const ra = r * diff[a]!;
        const row = co + a * d;
        for (let b = 0; b <= a; b++) covariances[row + b] = covariances[row + b]! + ra * diff[b]!;
      }
    }
    for (let a = 0; a < d; a++) {
      for (let b = 0; b <= a; b++) {
        const v = covariances[co + a * d + b]! / nk[k]!;
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

/** k-means++ seeding as sklearn's `_kmeans_plusplus` (greedy, 2 + floor(ln k) local trials). */
export const kmeansPlusPlus = (data: Float64Array, n: number, d: number, k: number, rng: Random): Float64Array => {
  const centers = new Float64Array(k * d);
  const localTrials = 2 + Math.floor(Math.log(k));
  const first = rng.int(n);
  centers.set(data.subarray(first * d, first * d + d), 0);
  const closest = new Float64Array(n);
  let potential = 0;
  for (let i = 0; i < n; i++) {
    closest[i] = squaredDistance(data, i, centers, 0, d);
    potential += closest[i]!;
  }
  const cumulative = new Float64Array(n);
  const candidateDist = new Float64Array(n);
  const bestDist = new Float64Array(n);
  for (let c = 1; c < k; c++) {
    let acc = 0;
    for (let i = 0; i < n; i++) cumulative[i] = acc += closest[i]!;
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
        pot += v;
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
 * One k-means run (sklearn `KMeans(n_init=1)`): k-means++ then Lloyd iterations until labels stop
 * changing or the total squared centre shift is <= 1e-4 x mean feature variance, at most 300.
 * An empty cluster is moved to the point farthest from its centre. Returns the labels.
 */
export const kmeans = (data: Float64Array, n: number, d: number, k: number, rng: Random, maxIter = 300): Int32Array => {
  const centers = kmeansPlusPlus(data, n, d, k, rng);
  let meanVariance = 0;
  for (let a = 0; a < d; a++) {
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = data[i * d + a]!;
      s += v;
      s2 += v * v;
    }
    const mean = s / n;
    meanVariance += Math.max(0, s2 / n - mean * mean);
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
      counts[c] = counts[c]! + 1;
      for (let a = 0; a < d; a++) sums[c * d + a] = sums[c * d + a]! + data[i * d + a]!;
    }
    let shift = 0;
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) {
        // Relocate to the point farthest from its centre, as sklearn does.
        let far = 0;
        for (let i = 1; i < n; i++) if (distance[i]! > distance[far]!) far = i;
        distance[far] = 0;
        for (let a = 0; a < d; a++) {
          const v = data[far * d + a]!;
          shift += (v - centers[c * d + a]!) ** 2;
          centers[c * d + a] = v;
        }
        continue;
      }
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

/** Fits a mixture by EM with sklearn `GaussianMixture(covariance_type="full", init_params="kmeans")` semantics. */
export const fitGmm = (data: Float64Array, n: number, dim: number, options: GmmFitOptions, rng: Random): GmmFit => {
  const K = options.nComponents ?? 5;
  const nInit = options.nInit ?? 1;
  const regCovar = options.regCovar ?? 1e-6;
  const tol = options.tol ?? 1e-3;
  const maxIter = options.maxIter ?? 100;
  if (n < K) throw new GmmFitError(`${n} samples cannot fit ${K} components`);
  if (data.length < n * dim) throw new RangeError(`data holds ${data.length} values, fewer than n x dim = ${n * dim}`);
  const resp = new Float64Array(n * K);
  const logNorm = new Float64Array(n);
  let best: GmmFit | undefined;
  for (let restart = 0; restart < nInit; restart++) {
    const labels = kmeans(data, n, dim, K, rng.split(restart));
    resp.fill(0);
    for (let i = 0; i < n; i++) resp[i * K + labels[i]!] = 1;
    let model = estimateParameters(data, n, dim, resp, K, regCovar);
    let lowerBound = -Infinity;
    let converged = false;
    let iterations = 0;
    for (let iteration = 1; iteration <= maxIter; iteration++) {
      const previous = lowerBound;
      // E-step: responsibilities of the current parameters.
      const total = weightedLogProb(model, factorise(model), data, n, resp, logNorm);
      for (let i = 0; i < n; i++) {
        const ln = logNorm[i]!;
        for (let k = 0; k < K; k++) resp[i * K + k] = Math.exp(resp[i * K + k]! - ln);
      }
      // M-step.
      model = estimateParameters(data, n, dim, resp, K, regCovar);
      lowerBound = total / n;
      iterations = iteration;
      options.onIteration?.(restart, iteration, lowerBound);
      if (Math.abs(lowerBound - previous) < tol) {
        converged = true;
        break;
      }
    }
    factorise(model); // fails loudly if the last M-step produced a singular covariance
    if (best === undefined || lowerBound > best.lowerBound) best = { model, lowerBound, converged, iterations };
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
