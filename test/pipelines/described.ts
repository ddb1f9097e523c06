/**
 * The check that an exported Parquet file describes itself: every column carries a unit and a
 * non-empty meaning, the file's key-value metadata lists them under `otc.columns`, and counts and
 * indices are integers.
 */
import { readFileSync } from "node:fs";
import { expect } from "vitest";
import { parquetToTable } from "../../core/pipeline/codecs/parquet.ts";

export const expectDescribed = (file: string, integers: readonly string[] = []): void => {
  const table = parquetToTable(readFileSync(file));
  const listed = JSON.parse(table.schema.metadata.get("otc.columns") ?? "{}") as Record<string, { unit: string; meaning: string }>;
  for (const field of table.schema.fields) {
    expect(listed[field.name]?.meaning, `${file}: ${field.name}`).toBeTruthy();
    expect(field.metadata.get("meaning"), `${file}: ${field.name}`).toBe(listed[field.name]!.meaning);
    expect(field.metadata.has("unit"), `${file}: ${field.name}`).toBe(true);
  }
  for (const name of integers) expect(String(table.schema.fields.find((f) => f.name === name)?.type), `${file}: ${name}`).toBe("Int32");
};
