import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Random } from "../../core/random/philox.ts";
import {
  applyHybridDelta,
  buildSamples,
  chronologicalSplit,
  fitDecayRate,
  hybridDelta,
  levelVolume,
  orderSizesFromSnapshots,
  summariseDistribution
} from "../../core/ecn/samples.ts";
import { validateSeries, type SnapshotSeries } from "../../core/ecn/snapshots.ts";
import { generateSyntheticL2 } from "../../core/ecn/synthetic.ts";
import { toTicks } from "../../core/ecn/snapshots.ts";

/** Random tick series: m levels, consecutive-tick grids, random volumes (some zero) and spreads. */
const tickSeriesArb = fc
  .record({
    m: fc.integer({ min: 1, max: 4 }),
    rows: fc.array(
      fc.record({
        bid: fc.integer({ min: 100, max: 110 }),
        spread: fc.integer({ min: 1, max: 4 }),
        volumes: fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0.001, max: 1000, noNaN: true })), { minLength: 8, maxLength: 8 })
      }),
      { minLength: 2, maxLength: 30 }
    )
  })
  .map(({ m, rows }): SnapshotSeries => {
    const n = rows.length;
    const f = () => new Float64Array(n * m);
    const s = { source: "x", rows: n, levels: m, time: Float64Array.from({ length: n }, (_, i) => i), askPrice: f(), askSize: f(), bidPrice: f(), bidSize: f() };
    rows.forEach((r, i) => {
      for (let k = 0; k < m; k++) {
        s.askPrice[i * m + k] = r.bid + r.spread + k;
        s.bidPrice[i * m + k] = r.bid - k;
        s.askSize[i * m + k] = r.volumes[k]!;
        s.bidSize[i * m + k] = r.volumes[4 + k]!;
      }
    });
    return s;
  });

describe("hybrid variation (eq. 8)", () => {
  it("S applied by the recursion to V_n reproduces V_{n+1} level by level, with delta^- in [0,1]", () => {
    fc.assert(
      fc.property(tickSeriesArb, (series) => {
        const m = series.levels;
        const d = 2 * m + 2;
        const { s, sCount } = buildSamples(series);
        expect(sCount).toBe(series.rows - 1);
        for (let n = 0; n < sCount; n++) {
          for (let j = 0; j < 2 * m; j++) {
            const delta = s[n * d + j]!;
            const deltaMinus = Math.max(-delta, 0);
            const deltaPlus = Math.max(delta, 0);
            expect(deltaMinus).toBeGreaterThanOrEqual(0);
            expect(deltaMinus).toBeLessThanOrEqual(1);
            const before = levelVolume(series, n, j);
            const after = levelVolume(series, n + 1, j);
            const rebuilt = (1 - deltaMinus) * before + deltaPlus;
            expect(Math.abs(rebuilt - after)).toBeLessThanOrEqual(1e-12 * Math.max(1, after));
          }
          // Spread and mid change in ticks, from prices.
          const ask1 = series.askPrice[(n + 1) * m]!;
          const bid1 = series.bidPrice[(n + 1) * m]!;
          expect(s[n * d + 2 * m]).toBe(ask1 - bid1);
          expect(s[n * d + 2 * m + 1]).toBe((ask1 + bid1 - series.askPrice[n * m]! - series.bidPrice[n * m]!) / 2);
        }
      })
    );
  });
  it("applyHybridDelta inverts hybridDelta", () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-6, max: 1e6, noNaN: true }), fc.double({ min: 0, max: 1e6, noNaN: true }), (a, b) => {
        expect(applyHybridDelta(a, hybridDelta(a, b))).toBeCloseTo(b, 6);
      })
    );
  });
  it("S0 is (ln V ask 1..m, ln V bid 1..m, spread), skipping rows with an empty level", () => {
    fc.assert(
      fc.property(tickSeriesArb, (series) => {
        const m = series.levels;
        const { s0, s0Count, s0Rows } = buildSamples(series);
        let expectedCount = 0;
        for (let r = 0; r < series.rows; r++) {
          let full = true;
          for (let j = 0; j < 2 * m; j++) if (!(levelVolume(series, r, j) > 0)) full = false;
          if (full) expectedCount++;
        }
        expect(s0Count).toBe(expectedCount);
        for (let i = 0; i < s0Count; i++) {
          const r = s0Rows[i]!;
          for (let j = 0; j < 2 * m; j++) expect(Math.exp(s0[i * (2 * m + 1) + j]!)).toBeCloseTo(levelVolume(series, r, j), 6);
          expect(s0[i * (2 * m + 1) + 2 * m]).toBe(series.askPrice[r * m]! - series.bidPrice[r * m]!);
        }
      })
    );
  });
});

describe("deeper-level decay alpha", () => {
  it("recovers alpha from exactly exponential books whatever their scale", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 2, noNaN: true }),
        fc.array(fc.double({ min: 1, max: 1e4, noNaN: true }), { minLength: 1, maxLength: 10 }),
        (alpha, scales) => {
          const m = 5;
          const n = scales.length;
          const f = () => new Float64Array(n * m);
          const s = { source: "x", rows: n, levels: m, time: new Float64Array(n), askPrice: f(), askSize: f(), bidPrice: f(), bidSize: f() };
          for (let r = 0; r < n; r++)
            for (let k = 0; k < m; k++) {
              s.askSize[r * m + k] = scales[r]! * Math.exp(-alpha * (k + 1));
              s.bidSize[r * m + k] = 2 * scales[r]! * Math.exp(-alpha * (k + 1));
            }
          expect(fitDecayRate(s)).toBeCloseTo(alpha, 8);
        }
      )
    );
  });
});

describe("order sizes and split", () => {
  it("snapshot order sizes are the non-zero |dV| of levels whose price did not move", () => {
    const s: SnapshotSeries = {
      source: "x",
      rows: 3,
      levels: 1,
      time: Float64Array.of(0, 1, 2),
      askPrice: Float64Array.of(10, 10, 11),
      askSize: Float64Array.of(5, 7, 1),
      bidPrice: Float64Array.of(9, 9, 9),
      bidSize: Float64Array.of(4, 4, 1)
    };
    expect(Array.from(orderSizesFromSnapshots(s)).sort()).toEqual([2, 3]);
  });
  it("summariseDistribution keeps quantiles of the data", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { minLength: 1, maxLength: 500 }), fc.integer({ min: 1, max: 50 }), (xs, max) => {
        const values = Float64Array.from(xs);
        const out = summariseDistribution(values, max);
        expect(out.length).toBe(Math.min(max, xs.length));
        const sorted = [...xs].sort((a, b) => a - b);
        // every kept value is a data value, kept values are sorted, and the median stays within the data's central range
        for (let i = 0; i < out.length; i++) {
          expect(sorted).toContain(out[i]);
          if (i > 0) expect(out[i]).toBeGreaterThanOrEqual(out[i - 1]!);
        }
      })
    );
  });
  it("chronologicalSplit partitions 0..n in order with the requested proportions", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100000 }), (n) => {
        const s = chronologicalSplit(n);
        expect(s.train[0]).toBe(0);
        expect(s.train[1]).toBe(s.validation[0]);
        expect(s.validation[1]).toBe(s.test[0]);
        expect(s.test[1]).toBe(n);
        expect(Math.abs(s.train[1] - 0.7 * n)).toBeLessThanOrEqual(1);
        expect(Math.abs(s.test[1] - s.test[0] - 0.15 * n)).toBeLessThanOrEqual(1.5);
      })
    );
  });
});

describe("synthetic L2 data", () => {
  const make = (seed: number, rows?: number) => generateSyntheticL2(Random.fromSeed(seed), rows === undefined ? {} : { rows });
  it("is deterministic from its Random and differs across seeds", () => {
    const a = make(3, 500);
    const b = make(3, 500);
    const c = make(4, 500);
    expect(Array.from(a.series.askSize)).toEqual(Array.from(b.series.askSize));
    expect(Array.from(a.series.askSize)).not.toEqual(Array.from(c.series.askSize));
  });
  it("is a valid book with 1-3 tick spreads, mostly-zero mid changes and a positive depth decay", () => {
    const { series, tick } = make(11);
    expect(series.rows).toBe(7200);
    validateSeries(series, { strictTime: true });
    const ticks = toTicks(series, tick);
    const { s, sCount } = buildSamples(ticks);
    const m = series.levels;
    let zeroMid = 0;
    for (let n = 0; n < sCount; n++) {
      const spread = s[n * (2 * m + 2) + 2 * m]!;
      expect([1, 2, 3]).toContain(spread);
      if (s[n * (2 * m + 2) + 2 * m + 1] === 0) zeroMid++;
    }
    expect(zeroMid / sCount).toBeGreaterThan(0.5);
    expect(fitDecayRate(ticks)).toBeGreaterThan(0);
    // Deeper levels are one tick apart (the model's assumption).
    for (let r = 0; r < series.rows; r += 97) for (let k = 1; k < m; k++) expect(ticks.askPrice[r * m + k]! - ticks.askPrice[r * m + k - 1]!).toBe(1);
  });
});
