/**
 * The stopping rule for "train until the market has re-equilibrated": a reward curve still
 * climbing well above its noise is not flat; a curve that has levelled off is declared converged
 * once the fitted window lies on the plateau; a deviator that gains significantly (a policy that
 * is exploitable, so not an equilibrium) blocks convergence; the cap always stops training.
 */
import { describe, expect, it } from "vitest";
import {
  checkConvergence,
  convergenceCheckDue,
  ConvergenceRuleError,
  defaultConvergenceRule,
  validateConvergenceRule,
  type ConvergenceRule
} from "../../core/analysis/convergence.ts";
import { Random } from "../../core/random/philox.ts";

const rule: ConvergenceRule = { ...defaultConvergenceRule, window: 20, minIterations: 20, maxIterations: 300, every: 5 };

/** Reward rising by 0.05 per iteration until `plateauAt`, flat after, with N(0, 0.1^2) noise. */
const learningCurve = (length: number, plateauAt: number, seed: number): Float64Array => {
  const rng = Random.fromSeed(seed);
  return Float64Array.from({ length }, (_, i) => 0.05 * Math.min(i, plateauAt) + 0.1 * rng.normal());
};

/** Runs the rule as a trainer would, checking whenever a check is due; returns the stopping check. */
const stopOn = (curve: Float64Array, r: ConvergenceRule) => {
  for (let iterations = 1; iterations <= curve.length; iterations++) {
    if (!convergenceCheckDue(r, iterations)) continue;
    const check = checkConvergence({ lp: curve.subarray(0, iterations) }, iterations, r);
    if (check.decision !== "continue") return check;
  }
  throw new Error("the curve ended before the rule stopped");
};

describe("checkConvergence", () => {
  it("keeps training while rewards still rise well above their noise", () => {
    const curve = learningCurve(100, 1000, 1);
    const check = checkConvergence({ lp: curve }, 100, rule);
    expect(check.curves[0]!.flat).toBe(false);
    expect(check.decision).toBe("continue");
    expect(check.curves[0]!.drift).toBeGreaterThan(0.5);
  });

  it("stops on the plateau, after it starts and within a window and a check of it", () => {
    for (const seed of [2, 3, 4, 5]) {
      const check = stopOn(learningCurve(300, 100, seed), rule);
      expect(check.decision).toBe("converged");
      // A window reaching back into the climb (slope 0.05/iteration, 20x its standard error) is not flat.
      expect(check.iterations).toBeGreaterThan(100 + rule.window / 4);
      expect(check.iterations).toBeLessThanOrEqual(100 + rule.window + rule.every + 10);
    }
  });

  it("counts a significant but negligible drift as flat when a tolerance is set", () => {
    const curve = Float64Array.from({ length: 200 }, (_, i) => 1e-4 * i);
    expect(checkConvergence({ lp: curve }, 200, rule).decision).toBe("continue");
    expect(checkConvergence({ lp: curve }, 200, { ...rule, driftTolerance: 0.01 }).decision).toBe("converged");
  });

  it("does not call an exploitable policy an equilibrium", () => {
    const flat = learningCurve(60, 0, 6);
    expect(checkConvergence({ lp: flat }, 60, rule, { gain: 0.5, gainStdError: 0.1 }).decision).toBe("continue");
    const check = checkConvergence({ lp: flat }, 60, rule, { gain: 0.1, gainStdError: 0.1 });
    expect(check.exploitability?.withinNoise).toBe(true);
    expect(check.decision).toBe("converged");
  });

  it("needs every tracked curve flat, and stops at the cap regardless", () => {
    const flat = learningCurve(300, 0, 7);
    const rising = learningCurve(300, 1000, 8);
    expect(checkConvergence({ lp1: flat, lp2: rising }, 60, rule).decision).toBe("continue");
    expect(checkConvergence({ lp1: flat, lp2: rising }, 300, rule).decision).toBe("cap");
    expect(convergenceCheckDue(rule, 19)).toBe(false);
    expect(convergenceCheckDue(rule, 25)).toBe(true);
    expect(convergenceCheckDue(rule, 26)).toBe(false);
    expect(convergenceCheckDue({ ...rule, maxIterations: 27 }, 27)).toBe(true);
  });

  it("refuses a rule that cannot decide", () => {
    expect(() => validateConvergenceRule({ ...rule, window: 2, minIterations: 2 })).toThrow(ConvergenceRuleError);
    expect(() => validateConvergenceRule({ ...rule, minIterations: 5 })).toThrow(/at least the window/);
    expect(validateConvergenceRule(rule)).toBe(rule);
  });
});
