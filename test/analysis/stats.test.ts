/**
 * The regression statistics behind the findings table: least squares recovers an exact
 * line; the classical standard error matches the textbook formula on a hand-computed example;
 * the t quantiles match published table values; HC1 and cluster-robust errors reduce to their
 * definitions on small examples; and the sign verdict follows the interval.
 */
import { describe, expect, it } from "vitest";
import { linearFit, meanAndStdError, signVerdict, studentTCdf, studentTQuantile } from "../../core/analysis/stats.ts";

describe("Student t", () => {
  it("matches table quantiles", () => {
    // Two-sided 95% critical values: df 1: 12.706, 2: 4.303, 5: 2.571, 10: 2.228, 30: 2.042; large df: 1.960.
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.7062, 3);
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.3027, 3);
    expect(studentTQuantile(0.975, 5)).toBeCloseTo(2.5706, 3);
    expect(studentTQuantile(0.975, 10)).toBeCloseTo(2.2281, 3);
    expect(studentTQuantile(0.975, 30)).toBeCloseTo(2.0423, 3);
    expect(studentTQuantile(0.975, 1e7)).toBeCloseTo(1.96, 3);
    expect(studentTQuantile(0.025, 10)).toBeCloseTo(-2.2281, 3);
  });
  it("has a symmetric cdf with cdf(0) = 1/2", () => {
    for (const df of [1, 3, 17]) {
      expect(studentTCdf(0, df)).toBeCloseTo(0.5, 12);
      expect(studentTCdf(1.3, df) + studentTCdf(-1.3, df)).toBeCloseTo(1, 12);
    }
  });
});

describe("linearFit", () => {
  it("recovers an exact line with zero standard error", () => {
    const x = [0, 1, 2, 3, 4];
    const fit = linearFit(x, x.map((v) => 2 - 0.5 * v));
    expect(fit.slope).toBeCloseTo(-0.5, 12);
    expect(fit.intercept).toBeCloseTo(2, 12);
    expect(fit.slopeStdError).toBeCloseTo(0, 12);
  });

  it("matches the hand-computed classical slope, standard error and interval", () => {
    // x = 1..5, y = 2, 4, 5, 4, 5: xbar 3, ybar 4, Sxx 10, Sxy 6 -> slope 0.6, intercept 2.2.
    // residuals -0.8, 0.6, 1, -0.6, -0.2: SSE 2.4, s^2 = 0.8, se = sqrt(0.08) = 0.28284.
    const fit = linearFit([1, 2, 3, 4, 5], [2, 4, 5, 4, 5]);
    expect(fit.slope).toBeCloseTo(0.6, 12);
    expect(fit.intercept).toBeCloseTo(2.2, 12);
    expect(fit.slopeStdError).toBeCloseTo(Math.sqrt(0.08), 10);
    expect(fit.df).toBe(3);
    expect(fit.ciHigh - fit.slope).toBeCloseTo(3.18245 * Math.sqrt(0.08), 4);
  });

  it("computes HC1 errors from their definition", () => {
    // Same data: sum (x - xbar)^2 e^2 = 4*0.64 + 1*0.36 + 0 + 1*0.36 + 4*0.04 = 3.44; HC1 var = 5/3 * 3.44 / 100.
    const fit = linearFit([1, 2, 3, 4, 5], [2, 4, 5, 4, 5], { kind: "hc1" });
    expect(fit.slopeStdError).toBeCloseTo(Math.sqrt(((5 / 3) * 3.44) / 100), 10);
  });

  it("computes cluster-robust errors from their definition and uses G - 1 degrees of freedom", () => {
    // Clusters {1,2}, {3,4,5}: scores (-2)(-0.8) + (-1)(0.6) = 1.0 and 0 + (1)(-0.6) + 2(-0.2) = -1.0.
    // var = G/(G-1) (n-1)/(n-2) (1 + 1) / 100 = 2 * 4/3 * 2 / 100.
    const fit = linearFit([1, 2, 3, 4, 5], [2, 4, 5, 4, 5], { kind: "cluster", clusters: [7, 7, 9, 9, 9] });
    expect(fit.slopeStdError).toBeCloseTo(Math.sqrt((2 * (4 / 3) * 2) / 100), 10);
    expect(fit.groups).toBe(2);
    expect(fit.df).toBe(1);
  });

  it("ignores non-finite points and returns NaN when the slope is not identified", () => {
    const fit = linearFit([1, 2, NaN, 3, 4], [1, 2, 5, Infinity, 4]);
    expect(fit.n).toBe(3);
    expect(fit.slope).toBeCloseTo(1, 12);
    expect(Number.isNaN(linearFit([1, 1, 1, 1], [1, 2, 3, 4]).slope)).toBe(true);
    expect(Number.isNaN(linearFit([1, 2], [1, 2]).slope)).toBe(true);
  });
});

describe("meanAndStdError and signVerdict", () => {
  it("computes the mean and its standard error", () => {
    const s = meanAndStdError([1, 2, 3, NaN]);
    expect(s.mean).toBe(2);
    expect(s.stdError).toBeCloseTo(Math.sqrt(1 / 3), 12);
    expect(s.n).toBe(3);
  });
  it("calls a finding reproduced only when the whole interval has the claimed sign", () => {
    expect(signVerdict({ ciLow: -2, ciHigh: -1 }, -1)).toBe("reproduced");
    expect(signVerdict({ ciLow: -2, ciHigh: -1 }, 1)).toBe("opposite");
    expect(signVerdict({ ciLow: -2, ciHigh: 1 }, -1)).toBe("inconclusive");
    expect(signVerdict({ ciLow: NaN, ciHigh: NaN }, 1)).toBe("inconclusive");
  });
});
