/**
 * The OTC env's step record as a self-describing Arrow table (what `episode-records` stores and
 * exports as Parquet): coded columns dictionary-encoded with their labels, integer columns as
 * integers, the LP actions and the LT action in columns of their own, each field carrying its unit
 * and meaning in its Arrow metadata, and the same descriptions (plus the stage's params and seed)
 * in the table's metadata, which the Parquet file keeps as key-value metadata for DuckDB's
 * `parquet_kv_metadata`.
 */
import * as arrow from "apache-arrow";
import type { OtcStepRecord } from "../core/otc/env.ts";
import {
  AGENT_CLASS_COLUMN,
  agentClassLabel,
  COUNTERPARTY_COLUMN,
  counterpartyLabel,
  LP_ACTION_COLUMNS,
  LT_ACTION_COLUMN,
  ltActionLabel,
  NUMERIC_RECORD_COLUMNS,
  type RecordColumn
} from "../core/otc/record-columns.ts";
import { CLASS_LP } from "../core/otc/env.ts";

const fieldMetadata = (c: RecordColumn) => new Map([["unit", c.unit], ["meaning", c.meaning]]);

/**
 * A dictionary column of the labels of `codes` (null where `present` says so). The dictionary id
 * is given: Arrow JS otherwise numbers dictionaries from a process-wide counter, so the same table
 * would serialise to different bytes depending on what the process built before.
 */
const labelled = (codes: ArrayLike<number>, label: (code: number) => string, present: (row: number) => boolean, dictionaryId: number): arrow.Vector => {
  const values: (string | null)[] = Array.from({ length: codes.length }, (_, r) => (present(r) ? label(codes[r]!) : null));
  return arrow.vectorFromArray(values, new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32(), dictionaryId));
};

/** Float32 values where `present`, null elsewhere. */
const where = (values: Float32Array, present: (row: number) => boolean): arrow.Vector =>
  arrow.vectorFromArray(Array.from(values, (v, r) => (present(r) ? v : null)), new arrow.Float32());

export const stepRecordTable = (record: OtcStepRecord, about: Readonly<Record<string, string>> = {}): arrow.Table => {
  const isLp = (r: number) => record.agentClass[r] === CLASS_LP;
  const isLt = (r: number) => !isLp(r);
  const columns: [RecordColumn, arrow.Vector][] = [];
  for (const [source, column] of Object.entries(NUMERIC_RECORD_COLUMNS) as [keyof typeof NUMERIC_RECORD_COLUMNS, RecordColumn][]) {
    columns.push([column, arrow.makeVector(record[source])]);
    if (source === "supertype") {
      columns.push([AGENT_CLASS_COLUMN, labelled(record.agentClass, agentClassLabel, () => true, 0)]);
      LP_ACTION_COLUMNS.forEach((c, k) => columns.push([c, where([record.action0, record.action1, record.action2][k]!, isLp)]));
      columns.push([LT_ACTION_COLUMN, labelled(record.action0, ltActionLabel, isLt, 1)]);
    }
    if (source === "ecnSellQty") columns.push([COUNTERPARTY_COLUMN, labelled(record.counterparty, counterpartyLabel, isLt, 2)]);
  }
  const fields = columns.map(([c, v]) => new arrow.Field(c.name, v.type, true, fieldMetadata(c)));
  const descriptions = Object.fromEntries(columns.map(([c]) => [c.name, { unit: c.unit, meaning: c.meaning }]));
  const schema = new arrow.Schema(fields, new Map([["otc.columns", JSON.stringify(descriptions)], ...Object.entries(about)]));
  const data = arrow.makeData({ type: new arrow.Struct(fields), length: record.rows, nullCount: 0, children: columns.map(([, v]) => v.data[0]!) });
  return new arrow.Table([new arrow.RecordBatch(schema, data)]);
};
