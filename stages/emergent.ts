/**
 * Stages of the emergent-behaviour analysis (SPEC 5; paper sections 3.2 and 5.2), thin wrappers of
 * core/analysis: `evaluate-emergent` plays the trained section 5.2 policies over a grid of the first
 * LP's attributes and the figure 3 markets and stores the metrics as Arrow tables
 * (core/analysis/emergent-eval.ts); `train-game` is the loop of one figure 6 game, shared-policy
 * training that logs the Hamiltonian weights of definition 3.17 every few iterations
 * (core/analysis/game-analysis.ts); `emergent-report` draws every figure and the findings table
 * (core/analysis/emergent-plots.ts, emergent-findings.ts) into one HTML page. Training of the 5.2
 * population itself is `train-shared` of stages/shared.ts.
 */
import * as arrow from "apache-arrow";
import { Effect, Schema } from "effect";
import { EMERGENT_ATTRIBUTES, runEmergentEvaluation, type Columns, type EmergentEvaluation } from "../core/analysis/emergent-eval.ts";
import { evaluateFindings, type EpisodeColumns, type FindingResult } from "../core/analysis/emergent-findings.ts";
import { emergentFigures } from "../core/analysis/emergent-plots.ts";
import { figure6Config, measureGameWeights, type GameWeightRow } from "../core/analysis/game-analysis.ts";
import { htmlReport, renderSvg } from "../core/analysis/report.ts";
import { studentTQuantile } from "../core/analysis/stats.ts";
import { OtcEnv } from "../core/otc/env.ts";
import { ecnVariationModelOf, otcRolloutEnv, otcRolloutLocation } from "../core/otc/rollout-env.ts";
import type { Random } from "../core/random/philox.ts";
import { RolloutRunner } from "../core/rl/rollout-runner.ts";
import { otcSupertypeLabels, SharedTrainer, type SharedTrainerState } from "../core/rl/shared-trainer.ts";
import { Backend } from "../core/pipeline/backend.ts";
import { arrowTableCodec } from "../core/pipeline/codecs/arrow.ts";
import { compositeCodec } from "../core/pipeline/codecs/composite.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { tableToParquet } from "../core/pipeline/codecs/parquet.ts";
import { structuredCodec } from "../core/pipeline/codecs/structured.ts";
import { textCodec } from "../core/pipeline/codecs/text.ts";
import { Progress } from "../core/pipeline/progress.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { EmergentSummary, EvaluationParams, GameTrainingParams, ReportParams, type EmergentSummary as Summary } from "../schemas/emergent.ts";
import { defaultRolloutSettings, RolloutSettings, workerBackend } from "../schemas/rollouts.ts";
import type { ShardExecutor } from "../core/rl/rollout-executor.ts";
import { acquireRolloutExecutor } from "./support/rollout-executor.ts";
import { ecnModelCodec } from "../schemas/ecn-artifacts.ts";
import { ppoParamsFrom } from "../schemas/ppo.ts";
import { rowsOfShared, SharedTrainingParams, sharedGameConfig, sharedLoopStateCodec } from "../schemas/shared-training.ts";
import { makeSharedTrainer } from "./support/shared-training.ts";

/** The tfjs backend rollout workers should use: the run's own, so numbers match the main thread. */

// ---------------------------------------------------------------------------------------------
// evaluate-emergent
// ---------------------------------------------------------------------------------------------

export type EmergentTables = {
  episodes: arrow.Table;
  values: arrow.Table;
  flowResponse: arrow.Table;
  holding: arrow.Table;
  skewPoints: arrow.Table;
  pnlLtFlow: arrow.Table;
};

export const emergentTablesCodec = compositeCodec<EmergentTables>("emergent-tables", {
  episodes: arrowTableCodec,
  values: arrowTableCodec,
  flowResponse: arrowTableCodec,
  holding: arrowTableCodec,
  skewPoints: arrowTableCodec,
  pnlLtFlow: arrowTableCodec
});

const toTable = (columns: Columns): arrow.Table => arrow.tableFromArrays(columns as Record<string, Float64Array | string[]>);

const stringColumn = (table: arrow.Table, name: string): string[] => {
  const vector = table.getChild(name);
  const out: string[] = [];
  if (vector === null) return out;
  for (let i = 0; i < vector.length; i++) out.push(String(vector.get(i)));
  return out;
};

/** Columns of a table, with string columns read value by value (dictionary-encoded or not). */
const readColumns = (table: arrow.Table): Columns => {
  const out: Columns = {};
  for (const field of table.schema.fields) {
    out[field.name] =
      arrow.DataType.isUtf8(field.type) || arrow.DataType.isDictionary(field.type)
        ? stringColumn(table, field.name)
        : Float64Array.from(table.getChild(field.name)!.toArray() as ArrayLike<number>);
  }
  return out;
};

export const evaluateEmergentStage = Stage.make({
  name: "evaluate-emergent",
  description: "the trained 5.2 policies over a grid of the first LP's attributes and the figure 3 markets (SPEC 5)",
  source: import.meta.url,
  /** Read where the training params sit beside it: the training setup rebuilds the game, `rollouts` sets the worker threads. */
  params: Schema.Struct({
    training: SharedTrainingParams,
    evaluation: EvaluationParams,
    rollouts: Schema.optionalWith(RolloutSettings, { default: defaultRolloutSettings })
  }),
  executionParams: ["rollouts"],
  inputs: { model: ecnModelCodec, shared: sharedLoopStateCodec },
  output: emergentTablesCodec,
  exports: (["episodes", "values", "flowResponse", "holding", "skewPoints", "pnlLtFlow"] as const).map((name) => ({
    name,
    extension: "parquet",
    encode: (value: EmergentTables) => tableToParquet(value[name])
  })),
  run: (inputs, p) =>
    Effect.gen(function* () {
      const backend = yield* Backend;
      yield* backend.ensure;
      const rng = (yield* Rng).stream;
      const progress = yield* Progress;
      const e = p.evaluation;
      const shards = Math.ceil(e.episodes / e.episodesPerShard);
      const total = (EMERGENT_ATTRIBUTES.reduce((n, a) => n + e.grid[a].length, 0) + e.pnlLtCounts.length) * e.episodes;
      const task = progress.task("evaluate-emergent", total);
      const trainer = makeSharedTrainer(inputs.model, p.training, rng.split("init"), { workers: 0 });
      const executor = yield* acquireRolloutExecutor(p.rollouts, shards);
      const started = performance.now();
      const result = yield* Stage.attemptPromise("evaluate-emergent", async (): Promise<EmergentEvaluation> => {
        try {
          trainer.setState(inputs.shared.trainer?.getState() ?? inputs.shared.saved!);
          let done = 0;
          return await runEmergentEvaluation(
            {
              config: sharedGameConfig(p.training),
              ecn: { kind: "gmm", data: inputs.model },
              policies: trainer.agents,
              returns: trainer.agents.map((a) => ({ discount: a.params.discount, gaeLambda: a.params.gaeLambda })),
              grid: e.grid,
              base: e.base,
              episodes: e.episodes,
              pnlLtCounts: e.pnlLtCounts,
              epsBins: { low: -1.5, high: 2.5, width: e.epsBinWidth },
              inventoryBucket: e.inventoryBucket,
              scatterPoints: e.scatterPoints,
              episodesPerShard: e.episodesPerShard,
              workers: 0,
              ...(executor !== undefined ? { executor } : {}),
              ...workerBackend(backend.current()),
              progress: (n) => {
                task.advance(n - done);
                done = n;
              }
            },
            rng.split("evaluation")
          );
        } finally {
          await trainer.dispose();
        }
      });
      task.done(`${result.episodesPlayed} episodes, ${((result.episodesPlayed / (performance.now() - started)) * 1000).toFixed(1)} episodes/s`);
      return {
        episodes: toTable(result.episodes),
        values: toTable(result.values),
        flowResponse: toTable(result.flowResponse),
        holding: toTable(result.holding),
        skewPoints: toTable(result.skewPoints),
        pnlLtFlow: toTable(result.pnlLtFlow)
      };
    })
});

// ---------------------------------------------------------------------------------------------
// train-game: one game of figure 6, with omega_A logged during training
// ---------------------------------------------------------------------------------------------

export interface GameLoopState {
  readonly trainer?: SharedTrainer;
  readonly saved?: SharedTrainerState;
  readonly weights: readonly GameWeightRow[];
}

const isGameCheckpoint = (value: unknown): value is { trainer: SharedTrainerState; weights: GameWeightRow[] } => {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v["trainer"] === "object" && v["trainer"] !== null && Array.isArray(v["weights"]);
};

const gameCheckpointCodec = structuredCodec("emergent-game", isGameCheckpoint);

export const gameLoopStateCodec = {
  name: "emergent-game-state",
  extension: "ckpt",
  encode: (state: GameLoopState): Uint8Array => gameCheckpointCodec.encode({ trainer: state.trainer?.getState() ?? state.saved!, weights: [...state.weights] }),
  decode: (bytes: Uint8Array): GameLoopState => {
    const { trainer, weights } = gameCheckpointCodec.decode(bytes);
    return { saved: trainer, weights };
  }
};

const gameTrainer = (
  model: import("../schemas/ecn.ts").EcnModel,
  p: GameTrainingParams,
  rng: Random,
  execution: { workers: number; backend?: "wasm" | "cpu"; executor?: ShardExecutor }
) => {
  const config = figure6Config(p.game, p.lpRiskAversion, p.horizon);
  const runner = new RolloutRunner({
    factory: otcRolloutEnv,
    location: otcRolloutLocation,
    args: { config, ecn: { kind: "gmm", data: model } },
    episodes: p.episodes,
    episodesPerShard: p.episodesPerShard,
    ...execution
  });
  return new SharedTrainer(
    runner,
    {
      ppo: { lp: ppoParamsFrom(p.lp), lt: ppoParamsFrom(p.lt) },
      defaultPpo: ppoParamsFrom(p.lp),
      learning: ["lp", "lt"],
      episodes: p.episodes,
      labels: otcSupertypeLabels(runner.probe, p.episodes)
    },
    rng
  );
};

const freshGameTrainer = (model: import("../schemas/ecn.ts").EcnModel, p: GameTrainingParams) =>
  Effect.gen(function* () {
    const backend = yield* Backend;
    yield* backend.ensure;
    const rng = (yield* Rng).stream;
    const executor = yield* acquireRolloutExecutor(p.rollouts, Math.ceil(p.episodes / p.episodesPerShard));
    return gameTrainer(model, p, rng.split("init"), { workers: 0, ...(executor !== undefined ? { executor } : {}), ...workerBackend(backend.current()) });
  });

export const trainGame = Stage.loop({
  name: "train-game",
  description: "one figure 6 game trained by shared-policy PPO, its Hamiltonian weights omega_A logged (section 3.2)",
  source: import.meta.url,
  params: GameTrainingParams,
  scheduleParams: ["iterations", "checkpointEvery"],
  executionParams: ["rollouts"],
  iterations: (p) => p.iterations,
  checkpointEvery: (p) => p.checkpointEvery,
  inputs: { model: ecnModelCodec },
  state: gameLoopStateCodec,
  init: (inputs, p) => Effect.map(freshGameTrainer(inputs.model, p), (trainer): GameLoopState => ({ trainer, weights: [] })),
  // Rollout threads or Redis connections close when the run ends; the trainer stays readable.
  release: (state) => Effect.promise(async () => state.trainer?.env.close()),
  step: (state, inputs, p, context) =>
    Effect.gen(function* () {
      let trainer = state.trainer;
      if (trainer === undefined) {
        trainer = yield* freshGameTrainer(inputs.model, p);
        trainer.setState(state.saved!);
      }
      const live = trainer;
      const rng = (yield* Rng).stream.split("iterations").split(context.iteration);
      const row = yield* Stage.attemptPromise("train-game", () => live.iterate(rng.split("train")));
      let weights = state.weights;
      if (context.iteration === 1 || context.iteration % p.analysisEvery === 0) {
        // Measured on the policies after this iteration's update, on an in-thread batch of its own.
        const env = new OtcEnv({
          config: figure6Config(p.game, p.lpRiskAversion, p.horizon),
          batchSize: p.analysisEpisodes,
          ecnModel: ecnVariationModelOf({ kind: "gmm", data: inputs.model })
        });
        const measured = yield* Stage.attemptPromise("train-game", () => measureGameWeights(env, live.agents, rng.split("analysis"), context.iteration));
        weights = [...weights, ...measured];
        const first = measured[0];
        context.status(`lp reward ${row["lp/charts/episode_reward_mean"]?.toFixed(3)} | omega_A ${first?.pair} ${first?.omegaA?.toFixed(2) ?? "n/a"}`);
      } else context.status(`lp reward ${row["lp/charts/episode_reward_mean"]?.toFixed(3)}`);
      return { trainer: live, weights } satisfies GameLoopState;
    })
});

// ---------------------------------------------------------------------------------------------
// emergent-report
// ---------------------------------------------------------------------------------------------

export type EmergentReport = { html: string; findings: arrow.Table; summary: Summary };

export const emergentReportCodec = compositeCodec<EmergentReport>("emergent-report", {
  html: textCodec("html"),
  findings: arrowTableCodec,
  summary: jsonCodec(EmergentSummary)
});

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

export const emergentReport = Stage.make({
  name: "emergent-report",
  description: "figures 3, 6, 9-24 and the findings table of section 5.2 in one HTML page",
  source: import.meta.url,
  params: ReportParams,
  inputs: { shared: sharedLoopStateCodec, evaluation: emergentTablesCodec, pnl1v1: gameLoopStateCodec, pnl2v1: gameLoopStateCodec, flow1v1: gameLoopStateCodec },
  output: emergentReportCodec,
  exports: [
    { name: "report", extension: "html", encode: (value: EmergentReport) => new TextEncoder().encode(value.html) },
    { name: "findings", extension: "parquet", encode: (value: EmergentReport) => tableToParquet(value.findings) },
    { name: "summary", extension: "json", encode: (value: EmergentReport) => new TextEncoder().encode(JSON.stringify(value.summary, null, 2)) }
  ],
  run: (inputs, p) =>
    Effect.gen(function* () {
      const ev = inputs.evaluation;
      const episodes = readColumns(ev.episodes);
      const findings = evaluateFindings(episodes as unknown as EpisodeColumns, p.level);
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
        `Shared LP and LT policies trained for ${training.length} iterations on the section 5.2 population (first LP's connectivities, PnL weight and risk aversion randomised), then evaluated with one attribute of the first LP varied at a time (${evaluationEpisodes} evaluation episodes). Findings: each claim as the OLS slope of a per-episode metric on the attribute with an HC1-robust ${(p.level * 100).toFixed(0)}% confidence interval; SPEC 5 findings: ${verdictCounts("SPEC 5")}; other claims of the paper's text: ${verdictCounts("paper 5.2")}.`,
        [
          {
            heading: "Findings",
            text: "reproduced: the whole interval has the paper's sign; opposite: the whole interval has the other sign; inconclusive: the interval contains 0. Nothing is tuned to make a claim hold.",
            table: {
              columns: ["finding", "source", "attribute", "metric", "paper's sign", "slope", "CI low", "CI high", "episodes", "verdict"],
              rows: findings.map((f) => [f.finding, f.source, f.attribute, f.metric, f.claimedSign > 0 ? "+" : "-", finite(f.slope), finite(f.ciLow), finite(f.ciHigh), f.episodes, f.verdict])
            }
          },
          ...figures.map((figure, k) => ({ heading: `${figure.id.replace("figure-", "Figure ")}: ${figure.title}`, text: figure.caption, svgs: [svgs[k]!] }))
        ]
      );
      const summary: Summary = {
        trainingIterations: training.length,
        evaluationEpisodes,
        findings: findings.map((f) => ({
          finding: f.finding,
          attribute: f.attribute,
          metric: f.metric,
          claimedSign: f.claimedSign,
          source: f.source,
          slope: finite(f.slope),
          ciLow: finite(f.ciLow),
          ciHigh: finite(f.ciHigh),
          episodes: f.episodes,
          verdict: f.verdict
        })),
        lastOmegaA,
        plots: svgs.length
      };
      return { html, findings: findingsTable(findings), summary };
    })
});
