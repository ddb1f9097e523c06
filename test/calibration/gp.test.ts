import { describe, it, expect } from "vitest";
import { Random } from "../../core/random/philox.ts";
import {
  GaussianProcess,
  logMarginalLikelihood,
  matern52,
  packLogHyperparameters,
  defaultGpFitParams,
  GpDataError
} from "../../core/calibration/gp.ts";
import { cholesky, choleskyInverse, choleskySolve, NotPositiveDefiniteError } from "../../core/calibration/linalg.ts";
import { minimizeInBox } from "../../core/calibration/box-minimizer.ts";

// ---- independent dense reference: Gauss-Jordan inverse and LU log-determinant ----
const denseInverse = (a: Float64Array, n: number): Float64Array => {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]!) > Math.abs(m[p * n + c]!)) p = r;
    for (let k = 0; k < n; k++) {
      [m[c * n + k], m[p * n + k]] = [m[p * n + k]!, m[c * n + k]!];
      [inv[c * n + k], inv[p * n + k]] = [inv[p * n + k]!, inv[c * n + k]!];
    }
    const pivot = m[c * n + c]!;
    for (let k = 0; k < n; k++) {
      m[c * n + k]! /= pivot;
      inv[c * n + k]! /= pivot;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c]!;
      if (f === 0) continue;
      for (let k = 0; k < n; k++) {
        m[r * n + k]! -= f * m[c * n + k]!;
        inv[r * n + k]! -= f * inv[c * n + k]!;
      }
    }
  }
  return inv;
};

const denseLogDet = (a: Float64Array, n: number): number => {
  const m = Float64Array.from(a);
  let logDet = 0;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]!) > Math.abs(m[p * n + c]!)) p = r;
    for (let k = 0; k < n; k++) [m[c * n + k], m[p * n + k]] = [m[p * n + k]!, m[c * n + k]!];
    logDet += Math.log(Math.abs(m[c * n + c]!));
    for (let r = c + 1; r < n; r++) {
      const f = m[r * n + c]! / m[c * n + c]!;
      for (let k = c; k < n; k++) m[r * n + k]! -= f * m[c * n + k]!;
    }
  }
  return logDet;
};

/** Matern 5/2 written from its textbook definition in terms of d = sqrt(5) r. */
const referenceMatern = (a: number[], b: number[], ls: ArrayLike<number>, s2: number): number => {
  let r2 = 0;
  for (let i = 0; i < a.length; i++) r2 += ((a[i]! - b[i]!) / ls[i]!) ** 2;
  const d = Math.sqrt(5 * r2);
  return s2 * (1 + d + (d * d) / 3) * Math.exp(-d);
};

const randomData = (rng: Random, n: number, dim: number, f: (x: number[]) => number) => {
  const x = new Float64Array(n * dim);
  const y = new Float64Array(n);
  for (let a = 0; a < n; a++) {
    const row: number[] = [];
    for (let i = 0; i < dim; i++) {
      x[a * dim + i] = rng.uniformIn(-2, 3);
      row.push(x[a * dim + i]!);
    }
    y[a] = f(row) + 0.05 * rng.normal();
  }
  return { x, y };
};

const rowOf = (x: Float64Array, a: number, dim: number): number[] => Array.from(x.subarray(a * dim, (a + 1) * dim));

describe("linear algebra", () => {
  it("Cholesky factor reproduces a random SPD matrix, and its inverse matches Gauss-Jordan", () => {
    const rng = Random.fromSeed(1);
    const n = 12;
    const b = new Float64Array(n * n);
    for (let i = 0; i < b.length; i++) b[i] = rng.normal();
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = i === j ? 0.5 : 0;
        for (let k = 0; k < n; k++) s += b[i * n + k]! * b[j * n + k]!;
        a[i * n + j] = s;
      }
    const l = cholesky(a, n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += l[i * n + k]! * l[j * n + k]!;
        expect(s).toBeCloseTo(a[i * n + j]!, 9);
      }
    const inv = choleskyInverse(l, n);
    const reference = denseInverse(a, n);
    for (let i = 0; i < n * n; i++) expect(inv[i]!).toBeCloseTo(reference[i]!, 6);
    const rhs = Float64Array.from({ length: n }, () => rng.normal());
    const x = choleskySolve(l, n, rhs);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k]! * x[k]!;
      expect(s).toBeCloseTo(rhs[i]!, 8);
    }
  });

  it("rejects an indefinite matrix with a tagged error", () => {
    const a = Float64Array.from([1, 2, 2, 1]);
    expect(() => cholesky(a, 2)).toThrow(NotPositiveDefiniteError);
  });
});

describe("box minimiser", () => {
  it("finds the minimum of a Rosenbrock function and respects active bounds", () => {
    const rosen = (x: Float64Array, g: Float64Array) => {
      const a = x[0]!;
      const b = x[1]!;
      g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
      g[1] = 200 * (b - a * a);
      return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
    };
    const free = minimizeInBox(rosen, [-1.2, 1], [-5, -5], [5, 5], {
      maxIterations: 500,
      memory: 8,
      gradientTolerance: 1e-9,
      relativeTolerance: 0,
      maxLineSearchSteps: 50
    });
    expect(free.x[0]!).toBeCloseTo(1, 4);
    expect(free.x[1]!).toBeCloseTo(1, 4);
    // With x_0 <= 0.5 the constrained optimum of (1-a)^2 + 100 (b - a^2)^2 is (0.5, 0.25).
    const boxed = minimizeInBox(rosen, [-1.2, 1], [-5, -5], [0.5, 5], {
      maxIterations: 500,
      memory: 8,
      gradientTolerance: 1e-9,
      relativeTolerance: 0,
      maxLineSearchSteps: 50
    });
    expect(boxed.x[0]!).toBeCloseTo(0.5, 6);
    expect(boxed.x[1]!).toBeCloseTo(0.25, 4);
  });
});

describe("Gaussian process", () => {
  it("Matern 5/2 equals its textbook form and is 1 x s2 at distance 0", () => {
    const rng = Random.fromSeed(2);
    for (let t = 0; t < 50; t++) {
      const a = [rng.normal(), rng.normal(), rng.normal()];
      const b = [rng.normal(), rng.normal(), rng.normal()];
      const ls = [rng.uniformIn(0.1, 2), rng.uniformIn(0.1, 2), rng.uniformIn(0.1, 2)];
      const s2 = rng.uniformIn(0.1, 3);
      expect(matern52(a, 0, b, 0, ls, s2)).toBeCloseTo(referenceMatern(a, b, ls, s2), 12);
      expect(matern52(a, 0, a, 0, ls, s2)).toBeCloseTo(s2, 14);
    }
  });

  it("log marginal likelihood equals the dense formula with an explicit inverse and determinant", () => {
    const rng = Random.fromSeed(3);
    const n = 15;
    const dim = 3;
    const z = Float64Array.from({ length: n * dim }, () => rng.uniform());
    const y = Float64Array.from({ length: n }, () => rng.normal());
    const theta = Float64Array.from([Math.log(0.4), Math.log(0.8), Math.log(0.2), Math.log(1.3), Math.log(0.05)]);
    const ls = [0.4, 0.8, 0.2];
    const k = new Float64Array(n * n);
    for (let a = 0; a < n; a++)
      for (let b = 0; b < n; b++) k[a * n + b] = referenceMatern(rowOf(z, a, dim), rowOf(z, b, dim), ls, 1.3) + (a === b ? 0.05 : 0);
    const inv = denseInverse(k, n);
    let quad = 0;
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) quad += y[a]! * inv[a * n + b]! * y[b]!;
    const expected = -0.5 * quad - 0.5 * denseLogDet(k, n) - 0.5 * n * Math.log(2 * Math.PI);
    expect(logMarginalLikelihood(z, y, n, dim, theta, 0)).toBeCloseTo(expected, 8);
  });

  it("analytic gradient of the log marginal likelihood matches central finite differences", () => {
    const rng = Random.fromSeed(4);
    for (let trial = 0; trial < 4; trial++) {
      const n = 20;
      const dim = 4;
      const z = Float64Array.from({ length: n * dim }, () => rng.uniform());
      const y = Float64Array.from({ length: n }, (_, a) => Math.sin(4 * z[a * dim]!) + z[a * dim + 1]! + 0.1 * rng.normal());
      const theta = new Float64Array(dim + 2);
      for (let i = 0; i < dim; i++) theta[i] = rng.uniformIn(Math.log(0.1), Math.log(2));
      theta[dim] = rng.uniformIn(-1, 1);
      theta[dim + 1] = rng.uniformIn(Math.log(1e-3), Math.log(0.3));
      const gradient = new Float64Array(dim + 2);
      logMarginalLikelihood(z, y, n, dim, theta, 0, gradient);
      const h = 1e-5;
      for (let j = 0; j < dim + 2; j++) {
        const plus = Float64Array.from(theta);
        const minus = Float64Array.from(theta);
        plus[j]! += h;
        minus[j]! -= h;
        const fd = (logMarginalLikelihood(z, y, n, dim, plus, 0) - logMarginalLikelihood(z, y, n, dim, minus, 0)) / (2 * h);
        expect(Math.abs(gradient[j]! - fd)).toBeLessThan(1e-5 * Math.max(1, Math.abs(fd)));
      }
    }
  });

  it("posterior mean and variance match a dense computation with an explicit inverse", () => {
    const rng = Random.fromSeed(5);
    const dim = 3;
    const n = 25;
    const { x, y } = randomData(rng, n, dim, (r) => Math.sin(r[0]!) + 0.5 * r[1]! * r[2]!);
    const bounds = { lower: [-2, -2, -2], upper: [3, 3, 3] };
    const gp = GaussianProcess.fit(x, y, dim, rng.split("fit"), defaultGpFitParams, bounds);
    const h = gp.hyperparameters;
    // Dense reference in the GP's own normalisation (unit box by the bounds, standardised y).
    const unit = (row: number[]) => row.map((v, i) => (v - bounds.lower[i]!) / (bounds.upper[i]! - bounds.lower[i]!));
    const meanY = y.reduce((s, v) => s + v, 0) / n;
    const sdY = Math.sqrt(y.reduce((s, v) => s + (v - meanY) ** 2, 0) / n);
    expect(gp.outputMean).toBeCloseTo(meanY, 12);
    expect(gp.outputScale).toBeCloseTo(sdY, 12);
    const k = new Float64Array(n * n);
    for (let a = 0; a < n; a++)
      for (let b = 0; b < n; b++)
        k[a * n + b] =
          referenceMatern(unit(rowOf(x, a, dim)), unit(rowOf(x, b, dim)), h.lengthScales, h.signalVariance) +
          (a === b ? h.noiseVariance + defaultGpFitParams.jitter : 0);
    const inv = denseInverse(k, n);
    const m = 30;
    const xs = Float64Array.from({ length: m * dim }, () => rng.uniformIn(-2, 3));
    const { mean, variance } = gp.predict(xs);
    for (let c = 0; c < m; c++) {
      const kStar = Array.from({ length: n }, (_, a) =>
        referenceMatern(unit(rowOf(xs, c, dim)), unit(rowOf(x, a, dim)), h.lengthScales, h.signalVariance)
      );
      let mu = 0;
      let quad = 0;
      for (let a = 0; a < n; a++)
        for (let b = 0; b < n; b++) {
          mu += kStar[a]! * inv[a * n + b]! * ((y[b]! - meanY) / sdY);
          quad += kStar[a]! * inv[a * n + b]! * kStar[b]!;
        }
      expect(mean[c]!).toBeCloseTo(meanY + sdY * mu, 7);
      expect(variance[c]!).toBeCloseTo(sdY * sdY * Math.max(0, h.signalVariance - quad), 7);
    }
  });

  it("fitting raises the marginal likelihood above the default start and finds an irrelevant input (ARD)", () => {
    const rng = Random.fromSeed(6);
    const dim = 2;
    // y depends on x_0 only: the fitted length scale of x_1 must be much longer than that of x_0.
    const { x, y } = randomData(rng, 40, dim, (r) => Math.sin(2 * r[0]!));
    const untuned = GaussianProcess.fit(x, y, dim, rng.split("a"), { ...defaultGpFitParams, restarts: 0 });
    const tuned = GaussianProcess.fit(x, y, dim, rng.split("b"));
    expect(tuned.logMarginalLikelihood).toBeGreaterThan(untuned.logMarginalLikelihood);
    expect(tuned.hyperparameters.lengthScales[1]!).toBeGreaterThan(5 * tuned.hyperparameters.lengthScales[0]!);
    // A noise-free-ish fit nearly interpolates its data and is confident there.
    const { mean, variance } = tuned.predict(x);
    const sd = tuned.outputScale;
    for (let a = 0; a < 40; a++) {
      expect(Math.abs(mean[a]! - y[a]!)).toBeLessThan(0.2 * sd);
      expect(variance[a]!).toBeLessThan(0.1 * sd * sd);
    }
    // Far from the data the variance returns to the prior signal variance.
    const far = tuned.unitPosterior([50, 50]);
    expect(far[1]).toBeCloseTo(tuned.hyperparameters.signalVariance * sd * sd, 6);
    expect(far[0]).toBeCloseTo(tuned.outputMean, 6);
  });

  it("the gradients of the posterior mean and variance in unit-box coordinates match finite differences", () => {
    const rng = Random.fromSeed(7);
    const dim = 3;
    const { x, y } = randomData(rng, 30, dim, (r) => Math.cos(r[0]!) * r[1]! - r[2]!);
    const gp = GaussianProcess.fit(x, y, dim, rng.split("fit"));
    for (let t = 0; t < 10; t++) {
      const z = [rng.uniform(), rng.uniform(), rng.uniform()];
      const p = gp.unitPosteriorWithGradient(z);
      const [m0, v0] = gp.unitPosterior(z);
      expect(p.mean).toBeCloseTo(m0, 10);
      expect(p.variance).toBeCloseTo(v0, 10);
      const h = 1e-6;
      for (let i = 0; i < dim; i++) {
        const zp = [...z];
        const zm = [...z];
        zp[i]! += h;
        zm[i]! -= h;
        const [mp, vp] = gp.unitPosterior(zp);
        const [mm, vm] = gp.unitPosterior(zm);
        expect(Math.abs(p.meanGradient[i]! - (mp - mm) / (2 * h))).toBeLessThan(1e-4 * Math.max(1, Math.abs(p.meanGradient[i]!)));
        expect(Math.abs(p.varianceGradient[i]! - (vp - vm) / (2 * h))).toBeLessThan(1e-4 * Math.max(1, Math.abs(p.varianceGradient[i]!)));
      }
    }
  });

  it("warm-started hyperparameters are used as given with zero restarts, and fits are deterministic per seed", () => {
    const rng = Random.fromSeed(8);
    const { x, y } = randomData(rng, 20, 2, (r) => r[0]! * r[1]!);
    const warm = { lengthScales: Float64Array.from([0.3, 0.7]), signalVariance: 1.5, noiseVariance: 0.01 };
    const fixed = GaussianProcess.fit(x, y, 2, Random.fromSeed(1), { ...defaultGpFitParams, restarts: 0 }, undefined, warm);
    expect(Array.from(packLogHyperparameters(fixed.hyperparameters))).toEqual(Array.from(packLogHyperparameters(warm)));
    const a = GaussianProcess.fit(x, y, 2, Random.fromSeed(9));
    const b = GaussianProcess.fit(x, y, 2, Random.fromSeed(9));
    expect(Array.from(a.hyperparameters.lengthScales)).toEqual(Array.from(b.hyperparameters.lengthScales));
    expect(a.logMarginalLikelihood).toBe(b.logMarginalLikelihood);
  });

  it("rejects malformed data with a tagged error", () => {
    expect(() => GaussianProcess.fit(new Float64Array(3), new Float64Array(2), 2, Random.fromSeed(1))).toThrow(GpDataError);
    expect(() => GaussianProcess.fit(new Float64Array(0), new Float64Array(0), 2, Random.fromSeed(1))).toThrow(GpDataError);
    expect(() => GaussianProcess.fit(Float64Array.from([0, Number.NaN]), new Float64Array(1), 2, Random.fromSeed(1))).toThrow(GpDataError);
  });
});
