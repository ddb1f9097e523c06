/**
 * Bayesian optimisation, the calibration baseline of paper section 5.1 ("Baseline"):
 * a Gaussian-process surrogate (Matern 5/2, maximum marginal likelihood; `gp.ts`) of the
 * calibrator reward as a function of the supertype profile Lambda, and an acquisition function
 * - upper confidence bound mu + kappa sigma (Srinivas et al. 2010), kappa = 0.5 as in the paper,
 * or expected improvement as the option of the paper's ablation (figure 25) - maximised over the
 * box of Lambda by many random candidates plus quasi-Newton refinement of the best of them.
 * `BayesOptimizer` maximises: `suggest()` proposes the next point, `observe(x, y)` records a value.
 *
 * Determinism and checkpoints: a suggestion is a pure function of (the constructor's stream, the
 * observations so far, the warm-start hyperparameters). The stream of suggestion k is
 * `rng.split(k)`, so calling `suggest()` twice without an observation returns the same point, and
 * an optimiser rebuilt from `getState()` continues exactly as the original would have.
 */
import type { Random } from "../random/philox.ts";
import { minimizeInBox, defaultBoxMinimizerParams, type BoxMinimizerParams } from "./box-minimizer.ts";
import { GaussianProcess, defaultGpFitParams, type BoxBounds, type GpFitParams, type GpHyperparameters } from "./gp.ts";

export type AcquisitionKind = "ucb" | "ei";

export interface BayesOptParams {
  /** "ucb" (the paper's choice) or "ei". */
  acquisition: AcquisitionKind;
  /** UCB exploration weight: mu + kappa * sigma (0.5 in the paper). */
  kappa: number;
  /** EI margin xi, in units of the standard deviation of the observed values. */
  xi: number;
  /** Points of the initial Latin-hypercube design, proposed before the GP is used (at least 1). */
  initialPoints: number;
  /** Uniform random candidates per suggestion on which the acquisition is evaluated. */
  randomCandidates: number;
  /** Extra candidates drawn around each of the best observed points (Gaussian, sd localScale of the box). */
  localCandidatesPerPoint: number;
  localBestPoints: number;
  localScale: number;
  /** Best distinct candidates refined by projected L-BFGS on the acquisition. */
  refineStarts: number;
  refine: BoxMinimizerParams;
  /** GP fitting; `gp.restarts` random restarts are used every `gpFullRefitEvery` model-based suggestions. */
  gp: GpFitParams;
  /**
   * In between, the hyperparameters are re-optimised from the previous ones alone (one start):
   * they change little from one observation to the next, and the restarts dominate the cost.
   */
  gpFullRefitEvery: number;
  /** Optimiser iterations of the warm-started refits in between. */
  gpWarmRefitIterations: number;
}

export const defaultBayesOptParams: BayesOptParams = {
  acquisition: "ucb",
  kappa: 0.5,
  xi: 0.01,
  initialPoints: 5,
  randomCandidates: 500,
  localCandidatesPerPoint: 50,
  localBestPoints: 5,
  localScale: 0.05,
  refineStarts: 5,
  refine: { ...defaultBoxMinimizerParams, maxIterations: 50, gradientTolerance: 1e-7, relativeTolerance: 1e-10 },
  gp: defaultGpFitParams,
  gpFullRefitEvery: 10,
  gpWarmRefitIterations: 20
};

/** Raised on a bad box, a point of the wrong size or a non-finite value. */
export class BayesOptError extends Error {
  readonly _tag = "BayesOptError";
  constructor(readonly detail: string) {
    super(`Bayesian optimisation input is invalid: ${detail}; pass finite values inside the declared bounds.`);
  }
}

/** Serialisable state: the observations and the last fitted (normalised) hyperparameters. */
export interface BayesOptState {
  dim: number;
  /** count x dim, row-major. */
  points: Float64Array;
  values: Float64Array;
  hyperparameters: { lengthScales: Float64Array; signalVariance: number; noiseVariance: number } | null;
}

/** Standard normal density and distribution function. */
const normalPdf = (z: number): number => Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);

/** erfc with relative error < 1.2e-7 everywhere (Numerical Recipes, 2nd ed., section 6.2, erfcc). */
const erfc = (x: number): number => {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    );
  return x >= 0 ? r : 2 - r;
};
export const normalCdf = (z: number): number => 0.5 * erfc(-z / Math.SQRT2);

/**
 * Acquisition value and its derivatives in (mean, sd). UCB: mean + kappa sd. EI over the
 * incumbent `best`: (mean - best - xi) Phi(u) + sd phi(u), u = (mean - best - xi) / sd.
 */
export const acquisitionValue = (
  kind: AcquisitionKind,
  mean: number,
  sd: number,
  kappa: number,
  best: number,
  xi: number
): { value: number; dMean: number; dSd: number } => {
  if (kind === "ucb") return { value: mean + kappa * sd, dMean: 1, dSd: kappa };
  const improvement = mean - best - xi;
  if (sd <= 1e-12) return { value: Math.max(0, improvement), dMean: improvement > 0 ? 1 : 0, dSd: 0 };
  const u = improvement / sd;
  const cdf = normalCdf(u);
  const pdf = normalPdf(u);
  return { value: improvement * cdf + sd * pdf, dMean: cdf, dSd: pdf };
};

export class BayesOptimizer {
  readonly dim: number;
  private readonly lower: Float64Array;
  private readonly upper: Float64Array;
  private readonly points: number[][] = [];
  private readonly values: number[] = [];
  private hyperparameters: GpHyperparameters | undefined;
  private design: Float64Array | undefined;
  /** The surrogate of the last model-based suggestion (for inspection and plots). */
  lastModel: GaussianProcess | undefined;

  constructor(
    bounds: BoxBounds,
    readonly params: BayesOptParams,
    private readonly rng: Random
  ) {
    this.dim = bounds.lower.length;
    if (this.dim === 0 || bounds.upper.length !== this.dim) throw new BayesOptError("bounds need matching non-empty lower and upper arrays");
    this.lower = Float64Array.from(bounds.lower);
    this.upper = Float64Array.from(bounds.upper);
    for (let i = 0; i < this.dim; i++) {
      if (!(this.upper[i]! > this.lower[i]!)) throw new BayesOptError(`bound ${i}: upper ${this.upper[i]} must exceed lower ${this.lower[i]}`);
    }
    if (!(params.initialPoints >= 1)) throw new BayesOptError("initialPoints must be at least 1");
  }

  /** Number of observations so far. */
  get count(): number {
    return this.values.length;
  }

  /** Records the value y (to be maximised) at x. */
  observe(x: ArrayLike<number>, y: number): void {
    if (x.length !== this.dim) throw new BayesOptError(`a point has ${x.length} coordinates, expected ${this.dim}`);
    if (!Number.isFinite(y)) throw new BayesOptError(`observed value ${y} is not finite`);
    const row: number[] = [];
    for (let i = 0; i < this.dim; i++) {
      const v = x[i]!;
      if (!Number.isFinite(v)) throw new BayesOptError(`coordinate ${i} is not finite`);
      row.push(Math.min(this.upper[i]!, Math.max(this.lower[i]!, v)));
    }
    this.points.push(row);
    this.values.push(y);
  }

  /** The best observation so far, or undefined before the first. */
  best(): { x: Float64Array; y: number } | undefined {
    if (this.values.length === 0) return undefined;
    let k = 0;
    for (let i = 1; i < this.values.length; i++) if (this.values[i]! > this.values[k]!) k = i;
    return { x: Float64Array.from(this.points[k]!), y: this.values[k]! };
  }

  /** The next point to evaluate: the initial design first, then the acquisition's maximiser. */
  suggest(): Float64Array {
    const n = this.values.length;
    if (n < this.params.initialPoints) return this.fromUnit(this.initialDesign().subarray(n * this.dim, (n + 1) * this.dim));
    const rng = this.rng.split(n);
    const dim = this.dim;
    const x = new Float64Array(n * dim);
    for (let a = 0; a < n; a++) for (let i = 0; i < dim; i++) x[a * dim + i] = this.points[a]![i]!;
    const y = Float64Array.from(this.values);
    const modelStep = n - this.params.initialPoints;
    const fullRefit = this.hyperparameters === undefined || modelStep % Math.max(1, this.params.gpFullRefitEvery) === 0;
    const gpParams = fullRefit
      ? this.params.gp
      : {
          ...this.params.gp,
          restarts: Math.min(1, this.params.gp.restarts),
          optimizer: { ...this.params.gp.optimizer, maxIterations: this.params.gpWarmRefitIterations }
        };
    const gp = GaussianProcess.fit(x, y, dim, rng.split("gp"), gpParams, { lower: this.lower, upper: this.upper }, this.hyperparameters);
    this.hyperparameters = gp.hyperparameters;
    this.lastModel = gp;
    return this.fromUnit(this.maximizeAcquisition(gp, rng.split("acquisition")));
  }

  getState(): BayesOptState {
    const points = new Float64Array(this.values.length * this.dim);
    this.points.forEach((row, a) => points.set(row, a * this.dim));
    const h = this.hyperparameters;
    return {
      dim: this.dim,
      points,
      values: Float64Array.from(this.values),
      hyperparameters: h === undefined ? null : { lengthScales: Float64Array.from(h.lengthScales), signalVariance: h.signalVariance, noiseVariance: h.noiseVariance }
    };
  }

  setState(state: BayesOptState): void {
    if (state.dim !== this.dim) throw new BayesOptError(`state of dimension ${state.dim} loaded into an optimiser of dimension ${this.dim}`);
    this.points.length = 0;
    this.values.length = 0;
    for (let a = 0; a < state.values.length; a++) {
      this.points.push(Array.from(state.points.subarray(a * this.dim, (a + 1) * this.dim)));
      this.values.push(state.values[a]!);
    }
    this.hyperparameters =
      state.hyperparameters === null
        ? undefined
        : { ...state.hyperparameters, lengthScales: Float64Array.from(state.hyperparameters.lengthScales) };
  }

  private fromUnit(z: ArrayLike<number>): Float64Array {
    const out = new Float64Array(this.dim);
    for (let i = 0; i < this.dim; i++) out[i] = this.lower[i]! + Math.min(1, Math.max(0, z[i]!)) * (this.upper[i]! - this.lower[i]!);
    return out;
  }

  /** A Latin-hypercube design of `initialPoints` unit-box points (one stratum per point per axis). */
  private initialDesign(): Float64Array {
    if (this.design !== undefined) return this.design;
    const m = this.params.initialPoints;
    const rng = this.rng.split("initial-design");
    const design = new Float64Array(m * this.dim);
    const order = new Int32Array(m);
    for (let i = 0; i < this.dim; i++) {
      for (let k = 0; k < m; k++) order[k] = k;
      rng.shuffle(order);
      for (let k = 0; k < m; k++) design[k * this.dim + i] = (order[k]! + rng.uniform()) / m;
    }
    this.design = design;
    return design;
  }

  private maximizeAcquisition(gp: GaussianProcess, rng: Random): Float64Array {
    const dim = this.dim;
    const p = this.params;
    const scale = gp.outputScale;
    let bestObserved = -Infinity;
    for (const v of this.values) bestObserved = Math.max(bestObserved, v);
    const xi = p.xi * scale;

    const acquisitionAt = (z: ArrayLike<number>, kStar: Float64Array, v: Float64Array): number => {
      const [mean, variance] = gp.unitPosterior(z, kStar, v);
      return acquisitionValue(p.acquisition, mean, Math.sqrt(variance), p.kappa, bestObserved, xi).value;
    };

    // Candidates: uniform in the box, plus local perturbations of the best observations.
    const candidates: Float64Array[] = [];
    for (let c = 0; c < p.randomCandidates; c++) {
      const z = new Float64Array(dim);
      for (let i = 0; i < dim; i++) z[i] = rng.uniform();
      candidates.push(z);
    }
    const ranked = this.values.map((v, a) => [v, a] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    for (const [, a] of ranked.slice(0, p.localBestPoints)) {
      const centre = gp.toUnit(this.points[a]!);
      for (let c = 0; c < p.localCandidatesPerPoint; c++) {
        const z = new Float64Array(dim);
        for (let i = 0; i < dim; i++) z[i] = Math.min(1, Math.max(0, centre[i]! + p.localScale * rng.normal()));
        candidates.push(z);
      }
    }
    const kStar = new Float64Array(gp.count);
    const v = new Float64Array(gp.count);
    const scored = candidates.map((z, c) => ({ z, c, value: acquisitionAt(z, kStar, v) }));
    scored.sort((a, b) => b.value - a.value || a.c - b.c);

    const zeros = new Float64Array(dim);
    const ones = new Float64Array(dim).fill(1);
    const negativeAcquisition = (z: Float64Array, gradient: Float64Array): number => {
      const post = gp.unitPosteriorWithGradient(z);
      const sd = Math.sqrt(post.variance);
      const a = acquisitionValue(p.acquisition, post.mean, sd, p.kappa, bestObserved, xi);
      for (let i = 0; i < dim; i++) {
        const dSd = sd > 1e-12 ? post.varianceGradient[i]! / (2 * sd) : 0;
        gradient[i] = -(a.dMean * post.meanGradient[i]! + a.dSd * dSd);
      }
      return -a.value;
    };
    let best = scored[0]!.z;
    let bestValue = scored[0]!.value;
    for (const start of scored.slice(0, p.refineStarts)) {
      const result = minimizeInBox(negativeAcquisition, start.z, zeros, ones, p.refine);
      if (Number.isFinite(result.value) && -result.value > bestValue) {
        bestValue = -result.value;
        best = result.x;
      }
    }
    return best;
  }
}
