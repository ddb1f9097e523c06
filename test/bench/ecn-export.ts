/**
 * Exports the ECN model samples (S0 and S, chronological 70/15/15 split) of the AMZN and GOOG
 * LOBSTER samples, last two hours at dt = 1 s, volumes in lots of 100 shares, to CSV files in
 * /tmp/ecn-bench (or the directory given as first argument), for `ecn-sklearn.py` to fit with
 * scikit-learn on exactly the data our EM sees. Usage: node --import tsx test/bench/ecn-export.ts
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readLobsterZip } from "../../core/ecn/lobster.ts";
import { prepareLobsterInput } from "../../core/ecn/model.ts";
import { buildSamples, chronologicalSplit, type EcnSamples } from "../../core/ecn/samples.ts";
import { toLots, toTicks } from "../../core/ecn/snapshots.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
export const dataDir = path.resolve(here, "../..", "../shared/data");
export const TICKERS = ["AMZN", "GOOG"] as const;
export const VOLUME_UNIT = 100;

export const zipPath = (ticker: string) => path.join(dataDir, `lobster/LOBSTER_SampleFile_${ticker}_2012-06-21_5.zip`);

/** S0 and S samples of one ticker, as the model builds them. */
export const tickerSamples = (ticker: string): EcnSamples => {
  const input = prepareLobsterInput(readLobsterZip(zipPath(ticker)));
  return buildSamples(toTicks(toLots(input.series, VOLUME_UNIT), input.tick));
};

const toCsv = (data: Float64Array, dim: number, [from, to]: readonly [number, number]): string => {
  const lines: string[] = [];
  for (let i = from; i < to; i++) lines.push(Array.from(data.subarray(i * dim, (i + 1) * dim), (v) => String(v)).join(","));
  return lines.join("\n") + "\n";
};

export const exportSamples = (outDir: string): string[] => {
  mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  for (const ticker of TICKERS) {
    if (!existsSync(zipPath(ticker))) continue;
    const samples = tickerSamples(ticker);
    const m = samples.levels;
    for (const [name, data, count, dim] of [
      ["S0", samples.s0, samples.s0Count, 2 * m + 1],
      ["S", samples.s, samples.sCount, 2 * m + 2]
    ] as const) {
      const split = chronologicalSplit(count);
      for (const part of ["train", "validation", "test"] as const) {
        const file = path.join(outDir, `${ticker}_${name}_${part}.csv`);
        writeFileSync(file, toCsv(data, dim, split[part]));
        written.push(file);
      }
    }
  }
  return written;
};

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ?? "/tmp/ecn-bench";
  const files = exportSamples(out);
  console.log(JSON.stringify({ outDir: out, files: files.length }));
}
