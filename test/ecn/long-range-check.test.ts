import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkLongRangeMoments, type LongRangeCheckOptions, type StepSampler } from "../../core/ecn/long-range-check.ts";
import { Random } from "../../core/random/philox.ts";

/**
 * Level i, each step: with probability p_i an increase a_i U (delta^+), otherwise the level loses
 * the fraction b_i U (delta^-), U uniform on [0, 1). One uniform decides all levels' coins, so the
 * levels are correlated within a step, and the draws are i.i.d. across steps.
 */
interface CoinLaw {
  readonly p: readonly number[];
  readonly a: readonly number[];
  readonly b: readonly number[];
}

const law: CoinLaw = { p: [0.3, 0.5, 0.4, 0.6], a: [2, 1, 3, 1.5], b: [0.5, 0.8, 0.3, 0.6] };
const L = law.p.length;

const coinSampler = (c: CoinLaw): StepSampler => ({
  levels: c.p.length / 2,
  sampleStep(rng: Random, out: Float64Array): void {
    const coin = rng.uniform();
    for (let i = 0; i < c.p.length; i++) out[i] = coin < c.p[i]! ? c.a[i]! * rng.uniform() : -c.b[i]! * rng.uniform();
    out[c.p.length] = 1;
    out[c.p.length + 1] = 0;
  }
});

/**
 * Stationary mean and variance of one level of V' = (1 - d-) V + d+ with (d-, d+) independent of
 * V, by hand: E V = E d+ / E d-, and E V^2 = (2 E[(1 - d-) d+] E V + E[d+^2]) / (1 - E[(1 - d-)^2]).
 * Under the coin law d+ d- = 0, so E[(1 - d-) d+] = E d+.
 */
const exactLevel = (c: CoinLaw, i: number): { mean: number; variance: number } => {
  const p = c.p[i]!;
  const a = c.a[i]!;
  const b = c.b[i]!;
  const muPlus = (p * a) / 2;
  const muMinus = ((1 - p) * b) / 2;
  const plusSquared = (p * a * a) / 3;
  const keptSquared = p + (1 - p) * (1 - b + (b * b) / 3);
  const mean = muPlus / muMinus;
  const second = (2 * muPlus * mean + plusSquared) / (1 - keptSquared);
  return { mean, variance: second - mean * mean };
};

const exactStart = (c: CoinLaw): number[] => c.p.map((_, i) => exactLevel(c, i).mean);

/**
 * A hidden two-state regime that persists for `persistence` steps on average: in the calm regime
 * increases are at most 1 lot, in the busy one at most 9, decreases the same in both. Each draw
 * has the marginal law of a mixture, but consecutive draws are strongly dependent, so the book
 * wanders between two depths (long-run means 2 and 18: mu+ = 0.25 or 2.25 over mu- = 0.125) and its variance far exceeds
 * that of i.i.d. draws of the same marginal law.
 */
const regimeSampler = (persistence: number): StepSampler => {
  let busy = false;
  return {
    levels: 1,
    sampleStep(rng: Random, out: Float64Array): void {
      if (rng.uniform() < 1 / persistence) busy = !busy;
      const scale = busy ? 9 : 1;
      for (let i = 0; i < 2; i++) out[i] = rng.uniform() < 0.5 ? scale * rng.uniform() : -0.5 * rng.uniform();
      out[2] = 1;
      out[3] = 0;
    }
  };
};

const options: LongRangeCheckOptions = { draws: 40_000, steps: 200_000, batches: 20, burnIn: 500 };

describe("checkLongRangeMoments (proposition 2.3 against recursion (8))", () => {
  it("agrees for i.i.d. draws, and its closed forms match the mean and variance computed by hand", () => {
    const r = checkLongRangeMoments(coinSampler(law), L, exactStart(law), options, Random.fromSeed(7));
    expect(r.agrees).toBe(true);
    expect(r.comparisons).toBe(L + (L * (L + 1)) / 2);
    expect(Math.max(r.maxAbsZMean, r.maxAbsZCovariance)).toBeLessThanOrEqual(r.zThreshold);
    for (let i = 0; i < L; i++) {
      const exact = exactLevel(law, i);
      expect(Math.abs(r.mean.theory[i]! - exact.mean)).toBeLessThanOrEqual(4 * r.mean.theoryStdError[i]!);
      expect(Math.abs(r.mean.simulated[i]! - exact.mean)).toBeLessThanOrEqual(4 * r.mean.simulatedStdError[i]!);
      expect(Math.abs(r.covariance.theory[i]![i]! - exact.variance)).toBeLessThanOrEqual(4 * r.covariance.theoryStdError[i]![i]!);
      expect(Math.abs(r.covariance.simulated[i]![i]! - exact.variance)).toBeLessThanOrEqual(4 * r.covariance.simulatedStdError[i]![i]!);
      for (let j = 0; j < L; j++) expect(r.covariance.theory[i]![j]).toBeCloseTo(r.covariance.theory[j]![i]!, 12);
    }
    // A few percent at these sizes: the standard errors are honest, not inflated to pass.
    expect(r.maxRelErrorMean).toBeLessThan(0.05);
    expect(r.maxRelErrorVariance).toBeLessThan(0.1);
  });

  it("disagrees when the draws are dependent in time (a persistent hidden regime)", () => {
    const r = checkLongRangeMoments(regimeSampler(500), 2, [20, 20], options, Random.fromSeed(7));
    expect(r.agrees).toBe(false);
    // Half the time at each depth, 16 lots apart: about 8^2 added to each level's variance.
    expect(r.maxAbsZCovariance).toBeGreaterThan(3 * r.zThreshold);
    for (let i = 0; i < 2; i++) expect(r.covariance.simulated[i]![i]!).toBeGreaterThan(1.5 * r.covariance.theory[i]![i]!);
    expect(r.maxRelErrorVariance).toBeGreaterThan(0.5);
  });

  it("is deterministic given the seed, and another seed gives other estimates", () => {
    const small: LongRangeCheckOptions = { draws: 2_000, steps: 4_000, batches: 4, burnIn: 50 };
    const run = (seed: number) => checkLongRangeMoments(coinSampler(law), L, exactStart(law), small, Random.fromSeed(seed));
    const first = run(11);
    expect(run(11)).toEqual(first);
    const other = run(12);
    expect(other.mean.theory).not.toEqual(first.mean.theory);
    expect(other.mean.simulated).not.toEqual(first.mean.simulated);
    expect(other.covariance.simulated).not.toEqual(first.covariance.simulated);
  });

  it("uses a 5% family-wise Bonferroni threshold of Student's t with batches - 1 degrees of freedom", () => {
    // L = 2: 2 means + 3 covariance entries, so each test is two-sided at 1%: t_{19, 0.995} = 2.861 (tables).
    const r = checkLongRangeMoments(coinSampler({ p: [0.5, 0.5], a: [1, 1], b: [0.5, 0.5] }), 2, [2, 2], { draws: 200, steps: 200, batches: 20, burnIn: 0 }, Random.fromSeed(1));
    expect(r.comparisons).toBe(5);
    expect(r.zThreshold).toBeCloseTo(2.861, 3);
  });
});

describe("checkLongRangeMoments refuses bad options", () => {
  const sampler = coinSampler(law);
  const start = exactStart(law);
  const refuses = (f: () => unknown, word: RegExp) => {
    expect(f).toThrow(RangeError);
    expect(f).toThrow(word);
  };
  const check = (o: Partial<LongRangeCheckOptions>, s: readonly number[] = start, levels = L) => () =>
    checkLongRangeMoments(sampler, levels, s, { ...options, ...o }, Random.fromSeed(0));

  it("names the option at fault", () => {
    refuses(check({ batches: 1 }), /batches/);
    refuses(check({ batches: 2.5 }), /batches/);
    refuses(check({ draws: 40_001 }), /draws/);
    refuses(check({ steps: 200_010 }), /steps/);
    refuses(check({ draws: 20 }), /draws/);
    refuses(check({ steps: 20 }), /steps/);
    refuses(check({ burnIn: -1 }), /burnIn/);
    refuses(check({}, start.slice(1)), /start/);
    refuses(check({}, [...start.slice(1), Number.NaN]), /start/);
    refuses(check({}, start.slice(2), 2), /levels/);
  });

  it("refuses any draws or steps count that does not split into equal batches", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 50 }), fc.integer({ min: 1, max: 10_000 }), fc.boolean(), (batches, count, onDraws) => {
        fc.pre(count % batches !== 0);
        const valid = 100 * batches;
        refuses(check(onDraws ? { batches, draws: count, steps: valid } : { batches, draws: valid, steps: count }), onDraws ? /draws/ : /steps/);
      })
    );
  });
});
