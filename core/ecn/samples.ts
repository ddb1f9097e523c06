/**
 * The samples of the vanilla ECN model (paper section 2.3.1, eqs. (7)-(8)): the initial
 * snapshot S0 = (ln V_1..ln V_2m, spread) and the step variations S_{n+1} = (delta_1..delta_2m,
 * spread_{n+1}, mid_{n+1} - mid_n), where delta is the hybrid variation of eq. (8): absolute when
 * the volume grows, relative when it shrinks, so V_{n+1} = (1 - delta^-) V_n + delta^+. Also the
 * deeper-level decay alpha, the typical order sizes used to split meta orders, and the
 * chronological train/validation/test split. Input series have prices in integer ticks and sizes
 * in lots (see `toTicks`, `toLots`). Levels are ordered ask 1..m then bid 1..m, 1 = best, each
 * indexed from the best price at its own time.
 */
import type { LobsterMessages } from "./lobster.ts";
import type { SnapshotSeries } from "./snapshots.ts";

/** Volume of level index j in 0..2m-1 (ask levels first) of row r. */
export const levelVolume = (series: SnapshotSeries, r: number, j: number): number => {
  const m = series.levels;
  return j < m ? series.askSize[r * m + j]! : series.bidSize[r * m + j - m]!;
};

/** The hybrid variation of eq. (8) from V_n to V_{n+1}. */
export const hybridDelta = (before: number, after: number): number =>
  after >= before ? after - before : (after - before) / before;

/** Applies eq. (8): V_{n+1} = (1 - delta^-) V_n + delta^+. */
export const applyHybridDelta = (before: number, delta: number): number =>
  delta >= 0 ? before + delta : (1 + delta) * before;

export interface EcnSamples {
  readonly levels: number;
  /** S0 rows, each of dimension 2m+1, row-major. */
  readonly s0: Float64Array;
  readonly s0Count: number;
  /** Series row of each S0 sample (rows with an empty visible level are skipped). */
  readonly s0Rows: Int32Array;
  /** S rows, each of dimension 2m+2, row-major; sample n is the step from row n to row n+1. */
  readonly s: Float64Array;
  readonly sCount: number;
}

/** Builds the S0 and S samples of a series with prices in ticks and sizes in lots. */
export const buildSamples = (series: SnapshotSeries): EcnSamples => {
  const m = series.levels;
  const d0 = 2 * m + 1;
  const d = 2 * m + 2;
  const n = series.rows;
  const s0 = new Float64Array(n * d0);
  const s0Rows = new Int32Array(n);
  let s0Count = 0;
  for (let r = 0; r < n; r++) {
    const o = s0Count * d0;
    let ok = true;
    for (let j = 0; j < 2 * m; j++) {
      const v = levelVolume(series, r, j);
      if (!(v > 0)) {
        ok = false;
        break;
      }
      s0[o + j] = Math.log(v);
    }
    if (!ok) continue;
    s0[o + 2 * m] = series.askPrice[r * m]! - series.bidPrice[r * m]!;
    s0Rows[s0Count++] = r;
  }
  const sCount = Math.max(0, n - 1);
  const s = new Float64Array(sCount * d);
  for (let r = 0; r + 1 < n; r++) {
    const o = r * d;
    for (let j = 0; j < 2 * m; j++) s[o + j] = hybridDelta(levelVolume(series, r, j), levelVolume(series, r + 1, j));
    const ask0 = series.askPrice[r * m]!;
    const bid0 = series.bidPrice[r * m]!;
    const ask1 = series.askPrice[(r + 1) * m]!;
    const bid1 = series.bidPrice[(r + 1) * m]!;
    s[o + 2 * m] = ask1 - bid1;
    s[o + 2 * m + 1] = (ask1 + bid1) / 2 - (ask0 + bid0) / 2;
  }
  return { levels: m, s0: s0.subarray(0, s0Count * d0), s0Count, s0Rows: s0Rows.subarray(0, s0Count), s, sCount };
};

/**
 * Decay rate alpha of the deeper levels, V_k ~ exp(-alpha k): minus the least-squares slope of
 * ln V_k on k = 1..m, pooled over snapshots and both sides (levels with zero volume are left out).
 * With every level present, the pooled slope equals the within-snapshot slope, because k is
 * balanced across snapshots. The raw slope is returned; callers decide what to do if it is <= 0.
 */
export const fitDecayRate = (series: SnapshotSeries): number => {
  const m = series.levels;
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const sizes of [series.askSize, series.bidSize]) {
    for (let r = 0; r < series.rows; r++) {
      for (let k = 0; k < m; k++) {
        const v = sizes[r * m + k]!;
        if (!(v > 0)) continue;
        const x = k + 1;
        const y = Math.log(v);
        n++;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
      }
    }
  }
  const denominator = n * sxx - sx * sx;
  if (n < 2 || denominator <= 0) return Number.NaN;
  return -(n * sxy - sx * sy) / denominator;
};

/**
 * Typical order sizes from snapshots only (no messages): |V_{n+1} - V_n| of each level whose price
 * is the same in both rows, when non-zero, at the series' own (finest) time step. A level whose
 * price moved is not an order of that size, so it is left out.
 */
export const orderSizesFromSnapshots = (series: SnapshotSeries): Float64Array => {
  const m = series.levels;
  const out: number[] = [];
  for (let r = 0; r + 1 < series.rows; r++) {
    for (let k = 0; k < m; k++) {
      const i = r * m + k;
      const i1 = i + m;
      if (series.askPrice[i] === series.askPrice[i1]) {
        const dv = Math.abs(series.askSize[i1]! - series.askSize[i]!);
        if (dv > 0) out.push(dv);
      }
      if (series.bidPrice[i] === series.bidPrice[i1]) {
        const dv = Math.abs(series.bidSize[i1]! - series.bidSize[i]!);
        if (dv > 0) out.push(dv);
      }
    }
  }
  return Float64Array.from(out);
};

/**
 * Typical order sizes from LOBSTER messages (event by event): the raw sizes (shares) of the events
 * that change the visible book (types 1 new, 2 partial cancel, 3 delete, 4 visible execution) with
 * time in [windowStart, windowEnd). Hidden executions (5) and halts (7) are left out.
 */
export const orderSizesFromMessages = (
  messages: LobsterMessages,
  windowStart = -Infinity,
  windowEnd = Infinity
): Float64Array => {
  const out: number[] = [];
  for (let i = 0; i < messages.length; i++) {
    const type = messages.type[i]!;
    const t = messages.time[i]!;
    if (type < 1 || type > 4 || t < windowStart || t >= windowEnd) continue;
    const size = messages.size[i]!;
    if (size > 0) out.push(size);
  }
  return Float64Array.from(out);
};

/**
 * At most `maxCount` values representing an empirical distribution: all of them sorted if there
 * are few, otherwise evenly spaced order statistics (midpoint quantiles), so that drawing one
 * uniformly still follows the data's distribution.
 */
export const summariseDistribution = (values: Float64Array, maxCount = 4096): Float64Array => {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length <= maxCount) return sorted;
  const out = new Float64Array(maxCount);
  for (let i = 0; i < maxCount; i++) out[i] = sorted[Math.floor(((i + 0.5) * sorted.length) / maxCount)]!;
  return out;
};

/** Index ranges [start, end) of a chronological split (70/15/15 by default). */
export interface ChronologicalSplit {
  readonly train: readonly [number, number];
  readonly validation: readonly [number, number];
  readonly test: readonly [number, number];
}

/** Splits n chronologically ordered samples into train / validation / test, in that order. */
export const chronologicalSplit = (n: number, fractions: readonly [number, number, number] = [0.7, 0.15, 0.15]): ChronologicalSplit => {
  const total = fractions[0] + fractions[1] + fractions[2];
  const a = Math.round((n * fractions[0]) / total);
  const b = Math.round((n * (fractions[0] + fractions[1])) / total);
  return { train: [0, a], validation: [a, b], test: [b, n] };
};
