/**
 * Regression statistics for the behaviour analysis of section 5.2 ("report each finding as
 * a measured slope with a confidence interval, not as an assumption"). `linearFit` is ordinary
 * least squares of y on x with the slope's standard error in one of three flavours: classical
 * (independent, equal-variance errors), HC1 (White's heteroscedasticity-robust estimator with the
 * n / (n - 2) correction) and cluster-robust (Liang-Zeger with the usual G / (G - 1) x (n - 1) /
 * (n - 2) correction), the last for points that come in correlated groups, such as the steps of
 * one episode. The confidence interval uses Student's t with n - 2 degrees of freedom (G - 1 for
 * clusters). The t quantile is computed from the regularised incomplete beta function (continued
 * fraction of Numerical Recipes, section 6.4), so no table is needed. Plain TypeScript, no deps.
 */

/** ln Gamma(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ~1e-15). */
export const logGamma = (x: number): number => {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
};

const betaContinuedFraction = (a: number, b: number, x: number): number => {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a - 1 + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + 1 + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
};

/** The regularised incomplete beta function I_x(a, b). */
export const incompleteBeta = (x: number, a: number, b: number): number => {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(a, b, x)) / a : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
};

/** P(T <= t) for Student's t with `df` degrees of freedom. */
export const studentTCdf = (t: number, df: number): number => {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
};

/** The p-quantile of Student's t with `df` degrees of freedom (bisection on the cdf; df may be fractional). */
export const studentTQuantile = (p: number, df: number): number => {
  if (!(p > 0 && p < 1) || !(df > 0)) return Number.NaN;
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = 0.5 * (lo + hi);
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
};

export type StandardErrorKind = "classical" | "hc1" | "cluster";

export interface LinearFit {
  readonly slope: number;
  readonly intercept: number;
  /** Standard error of the slope (NaN when it cannot be estimated). */
  readonly slopeStdError: number;
  /** Two-sided confidence interval of the slope at `level`. */
  readonly ciLow: number;
  readonly ciHigh: number;
  readonly level: number;
  /** Points used (finite x and y). */
  readonly n: number;
  /** Clusters (cluster-robust errors) or n. */
  readonly groups: number;
  /** Degrees of freedom of the t quantile. */
  readonly df: number;
  readonly kind: StandardErrorKind;
}

export interface LinearFitOptions {
  /** Standard-error flavour; "cluster" needs `clusters` (default "classical"). */
  readonly kind?: StandardErrorKind;
  /** Cluster label of every point (e.g. its episode), for cluster-robust errors. */
  readonly clusters?: ArrayLike<number>;
  /** Confidence level of the interval (default 0.95). */
  readonly level?: number;
}

const NAN_FIT = (kind: StandardErrorKind, level: number, n: number): LinearFit => ({
  slope: Number.NaN,
  intercept: Number.NaN,
  slopeStdError: Number.NaN,
  ciLow: Number.NaN,
  ciHigh: Number.NaN,
  level,
  n,
  groups: 0,
  df: 0,
  kind
});

/**
 * Least-squares line y = intercept + slope x over the points where both are finite, with the
 * slope's standard error and confidence interval. Fewer than 3 points, or no spread in x, give
 * NaN (the slope is then not identified).
 */
export const linearFit = (x: ArrayLike<number>, y: ArrayLike<number>, options: LinearFitOptions = {}): LinearFit => {
  const kind = options.kind ?? "classical";
  const level = options.level ?? 0.95;
  if (x.length !== y.length) throw new RangeError(`linearFit: x has ${x.length} points, y ${y.length}; pass equal lengths.`);
  if (kind === "cluster" && (options.clusters === undefined || options.clusters.length !== x.length)) {
    throw new RangeError("linearFit: cluster-robust errors need one cluster label per point; pass options.clusters.");
  }
  let n = 0;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!;
    const yi = y[i]!;
    if (!Number.isFinite(xi) || !Number.isFinite(yi)) continue;
    n++;
    mx += xi;
    my += yi;
  }
  if (n < 3) return NAN_FIT(kind, level, n);
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!;
    const yi = y[i]!;
    if (!Number.isFinite(xi) || !Number.isFinite(yi)) continue;
    sxx += (xi - mx) * (xi - mx);
    sxy += (xi - mx) * (yi - my);
  }
  if (!(sxx > 0)) return NAN_FIT(kind, level, n);
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const residual = (i: number) => y[i]! - intercept - slope * x[i]!;
  let variance: number;
  let df: number;
  let groups = n;
  if (kind === "classical") {
    let sse = 0;
    for (let i = 0; i < x.length; i++) if (Number.isFinite(x[i]!) && Number.isFinite(y[i]!)) sse += residual(i) ** 2;
    variance = sse / (n - 2) / sxx;
    df = n - 2;
  } else if (kind === "hc1") {
    let meat = 0;
    for (let i = 0; i < x.length; i++) if (Number.isFinite(x[i]!) && Number.isFinite(y[i]!)) meat += ((x[i]! - mx) * residual(i)) ** 2;
    variance = ((n / (n - 2)) * meat) / (sxx * sxx);
    df = n - 2;
  } else {
    const scores = new Map<number, number>();
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i]!) || !Number.isFinite(y[i]!)) continue;
      const g = options.clusters![i]!;
      scores.set(g, (scores.get(g) ?? 0) + (x[i]! - mx) * residual(i));
    }
    groups = scores.size;
    let meat = 0;
    for (const s of scores.values()) meat += s * s;
    variance = groups > 1 ? ((groups / (groups - 1)) * ((n - 1) / (n - 2)) * meat) / (sxx * sxx) : Number.NaN;
    df = groups - 1;
  }
  const se = Math.sqrt(variance);
  const q = df > 0 ? studentTQuantile(0.5 + level / 2, df) : Number.NaN;
  return { slope, intercept, slopeStdError: se, ciLow: slope - q * se, ciHigh: slope + q * se, level, n, groups, df, kind };
};

/** Mean and standard error of the mean of the finite values (NaN mean when there are none). */
export const meanAndStdError = (values: ArrayLike<number>): { mean: number; stdError: number; n: number } => {
  let n = 0;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) {
      n++;
      sum += v;
    }
  }
  if (n === 0) return { mean: Number.NaN, stdError: Number.NaN, n };
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) ss += (v - mean) ** 2;
  }
  return { mean, stdError: n > 1 ? Math.sqrt(ss / (n - 1) / n) : Number.NaN, n };
};

/** How a measured slope compares with a claimed sign. */
export type SignVerdict = "reproduced" | "opposite" | "inconclusive";

/**
 * "reproduced" when the whole confidence interval has the claimed sign, "opposite" when it lies
 * wholly on the other side of 0, otherwise (it contains 0, or is NaN) "inconclusive".
 */
export const signVerdict = (fit: Pick<LinearFit, "ciLow" | "ciHigh">, claimedSign: 1 | -1): SignVerdict => {
  const { ciLow, ciHigh } = fit;
  if (!Number.isFinite(ciLow) || !Number.isFinite(ciHigh)) return "inconclusive";
  if (claimedSign > 0 ? ciLow > 0 : ciHigh < 0) return "reproduced";
  if (claimedSign > 0 ? ciHigh < 0 : ciLow > 0) return "opposite";
  return "inconclusive";
};
