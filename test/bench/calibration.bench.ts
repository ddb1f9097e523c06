/**
 * Benchmark: cost of the Bayesian-optimisation baseline in the paper's dimension (23
 * calibrated parameters, experiment 4) for 50, 200 and 500 observations: one log-marginal-
 * likelihood evaluation with its gradient, a warm-started hyperparameter refit (what BO does
 * between full refits), a full refit (3 restarts), and one `suggest()` (warm refit + acquisition
 * maximisation). The reference is a bare Cholesky factorisation of the n x n covariance matrix,
 * measured in the same run; ratios are against it. Prints one JSON object.
 */
import { Random } from "../../core/random/philox.ts";
import { GaussianProcess, defaultGpFitParams, logMarginalLikelihood, buildCovariance } from "../../core/calibration/gp.ts";
import { cholesky } from "../../core/calibration/linalg.ts";
import { BayesOptimizer, defaultBayesOptParams } from "../../core/calibration/bayes-opt.ts";

const DIM = 23;
const SIZES = [50, 200, 500];
const rng = Random.fromSeed(2024);

// A smooth test surface in 23 dims: a few random ridge functions.
const directions = Array.from({ length: 4 }, () => Float64Array.from({ length: DIM }, () => rng.normal() / Math.sqrt(DIM)));
const surface = (x: ArrayLike<number>): number => {
  let s = 0;
  directions.forEach((w, k) => {
    let t = 0;
    for (let i = 0; i < DIM; i++) t += w[i]! * x[i]!;
    s += Math.sin(3 * t + k);
  });
  return s;
};

const time = <T>(f: () => T, minRepeats = 1, minMs = 200): { ms: number; result: T } => {
  let result = f();
  let repeats = 0;
  const start = performance.now();
  do {
    result = f();
    repeats++;
  } while (repeats < minRepeats || performance.now() - start < minMs);
  return { ms: (performance.now() - start) / repeats, result };
};
const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

const figures: Record<string, number | string> = { dim: DIM };
for (const n of SIZES) {
  const x = Float64Array.from({ length: n * DIM }, () => rng.uniform());
  const y = Float64Array.from({ length: n }, (_, a) => surface(x.subarray(a * DIM, (a + 1) * DIM)) + 0.01 * rng.normal());
  const bounds = { lower: new Float64Array(DIM), upper: new Float64Array(DIM).fill(1) };

  const warm = GaussianProcess.fit(x, y, DIM, rng.split(`warm-${n}`), { ...defaultGpFitParams, restarts: 1 }, bounds);
  const h = warm.hyperparameters;
  const cov = buildCovariance(x, n, DIM, h, 0);
  const choleskyMs = time(() => cholesky(cov, n), 3, n >= 500 ? 1000 : 300).ms;

  const theta = Float64Array.from([...Array.from(h.lengthScales, Math.log), Math.log(h.signalVariance), Math.log(h.noiseVariance)]);
  const mean = y.reduce((s, v) => s + v, 0) / n;
  const sd = Math.sqrt(y.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
  const ys = Float64Array.from(y, (v) => (v - mean) / sd);
  const gradient = new Float64Array(DIM + 2);
  const lmlMs = time(() => logMarginalLikelihood(x, ys, n, DIM, theta, 1e-10, gradient), 3, n >= 500 ? 1000 : 300).ms;

  const warmParams = { ...defaultGpFitParams, restarts: 1, optimizer: { ...defaultGpFitParams.optimizer, maxIterations: defaultBayesOptParams.gpWarmRefitIterations } };
  const warmFitMs = time(() => GaussianProcess.fit(x, y, DIM, rng.split(`w${n}`), warmParams, bounds, h), 1, 0).ms;
  // Full refits at n = 500 take minutes on a slow machine: measured once, and only up to 200 points by default.
  const fullFitMs = n <= 200 || process.env.BENCH_FULL ? time(() => GaussianProcess.fit(x, y, DIM, rng.split(`f${n}`), defaultGpFitParams, bounds), 1, 0).ms : Number.NaN;

  // suggest(): n - 1 observations after a 1-point design makes this a warm (not a full) refit step.
  const bo = new BayesOptimizer(bounds, { ...defaultBayesOptParams, initialPoints: 1 }, rng.split(`bo-${n}`));
  bo.setState({ dim: DIM, points: x, values: y, hyperparameters: h });
  const suggestMs = time(() => bo.suggest(), 1, 0).ms;

  figures[`n${n}_cholesky_ms`] = round(choleskyMs);
  figures[`n${n}_lml_grad_ms`] = round(lmlMs);
  figures[`n${n}_warm_refit_ms`] = round(warmFitMs, 1);
  figures[`n${n}_full_refit_ms`] = Number.isNaN(fullFitMs) ? "skipped (set BENCH_FULL=1)" : round(fullFitMs, 1);
  figures[`n${n}_suggest_ms`] = round(suggestMs, 1);
  figures[`n${n}_lml_grad_over_cholesky`] = round(lmlMs / choleskyMs);
  figures[`n${n}_suggest_over_cholesky`] = round(suggestMs / choleskyMs, 1);
}
console.log(JSON.stringify(figures));
