/**
 * Bayesian optimisation on standard test functions. Budgets follow what is typical in the BO
 * literature for a GP-UCB/EI loop with a small initial design:
 * - Branin on [-5, 10] x [0, 15]: best value within 0.1 of the global minimum 0.397887 in <= 50
 *   evaluations (5 Latin-hypercube points, then the GP). kappa = 0.5, the paper's value.
 * - Hartmann-6 on [0, 1]^6: best value within 0.3 of the global minimum -3.32237 in <= 150
 *   evaluations (10 initial points). kappa = 0.5 as well (checked on 5 seeds before choosing it;
 *   kappa = 2 lands on the -3.20 local minimum more often, which is inside 0.3 but less precise).
 * The loop maximises, so it is given minus the test function. The default suite runs one seed of
 * each and stops as soon as the target is reached; LONG_TESTS runs 5 seeds and the EI option.
 */
import { describe, it, expect } from "vitest";
import { Random } from "../../core/random/philox.ts";
import {
  BayesOptimizer,
  BayesOptError,
  acquisitionValue,
  defaultBayesOptParams,
  normalCdf,
  type BayesOptParams
} from "../../core/calibration/bayes-opt.ts";

const BRANIN_MIN = 0.397887;
const HARTMANN6_MIN = -3.32237;

const branin = (x: ArrayLike<number>): number => {
  const a = x[0]!;
  const b = x[1]!;
  const t = 1 / (8 * Math.PI);
  return (b - (5.1 / (4 * Math.PI ** 2)) * a * a + (5 / Math.PI) * a - 6) ** 2 + 10 * (1 - t) * Math.cos(a) + 10;
};

const H_A = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14]
];
const H_P = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381]
];
const H_ALPHA = [1, 1.2, 3, 3.2];
const hartmann6 = (x: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < 4; i++) {
    let e = 0;
    for (let j = 0; j < 6; j++) e += H_A[i]![j]! * (x[j]! - H_P[i]![j]! * 1e-4) ** 2;
    s -= H_ALPHA[i]! * Math.exp(-e);
  }
  return s;
};

interface Problem {
  f: (x: ArrayLike<number>) => number;
  lower: number[];
  upper: number[];
  minimum: number;
  tolerance: number;
  budget: number;
  initialPoints: number;
}
const BRANIN: Problem = { f: branin, lower: [-5, 0], upper: [10, 15], minimum: BRANIN_MIN, tolerance: 0.1, budget: 50, initialPoints: 5 };
const HARTMANN: Problem = {
  f: hartmann6,
  lower: [0, 0, 0, 0, 0, 0],
  upper: [1, 1, 1, 1, 1, 1],
  minimum: HARTMANN6_MIN,
  tolerance: 0.3,
  budget: 150,
  initialPoints: 10
};

/** Runs the loop until the best value is within tolerance or the budget is spent; returns evaluations used. */
const runLoop = (problem: Problem, seed: number, overrides: Partial<BayesOptParams> = {}) => {
  const bo = new BayesOptimizer(
    { lower: problem.lower, upper: problem.upper },
    { ...defaultBayesOptParams, initialPoints: problem.initialPoints, ...overrides },
    Random.fromSeed(seed)
  );
  let bestF = Infinity;
  let used = 0;
  while (used < problem.budget && bestF - problem.minimum >= problem.tolerance) {
    const x = bo.suggest();
    for (let i = 0; i < x.length; i++) {
      expect(x[i]!).toBeGreaterThanOrEqual(problem.lower[i]!);
      expect(x[i]!).toBeLessThanOrEqual(problem.upper[i]!);
    }
    const f = problem.f(x);
    bo.observe(x, -f);
    bestF = Math.min(bestF, f);
    used++;
  }
  expect(-bo.best()!.y).toBe(bestF);
  return { bestF, used };
};

describe("acquisition functions", () => {
  it("the normal CDF matches tabulated values and is symmetric", () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959963985)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.158655254, 6);
    for (const z of [0.1, 0.7, 2.3, 4]) expect(normalCdf(z) + normalCdf(-z)).toBeCloseTo(1, 7);
  });

  it("EI equals E[max(f - best - xi, 0)] for f ~ N(mean, sd^2) by quadrature, and UCB is mean + kappa sd", () => {
    for (const [mean, sd, best] of [
      [0, 1, 0.5],
      [2, 0.3, 1.9],
      [-1, 2, 1]
    ] as const) {
      const xi = 0.01;
      let integral = 0;
      const steps = 20000;
      const lo = mean - 10 * sd;
      const h = (20 * sd) / steps;
      for (let k = 0; k < steps; k++) {
        const f = lo + (k + 0.5) * h;
        integral += Math.max(f - best - xi, 0) * (Math.exp(-0.5 * ((f - mean) / sd) ** 2) / (sd * Math.sqrt(2 * Math.PI))) * h;
      }
      expect(acquisitionValue("ei", mean, sd, 0.5, best, xi).value).toBeCloseTo(integral, 5);
      expect(acquisitionValue("ucb", mean, sd, 0.5, best, xi).value).toBeCloseTo(mean + 0.5 * sd, 12);
    }
  });
});

describe("BayesOptimizer", () => {
  it(`Branin (UCB, kappa 0.5): within 0.1 of ${BRANIN_MIN} in <= 50 evaluations`, () => {
    const { bestF, used } = runLoop(BRANIN, 1);
    expect(bestF - BRANIN_MIN).toBeLessThan(0.1);
    expect(used).toBeLessThanOrEqual(50);
  });

  it(`Hartmann-6 (UCB, kappa 0.5): within 0.3 of ${HARTMANN6_MIN} in <= 150 evaluations`, () => {
    const { bestF } = runLoop(HARTMANN, 1);
    expect(bestF - HARTMANN6_MIN).toBeLessThan(0.3);
  }, 120_000);

  it("the first suggestions form a Latin hypercube inside the box, and suggest() is repeatable until observe()", () => {
    const m = 8;
    const bo = new BayesOptimizer({ lower: [0, -10], upper: [1, 10] }, { ...defaultBayesOptParams, initialPoints: m }, Random.fromSeed(3));
    const strata = [new Set<number>(), new Set<number>()];
    for (let k = 0; k < m; k++) {
      const x = bo.suggest();
      expect(Array.from(bo.suggest())).toEqual(Array.from(x));
      strata[0]!.add(Math.floor(x[0]! * m));
      strata[1]!.add(Math.floor(((x[1]! + 10) / 20) * m));
      bo.observe(x, -((x[0]! - 0.3) ** 2));
    }
    // One point per stratum on every axis.
    expect(strata[0]!.size).toBe(m);
    expect(strata[1]!.size).toBe(m);
  });

  it("a rebuilt optimiser restored from getState() continues exactly like the original (checkpointing)", () => {
    const params = { ...defaultBayesOptParams, initialPoints: 4 };
    const original = new BayesOptimizer({ lower: [-5, 0], upper: [10, 15] }, params, Random.fromSeed(11));
    let restored: BayesOptimizer | undefined;
    const originalTrace: number[] = [];
    const restoredTrace: number[] = [];
    for (let k = 0; k < 12; k++) {
      if (k === 7) {
        restored = new BayesOptimizer({ lower: [-5, 0], upper: [10, 15] }, params, Random.fromSeed(11));
        restored.setState(original.getState());
      }
      const x = original.suggest();
      originalTrace.push(...x);
      original.observe(x, -branin(x));
      if (restored !== undefined) {
        const y = restored.suggest();
        restoredTrace.push(...y);
        restored.observe(y, -branin(y));
      }
    }
    expect(restoredTrace).toEqual(originalTrace.slice(7 * 2));
  });

  it("rejects bad bounds and non-finite observations with a tagged error", () => {
    expect(() => new BayesOptimizer({ lower: [0, 1], upper: [1, 1] }, defaultBayesOptParams, Random.fromSeed(1))).toThrow(BayesOptError);
    const bo = new BayesOptimizer({ lower: [0], upper: [1] }, defaultBayesOptParams, Random.fromSeed(1));
    expect(() => bo.observe([0.5], Number.NaN)).toThrow(BayesOptError);
    expect(() => bo.observe([0.5, 0.1], 1)).toThrow(BayesOptError);
  });
});

describe.skipIf(!process.env.LONG_TESTS)("BayesOptimizer, several seeds (LONG_TESTS)", () => {
  for (const seed of [2, 3, 4, 5, 6]) {
    it(`Branin UCB seed ${seed}`, () => {
      expect(runLoop(BRANIN, seed).bestF - BRANIN_MIN).toBeLessThan(0.1);
    });
    it(`Branin EI seed ${seed}`, () => {
      expect(runLoop(BRANIN, seed, { acquisition: "ei" }).bestF - BRANIN_MIN).toBeLessThan(0.1);
    });
    it(`Hartmann-6 UCB seed ${seed}`, () => {
      expect(runLoop(HARTMANN, seed).bestF - HARTMANN6_MIN).toBeLessThan(0.3);
    }, 300_000);
  }
});
