/**
 * The OTC env's step record as a self-describing Arrow table (what `episode-records` stores and
 * exports as Parquet): coded columns dictionary-encoded with their labels, integer columns as
 * integers, the LP actions and the LT action in columns of their own, each field carrying its unit
 * and meaning in its Arrow metadata, and the same descriptions (plus the stage's params and seed)
 * in the table's metadata, which the Parquet file keeps as key-value metadata for DuckDB's
 * `parquet_kv_metadata`. `stepRecordFromTable` reads such a table back into the env's record, so
 * the analyses written for the env's typed arrays run on a stored or exported table.
 */
import * as arrow from "apache-arrow";
import type { OtcStepRecord } from "../core/otc/env.ts";
import {
  AGENT_CLASS_COLUMN,
  agentClassCode,
  agentClassLabel,
  COUNTERPARTY_COLUMN,
  counterpartyCode,
  counterpartyLabel,
  LP_ACTION_COLUMNS,
  LT_ACTION_COLUMN,
  ltActionCode,
  ltActionLabel,
  NUMERIC_RECORD_COLUMNS,
  type RecordColumn
} from "../core/otc/record-columns.ts";
import { CLASS_LP, COUNTERPARTY_NONE } from "../core/otc/env.ts";

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

/** Raised when a table is not a step record this module wrote: a column missing, of the wrong length, or a label it never writes. */
export class StepRecordTableError extends Error {
  readonly _tag = "StepRecordTableError";
  constructor(detail: string) {
    super(`Not an OTC step-record table: ${detail}; pass the table \`episode-records\` stores (or its Parquet export read back with the same columns).`);
  }
}

/** The env's step record from a table `stepRecordTable` wrote: the inverse of that function, code for label and null for NaN. */
export const stepRecordFromTable = (table: arrow.Table): OtcStepRecord => {
  const rows = table.numRows;
  const child = (name: string) => {
    const column = table.getChild(name);
    if (column === null) throw new StepRecordTableError(`it has no column "${name}"`);
    return column;
  };
  const numbers = <A extends Int32Array | Float32Array | Float64Array>(name: string, make: (n: number) => A, missing: number): A => {
    const column = child(name);
    const out = make(rows);
    if (column.nullCount === 0) {
      out.set(column.toArray() as ArrayLike<number>);
      return out;
    }
    for (let r = 0; r < rows; r++) {
      const v: unknown = column.get(r);
      out[r] = v === null ? missing : Number(v);
    }
    return out;
  };
  const codes = (name: string, decode: (label: string) => number | undefined, missing: number): Int32Array => {
    const column = child(name);
    const out = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      const label: unknown = column.get(r);
      if (label === null) {
        out[r] = missing;
        continue;
      }
      const code = decode(String(label));
      if (code === undefined) throw new StepRecordTableError(`row ${r} of "${name}" holds "${String(label)}"`);
      out[r] = code;
    }
    return out;
  };
  const f64 = (n: number) => new Float64Array(n);
  const i32 = (n: number) => new Int32Array(n);
  const f32 = (n: number) => new Float32Array(n);
  const column = (source: keyof typeof NUMERIC_RECORD_COLUMNS) => NUMERIC_RECORD_COLUMNS[source].name;
  const integer = (source: "episode" | "t" | "agent" | "supertype" | "ltTrades") => numbers(column(source), i32, 0);
  const real = (source: Exclude<keyof typeof NUMERIC_RECORD_COLUMNS, "episode" | "t" | "agent" | "supertype" | "ltTrades">) => numbers(column(source), f64, Number.NaN);
  const agentClass = Uint8Array.from(codes(AGENT_CLASS_COLUMN.name, agentClassCode, -1), (code, r) => {
    if (code < 0) throw new StepRecordTableError(`row ${r} has no agent class`);
    return code;
  });
  const [lpSpread, lpSkew, lpHedge] = LP_ACTION_COLUMNS.map((c) => numbers(c.name, f32, Number.NaN)) as [Float32Array, Float32Array, Float32Array];
  const ltAction = codes(LT_ACTION_COLUMN.name, ltActionCode, -1);
  // An LT's action index lives in action0, as in the env; its other two action entries are NaN.
  const action0 = Float32Array.from(lpSpread, (v, r) => (agentClass[r] === CLASS_LP ? v : ltAction[r]!));
  return {
    rows,
    episode: integer("episode"),
    t: integer("t"),
    agent: integer("agent"),
    agentClass,
    supertype: integer("supertype"),
    action0,
    action1: lpSkew,
    action2: lpHedge,
    mid: real("mid"),
    quoteAsk: real("quoteAsk"),
    quoteBid: real("quoteBid"),
    ltTrades: integer("ltTrades"),
    ltBuyQty: real("ltBuyQty"),
    ltSellQty: real("ltSellQty"),
    ecnBuyQty: real("ecnBuyQty"),
    ecnSellQty: real("ecnSellQty"),
    counterparty: codes(COUNTERPARTY_COLUMN.name, counterpartyCode, COUNTERPARTY_NONE),
    decisionPrice: real("decisionPrice"),
    tradePrice: real("tradePrice"),
    inventory: real("inventory"),
    cash: real("cash"),
    pnlInventory: real("pnlInventory"),
    pnlSpread: real("pnlSpread"),
    reward: real("reward"),
    marketShare: real("marketShare"),
    midNext: real("midNext")
  };
};
