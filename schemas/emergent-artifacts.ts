/**
 * Artifacts of the emergent-behaviour stages (paper sections 3.2 and 5.2), read by the stage that
 * writes them and by `emergent-report`: the evaluation tables of `evaluate-emergent` (Arrow, one
 * per metric family) and the loop state of a figure 6 game (the shared-policy state, plain data,
 * with the Hamiltonian weights logged so far).
 */
import * as arrow from "apache-arrow";
import type { Columns } from "../core/analysis/emergent-eval.ts";
import type { GameWeightRow } from "../core/analysis/game-analysis.ts";
import type { SharedLoopState } from "../core/rl/shared-loop.ts";
import { arrowTableCodec } from "../core/pipeline/codecs/arrow.ts";
import { compositeCodec } from "../core/pipeline/codecs/composite.ts";
import { structuredCodec } from "../core/pipeline/codecs/structured.ts";

export type EmergentTables = {
  episodes: arrow.Table;
  values: arrow.Table;
  flowResponse: arrow.Table;
  holding: arrow.Table;
  skewPoints: arrow.Table;
  pnlLtFlow: arrow.Table;
};

export const emergentTablesCodec = compositeCodec<EmergentTables>("emergent-tables", {
  episodes: arrowTableCodec,
  values: arrowTableCodec,
  flowResponse: arrowTableCodec,
  holding: arrowTableCodec,
  skewPoints: arrowTableCodec,
  pnlLtFlow: arrowTableCodec
});

export const toTable = (columns: Columns): arrow.Table => arrow.tableFromArrays(columns as Record<string, Float64Array | string[]>);

const stringColumn = (table: arrow.Table, name: string): string[] => {
  const vector = table.getChild(name);
  const out: string[] = [];
  if (vector === null) return out;
  for (let i = 0; i < vector.length; i++) out.push(String(vector.get(i)));
  return out;
};

/** Columns of a table, with string columns read value by value (dictionary-encoded or not). */
export const readColumns = (table: arrow.Table): Columns => {
  const out: Columns = {};
  for (const field of table.schema.fields) {
    out[field.name] =
      arrow.DataType.isUtf8(field.type) || arrow.DataType.isDictionary(field.type)
        ? stringColumn(table, field.name)
        : Float64Array.from(table.getChild(field.name)!.toArray() as ArrayLike<number>);
  }
  return out;
};

/** The state of a figure 6 game's loop: the shared-policy state and the Hamiltonian weights logged so far. */
export interface GameLoopState {
  readonly trainer: SharedLoopState;
  readonly weights: readonly GameWeightRow[];
}

const isGameCheckpoint = (value: unknown): value is GameLoopState => {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v["trainer"] === "object" && v["trainer"] !== null && Array.isArray(v["weights"]);
};

export const gameLoopStateCodec = { ...structuredCodec("emergent-game", isGameCheckpoint), name: "emergent-game-state" };
