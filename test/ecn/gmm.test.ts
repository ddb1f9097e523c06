import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Random } from "../../core/random/philox.ts";
import {
  choleskyInPlace,
  distinctRows,
  fitGmm,
  kmeans,
  logLikelihoods,
  sampleGmm,
  scoreGmm,
  type GaussianMixture
} from "../../core/ecn/gmm.ts";
import { zigguratNormal } from "../../core/ecn/ziggurat.ts";

const truth: GaussianMixture = {
  nComponents: 3,
  dim: 2,
  weights: Float64Array.of(0.5, 0.3, 0.2),
  means: Float64Array.of(0, 0, 6, 1, -3, 7),
  covariances: Float64Array.of(1, 0.3, 0.3, 0.5, 0.4, -0.1, -0.1, 0.8, 2, 0.9, 0.9, 1)
};

const permutations = (n: number): number[][] =>
  n === 1 ? [[0]] : permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, error < 1.5e-7). */
const normalCdf = (x: number): number => {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
};

describe("ziggurat normals", () => {
  it("pass a Kolmogorov-Smirnov test and have normal moments", () => {
    const rng = Random.fromSeed(2024);
    const n = 200_000;
    const xs = new Float64Array(n);
    for (let i = 0; i < n; i++) xs[i] = zigguratNormal(rng);
    xs.sort();
    let dMax = 0;
    for (let i = 0; i < n; i++) {
      const f = normalCdf(xs[i]!);
      dMax = Math.max(dMax, Math.abs(f - i / n), Math.abs((i + 1) / n - f));
    }
    expect(dMax).toBeLessThan(1.95 / Math.sqrt(n)); // 0.1% critical value
    let m1 = 0;
    let m2 = 0;
    let m4 = 0;
    for (const x of xs) {
      m1 += x / n;
      m2 += (x * x) / n;
      m4 += (x * x * x * x) / n;
    }
    expect(Math.abs(m1)).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs(m2 - 1)).toBeLessThan(4 * Math.sqrt(2 / n));
    expect(Math.abs(m4 - 3)).toBeLessThan(4 * Math.sqrt(96 / n));
    // Tails beyond the ziggurat base R = 3.44 are produced at the normal rate (2 x 2.88e-4).
    const tail = xs.filter((x) => Math.abs(x) > 3.442619855899).length / n;
    expect(Math.abs(tail - 2 * (1 - normalCdf(3.442619855899)))).toBeLessThan(4 * Math.sqrt(5.8e-4 / n));
  });
});

describe("Cholesky and densities", () => {
  it("L L^T reproduces any SPD matrix", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 36, maxLength: 36 }), (d, entries) => {
        // A = B B^T + I is SPD.
        const a = new Float64Array(d * d);
        for (let i = 0; i < d; i++)
          for (let j = 0; j < d; j++) {
            let s = i === j ? 1 : 0;
            for (let k = 0; k < d; k++) s += entries[i * 6 + k]! * entries[j * 6 + k]!;
            a[i * d + j] = s;
          }
        const l = Float64Array.from(a);
        expect(choleskyInPlace(l, d)).toBe(true);
        for (let i = 0; i < d; i++)
          for (let j = 0; j < d; j++) {
            let s = 0;
            for (let k = 0; k < d; k++) s += l[i * d + k]! * l[j * d + k]!;
            expect(s).toBeCloseTo(a[i * d + j]!, 8);
          }
      })
    );
  });
  it("scoreGmm matches the explicit bivariate normal mixture density", () => {
    const data = Float64Array.of(0.3, -0.2, 5, 2, -3, 6, 1, 1);
    const ll = logLikelihoods(truth, data);
    for (let i = 0; i < 4; i++) {
      const x = data[2 * i]!;
      const y = data[2 * i + 1]!;
      let p = 0;
      for (let k = 0; k < 3; k++) {
        const [a, b, , c] = [truth.covariances[4 * k]!, truth.covariances[4 * k + 1]!, 0, truth.covariances[4 * k + 3]!];
        const det = a * c - b * b;
        const dx = x - truth.means[2 * k]!;
        const dy = y - truth.means[2 * k + 1]!;
        const q = (c * dx * dx - 2 * b * dx * dy + a * dy * dy) / det;
        p += (truth.weights[k]! * Math.exp(-q / 2)) / (2 * Math.PI * Math.sqrt(det));
      }
      expect(ll[i]).toBeCloseTo(Math.log(p), 10);
    }
    expect(scoreGmm(truth, data)).toBeCloseTo((ll[0]! + ll[1]! + ll[2]! + ll[3]!) / 4, 12);
  });
});

describe("sampling", () => {
  it("draws have the mixture's mean and covariance", () => {
    const n = 200_000;
    const xs = sampleGmm(truth, n, Random.fromSeed(5));
    const mean = [0, 0];
    for (let k = 0; k < 3; k++) for (let a = 0; a < 2; a++) mean[a]! += truth.weights[k]! * truth.means[2 * k + a]!;
    const cov = [0, 0, 0, 0];
    for (let k = 0; k < 3; k++)
      for (let a = 0; a < 2; a++)
        for (let b = 0; b < 2; b++)
          cov[2 * a + b]! += truth.weights[k]! * (truth.covariances[4 * k + 2 * a + b]! + truth.means[2 * k + a]! * truth.means[2 * k + b]!);
    for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) cov[2 * a + b]! -= mean[a]! * mean[b]!;
    const sm = [0, 0];
    for (let i = 0; i < n; i++) for (let a = 0; a < 2; a++) sm[a]! += xs[2 * i + a]! / n;
    const sc = [0, 0, 0, 0];
    for (let i = 0; i < n; i++)
      for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) sc[2 * a + b]! += ((xs[2 * i + a]! - sm[a]!) * (xs[2 * i + b]! - sm[b]!)) / n;
    for (let a = 0; a < 2; a++) expect(Math.abs(sm[a]! - mean[a]!)).toBeLessThan(5 * Math.sqrt(cov[3 * a]! / n));
    for (let i = 0; i < 4; i++) expect(Math.abs(sc[i]! - cov[i]!)).toBeLessThan(0.05 * Math.max(1, Math.abs(cov[i]!)));
  });
});

describe("k-means and EM", () => {
  it("k-means recovers well separated clusters exactly", () => {
    const rng = Random.fromSeed(9);
    const centres = [
      [0, 0],
      [50, 0],
      [0, 50],
      [50, 50]
    ];
    const n = 400;
    const data = new Float64Array(2 * n);
    const truthLabels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % 4;
      truthLabels[i] = c;
      data[2 * i] = centres[c]![0]! + rng.normal();
      data[2 * i + 1] = centres[c]![1]! + rng.normal();
    }
    const labels = kmeans(data, n, 2, 4, rng.split("k"));
    const map = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const seen = map.get(labels[i]!);
      if (seen === undefined) map.set(labels[i]!, truthLabels[i]!);
      else expect(seen).toBe(truthLabels[i]);
    }
    expect(map.size).toBe(4);
  });

  it("recovers a known mixture (components matched by permutation)", () => {
    const n = 6000;
    const data = sampleGmm(truth, n, Random.fromSeed(1));
    const fit = fitGmm(data, n, 2, { nComponents: 3, nInit: 2 }, Random.fromSeed(2));
    expect(fit.converged).toBe(true);
    let best = Infinity;
    let bestPerm: number[] = [];
    for (const p of permutations(3)) {
      let e = 0;
      for (let k = 0; k < 3; k++) for (let a = 0; a < 2; a++) e += (fit.model.means[2 * p[k]! + a]! - truth.means[2 * k + a]!) ** 2;
      if (e < best) {
        best = e;
        bestPerm = p;
      }
    }
    for (let k = 0; k < 3; k++) {
      const j = bestPerm[k]!;
      expect(Math.abs(fit.model.weights[j]! - truth.weights[k]!)).toBeLessThan(0.03);
      for (let a = 0; a < 2; a++) expect(Math.abs(fit.model.means[2 * j + a]! - truth.means[2 * k + a]!)).toBeLessThan(0.15);
      for (let e = 0; e < 4; e++) expect(Math.abs(fit.model.covariances[4 * j + e]! - truth.covariances[4 * k + e]!)).toBeLessThan(0.2);
    }
    // The fitted mixture explains held-out draws about as well as the truth does.
    const heldOut = sampleGmm(truth, 20000, Random.fromSeed(3));
    expect(scoreGmm(fit.model, heldOut)).toBeGreaterThan(scoreGmm(truth, heldOut) - 0.01);
  });

  it("the mean log-likelihood never decreases across EM iterations", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e9 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 30, max: 200 }),
        (seed, dim, k, n) => {
          const rng = Random.fromSeed(seed);
          // Clustered, skewed data so that EM has work to do.
          const data = new Float64Array(n * dim);
          for (let i = 0; i < n; i++) {
            const c = rng.int(3);
            for (let a = 0; a < dim; a++) data[i * dim + a] = 3 * c + Math.exp(0.7 * rng.normal());
          }
          const bounds: number[] = [];
          fitGmm(data, n, dim, { nComponents: k, tol: 0, maxIter: 30, onIteration: (_r, _i, lb) => bounds.push(lb) }, rng.split("fit"));
          for (let i = 1; i < bounds.length; i++) expect(bounds[i]!).toBeGreaterThanOrEqual(bounds[i - 1]! - 1e-6);
        }
      ),
      { numRuns: 40 }
    );
  });

  it("keeps the restart with the best lower bound", () => {
    const n = 600;
    const data = sampleGmm(truth, n, Random.fromSeed(8));
    const finals: number[] = [];
    const fit = fitGmm(
      data,
      n,
      2,
      {
        nComponents: 4,
        nInit: 4,
        onIteration: (restart, _i, lb) => {
          if (finals.length <= restart) finals.push(-Infinity);
          finals[restart] = lb;
        }
      },
      Random.fromSeed(4)
    );
    expect(fit.lowerBound).toBe(Math.max(...finals));
  });

  it("distinct rows with their multiplicities are the same multiset of rows", () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: -2, max: 2 }), { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 60 }), (raw) => {
        const n = raw.length;
        const { rows, multiplicity, count } = distinctRows(Float64Array.from(raw.flat()), n, 3);
        const key = (r: ArrayLike<number>) => Array.from(r).join(",");
        const expected = new Map<string, number>();
        for (const r of raw) expected.set(key(r), (expected.get(key(r)) ?? 0) + 1);
        expect(count).toBe(expected.size);
        for (let u = 0; u < count; u++) expect(multiplicity[u]).toBe(expected.get(key(rows.subarray(3 * u, 3 * u + 3))));
      })
    );
  });

  it("repeating every sample leaves the fit unchanged (the likelihood is per sample)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 2, max: 3 }), (seed, copies, k) => {
        const rng = Random.fromSeed(seed);
        const n = 120;
        // Discrete levels, as the ECN samples: many repeated rows.
        const data = new Float64Array(n * 2);
        for (let i = 0; i < 2 * n; i++) data[i] = Math.round(3 * rng.int(2) + rng.normal());
        const repeated = new Float64Array(copies * n * 2);
        for (let c = 0; c < copies; c++) repeated.set(data, c * n * 2);
        const once = fitGmm(data, n, 2, { nComponents: k, nInit: 2, regCovar: 1e-3 }, Random.fromSeed(seed + 1));
        const many = fitGmm(repeated, copies * n, 2, { nComponents: k, nInit: 2, regCovar: 1e-3 }, Random.fromSeed(seed + 1));
        expect(many.lowerBound).toBeCloseTo(once.lowerBound, 9);
        expect(many.iterations).toBe(once.iterations);
        for (let i = 0; i < once.model.means.length; i++) expect(many.model.means[i]!).toBeCloseTo(once.model.means[i]!, 7);
      }),
      { numRuns: 25 }
    );
  });
});
