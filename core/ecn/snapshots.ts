/**
 * Level-2 snapshot series (paper section 2.3: "level two limit order book data, namely a
 * dataset containing the limit order book snapshot at different times"): readers for the plain
 * snapshot CSV (`t, ask_px_1..m, ask_sz_1..m, bid_px_1..m, bid_sz_1..m`) and for LOBSTER
 * orderbooks, validation (crossed or empty books, time order), resampling to the simulation step
 * dt (the row for grid time t is the last update with time <= t), volume units (raw volume / lot)
 * and conversion of prices to integer ticks. A series is column-major per field and row-major
 * across levels: entry `r * levels + k` is level k+1 (1 = best) of row r.
 *
 * Decisions: empty levels (LOBSTER's +-9999999999 markers) become price NaN and size 0; an empty
 * best level on either side is an "empty book" error, deeper empty levels are allowed and later
 * skipped where a log volume is needed. A locked book (best ask = best bid) counts as crossed,
 * because the model needs a spread of at least one tick. Plain CSV times must strictly increase;
 * LOBSTER times may repeat (several messages of one event) but never decrease.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { firstLine, readNumericCsv } from "./csv.ts";
import { L2InputError } from "./errors.ts";
import {
  LOBSTER_EMPTY_ASK_PRICE,
  LOBSTER_EMPTY_BID_PRICE,
  LOBSTER_PRICE_SCALE,
  type LobsterData
} from "./lobster.ts";

/** A time series of top-m book snapshots. Prices in the data's price unit, sizes in its volume unit. */
export interface SnapshotSeries {
  /** Where the rows came from (file name), used in error messages. */
  readonly source: string;
  readonly rows: number;
  readonly levels: number;
  /** Seconds (any origin), non-decreasing. */
  readonly time: Float64Array;
  readonly askPrice: Float64Array;
  readonly askSize: Float64Array;
  readonly bidPrice: Float64Array;
  readonly bidSize: Float64Array;
  /** 1-based line in `source` of each row (absent for generated or resampled series). */
  readonly lines?: Int32Array;
}

const lineOf = (series: SnapshotSeries, row: number): number => series.lines?.[row] ?? row + 1;

/**
 * Checks every row: best levels present with positive size, book not crossed (ask > bid), sizes
 * non-negative, level prices strictly worse with depth where present, and time order.
 * Throws `L2InputError` naming the source and line of the first bad row.
 */
export const validateSeries = (series: SnapshotSeries, options: { strictTime: boolean }): void => {
  const { rows, levels: m, source } = series;
  if (rows === 0) throw new L2InputError(source, 0, "no snapshot rows", "supply at least one book snapshot");
  let previous = -Infinity;
  for (let r = 0; r < rows; r++) {
    const t = series.time[r]!;
    if (options.strictTime ? t <= previous : t < previous) {
      throw new L2InputError(
        source,
        lineOf(series, r),
        `time ${t} does not ${options.strictTime ? "increase on" : "follow"} the previous row's ${previous}`,
        "sort the snapshots by time and drop duplicated times"
      );
    }
    previous = t;
    const o = r * m;
    const ask = series.askPrice[o]!;
    const bid = series.bidPrice[o]!;
    if (!(series.askSize[o]! > 0) || !(series.bidSize[o]! > 0) || Number.isNaN(ask) || Number.isNaN(bid)) {
      throw new L2InputError(
        source,
        lineOf(series, r),
        "empty book: the best ask or best bid level has no volume",
        "drop rows where one side of the book is empty"
      );
    }
    if (!(ask > bid)) {
      throw new L2InputError(
        source,
        lineOf(series, r),
        `crossed book: best ask ${ask} <= best bid ${bid}`,
        "drop crossed or locked snapshots"
      );
    }
    for (let k = 0; k < m; k++) {
      const a = series.askSize[o + k]!;
      const b = series.bidSize[o + k]!;
      if (a < 0 || b < 0) {
        throw new L2InputError(source, lineOf(series, r), `negative size at level ${k + 1}`, "sizes must be >= 0");
      }
      if (k > 0) {
        const askUp = series.askPrice[o + k]! > series.askPrice[o + k - 1]!;
        const bidDown = series.bidPrice[o + k]! < series.bidPrice[o + k - 1]!;
        if ((a > 0 && !askUp) || (b > 0 && !bidDown)) {
          throw new L2InputError(
            source,
            lineOf(series, r),
            `level ${k + 1} is not priced worse than level ${k}`,
            "order ask prices increasing and bid prices decreasing from the best level"
          );
        }
      }
    }
  }
};

/**
 * Reads the plain snapshot CSV (`t, ask_px_1..m, ask_sz_1..m, bid_px_1..m, bid_sz_1..m`). The header names the columns (any order):
 * `t, ask_px_1..ask_px_m, ask_sz_1..ask_sz_m, bid_px_1..bid_px_m, bid_sz_1..bid_sz_m`.
 */
export const parseSnapshotCsv = (bytes: Uint8Array, file: string): SnapshotSeries => {
  const header = firstLine(bytes);
  const names = header.text.split(",").map((s) => s.trim().toLowerCase());
  const index = new Map(names.map((n, i) => [n, i] as const));
  let m = 0;
  while (index.has(`ask_px_${m + 1}`) || index.has(`bid_px_${m + 1}`) || index.has(`ask_sz_${m + 1}`) || index.has(`bid_sz_${m + 1}`)) m++;
  const required = ["t"];
  for (const field of ["ask_px", "ask_sz", "bid_px", "bid_sz"]) for (let k = 1; k <= Math.max(m, 1); k++) required.push(`${field}_${k}`);
  const missing = required.filter((n) => !index.has(n));
  if (missing.length > 0) {
    throw new L2InputError(
      file,
      1,
      `missing columns ${missing.slice(0, 6).join(", ")}${missing.length > 6 ? ", ..." : ""}`,
      "name the columns t, ask_px_1..m, ask_sz_1..m, bid_px_1..m, bid_sz_1..m in the header"
    );
  }
  const table = readNumericCsv(bytes, file, { columns: names.length, start: header.next, firstLine: 2 });
  const n = table.rows;
  const c = table.columns;
  const col = (name: string) => index.get(name)!;
  const time = new Float64Array(n);
  const askPrice = new Float64Array(n * m);
  const askSize = new Float64Array(n * m);
  const bidPrice = new Float64Array(n * m);
  const bidSize = new Float64Array(n * m);
  const tCol = col("t");
  const cols = Array.from({ length: m }, (_, k) => [
    col(`ask_px_${k + 1}`),
    col(`ask_sz_${k + 1}`),
    col(`bid_px_${k + 1}`),
    col(`bid_sz_${k + 1}`)
  ]);
  for (let r = 0; r < n; r++) {
    const o = r * c;
    time[r] = table.values[o + tCol]!;
    for (let k = 0; k < m; k++) {
      const [ap, as, bp, bs] = cols[k]!;
      askPrice[r * m + k] = table.values[o + ap!]!;
      askSize[r * m + k] = table.values[o + as!]!;
      bidPrice[r * m + k] = table.values[o + bp!]!;
      bidSize[r * m + k] = table.values[o + bs!]!;
    }
  }
  const series: SnapshotSeries = { source: file, rows: n, levels: m, time, askPrice, askSize, bidPrice, bidSize, lines: table.lines };
  validateSeries(series, { strictTime: true });
  return series;
};

/** Reads a plain snapshot CSV file from disk (see `parseSnapshotCsv`). */
export const readSnapshotCsv = (path: string): SnapshotSeries => {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new L2InputError(basename(path), 0, `cannot read ${path}`, "check the path of the snapshot CSV");
  }
  return parseSnapshotCsv(bytes, basename(path));
};

/**
 * The LOBSTER orderbook as a snapshot series: row k is the book after message k at the message's
 * time; prices converted to dollars (file value / 10000), sizes in shares, empty levels as price
 * NaN and size 0.
 */
export const lobsterSnapshots = (data: LobsterData): SnapshotSeries => {
  const { orderbook: b, messages } = data;
  const n = b.rows;
  const askPrice = new Float64Array(n * b.levels);
  const bidPrice = new Float64Array(n * b.levels);
  const askSize = new Float64Array(b.askSize);
  const bidSize = new Float64Array(b.bidSize);
  for (let i = 0; i < n * b.levels; i++) {
    const ap = b.askPrice[i]!;
    const bp = b.bidPrice[i]!;
    const askEmpty = ap >= LOBSTER_EMPTY_ASK_PRICE || askSize[i] === 0;
    const bidEmpty = bp <= LOBSTER_EMPTY_BID_PRICE || bidSize[i] === 0;
    askPrice[i] = askEmpty ? Number.NaN : ap / LOBSTER_PRICE_SCALE;
    bidPrice[i] = bidEmpty ? Number.NaN : bp / LOBSTER_PRICE_SCALE;
    if (askEmpty) askSize[i] = 0;
    if (bidEmpty) bidSize[i] = 0;
  }
  const lines = new Int32Array(n);
  for (let r = 0; r < n; r++) lines[r] = r + 1;
  const series: SnapshotSeries = {
    source: data.orderbookFile,
    rows: n,
    levels: b.levels,
    time: new Float64Array(messages.time),
    askPrice,
    askSize,
    bidPrice,
    bidSize,
    lines
  };
  validateSeries(series, { strictTime: false });
  return series;
};

export interface ResampleOptions {
  /** Grid step in seconds (default 1). */
  readonly dt: number;
  /** First grid time; must be at or after the first update. Defaults to the first update time. */
  readonly windowStart?: number;
  /** Grid times are windowStart + k dt < windowEnd. Defaults to just past the last update. */
  readonly windowEnd?: number;
}

/**
 * Resamples a series to the grid windowStart + k dt (k = 0, 1, ...) strictly before windowEnd:
 * the row for grid time t is the last update with time <= t (with repeated times, the last one).
 */
export const resample = (series: SnapshotSeries, options: ResampleOptions): SnapshotSeries => {
  const { dt } = options;
  const first = series.time[0]!;
  const last = series.time[series.rows - 1]!;
  const start = options.windowStart ?? first;
  const end = options.windowEnd ?? last + dt;
  if (!(dt > 0)) throw new L2InputError(series.source, 0, `dt = ${dt} is not positive`, "choose a positive resampling step");
  if (start < first) {
    throw new L2InputError(
      series.source,
      0,
      `window start ${start} is before the first update at ${first}, where no book is known`,
      "start the window at or after the first update"
    );
  }
  const count = Math.max(0, Math.ceil((end - start) / dt - 1e-9));
  if (count === 0) throw new L2InputError(series.source, 0, `empty window [${start}, ${end})`, "choose windowEnd > windowStart");
  const m = series.levels;
  const time = new Float64Array(count);
  const askPrice = new Float64Array(count * m);
  const askSize = new Float64Array(count * m);
  const bidPrice = new Float64Array(count * m);
  const bidSize = new Float64Array(count * m);
  let row = 0;
  for (let g = 0; g < count; g++) {
    const t = start + g * dt;
    while (row + 1 < series.rows && series.time[row + 1]! <= t) row++;
    time[g] = t;
    const from = row * m;
    askPrice.set(series.askPrice.subarray(from, from + m), g * m);
    askSize.set(series.askSize.subarray(from, from + m), g * m);
    bidPrice.set(series.bidPrice.subarray(from, from + m), g * m);
    bidSize.set(series.bidSize.subarray(from, from + m), g * m);
  }
  return { source: series.source, rows: count, levels: m, time, askPrice, askSize, bidPrice, bidSize };
};

/**
 * The window covering the last `seconds` of a session that ends at `sessionEnd` (default: the
 * last update time rounded up to a whole second), e.g. the last two hours = 7200.
 */
export const lastSecondsWindow = (
  series: SnapshotSeries,
  seconds: number,
  sessionEnd?: number
): { windowStart: number; windowEnd: number } => {
  const end = sessionEnd ?? Math.ceil(series.time[series.rows - 1]!);
  return { windowStart: Math.max(end - seconds, series.time[0]!), windowEnd: end };
};

/** The series with sizes divided by `volumeUnit` (raw volume per lot). */
export const toLots = (series: SnapshotSeries, volumeUnit: number): SnapshotSeries => {
  if (!(volumeUnit > 0)) {
    throw new L2InputError(series.source, 0, `volumeUnit = ${volumeUnit} is not positive`, "choose a positive volume unit");
  }
  const scale = (a: Float64Array) => a.map((v) => v / volumeUnit);
  return { ...series, askSize: scale(series.askSize), bidSize: scale(series.bidSize) };
};

/**
 * The series with prices in integer ticks (price / tick, rounded). Empty levels stay NaN. A price
 * further than 1e-6 tick from the grid is an error: the tick does not match the data.
 */
export const toTicks = (series: SnapshotSeries, tick: number): SnapshotSeries => {
  if (!(tick > 0)) throw new L2InputError(series.source, 0, `tick = ${tick} is not positive`, "choose a positive tick size");
  const m = series.levels;
  const convert = (prices: Float64Array): Float64Array => {
    const out = new Float64Array(prices.length);
    for (let i = 0; i < prices.length; i++) {
      const p = prices[i]!;
      if (Number.isNaN(p)) {
        out[i] = Number.NaN;
        continue;
      }
      const x = p / tick;
      const rounded = Math.round(x);
      if (Math.abs(x - rounded) > 1e-6 * Math.max(1, Math.abs(x)) + 1e-6) {
        throw new L2InputError(
          series.source,
          lineOf(series, Math.floor(i / m)),
          `price ${p} is not a multiple of the tick ${tick}`,
          "set tick to the data's price increment (inferTick finds it)"
        );
      }
      out[i] = rounded;
    }
    return out;
  };
  return { ...series, askPrice: convert(series.askPrice), bidPrice: convert(series.bidPrice) };
};

/**
 * The data's price increment: the smallest positive difference between distinct prices, rounded
 * to 10 significant digits (so that 0.01 read as 0.010000000000000009 is still 0.01).
 */
export const inferTick = (series: SnapshotSeries): number => {
  const all = new Float64Array(series.askPrice.length + series.bidPrice.length);
  let n = 0;
  for (const a of [series.askPrice, series.bidPrice]) for (const p of a) if (!Number.isNaN(p)) all[n++] = p;
  const prices = all.subarray(0, n).sort();
  let best = Infinity;
  const scale = Math.max(1, Math.abs(prices[n - 1] ?? 1));
  for (let i = 1; i < n; i++) {
    const d = prices[i]! - prices[i - 1]!;
    if (d > 1e-9 * scale && d < best) best = d;
  }
  if (!Number.isFinite(best)) {
    throw new L2InputError(series.source, 0, "all prices are equal, the tick cannot be inferred", "pass the tick explicitly");
  }
  return Number(best.toPrecision(10));
};

/**
 * Whether every snapshot of `series` is the same book (every price and size at every level). Such
 * data has no dynamics for an ECN model to learn: it comes from a stale feed, a halted session or
 * a window outside trading hours.
 */
export const bookNeverChanges = (series: SnapshotSeries): boolean => {
  const m = series.levels;
  const planes = [series.askPrice, series.askSize, series.bidPrice, series.bidSize];
  for (let r = 1; r < series.rows; r++) {
    for (const plane of planes) for (let k = 0; k < m; k++) if (plane[r * m + k] !== plane[k]) return false;
  }
  return true;
};
