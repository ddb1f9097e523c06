/**
 * Stage `reproduction-report`: the paper's checkable claims (table 2, figure 2, table 5 and
 * figures 7, 8, 25-32 for experiments 1-4, figure 3's convexity, the section 5.2 findings of
 * figures 9-24, figure 6's game weights) against
 * the reports of the runs the `reproduce` pipeline includes, as one table of claim, the paper's
 * statement, our measurement with its uncertainty, and the verdict (core/analysis/reproduction.ts).
 * Writes an HTML page, the same table as Markdown (`reproduction.md`, which docs/reproduction.md
 * is a copy of) and a JSON summary.
 */
import * as arrow from "apache-arrow";
import { Effect, Schema } from "effect";
import { ltFlowRouting } from "../core/analysis/flow-routing.ts";
import { htmlReport } from "../core/analysis/report.ts";
import {
  calibrationClaims,
  emergentClaims,
  equilibriumClaim,
  figureSixClaims,
  figureThreeClaim,
  figureTwoClaim,
  propositionTwoThreeClaim,
  resolvedFindings,
  RESOLUTION,
  tableTwoClaim,
  verdictCounts,
  type Claim,
  type MethodRun,
  type GridPoint,
  type MetricSpread
} from "../core/analysis/reproduction.ts";
import { meanAndStdError } from "../core/analysis/stats.ts";
import { checkLongRangeMoments } from "../core/ecn/long-range-check.ts";
import { gmmVariationModel } from "../core/ecn/model.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { ecnModelCodec } from "../schemas/ecn-artifacts.ts";
import { arrowTableCodec } from "../core/pipeline/codecs/arrow.ts";
import { compositeCodec } from "../core/pipeline/codecs/composite.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { textCodec } from "../core/pipeline/codecs/text.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { calibrationReportCodec, type CalibrationReport } from "../schemas/calibration-report.ts";
import { ecnModelComparisonCodec } from "../schemas/ecn-comparison.ts";
import { ecnModelScoresCodec } from "../schemas/ecn-neural-artifacts.ts";
import { emergentReportCodec } from "../schemas/emergent.ts";
import { emergentTablesCodec, gameLoopStateCodec, readColumns, type GameLoopState } from "../schemas/emergent-artifacts.ts";
import { ltSpectrumReportCodec } from "../schemas/lt-spectrum.ts";
import { EquilibriumProbe } from "../schemas/equilibrium-probe.ts";
import { stepRecordFromTable } from "../schemas/step-record-table.ts";

const probeCodec = jsonCodec(EquilibriumProbe);

const Verdict = Schema.Literal("reproduced", "not reproduced", "opposite", "inconclusive", "not run");
export const ReproductionSummary = Schema.Struct({
  claims: Schema.Array(Schema.Struct({ source: Schema.String, paper: Schema.String, ours: Schema.String, verdict: Verdict, why: Schema.optional(Schema.String) })),
  counts: Schema.propertySignature(Schema.Record({ key: Schema.String, value: Schema.Number })).annotations({ description: "How many claims got each verdict." })
});
export type ReproductionSummary = typeof ReproductionSummary.Type;

const count = (low: number, high: number, fallback: number, description: string) =>
  Schema.optionalWith(Schema.Int.pipe(Schema.between(low, high)), { default: () => fallback }).annotations({ description });
export const ReproductionParams = Schema.Struct({
  longRange: Schema.optionalWith(
    Schema.Struct({
      draws: count(1000, 100_000_000, 200_000, "Step draws of the fitted ECN model for proposition 2.3's closed forms (a multiple of `batches`)."),
      steps: count(1000, 100_000_000, 400_000, "Steps of recursion (8) simulated for proposition 2.3's check, after the burn-in (a multiple of `batches`)."),
      batches: count(2, 1000, 20, "Batches of draws and of simulated steps whose spread gives the standard errors."),
      burnIn: count(0, 10_000_000, 1000, "Simulated steps discarded first.")
    }),
    { default: () => ({ draws: 200_000, steps: 400_000, batches: 20, burnIn: 1000 }) }
  ).annotations({ description: "Proposition 2.3's check on the fitted ECN model." })
});

export type ReproductionReport = { html: string; markdown: string; summary: ReproductionSummary };
export const reproductionReportCodec = compositeCodec<ReproductionReport>("reproduction-report", {
  html: textCodec("html"),
  markdown: textCodec("md"),
  summary: jsonCodec(ReproductionSummary)
});

/** The rows of one method in a calibration report's per-iteration table, under the training rows' names. */
const methodRows = (table: arrow.Table, method: string): Array<Record<string, number>> => {
  const methods = table.getChild("method")!;
  const columns = table.schema.fields.map((f) => f.name).filter((name) => name !== "method" && !name.startsWith("targets/"));
  const rows: Array<Record<string, number>> = [];
  for (let i = 0; i < table.numRows; i++) {
    if (methods.get(i) !== method) continue;
    const row: Record<string, number> = {};
    for (const name of columns) {
      const v = Number(table.getChild(name)!.get(i));
      // The table publishes what the rows log under targets/* as observed/*.
      if (Number.isFinite(v)) row[name.startsWith("observed/") ? `targets/${name.slice("observed/".length)}` : name] = v;
    }
    rows.push(row);
  }
  return rows;
};

const methodRun = (report: CalibrationReport, method: string, name: string, summary: CalibrationReport["summary"]["calsheq"]): MethodRun => {
  const rows = methodRows(report.table, method);
  const from = Math.max(0, rows.length - Math.max(1, Math.round(rows.length * report.summary.tailFraction)));
  return { name, iterations: summary.iterations, stoppedBy: summary.stopping.stoppedBy, tail: rows.slice(from), maxParamMeanStep: summary.maxParamMeanStep, history: rows };
};

const nameOf = (label: string) => (label.startsWith("CALSHEQ_no_state") ? "CALSHEQ_no_state" : "CALSHEQ");

const experimentClaims = (report: CalibrationReport, records: arrow.Table): Claim[] => {
  const s = report.summary;
  const besideForm = s.methods.calsheqBeside?.startsWith("CALSHEQ_no_state") ? "distribution" : "increment";
  return calibrationClaims({
    experiment: s.experiment,
    calsheq: methodRun(report, "calsheq", nameOf(s.methods.calsheq), s.calsheq),
    bo: methodRun(report, "bo", "BO", s.bo),
    flow: ltFlowRouting(stepRecordFromTable(records)),
    ...(s.calsheqBeside === undefined || s.methods.calsheqBeside === undefined ? {} : { beside: methodRun(report, `calsheq_${besideForm}`, nameOf(s.methods.calsheqBeside), s.calsheqBeside) })
  });
};

/** Figure 3's F(eps) points per number of PnL LTs, from `evaluate-emergent`'s table. */
const pnlLtFlowPoints = (table: arrow.Table) => {
  const c = readColumns(table) as Record<string, Float64Array>;
  return Array.from(c["pnlLts"] ?? [], (pnlLts, i) => ({ pnlLts, eps: c["eps"]![i]!, flow: c["flow"]![i]!, count: c["count"]![i]! }));
};

/**
 * Per game and pair ("pnl-1v1/lp1-lt"), the omega_A values the game logged, in order, and beside
 * them ("pnl-1v1/lp1-lt/cross-ratio", ".../cross-alignment") the ratio of the second player's
 * utility's cross terms to the first's and their cosine, where logged.
 */
const loggedGameWeights = (games: Readonly<Record<string, GameLoopState>>): Record<string, number[]> => {
  const out: Record<string, number[]> = {};
  const push = (key: string, value: number) => {
    if (Number.isFinite(value)) (out[key] ??= []).push(value);
  };
  for (const [game, state] of Object.entries(games)) {
    for (const row of state.weights) {
      const key = `${game}/${row.pair}`;
      if (row.omegaA !== null) push(key, row.omegaA);
      // Rows logged before the cross terms were recorded lack them.
      const norms = row.crossNorms ?? null;
      if (norms !== null && norms[0] > 0) push(`${key}/cross-ratio`, norms[1] / norms[0]);
      if (row.crossAlignment !== undefined && row.crossAlignment !== null) push(`${key}/cross-alignment`, row.crossAlignment);
    }
  }
  return out;
};

type EpisodeColumns = ReturnType<typeof readColumns>;

/** Mean and standard deviation (n - 1) of the finite values. */
const meanAndSd = (values: readonly number[]) => {
  const s = meanAndStdError(values);
  return { mean: s.mean, sd: s.stdError * Math.sqrt(s.n) };
};

/** A per-episode metric's spread and most common value over the evaluation episodes of one attribute. */
const metricSpread = (c: EpisodeColumns) => {
  const attribute = c["attribute"] as unknown as readonly string[];
  return (name: string, metric: string): MetricSpread | undefined => {
    const values = c[metric];
    if (!(values instanceof Float64Array)) return undefined;
    const mine = Array.from(values).filter((v, i) => attribute[i] === name && Number.isFinite(v));
    if (mine.length < 2) return undefined;
    const counts = new Map<number, number>();
    for (const v of mine) {
      const key = Number(v.toPrecision(4));
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const [mode, atMode] = [...counts.entries()].reduce((best, entry) => (entry[1] > best[1] ? entry : best));
    return { ...meanAndSd(mine), mode, atMode: atMode / mine.length };
  };
};

/** The first LP's share, price and flow per connected LT class at the lowest and highest evaluated value of an attribute. */
const gridEnds = (c: EpisodeColumns) => {
  const attribute = c["attribute"] as unknown as readonly string[];
  const value = c["value"];
  const column = (name: string) => {
    const v = c[name];
    return v instanceof Float64Array ? v : undefined;
  };
  return (name: string): { low: GridPoint; high: GridPoint } | undefined => {
    if (!(value instanceof Float64Array)) return undefined;
    const rows = Array.from(value.keys()).filter((i) => attribute[i] === name);
    if (rows.length === 0) return undefined;
    const values = rows.map((i) => value[i]!);
    const at = (v: number): GridPoint => {
      const mine = rows.filter((i) => value[i] === v);
      const mean = (metric: string) => {
        const col = column(metric);
        return col === undefined ? Number.NaN : meanAndSd(mine.map((i) => col[i]!).filter(Number.isFinite)).mean;
      };
      return { value: v, share: mean("marketShare"), price: mean("averagePrice"), flowLt: mean("flowPerConnected_flowLt"), pnlLt: mean("flowPerConnected_pnlLt") };
    };
    return { low: at(Math.min(...values)), high: at(Math.max(...values)) };
  };
};

/** The first LP of section 5.2 over every evaluation episode: how it priced, what it earned, what share it took. */
const firstLpDiagnosis = (c: EpisodeColumns, episodes: number): string => {
  const show = (metric: string, digits: number) => {
    const values = c[metric];
    if (!(values instanceof Float64Array)) return "n/a";
    const finite = Array.from(values).filter(Number.isFinite);
    const s = meanAndSd(finite);
    return `${s.mean.toFixed(digits)} (sd ${s.sd.toFixed(digits)}, range ${Math.min(...finite).toFixed(digits)} to ${Math.max(...finite).toFixed(digits)})`;
  };
  return `Over all ${episodes} evaluation episodes, the first LP's average price eps_alpha (eq. 26) is ${show("averagePrice", 4)}, its episode PnL ${show("pnl", 1)}, its market share ${show("marketShare", 3)} and its hedge fraction ${show("hedgeFraction", 4)}.`;
};

const markdownCell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");

export const reproductionReport = Stage.make({
  name: "reproduction-report",
  description: "the paper's checkable claims against our runs: statement, measurement, verdict",
  source: import.meta.url,
  params: ReproductionParams,
  inputs: {
    model: ecnModelCodec,
    exp1: calibrationReportCodec,
    exp2: calibrationReportCodec,
    exp3: calibrationReportCodec,
    exp4: calibrationReportCodec,
    records1: arrowTableCodec,
    records2: arrowTableCodec,
    records3: arrowTableCodec,
    records4: arrowTableCodec,
    probe1: probeCodec,
    probe2: probeCodec,
    probe3: probeCodec,
    probe4: probeCodec,
    probeEmergent: probeCodec,
    ecn: ecnModelScoresCodec,
    ecnComparison: ecnModelComparisonCodec,
    spectrum: ltSpectrumReportCodec,
    emergent: emergentReportCodec,
    evaluation: emergentTablesCodec,
    pnl1v1: gameLoopStateCodec,
    pnl2v1: gameLoopStateCodec,
    flow1v1: gameLoopStateCodec
  },
  output: reproductionReportCodec,
  exports: [
    { name: "report", extension: "html", encode: (value: ReproductionReport) => new TextEncoder().encode(value.html) },
    { name: "reproduction", extension: "md", encode: (value: ReproductionReport) => new TextEncoder().encode(value.markdown) },
    { name: "summary", extension: "json", encode: (value: ReproductionReport) => new TextEncoder().encode(JSON.stringify(value.summary, null, 2)) }
  ],
  run: (inputs, p) =>
    Effect.gen(function* () {
      const rng = (yield* Rng).stream;
      const model = inputs.model;
      const levels = 2 * model.levels;
      const longRange = yield* Stage.attempt("reproduction-report", () =>
        checkLongRangeMoments(gmmVariationModel(model).forEpisode(), levels, model.stepSpace.reference, p.longRange, rng.split("proposition-2.3"))
      );
      const diagonal = (m: readonly (readonly number[])[]) => m.map((row, i) => row[i]!);
      const episodeColumns = readColumns(inputs.evaluation.episodes);
      const calibration = yield* Stage.attempt("reproduction-report", () =>
        (
          [
            [inputs.exp1, inputs.records1],
            [inputs.exp2, inputs.records2],
            [inputs.exp3, inputs.records3],
            [inputs.exp4, inputs.records4]
          ] as const
        ).flatMap(([report, records]) => experimentClaims(report, records))
      );
      const claims: Claim[] = [
        tableTwoClaim(inputs.ecn, inputs.ecnComparison),
        propositionTwoThreeClaim(longRange, { modelVariance: diagonal(model.longRange.covariance.theory), dataVariance: diagonal(model.longRange.covariance.empirical), source: model.data }),
        figureTwoClaim(inputs.spectrum.summary),
        ...calibration,
        ...[inputs.probe1, inputs.probe2, inputs.probe3, inputs.probe4, inputs.probeEmergent].map(equilibriumClaim),
        figureThreeClaim(pnlLtFlowPoints(inputs.evaluation.pnlLtFlow)),
        ...emergentClaims(inputs.emergent.summary.findings, metricSpread(episodeColumns), gridEnds(episodeColumns)),
        ...figureSixClaims(loggedGameWeights({ "pnl-1v1": inputs.pnl1v1, "pnl-2v1": inputs.pnl2v1, "flow-1v1": inputs.flow1v1 }))
      ];
      const findings = inputs.emergent.summary.findings;
      const counts = verdictCounts(claims);
      const tally = Object.entries(counts)
        .filter(([, n]) => n > 0)
        .map(([verdict, n]) => `${n} ${verdict}`)
        .join(", ");
      const intro = `Each checkable claim of the paper against what the included runs measured: ${claims.length} claims, ${tally}. Calibration figures are means over the last iterations of each method with a 95% interval (mean +- 1.96 standard errors, iterations treated as independent, which understates it when they are autocorrelated); the section 5.2 findings are slopes of the metric against the attribute with their 95% intervals; "not run" rows report an ablation, not a claim. "why" gives what the run itself says about the verdict: the terms of r_cal the calibrator still pays, for targets missed at the end the latest stretch of iterations that met them, and which LTs the ECN's share of the flow comes from in the calibrated market; for the CALSHEQ form run beside, which form meets the targets and which one r_cal ranks higher; a section 5.2 finding's power (the slope detected 80% of the time) or resolution, a metric no attribute moves, whether its sign changes with the training run (where the run trained replicates), for a market-share finding how the share, the first LP's quotes and its flow per connected LT moved across the attribute's grid, and for figure 6 what sets omega_A: how large and how aligned the two players' cross terms are.`;
      const power = `Section 5.2's power: the paper's figures 9-24 give no values in its text, so each finding is resolved against the effect we measure: ${resolvedFindings(findings)} of ${findings.length} findings have a 95% interval at most ${RESOLUTION} of |slope| on each side (${inputs.emergent.summary.evaluationEpisodes} evaluation episodes). ${firstLpDiagnosis(episodeColumns, inputs.evaluation.episodes.numRows)}`;
      const columns = ["claim", "paper", "ours", "verdict", "why"];
      const html = htmlReport("Reproduction of the paper's claims", intro, [
        { heading: "Claims", table: { columns, rows: claims.map((c) => [c.source, c.paper, c.ours, c.verdict, c.why ?? ""]) } },
        { heading: "Section 5.2: power and the first LP", text: power }
      ]);
      const markdown = [
        "# Reproduction of the paper's claims",
        "",
        intro,
        "",
        `| ${columns.join(" | ")} |`,
        `| ${columns.map(() => "---").join(" | ")} |`,
        ...claims.map((c) => `| ${[c.source, c.paper, c.ours, `**${c.verdict}**`, c.why ?? ""].map(markdownCell).join(" | ")} |`),
        "",
        "## Section 5.2: power and the first LP",
        "",
        power,
        ""
      ].join("\n");
      return { html, markdown, summary: { claims, counts } };
    })
});
