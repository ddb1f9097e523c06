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
import { htmlReport } from "../core/analysis/report.ts";
import { calibrationClaims, emergentClaims, figureSixClaims, figureThreeClaim, figureTwoClaim, tableTwoClaim, verdictCounts, type Claim, type MethodRun } from "../core/analysis/reproduction.ts";
import { compositeCodec } from "../core/pipeline/codecs/composite.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { textCodec } from "../core/pipeline/codecs/text.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { calibrationReportCodec, type CalibrationReport } from "../schemas/calibration-report.ts";
import { ecnModelScoresCodec } from "../schemas/ecn-neural-artifacts.ts";
import { emergentReportCodec } from "../schemas/emergent.ts";
import { emergentTablesCodec, readColumns } from "../schemas/emergent-artifacts.ts";
import { ltSpectrumReportCodec } from "../schemas/lt-spectrum.ts";

const Verdict = Schema.Literal("reproduced", "not reproduced", "opposite", "inconclusive", "not run");
export const ReproductionSummary = Schema.Struct({
  claims: Schema.Array(Schema.Struct({ source: Schema.String, paper: Schema.String, ours: Schema.String, verdict: Verdict })),
  counts: Schema.propertySignature(Schema.Record({ key: Schema.String, value: Schema.Number })).annotations({ description: "How many claims got each verdict." })
});
export type ReproductionSummary = typeof ReproductionSummary.Type;

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
  return { name, iterations: summary.iterations, stoppedBy: summary.stopping.stoppedBy, tail: rows.slice(from), maxParamMeanStep: summary.maxParamMeanStep };
};

const nameOf = (label: string) => (label.startsWith("CALSHEQ_no_state") ? "CALSHEQ_no_state" : "CALSHEQ");

const experimentClaims = (report: CalibrationReport): Claim[] => {
  const s = report.summary;
  const besideForm = s.methods.calsheqBeside?.startsWith("CALSHEQ_no_state") ? "distribution" : "increment";
  return calibrationClaims({
    experiment: s.experiment,
    calsheq: methodRun(report, "calsheq", nameOf(s.methods.calsheq), s.calsheq),
    bo: methodRun(report, "bo", "BO", s.bo),
    ...(s.calsheqBeside === undefined || s.methods.calsheqBeside === undefined ? {} : { beside: methodRun(report, `calsheq_${besideForm}`, nameOf(s.methods.calsheqBeside), s.calsheqBeside) })
  });
};

/** Figure 3's F(eps) points per number of PnL LTs, from `evaluate-emergent`'s table. */
const pnlLtFlowPoints = (table: arrow.Table) => {
  const c = readColumns(table) as Record<string, Float64Array>;
  return Array.from(c["pnlLts"] ?? [], (pnlLts, i) => ({ pnlLts, eps: c["eps"]![i]!, flow: c["flow"]![i]!, count: c["count"]![i]! }));
};

const markdownCell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");

export const reproductionReport = Stage.make({
  name: "reproduction-report",
  description: "the paper's checkable claims against our runs: statement, measurement, verdict",
  source: import.meta.url,
  params: Schema.Struct({}),
  inputs: {
    exp1: calibrationReportCodec,
    exp2: calibrationReportCodec,
    exp3: calibrationReportCodec,
    exp4: calibrationReportCodec,
    ecn: ecnModelScoresCodec,
    spectrum: ltSpectrumReportCodec,
    emergent: emergentReportCodec,
    evaluation: emergentTablesCodec
  },
  output: reproductionReportCodec,
  exports: [
    { name: "report", extension: "html", encode: (value: ReproductionReport) => new TextEncoder().encode(value.html) },
    { name: "reproduction", extension: "md", encode: (value: ReproductionReport) => new TextEncoder().encode(value.markdown) },
    { name: "summary", extension: "json", encode: (value: ReproductionReport) => new TextEncoder().encode(JSON.stringify(value.summary, null, 2)) }
  ],
  run: (inputs) =>
    Effect.sync(() => {
      const claims: Claim[] = [
        tableTwoClaim(inputs.ecn),
        figureTwoClaim(inputs.spectrum.summary),
        ...[inputs.exp1, inputs.exp2, inputs.exp3, inputs.exp4].flatMap(experimentClaims),
        figureThreeClaim(pnlLtFlowPoints(inputs.evaluation.pnlLtFlow)),
        ...emergentClaims(inputs.emergent.summary.findings),
        ...figureSixClaims(inputs.emergent.summary.lastOmegaA)
      ];
      const counts = verdictCounts(claims);
      const tally = Object.entries(counts)
        .filter(([, n]) => n > 0)
        .map(([verdict, n]) => `${n} ${verdict}`)
        .join(", ");
      const intro = `Each checkable claim of the paper against what the included runs measured: ${claims.length} claims, ${tally}. Calibration figures are means over the last iterations of each method with a 95% interval (mean +- 1.96 standard errors, iterations treated as independent, which understates it when they are autocorrelated); the section 5.2 findings are slopes of the metric against the attribute with their 95% intervals; "not run" rows report an ablation, not a claim.`;
      const columns = ["claim", "paper", "ours", "verdict"];
      const html = htmlReport("Reproduction of the paper's claims", intro, [{ heading: "Claims", table: { columns, rows: claims.map((c) => [c.source, c.paper, c.ours, c.verdict]) } }]);
      const markdown = [
        "# Reproduction of the paper's claims",
        "",
        intro,
        "",
        `| ${columns.join(" | ")} |`,
        `| ${columns.map(() => "---").join(" | ")} |`,
        ...claims.map((c) => `| ${[c.source, c.paper, c.ours, `**${c.verdict}**`].map(markdownCell).join(" | ")} |`),
        ""
      ].join("\n");
      return { html, markdown, summary: { claims, counts } };
    })
});
