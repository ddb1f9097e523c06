/**
 * Gaussian-process regression, the surrogate of the Bayesian-optimisation baseline (paper section
 * 5.1, "Baseline": "The covariance function of the Gaussian process was set to a Matern kernel
 * with nu = 2.5": hyperparameters by maximum marginal likelihood). The kernel is Matern
 * 5/2 with one length scale per input (ARD), a signal variance and a Gaussian noise variance.
 * Inputs are mapped to the unit box (by given bounds, else by the data's range) and outputs are
 * standardised before fitting, so hyperparameter bounds and starting points mean the same thing
 * for every problem. Hyperparameters maximise the log marginal likelihood with analytic gradients
 * (projected L-BFGS on log-parameters), from a warm start plus restarts drawn from a `Random`.
 * The posterior uses the Cholesky factor of the covariance matrix (Rasmussen and Williams 2006,
 * algorithm 2.1); the gradient formula is their eq. (5.9).
 */
import type { Random } from "../random/philox.ts";
import { minimizeInBox, defaultBoxMinimizerParams, type BoxMinimizerParams } from "./box-minimizer.ts";
import { choleskyInverse, choleskyOrUndefined, solveLower, solveLowerTranspose } from "./linalg.ts";

const SQRT5 = Math.sqrt(5);
const LOG_2PI = Math.log(2 * Math.PI);

/** A box in input space: lower[i] <= x_i <= upper[i]. */
export interface BoxBounds {
  readonly lower: ArrayLike<number>;
  readonly upper: ArrayLike<number>;
}

/** Hyperparameters in the normalised units (unit-box inputs, standardised outputs). */
export interface GpHyperparameters {
  lengthScales: Float64Array;
  signalVariance: number;
  noiseVariance: number;
}

export interface GpFitParams {
  /** Number of optimiser runs: the warm start (or the default start) plus restarts - 1 random starts. */
  restarts: number;
  /** Bounds of every ARD length scale, in unit-box units. */
  lengthScaleBounds: readonly [number, number];
  /** Bounds of the signal variance, in units of the output variance. */
  signalVarianceBounds: readonly [number, number];
  /** Bounds of the noise variance, in units of the output variance. */
  noiseVarianceBounds: readonly [number, number];
  /** Added to the covariance diagonal on top of the noise, for numerical safety only. */
  jitter: number;
  optimizer: BoxMinimizerParams;
}

export const defaultGpFitParams: GpFitParams = {
  restarts: 3,
  lengthScaleBounds: [1e-2, 1e2],
  signalVarianceBounds: [1e-2, 1e2],
  noiseVarianceBounds: [1e-6, 1],
  jitter: 1e-10,
  optimizer: { ...defaultBoxMinimizerParams, maxIterations: 60, gradientTolerance: 1e-5, relativeTolerance: 1e-9 }
};

/** Raised when the data cannot be fitted (wrong sizes, too few points, non-finite values). */
export class GpDataError extends Error {
  readonly _tag = "GpDataError";
  constructor(readonly detail: string) {
    super(`Gaussian process data are invalid: ${detail}; pass n >= 1 finite rows of the declared dimension.`);
  }
}

/**
 * Matern 5/2 covariance: s2 (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r) with
 * r^2 = sum_i (a_i - b_i)^2 / l_i^2.
 */
export const matern52 = (
  a: ArrayLike<number>,
  aOffset: number,
  b: ArrayLike<number>,
  bOffset: number,
  lengthScales: ArrayLike<number>,
  signalVariance: number
): number => {
  let r2 = 0;
  for (let i = 0; i < lengthScales.length; i++) {
    const t = (a[aOffset + i]! - b[bOffset + i]!) / lengthScales[i]!;
    r2 += t * t;
  }
  const r = Math.sqrt(r2);
  return signalVariance * (1 + SQRT5 * r + (5 / 3) * r2) * Math.exp(-SQRT5 * r);
};

/** Packs hyperparameters as [log l_1..log l_d, log s2, log sn2]. */
export const packLogHyperparameters = (h: GpHyperparameters): Float64Array => {
  const d = h.lengthScales.length;
  const out = new Float64Array(d + 2);
  for (let i = 0; i < d; i++) out[i] = Math.log(h.lengthScales[i]!);
  out[d] = Math.log(h.signalVariance);
  out[d + 1] = Math.log(h.noiseVariance);
  return out;
};

export const unpackLogHyperparameters = (theta: ArrayLike<number>, dim: number): GpHyperparameters => {
  const lengthScales = new Float64Array(dim);
  for (let i = 0; i < dim; i++) lengthScales[i] = Math.exp(theta[i]!);
  return { lengthScales, signalVariance: Math.exp(theta[dim]!), noiseVariance: Math.exp(theta[dim + 1]!) };
};

/**
 * Log marginal likelihood log p(y | Z, theta) = -y^T K^-1 y / 2 - log|K| / 2 - n log(2 pi) / 2 of
 * data already in normalised units (z: n x d row-major, y: n), K = K_f + (sn2 + jitter) I, and,
 * when `gradient` is given, its gradient in the log-hyperparameters theta (eq. 5.9 of Rasmussen and
 * Williams: dL/dtheta_j = tr((alpha alpha^T - K^-1) dK/dtheta_j) / 2). Returns -Infinity when K
 * is not numerically positive definite.
 */
export const logMarginalLikelihood = (
  z: Float64Array,
  y: Float64Array,
  n: number,
  dim: number,
  theta: ArrayLike<number>,
  jitter: number,
  gradient?: Float64Array
): number => {
  const inverseSquaredScales = new Float64Array(dim);
  for (let i = 0; i < dim; i++) inverseSquaredScales[i] = Math.exp(-2 * theta[i]!);
  const s2 = Math.exp(theta[dim]!);
  const sn2 = Math.exp(theta[dim + 1]!);
  const k = new Float64Array(n * n);
  // g(r) = s2 (5/3)(1 + sqrt5 r) exp(-sqrt5 r): dk/dlog l_i = g(r) (dz_i / l_i)^2.
  const g = gradient === undefined ? undefined : new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < a; b++) {
      let r2 = 0;
      for (let i = 0; i < dim; i++) {
        const t = z[a * dim + i]! - z[b * dim + i]!;
        r2 += t * t * inverseSquaredScales[i]!;
      }
      const r = Math.sqrt(r2);
      const e = Math.exp(-SQRT5 * r);
      const kab = s2 * (1 + SQRT5 * r + (5 / 3) * r2) * e;
      k[a * n + b] = kab;
      k[b * n + a] = kab;
      if (g !== undefined) {
        const gab = s2 * (5 / 3) * (1 + SQRT5 * r) * e;
        g[a * n + b] = gab;
        g[b * n + a] = gab;
      }
    }
    k[a * n + a] = s2 + sn2 + jitter;
  }
  const l = choleskyOrUndefined(k, n);
  if (l === undefined) return Number.NEGATIVE_INFINITY;
  const alpha = solveLowerTranspose(l, n, solveLower(l, n, y));
  let fit = 0;
  let logDetHalf = 0;
  for (let a = 0; a < n; a++) {
    fit += y[a]! * alpha[a]!;
    logDetHalf += Math.log(l[a * n + a]!);
  }
  const value = -0.5 * fit - logDetHalf - 0.5 * n * LOG_2PI;
  if (gradient === undefined || g === undefined) return value;

  const kInverse = choleskyInverse(l, n);
  gradient.fill(0, 0, dim + 2);
  let signalTerm = 0;
  let noiseTerm = 0;
  for (let a = 0; a < n; a++) {
    const wDiagonal = alpha[a]! * alpha[a]! - kInverse[a * n + a]!;
    noiseTerm += wDiagonal;
    signalTerm += wDiagonal * s2;
    for (let b = 0; b < a; b++) {
      // W symmetric: off-diagonal pairs count twice.
      const w = 2 * (alpha[a]! * alpha[b]! - kInverse[a * n + b]!);
      signalTerm += w * k[a * n + b]!;
      const wg = w * g![a * n + b]!;
      for (let i = 0; i < dim; i++) {
        const t = z[a * dim + i]! - z[b * dim + i]!;
        gradient[i]! += wg * t * t * inverseSquaredScales[i]!;
      }
    }
  }
  for (let i = 0; i < dim; i++) gradient[i]! *= 0.5;
  gradient[dim] = 0.5 * signalTerm;
  gradient[dim + 1] = 0.5 * sn2 * noiseTerm;
  return value;
};

/** Posterior of the latent function at one point, with gradients in the unit-box coordinates. */
export interface GpPointPosterior {
  mean: number;
  variance: number;
  /** d mean / d z, z the unit-box coordinates of the point. */
  meanGradient: Float64Array;
  /** d variance / d z. */
  varianceGradient: Float64Array;
}

/** A fitted Gaussian process: normalisation, hyperparameters and the Cholesky factor. */
export class GaussianProcess {
  private constructor(
    readonly dim: number,
    readonly count: number,
    /** Unit-box training inputs, n x d. */
    private readonly z: Float64Array,
    private readonly lower: Float64Array,
    private readonly width: Float64Array,
    readonly outputMean: number,
    readonly outputScale: number,
    readonly hyperparameters: GpHyperparameters,
    /** Log marginal likelihood of the standardised outputs at the chosen hyperparameters. */
    readonly logMarginalLikelihood: number,
    private readonly factor: Float64Array,
    private readonly alpha: Float64Array
  ) {}

  /**
   * Fits a GP to n points `x` (n x dim, row-major) with values `y`. `bounds` define the unit-box
   * map (default: the data's range per input). `warmStart` (normalised hyperparameters, e.g. from
   * the previous fit) is the first optimiser start; the other `params.restarts - 1` starts are drawn
   * log-uniformly from `rng`. With `params.restarts = 0` the warm start (or the default) is used
   * as is, without optimisation.
   */
  static fit(
    x: Float64Array,
    y: Float64Array,
    dim: number,
    rng: Random,
    params: GpFitParams = defaultGpFitParams,
    bounds?: BoxBounds,
    warmStart?: GpHyperparameters
  ): GaussianProcess {
    const n = y.length;
    if (n < 1) throw new GpDataError("no points");
    if (x.length !== n * dim) throw new GpDataError(`x holds ${x.length} numbers, expected ${n} x ${dim}`);
    for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]!)) throw new GpDataError(`x[${i}] is not finite`);
    for (let i = 0; i < n; i++) if (!Number.isFinite(y[i]!)) throw new GpDataError(`y[${i}] is not finite`);

    const lower = new Float64Array(dim);
    const width = new Float64Array(dim);
    for (let i = 0; i < dim; i++) {
      let lo: number;
      let hi: number;
      if (bounds !== undefined) {
        lo = bounds.lower[i]!;
        hi = bounds.upper[i]!;
      } else {
        lo = Infinity;
        hi = -Infinity;
        for (let a = 0; a < n; a++) {
          lo = Math.min(lo, x[a * dim + i]!);
          hi = Math.max(hi, x[a * dim + i]!);
        }
      }
      lower[i] = lo;
      width[i] = hi > lo ? hi - lo : 1;
    }
    const z = new Float64Array(n * dim);
    for (let a = 0; a < n; a++) for (let i = 0; i < dim; i++) z[a * dim + i] = (x[a * dim + i]! - lower[i]!) / width[i]!;

    let mean = 0;
    for (let a = 0; a < n; a++) mean += y[a]!;
    mean /= n;
    let variance = 0;
    for (let a = 0; a < n; a++) variance += (y[a]! - mean) ** 2;
    variance /= n;
    const scale = variance > 0 ? Math.sqrt(variance) : 1;
    const ys = new Float64Array(n);
    for (let a = 0; a < n; a++) ys[a] = (y[a]! - mean) / scale;

    const thetaLower = new Float64Array(dim + 2);
    const thetaUpper = new Float64Array(dim + 2);
    for (let i = 0; i < dim; i++) {
      thetaLower[i] = Math.log(params.lengthScaleBounds[0]);
      thetaUpper[i] = Math.log(params.lengthScaleBounds[1]);
    }
    thetaLower[dim] = Math.log(params.signalVarianceBounds[0]);
    thetaUpper[dim] = Math.log(params.signalVarianceBounds[1]);
    thetaLower[dim + 1] = Math.log(params.noiseVarianceBounds[0]);
    thetaUpper[dim + 1] = Math.log(params.noiseVarianceBounds[1]);

    const defaultStart: GpHyperparameters = {
      lengthScales: new Float64Array(dim).fill(0.5),
      signalVariance: 1,
      noiseVariance: Math.max(1e-4, params.noiseVarianceBounds[0])
    };
    const starts: Float64Array[] = [packLogHyperparameters(warmStart ?? defaultStart)];
    for (let r = 1; r < params.restarts; r++) {
      // Random starts in a central part of the bounds, where sensible hyperparameters live.
      const theta = new Float64Array(dim + 2);
      for (let i = 0; i < dim; i++) theta[i] = rng.uniformIn(Math.log(0.05), Math.log(2));
      theta[dim] = rng.uniformIn(Math.log(0.3), Math.log(3));
      theta[dim + 1] = rng.uniformIn(Math.log(1e-5), Math.log(1e-1));
      starts.push(theta);
    }

    const negativeLml = (theta: Float64Array, gradient: Float64Array): number => {
      const value = logMarginalLikelihood(z, ys, n, dim, theta, params.jitter, gradient);
      for (let i = 0; i < gradient.length; i++) gradient[i] = -gradient[i]!;
      return -value;
    };
    let bestTheta = starts[0]!;
    let bestValue = Infinity;
    for (const start of starts) {
      for (let i = 0; i < dim + 2; i++) start[i] = Math.min(thetaUpper[i]!, Math.max(thetaLower[i]!, start[i]!));
      const result =
        params.restarts === 0
          ? { x: start, value: -logMarginalLikelihood(z, ys, n, dim, start, params.jitter) }
          : minimizeInBox(negativeLml, start, thetaLower, thetaUpper, params.optimizer);
      if (result.value < bestValue) {
        bestValue = result.value;
        bestTheta = result.x;
      }
    }
    const hyperparameters = unpackLogHyperparameters(bestTheta, dim);

    // Final factorisation; more jitter only if the optimum is numerically singular.
    let jitter = params.jitter;
    for (;;) {
      const k = buildCovariance(z, n, dim, hyperparameters, jitter);
      const factor = choleskyOrUndefined(k, n);
      if (factor !== undefined) {
        const alpha = solveLowerTranspose(factor, n, solveLower(factor, n, ys));
        const lml = Number.isFinite(bestValue) ? -bestValue : Number.NaN;
        return new GaussianProcess(dim, n, z, lower, width, mean, scale, hyperparameters, lml, factor, alpha);
      }
      jitter = jitter === 0 ? 1e-10 : jitter * 10;
      if (jitter > 1e-2) throw new GpDataError("the covariance matrix stays singular even with jitter 1e-2 (duplicate points with different values?)");
    }
  }

  /** Maps a point of input space to the unit box of this GP. */
  toUnit(x: ArrayLike<number>, out: Float64Array = new Float64Array(this.dim)): Float64Array {
    for (let i = 0; i < this.dim; i++) out[i] = (x[i]! - this.lower[i]!) / this.width[i]!;
    return out;
  }

  /** Maps a unit-box point back to input space. */
  fromUnit(z: ArrayLike<number>, out: Float64Array = new Float64Array(this.dim)): Float64Array {
    for (let i = 0; i < this.dim; i++) out[i] = this.lower[i]! + z[i]! * this.width[i]!;
    return out;
  }

  /**
   * Posterior mean and variance of the latent function (noise excluded) at `count` points
   * (count x dim, row-major, input space), in output units.
   */
  predict(x: Float64Array, count = x.length / this.dim): { mean: Float64Array; variance: Float64Array } {
    const mean = new Float64Array(count);
    const variance = new Float64Array(count);
    const z = new Float64Array(this.dim);
    const kStar = new Float64Array(this.count);
    const v = new Float64Array(this.count);
    for (let c = 0; c < count; c++) {
      for (let i = 0; i < this.dim; i++) z[i] = (x[c * this.dim + i]! - this.lower[i]!) / this.width[i]!;
      const [m, s] = this.unitPosterior(z, kStar, v);
      mean[c] = m;
      variance[c] = s;
    }
    return { mean, variance };
  }

  /** Posterior mean and variance (output units) at a unit-box point; scratch arrays are optional. */
  unitPosterior(
    z: ArrayLike<number>,
    kStar: Float64Array = new Float64Array(this.count),
    v: Float64Array = new Float64Array(this.count)
  ): [mean: number, variance: number] {
    const { lengthScales, signalVariance } = this.hyperparameters;
    let m = 0;
    for (let a = 0; a < this.count; a++) {
      kStar[a] = matern52(z, 0, this.z, a * this.dim, lengthScales, signalVariance);
      m += kStar[a]! * this.alpha[a]!;
    }
    solveLower(this.factor, this.count, kStar, v);
    let explained = 0;
    for (let a = 0; a < this.count; a++) explained += v[a]! * v[a]!;
    const varianceStd = Math.max(0, signalVariance - explained);
    return [this.outputMean + this.outputScale * m, varianceStd * this.outputScale * this.outputScale];
  }

  /** Posterior mean and variance at a unit-box point with their gradients in z (output units). */
  unitPosteriorWithGradient(z: ArrayLike<number>): GpPointPosterior {
    const n = this.count;
    const dim = this.dim;
    const { lengthScales, signalVariance } = this.hyperparameters;
    const kStar = new Float64Array(n);
    const gFactor = new Float64Array(n);
    let m = 0;
    for (let a = 0; a < n; a++) {
      let r2 = 0;
      for (let i = 0; i < dim; i++) {
        const t = (z[i]! - this.z[a * dim + i]!) / lengthScales[i]!;
        r2 += t * t;
      }
      const r = Math.sqrt(r2);
      const e = Math.exp(-SQRT5 * r);
      kStar[a] = signalVariance * (1 + SQRT5 * r + (5 / 3) * r2) * e;
      gFactor[a] = signalVariance * (5 / 3) * (1 + SQRT5 * r) * e;
      m += kStar[a]! * this.alpha[a]!;
    }
    const v = solveLower(this.factor, n, kStar);
    let explained = 0;
    for (let a = 0; a < n; a++) explained += v[a]! * v[a]!;
    const w = solveLowerTranspose(this.factor, n, v); // K^-1 k*
    const meanGradient = new Float64Array(dim);
    const varianceGradient = new Float64Array(dim);
    // dk(z, z_a)/dz_i = -g(r) (z_i - z_a,i) / l_i^2.
    for (let a = 0; a < n; a++) {
      const ga = gFactor[a]!;
      for (let i = 0; i < dim; i++) {
        const dk = (-ga * (z[i]! - this.z[a * dim + i]!)) / (lengthScales[i]! * lengthScales[i]!);
        meanGradient[i]! += this.alpha[a]! * dk;
        varianceGradient[i]! += -2 * w[a]! * dk;
      }
    }
    const scale2 = this.outputScale * this.outputScale;
    const rawVariance = signalVariance - explained;
    for (let i = 0; i < dim; i++) {
      meanGradient[i]! *= this.outputScale;
      // Where the variance is clamped at 0 its gradient is 0 as well.
      varianceGradient[i] = rawVariance > 0 ? varianceGradient[i]! * scale2 : 0;
    }
    return {
      mean: this.outputMean + this.outputScale * m,
      variance: Math.max(0, rawVariance) * scale2,
      meanGradient,
      varianceGradient
    };
  }
}

/** K = K_f + (sn2 + jitter) I for unit-box inputs. */
export const buildCovariance = (
  z: Float64Array,
  n: number,
  dim: number,
  h: GpHyperparameters,
  jitter: number
): Float64Array => {
  const k = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < a; b++) {
      const kab = matern52(z, a * dim, z, b * dim, h.lengthScales, h.signalVariance);
      k[a * n + b] = kab;
      k[b * n + a] = kab;
    }
    k[a * n + a] = h.signalVariance + h.noiseVariance + jitter;
  }
  return k;
};
