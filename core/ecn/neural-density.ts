/**
 * The mixture-density part of the neural ECN model (paper section 2.3.2, figure 5): the
 * log-density of a p-dimensional Gaussian mixture whose components share one correlation matrix C,
 * component k having covariance D_k^1/2 C D_k^1/2 (D_k = diag of its variances). With C = L L^T
 * (Cholesky), the covariance factor is D_k^1/2 L, so
 *   log N(x; mu_k, Sigma_k) = -p/2 log 2pi - 1/2 sum_j log var_kj - sum_j log L_jj - 1/2 |L^-1 y_k|^2,
 *   y_k = (x - mu_k) / sqrt(var_k),
 * and the mixture log-density is a log-sum-exp over components of log pi_k + that. Because L is
 * shared, one inverse L^-1 per minibatch serves every sample and component.
 *
 * The two correlation variants: "fixed" uses the correlation of the standardised training data
 * (its Cholesky factor is computed here in float64, once); "shared" learns it through a
 * parametrisation that is always a valid correlation matrix: a lower-triangular W with a positive
 * diagonal (exp of a free parameter) and free strict-lower entries, each row divided by its norm,
 * so L has unit-norm rows (C = L L^T has a unit diagonal) and a positive diagonal (C is positive
 * definite). L^-1 is computed with tensor ops so gradients reach the parameters: with
 * L = D (I + N), N strictly lower (nilpotent), (I + N)^-1 = prod_j (I + (-N)^(2^j)) for 2^j < p.
 */
import * as tf from "@tensorflow/tfjs";

const LOG_2PI = Math.log(2 * Math.PI);

/** A correlation matrix that cannot be factorised even after regularisation. */
export class CorrelationError extends Error {
  readonly _tag = "CorrelationError" as const;
  constructor(detail: string) {
    super(`${detail}; check that the training data has at least p + 1 distinct samples with non-constant columns.`);
    this.name = "CorrelationError";
  }
}

/** Lower Cholesky factor (row-major p x p) of a symmetric matrix, or undefined if it is not positive definite. */
export const choleskyLower = (a: ArrayLike<number>, p: number): Float64Array | undefined => {
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * p + j]!;
      for (let k = 0; k < j; k++) s -= l[i * p + k]! * l[j * p + k]!;
      if (i === j) {
        if (!(s > 0)) return undefined;
        l[i * p + i] = Math.sqrt(s);
      } else l[i * p + j] = s / l[j * p + j]!;
    }
  }
  return l;
};

/**
 * Cholesky factor of a correlation matrix, regularised if needed: C' = (C + eps I) / (1 + eps)
 * with eps growing from 0 (then 1e-10, x10 each time) until C' is positive definite. C' is still a
 * correlation matrix, so the factor has unit-norm rows.
 */
export const correlationCholesky = (correlation: ArrayLike<number>, p: number): { factor: Float64Array; jitter: number } => {
  for (let eps = 0; eps <= 1; eps = eps === 0 ? 1e-10 : eps * 10) {
    const a = new Float64Array(p * p);
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) a[i * p + j] = (correlation[i * p + j]! + (i === j ? eps : 0)) / (1 + eps);
    const factor = choleskyLower(a, p);
    if (factor !== undefined) return { factor, jitter: eps };
  }
  throw new CorrelationError("the correlation matrix is not positive definite even with a jitter of 1 on its diagonal");
};

/** Inverse of a lower-triangular matrix (row-major p x p) by forward substitution, in float64. */
export const invertLowerTriangular = (l: ArrayLike<number>, p: number): Float64Array => {
  const inv = new Float64Array(p * p);
  for (let col = 0; col < p; col++) {
    for (let i = col; i < p; i++) {
      let s = i === col ? 1 : 0;
      for (let k = col; k < i; k++) s -= l[i * p + k]! * inv[k * p + col]!;
      inv[i * p + col] = s / l[i * p + i]!;
    }
  }
  return inv;
};

/**
 * Correlation matrix (row-major p x p) of n rows of `data` (row-major, n x p). A constant column
 * has no correlation: its row and column are those of the identity.
 */
export const empiricalCorrelation = (data: ArrayLike<number>, n: number, p: number): Float64Array => {
  const mean = new Float64Array(p);
  for (let r = 0; r < n; r++) for (let j = 0; j < p; j++) mean[j] = mean[j]! + data[r * p + j]! / n;
  const cov = new Float64Array(p * p);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < p; i++) {
      const xi = data[r * p + i]! - mean[i]!;
      for (let j = 0; j <= i; j++) cov[i * p + j] = cov[i * p + j]! + xi * (data[r * p + j]! - mean[j]!);
    }
  }
  const corr = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      const denominator = Math.sqrt(cov[i * p + i]! * cov[j * p + j]!);
      const value = i === j ? 1 : denominator > 0 ? Math.max(-1, Math.min(1, cov[i * p + j]! / denominator)) : 0;
      corr[i * p + j] = value;
      corr[j * p + i] = value;
    }
  }
  return corr;
};

/**
 * The shared-correlation parametrisation in float64 (the same map as `sharedCorrelationFactor`):
 * raw is p x p row-major; its strict lower part gives W's strict lower part, its diagonal d gives
 * W_ii = exp(d_i), its upper part is unused; L = W with each row divided by its norm.
 */
export const sharedFactorFromRaw = (raw: ArrayLike<number>, p: number): Float64Array => {
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    let norm = 0;
    for (let j = 0; j <= i; j++) {
      const w = j === i ? Math.exp(raw[i * p + i]!) : raw[i * p + j]!;
      l[i * p + j] = w;
      norm += w * w;
    }
    norm = Math.sqrt(norm);
    for (let j = 0; j <= i; j++) l[i * p + j] = l[i * p + j]! / norm;
  }
  return l;
};

/** Raw shared-correlation parameters whose factor is `factor` (lower triangular, positive diagonal, unit-norm rows). */
export const sharedRawFromFactor = (factor: ArrayLike<number>, p: number): Float64Array => {
  const raw = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < i; j++) raw[i * p + j] = factor[i * p + j]! / factor[i * p + i]!;
    raw[i * p + i] = 0;
  }
  return raw;
};

/** L L^T of a row-major lower factor. */
export const correlationFromFactor = (factor: ArrayLike<number>, p: number): Float64Array => {
  const c = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < p; j++) {
      let s = 0;
      for (let k = 0; k <= Math.min(i, j); k++) s += factor[i * p + k]! * factor[j * p + k]!;
      c[i * p + j] = s;
    }
  }
  return c;
};

const masks = new Map<number, { strictLower: tf.Tensor2D; eye: tf.Tensor2D }>();
const masksFor = (p: number) => {
  let m = masks.get(p);
  // Tensors are tied to the backend that made them; rebuild them if the backend changed.
  if (m === undefined || m.eye.isDisposed) {
    m = tf.tidy(() => ({ strictLower: tf.keep(tf.sub(tf.linalg.bandPart(tf.ones([p, p]), -1, 0), tf.eye(p))) as tf.Tensor2D, eye: tf.keep(tf.eye(p)) as tf.Tensor2D }));
    masks.set(p, m);
  }
  return m;
};

/** Forgets the cached mask tensors (call after switching tfjs backends). */
export const resetDensityCache = (): void => {
  for (const m of masks.values()) {
    m.strictLower.dispose();
    m.eye.dispose();
  }
  masks.clear();
};

/** The shared-correlation factor L (p x p) from the raw parameters, with tensor ops (differentiable). */
export const sharedCorrelationFactor = (raw: tf.Tensor2D): tf.Tensor2D =>
  tf.tidy(() => {
    const p = raw.shape[0];
    const { strictLower, eye } = masksFor(p);
    const w = tf.add(tf.mul(raw, strictLower), tf.mul(tf.exp(tf.mul(raw, eye)), eye));
    return tf.div(w, tf.sqrt(tf.sum(tf.square(w), 1, true))) as tf.Tensor2D;
  });

/**
 * Inverse and log-determinant of a lower-triangular factor with a positive diagonal, with tensor
 * ops (differentiable): L^-1 = (I + N)^-1 D^-1 with D = diag(L), N = D^-1 L - I nilpotent.
 */
export const lowerFactorInverse = (factor: tf.Tensor2D): { inverse: tf.Tensor2D; logDet: tf.Scalar } =>
  tf.tidy(() => {
    const p = factor.shape[0];
    const { eye } = masksFor(p);
    const diagonal = tf.sum(tf.mul(factor, eye), 1);
    const minusN = tf.sub(eye, tf.div(factor, tf.reshape(diagonal, [p, 1]))) as tf.Tensor2D;
    let inverseUnit = tf.add(eye, minusN) as tf.Tensor2D;
    let power: tf.Tensor2D = minusN;
    for (let span = 2; span < p; span *= 2) {
      power = tf.matMul(power, power);
      inverseUnit = tf.matMul(inverseUnit, tf.add(eye, power) as tf.Tensor2D);
    }
    const inverse = tf.div(inverseUnit, tf.reshape(diagonal, [1, p])) as tf.Tensor2D;
    // log det L: half the log-determinant of the correlation matrix L L^T.
    const logDet = tf.sum(tf.log(diagonal)) as tf.Scalar;
    return { inverse, logDet };
  });

/** Parameters of a batch of mixtures sharing one correlation factor. */
export interface MixtureParameters {
  /** Unnormalised log-weights, [B, K] (a softmax gives the weights). */
  readonly logits: tf.Tensor2D;
  /** Means, [B, K, p]. */
  readonly means: tf.Tensor3D;
  /** Variances (> 0), [B, K, p]. */
  readonly variances: tf.Tensor3D;
}

/**
 * Log-density of each row of `x` ([B, p]) under its own mixture, all mixtures sharing the
 * correlation whose lower factor has inverse `inverseFactor` and log-determinant `logDetFactor`
 * (see `lowerFactorInverse`). Returns [B].
 */
export const mixtureLogDensity = (
  x: tf.Tensor2D,
  params: MixtureParameters,
  inverseFactor: tf.Tensor2D,
  logDetFactor: tf.Scalar
): tf.Tensor1D =>
  tf.tidy(() => {
    const [batch, components, p] = params.means.shape;
    const standardised = tf.div(tf.sub(tf.expandDims(x, 1), params.means), tf.sqrt(params.variances));
    // z = L^-1 y for every (sample, component): one matmul with (L^-1)^T, transposed here once
    // (tiny) rather than asking matMul for a transposed operand.
    const z = tf.matMul(tf.reshape(standardised, [batch * components, p]), tf.transpose(inverseFactor));
    const mahalanobis = tf.reshape(tf.sum(tf.square(z), 1), [batch, components]);
    const halfLogDetD = tf.mul(tf.sum(tf.log(params.variances), 2), 0.5);
    const logComponent = tf.sub(
      tf.sub(tf.sub(tf.logSoftmax(params.logits, 1), halfLogDetD), tf.add(tf.mul(mahalanobis, 0.5), logDetFactor)),
      0.5 * p * LOG_2PI
    );
    return tf.logSumExp(logComponent, 1) as tf.Tensor1D;
  });
