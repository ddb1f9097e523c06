/**
 * Parquet codec for tables (ARCHITECTURE section 4, "Artifacts"): the export format of tables, so
 * that DuckDB, pandas and Polars open pipeline outputs directly. It goes through parquet-wasm (the
 * Rust arrow/parquet crates compiled to WebAssembly) with zstd compression; the Arrow schema is
 * embedded in the file, so column types survive a round trip. parquet-wasm's Node build is a
 * CommonJS module that instantiates its WebAssembly synchronously on require, so it is loaded with
 * `createRequire` and needs no async initialisation (its ESM build would).
 */
import { createRequire } from "node:module";
import { tableFromIPC, tableToIPC, type Table } from "apache-arrow";
import type * as ParquetWasm from "parquet-wasm/node";
import type { Codec } from "./codec.ts";
import { CodecError } from "./errors.ts";

let loaded: typeof ParquetWasm | undefined;
/** Loaded on first use, so importing this module costs nothing until a Parquet file is written or read. */
const parquetWasm = (): typeof ParquetWasm => {
  loaded ??= createRequire(import.meta.url)("parquet-wasm/node") as typeof ParquetWasm;
  return loaded;
};

/**
 * Parquet bytes (zstd-compressed) of an Arrow table. The table's schema metadata (e.g. column
 * descriptions) also goes into the file's key-value metadata, where tools that do not decode the
 * embedded Arrow schema (DuckDB's `parquet_kv_metadata`) find it.
 */
export const tableToParquet = (table: Table): Uint8Array => {
  const wasm = parquetWasm();
  // writeParquet consumes (frees) both the WebAssembly table and the properties.
  const wasmTable = wasm.Table.fromIPCStream(tableToIPC(table, "stream"));
  let builder = new wasm.WriterPropertiesBuilder().setCompression(wasm.Compression.ZSTD);
  if (table.schema.metadata.size > 0) builder = builder.setKeyValueMetadata(new Map(table.schema.metadata));
  const properties = builder.build();
  return wasm.writeParquet(wasmTable, properties);
};

/** The Arrow table stored in Parquet bytes. Throws `CodecError` for bytes that are not Parquet. */
export const parquetToTable = (bytes: Uint8Array): Table => {
  let ipc: Uint8Array;
  try {
    ipc = parquetWasm().readParquet(bytes).intoIPCStream();
  } catch (cause) {
    throw new CodecError({ codec: "parquet", message: `These bytes are not a readable Parquet file (${String(cause)}); re-create the artifact.` });
  }
  return tableFromIPC(ipc);
};

export const parquetTableCodec: Codec<Table> = {
  name: "parquet",
  extension: "parquet",
  encode: tableToParquet,
  decode: parquetToTable
};
