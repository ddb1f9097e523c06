/**
 * The mixture density of the neural ECN model (paper section 2.3.2). The log-density
 * computed through the shared Cholesky factor is checked against the textbook formula evaluated
 * here independently: Sigma_k = D_k^1/2 C D_k^1/2 built explicitly, its inverse and determinant by
 * Gauss-Jordan elimination with partial pivoting, log-sum-exp over components, all in float64.
 * The shared-correlation parametrisation must give a correlation matrix (unit diagonal, symmetric,
 * positive semi-definite: smallest Jacobi eigenvalue >= 0) for any parameters.
 */
import * as tf from "@tensorflow/tfjs";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  correlationCholesky,
  lowerFactorInverse,
  mixtureLogDensity,
  sharedCorrelationFactor,
  sharedFactorFromRaw
} from "../../core/ecn/neural-density.ts";
import { Random } from "../../core/random/philox.ts";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** Inverse and log |det| of a dense matrix by Gauss-Jordan with partial pivoting. */
const inverseAndLogDet = (a: Float64Array, n: number): { inverse: Float64Array; logDet: number } => {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  let logDet = 0;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r * n + col]!) > Math.abs(m[pivot * n + col]!)) pivot = r;
    if (pivot !== col) {
      for (let j = 0; j < n; j++) {
        [m[col * n + j], m[pivot * n + j]] = [m[pivot * n + j]!, m[col * n + j]!];
        [inv[col * n + j], inv[pivot * n + j]] = [inv[pivot * n + j]!, inv[col * n + j]!];
      }
    }
    const d = m[col * n + col]!;
    logDet += Math.log(Math.abs(d));
    for (let j = 0; j < n; j++) {
      m[col * n + j] = m[col * n + j]! / d;
      inv[col * n + j] = inv[col * n + j]! / d;
    }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r * n + col]!;
      if (f === 0) continue;
      for (let j = 0; j < n; j++) {
        m[r * n + j] = m[r * n + j]! - f * m[col * n + j]!;
        inv[r * n + j] = inv[r * n + j]! - f * inv[col * n + j]!;
      }
    }
  }
  return { inverse: inv, logDet };
};

/** Condition number ||A|| ||A^-1|| in the infinity norm (max absolute row sum), in float64. */
const infinityCondition = (a: Float64Array, n: number): number => {
  const norm = (m: Float64Array) => {
    let worst = 0;
    for (let i = 0; i < n; i++) {
      let row = 0;
      for (let j = 0; j < n; j++) row += Math.abs(m[i * n + j]!);
      worst = Math.max(worst, row);
    }
    return worst;
  };
  return norm(a) * norm(inverseAndLogDet(a, n).inverse);
};

/** Eigenvalues of a symmetric matrix by cyclic Jacobi rotations. */
const symmetricEigenvalues = (a: Float64Array, n: number): number[] => {
  const m = Float64Array.from(a);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += m[i * n + j]! ** 2;
    if (off < 1e-24) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * n + q]! - m[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = m[k * n + p]!;
          const akq = m[k * n + q]!;
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = m[p * n + k]!;
          const aqk = m[q * n + k]!;
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  return Array.from({ length: n }, (_, i) => m[i * n + i]!);
};

/** A random correlation matrix; `collinearity` near 1 makes it nearly singular. */
const randomCorrelation = (rng: Random, p: number, collinearity: number): Float64Array => {
  // Rows of a random matrix pulled towards one common direction, normalised: Gram matrix = correlation.
  const common = Array.from({ length: p }, () => rng.normal());
  const rows = Array.from({ length: p }, () => Array.from({ length: p }, (_, j) => collinearity * common[j]! + (1 - collinearity) * rng.normal()));
  for (const row of rows) {
    const norm = Math.hypot(...row);
    for (let j = 0; j < p; j++) row[j] = row[j]! / norm;
  }
  const c = new Float64Array(p * p);
  for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) c[i * p + j] = i === j ? 1 : rows[i]!.reduce((s, v, k) => s + v * rows[j]![k]!, 0);
  return c;
};

/** The mixture log-density of x under (weights from logits, means, variances, C) by the textbook formula. */
const directLogDensity = (x: Float64Array, logits: Float64Array, means: Float64Array, variances: Float64Array, c: Float64Array, K: number, p: number): number => {
  const maxLogit = Math.max(...logits);
  const logNorm = maxLogit + Math.log(logits.reduce((s, l) => s + Math.exp(l - maxLogit), 0));
  const terms: number[] = [];
  for (let k = 0; k < K; k++) {
    const sigma = new Float64Array(p * p);
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) sigma[i * p + j] = Math.sqrt(variances[k * p + i]! * variances[k * p + j]!) * c[i * p + j]!;
    const { inverse, logDet } = inverseAndLogDet(sigma, p);
    let quad = 0;
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) quad += (x[i]! - means[k * p + i]!) * inverse[i * p + j]! * (x[j]! - means[k * p + j]!);
    terms.push(logits[k]! - logNorm - 0.5 * p * Math.log(2 * Math.PI) - 0.5 * logDet - 0.5 * quad);
  }
  const max = Math.max(...terms);
  return max + Math.log(terms.reduce((s, t) => s + Math.exp(t - max), 0));
};

describe("mixtureLogDensity", () => {
  it("agrees with the explicit inverse/determinant formula, including near-singular correlations", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom(0, 0.5, 0.9, 0.98), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 2, max: 7 }), (seed, collinearity, K, p) => {
        const rng = Random.fromSeed(seed);
        const B = 3;
        const c = randomCorrelation(rng, p, collinearity);
        const { factor } = correlationCholesky(c, p);
        const logits = Float64Array.from({ length: B * K }, () => 2 * rng.normal());
        const means = Float64Array.from({ length: B * K * p }, () => rng.normal());
        const variances = Float64Array.from({ length: B * K * p }, () => Math.exp(rng.uniformIn(-2, 1)));
        const x = Float64Array.from({ length: B * p }, () => 1.5 * rng.normal());
        const got = tf.tidy(() => {
          const { inverse, logDet } = lowerFactorInverse(tf.tensor2d(Float32Array.from(factor), [p, p]));
          return mixtureLogDensity(
            tf.tensor2d(Float32Array.from(x), [B, p]),
            { logits: tf.tensor2d(Float32Array.from(logits), [B, K]), means: tf.tensor3d(Float32Array.from(means), [B, K, p]), variances: tf.tensor3d(Float32Array.from(variances), [B, K, p]) },
            inverse,
            logDet
          ).arraySync();
        });
        for (let b = 0; b < B; b++) {
          const expected = directLogDensity(
            x.subarray(b * p, b * p + p),
            logits.subarray(b * K, b * K + K),
            means.subarray(b * K * p, (b + 1) * K * p),
            variances.subarray(b * K * p, (b + 1) * K * p),
            c,
            K,
            p
          );
          // float32 arithmetic on matrices with condition numbers up to ~1e4.
          expect(Math.abs(got[b]! - expected)).toBeLessThan(2e-3 * Math.max(1, Math.abs(expected)));
        }
      }),
      { numRuns: 60 }
    );
  });

  it("integrates to one in one dimension (a density, not just a score)", () => {
    const n = 4001;
    const grid = Float32Array.from({ length: n }, (_, i) => -20 + (40 * i) / (n - 1));
    const logp = tf.tidy(() => {
      const { inverse, logDet } = lowerFactorInverse(tf.tensor2d([1], [1, 1]));
      const tile = (v: number[]) => Float32Array.from({ length: n * v.length }, (_, i) => v[i % v.length]!);
      return mixtureLogDensity(
        tf.tensor2d(grid, [n, 1]),
        { logits: tf.tensor2d(tile([0.3, -1, 0.5]), [n, 3]), means: tf.tensor3d(tile([-2, 0.5, 3]), [n, 3, 1]), variances: tf.tensor3d(tile([0.5, 2, 0.1]), [n, 3, 1]) },
        inverse,
        logDet
      ).dataSync();
    });
    let integral = 0;
    for (let i = 0; i < n; i++) integral += Math.exp(logp[i]!) * (40 / (n - 1));
    expect(integral).toBeCloseTo(1, 4);
  });
});

describe("shared-correlation parametrisation", () => {
  it("always gives a valid correlation matrix (unit diagonal, symmetric, PSD) and matches its float64 twin", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.double({ min: 0.01, max: 8, noNaN: true }), (p, seed, scale) => {
        const rng = Random.fromSeed(seed);
        const raw = Float32Array.from({ length: p * p }, () => scale * rng.normal());
        const factor = tf.tidy(() => sharedCorrelationFactor(tf.tensor2d(raw, [p, p])).dataSync());
        const twin = sharedFactorFromRaw(raw, p);
        const c = new Float64Array(p * p);
        for (let i = 0; i < p; i++) {
          for (let j = 0; j < p; j++) {
            let s = 0;
            for (let k = 0; k < p; k++) s += factor[i * p + k]! * factor[j * p + k]!;
            c[i * p + j] = s;
            expect(Math.abs(factor[i * p + j]! - twin[i * p + j]!)).toBeLessThan(1e-5);
            if (j > i) expect(factor[i * p + j]).toBe(0);
          }
        }
        for (let i = 0; i < p; i++) {
          expect(Math.abs(c[i * p + i]! - 1)).toBeLessThan(1e-5);
          for (let j = 0; j < p; j++) expect(Math.abs(c[i * p + j]!)).toBeLessThanOrEqual(1 + 1e-5);
        }
        expect(Math.min(...symmetricEigenvalues(c, p))).toBeGreaterThan(-1e-5);
      }),
      { numRuns: 80 }
    );
  });

  // A float32 inverse is only as accurate as the factor's conditioning allows: a backward-stable
  // inversion leaves residuals of order eps32 * cond(L), and random raw parameters reach
  // cond(L) ~ 1e6 at p = 12. The bound below allows 16 eps32 * cond(L) (cond in the infinity norm,
  // computed in float64) on top of a fixed 1e-4.
  it("its factor inverse times the factor is the identity, to float32 accuracy for its conditioning", () => {
    const eps32 = 2 ** -24;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (p, seed) => {
        const rng = Random.fromSeed(seed);
        const raw = Float32Array.from({ length: p * p }, () => rng.normal());
        const product = tf.tidy(() => {
          const factor = sharedCorrelationFactor(tf.tensor2d(raw, [p, p]));
          return tf.matMul(lowerFactorInverse(factor).inverse, factor).dataSync();
        });
        const tolerance = 1e-4 + 16 * eps32 * infinityCondition(sharedFactorFromRaw(raw, p), p);
        for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) expect(Math.abs(product[i * p + j]! - (i === j ? 1 : 0))).toBeLessThan(tolerance);
      }),
      { numRuns: 40 }
    );
  });

  it("reaches any correlation matrix: gradient ascent on the log-likelihood of correlated data recovers it", () => {
    const p = 3;
    const target = new Float64Array([1, 0.8, -0.3, 0.8, 1, -0.5, -0.3, -0.5, 1]);
    const { factor: chol } = correlationCholesky(target, p);
    const rng = Random.fromSeed(5);
    const n = 4000;
    const data = new Float32Array(n * p);
    for (let r = 0; r < n; r++) {
      const z = [rng.normal(), rng.normal(), rng.normal()];
      for (let i = 0; i < p; i++) for (let j = 0; j <= i; j++) data[r * p + i] = data[r * p + i]! + chol[i * p + j]! * z[j]!;
    }
    const raw = tf.variable(tf.zeros([p, p]));
    const optimizer = tf.train.adam(0.05);
    const x = tf.tensor2d(data, [n, p]);
    const params = { logits: tf.zeros([n, 1]) as tf.Tensor2D, means: tf.zeros([n, 1, p]) as tf.Tensor3D, variances: tf.ones([n, 1, p]) as tf.Tensor3D };
    for (let step = 0; step < 300; step++) {
      optimizer.minimize(() => {
        const { inverse, logDet } = lowerFactorInverse(sharedCorrelationFactor(raw as tf.Tensor2D));
        return tf.neg(tf.mean(mixtureLogDensity(x, params, inverse, logDet))) as tf.Scalar;
      });
    }
    const learnt = tf.tidy(() => {
      const l = sharedCorrelationFactor(raw as tf.Tensor2D);
      return tf.matMul(l, tf.transpose(l)).dataSync();
    });
    for (let i = 0; i < p * p; i++) expect(Math.abs(learnt[i]! - target[i]!)).toBeLessThan(0.05);
  });
});
