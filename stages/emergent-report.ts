/**
 * Stage `emergent-report` (paper sections 3.2 and 5.2): draws every figure and the findings table
 * (core/analysis/emergent-plots.ts, emergent-findings.ts) from the trained section 5.2 policies'
 * evaluation and the figure 6 games into one HTML page, with the findings as Parquet and a JSON
 * summary. With training replicates (`report.trainingReplicates`, inputs `replicate2`, ...), the
 * table and the summary also give each finding's slope in every replicate.
 */
import { emergentReportCodec, type EmergentReport } from "../schemas/emergent.ts";
import * as arrow from "apache-arrow";
import { Effect } from "effect";
import { evaluateFindings, type EpisodeColumns, type FindingResult } from "../core/analysis/emergent-findings.ts";
import { emergentFigures } from "../core/analysis/emergent-plots.ts";
import type { GameWeightRow } from "../core/analysis/game-analysis.ts";
import { htmlReport, renderSvg } from "../core/analysis/report.ts";
import { studentTQuantile } from "../core/analysis/stats.ts";
import { arrowTableCodec } from "../core/pipeline/codecs/arrow.ts";
import { compositeCodec } from "../core/pipeline/codecs/composite.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { tableToParquet } from "../core/pipeline/codecs/parquet.ts";
import { describedTable } from "../schemas/described-table.ts";
import { FINDINGS_COLUMNS } from "../schemas/export-columns.ts";
import { textCodec } from "../core/pipeline/codecs/text.ts";
import { Stage, type InputCodecs } from "../core/pipeline/stage.ts";
import { emergentTablesCodec, gameLoopStateCodec, readColumns, type EmergentTables, type GameLoopState } from "../schemas/emergent-artifacts.ts";
import { EmergentSummary, ReportParams, type EmergentSummary as Summary } from "../schemas/emergent.ts";
import { rowsOfShared, sharedLoopStateCodec } from "../schemas/shared-training.ts";

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

const findingsTable = (findings: readonly FindingResult[]): arrow.Table =>
  arrow.tableFromArrays({
    finding: findings.map((f) => f.finding),
    source: findings.map((f) => f.source),
    attribute: findings.map((f) => f.attribute),
    metric: findings.map((f) => f.metric),
    claimedSign: Float64Array.from(findings, (f) => f.claimedSign),
    slope: Float64Array.from(findings, (f) => f.slope),
    ciLow: Float64Array.from(findings, (f) => f.ciLow),
    ciHigh: Float64Array.from(findings, (f) => f.ciHigh),
    episodes: Float64Array.from(findings, (f) => f.episodes),
    verdict: findings.map((f) => f.verdict)
  });

const gameRows = (state: GameLoopState): readonly GameWeightRow[] => state.weights;

/** The input name of training replicate k (k = 2, 3, ...; the main run is 1). */
export const replicateInput = (k: number): `replicate${number}` => `replicate${k}`;

type ReplicateInputs = { readonly [name: `replicate${number}`]: EmergentTables };

const baseInputs = { shared: sharedLoopStateCodec, evaluation: emergentTablesCodec, pnl1v1: gameLoopStateCodec, pnl2v1: gameLoopStateCodec, flow1v1: gameLoopStateCodec };

const inputCodecs = (replicates: number): typeof baseInputs & InputCodecs<ReplicateInputs> => ({
  ...baseInputs,
  ...(Object.fromEntries(Array.from({ length: replicates }, (_, k) => [replicateInput(k + 2), emergentTablesCodec])) as InputCodecs<ReplicateInputs>)
});

const reportStage = (replicates: number) =>
  Stage.make({
    name: "emergent-report",
    description: "figures 3, 6, 9-24 and the findings table of section 5.2 in one HTML page",
    source: import.meta.url,
    params: ReportParams,
    inputs: inputCodecs(replicates),
    output: emergentReportCodec,
    exports: [
      { name: "report", extension: "html", encode: (value: EmergentReport) => new TextEncoder().encode(value.html) },
      { name: "findings", extension: "parquet", encode: (value: EmergentReport) => tableToParquet(describedTable(value.findings, FINDINGS_COLUMNS)) },
      { name: "summary", extension: "json", encode: (value: EmergentReport) => new TextEncoder().encode(JSON.stringify(value.summary, null, 2)) }
    ],
    run: (inputs, p) =>
      Effect.gen(function* () {
        const ev = inputs.evaluation;
        const episodes = readColumns(ev.episodes);
        const findings = evaluateFindings(episodes as unknown as EpisodeColumns, p.level);
        // The same findings in each training replicate, in the order of the main run's.
        const replicateFindings = Array.from({ length: replicates }, (_, k) => {
          // The replicate inputs were decoded by their codecs (inputCodecs); TS infers the fixed ones only.
          const tables = (inputs as unknown as ReplicateInputs)[replicateInput(k + 2)];
          return tables === undefined ? [] : evaluateFindings(readColumns(tables.episodes) as unknown as EpisodeColumns, p.level);
        });
        const training = rowsOfShared(inputs.shared);
        const games = { "pnl-1v1": gameRows(inputs.pnl1v1), "pnl-2v1": gameRows(inputs.pnl2v1), "flow-1v1": gameRows(inputs.flow1v1) } as const;
        const figures = emergentFigures({
          values: readColumns(ev.values),
          episodes,
          flowResponse: readColumns(ev.flowResponse),
          holding: readColumns(ev.holding),
          skewPoints: readColumns(ev.skewPoints),
          pnlLtFlow: readColumns(ev.pnlLtFlow),
          training,
          games,
          z: studentTQuantile(0.5 + p.level / 2, 1e6),
          smoothing: p.smoothing
        });
        const svgs: string[] = [];
        for (const figure of figures) svgs.push(yield* Effect.promise(() => renderSvg(figure.spec)));
        const lastOmegaA: Record<string, number | null> = {};
        for (const [game, rows] of Object.entries(games)) {
          for (const row of rows) lastOmegaA[`${game}/${row.pair}`] = row.omegaA;
        }
        const verdictCounts = (source: string) => {
          const fs = findings.filter((f) => f.source === source);
          return `${fs.filter((f) => f.verdict === "reproduced").length} of ${fs.length} reproduced, ${fs.filter((f) => f.verdict === "opposite").length} opposite, ${fs.filter((f) => f.verdict === "inconclusive").length} inconclusive`;
        };
        const evaluationEpisodes = ev.episodes.numRows;
        const html = htmlReport(
          "Emergent behaviour and game analysis (sections 5.2 and 3.2)",
          `Shared LP and LT policies trained for ${training.length} iterations on the section 5.2 population (first LP's connectivities, PnL weight and risk aversion randomised), then evaluated with one attribute of the first LP varied at a time (${evaluationEpisodes} evaluation episodes). Findings: each claim as the OLS slope of a per-episode metric on the attribute with an HC1-robust ${(p.level * 100).toFixed(0)}% confidence interval; the five headline findings: ${verdictCounts("section 5.2 headline")}; other claims of the paper's text: ${verdictCounts("section 5.2 text")}.`,
          [
            {
              heading: "Findings",
              text: "reproduced: the whole interval has the paper's sign; opposite: the whole interval has the other sign; inconclusive: the interval contains 0. Nothing is tuned to make a claim hold.",
              table: {
                columns: [
                  "finding",
                  "source",
                  "attribute",
                  "metric",
                  "paper's sign",
                  "slope",
                  "CI low",
                  "CI high",
                  "episodes",
                  "verdict",
                  ...(replicates > 0 ? ["slopes of the other training runs"] : [])
                ],
                rows: findings.map((f, i) => [
                  f.finding,
                  f.source,
                  f.attribute,
                  f.metric,
                  f.claimedSign > 0 ? "+" : "-",
                  finite(f.slope),
                  finite(f.ciLow),
                  finite(f.ciHigh),
                  f.episodes,
                  f.verdict,
                  ...(replicates > 0 ? [replicateFindings.map((r) => (r[i] === undefined ? "-" : r[i]!.slope.toPrecision(3))).join(", ")] : [])
                ])
              }
            },
            ...figures.map((figure, k) => ({ heading: `${figure.id.replace("figure-", "Figure ")}: ${figure.title}`, text: figure.caption, svgs: [svgs[k]!] }))
          ]
        );
        const summary: Summary = {
          trainingIterations: training.length,
          evaluationEpisodes,
          findings: findings.map((f, i) => ({
            finding: f.finding,
            attribute: f.attribute,
            metric: f.metric,
            claimedSign: f.claimedSign,
            source: f.source,
            slope: finite(f.slope),
            ciLow: finite(f.ciLow),
            ciHigh: finite(f.ciHigh),
            episodes: f.episodes,
            verdict: f.verdict,
            replicates: replicateFindings.map((r) => ({ slope: finite(r[i]?.slope ?? Number.NaN), ciLow: finite(r[i]?.ciLow ?? Number.NaN), ciHigh: finite(r[i]?.ciHigh ?? Number.NaN) }))
          })),
          lastOmegaA,
          plots: svgs.length
        };
        return { html, findings: findingsTable(findings), summary };
      })
  });

const reportStages = new Map<number, ReturnType<typeof reportStage>>();

/**
 * The report of a run with `replicates` training replicates besides the main one (inputs
 * `replicate2`, `replicate3`, ...: their evaluations). One stage object per count, so a pipeline
 * that includes another finds the node it built.
 */
export const emergentReportWith = (replicates: number) => {
  let stage = reportStages.get(replicates);
  if (stage === undefined) {
    stage = reportStage(replicates);
    reportStages.set(replicates, stage);
  }
  return stage;
};
