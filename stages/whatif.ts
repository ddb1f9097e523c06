/**
 * The stages of the `what-if` pipeline (paper section 1's what-if questions, asked of the
 * calibrated market of section 4; metrics of section 5.2):
 * - `reequilibrate` (a loop, one node per scenario and one for the baseline): the calibrated
 *   profile Lambda frozen, the scenario's edits applied, the LP shared policy warm-started from the
 *   calibrated weights and Adam moments, then rollouts -> ppo-update each iteration until the
 *   stopping rule says its supertypes' reward curves are flat (or the cap). Every such node draws
 *   the same random numbers at the same iteration (the run's stream, not the node's), so the
 *   baseline and a scenario differ by the scenario's change alone.
 * - `from-scratch`: the same loop from freshly drawn weights, the reference for what the warm
 *   start saves.
 * - `evaluate-scenario`: the baseline's and the scenario's re-equilibrated markets play the same
 *   episodes on the same random streams (common random numbers); every market metric's paired
 *   difference with its confidence interval.
 * - `whatif-report`: the comparison as an HTML page with plots and tables, a Parquet table of
 *   every difference, and a JSON summary.
 */
import * as arrow from "apache-arrow";
import { Effect, Schema } from "effect";
import { entityLabel, LP_METRICS, MARKET_METRICS } from "../core/analysis/market-metrics.ts";
import { htmlReport, renderSvg, type ReportSection, type VegaLiteSpec } from "../core/analysis/report.ts";
import { compareMarkets, evaluateMarket } from "../core/analysis/whatif-eval.ts";
import { episodeCalibration, iterationRow, type CalibrationLoopState, type IterationRow } from "../core/calibration/loop.ts";
import {
  advanceReequilibration,
  reequilibrationDeviationDue,
  frozenEcn,
  frozenGame,
  frozenMarket,
  initialReequilibration,
  reequilibrationFinished,
  rewardCurves,
  type ReequilibrationState
} from "../core/calibration/reequilibration.ts";
import type { OtcEpisodeOutcomes } from "../core/otc/env.ts";
import { mergeEpisodeOutcomes, otcRolloutLocation, type OtcEcnSpec } from "../core/otc/rollout-env.ts";
import { Backend } from "../core/pipeline/backend.ts";
import { tableToParquet } from "../core/pipeline/codecs/parquet.ts";
import { tableReportCodec, type TableReport } from "../schemas/report-codec.ts";
import { LoopBody } from "../core/pipeline/loop-body.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { Random } from "../core/random/philox.ts";
import { trainingStateCodec } from "../schemas/calibration-artifacts.ts";
import type { EcnModel } from "../schemas/ecn.ts";
import { ecnModelCodec } from "../schemas/ecn-artifacts.ts";
import { ecnSimModelCodec, type EcnSimModel } from "../schemas/ecn-neural-artifacts.ts";
import { workerBackend } from "../schemas/rollouts.ts";
import { describedTable } from "../schemas/described-table.ts";
import {
  ReequilibrateParams,
  reequilibrationStateCodec,
  scenarioComparisonCodec,
  scenarioEdits,
  WhatIfEvaluationParams,
  type LoopOutcome,
  type ScenarioComparison
} from "../schemas/whatif.ts";
import { deviationSettingsOf, exploitabilityCheck } from "./body/exploitability-check.ts";
import { ppoUpdateStage } from "./body/ppo-update.ts";
import { rollouts } from "./body/rollouts.ts";
import { ecnSpecOf } from "./support/calibration.ts";
import { initialLearnerState, learnerSpecs, liveAgent, type RolloutEnvSpec } from "./support/learners.ts";
import type { NetworkBackend } from "./support/network-backend.ts";
import { acquireRolloutExecutor, type RolloutExecutor } from "./support/rollout-executor.ts";

interface ReequilibrateInputs {
  readonly model: EcnModel;
  readonly sim: EcnSimModel;
  readonly calibrated: CalibrationLoopState;
}

type WhatIfServices = RolloutExecutor | NetworkBackend;

const ruleOf = (rule: ReequilibrateParams["rule"]) => ({ ...rule, exploitabilityStdErrors: rule.exploitability.stdErrors });

/** The frozen market of the node's scenario, the env it is played in, and the LP's learner. */
const setupOf = (p: ReequilibrateParams, inputs: ReequilibrateInputs) =>
  Effect.gen(function* () {
    const market = yield* Stage.attempt("reequilibrate", () => frozenMarket(inputs.calibrated, scenarioEdits(p.scenario)));
    const env: RolloutEnvSpec = { location: otcRolloutLocation, args: { config: frozenGame(market), ecn: frozenEcn(market, ecnSpecOf(inputs.model, inputs.sim)) } };
    const learners = yield* learnerSpecs(env, () => market.params.ppo);
    return { market, env, learners };
  });

const reequilibrationBody = LoopBody.make<ReequilibrateParams, ReequilibrateInputs, ReequilibrationState, WhatIfServices>((b) => {
  const setup = b.setup("setup", (p, inputs) => setupOf(p, inputs));
  const env = b.field(setup, "env");
  const learners = b.field(setup, "learners");
  const policies = b.map("policies", { lp: b.field(b.state, "lp") }, ({ lp }) => ({ lp }));
  const played = b.step(
    "rollouts",
    rollouts,
    { env, learners, policies, episodeInputs: b.setup("episode-inputs", () => null) },
    {
      params: (p) => ({ episodes: p.training.episodes, episodesPerShard: p.training.episodesPerShard, rollouts: p.training.rollouts }),
      stream: { from: "run", path: ["whatif", "rollouts"] }
    }
  );
  const updated = b.step("ppo-update", ppoUpdateStage, { learners, policies, batches: b.field(played, "batches") }, { params: () => ({ learning: ["lp"] }), stream: { from: "run", path: ["whatif", "update"] } });
  const row = b.map("row", { state: b.state, played, updated, iteration: b.iteration }, (v) => {
    const { market } = v.state;
    const outcomes = mergeEpisodeOutcomes(v.played.extras as readonly OtcEpisodeOutcomes[]);
    return iterationRow({
      iteration: v.iteration,
      envSteps: v.state.envSteps + outcomes.episodes * market.params.horizon,
      names: [],
      profiles: [],
      lpBatch: v.played.batches[0]!,
      ppo: v.updated.metrics["lp"]!,
      outcomes,
      episodes: episodeCalibration(outcomes, market.params.experiment, market.params.targets),
      calibrator: { loss: Number.NaN, meanAbsoluteStep: Number.NaN }
    });
  });
  // The deviation test runs once a check is due and every reward curve is flat.
  const rule = b.setup("rule", (p) => ruleOf(p.rule));
  const market = b.map("deviation-market", { state: b.state, row, rule }, (v) => (reequilibrationDeviationDue(v.state, v.row, v.rule) ? v.state.market : null));
  const deviation = b.step(
    "exploitability",
    exploitabilityCheck,
    { market, learners, policies: b.field(updated, "policies"), ecn: b.setup("ecn", (_p, inputs) => ecnSpecOf(inputs.model, inputs.sim)) },
    { params: (p) => ({ deviation: deviationSettingsOf(p.rule.exploitability), episodes: p.training.episodes }), stream: { from: "run", path: ["whatif", "exploitability"] } }
  );
  return b.finish({ state: b.state, played, updated, row, deviation }, (v, { params: p, seconds }) => {
    const { market } = v.state;
    const row = v.row;
    const envSteps = row["env_steps"]!;
    const state = advanceReequilibration(v.state, row, v.updated.policies["lp"]!, envSteps, ruleOf(p.rule), v.deviation);
    const rewards = Object.entries(row)
      .filter(([k]) => /^rewards\/lp_super\d+$/.test(k))
      .map(([k, r]) => `${k.slice("rewards/".length)} ${r.toFixed(2)}`)
      .join(" ");
    return {
      state,
      metrics: { ...row, "charts/env_steps_per_second": (p.training.episodes * market.params.horizon) / seconds },
      status: `${rewards}${state.decision !== "continue" ? ` | ${state.decision}` : ""}`
    };
  });
});

const reequilibrationStage = (warmStart: boolean) =>
  Stage.loop({
    name: warmStart ? "reequilibrate" : "from-scratch",
    description: warmStart
      ? "the LP policy re-equilibrated from the calibrated one in the scenario's market (Lambda frozen), until its reward curves are flat"
      : "the same re-equilibration from freshly drawn weights: what the warm start saves",
    source: import.meta.url,
    params: ReequilibrateParams,
    scheduleParams: [],
    executionParams: ["training.rollouts"],
    iterations: (p) => p.rule.maxIterations,
    checkpointEvery: (p) => p.rule.every,
    inputs: { model: ecnModelCodec, sim: ecnSimModelCodec, calibrated: trainingStateCodec },
    state: reequilibrationStateCodec,
    init: (inputs, p) =>
      Effect.gen(function* () {
        const { market, learners } = yield* setupOf(p, inputs);
        if (warmStart) return initialReequilibration(market, inputs.calibrated.lp, true);
        // Fresh weights drawn from the run's stream, so every scenario's reference starts alike.
        const lp = yield* initialLearnerState(learners[0]!, Random.fromSeed((yield* Rng).seed).split("whatif-from-scratch"));
        return initialReequilibration(market, lp, false);
      }),
    finished: reequilibrationFinished,
    body: reequilibrationBody
  });

export const reequilibrate = reequilibrationStage(true);
export const fromScratch = reequilibrationStage(false);

const outcomeOf = (state: ReequilibrationState): LoopOutcome => ({
  iterations: state.iteration,
  decision: state.decision,
  warmStart: state.warmStart,
  exploitability: [...state.checks].reverse().find((c) => c.exploitability !== null)?.exploitability ?? null,
  curves: Object.fromEntries(Object.entries(rewardCurves(state.rows)).map(([k, v]) => [k, Array.from(v)]))
});

/** Metrics whose per-episode distributions the report draws, per LP supertype. */
const DISTRIBUTED: readonly string[] = ["meanAbsInventory", "pnl"];

export const evaluateScenario = Stage.make({
  name: "evaluate-scenario",
  description: "the baseline's and the scenario's markets on the same episodes (common random numbers): each metric's paired difference with its CI",
  source: import.meta.url,
  params: WhatIfEvaluationParams,
  executionParams: ["rollouts"],
  inputs: { model: ecnModelCodec, sim: ecnSimModelCodec, baseline: reequilibrationStateCodec, scenario: reequilibrationStateCodec },
  output: scenarioComparisonCodec,
  run: (inputs, p) =>
    Effect.gen(function* () {
      const backend = yield* Backend;
      const ecn = ecnSpecOf(inputs.model, inputs.sim);
      const env: RolloutEnvSpec = { location: otcRolloutLocation, args: { config: frozenGame(inputs.baseline.market), ecn } };
      const learners = yield* learnerSpecs(env, () => inputs.baseline.market.params.ppo);
      // The run's stream, not the node's: the baseline plays the same episodes in every scenario's comparison.
      const rng = Random.fromSeed((yield* Rng).seed).split("whatif-evaluation");
      const executor = yield* acquireRolloutExecutor(p.rollouts, Math.ceil(p.episodes / p.episodesPerShard));
      const options = {
        ecn,
        returns: learners.map((l) => ({ discount: l.ppo.discount, gaeLambda: l.ppo.gaeLambda })),
        episodes: p.episodes,
        episodesPerShard: p.episodesPerShard,
        workers: 0,
        ...(executor !== undefined ? { executor } : {}),
        ...workerBackend(backend.current())
      };
      // One market at a time through the same live agent: each evaluation ships its weights first.
      const evaluate = (state: ReequilibrationState) =>
        Effect.gen(function* () {
          const agent = yield* liveAgent(learners[0]!, state.lp);
          return yield* Stage.attemptPromise("evaluate-scenario", () =>
            evaluateMarket({ config: frozenGame(state.market), ecn: frozenEcn(state.market, ecn), policies: [agent] }, options, rng)
          );
        });
      const baseline = yield* evaluate(inputs.baseline);
      const scenario = yield* evaluate(inputs.scenario);
      const comparisons = yield* Stage.attempt("evaluate-scenario", () => compareMarkets(baseline, scenario, p.level));
      const distributions = baseline.series.flatMap((b, k) =>
        DISTRIBUTED.includes(b.metric) && b.entity.kind === "supertype"
          ? [{ metric: b.metric, entity: entityLabel(b.entity), baseline: Array.from(b.values), scenario: Array.from(scenario.series[k]!.values) }]
          : []
      );
      return {
        scenario: "",
        edits: inputs.scenario.market.edits,
        episodes: p.episodes,
        level: p.level,
        comparisons,
        distributions,
        baseline: outcomeOf(inputs.baseline),
        reequilibrated: outcomeOf(inputs.scenario)
      } satisfies ScenarioComparison;
    })
});

// ---------------------------------------------------------------------------------------------
// whatif-report
// ---------------------------------------------------------------------------------------------

export const WhatIfSummary = Schema.Struct({
  scenarios: Schema.Array(
    Schema.Struct({
      name: Schema.String,
      edits: Schema.Array(Schema.Struct({ path: Schema.String, value: Schema.Number })),
      baselineIterations: Schema.Number,
      baselineDecision: Schema.String,
      iterations: Schema.Number,
      decision: Schema.String,
      exploitabilityGain: Schema.NullOr(Schema.Number),
      exploitabilityStdError: Schema.NullOr(Schema.Number),
      fromScratchIterations: Schema.NullOr(Schema.Number),
      fromScratchDecision: Schema.NullOr(Schema.String),
      differencesExcludingZero: Schema.Number,
      differences: Schema.Number
    })
  ),
  from: Schema.String,
  episodes: Schema.Number,
  level: Schema.Number
});
export type WhatIfSummary = typeof WhatIfSummary.Type;

export type WhatIfReport = TableReport<WhatIfSummary>;

export const whatIfReportCodec = tableReportCodec("whatif-report", WhatIfSummary);

const COLUMNS: Readonly<Record<string, { unit: string; meaning: string }>> = {
  scenario: { unit: "", meaning: "the scenario's name" },
  metric: { unit: "", meaning: "the market metric (paper section 5.2)" },
  entity: { unit: "", meaning: "LP i, LP supertype s, or the market" },
  meaning: { unit: "", meaning: "what the metric measures, with its unit" },
  baseline_mean: { unit: "metric", meaning: "mean over the evaluation episodes in the baseline market" },
  scenario_mean: { unit: "metric", meaning: "mean over the same episodes in the scenario's market" },
  difference: { unit: "metric", meaning: "mean paired difference scenario - baseline" },
  std_error: { unit: "metric", meaning: "standard error of the paired difference" },
  ci_low: { unit: "metric", meaning: "lower end of the difference's confidence interval" },
  ci_high: { unit: "metric", meaning: "upper end of the difference's confidence interval" },
  excludes_zero: { unit: "", meaning: "whether the interval excludes 0" },
  episodes: { unit: "episodes", meaning: "episodes both markets played" }
};

const comparisonTable = (scenarios: readonly ScenarioComparison[]): arrow.Table => {
  const rows = scenarios.flatMap((s) => s.comparisons.map((c) => ({ s, c })));
  const text = (f: (r: (typeof rows)[number]) => string, id: number) => arrow.vectorFromArray(rows.map(f), new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32(), id));
  const float = (f: (r: (typeof rows)[number]) => number) => arrow.makeVector(Float64Array.from(rows, f));
  const table = new arrow.Table({
    scenario: text((r) => r.s.scenario, 0),
    metric: text((r) => r.c.metric, 1),
    entity: text((r) => r.c.entity, 2),
    meaning: text((r) => r.c.meaning, 3),
    baseline_mean: float((r) => r.c.difference.baselineMean),
    scenario_mean: float((r) => r.c.difference.scenarioMean),
    difference: float((r) => r.c.difference.mean),
    std_error: float((r) => r.c.difference.stdError),
    ci_low: float((r) => r.c.difference.ciLow),
    ci_high: float((r) => r.c.difference.ciHigh),
    excludes_zero: arrow.vectorFromArray(rows.map((r) => r.c.difference.ciLow > 0 || r.c.difference.ciHigh < 0), new arrow.Bool()),
    episodes: arrow.makeVector(Int32Array.from(rows, (r) => r.c.difference.n))
  });
  return describedTable(table, Object.entries(COLUMNS));
};

/** Differences with their intervals as points with error bars, one row per entity. */
const differenceChart = (scenario: ScenarioComparison, metric: string): VegaLiteSpec => ({
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title: `${scenario.scenario}: ${metric}, scenario - baseline (${Math.round(scenario.level * 100)}% CI)`,
  width: 420,
  data: {
    values: scenario.comparisons.filter((c) => c.metric === metric).map((c) => ({ entity: c.entity, difference: c.difference.mean, low: c.difference.ciLow, high: c.difference.ciHigh }))
  },
  layer: [
    { mark: { type: "rule" }, encoding: { y: { field: "entity", type: "nominal", sort: null, title: null }, x: { field: "low", type: "quantitative", title: `difference in ${metric}` }, x2: { field: "high" } } },
    { mark: { type: "point", filled: true }, encoding: { y: { field: "entity", type: "nominal", sort: null }, x: { field: "difference", type: "quantitative" } } },
    { data: { values: [{ zero: 0 }] }, mark: { type: "rule", strokeDash: [4, 4], color: "gray" }, encoding: { x: { field: "zero", type: "quantitative" } } }
  ]
});

/** Each supertype's per-episode values in both markets as box plots (the distributions behind the means). */
const distributionChart = (scenario: ScenarioComparison, metric: string): VegaLiteSpec => ({
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title: `${scenario.scenario}: ${metric} per episode`,
  width: 420,
  data: {
    values: scenario.distributions
      .filter((d) => d.metric === metric)
      .flatMap((d) => [
        ...d.baseline.map((value) => ({ entity: d.entity, market: "baseline", value })),
        ...d.scenario.map((value) => ({ entity: d.entity, market: scenario.scenario, value }))
      ])
  },
  mark: { type: "boxplot", extent: "min-max" },
  encoding: {
    y: { field: "entity", type: "nominal", title: null },
    yOffset: { field: "market", type: "nominal" },
    x: { field: "value", type: "quantitative", title: metric },
    color: { field: "market", type: "nominal" }
  }
});

const curveChart = (title: string, loops: ReadonlyArray<{ label: string; outcome: LoopOutcome }>): VegaLiteSpec => ({
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title,
  width: 420,
  height: 220,
  data: {
    values: loops.flatMap(({ label, outcome }) =>
      Object.entries(outcome.curves).flatMap(([curve, values]) => values.map((reward, i) => ({ iteration: i + 1, reward, series: `${label}: ${curve}` })))
    )
  },
  mark: { type: "line" },
  encoding: {
    x: { field: "iteration", type: "quantitative" },
    y: { field: "reward", type: "quantitative", title: "mean LP episode reward" },
    color: { field: "series", type: "nominal", legend: { labelLimit: 400 } }
  }
});

const ORDER = [...LP_METRICS.filter((m) => m === "marketShare"), ...LP_METRICS.filter((m) => m !== "marketShare"), ...MARKET_METRICS.filter((m) => m !== "marketShare")];

/** The report of `scenarios` (in the pipeline's order) with the from-scratch references of those in `scratch`. */
export const whatIfReport = (scenarios: readonly string[], scratch: readonly string[]) =>
  Stage.make({
    name: "whatif-report",
    description: "the scenarios against the baseline: market shares first, then every metric, with CIs; re-equilibration curves",
    source: import.meta.url,
    params: Schema.Struct({
      fromScratch: Schema.propertySignature(Schema.Array(Schema.String)).annotations({ description: "Scenarios that also re-equilibrate from fresh weights, to show what the warm start saves." }),
      from: Schema.propertySignature(Schema.String).annotations({ description: "The calibration pipeline whose calibrated market the scenarios start from (its params and cached results)." })
    }),
    inputs: Object.fromEntries([
      ...scenarios.map((name) => [name, scenarioComparisonCodec] as const),
      ...scratch.map((name) => [`from-scratch:${name}`, reequilibrationStateCodec] as const)
    ]) as Readonly<Record<string, typeof scenarioComparisonCodec | typeof reequilibrationStateCodec>>,
    output: whatIfReportCodec,
    exports: [
      { name: "report", extension: "html", encode: (r: WhatIfReport) => new TextEncoder().encode(r.html) },
      { name: "comparisons", extension: "parquet", encode: (r: WhatIfReport) => tableToParquet(r.table) },
      { name: "summary", extension: "json", encode: (r: WhatIfReport) => new TextEncoder().encode(JSON.stringify(r.summary, null, 2)) }
    ],
    run: (inputs: Readonly<Record<string, ScenarioComparison | ReequilibrationState>>, p: { readonly from: string }) =>
      Effect.gen(function* () {
        const compared = scenarios.map((name) => ({ ...(inputs[name] as ScenarioComparison), scenario: name }));
        const scratchOf = (name: string) => (scratch.includes(name) ? (inputs[`from-scratch:${name}`] as ReequilibrationState) : undefined);
        const first = compared[0];
        const summary: WhatIfSummary = {
          scenarios: compared.map((s) => {
            const reference = scratchOf(s.scenario);
            return {
              name: s.scenario,
              edits: s.edits.map((e) => ({ path: e.path, value: e.value })),
              baselineIterations: s.baseline.iterations,
              baselineDecision: s.baseline.decision,
              iterations: s.reequilibrated.iterations,
              decision: s.reequilibrated.decision,
              exploitabilityGain: s.reequilibrated.exploitability?.gain ?? null,
              exploitabilityStdError: s.reequilibrated.exploitability?.gainStdError ?? null,
              fromScratchIterations: reference?.iteration ?? null,
              fromScratchDecision: reference?.decision ?? null,
              differencesExcludingZero: s.comparisons.filter((c) => c.difference.ciLow > 0 || c.difference.ciHigh < 0).length,
              differences: s.comparisons.length
            };
          }),
          from: p.from,
          episodes: first?.episodes ?? 0,
          level: first?.level ?? 0.95
        };
        const sections: ReportSection[] = [];
        sections.push({
          heading: "Re-equilibration",
          text:
            "Each market starts from the calibrated LP policy (weights and Adam moments) with the calibrated profile Lambda frozen at the mean of the calibrator's final particles, and trains until every LP supertype's mean reward curve is flat (the 95% interval of its slope over the window contains 0) and one LP fine-tuned against the frozen policy gains nothing beyond noise (its gain within the set number of standard errors of 0; the deviation gain below is the last such test), or the cap. The baseline is the same loop with no change; all loops draw the same random numbers. From scratch: the same loop from freshly drawn weights.",
          table: {
            columns: ["scenario", "edits", "baseline iterations", "scenario iterations", "decision", "deviation gain", "gain std. error", "from scratch iterations", "from scratch decision"],
            rows: summary.scenarios.map((s) => [
              s.name,
              s.edits.length === 0 ? "none (control)" : s.edits.map((e) => `${e.path} = ${e.value}`).join(", "),
              s.baselineIterations,
              s.iterations,
              s.decision,
              s.exploitabilityGain,
              s.exploitabilityStdError,
              s.fromScratchIterations,
              s.fromScratchDecision
            ])
          },
          svgs: yield* Effect.forEach(compared, (s) => {
            const reference = scratchOf(s.scenario);
            return Effect.promise(() =>
              renderSvg(
                curveChart(`${s.scenario}: LP supertype rewards while re-equilibrating`, [
                  { label: "baseline", outcome: s.baseline },
                  { label: s.scenario, outcome: s.reequilibrated },
                  ...(reference !== undefined ? [{ label: "from scratch", outcome: outcomeOf(reference) }] : [])
                ])
              )
            );
          })
        });
        for (const s of compared) {
          const ordered = ORDER.flatMap((metric) => s.comparisons.filter((c) => c.metric === metric));
          sections.push({
            heading: `Scenario ${s.scenario}`,
            text: `${s.edits.length === 0 ? "No change (the control: every interval should contain 0)." : `Edits: ${s.edits.map((e) => `${e.path} = ${e.value}`).join(", ")}.`} Differences scenario - baseline over ${s.episodes} episodes played by both markets on the same random numbers, with ${Math.round(s.level * 100)}% confidence intervals; ${summary.scenarios.find((x) => x.name === s.scenario)!.differencesExcludingZero} of ${s.comparisons.length} exclude 0.`,
            svgs: yield* Effect.forEach(
              [
                ...["marketShare", "meanAbsInventory", "hedgeFraction", "spread"].map((metric) => differenceChart(s, metric)),
                ...DISTRIBUTED.map((metric) => distributionChart(s, metric))
              ],
              (spec) => Effect.promise(() => renderSvg(spec))
            ),
            table: {
              columns: ["metric", "entity", "baseline", "scenario", "difference", "CI low", "CI high", "excludes 0"],
              rows: ordered.map((c) => [c.metric, c.entity, c.difference.baselineMean, c.difference.scenarioMean, c.difference.mean, c.difference.ciLow, c.difference.ciHigh, c.difference.ciLow > 0 || c.difference.ciHigh < 0])
            }
          });
        }
        const html = htmlReport(
          "What-if scenarios from the calibrated market",
          `The paper's purpose (section 1): ask what happens to the calibrated market (${p.from}) when something changes, e.g. a competitor's risk aversion. Market shares come first; every metric is in comparisons.parquet.`,
          sections
        );
        return { html, table: comparisonTable(compared), summary } satisfies WhatIfReport;
      })
  });
