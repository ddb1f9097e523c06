/**
 * Self-describing tables (the exports users open in DuckDB or pandas): every column gets its unit
 * and meaning as Arrow field metadata, and the table's key-value metadata holds them all under
 * `otc.columns` (Parquet exports copy it to the file's key-value metadata, where DuckDB's
 * `parquet_kv_metadata` reads it), beside whatever else the producer adds (`about`). Columns are
 * described by rules: an exact name or a pattern over families of names (`flow_<class>`,
 * `<metric>Mean`), the first rule that matches wins.
 */
import * as arrow from "apache-arrow";

export interface ColumnMeaning {
  readonly unit: string;
  readonly meaning: string;
  /** A count or index held as a float in memory: exported as a 32-bit integer (NaN as null). */
  readonly integer?: boolean;
}

export type ColumnRule = readonly [name: string | RegExp, describe: ColumnMeaning | ((match: RegExpExecArray) => ColumnMeaning)];

/** A column no rule describes: a producer that adds one must say what it is. */
export class UndescribedColumnError extends Error {
  readonly _tag = "UndescribedColumnError";
  constructor(column: string) {
    super(`Column "${column}" has no description; add a rule for it.`);
  }
}

const wholeName = (pattern: string | RegExp): RegExp =>
  new RegExp(`^(?:${typeof pattern === "string" ? pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : pattern.source})$`);

const meaningOf = (name: string, rules: readonly ColumnRule[]): ColumnMeaning => {
  for (const [pattern, describe] of rules) {
    const match = wholeName(pattern).exec(name);
    if (match !== null) return typeof describe === "function" ? describe(match) : describe;
  }
  throw new UndescribedColumnError(name);
};

/** `table` with every column described by `rules` (an undescribed column is an error) and `about` in its metadata. */
export const describedTable = (table: arrow.Table, rules: readonly ColumnRule[], about: Readonly<Record<string, string>> = {}): arrow.Table => {
  const described = Object.fromEntries(table.schema.fields.map((f) => [f.name, meaningOf(f.name, rules)]));
  const listed = Object.fromEntries(Object.entries(described).map(([name, d]) => [name, { unit: d.unit, meaning: d.meaning }]));
  const columns = Object.fromEntries(
    table.schema.fields.map((f) => {
      const column = table.getChild(f.name)!;
      if (described[f.name]!.integer !== true || !arrow.DataType.isFloat(f.type)) return [f.name, column];
      const values = Array.from(column.toArray() as ArrayLike<number>, (v) => (Number.isFinite(v) ? v : null));
      return [f.name, arrow.vectorFromArray(values, new arrow.Int32())];
    })
  );
  const plain = new arrow.Table(columns);
  const fields = plain.schema.fields.map((f) => f.clone({ metadata: new Map([["unit", described[f.name]!.unit], ["meaning", described[f.name]!.meaning]]) }));
  const schema = new arrow.Schema(fields, new Map([...table.schema.metadata, ["otc.columns", JSON.stringify(listed)], ...Object.entries(about)]));
  return new arrow.Table(schema, plain.batches.map((b) => new arrow.RecordBatch(schema, b.data)));
};
