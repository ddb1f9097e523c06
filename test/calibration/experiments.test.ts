import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  CalibrationExperimentError,
  TARGET_PERCENTILES_SUPER1,
  TARGET_PERCENTILES_SUPER2,
  calibrationMetricsFromSupertypeSizes,
  calibrationMetricsFromTrades,
  calibrationReward,
  calibrationRewardBreakdown,
  experimentDefinition,
  experimentIds,
  experimentPopulation,
  percentiles10to90,
  type CalibrationMetrics
} from "../../core/calibration/experiments.ts";

/** The paper's four experiments (registered by core/calibration/experiments.ts). */
const PAPER_EXPERIMENTS = [1, 2, 3, 4] as const;

const shifted = (values: readonly number[], by: number) => Float64Array.from(values, (v) => v + by);

describe("percentiles10to90", () => {
  it("matches hand-computed linear interpolation (numpy's default)", () => {
    // 1..10: position h = 9 q, value 1 + h.
    const ten = percentiles10to90(Float64Array.from({ length: 10 }, (_, i) => 10 - i));
    [1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2, 9.1].forEach((v, p) => expect(ten[p]!).toBeCloseTo(v, 12));
    // Two points 1 and 3: h = q, value 1 + 2q.
    const two = percentiles10to90([3, 1]);
    [1.2, 1.4, 1.6, 1.8, 2, 2.2, 2.4, 2.6, 2.8].forEach((v, p) => expect(two[p]!).toBeCloseTo(v, 12));
    expect(Array.from(percentiles10to90([7]))).toEqual(Array(9).fill(7));
    expect(Array.from(percentiles10to90([]))).toEqual(Array(9).fill(0));
    // Integer sizes 1,1,1,1,2,2,2,2,2,10 (n = 10): p=4 -> h = 3.6 between 1 and 2 -> 1.6; p=9 -> h = 8.1 -> 2 + 0.1*8 = 2.8.
    const mixed = percentiles10to90([2, 1, 10, 2, 1, 2, 1, 2, 2, 1]);
    expect(mixed[3]!).toBeCloseTo(1.6, 12);
    expect(mixed[8]!).toBeCloseTo(2.8, 12);
  });

  it("is non-decreasing in p, lies within [min, max], and ignores the order of the sample", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { minLength: 1, maxLength: 50 }), (xs) => {
        const v = percentiles10to90(xs);
        const lo = Math.min(...xs);
        const hi = Math.max(...xs);
        for (let p = 0; p < 9; p++) {
          expect(v[p]!).toBeGreaterThanOrEqual(lo - 1e-12);
          expect(v[p]!).toBeLessThanOrEqual(hi + 1e-12);
          if (p > 0) expect(v[p]!).toBeGreaterThanOrEqual(v[p - 1]! - 1e-12);
        }
        expect(Array.from(percentiles10to90([...xs].reverse()))).toEqual(Array.from(v));
      })
    );
  });
});

describe("calibrationMetricsFromTrades", () => {
  it("computes shares over the LTs' total quantity and per-supertype size percentiles (hand example)", () => {
    const m = calibrationMetricsFromTrades({
      lpSupertypeOfTrade: Int32Array.from([0, 1, 1, -1, 0]),
      tradeSize: Float64Array.from([8, 3, -4, 5, 10]),
      ltTotalQuantity: 40
    });
    expect(m.m_super1).toBeCloseTo(18 / 40, 12);
    expect(m.m_total).toBeCloseTo(25 / 40, 12);
    // Supertype 1 received sizes {8, 10}: 8 + 2 q; supertype 2 {3, 4}: 3 + q.
    for (let p = 1; p <= 9; p++) {
      expect(m.vhat_super1[p - 1]!).toBeCloseTo(8 + 0.2 * p, 12);
      expect(m.vhat_super2[p - 1]!).toBeCloseTo(3 + 0.1 * p, 12);
    }
  });

  it("gives zero shares without LT volume and rejects inconsistent inputs", () => {
    const m = calibrationMetricsFromTrades({ lpSupertypeOfTrade: [], tradeSize: [], ltTotalQuantity: 0 });
    expect(m.m_super1).toBe(0);
    expect(m.m_total).toBe(0);
    expect(() => calibrationMetricsFromTrades({ lpSupertypeOfTrade: [0], tradeSize: [1, 2], ltTotalQuantity: 3 })).toThrow(CalibrationExperimentError);
    expect(() => calibrationMetricsFromTrades({ lpSupertypeOfTrade: [0, 1], tradeSize: [5, 5], ltTotalQuantity: 6 })).toThrow(CalibrationExperimentError);
  });
});

describe("calibrationMetricsFromSupertypeSizes", () => {
  it("gives exactly the metrics of the same trades listed one by one, sorted or not", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 40 }), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 200 }),
        (bySupertype, sortFirst, ecnQuantity) => {
          const lists = bySupertype.map((list) => Float64Array.from(sortFirst ? [...list].sort((a, b) => a - b) : list));
          const total = lists.reduce((sum, l) => sum + l.reduce((a, b) => a + b, 0), 0) + ecnQuantity;
          const lpSupertypeOfTrade = lists.flatMap((l, s) => Array.from(l, () => s));
          const tradeSize = lists.flatMap((l) => Array.from(l));
          const expected = calibrationMetricsFromTrades({ lpSupertypeOfTrade, tradeSize, ltTotalQuantity: total });
          expect(calibrationMetricsFromSupertypeSizes(lists, total)).toEqual(expected);
        }
      )
    );
    expect(() => calibrationMetricsFromSupertypeSizes([Float64Array.from([5, 5])], 6)).toThrow(CalibrationExperimentError);
  });
});

describe("calibrationReward (r_cal of section 5.1)", () => {
  const metrics = (m_super1: number, m_total: number, d1: number, d2: number): CalibrationMetrics => ({
    m_super1,
    m_total,
    vhat_super1: shifted(TARGET_PERCENTILES_SUPER1, d1),
    vhat_super2: shifted(TARGET_PERCENTILES_SUPER2, d2)
  });

  it("experiment 1: 1 / (1 + r1 + 0.2 r2), hand-computed", () => {
    // r1 = (0.05 + 0.1) / 2 = 0.075, r2 = 1 -> 1 / 1.275; supertype 2 is not a target.
    expect(calibrationReward(1, metrics(0.1, 0.7, 1, 5))).toBeCloseTo(1 / 1.275, 12);
    expect(calibrationReward(1, metrics(0.1, 0.7, -1, 0))).toBeCloseTo(1 / 1.275, 12);
    const b = calibrationRewardBreakdown(1, metrics(0.1, 0.7, 1, 5));
    expect(b.shares).toBeCloseTo(0.075, 12);
    expect(b.percentilesSuper1).toBeCloseTo(1, 12);
    expect(b.percentilesSuper2).toBeNaN();
  });

  it("experiments 2 and 3: 1 / (1 + r1 + 0.2 r2 + 0.2 r3), hand-computed", () => {
    // r1 = 0.075, r2 = 1, r3 = 2 -> 1 / (1 + 0.075 + 0.2 + 0.4) = 1 / 1.675.
    for (const id of [2, 3] as const) {
      expect(calibrationReward(id, metrics(0.1, 0.7, 1, -2))).toBeCloseTo(1 / 1.675, 12);
    }
    // Only the absolute percentile error counts: one percentile off by 4.5 gives r3 = 0.5.
    const v2 = shifted(TARGET_PERCENTILES_SUPER2, 0);
    v2[4] = v2[4]! + 4.5;
    expect(calibrationReward(2, { ...metrics(0.2, 0.9, 0, 0), vhat_super2: v2 })).toBeCloseTo(1 / 1.1, 12);
  });

  it("experiment 4: 1 / (1 + |0.25 - m_super1| + max(0.8 - m_total, 0)), hand-computed", () => {
    expect(calibrationReward(4, metrics(0.3, 0.9, 3, 3))).toBeCloseTo(1 / 1.05, 12);
    expect(calibrationReward(4, metrics(0.2, 0.5, 0, 0))).toBeCloseTo(1 / 1.35, 12);
  });

  it("is 1 exactly when every target is met; inequality targets do not reward overshooting", () => {
    for (const id of [1, 2, 3] as const) {
      expect(calibrationReward(id, metrics(0.15, 0.8, 0, 0))).toBe(1);
      expect(calibrationReward(id, metrics(0.6, 0.99, 0, 0))).toBe(1);
    }
    expect(calibrationReward(4, metrics(0.25, 0.8, 7, 7))).toBe(1);
    expect(calibrationReward(4, metrics(0.3, 0.8, 0, 0))).toBeLessThan(1);
  });

  it("lies in (0, 1] and does not increase when any target is missed by more", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PAPER_EXPERIMENTS),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: -5, max: 5, noNaN: true }),
        fc.double({ min: 0, max: 0.1, noNaN: true }),
        (id, s1, extra, d, worse) => {
          const total = Math.min(1, s1 + extra);
          const r = calibrationReward(id, metrics(s1, total, d, d));
          expect(r).toBeGreaterThan(0);
          expect(r).toBeLessThanOrEqual(1);
          // Less total market share never helps.
          expect(calibrationReward(id, metrics(s1, Math.max(0, total - worse), d, d))).toBeLessThanOrEqual(r + 1e-15);
          // Percentiles further from their targets never help.
          const further = d + Math.sign(d || 1) * worse;
          expect(calibrationReward(id, metrics(s1, total, further, further))).toBeLessThanOrEqual(r + 1e-15);
        }
      )
    );
  });
});

describe("experiment definitions (tables 3, 4)", () => {
  it("have the calibrated parameters, ranges, LP counts and budgets of the paper", () => {
    for (const id of PAPER_EXPERIMENTS) {
      const def = experimentDefinition(id);
      const d = id === 4 ? 23 : 20;
      expect(def.space.names.length).toBe(d);
      expect(def.space.lower.length).toBe(d);
      expect(def.nLp).toBe(id <= 2 ? 5 : 10);
      expect(def.lpCounts).toEqual([1, def.nLp - 1]);
      expect(def.budgetEnvSteps).toBe(id <= 2 ? 40e6 : 20e6);
      expect(new Set(def.space.names).size).toBe(d);
      for (let i = 0; i < d; i++) {
        expect(def.space.initial[i]!).toBeGreaterThanOrEqual(def.space.lower[i]!);
        expect(def.space.initial[i]!).toBeLessThanOrEqual(def.space.upper[i]!);
        // Table 3: the action range is +- the width of the state range.
        expect(def.space.actionUpper[i]!).toBe(def.space.upper[i]! - def.space.lower[i]!);
        expect(def.space.actionLower[i]!).toBe(-def.space.actionUpper[i]!);
      }
    }
    const exp4 = experimentDefinition(4).space;
    const at = (name: string) => exp4.names.indexOf(name);
    expect([exp4.lower[at("lp1.connect.lt3")], exp4.upper[at("lp1.connect.lt3")]]).toEqual([0, 1]);
    expect([exp4.lower[at("lp2.connect.lt10")], exp4.upper[at("lp2.connect.lt10")]]).toEqual([0, 1]);
    expect([exp4.lower[at("lp1.gamma")], exp4.upper[at("lp1.gamma")]]).toEqual([0, 5]);
    expect([exp4.lower[at("lp2.gamma.mean")], exp4.upper[at("lp2.gamma.mean")]]).toEqual([0, 5]);
    expect([exp4.lower[at("lp2.gamma.std")], exp4.upper[at("lp2.gamma.std")]]).toEqual([0, 2]);
    expect(experimentDefinition(1).space.names).not.toContain("lp1.gamma");
    expect(experimentIds()).toEqual([1, 2, 3, 4]);
    expect(() => experimentDefinition(5)).toThrow(CalibrationExperimentError);
  });

  it("build populations of 500 stationary LTs (q_LT = i) and LPs carrying Lambda", () => {
    for (const id of PAPER_EXPERIMENTS) {
      const def = experimentDefinition(id);
      const lambda = Float64Array.from(def.space.names, (_, i) => (i % 7) / 7);
      if (id === 4) lambda.set([1.5, 2.5, 0.75], 20);
      const pop = experimentPopulation(id, lambda);
      expect(pop.lt.length).toBe(10);
      expect(pop.lt.reduce((s, t) => s + t.count, 0)).toBe(500);
      pop.lt.forEach((t, i) => {
        expect(t.stationary).toBe(true);
        expect(t.qLT).toEqual({ kind: "constant", value: i + 1 });
      });
      expect(pop.lp.map((s) => s.count)).toEqual([1, def.nLp - 1]);
      for (const s of pop.lp) expect(s.omega).toEqual({ kind: "constant", value: 1 });
      for (let k = 0; k < 20; k++) {
        const name = def.space.names[k]!;
        const lp = name.startsWith("lp1") ? 0 : 1;
        const lt = Number(name.split(".lt")[1]) - 1;
        expect(pop.lp[lp]!.connectivity[lt]).toEqual({ kind: "constant", value: lambda[k] });
      }
      if (id === 4) {
        expect(pop.lp[0]!.gamma).toEqual({ kind: "constant", value: 1.5 });
        const g2 = pop.lp[1]!.gamma;
        expect(g2.kind).toBe("clippedNormal");
        if (g2.kind === "clippedNormal") {
          expect(g2.mean).toBe(2.5);
          expect(g2.stDev).toBe(0.75);
        }
      }
    }
    // Values outside the state range are clipped; wrong lengths are rejected.
    const clipped = experimentPopulation(1, Float64Array.from({ length: 20 }, (_, i) => (i === 0 ? 1.7 : -0.3)));
    expect(clipped.lp[0]!.connectivity[0]).toEqual({ kind: "constant", value: 1 });
    expect(clipped.lp[0]!.connectivity[1]).toEqual({ kind: "constant", value: 0 });
    expect(() => experimentPopulation(4, new Float64Array(20))).toThrow(CalibrationExperimentError);
  });
});
