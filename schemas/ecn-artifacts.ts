/**
 * Artifacts of the ECN-model stages (paper section 2.3), shared by every stage that reads them:
 * the level-2 snapshot series (an Arrow table t, ask_px_1..m, ask_sz_1..m, bid_px_1..m,
 * bid_sz_1..m, with its metadata) and the fitted vanilla mixture model as JSON. Codecs live here,
 * not in the stage that writes them, so a reader's fingerprint does not cover the writer's code.
 */
import * as arrow from "apache-arrow";
import { Schema } from "effect";
import type { SnapshotSeries } from "../core/ecn/snapshots.ts";
import { arrowTableCodec } from "../core/pipeline/codecs/arrow.ts";
import { compositeCodec } from "../core/pipeline/codecs/composite.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { EcnModel } from "./ecn.ts";

/** Metadata travelling with a snapshot series. */
export const L2Meta = Schema.Struct({
  /** One line saying which data this is, printed in run output and reports. */
  description: Schema.String,
  source: Schema.String,
  levels: Schema.Number,
  tick: Schema.NullOr(Schema.Number),
  volumeUnit: Schema.Number,
  /** Event-by-event order sizes (raw units) where the data has them (LOBSTER), else null. */
  rawOrderSizes: Schema.NullOr(Schema.Array(Schema.Number))
});
export type L2Meta = typeof L2Meta.Type;

export type L2Data = {
  readonly series: arrow.Table;
  readonly meta: L2Meta;
};

export const l2Codec = compositeCodec<L2Data>("l2-snapshots", { series: arrowTableCodec, meta: jsonCodec(L2Meta) });

const SIDES = ["ask_px", "ask_sz", "bid_px", "bid_sz"] as const;

/** Snapshot series as an Arrow table: t, ask_px_1..m, ask_sz_1..m, bid_px_1..m, bid_sz_1..m. */
export const seriesToTable = (series: SnapshotSeries): arrow.Table => {
  const m = series.levels;
  const columns: Record<string, Float64Array> = { t: series.time };
  const sources = [series.askPrice, series.askSize, series.bidPrice, series.bidSize];
  SIDES.forEach((name, s) => {
    for (let j = 0; j < m; j++) {
      const column = new Float64Array(series.rows);
      for (let r = 0; r < series.rows; r++) column[r] = sources[s]![r * m + j]!;
      columns[`${name}_${j + 1}`] = column;
    }
  });
  return arrow.tableFromArrays(columns);
};

export const tableToSeries = (table: arrow.Table, source: string, levels: number): SnapshotSeries => {
  const rows = table.numRows;
  const column = (name: string) => table.getChild(name)!.toArray() as Float64Array;
  const planes = SIDES.map((name) => {
    const out = new Float64Array(rows * levels);
    for (let j = 0; j < levels; j++) {
      const c = column(`${name}_${j + 1}`);
      for (let r = 0; r < rows; r++) out[r * levels + j] = c[r]!;
    }
    return out;
  });
  return { source, rows, levels, time: Float64Array.from(column("t")), askPrice: planes[0]!, askSize: planes[1]!, bidPrice: planes[2]!, bidSize: planes[3]! };
};

export const ecnModelCodec = jsonCodec(EcnModel);
