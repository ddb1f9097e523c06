/**
 * Stage `ecn-report`: the fitted ECN model against its data: log-likelihood
 * scores on the chronological split, BIC, the deep-level decay alpha, the long-range mean of every
 * level volume (proposition 2.3) from the data's variations, from the fitted mixture and from the
 * model as sampled, next to the data's mean volumes and to the fitted model's simulated ones (its
 * recursion (8), and the ECN agent driving an order book alone: the depth the market sees), and
 * plots of fitted vs empirical marginals of S0 and S. One HTML page.
 */
import { Effect, Schema } from "effect";
import { htmlReport, renderSvg, type VegaLiteSpec } from "../core/analysis/report.ts";
import { BUY, OrderBook, SELL } from "../core/book/order-book.ts";
import { EcnAgent } from "../core/book/ecn-agent.ts";
import { simulateAgentDepth } from "../core/book/ecn-depth.ts";
import { gmmVariationModel } from "../core/ecn/model.ts";
import { buildSamples } from "../core/ecn/samples.ts";
import { inferTick, toLots, toTicks } from "../core/ecn/snapshots.ts";
import { textCodec } from "../core/pipeline/codecs/text.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { ecnModelCodec, l2Codec, tableToSeries } from "../schemas/ecn-artifacts.ts";

const ReportParams = Schema.Struct({
  draws: Schema.optionalWith(Schema.Int.pipe(Schema.between(100, 1_000_000)), { default: () => 5000 }).annotations({ description: "Model draws per plotted marginal." }),
  bins: Schema.optionalWith(Schema.Int.pipe(Schema.between(5, 200)), { default: () => 40 }).annotations({ description: "Histogram bins per marginal." }),
  bookSteps: Schema.optionalWith(Schema.Int.pipe(Schema.between(10, 100_000)), { default: () => 1000 }).annotations({ description: "Steps of the simulated ECN book shown in the report (paper figure 4)." }),
  depthSteps: Schema.optionalWith(Schema.Int.pipe(Schema.between(100, 10_000_000)), { default: () => 20_000 }).annotations({ description: "Steps (after 1000 of burn-in) of the ECN agent alone whose mean level volumes the report shows." })
});

/**
 * The ECN agent driving a book with the fitted model and no other orders: the mid
 * price and the volumes of the best levels over an episode (paper figure 4: volumes stay bounded).
 */
const simulateBook = (model: Parameters<typeof gmmVariationModel>[0], steps: number, rng: import("../core/random/philox.ts").Random) => {
  const p0Tick = 10_000;
  const book = new OrderBook({ minPriceTick: 0, maxPriceTick: 2 * p0Tick });
  const agent = new EcnAgent(book, gmmVariationModel(model), { p0Tick, depthLevels: 20, originator: 0 });
  agent.startEpisode(rng.split("start"));
  const prices = new Float64Array(5);
  const volumes = new Float64Array(5);
  const rows: Array<{ step: number; value: number; series: string }> = [];
  const mids: Array<{ step: number; value: number; series: string }> = [];
  for (let t = 0; t < steps; t++) {
    if (t > 0) agent.step(rng.split(t));
    mids.push({ step: t, value: book.mid() - p0Tick, series: "mid - P0 (ticks)" });
    for (const [side, name] of [[SELL, "ask"], [BUY, "bid"]] as const) {
      const n = book.topLevels(side, 1, prices, volumes);
      rows.push({ step: t, value: n > 0 ? volumes[0]! : 0, series: `${name} level 1 volume (lots)` });
    }
  }
  return { rows, mids };
};

const histogramSpec = (title: string, empirical: Float64Array, model: Float64Array, bins: number): VegaLiteSpec => {
  const sorted = Float64Array.from(empirical).sort();
  // Clip the plotted range to the central 99% of the data so rare outliers do not flatten the bars.
  const lo = sorted[Math.floor(sorted.length * 0.005)] ?? 0;
  const hi = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.995))] ?? 1;
  const width = hi > lo ? (hi - lo) / bins : 1;
  const rows: Array<{ x: number; density: number; series: string }> = [];
  for (const [name, values] of [["data", empirical], ["model", model]] as const) {
    const counts = new Float64Array(bins);
    for (const v of values) {
      if (v < lo || v > hi) continue;
      counts[Math.min(bins - 1, Math.floor((v - lo) / width))]! += 1;
    }
    counts.forEach((c, b) => rows.push({ x: lo + (b + 0.5) * width, density: c / values.length / width, series: name }));
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 300,
    height: 180,
    data: { values: rows },
    mark: { type: "line", interpolate: "step" },
    encoding: {
      x: { field: "x", type: "quantitative", title },
      y: { field: "density", type: "quantitative", title: "density" },
      color: { field: "series", type: "nominal" }
    }
  };
};

export const ecnReport = Stage.make({
  name: "ecn-report",
  description: "HTML report of the fitted ECN model against its data",
  source: import.meta.url,
  params: ReportParams,
  inputs: { l2: l2Codec, model: ecnModelCodec },
  output: textCodec("html"),
  run: (inputs, p) =>
    Effect.gen(function* () {
      const rng = (yield* Rng).stream;
      const { model } = inputs;
      const m = model.levels;
      const { samples, drawn0, drawnS } = yield* Stage.attempt("ecn-report", () => {
        const raw = tableToSeries(inputs.l2.series, inputs.l2.meta.source, m);
        const series = toTicks(toLots(raw, model.volumeUnit), inputs.l2.meta.tick ?? inferTick(raw));
        const built = buildSamples(series);
        const sampler = gmmVariationModel(model).forEpisode();
        const d0 = 2 * m + 1;
        const d = 2 * m + 2;
        const a = new Float64Array(p.draws * d0);
        const b = new Float64Array(p.draws * d);
        const row0 = new Float64Array(d0);
        const row = new Float64Array(d);
        for (let i = 0; i < p.draws; i++) {
          sampler.sampleInitial(rng, row0);
          a.set(row0, i * d0);
          sampler.sampleStep(rng, row);
          b.set(row, i * d);
        }
        return { samples: built, drawn0: a, drawnS: b };
      });
      const column = (data: Float64Array, stride: number, j: number) => {
        const out = new Float64Array(Math.floor(data.length / stride));
        for (let i = 0; i < out.length; i++) out[i] = data[i * stride + j]!;
        return out;
      };
      const d0 = 2 * m + 1;
      const d = 2 * m + 2;
      const plots: Array<[string, Float64Array, Float64Array]> = [
        ["S0: ln V ask level 1", column(samples.s0, d0, 0), column(drawn0, d0, 0)],
        ["S0: ln V bid level 1", column(samples.s0, d0, m), column(drawn0, d0, m)],
        ["S0: spread (ticks)", column(samples.s0, d0, 2 * m), column(drawn0, d0, 2 * m)],
        ["S: delta ask level 1", column(samples.s, d, 0), column(drawnS, d, 0)],
        ["S: delta bid level 1", column(samples.s, d, m), column(drawnS, d, m)],
        ["S: spread (ticks)", column(samples.s, d, 2 * m), column(drawnS, d, 2 * m)],
        ["S: mid change (ticks)", column(samples.s, d, 2 * m + 1), column(drawnS, d, 2 * m + 1)]
      ];
      const svgs: string[] = [];
      for (const [title, empirical, fitted] of plots) svgs.push(yield* Effect.promise(() => renderSvg(histogramSpec(title, empirical, fitted, p.bins))));
      const simulated = yield* Stage.attempt("ecn-report", () => simulateBook(model, p.bookSteps, rng.split("book")));
      const agentDepth = yield* Stage.attempt("ecn-report", () => simulateAgentDepth(gmmVariationModel(model), { steps: p.depthSteps }, rng.split("depth")));
      const lineSpec = (title: string, values: Array<{ step: number; value: number; series: string }>): VegaLiteSpec => ({
        $schema: "https://vega.github.io/schema/vega-lite/v6.json",
        title,
        width: 640,
        height: 200,
        data: { values },
        mark: { type: "line", strokeWidth: 1 },
        encoding: {
          x: { field: "step", type: "quantitative", title: "step" },
          y: { field: "value", type: "quantitative", title: null },
          color: { field: "series", type: "nominal" }
        }
      });
      const bookSvgs = [
        yield* Effect.promise(() => renderSvg(lineSpec("Simulated ECN book: mid price", simulated.mids))),
        yield* Effect.promise(() => renderSvg(lineSpec("Simulated ECN book: best-level volumes", simulated.rows)))
      ];
      const levelName = (j: number) => `${j < m ? "ask" : "bid"} ${(j % m) + 1}`;
      const { mean } = model.longRange;
      return htmlReport(
        "ECN model fit",
        `Vanilla Gaussian-mixture ECN model (paper section 2.3) fitted on ${model.data}.`,
        [
          {
            heading: "Scores (mean log-likelihood per sample, chronological 70/15/15 split)",
            table: {
              columns: ["mixture", "train", "validation", "test", "BIC (train)", "components", "converged"],
              rows: [
                ["S0", model.scores.S0.train, model.scores.S0.val, model.scores.S0.test, model.bic.S0, model.fit.nComponents, model.fit.S0.converged],
                ["S", model.scores.S.train, model.scores.S.val, model.scores.S.test, model.bic.S, model.fit.nComponents, model.fit.S.converged]
              ]
            }
          },
          {
            heading: "Long-range mean level volumes (lots): the data, proposition 2.3 and the simulated model",
            text:
              `"data": the series' mean volume. Proposition 2.3's mu_inf = mu+/mu- from the data's own variations ("from data's deltas"), from draws of the fitted mixture ("fitted mixture") and of the model as sampled ("model"). ` +
              `Depth calibration "${model.depthCalibration}": each level's increases are multiplied by "increase scale" so that the model's mu_inf is the data's mean ` +
              `(a scale well below 1 means the data's decreases are larger where the volume is larger, which i.i.d. variations cannot reproduce: their mu+/mu- then overstates the depth). ` +
              `"recursion (8)": the mean of the volume recursion run with fresh draws of the model; "ECN agent": the mean of the top levels of an order book driven by the ECN agent alone for ${p.depthSteps} steps, the depth the market sees. ` +
              `Deep-level decay alpha = ${model.alpha.toFixed(4)}.`,
            table: {
              columns: ["level", "data", "from data's deltas", "fitted mixture", "increase scale", "model", "recursion (8)", "ECN agent", "ECN agent / data"],
              rows: mean.empirical.map((e, j) => [
                levelName(j),
                e,
                mean.theoryFromData[j] ?? null,
                mean.fitted[j] ?? null,
                model.stepSpace.increaseScale[j] ?? null,
                mean.theory[j] ?? null,
                mean.simulated[j] ?? null,
                agentDepth[j] ?? null,
                e > 0 ? agentDepth[j]! / e : null
              ])
            }
          },
          { heading: "Fitted vs empirical marginals", svgs },
          {
            heading: `The ECN agent driving a book with this model for ${p.bookSteps} steps, no other orders (figure 4)`,
            svgs: bookSvgs
          }
        ]
      );
    })
});
