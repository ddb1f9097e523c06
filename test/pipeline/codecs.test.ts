/**
 * Codecs (ARCHITECTURE section 4): every artifact type must come back from its bytes unchanged,
 * and Parquet exports must open in DuckDB with the same values.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bool, Field, Float32, Float64, Int32, List, Table, Utf8, vectorFromArray, type DataType } from "apache-arrow";
import { DuckDBInstance } from "@duckdb/node-api";
import { Schema } from "effect";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { arrowTableCodec } from "../../core/pipeline/codecs/arrow.ts";
import { CodecError } from "../../core/pipeline/codecs/errors.ts";
import { jsonCodec } from "../../core/pipeline/codecs/json.ts";
import { parquetTableCodec, parquetToTable, tableToParquet } from "../../core/pipeline/codecs/parquet.ts";
import { tensorBundleCodec, type TensorBundle } from "../../core/pipeline/codecs/tensor.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Row {
  readonly i32: number;
  readonly f32: number;
  readonly f64: number | null;
  readonly text: string | null;
  readonly flag: boolean;
  readonly list: number[];
}

const f32 = fc.float({ noDefaultInfinity: true, noNaN: true }).map(Math.fround);
const rowArb: fc.Arbitrary<Row> = fc.record({
  i32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  f32,
  f64: fc.option(fc.double({ noNaN: true }), { nil: null }),
  text: fc.option(fc.string({ unit: "binary", maxLength: 12 }), { nil: null }),
  flag: fc.boolean(),
  list: fc.array(f32, { maxLength: 5 })
}).map((row) => ({ ...row })); // plain objects (fc.record builds null-prototype ones)

const columnTypes: Record<keyof Row, DataType> = {
  i32: new Int32(),
  f32: new Float32(),
  f64: new Float64(),
  text: new Utf8(),
  flag: new Bool(),
  list: new List(new Field("item", new Float32(), true))
};

const toTable = (rows: readonly Row[]): Table => {
  const names = Object.keys(columnTypes) as Array<keyof Row>;
  return new Table(Object.fromEntries(names.map((name) => [name, vectorFromArray(rows.map((r) => r[name]), columnTypes[name])])));
};

/** Rows read back from a table as plain JS values, independent of how the table stores them. */
const rowsOf = (table: Table): Row[] =>
  Array.from({ length: table.numRows }, (_, i) => ({
    i32: table.getChild("i32")!.get(i) as number,
    f32: table.getChild("f32")!.get(i) as number,
    f64: table.getChild("f64")!.get(i) as number | null,
    text: table.getChild("text")!.get(i) as string | null,
    flag: table.getChild("flag")!.get(i) as boolean,
    list: [...(table.getChild("list")!.get(i) as Iterable<number>)]
  }));

const typesOf = (table: Table) => table.schema.fields.map((f) => `${f.name}:${String(f.type)}`);

describe.each([
  ["arrow", arrowTableCodec],
  ["parquet", parquetTableCodec]
])("%s table codec", (_, codec) => {
  it("round-trips int32, float32, float64, utf8, bool and List<Float32> columns", () => {
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 40 }), (rows) => {
        const table = toTable(rows);
        const back = codec.decode(codec.encode(table));
        expect(typesOf(back)).toEqual(typesOf(table));
        // Object.is-based equality keeps -0 distinct from 0.
        expect(rowsOf(back)).toStrictEqual(rows);
      }),
      { numRuns: 25 }
    );
  });

  it("throws a CodecError for bytes that are not a table", () => {
    expect(() => codec.decode(new TextEncoder().encode("definitely not a table"))).toThrow(CodecError);
  });
});

describe("parquet export", () => {
  it("is readable by DuckDB with the same values", async () => {
    const rows = fc.sample(rowArb, { numRuns: 200, seed: 7 });
    const dir = mkdtempSync(join(tmpdir(), "parquet-duckdb-"));
    dirs.push(dir);
    const file = join(dir, "rows.parquet");
    writeFileSync(file, tableToParquet(toTable(rows)));
    expect(rowsOf(parquetToTable(tableToParquet(toTable(rows))))).toStrictEqual(rows);

    const instance = await DuckDBInstance.create(":memory:");
    const connection = await instance.connect();
    try {
      const reader = await connection.runAndReadAll(`select i32, f32, f64, text, flag, list from read_parquet('${file.replace(/'/g, "''")}')`);
      const read = reader.getRowsJS();
      expect(read).toHaveLength(rows.length);
      read.forEach((r, i) => {
        const expected = rows[i]!;
        expect(r[0], `row ${i} i32`).toBe(expected.i32);
        // DuckDB widens FLOAT to a JS double: the same value as the float32 we stored.
        expect(r[1], `row ${i} f32`).toBe(expected.f32);
        expect(r[2], `row ${i} f64`).toBe(expected.f64);
        expect(r[3], `row ${i} text`).toBe(expected.text);
        expect(r[4], `row ${i} flag`).toBe(expected.flag);
        expect(r[5], `row ${i} list`).toStrictEqual(expected.list);
      });
      const typeRows = (await connection.runAndReadAll(`select column_name, column_type from (describe select * from read_parquet('${file}'))`)).getRowsJS();
      expect(Object.fromEntries(typeRows.map(([n, t]) => [n, t]))).toEqual({
        i32: "INTEGER",
        f32: "FLOAT",
        f64: "DOUBLE",
        text: "VARCHAR",
        flag: "BOOLEAN",
        list: "FLOAT[]"
      });
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});

const bundleArb: fc.Arbitrary<TensorBundle> = fc
  .dictionary(
    fc.string({ minLength: 1, maxLength: 8 }),
    fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }).chain((shape) => {
      const n = shape.reduce((a, b) => a * b, 1);
      return fc.array(fc.float({ noDefaultInfinity: false }), { minLength: n, maxLength: n }).map((values) => ({ shape, data: Float32Array.from(values) }));
    }),
    { maxKeys: 6 }
  );

describe("tensor bundle codec", () => {
  it("round-trips names, shapes and float32 bits, decoding into views of the input buffer", () => {
    fc.assert(
      fc.property(bundleArb, (bundle) => {
        const bytes = tensorBundleCodec.encode(bundle);
        const back = tensorBundleCodec.decode(bytes);
        expect(Object.keys(back).sort()).toEqual(Object.keys(bundle).sort());
        for (const [name, tensor] of Object.entries(bundle)) {
          const got = back[name]!;
          expect(got.shape).toEqual(tensor.shape);
          // Compare bit patterns: NaN payloads and -0 must survive.
          expect(new Uint32Array(got.data.slice().buffer)).toEqual(new Uint32Array(tensor.data.slice().buffer));
          if (got.data.length > 0) expect(got.data.buffer).toBe(bytes.buffer);
        }
      }),
      { numRuns: 100 }
    );
  });

  it("lays out an 8-byte little-endian header length, a JSON header sorted by name, then 4-byte aligned data", () => {
    const bytes = tensorBundleCodec.encode({ zeta: { shape: [2], data: new Float32Array([1, 2]) }, alpha: { shape: [1, 1], data: new Float32Array([3]) } });
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headerLength = Number(view.getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as { tensors: Array<{ name: string; offset: number }> };
    expect(header.tensors.map((t) => t.name)).toEqual(["alpha", "zeta"]);
    const dataStart = 8 + headerLength;
    expect(dataStart % 4).toBe(0);
    const zeta = header.tensors[1]!;
    expect(view.getFloat32(dataStart + zeta.offset, true)).toBe(1);
    expect(view.getFloat32(dataStart + zeta.offset + 4, true)).toBe(2);
    expect(bytes.byteLength).toBe(dataStart + 12);
  });

  it("encodes equal bundles to identical bytes whatever the key order", () => {
    const a = { x: { shape: [2], data: new Float32Array([1, 2]) }, y: { shape: [0], data: new Float32Array(0) } };
    const b = { y: a.y, x: a.x };
    expect(tensorBundleCodec.encode(b)).toEqual(tensorBundleCodec.encode(a));
  });

  it("decodes correctly from a misaligned buffer (by copying)", () => {
    const bytes = tensorBundleCodec.encode({ w: { shape: [3], data: new Float32Array([0.5, -1, 7]) } });
    const shifted = new Uint8Array(bytes.byteLength + 1);
    shifted.set(bytes, 1);
    expect([...tensorBundleCodec.decode(shifted.subarray(1))["w"]!.data]).toEqual([0.5, -1, 7]);
  });

  it("rejects a shape that does not match the data, and truncated bytes, with CodecError", () => {
    expect(() => tensorBundleCodec.encode({ w: { shape: [2, 2], data: new Float32Array(3) } })).toThrow(CodecError);
    const bytes = tensorBundleCodec.encode({ w: { shape: [4], data: new Float32Array(4) } });
    expect(() => tensorBundleCodec.decode(bytes.subarray(0, bytes.byteLength - 1))).toThrow(CodecError);
    expect(() => tensorBundleCodec.decode(bytes.subarray(0, 5))).toThrow(CodecError);
  });
});

describe("json codec", () => {
  const Summary = Schema.Struct({
    name: Schema.String,
    values: Schema.Array(Schema.Number),
    when: Schema.Date,
    nested: Schema.Struct({ ok: Schema.Boolean, count: Schema.Int })
  });
  const codec = jsonCodec(Summary);
  const summaryArb = fc.record({
    name: fc.string(),
    values: fc.array(fc.double({ noNaN: true, noDefaultInfinity: true })),
    when: fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }),
    nested: fc.record({ ok: fc.boolean(), count: fc.integer() }).map((n) => ({ ...n }))
  }).map((v) => ({ ...v }));

  it("round-trips values through their schema", () => {
    fc.assert(
      fc.property(summaryArb, (value) => {
        const back = codec.decode(codec.encode(value));
        expect(back.when.getTime()).toBe(value.when.getTime());
        expect({ ...back, when: 0, values: back.values.map((v) => v + 0) }).toStrictEqual({ ...value, when: 0, values: value.values.map((v) => v + 0) });
      }),
      { numRuns: 100 }
    );
  });

  it("writes canonical JSON: equal values give identical bytes whatever their key order", () => {
    const when = new Date(1_700_000_000_000);
    const a = codec.encode({ name: "x", values: [1.5], when, nested: { ok: true, count: 2 } });
    const b = codec.encode({ nested: { count: 2, ok: true }, when, values: [1.5], name: "x" });
    expect(b).toEqual(a);
  });

  it("throws a tagged CodecError for data that does not match the schema or is not JSON", () => {
    const bad = [new TextEncoder().encode('{"name":1}'), new TextEncoder().encode("{nope"), new Uint8Array([0xff, 0xfe])];
    for (const bytes of bad) {
      let caught: unknown;
      try {
        codec.decode(bytes);
      } catch (e) {
        caught = e;
      }
      expect((caught as CodecError)._tag).toBe("CodecError");
    }
  });
});
