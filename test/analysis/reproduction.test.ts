/**
 * The claims of the reproduction report decide their verdicts as the paper's statements say:
 * table 5's targets are met or not by the tail means (experiment 4: m_super1 within 0.02 of 0.25
 * and m_total at least 0.8; experiments 1-3: the share floors and a mean percentile error of at
 * most 0.5 lots); "CALSHEQ ends higher than BO" is reproduced when the whole interval of the
 * difference is above 0, opposite when below, inconclusive when it contains 0; LP rewards below 0
 * beyond noise fail the non-negativity claim; smoother parameters are a smaller largest step.
 */
import { describe, expect, it } from "vitest";
import { calibrationClaims, curvature, figureSixClaims, figureThreeClaim, type MethodRun } from "../../core/analysis/reproduction.ts";
import { Random } from "../../core/random/philox.ts";

const rng = Random.fromSeed(7);
/** `n` rows whose fields are `means` plus Gaussian noise of standard deviation `sd`. */
const rows = (n: number, means: Record<string, number>, sd: number) =>
  Array.from({ length: n }, () => Object.fromEntries(Object.entries(means).map(([k, m]) => [k, m + sd * rng.normal()])));

const run = (name: string, means: Record<string, number>, sd = 0.01, maxParamMeanStep = 0.1): MethodRun => ({
  name,
  iterations: 400,
  stoppedBy: "iterations",
  tail: rows(40, means, sd),
  maxParamMeanStep
});

const onTarget = { "targets/m_super1": 0.25, "targets/m_total": 0.85, "calibration/reward": 0.97, "rewards/lp_super1": 5, "rewards/lp_super2": 0.6 };
const verdictOf = (claims: ReturnType<typeof calibrationClaims>, source: string, paper: RegExp) => claims.find((c) => c.source === source && paper.test(c.paper))!.verdict;

describe("reproduction claims", () => {
  it("experiment 4's targets: met on target, not met 0.05 off the share or below the m_total floor", () => {
    const bo = run("BO", { ...onTarget, "calibration/reward": 0.9 }, 0.01, 1);
    expect(verdictOf(calibrationClaims({ experiment: 4, calsheq: run("CALSHEQ", onTarget), bo }), "table 5, experiment 4 (figure 28)", /market share/)).toBe("reproduced");
    expect(verdictOf(calibrationClaims({ experiment: 4, calsheq: run("CALSHEQ", { ...onTarget, "targets/m_super1": 0.3 }), bo }), "table 5, experiment 4 (figure 28)", /market share/)).toBe("not reproduced");
    expect(verdictOf(calibrationClaims({ experiment: 4, calsheq: run("CALSHEQ", { ...onTarget, "targets/m_total": 0.75 }), bo }), "table 5, experiment 4 (figure 28)", /market share/)).toBe("not reproduced");
  });

  it("experiment 1's targets: the percentiles within 0.5 lots on average, or not", () => {
    const targets = [8, 8, 8, 9, 9, 9, 10, 10, 10];
    const percentiles = (shift: number) => Object.fromEntries(targets.map((t, k) => [`targets/vhat_super1_p${k + 1}`, t + shift]));
    const bo = run("BO", onTarget, 0.01, 1);
    const near = calibrationClaims({ experiment: 1, calsheq: run("CALSHEQ", { ...onTarget, ...percentiles(0.2) }), bo });
    const far = calibrationClaims({ experiment: 1, calsheq: run("CALSHEQ", { ...onTarget, ...percentiles(1) }), bo });
    expect(verdictOf(near, "table 5, experiment 1 (figure 8)", /percentiles/)).toBe("reproduced");
    expect(verdictOf(far, "table 5, experiment 1 (figure 8)", /percentiles/)).toBe("not reproduced");
  });

  it("CALSHEQ against BO: the sign of the whole interval of the difference decides", () => {
    const claim = (calsheq: number, bo: number, sd: number) =>
      verdictOf(calibrationClaims({ experiment: 4, calsheq: run("CALSHEQ", { ...onTarget, "calibration/reward": calsheq }, sd), bo: run("BO", { ...onTarget, "calibration/reward": bo }, sd, 1) }), "figure 7, experiment 4", /ends higher/);
    expect(claim(0.97, 0.9, 0.01)).toBe("reproduced");
    expect(claim(0.9, 0.97, 0.01)).toBe("opposite");
    expect(claim(0.95, 0.95, 0.05)).toBe("inconclusive");
  });

  it("LP rewards: below 0 beyond noise is not reproduced; smoother parameters are a smaller largest step", () => {
    const bo = run("BO", onTarget, 0.01, 1);
    const losing = calibrationClaims({ experiment: 4, calsheq: run("CALSHEQ", { ...onTarget, "rewards/lp_super2": -2 }), bo });
    expect(verdictOf(losing, "figure 7, experiment 4", /non-negative/)).toBe("not reproduced");
    const smooth = calibrationClaims({ experiment: 4, calsheq: run("CALSHEQ", onTarget, 0.01, 0.1), bo });
    expect(verdictOf(smooth, "figure 32, experiment 4", /smoothly/)).toBe("reproduced");
    const jumpy = calibrationClaims({ experiment: 4, calsheq: run("CALSHEQ", onTarget, 0.01, 1.5), bo });
    expect(verdictOf(jumpy, "figure 32, experiment 4", /smoothly/)).toBe("not reproduced");
  });

  it("figure 6: the paper's weights reproduce, a 2v1 game whose LP-LP link is the weaker does not, and a missing game is not run", () => {
    const paper = figureSixClaims({ "pnl-1v1/lp1-lt": 0.6, "pnl-2v1/lp1-lt": 0.2, "pnl-2v1/lp1-lp2": 0.6, "flow-1v1/lp1-lt": 0.95 });
    expect(paper.map((c) => c.verdict)).toEqual(["reproduced", "reproduced", "reproduced"]);
    const swapped = figureSixClaims({ "pnl-1v1/lp1-lt": 0.6, "pnl-2v1/lp1-lt": 0.5, "pnl-2v1/lp1-lp2": 0.3, "flow-1v1/lp1-lt": 0.4 });
    expect(swapped.map((c) => c.verdict)).toEqual(["reproduced", "not reproduced", "not reproduced"]);
    expect(figureSixClaims({ "pnl-1v1/lp1-lt": 0.6 })[2]!.verdict).toBe("not run");
  });

  it("figure 3: the curvature of a weighted quadratic fit, and convexity growing with the PnL LTs", () => {
    const eps = [-2, -1, 0, 1, 2, 3];
    expect(curvature(eps, eps.map((x) => 1 - 2 * x + 0.5 * x * x), eps.map(() => 3))).toBeCloseTo(0.5, 10);
    expect(curvature(eps, eps.map((x) => 4 - x), eps.map(() => 1))).toBeCloseTo(0, 10);
    // Bins nobody traded in (count 0) do not count: two bins identify no curvature.
    expect(curvature(eps, eps.map((x) => x * x), [1, 1, 0, 0, 0, 0])).toBeNaN();
    const market = (pnlLts: number, c: number) => eps.map((x) => ({ pnlLts, eps: x, flow: 2 - x + c * x * x, count: 10 }));
    expect(figureThreeClaim([...market(0, 0), ...market(1, 0.1), ...market(4, 0.4)]).verdict).toBe("reproduced");
    expect(figureThreeClaim([...market(0, 0.4), ...market(4, 0.1)]).verdict).toBe("not reproduced");
    expect(figureThreeClaim(market(4, 0.4)).verdict).toBe("not run");
  });
});
