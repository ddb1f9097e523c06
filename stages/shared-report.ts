/**
 * Stage `shared-report` (paper section 3.1): the shared policy's reward over training per
 * supertype, the empirical check of extended transitivity (is the curve monotone or cyclic,
 * counted as sign changes of a smoothed slope), with the exploitability estimate, as HTML, a
 * Parquet table of the training rows and a JSON summary.
 */
import { stoppingSection } from "../core/analysis/stopping.ts";
import { stoppingSummary, StoppingSummary } from "../schemas/stopping.ts";
import * as arrow from "apache-arrow";
import { Effect, Schema } from "effect";
import { htmlReport, renderSvg, type VegaLiteSpec } from "../core/analysis/report.ts";
import { slopeSignChanges } from "../core/rl/exploitability.ts";
import type { SharedIterationRow } from "../core/rl/shared-loop.ts";
import { tableToParquet } from "../core/pipeline/codecs/parquet.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { describedTable } from "../schemas/described-table.ts";
import { SHARED_TRAINING_COLUMNS } from "../schemas/export-columns.ts";
import { tableReportCodec, type TableReport } from "../schemas/report-codec.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { ExploitabilitySummary, rowsOfShared, sharedLoopStateCodec } from "../schemas/shared-training.ts";

const PositiveInt = Schema.Int.pipe(Schema.positive());
const opt = <A, I>(schema: Schema.Schema<A, I>, value: A) => Schema.optionalWith(schema, { default: () => value });

export const SharedReportParams = Schema.Struct({
  smoothing: opt(PositiveInt, 10).annotations({ description: "Width (iterations) of the moving average the slope is taken on." }),
  flatTolerance: opt(Schema.Number.pipe(Schema.nonNegative()), 0.001).annotations({ description: "Slopes smaller than this fraction of the curve's range per iteration count as flat." })
});

export const SharedReportSummary = Schema.Struct({
  iterations: Schema.Number,
  series: Schema.propertySignature(Schema.Record({ key: Schema.String, value: Schema.Struct({ last: Schema.Number, signChanges: Schema.Number, monotone: Schema.Boolean }) })).annotations({ description: "Per reward series: last smoothed value and number of sign changes of the smoothed slope." }),
  stopping: Schema.propertySignature(StoppingSummary).annotations({ description: "Why training stopped where it did, with the stopping rule's last check." })
});
export type SharedReportSummary = typeof SharedReportSummary.Type;

export type SharedReport = TableReport<SharedReportSummary>;
export const sharedReportCodec = tableReportCodec("shared-report", SharedReportSummary);

export const rowsTable = (rows: readonly SharedIterationRow[]): arrow.Table => {
  const keys = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) keys.add(k);
  const columns: Record<string, Float64Array> = {};
  for (const k of [...keys].sort()) columns[k] = Float64Array.from(rows, (r) => r[k] ?? Number.NaN);
  return arrow.tableFromArrays(columns);
};

export const sharedReport = Stage.make({
  name: "shared-report",
  description: "shared-policy reward over training per supertype; monotone or cyclic (section 3.1)",
  source: import.meta.url,
  params: SharedReportParams,
  inputs: { shared: sharedLoopStateCodec, exploitability: jsonCodec(ExploitabilitySummary) },
  output: sharedReportCodec,
  exports: [
    { name: "report", extension: "html", encode: (value: SharedReport) => new TextEncoder().encode(value.html) },
    { name: "iterations", extension: "parquet", encode: (value: SharedReport) => tableToParquet(describedTable(value.table, SHARED_TRAINING_COLUMNS)) },
    { name: "summary", extension: "json", encode: (value: SharedReport) => new TextEncoder().encode(JSON.stringify(value.summary, null, 2)) }
  ],
  run: (inputs, p) =>
    Effect.gen(function* () {
      const rows = rowsOfShared(inputs.shared);
      const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) => k.startsWith("rewards/") || k.endsWith("/charts/episode_reward_mean")).sort();
      const series: Record<string, { last: number; signChanges: number; monotone: boolean }> = {};
      const values: Array<{ iteration: number; value: number; series: string }> = [];
      for (const key of keys) {
        const y = Float64Array.from(rows, (r) => r[key] ?? Number.NaN);
        const analysis = slopeSignChanges(y, p.smoothing, p.flatTolerance);
        series[key] = { last: analysis.smoothed[analysis.smoothed.length - 1] ?? Number.NaN, signChanges: analysis.signChanges, monotone: analysis.signChanges === 0 };
        rows.forEach((r, i) => {
          const v = analysis.smoothed[i];
          if (v !== undefined && Number.isFinite(v)) values.push({ iteration: r["iteration"]!, value: v, series: key });
        });
      }
      const spec = {
        $schema: "https://vega.github.io/schema/vega-lite/v6.json",
        title: `Episode reward over training (moving average of ${p.smoothing})`,
        width: 520,
        height: 260,
        data: { values },
        mark: "line",
        encoding: {
          x: { field: "iteration", type: "quantitative", title: "training iteration" },
          y: { field: "value", type: "quantitative", title: "mean episode reward" },
          color: { field: "series", type: "nominal" }
        }
      } as VegaLiteSpec;
      const svg = yield* Effect.promise(() => renderSvg(spec));
      const ex = inputs.exploitability;
      const html = htmlReport(
        "Shared-policy training diagnostics",
        "Section 3.1: the shared policy's reward over training should rise monotonically (extended transitivity), not cycle; the exploitability estimate is the gain of one agent fine-tuned against the frozen shared policy.",
        [
          { heading: "Reward over training", svgs: [svg] },
          {
            heading: "Monotone or cyclic",
            table: { columns: ["series", "last (smoothed)", "slope sign changes", "monotone"], rows: Object.entries(series).map(([k, s]) => [k, s.last, s.signChanges, s.monotone]) }
          },
          stoppingSection([["train-shared", inputs.shared.stopping]], "each learning class's mean episode reward"),
          {
            heading: "Exploitability",
            table: {
              columns: ["class", "agent", "gain", "std error", "baseline reward", "deviator reward", "episodes"],
              rows: [[ex.agentClass, ex.agent, ex.gain, ex.gainStdError, ex.baselineReward, ex.deviatorReward, ex.episodes]]
            }
          }
        ]
      );
      return { html, table: rowsTable(rows), summary: { iterations: rows.length, series, stopping: stoppingSummary(inputs.shared.stopping) } };
    })
});
