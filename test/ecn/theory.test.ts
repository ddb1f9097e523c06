import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Random } from "../../core/random/philox.ts";
import {
  levelParameters,
  longRangeCovarianceContinuous,
  longRangeCovarianceDiscrete,
  longRangeMean,
  momentsOf,
  quadraticCovariance,
  quadraticVariance,
  regimeBoundaries,
  sigmaInfinity,
  varianceImpact,
  varianceImpactRhoDerivative,
  type DeltaMoments,
  type LevelParameters
} from "../../core/ecn/theory.ts";

/**
 * An i.i.d. law of (delta^+_i, delta^-_i)_{i<L}: uniform over K atoms. Its exact moments are the
 * (1/K) moments of the atoms.
 */
interface AtomLaw {
  readonly L: number;
  readonly K: number;
  readonly plus: Float64Array;
  readonly minus: Float64Array;
}

const atomLawArb = fc
  .record({
    L: fc.integer({ min: 1, max: 3 }),
    K: fc.integer({ min: 2, max: 6 }),
    plus: fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0, max: 5, noNaN: true })), { minLength: 18, maxLength: 18 }),
    minus: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 18, maxLength: 18 })
  })
  .map(({ L, K, plus, minus }): AtomLaw => ({
    L,
    K,
    plus: Float64Array.from(plus.slice(0, K * L)),
    minus: Float64Array.from(minus.slice(0, K * L))
  }));

const momentsOfLaw = (law: AtomLaw): DeltaMoments => momentsOf(law.plus, law.minus, law.K, law.L);

describe("long-range moments (proposition 2.3) against simulation of recursion (8)", () => {
  it("simulated i.i.d. recursion matches the long-range mean and covariance within Monte-Carlo error", () => {
    fc.assert(
      fc.property(atomLawArb, fc.integer({ min: 0, max: 1e9 }), (law, seed) => {
        const p = momentsOfLaw(law);
        const { L, K } = law;
        const minMuMinus = Math.min(...p.muMinus);
        fc.pre(minMuMinus > 0.15);
        const mu = longRangeMean(p);
        const cov = longRangeCovarianceDiscrete(p);
        const chains = 20000;
        const steps = Math.ceil(Math.log(1e-7) / Math.log(1 - minMuMinus));
        const rng = Random.fromSeed(seed);
        const v = new Float64Array(chains * L);
        for (let c = 0; c < chains; c++) for (let i = 0; i < L; i++) v[c * L + i] = mu[i]!;
        for (let s = 0; s < steps; s++) {
          for (let c = 0; c < chains; c++) {
            const atom = rng.int(K);
            for (let i = 0; i < L; i++) v[c * L + i] = (1 - law.minus[atom * L + i]!) * v[c * L + i]! + law.plus[atom * L + i]!;
          }
        }
        for (let i = 0; i < L; i++) {
          let m = 0;
          for (let c = 0; c < chains; c++) m += v[c * L + i]! / chains;
          const se = Math.sqrt(Math.max(cov[i * L + i]!, 0) / chains);
          expect(Math.abs(m - mu[i]!)).toBeLessThanOrEqual(5 * se + 1e-9 * (1 + Math.abs(mu[i]!)));
        }
        for (let i = 0; i < L; i++) {
          for (let j = 0; j < L; j++) {
            // Centre on the known mean; the standard error comes from the spread of the products.
            let s1 = 0;
            let s2 = 0;
            for (let c = 0; c < chains; c++) {
              const prod = (v[c * L + i]! - mu[i]!) * (v[c * L + j]! - mu[j]!);
              s1 += prod;
              s2 += prod * prod;
            }
            const mean = s1 / chains;
            const se = Math.sqrt(Math.max(s2 / chains - mean * mean, 0) / chains);
            expect(Math.abs(mean - cov[i * L + j]!)).toBeLessThanOrEqual(5 * se + 1e-9 * (1 + Math.abs(cov[i * L + j]!)));
          }
        }
      }),
      { numRuns: 12 }
    );
  });

  it("the discrete covariance of the eps-scaled variations tends to the continuous-time one", () => {
    fc.assert(
      fc.property(atomLawArb, (law) => {
        const p = momentsOfLaw(law);
        fc.pre(Math.min(...p.muMinus) > 0.05);
        const scaled = (eps: number): DeltaMoments => ({
          ...p,
          muPlus: p.muPlus.map((m) => eps * m),
          muMinus: p.muMinus.map((m) => eps * m),
          sigmaPlus: p.sigmaPlus.map((s) => Math.sqrt(eps) * s),
          sigmaMinus: p.sigmaMinus.map((s) => Math.sqrt(eps) * s)
        });
        const continuous = longRangeCovarianceContinuous(p);
        const error = (eps: number) => {
          const discrete = longRangeCovarianceDiscrete(scaled(eps));
          let e = 0;
          for (let k = 0; k < discrete.length; k++) e = Math.max(e, Math.abs(discrete[k]! - continuous[k]!));
          return e;
        };
        const scale = Math.max(...Array.from(continuous, Math.abs));
        // Skip laws whose covariance is lost in cancellation (all-but-degenerate variations).
        fc.pre(scale > 1e-6);
        // The scaled process keeps mu_inf and continuous(p) equals continuous(scaled(eps)) up to the factor eps / eps.
        expect(error(1e-3)).toBeLessThanOrEqual(2e-2 * scale);
        expect(error(1e-5)).toBeLessThanOrEqual(error(1e-3) / 50 + 1e-12 * scale);
      })
    );
  });
});

/** Exact conditional covariance of one step's increments given the current volumes, from the atoms. */
const conditionalCovariance = (law: AtomLaw, i: number, j: number, vi: number, vj: number): number => {
  const { K, L } = law;
  const inc = (a: number, l: number, v: number) => -law.minus[a * L + l]! * v + law.plus[a * L + l]!;
  let mi = 0;
  let mj = 0;
  for (let a = 0; a < K; a++) {
    mi += inc(a, i, vi) / K;
    mj += inc(a, j, vj) / K;
  }
  let c = 0;
  for (let a = 0; a < K; a++) c += ((inc(a, i, vi) - mi) * (inc(a, j, vj) - mj)) / K;
  return c;
};

describe("quadratic covariance (theorem 2.2, corollary 2.4)", () => {
  it("Q~_ij(x, y) is the conditional covariance of one step's increments at V = mu_inf + (x, y)", () => {
    fc.assert(
      fc.property(atomLawArb, fc.double({ min: -20, max: 20, noNaN: true }), fc.double({ min: -20, max: 20, noNaN: true }), fc.nat(), fc.nat(), (law, x, y, a, b) => {
        const p = momentsOfLaw(law);
        fc.pre(Math.min(...p.muMinus) > 0.01);
        const i = a % law.L;
        const j = b % law.L;
        const mu = longRangeMean(p);
        const expected = conditionalCovariance(law, i, j, mu[i]! + x, mu[j]! + (i === j ? x : y));
        const got = quadraticCovariance(p, i, j, x, i === j ? x : y);
        expect(Math.abs(got - expected)).toBeLessThanOrEqual(1e-8 * (1 + Math.abs(expected)));
      })
    );
  });
  it("the univariate Q of corollary 2.4 is the diagonal of theorem 2.2, and Q(0) = sigma_inf_ii", () => {
    fc.assert(
      fc.property(atomLawArb, fc.double({ min: -20, max: 20, noNaN: true }), (law, x) => {
        const p = momentsOfLaw(law);
        fc.pre(Math.min(...p.muMinus) > 0.01);
        const s = sigmaInfinity(p);
        for (let i = 0; i < law.L; i++) {
          const q = levelParameters(p, i);
          expect(quadraticVariance(q, x)).toBeCloseTo(quadraticCovariance(p, i, i, x, x), 8);
          expect(quadraticVariance(q, 0)).toBeCloseTo(s[i * law.L + i]!, 8);
        }
      })
    );
  });
});

const positive = (min: number, max: number) => fc.double({ min, max, noNaN: true });
const levelArb = fc
  .record({
    muPlus: positive(0.01, 10),
    muMinus: positive(0.01, 1),
    sigmaPlus: fc.oneof(fc.constant(0), positive(1e-3, 5)),
    sigmaMinus: fc.oneof(fc.constant(0), positive(1e-3, 0.5)),
    rho: fc.double({ min: -1, max: 1, noNaN: true })
  })
  .map((p): LevelParameters => p);
/** Both volatilities positive. */
const activeLevelArb = fc
  .record({ p: levelArb, sigmaPlus: positive(1e-2, 5), sigmaMinus: positive(1e-2, 0.5) })
  .map(({ p, sigmaPlus, sigmaMinus }): LevelParameters => ({ ...p, sigmaPlus, sigmaMinus }));

describe("regimes (proposition 2.6) and remark 2.5", () => {
  it("V(x) = Q(x) - Q(0) changes sign exactly at gamma_* and gamma^*", () => {
    fc.assert(
      fc.property(levelArb, fc.double({ min: -100, max: 100, noNaN: true }), (p, v) => {
        const mu = p.muPlus / p.muMinus;
        const impact = (vol: number) => varianceImpact(p, vol - mu);
        const regimes = regimeBoundaries(p);
        if (p.sigmaMinus === 0) {
          expect(regimes).toBeNull();
          expect(impact(v)).toBe(0);
          return;
        }
        const { gammaLow, gammaHigh } = regimes!;
        const width = Math.max(1, Math.abs(gammaLow), Math.abs(gammaHigh));
        const h = 1e-6 * width;
        fc.pre(gammaHigh - gammaLow > 4 * h);
        // Zero at both boundaries, positive just outside, negative just inside.
        expect(Math.abs(impact(gammaLow))).toBeLessThanOrEqual(1e-9 * width * width * (p.sigmaMinus * p.sigmaMinus + 1));
        expect(Math.abs(impact(gammaHigh))).toBeLessThanOrEqual(1e-9 * width * width * (p.sigmaMinus * p.sigmaMinus + 1));
        expect(impact(gammaLow - h)).toBeGreaterThan(0);
        expect(impact(gammaLow + h)).toBeLessThan(0);
        expect(impact(gammaHigh - h)).toBeLessThan(0);
        expect(impact(gammaHigh + h)).toBeGreaterThan(0);
        // And anywhere: self-exciting outside, self-inhibiting inside.
        if (v < gammaLow - h || v > gammaHigh + h) expect(impact(v)).toBeGreaterThan(0);
        if (v > gammaLow + h && v < gammaHigh - h) expect(impact(v)).toBeLessThan(0);
      })
    );
  });
  it("never self-inhibiting iff sigma+ mu- rho = sigma- mu+", () => {
    fc.assert(
      fc.property(activeLevelArb, positive(0.01, 1), fc.double({ min: -100, max: 100, noNaN: true }), (p, rho, x) => {
        // mu+ chosen so that sigma+ mu- rho = sigma- mu+.
        const q = { ...p, rho, muPlus: (p.sigmaPlus * p.muMinus * rho) / p.sigmaMinus };
        const r = regimeBoundaries(q)!;
        expect(r.gammaHigh - r.gammaLow).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(r.gammaHigh)));
        expect(varianceImpact(q, x)).toBeGreaterThanOrEqual(-1e-9 * (1 + x * x));
      })
    );
  });
  it("dV/drho > 0 iff x < 0 (finite difference)", () => {
    fc.assert(
      fc.property(activeLevelArb, fc.double({ min: -50, max: 50, noNaN: true }), (p, x) => {
        fc.pre(Math.abs(x) > 1e-3);
        const h = 1e-4;
        const fd = (varianceImpact({ ...p, rho: p.rho + h }, x) - varianceImpact({ ...p, rho: p.rho - h }, x)) / (2 * h);
        expect(fd).toBeCloseTo(varianceImpactRhoDerivative(p, x), 6);
        expect(fd > 0).toBe(x < 0);
      })
    );
  });
  it("with sigma+ = 0, sqrt(Q(V - mu_inf)) = sigma- V (Cont-Muller, remark 2.5)", () => {
    fc.assert(
      fc.property(levelArb, fc.double({ min: 0, max: 100, noNaN: true }), (p, v) => {
        const q = { ...p, sigmaPlus: 0 };
        const mu = q.muPlus / q.muMinus;
        const expected = (q.sigmaMinus * v) ** 2;
        expect(Math.abs(quadraticVariance(q, v - mu) - expected)).toBeLessThanOrEqual(1e-10 * (1 + expected + (q.sigmaMinus * mu) ** 2));
      })
    );
  });
});
