/**
 * Stage `lt-spectrum-report` of figure 2 (paper section 3.1, eq. 6): evaluates the trained LT
 * shared policy at fixed PnL weights omega on the fixed mid path, and reports one price-path panel
 * per omega with buy/sell markers, the realised sell/buy fractions against the targets and the
 * PnL, as HTML, a Parquet table and a JSON summary.
 */
import { ltSpectrumReportCodec, type LtSpectrumReport, type LtSpectrumSummary } from "../schemas/lt-spectrum.ts";
import { stoppingSection } from "../core/analysis/stopping.ts";
import { stoppingSummary, StoppingSummary } from "../schemas/stopping.ts";
import * as arrow from "apache-arrow";
import { Effect, Schema } from "effect";
import { htmlReport, renderSvg, type VegaLiteSpec } from "../core/analysis/report.ts";
import { LT_BUY, LT_SELL } from "../core/otc/env.ts";
import { arrowTableCodec } from "../core/pipeline/codecs/arrow.ts";
import { compositeCodec } from "../core/pipeline/codecs/composite.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { tableToParquet } from "../core/pipeline/codecs/parquet.ts";
import { describedTable } from "../schemas/described-table.ts";
import { LT_SPECTRUM_COLUMNS } from "../schemas/export-columns.ts";
import { textCodec } from "../core/pipeline/codecs/text.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { LtSpectrumTrainingParams } from "../schemas/lt-spectrum.ts";
import { rowsOfShared, sharedLoopStateCodec } from "../schemas/shared-training.ts";
import { evaluateAtOmega, type OmegaEvaluation } from "../core/analysis/lt-spectrum.ts";
import { restoredAgents } from "./support/learners.ts";
import { ltSpectrumSetup, setupFrom } from "./support/lt-spectrum.ts";

const PositiveInt = Schema.Int.pipe(Schema.positive());
const Fraction = Schema.Number.pipe(Schema.between(0, 1));
const opt = <A, I>(schema: Schema.Schema<A, I>, value: A) => Schema.optionalWith(schema, { default: () => value });

export const LtSpectrumReportParams = Schema.Struct({
  omegas: opt(Schema.mutable(Schema.Array(Fraction)), [0, 0.25, 0.75, 1]).annotations({ description: "PnL weights at which the trained policy is evaluated (figure 2: 0, 0.25, 0.75, 1)." }),
  evaluationEpisodes: opt(PositiveInt, 32).annotations({ description: "Episodes per omega (each with `ltsPerEpisode` LTs)." }),
  greedy: opt(Schema.Boolean, false).annotations({ description: "Act by the most likely action instead of sampling." }),
  fractionTolerance: opt(Fraction, 0.03).annotations({ description: "Check: at omega = 0 each realised fraction within this of its target (default 0.03)." })
});

const pricePanel = (ev: OmegaEvaluation, qA: number, qB: number): VegaLiteSpec => {
  const price = Array.from(ev.mid, (p, t) => ({ t, price: p }));
  const marks = Array.from(ev.exampleActions, (a, t) => ({ t, price: ev.mid[t]!, action: a === LT_BUY ? "buy" : a === LT_SELL ? "sell" : "none" })).filter((m) => m.action !== "none");
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `omega = ${ev.omega.toFixed(2)}: sells ${(ev.sellFraction * 100).toFixed(1)}% (q^a ${(qA * 100).toFixed(0)}%), buys ${(ev.buyFraction * 100).toFixed(1)}% (q^b ${(qB * 100).toFixed(0)}%), PnL ${ev.meanPnl.toFixed(0)}`,
    width: 420,
    height: 200,
    layer: [
      { data: { values: price }, mark: { type: "line", color: "steelblue" }, encoding: { x: { field: "t", type: "quantitative", title: "time step" }, y: { field: "price", type: "quantitative", title: "mid (ticks)", scale: { zero: false } } } },
      {
        data: { values: marks },
        mark: { type: "point", filled: true, size: 30 },
        encoding: {
          x: { field: "t", type: "quantitative" },
          y: { field: "price", type: "quantitative" },
          color: { field: "action", type: "nominal", scale: { domain: ["buy", "sell"], range: ["green", "darkorange"] } }
        }
      }
    ]
  } as VegaLiteSpec;
};

const ratePanel = (ev: OmegaEvaluation): VegaLiteSpec => {
  const values = Array.from(ev.buyRate, (b, t) => [
    { t, rate: b, action: "buy" },
    { t, rate: ev.sellRate[t]!, action: "sell" }
  ]).flat();
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `omega = ${ev.omega.toFixed(2)}: fraction of LTs buying / selling at each step`,
    width: 420,
    height: 120,
    data: { values },
    mark: "line",
    encoding: {
      x: { field: "t", type: "quantitative", title: "time step" },
      y: { field: "rate", type: "quantitative", title: "fraction of LTs", scale: { domain: [0, 1] } },
      color: { field: "action", type: "nominal", scale: { domain: ["buy", "sell"], range: ["green", "darkorange"] } }
    }
  } as VegaLiteSpec;
};

export const ltSpectrumReport = Stage.make({
  name: "lt-spectrum-report",
  description: "realised sell/buy fractions and PnL per omega, price paths with buy/sell markers (figure 2)",
  source: import.meta.url,
  /** Read at the root of the pipeline params: the training setup is needed to rebuild the env. */
  params: Schema.Struct({ training: LtSpectrumTrainingParams, report: LtSpectrumReportParams }),
  inputs: { trained: sharedLoopStateCodec },
  output: ltSpectrumReportCodec,
  exports: [
    { name: "report", extension: "html", encode: (value: LtSpectrumReport) => new TextEncoder().encode(value.html) },
    { name: "omegas", extension: "parquet", encode: (value: LtSpectrumReport) => tableToParquet(describedTable(value.table, LT_SPECTRUM_COLUMNS)) },
    { name: "summary", extension: "json", encode: (value: LtSpectrumReport) => new TextEncoder().encode(JSON.stringify(value.summary, null, 2)) }
  ],
  run: (inputs, params) =>
    Effect.gen(function* () {
      const p = params.training;
      const r = params.report;
      // The trained policies, restored on the backend they were trained on.
      const { learners } = yield* ltSpectrumSetup(p);
      const agents = yield* restoredAgents(learners, inputs.trained.agents);
      const agentOf = (name: string) => agents[learners.findIndex((l) => l.name === name)]!;
      const rng = (yield* Rng).stream.split("evaluation");
      const setup = setupFrom(p);
      const evaluations = yield* Stage.attempt("lt-spectrum-report", () =>
        r.omegas.map((w, k) => evaluateAtOmega(setup, w, { lp: agentOf("lp"), lt: agentOf("lt") }, r.evaluationEpisodes, rng.split(k), r.greedy))
      );
      const rows = evaluations.map(({ omega, sellFraction, buyFraction, sellFractionStdError, buyFractionStdError, meanPnl, pnlStdError, meanReward }) => ({
        omega,
        sellFraction,
        buyFraction,
        sellFractionStdError,
        buyFractionStdError,
        meanPnl,
        pnlStdError,
        meanReward
      }));
      const at = (w: number) => rows.find((row) => row.omega === w);
      const zero = at(0);
      const one = at(1);
      const summary: LtSpectrumSummary = {
        iterations: rowsOfShared(inputs.trained).length,
        qA: p.qA,
        qB: p.qB,
        greedy: r.greedy,
        omegas: rows,
        omega0OnTargets: zero ? Math.abs(zero.sellFraction - p.qA) <= r.fractionTolerance && Math.abs(zero.buyFraction - p.qB) <= r.fractionTolerance : null,
        omega1PnlPositive: one ? one.meanPnl > 0 : null,
        stopping: stoppingSummary(inputs.trained.stopping)
      };
      const svgs: string[] = [];
      for (const ev of evaluations) svgs.push(yield* Effect.promise(() => renderSvg(pricePanel(ev, p.qA, p.qB))));
      const rateSvgs: string[] = [];
      for (const ev of evaluations) rateSvgs.push(yield* Effect.promise(() => renderSvg(ratePanel(ev))));
      const trainingRows = rowsOfShared(inputs.trained);
      const curve = {
        $schema: "https://vega.github.io/schema/vega-lite/v6.json",
        title: "LT mean episode reward over training (omega ~ U[0, 1])",
        width: 420,
        height: 160,
        data: { values: trainingRows.map((row) => ({ iteration: row["iteration"], reward: row["lt/charts/episode_reward_mean"] })) },
        mark: "line",
        encoding: { x: { field: "iteration", type: "quantitative" }, y: { field: "reward", type: "quantitative", scale: { zero: false } } }
      } as VegaLiteSpec;
      const curveSvg = yield* Effect.promise(() => renderSvg(curve));
      const html = htmlReport(
        "Figure 2: spectrum of the shared LT policy's actions over the PnL weight omega",
        `One shared LT policy trained with omega ~ U[0, 1] on a fixed mid path (${p.path.kind}), targets q^a = ${p.qA} (sells), q^b = ${p.qB} (buys), T = ${p.horizon}, ${summary.iterations} iterations of ${p.episodes} x ${p.ltsPerEpisode} LT episodes. Evaluation: ${r.evaluationEpisodes * p.ltsPerEpisode} LT episodes per omega, ${r.greedy ? "greedy" : "sampled"} actions. Markers: one LT's buys (green) and sells (orange).`,
        [
          {
            heading: "Realised fractions and PnL",
            table: {
              columns: ["omega", "sell fraction", "(se)", "buy fraction", "(se)", "mean PnL (ticks x lots)", "(se)", "mean reward"],
              rows: rows.map((row) => [row.omega, row.sellFraction, row.sellFractionStdError, row.buyFraction, row.buyFractionStdError, row.meanPnl, row.pnlStdError, row.meanReward])
            },
            text: `Figure-2 check: omega = 0 within ${(r.fractionTolerance * 100).toFixed(0)} points of both targets: ${summary.omega0OnTargets}; omega = 1 mean PnL positive: ${summary.omega1PnlPositive}.`
          },
          { heading: "Price path with buy/sell actions (figure 2 panels)", svgs },
          { heading: "Buy and sell rates across LTs", svgs: rateSvgs },
          { heading: "Training", svgs: [curveSvg] },
          stoppingSection([["train-lt-spectrum", inputs.trained.stopping]], "the LT policy's mean episode reward", false)
        ]
      );
      const table = arrow.tableFromArrays({
        omega: Float64Array.from(rows, (x) => x.omega),
        sellFraction: Float64Array.from(rows, (x) => x.sellFraction),
        buyFraction: Float64Array.from(rows, (x) => x.buyFraction),
        meanPnl: Float64Array.from(rows, (x) => x.meanPnl),
        pnlStdError: Float64Array.from(rows, (x) => x.pnlStdError),
        meanReward: Float64Array.from(rows, (x) => x.meanReward)
      });
      return { html, table, summary };
    })
});

