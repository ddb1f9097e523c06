/**
 * Stages of the ECN model (paper section 2.3): `load-l2` reads or generates the
 * level-2 snapshot series, resampled to dt, as an Arrow table; `fit-ecn-gmm` fits the vanilla
 * Gaussian-mixture model and its long-range theory; `ecn-report` writes the fitted-vs-empirical
 * report. Thin wrappers: the work is in core/ecn.
 */
import { dirname, basename, join } from "node:path";
import { existsSync } from "node:fs";
import { Effect } from "effect";
import { tableToParquet } from "../core/pipeline/codecs/parquet.ts";
import { describedTable } from "../schemas/described-table.ts";
import { SNAPSHOT_COLUMNS } from "../schemas/export-columns.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { fitEcnModel } from "../core/ecn/model.ts";
import { readLobsterCsvPair, readLobsterZip } from "../core/ecn/lobster.ts";
import { orderSizesFromMessages } from "../core/ecn/samples.ts";
import { bookNeverChanges, lastSecondsWindow, lobsterSnapshots, readSnapshotCsv, resample, type SnapshotSeries } from "../core/ecn/snapshots.ts";
import { L2InputError } from "../core/ecn/errors.ts";
import { generateSyntheticL2 } from "../core/ecn/synthetic.ts";
import { EcnDataParams, EcnGmmParams, EcnModel } from "../schemas/ecn.ts";
import { ecnModelCodec, l2Codec, seriesToTable, tableToSeries, type L2Data } from "../schemas/ecn-artifacts.ts";

const lobsterFiles = (path: string): { zip?: string; messages?: string; orderbook?: string } => {
  if (path.endsWith(".zip")) return { zip: path };
  const orderbook = join(dirname(path), basename(path).replace("_message_", "_orderbook_"));
  return { messages: path, orderbook };
};

const TWO_HOURS = 7200;

export const loadL2 = Stage.make({
  name: "load-l2",
  description: "level-2 snapshots (synthetic, LOBSTER or CSV) resampled to dt",
  source: import.meta.url,
  params: EcnDataParams,
  inputs: {},
  output: l2Codec,
  exports: [{ name: "snapshots", extension: "parquet", encode: (value: L2Data) => tableToParquet(describedTable(value.series, SNAPSHOT_COLUMNS)) }],
  fileInputs: (p) => {
    if (p.source === "synthetic") return [];
    if (p.source === "csv") return [p.path];
    const files = lobsterFiles(p.path);
    return files.zip ? [files.zip] : [files.messages!, files.orderbook!];
  },
  run: (_inputs, p) =>
    Effect.gen(function* () {
      const rng = (yield* Rng).stream;
      return yield* Stage.attempt("load-l2", (): L2Data => {
        if (p.source === "synthetic") {
          const generated = generateSyntheticL2(rng, { rows: p.rows, dt: p.dt, ...(p.tick === null ? {} : { tick: p.tick }) });
          return {
            series: seriesToTable(generated.series),
            meta: {
              description: `synthetic level-2 data (embedded generator, ${p.rows} snapshots at dt = ${p.dt} s, seeded)`,
              source: "synthetic",
              levels: generated.series.levels,
              tick: generated.tick,
              volumeUnit: generated.volumeUnit,
              rawOrderSizes: null
            }
          };
        }
        if (p.path === "") throw new Error(`ecn.data.path is empty; give the ${p.source} file with --set ecn.data.path=FILE`);
        if (!existsSync(p.path)) throw new Error(`ecn.data.path ${p.path} does not exist`);
        let raw: SnapshotSeries;
        let rawOrderSizes: Float64Array | null = null;
        let window: { windowStart: number; windowEnd: number };
        if (p.source === "lobster") {
          const files = lobsterFiles(p.path);
          const data = files.zip ? readLobsterZip(files.zip) : readLobsterCsvPair(files.messages!, files.orderbook!);
          raw = lobsterSnapshots(data);
          window = lastSecondsWindow(raw, TWO_HOURS, p.windowEnd ?? undefined);
          if (p.windowStart !== null) window = { ...window, windowStart: p.windowStart };
          rawOrderSizes = orderSizesFromMessages(data.messages, window.windowStart, window.windowEnd);
        } else {
          raw = readSnapshotCsv(p.path);
          window = lastSecondsWindow(raw, TWO_HOURS, p.windowEnd ?? undefined);
          if (p.windowStart !== null) window = { ...window, windowStart: p.windowStart };
        }
        const series = resample(raw, { dt: p.dt, ...window });
        if (bookNeverChanges(series)) {
          throw new L2InputError(
            p.path,
            0,
            `the book never changes in the window [${window.windowStart}, ${window.windowEnd}) s after midnight (all ${series.rows} snapshots at dt = ${p.dt} s are the same)`,
            "the ECN model learns how the book moves, so it needs snapshots that differ; pick a window where the market trades (--set ecn.data.windowStart=S --set ecn.data.windowEnd=E, seconds after midnight) or check the data"
          );
        }
        return {
          series: seriesToTable(series),
          meta: {
            description: `${p.source} data from ${p.path}, window [${window.windowStart}, ${window.windowEnd}) s after midnight, ${series.rows} snapshots at dt = ${p.dt} s`,
            source: p.path,
            levels: series.levels,
            tick: p.tick,
            volumeUnit: p.volumeUnit,
            rawOrderSizes: rawOrderSizes === null ? null : Array.from(rawOrderSizes)
          }
        };
      });
    })
});

export const fitEcnGmm = Stage.make({
  name: "fit-ecn-gmm",
  description: "Gaussian mixtures of S0 and S by EM, alpha, order sizes, long-range theory",
  source: import.meta.url,
  params: EcnGmmParams,
  inputs: { l2: l2Codec },
  output: ecnModelCodec,
  run: (inputs, p) =>
    Effect.gen(function* () {
      const rng = (yield* Rng).stream;
      yield* Effect.log(`fitting the ECN model on ${inputs.l2.meta.description}`);
      return yield* Stage.attempt("fit-ecn-gmm", (): EcnModel => {
        const { meta } = inputs.l2;
        const series = tableToSeries(inputs.l2.series, meta.source, meta.levels);
        const fitted = fitEcnModel(
          series,
          {
            nComponents: p.nComponents,
            nInit: p.nInit,
            regCovar: p.regCovar,
            tol: p.tol,
            maxIter: p.maxIter,
            depthCalibration: p.depthCalibration,
            volumeUnit: meta.volumeUnit,
            ...(meta.tick === null ? {} : { tick: meta.tick }),
            ...(meta.rawOrderSizes === null ? {} : { rawOrderSizes: Float64Array.from(meta.rawOrderSizes) })
          },
          rng
        );
        return { ...fitted, alphaFitted: Number.isFinite(fitted.alphaFitted) ? fitted.alphaFitted : null, data: meta.description };
      });
    })
});
