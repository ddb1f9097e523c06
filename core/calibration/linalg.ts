/**
 * Dense linear algebra for the Gaussian process of the Bayesian-optimisation baseline (paper
 * section 5.1, "Baseline"): Cholesky factorisation of a symmetric positive-definite
 * covariance matrix, triangular solves and the inverse from the factor. Matrices are row-major
 * Float64Arrays of n x n entries; everything runs in float64 because GP covariance matrices are
 * badly conditioned and single precision loses the posterior variance entirely.
 */

/** Raised when a matrix that must be positive definite is not (numerically). */
export class NotPositiveDefiniteError extends Error {
  readonly _tag = "NotPositiveDefiniteError";
  constructor(readonly pivotIndex: number, readonly pivotValue: number) {
    super(
      `Cholesky factorisation failed at pivot ${pivotIndex} (value ${pivotValue}); add jitter to the diagonal or raise the noise variance bound.`
    );
  }
}

/**
 * Lower-triangular L with L L^T = A, written into a new array (the upper triangle is zero).
 * Returns undefined when a pivot is not positive, so callers can retry with more jitter.
 */
export const choleskyOrUndefined = (a: Float64Array, n: number): Float64Array | undefined => {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const rowI = i * n;
    for (let j = 0; j <= i; j++) {
      const rowJ = j * n;
      let sum = a[rowI + j]!;
      for (let k = 0; k < j; k++) sum -= l[rowI + k]! * l[rowJ + k]!;
      if (i === j) {
        if (!(sum > 0)) return undefined;
        l[rowI + i] = Math.sqrt(sum);
      } else {
        l[rowI + j] = sum / l[rowJ + j]!;
      }
    }
  }
  return l;
};

/** Cholesky factor of A; throws `NotPositiveDefiniteError` when A is not positive definite. */
export const cholesky = (a: Float64Array, n: number): Float64Array => {
  const l = choleskyOrUndefined(a, n);
  if (l === undefined) {
    // Locate the failing pivot for the message.
    for (let i = 0; i < n; i++) if (!(a[i * n + i]! > 0)) throw new NotPositiveDefiniteError(i, a[i * n + i]!);
    throw new NotPositiveDefiniteError(-1, Number.NaN);
  }
  return l;
};

/** Solves L x = b (forward substitution) into `out` (may alias b). */
export const solveLower = (l: Float64Array, n: number, b: ArrayLike<number>, out: Float64Array = new Float64Array(n)): Float64Array => {
  for (let i = 0; i < n; i++) {
    const row = i * n;
    let sum = b[i]!;
    for (let k = 0; k < i; k++) sum -= l[row + k]! * out[k]!;
    out[i] = sum / l[row + i]!;
  }
  return out;
};

/** Solves L^T x = b (back substitution with the transpose of a lower factor) into `out` (may alias b). */
export const solveLowerTranspose = (
  l: Float64Array,
  n: number,
  b: ArrayLike<number>,
  out: Float64Array = new Float64Array(n)
): Float64Array => {
  for (let i = n - 1; i >= 0; i--) {
    let sum = b[i]!;
    for (let k = i + 1; k < n; k++) sum -= l[k * n + i]! * out[k]!;
    out[i] = sum / l[i * n + i]!;
  }
  return out;
};

/** A^{-1} b from the Cholesky factor of A. */
export const choleskySolve = (l: Float64Array, n: number, b: ArrayLike<number>): Float64Array =>
  solveLowerTranspose(l, n, solveLower(l, n, b));

/** A^{-1} from the Cholesky factor of A: (L^{-1})^T L^{-1}, symmetric, full storage. */
export const choleskyInverse = (l: Float64Array, n: number): Float64Array => {
  // Inverse of the lower factor, column by column (lower triangular).
  const li = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    li[j * n + j] = 1 / l[j * n + j]!;
    for (let i = j + 1; i < n; i++) {
      let sum = 0;
      const row = i * n;
      for (let k = j; k < i; k++) sum -= l[row + k]! * li[k * n + j]!;
      li[row + j] = sum / l[row + i]!;
    }
  }
  // (L^{-1})^T L^{-1}: entry (i, j) = sum_{k >= max(i,j)} li[k,i] li[k,j].
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = 0;
      for (let k = i; k < n; k++) sum += li[k * n + i]! * li[k * n + j]!;
      inv[i * n + j] = sum;
      inv[j * n + i] = sum;
    }
  }
  return inv;
};

/** log det A = 2 sum_i log L_ii. */
export const choleskyLogDet = (l: Float64Array, n: number): number => {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.log(l[i * n + i]!);
  return 2 * s;
};
