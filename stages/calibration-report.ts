/**
 * Stage `calibration-report` (paper figures 7, 8, 25-32): CALSHEQ against the BO
 * baseline over training: the calibrator reward, each target's observed value against its target,
 * the LP supertype rewards, and the calibrated parameters (mean and +-1 stDev band across
 * particles). Writes one HTML page, the per-iteration table of both methods (Parquet export), and
 * a summary of the last iterations that `pipeline show --json` prints.
 */
import * as arrow from "apache-arrow";
import { Effect, Schema } from "effect";
import { largestParameterMove } from "../core/analysis/parameter-moves.ts";
import { htmlReport, renderSvg, type VegaLiteSpec } from "../core/analysis/report.ts";
import { calibratorLabel } from "../core/calibration/calsheq.ts";
import { experimentDefinition, type ExperimentId } from "../core/calibration/experiments.ts";
import type { CalibrationLoopState, CalibrationTrainingParams, IterationRow } from "../core/calibration/loop.ts";
import { stoppingSection } from "../core/analysis/stopping.ts";
import { stoppingSummary, StoppingSummary } from "../schemas/stopping.ts";
import { arrowTableCodec } from "../core/pipeline/codecs/arrow.ts";
import { compositeCodec } from "../core/pipeline/codecs/composite.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { tableToParquet } from "../core/pipeline/codecs/parquet.ts";
import { textCodec } from "../core/pipeline/codecs/text.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { ReportParams } from "../schemas/calibration.ts";
import { calibrationReportCodec, CalibrationSummary, type CalibrationReport } from "../schemas/calibration-report.ts";
import { rowsOf, setupOf, trainingStateCodec } from "../schemas/calibration-artifacts.ts";

/** The paper's names of the summary figures and the row fields they come from. */
const summaryFields = (rows: readonly IterationRow[]): Array<[string, string]> => {
  const fields: Array<[string, string]> = [
    ["r_cal", "calibration/reward"],
    ["m_super1", "targets/m_super1"],
    ["m_total", "targets/m_total"],
    ["ecn_share", "market/ecn_share"],
    ["ecn_from_resting_book", "market/ecn_from_resting_book"],
    ["no_venue_fraction", "market/no_venue_fraction"],
    ["lp_super1_reward", "rewards/lp_super1"],
    ["lp_super2_reward", "rewards/lp_super2"]
  ];
  for (let p = 1; p <= 9; p++) {
    fields.push([`vhat_super1_p${p}`, `targets/vhat_super1_p${p}`], [`vhat_super2_p${p}`, `targets/vhat_super2_p${p}`]);
  }
  return fields.filter(([, field]) => rows.some((r) => r[field] !== undefined));
};

const summarise = (state: CalibrationLoopState, tailFraction: number, names: readonly string[], ranges: Float64Array) => {
  const rows = rowsOf(state);
  const n = rows.length;
  const from = Math.max(0, n - Math.max(1, Math.round(n * tailFraction)));
  const tail = rows.slice(from);
  const means: Record<string, number> = {};
  for (const [name, field] of summaryFields(rows)) {
    const values = tail.map((r) => r[field]).filter((v): v is number => v !== undefined);
    if (values.length > 0) means[name] = values.reduce((a, b) => a + b, 0) / values.length;
  }
  return { iterations: n, envSteps: rows[n - 1]?.["env_steps"] ?? 0, tail: means, maxParamMeanStep: largestParameterMove(names, ranges, rows), stopping: stoppingSummary(state.stopping) };
};

/** Averages rows into at most `points` buckets so long runs plot quickly. */
const bucketed = (rows: readonly IterationRow[], points: number): IterationRow[] => {
  const size = Math.max(1, Math.ceil(rows.length / points));
  const out: IterationRow[] = [];
  for (let start = 0; start < rows.length; start += size) {
    const chunk = rows.slice(start, start + size);
    const row: IterationRow = {};
    for (const key of Object.keys(chunk[chunk.length - 1]!)) {
      const values = chunk.map((r) => r[key]).filter((v): v is number => v !== undefined);
      if (values.length > 0) row[key] = values.reduce((a, b) => a + b, 0) / values.length;
    }
    row["iteration"] = chunk[chunk.length - 1]!["iteration"]!;
    out.push(row);
  }
  return out;
};

const lineChart = (
  title: string,
  yTitle: string,
  values: Array<{ iteration: number; value: number; series: string; lo?: number; hi?: number }>,
  target?: number
): VegaLiteSpec => {
  const layers: object[] = [];
  if (values.some((v) => v.lo !== undefined)) {
    layers.push({
      mark: { type: "area", opacity: 0.2 },
      encoding: { y: { field: "lo", type: "quantitative" }, y2: { field: "hi" }, color: { field: "series", type: "nominal" } }
    });
  }
  layers.push({ mark: { type: "line" }, encoding: { y: { field: "value", type: "quantitative", title: yTitle }, color: { field: "series", type: "nominal" } } });
  if (target !== undefined) {
    layers.push({ data: { values: [{ target }] }, mark: { type: "rule", strokeDash: [4, 4], color: "black" }, encoding: { y: { field: "target", type: "quantitative" } } });
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 420,
    height: 220,
    data: { values },
    encoding: { x: { field: "iteration", type: "quantitative", title: "training iteration" } },
    layer: layers
  } as VegaLiteSpec;
};

/** Counters published as integers (the rest of the figures are doubles). */
const INTEGER_COLUMNS = new Set(["iteration", "env_steps"]);

/** What each column family holds, for the table's metadata (the names follow CleanRL's namespaces). */
const COLUMN_FAMILIES: ReadonlyArray<readonly [string, string]> = [
  ["method", "calibrator: calsheq or bo"],
  ["iteration", "training iteration, 1-based"],
  ["env_steps", "environment steps so far (episodes x T per iteration)"],
  ["agent_steps", "agent steps so far (env steps x learning agents)"],
  ["calibration/", "the calibrator: reward r_cal (mean and stDev over the iteration's episodes), its policy loss and mean |step|"],
  ["observed/", "the calibration targets' observed values this iteration (market shares, trade-size percentiles)"],
  ["targets/", "the calibration targets (also in otc.targets); m_super1_min and m_total are lower bounds"],
  ["rewards/", "mean episode reward per LP supertype"],
  ["market/", "where the LT flow went: ECN share, part absorbed by the resting book, flow no venue quoted"],
  ["params/", "calibrated parameters: particle mean (and stDev as params_std/) of each Lambda entry"],
  ["losses/", "the LP policy's PPO losses and KL"],
  ["charts/", "the LP policy's mean episode reward and KL coefficient"]
];

const toTable = (methods: Array<[string, readonly IterationRow[]]>, targets: Readonly<Record<string, number>>): arrow.Table => {
  const keys = new Set<string>();
  for (const [, rows] of methods) for (const r of rows) for (const k of Object.keys(r)) keys.add(k);
  const total = methods.reduce((s, [, rows]) => s + rows.length, 0);
  const method: string[] = [];
  const columns: Record<string, Float64Array> = {};
  for (const k of [...keys].sort()) columns[k] = new Float64Array(total).fill(Number.NaN);
  let i = 0;
  for (const [name, rows] of methods) {
    for (const r of rows) {
      method.push(name);
      for (const [k, v] of Object.entries(r)) columns[k]![i] = v;
      i++;
    }
  }
  const vectors: Record<string, arrow.Vector> = { method: arrow.vectorFromArray(method, new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32(), 0) /* fixed id: same table, same bytes */) };
  for (const [k, values] of Object.entries(columns)) {
    // The training rows log what was measured under targets/*: published as observed/*, beside the targets themselves.
    const name = k.startsWith("targets/") ? `observed/${k.slice("targets/".length)}` : k;
    vectors[name] = INTEGER_COLUMNS.has(k) ? arrow.makeVector(Int32Array.from(values)) : arrow.makeVector(values);
  }
  for (const [name, target] of Object.entries(targets)) vectors[`targets/${name}`] = arrow.makeVector(new Float64Array(total).fill(target));
  const table = new arrow.Table(vectors);
  const families = Object.fromEntries(COLUMN_FAMILIES);
  const metadata = new Map([
    ["otc.columns", JSON.stringify(families)],
    ["otc.targets", JSON.stringify(targets)]
  ]);
  return new arrow.Table(new arrow.Schema(table.schema.fields, metadata), table.batches);
};

/** The trained loop states a report reads: CALSHEQ, BO, and CALSHEQ in the other form when one ran beside. */
interface ReportInputs {
  readonly calsheq: CalibrationLoopState;
  readonly bo: CalibrationLoopState;
  readonly beside?: CalibrationLoopState;
}

const calsheqNameOf = (params: CalibrationTrainingParams | undefined) => (params?.calsheq.form === "distribution" ? "CALSHEQ_no_state" : "CALSHEQ");

const exportsOf = [
  { name: "report", extension: "html", encode: (value: CalibrationReport) => new TextEncoder().encode(value.html) },
  { name: "iterations", extension: "parquet", encode: (value: CalibrationReport) => tableToParquet(value.table) },
  { name: "summary", extension: "json", encode: (value: CalibrationReport) => new TextEncoder().encode(JSON.stringify(value.summary, null, 2)) }
];

const report = (inputs: ReportInputs, params: ReportParams) =>
    Effect.gen(function* () {
      const p = params;
      const setup = setupOf(inputs.calsheq);
      const experiment: ExperimentId = setup.experiment;
      const definition = experimentDefinition(experiment);
      const { space } = definition;
      const ranges = Float64Array.from(space.upper, (u, i) => u - space.lower[i]!);
      const calsheqRows = rowsOf(inputs.calsheq);
      const boRows = rowsOf(inputs.bo);
      const t = setup.targets;
      const targets: Record<string, number> =
        t.kind === "shares" ? { m_super1: t.shareSuper1, m_total: t.minShareTotal } : { m_super1_min: t.minShareSuper1, m_total: t.minShareTotal };
      const paramsOf = (state: CalibrationLoopState): CalibrationTrainingParams | undefined => state.params;
      const calsheqParams = paramsOf(inputs.calsheq);
      const boParams = paramsOf(inputs.bo);
      const methodLabels = {
        calsheq: calsheqParams === undefined ? "CALSHEQ (settings not recorded)" : calibratorLabel(calsheqParams.calsheq),
        bo: boParams === undefined ? "BO (settings not recorded)" : `BO (${boParams.bo.acquisition.toUpperCase()}, kappa = ${boParams.bo.kappa}), a proposal every ${boParams.boEvery} iterations`
      };
      // Plots and tables name the no-state form as the paper's ablation does.
      const calsheqName = calsheqNameOf(calsheqParams);
      const beside = inputs.beside;
      const besideParams = beside === undefined ? undefined : paramsOf(beside);
      const besideName = beside === undefined ? undefined : `${calsheqNameOf(besideParams)} (beside)`;
      const summary: CalibrationSummary = {
        experiment,
        methods: { ...methodLabels, ...(besideParams === undefined ? {} : { calsheqBeside: calibratorLabel(besideParams.calsheq) }) },
        tailFraction: p.tailFraction,
        targets,
        calsheq: summarise(inputs.calsheq, p.tailFraction, space.names, ranges),
        bo: summarise(inputs.bo, p.tailFraction, space.names, ranges),
        ...(beside === undefined ? {} : { calsheqBeside: summarise(beside, p.tailFraction, space.names, ranges) })
      };
      const methods: Array<[string, IterationRow[]]> = [
        [calsheqName, bucketed(calsheqRows, p.plotPoints)],
        ...(beside === undefined ? [] : [[besideName!, bucketed(rowsOf(beside), p.plotPoints)] as [string, IterationRow[]]]),
        ["BO", bucketed(boRows, p.plotPoints)]
      ];
      const series = (field: string, band?: string) =>
        methods.flatMap(([name, rows]) =>
          rows
            .filter((r) => r[field] !== undefined)
            .map((r) => ({
              iteration: r["iteration"]!,
              value: r[field]!,
              series: name,
              ...(band && r[band] !== undefined ? { lo: r[field]! - r[band]!, hi: r[field]! + r[band]! } : {})
            }))
        );
      // The paper's figure numbers: rewards are figure 7; target fits and calibrated parameters are
      // the experiment's own (figures 8, 26, 27, 28 and 29-32 for experiments 1-4).
      const targetFigure = definition.figures?.targets;
      const paramsFigure = definition.figures?.parameters;
      const fig = (n: number | undefined, title: string) => (n === undefined ? title : `Figure ${n}: ${title}`);
      const specs: VegaLiteSpec[] = [
        lineChart(fig(7, "calibrator reward r_cal (mean +-1 stDev across episodes)"), "r_cal", series("calibration/reward", "calibration/reward_std")),
        lineChart(fig(targetFigure, "market share of LP supertype 1 (dashed: target)"), "m_super1", series("targets/m_super1"), targets["m_super1"] ?? targets["m_super1_min"]),
        lineChart(fig(targetFigure, "market share of all LPs (dashed: target, a lower bound)"), "m_total", series("targets/m_total"), targets["m_total"]),
        lineChart("ECN share of all LT quantity decided (1 - m_total); every ECN order fills", "ECN share", series("market/ecn_share")),
        lineChart("Part of the ECN's LT fills the resting book absorbed (the rest: extrapolated depth)", "fraction", series("market/ecn_from_resting_book")),
        lineChart(fig(7, "LP supertype 1 episode reward (mean +-1 stDev across its LPs' episodes)"), "reward", series("rewards/lp_super1", "rewards/lp_super1_std")),
        lineChart(fig(7, "LP supertype 2 episode reward (mean +-1 stDev across its LPs' episodes)"), "reward", series("rewards/lp_super2", "rewards/lp_super2_std"))
      ];
      // Experiments 1-3 also target the trade-size percentiles (figures 8, 26, 27): one chart per
      // percentile and targeted supertype, the target dashed.
      if (t.kind === "shares-and-percentiles") {
        const targeted: Array<[number, readonly number[]]> = [[1, t.percentilesSuper1], ...(t.percentilesSuper2 === null ? [] : [[2, t.percentilesSuper2] as [number, readonly number[]]])];
        for (const [supertype, levels] of targeted) {
          levels.forEach((target, k) =>
            specs.push(
              lineChart(
                fig(targetFigure, `supertype ${supertype}: ${(k + 1) * 10}th percentile of received trade sizes (dashed: target)`),
                "lots",
                series(`targets/vhat_super${supertype}_p${k + 1}`),
                target
              )
            )
          );
        }
      }
      for (const name of space.names) {
        specs.push(lineChart(fig(paramsFigure, `calibrated parameter ${name} (mean +-1 stDev across particles)`), name, series(`params/${name}/mean`, `params/${name}/std`)));
      }
      const svgs: string[] = [];
      for (const spec of specs) svgs.push(yield* Effect.promise(() => renderSvg(spec)));
      const row = (name: string, s: CalibrationSummary["calsheq"]) => [
        name,
        s.iterations,
        s.envSteps,
        s.tail["r_cal"] ?? null,
        s.tail["m_super1"] ?? null,
        s.tail["m_total"] ?? null,
        s.tail["lp_super1_reward"] ?? null,
        s.tail["lp_super2_reward"] ?? null,
        s.maxParamMeanStep,
        s.stopping.stoppedBy
      ];
      const html = htmlReport(
        `Calibration, experiment ${experiment}`,
        `${methodLabels.calsheq} against ${methodLabels.bo}, with the same shared-policy training. Targets: ${JSON.stringify(targets)}. Market shares are over all the quantity LTs decided to trade (every LT trade fills, with an LP or on the ECN). Summary figures are means over the last ${(p.tailFraction * 100).toFixed(0)}% of iterations.`,
        [
          {
            heading: "Summary",
            table: {
              columns: ["method", "iterations", "env steps", "r_cal", "m_super1", "m_total", "LP super 1 reward", "LP super 2 reward", "max param-mean step (x range)", "stopped by"],
              rows: [row(calsheqName, summary.calsheq), ...(summary.calsheqBeside === undefined ? [] : [row(besideName!, summary.calsheqBeside)]), row("BO", summary.bo)]
            }
          },
          stoppingSection([
            [calsheqName, inputs.calsheq.stopping],
            ...(beside === undefined ? [] : [[besideName!, beside.stopping] as const]),
            ["BO", inputs.bo.stopping]
          ], "each LP supertype's mean episode reward and the calibrator's reward r_cal (the deviating LP plays in the market at the calibrator's mean profile)"),
          { heading: "Training curves (figures 7, 8, 25-32)", svgs }
        ]
      );
      const tableMethods: Array<[string, readonly IterationRow[]]> = [["calsheq", calsheqRows], ...(beside === undefined ? [] : [[`calsheq_${besideParams?.calsheq.form ?? "beside"}`, rowsOf(beside)] as [string, readonly IterationRow[]]]), ["bo", boRows]];
      return { html, table: toTable(tableMethods, targets), summary };
    });

const reportStage = <I extends Record<string, typeof trainingStateCodec>>(inputs: I, description: string, run: (inputs: { readonly [K in keyof I]: CalibrationLoopState }, p: ReportParams) => ReturnType<typeof report>) =>
  Stage.make({ name: "calibration-report", description, source: import.meta.url, params: ReportParams, inputs, output: calibrationReportCodec, exports: exportsOf, run });

/** The report of CALSHEQ against BO. */
export const calibrationReport = reportStage({ calsheq: trainingStateCodec, bo: trainingStateCodec }, "CALSHEQ vs BO over training: reward, targets, LP rewards, calibrated parameters", (inputs, p) => report(inputs, p));

/** The report with CALSHEQ in its other form beside (`report.calsheqBeside`). */
export const calibrationReportWithBeside = reportStage(
  { calsheq: trainingStateCodec, bo: trainingStateCodec, beside: trainingStateCodec },
  "CALSHEQ (both forms) vs BO over training: reward, targets, LP rewards, calibrated parameters",
  (inputs, p) => report(inputs, p)
);
