/**
 * Store throughput (ARCHITECTURE section 3-4): write/read MB/s of a 1M-row, 10-column float64
 * table (80 MB of values) through Arrow IPC, Parquet (zstd) and the content-addressed store, with
 * plain fs.writeFile/readFile of the same bytes measured in the same run as the reference.
 * Prints one JSON object. Usage: node --import tsx test/bench/store.bench.ts [rows]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Table, makeVector } from "apache-arrow";
import { Random } from "../../core/random/philox.ts";
import { arrowTableCodec } from "../../core/pipeline/codecs/arrow.ts";
import { parquetTableCodec } from "../../core/pipeline/codecs/parquet.ts";
import { FsArtifactStore } from "../../core/pipeline/store.ts";

const rows = Number(process.argv[2] ?? 1_000_000);
const columns = 10;
const repeats = 3;
const rng = Random.fromSeed(20240601);
const table = new Table(
  Object.fromEntries(
    Array.from({ length: columns }, (_, c) => {
      const values = new Float64Array(rows);
      const stream = rng.split(`column-${c}`);
      // A random walk: realistic for prices and compressible like them, unlike white noise.
      let level = 100;
      for (let i = 0; i < rows; i++) values[i] = level += stream.normal() * 0.01;
      return [`c${c}`, makeVector(values)];
    })
  )
);
const logicalMB = (rows * columns * 8) / 1e6;

/** Best of `repeats` wall times in ms (the least disturbed by other load on the machine). */
const best = async <T>(run: () => T | Promise<T>): Promise<{ ms: number; value: T }> => {
  let ms = Number.POSITIVE_INFINITY;
  let value: T | undefined;
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    value = await run();
    ms = Math.min(ms, performance.now() - t);
  }
  return { ms, value: value as T };
};
const mbps = (mb: number, ms: number) => Math.round((mb / (ms / 1000)) * 10) / 10;

const dir = mkdtempSync(join(tmpdir(), "store-bench-"));
try {
  const arrowEncode = await best(() => arrowTableCodec.encode(table));
  const arrowBytes = arrowEncode.value;
  const arrowDecode = await best(() => arrowTableCodec.decode(arrowBytes));
  const parquetEncode = await best(() => parquetTableCodec.encode(table));
  const parquetBytes = parquetEncode.value;
  const parquetDecode = await best(() => parquetTableCodec.decode(parquetBytes));
  if (parquetDecode.value.numRows !== rows || arrowDecode.value.numRows !== rows) throw new Error("round trip lost rows");

  const rawPath = join(dir, "raw.arrow");
  let rawCounter = 0;
  const rawWrite = await best(() => writeFile(`${rawPath}.${rawCounter++}`, arrowBytes));
  const rawRead = await best(() => readFile(`${rawPath}.0`));

  // A fresh store per write so that putBlob really writes (it skips blobs already stored).
  let storeCounter = 0;
  const putBlob = await best(() => new FsArtifactStore(join(dir, `store-${storeCounter++}`)).putBlob(arrowBytes));
  const store = new FsArtifactStore(join(dir, "store-0"));
  const getBlob = await best(() => store.getBlob(putBlob.value));
  const endToEndWrite = await best(() => new FsArtifactStore(join(dir, `store-${storeCounter++}`)).putBlob(arrowTableCodec.encode(table)));
  const endToEndRead = await best(async () => arrowTableCodec.decode(await store.getBlob(putBlob.value)));

  console.log(
    JSON.stringify({
      rows,
      columns,
      logicalMB,
      arrowMB: Math.round(arrowBytes.byteLength / 1e4) / 100,
      parquetMB: Math.round(parquetBytes.byteLength / 1e4) / 100,
      parquetCompressionRatio: Math.round((arrowBytes.byteLength / parquetBytes.byteLength) * 100) / 100,
      mbPerSecond: {
        arrowEncode: mbps(logicalMB, arrowEncode.ms),
        arrowDecode: mbps(logicalMB, arrowDecode.ms),
        parquetEncode: mbps(logicalMB, parquetEncode.ms),
        parquetDecode: mbps(logicalMB, parquetDecode.ms),
        storePutBlob: mbps(logicalMB, putBlob.ms),
        storeGetBlob: mbps(logicalMB, getBlob.ms),
        rawFsWrite: mbps(logicalMB, rawWrite.ms),
        rawFsRead: mbps(logicalMB, rawRead.ms),
        tableToStore: mbps(logicalMB, endToEndWrite.ms),
        storeToTable: mbps(logicalMB, endToEndRead.ms)
      },
      ratios: {
        putBlobVsRawWrite: Math.round((rawWrite.ms / putBlob.ms) * 100) / 100,
        getBlobVsRawRead: Math.round((rawRead.ms / getBlob.ms) * 100) / 100,
        parquetVsArrowEncode: Math.round((arrowEncode.ms / parquetEncode.ms) * 100) / 100,
        parquetVsArrowDecode: Math.round((arrowDecode.ms / parquetDecode.ms) * 100) / 100
      },
      repeats,
      note: "MB/s of logical float64 data (rows*columns*8 bytes); best of repeats; store writes include sha256 + fsync + rename, reads include sha256 verification"
    })
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
