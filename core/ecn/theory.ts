/**
 * Closed forms of the paper's theory of the hybrid volume recursion (8) (section 2.3.1, theorem 2.2,
 * proposition 2.3, corollary 2.4, remark 2.5, proposition 2.6). For i.i.d. vectors
 * (delta^+_i, delta^-_i), i = 1..L, with means mu+-_i, standard deviations sigma+-_i and
 * correlations rho_ij = corr(delta^-_i, delta^+_j), rho+_ij = corr(delta^+_i, delta^+_j),
 * rho-_ij = corr(delta^-_i, delta^-_j), the recursion V_{n+1} = (1 - delta^-) V_n + delta^+ has
 * long-range mean mu_inf = mu+/mu- and long-range covariance sigma_inf_ij / (mu-_i + mu-_j -
 * mu-_i mu-_j - rho-_ij sigma-_i sigma-_j) (discrete time) or without the mu-_i mu-_j term
 * (continuous-time limit). Corollary 2.4 gives the instantaneous variance of one level as the
 * quadratic Q(x) = sigma_inf^2 + sigma-^2 x^2 + 2 sigma- (mu_inf sigma- - rho sigma+) x of the
 * deviation x = V - mu_inf, and proposition 2.6 its self-exciting (Q(x) > Q(0)) and
 * self-inhibiting regimes. Regime boundaries gamma_*, gamma^* are volumes (not deviations): the
 * roots of V(v - mu_inf) = 0 are v = mu_inf and v = 2 (sigma+/sigma-) rho - mu_inf.
 */

/** Moments of the L-level variation vector (delta^+_i, delta^-_i), matrices L x L row-major. */
export interface DeltaMoments {
  readonly count: number;
  readonly muPlus: Float64Array;
  readonly muMinus: Float64Array;
  readonly sigmaPlus: Float64Array;
  readonly sigmaMinus: Float64Array;
  /** rho[i * L + j] = corr(delta^-_i, delta^+_j) (not symmetric). */
  readonly rho: Float64Array;
  readonly rhoPlus: Float64Array;
  readonly rhoMinus: Float64Array;
}

/** Long-range mean mu_inf_i = mu+_i / mu-_i (proposition 2.3). */
export const longRangeMean = (p: DeltaMoments): Float64Array => p.muPlus.map((m, i) => m / p.muMinus[i]!);

/**
 * sigma_inf_ij = rho+_ij s+_i s+_j + mu_i mu_j rho-_ij s-_i s-_j - mu_i rho_ij s+_j s-_i
 * - mu_j rho_ji s+_i s-_j, with mu = mu_inf (theorem 2.2). L x L, row-major.
 */
export const sigmaInfinity = (p: DeltaMoments): Float64Array => {
  const L = p.count;
  const mu = longRangeMean(p);
  const out = new Float64Array(L * L);
  for (let i = 0; i < L; i++) {
    for (let j = 0; j < L; j++) {
      const sp = p.sigmaPlus;
      const sm = p.sigmaMinus;
      out[i * L + j] =
        p.rhoPlus[i * L + j]! * sp[i]! * sp[j]! +
        mu[i]! * mu[j]! * p.rhoMinus[i * L + j]! * sm[i]! * sm[j]! -
        mu[i]! * p.rho[i * L + j]! * sp[j]! * sm[i]! -
        mu[j]! * p.rho[j * L + i]! * sp[i]! * sm[j]!;
    }
  }
  return out;
};

const longRangeCovariance = (p: DeltaMoments, discrete: boolean): Float64Array => {
  const L = p.count;
  const s = sigmaInfinity(p);
  const out = new Float64Array(L * L);
  for (let i = 0; i < L; i++) {
    for (let j = 0; j < L; j++) {
      const mi = p.muMinus[i]!;
      const mj = p.muMinus[j]!;
      const denominator =
        mi + mj - (discrete ? mi * mj : 0) - p.rhoMinus[i * L + j]! * p.sigmaMinus[i]! * p.sigmaMinus[j]!;
      out[i * L + j] = s[i * L + j]! / denominator;
    }
  }
  return out;
};

/** lim_n cov[V_i,n, V_j,n] of the discrete recursion (proposition 2.3). */
export const longRangeCovarianceDiscrete = (p: DeltaMoments): Float64Array => longRangeCovariance(p, true);

/** lim_t cov[V*_i,t, V*_j,t] of the continuous-time limit (proposition 2.3). */
export const longRangeCovarianceContinuous = (p: DeltaMoments): Float64Array => longRangeCovariance(p, false);

/**
 * The quadratic covariance polynomial of theorem 2.2: Q~_ij(x, y) = sigma_inf_ij
 * + rho-_ij s-_i s-_j x y + s-_i (mu_j rho-_ij s-_j - rho_ij s+_j) x + s-_j (mu_i rho-_ij s-_i - rho_ji s+_i) y.
 */
export const quadraticCovariance = (p: DeltaMoments, i: number, j: number, x: number, y: number): number => {
  const L = p.count;
  const mu = longRangeMean(p);
  const sm = p.sigmaMinus;
  const sp = p.sigmaPlus;
  const rm = p.rhoMinus[i * L + j]!;
  return (
    sigmaInfinity(p)[i * L + j]! +
    rm * sm[i]! * sm[j]! * x * y +
    sm[i]! * (mu[j]! * rm * sm[j]! - p.rho[i * L + j]! * sp[j]!) * x +
    sm[j]! * (mu[i]! * rm * sm[i]! - p.rho[j * L + i]! * sp[i]!) * y
  );
};

/** Parameters of a single level (corollary 2.4): rho = corr(delta^-, delta^+). */
export interface LevelParameters {
  readonly muPlus: number;
  readonly muMinus: number;
  readonly sigmaPlus: number;
  readonly sigmaMinus: number;
  readonly rho: number;
}

/** Coefficients of Q(x) = c0 + c1 x + c2 x^2 (corollary 2.4); c0 = sigma_inf^2. */
export const quadraticVarianceCoefficients = (p: LevelParameters): { c0: number; c1: number; c2: number } => {
  const mu = p.muPlus / p.muMinus;
  const sp = p.sigmaPlus;
  const sm = p.sigmaMinus;
  return {
    c0: sp * sp + mu * sm * (mu * sm - 2 * p.rho * sp),
    c1: 2 * sm * (mu * sm - p.rho * sp),
    c2: sm * sm
  };
};

/** Q(x), the instantaneous variance at deviation x = V - mu_inf from the long-range mean. */
export const quadraticVariance = (p: LevelParameters, x: number): number => {
  const { c0, c1, c2 } = quadraticVarianceCoefficients(p);
  return c0 + c1 * x + c2 * x * x;
};

/** V(x) = Q(x) - Q(0), the variance impact of proposition 2.6. */
export const varianceImpact = (p: LevelParameters, x: number): number => {
  const { c1, c2 } = quadraticVarianceCoefficients(p);
  return c1 * x + c2 * x * x;
};

/** d V(x) / d rho = -2 sigma- sigma+ x (positive iff x < 0 when sigma+- > 0). */
export const varianceImpactRhoDerivative = (p: LevelParameters, x: number): number => -2 * p.sigmaMinus * p.sigmaPlus * x;

/**
 * Regimes of proposition 2.6 in volume units: self-exciting for v < gammaLow or v > gammaHigh,
 * self-inhibiting in between; null when sigma- = 0 (V identically 0, no regime).
 */
export const regimeBoundaries = (p: LevelParameters): { gammaLow: number; gammaHigh: number } | null => {
  if (p.sigmaMinus === 0) return null;
  const mu = p.muPlus / p.muMinus;
  const other = (2 * p.sigmaPlus * p.rho) / p.sigmaMinus - mu;
  return { gammaLow: Math.min(mu, other), gammaHigh: Math.max(mu, other) };
};

/** The single-level parameters of level i of a multi-level moment set. */
export const levelParameters = (p: DeltaMoments, i: number): LevelParameters => ({
  muPlus: p.muPlus[i]!,
  muMinus: p.muMinus[i]!,
  sigmaPlus: p.sigmaPlus[i]!,
  sigmaMinus: p.sigmaMinus[i]!,
  rho: p.rho[i * p.count + i]!
});

/**
 * Sample moments of delta^+- from `count` rows of hybrid variations delta (row stride `stride`,
 * first L entries of each row used). Population (1/n) moments; a correlation involving a
 * constant variable is 0.
 */
export const deltaMomentsFromSamples = (samples: Float64Array, count: number, stride: number, L: number): DeltaMoments => {
  const plus = new Float64Array(count * L);
  const minus = new Float64Array(count * L);
  for (let r = 0; r < count; r++) {
    for (let i = 0; i < L; i++) {
      const d = samples[r * stride + i]!;
      plus[r * L + i] = d > 0 ? d : 0;
      minus[r * L + i] = d < 0 ? Math.min(-d, 1) : 0;
    }
  }
  return momentsOf(plus, minus, count, L);
};

/** Moments from paired draws of delta^+ and delta^- (each count x L, row-major). */
export const momentsOf = (plus: Float64Array, minus: Float64Array, count: number, L: number): DeltaMoments => {
  const mean = (a: Float64Array) => {
    const m = new Float64Array(L);
    for (let r = 0; r < count; r++) for (let i = 0; i < L; i++) m[i] = m[i]! + a[r * L + i]! / count;
    return m;
  };
  const muPlus = mean(plus);
  const muMinus = mean(minus);
  const cross = (a: Float64Array, ma: Float64Array, b: Float64Array, mb: Float64Array) => {
    const c = new Float64Array(L * L);
    for (let r = 0; r < count; r++) {
      for (let i = 0; i < L; i++) {
        const x = a[r * L + i]! - ma[i]!;
        for (let j = 0; j < L; j++) c[i * L + j] = c[i * L + j]! + (x * (b[r * L + j]! - mb[j]!)) / count;
      }
    }
    return c;
  };
  const cPlus = cross(plus, muPlus, plus, muPlus);
  const cMinus = cross(minus, muMinus, minus, muMinus);
  const cMixed = cross(minus, muMinus, plus, muPlus);
  const sigmaPlus = new Float64Array(L);
  const sigmaMinus = new Float64Array(L);
  for (let i = 0; i < L; i++) {
    sigmaPlus[i] = Math.sqrt(Math.max(0, cPlus[i * L + i]!));
    sigmaMinus[i] = Math.sqrt(Math.max(0, cMinus[i * L + i]!));
  }
  const correlation = (c: Float64Array, sa: Float64Array, sb: Float64Array) =>
    c.map((v, k) => {
      const s = sa[Math.floor(k / L)]! * sb[k % L]!;
      return s > 0 ? v / s : 0;
    });
  return {
    count: L,
    muPlus,
    muMinus,
    sigmaPlus,
    sigmaMinus,
    rho: correlation(cMixed, sigmaMinus, sigmaPlus),
    rhoPlus: correlation(cPlus, sigmaPlus, sigmaPlus),
    rhoMinus: correlation(cMinus, sigmaMinus, sigmaMinus)
  };
};
