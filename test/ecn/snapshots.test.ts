import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { L2InputError } from "../../core/ecn/errors.ts";
import { readLobsterZip } from "../../core/ecn/lobster.ts";
import {
  inferTick,
  lastSecondsWindow,
  lobsterSnapshots,
  readSnapshotCsv,
  resample,
  toLots,
  toTicks,
  type SnapshotSeries
} from "../../core/ecn/snapshots.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dataDir = path.resolve(repoRoot, "../shared/data");
const amznZip = path.join(dataDir, "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip");
const haveData = existsSync(amznZip);
if (!haveData) console.warn(`[ecn/snapshots] LOBSTER samples not found at ${dataDir}; real-data tests skipped.`);

const tmp = mkdtempSync(path.join(tmpdir(), "ecn-snap-"));
const header = "t,ask_px_1,ask_px_2,ask_sz_1,ask_sz_2,bid_px_1,bid_px_2,bid_sz_1,bid_sz_2";
const good = [header, "0,100.02,100.03,5,6,100.00,99.99,7,8", "1.5,100.01,100.02,5,6,99.99,99.98,7,8", "3,100.03,100.04,1,2,100.01,100.00,3,4"];
const write = (name: string, lines: string[]) => {
  const p = path.join(tmp, name);
  writeFileSync(p, lines.join("\n") + "\n");
  return p;
};

const expectError = (f: () => unknown, file: string, line: number, pattern: RegExp) => {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(L2InputError);
  const err = caught as L2InputError;
  expect(err._tag).toBe("L2InputError");
  expect(err.message).toContain(file);
  expect(err.line).toBe(line);
  expect(err.message).toMatch(pattern);
};

describe("readSnapshotCsv", () => {
  it("reads the snapshot CSV layout, columns in any order", () => {
    const s = readSnapshotCsv(write("good.csv", good));
    expect(s.rows).toBe(3);
    expect(s.levels).toBe(2);
    expect(Array.from(s.time)).toEqual([0, 1.5, 3]);
    expect(Array.from(s.askPrice.subarray(0, 2))).toEqual([100.02, 100.03]);
    expect(Array.from(s.bidSize.subarray(4, 6))).toEqual([3, 4]);
  });
  it("rejects missing columns (line 1)", () => {
    const lines = [header.replace(",bid_sz_2", ""), ...good.slice(1).map((l) => l.replace(/,\d+$/, ""))];
    expectError(() => readSnapshotCsv(write("nocol.csv", lines)), "nocol.csv", 1, /missing columns bid_sz_2/);
  });
  it("rejects a short row", () => {
    const lines = [...good];
    lines[2] = lines[2]!.replace(/,8$/, "");
    expectError(() => readSnapshotCsv(write("short.csv", lines)), "short.csv", 3, /missing columns/);
  });
  it("rejects non-numeric cells", () => {
    const lines = [...good];
    lines[3] = lines[3]!.replace("100.04", "n/a");
    expectError(() => readSnapshotCsv(write("text.csv", lines)), "text.csv", 4, /not a number/);
  });
  it("rejects crossed and locked books", () => {
    const lines = [...good];
    lines[2] = "1.5,99.99,100.02,5,6,99.99,99.98,7,8";
    expectError(() => readSnapshotCsv(write("crossed.csv", lines)), "crossed.csv", 3, /crossed/);
    lines[2] = "1.5,99.98,100.02,5,6,99.99,99.97,7,8";
    expectError(() => readSnapshotCsv(write("crossed2.csv", lines)), "crossed2.csv", 3, /crossed/);
  });
  it("rejects empty books", () => {
    const lines = [...good];
    lines[1] = "0,100.02,100.03,5,6,100.00,99.99,0,8";
    expectError(() => readSnapshotCsv(write("empty.csv", lines)), "empty.csv", 2, /empty book/);
  });
  it("rejects non-increasing time", () => {
    const lines = [...good];
    lines[3] = lines[3]!.replace(/^3,/, "1.5,");
    expectError(() => readSnapshotCsv(write("equal.csv", lines)), "equal.csv", 4, /time/);
    lines[3] = lines[3]!.replace(/^1.5,/, "1,");
    expectError(() => readSnapshotCsv(write("back.csv", lines)), "back.csv", 4, /time/);
  });
  it("rejects levels out of price order", () => {
    const lines = [...good];
    lines[1] = "0,100.02,100.01,5,6,100.00,99.99,7,8";
    expectError(() => readSnapshotCsv(write("order.csv", lines)), "order.csv", 2, /level 2/);
  });
});

/** A random valid series with increasing times. */
const seriesArb = fc
  .record({
    gaps: fc.array(fc.double({ min: 0.01, max: 3, noNaN: true }), { minLength: 1, maxLength: 40 }),
    start: fc.double({ min: -100, max: 100, noNaN: true })
  })
  .map(({ gaps, start }): SnapshotSeries => {
    const n = gaps.length;
    const time = new Float64Array(n);
    let t = start;
    for (let i = 0; i < n; i++) {
      time[i] = t;
      t += gaps[i]!;
    }
    // Row i carries i in every field so the selected row is visible.
    const f = (sign: number) => Float64Array.from({ length: n }, (_, i) => 1000 + sign * (1 + i));
    return { source: "x", rows: n, levels: 1, time, askPrice: f(1), askSize: f(1), bidPrice: f(-1), bidSize: f(1) };
  });

describe("resample", () => {
  it("takes the last update with time <= t for every grid time", () => {
    fc.assert(
      fc.property(seriesArb, fc.double({ min: 0.05, max: 2, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (s, dt, offset) => {
        const windowStart = s.time[0]! + offset;
        const windowEnd = s.time[s.rows - 1]! + 2;
        const r = resample(s, { dt, windowStart, windowEnd });
        for (let g = 0; g < r.rows; g++) {
          const t = r.time[g]!;
          expect(t).toBeLessThan(windowEnd);
          let expected = -1;
          for (let i = 0; i < s.rows; i++) if (s.time[i]! <= t) expected = i;
          expect(r.askPrice[g]).toBe(s.askPrice[expected]);
        }
        expect(r.time[r.rows - 1]! + dt).toBeGreaterThanOrEqual(windowEnd - 1e-9);
      })
    );
  });
  it("takes the last of several updates with the same time", () => {
    const s: SnapshotSeries = {
      source: "x",
      rows: 3,
      levels: 1,
      time: Float64Array.of(0, 1, 1),
      askPrice: Float64Array.of(10, 11, 12),
      askSize: Float64Array.of(1, 1, 1),
      bidPrice: Float64Array.of(9, 9, 9),
      bidSize: Float64Array.of(1, 1, 1)
    };
    expect(Array.from(resample(s, { dt: 1, windowStart: 0, windowEnd: 2 }).askPrice)).toEqual([10, 12]);
  });
  it("refuses a window starting before the first update", () => {
    const s: SnapshotSeries = { source: "early.csv", rows: 1, levels: 1, time: Float64Array.of(5), askPrice: Float64Array.of(2), askSize: Float64Array.of(1), bidPrice: Float64Array.of(1), bidSize: Float64Array.of(1) };
    expect(() => resample(s, { dt: 1, windowStart: 4, windowEnd: 8 })).toThrow(/early.csv.*before the first update/);
  });
});

describe("units", () => {
  it("toTicks inverts k x tick for any integer k and tick; inferTick finds the tick", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 2, maxLength: 20 }), fc.constantFrom(0.01, 0.05, 0.25, 1, 0.0001), (ks, tick) => {
        const sorted = [...new Set(ks)].sort((a, b) => a - b);
        fc.pre(sorted.length >= 2);
        const n = sorted.length - 1;
        const s: SnapshotSeries = {
          source: "x",
          rows: n,
          levels: 1,
          time: Float64Array.from({ length: n }, (_, i) => i),
          askPrice: Float64Array.from({ length: n }, (_, i) => sorted[i + 1]! * tick),
          askSize: new Float64Array(n).fill(1),
          bidPrice: Float64Array.from({ length: n }, (_, i) => sorted[i]! * tick),
          bidSize: new Float64Array(n).fill(1)
        };
        const t = toTicks(s, tick);
        for (let i = 0; i < n; i++) expect(t.askPrice[i]).toBe(sorted[i + 1]);
        const gcdLike = Math.min(...sorted.slice(1).map((v, i) => v - sorted[i]!));
        expect(inferTick(s)).toBeCloseTo(gcdLike * tick, 9);
      })
    );
  });
  it("toTicks rejects off-grid prices; toLots divides sizes", () => {
    const s: SnapshotSeries = { source: "grid.csv", rows: 1, levels: 1, time: Float64Array.of(0), askPrice: Float64Array.of(1.015), askSize: Float64Array.of(300), bidPrice: Float64Array.of(1), bidSize: Float64Array.of(50) };
    expect(() => toTicks(s, 0.01)).toThrow(/grid.csv:1.*not a multiple/);
    expect(Array.from(toLots(s, 100).askSize)).toEqual([3]);
  });
});

describe.skipIf(!haveData)("LOBSTER snapshots (AMZN)", () => {
  it("converts to dollars and resamples the last two hours to 7200 one-second rows", () => {
    const data = readLobsterZip(amznZip);
    const raw = lobsterSnapshots(data);
    expect(raw.rows).toBe(data.orderbook.rows);
    expect(raw.askPrice[0]).toBeCloseTo(data.orderbook.askPrice[0]! / 10000, 12);
    const window = lastSecondsWindow(raw, 7200);
    expect(window).toEqual({ windowStart: 50400, windowEnd: 57600 });
    const s = resample(raw, { dt: 1, ...window });
    expect(s.rows).toBe(7200);
    expect(inferTick(raw)).toBe(0.01);
    // Spot check against a direct search.
    for (const g of [0, 1234, 7199]) {
      let row = -1;
      for (let i = 0; i < raw.rows; i++) if (raw.time[i]! <= s.time[g]!) row = i;
      expect(s.bidSize[g * 5 + 2]).toBe(raw.bidSize[row * 5 + 2]);
    }
  });
});
