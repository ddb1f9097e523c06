/**
 * Stages of shared-policy training and its diagnostics (SPEC 3; paper sections 2.2.1, 3.1, 5):
 * the loop `train-shared` (B episodes -> one PPO update per learning class, checkpointed like
 * train-calsheq, over core/rl/shared-trainer.ts), `exploitability` (fine-tune a copy of the shared
 * policy for one agent while the others stay frozen, report the gain; core/rl/exploitability.ts)
 * and `shared-report` (reward over training per supertype: the empirical check of extended
 * transitivity, i.e. is the curve monotone or cyclic, counted as sign changes of a smoothed
 * slope). Param schemas live here because they belong to these stages only.
 */
import * as arrow from "apache-arrow";
import { Effect, Schema } from "effect";
import { htmlReport, renderSvg, type VegaLiteSpec } from "../core/analysis/report.ts";
import { gmmVariationModel } from "../core/ecn/model.ts";
import { otcRolloutEnv, otcRolloutLocation } from "../core/otc/rollout-env.ts";
import { localRollouts, RolloutRunner, type RolloutSource } from "../core/rl/rollout-runner.ts";
import { calibrationPopulation, defaultGameConfig, emergentBehaviourPopulation } from "../core/otc/config.ts";
import { OtcEnv } from "../core/otc/env.ts";
import type { Population } from "../core/otc/supertypes.ts";
import { estimateExploitability, slopeSignChanges, type ExploitabilityResult } from "../core/rl/exploitability.ts";
import { defaultPpoParams, type PpoParams } from "../core/rl/ppo.ts";
import { otcSupertypeLabels, SharedTrainer, type SharedIterationRow, type SharedTrainerState } from "../core/rl/shared-trainer.ts";
import { Backend } from "../core/pipeline/backend.ts";
import { arrowTableCodec } from "../core/pipeline/codecs/arrow.ts";
import { compositeCodec } from "../core/pipeline/codecs/composite.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { tableToParquet } from "../core/pipeline/codecs/parquet.ts";
import { structuredCodec } from "../core/pipeline/codecs/structured.ts";
import { textCodec } from "../core/pipeline/codecs/text.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import type { EcnModel } from "../schemas/ecn.ts";
import { PpoSettings } from "../schemas/ppo.ts";
import { resolvePpoBackend } from "./network-backend.ts";
import { defaultRolloutSettings, EpisodesPerShard, RolloutSettings, workerBackend } from "../schemas/rollouts.ts";
import type { ShardExecutor } from "../core/rl/rollout-executor.ts";
import { acquireRolloutExecutor } from "./rollout-executor.ts";
import { ecnModelCodec } from "./ecn.ts";

const PositiveInt = Schema.Int.pipe(Schema.positive());
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative());
const Positive = Schema.Number.pipe(Schema.positive(), Schema.finite());
const opt = <A, I>(schema: Schema.Schema<A, I>, value: A) => Schema.optionalWith(schema, { default: () => value });

/** PPO settings of one class: the project-wide schema (schemas/ppo.ts). */
export const PpoSettingsSchema = PpoSettings;
const defaultSettings = (): PpoSettings => PpoSettingsSchema.make({});

export const ppoParamsFrom = (s: PpoSettings): PpoParams => ({
  ...defaultPpoParams,
  learningRate: s.learningRate,
  sgdPasses: s.sgdPasses,
  minibatchSize: s.minibatchSize,
  clipParam: s.clip,
  klTarget: s.klTarget,
  discount: s.discount,
  gaeLambda: s.gaeLambda,
  entropyCoeff: s.entropyCoeff,
  network: {
    ...defaultPpoParams.network,
    policy: { ...defaultPpoParams.network.policy, hiddenWidths: s.hidden },
    value: { ...defaultPpoParams.network.value, hiddenWidths: s.hidden },
    compute: { backend: s.backend, intraOpThreads: s.threads }
  }
});

// ---------------------------------------------------------------------------------------------
// Loop state and checkpoints (shared by every loop over SharedTrainer)
// ---------------------------------------------------------------------------------------------

/** Between iterations the live trainer; after a checkpoint is read back, its plain state. */
export interface SharedLoopState {
  readonly trainer?: SharedTrainer;
  readonly saved?: SharedTrainerState;
}

const isSharedTrainerState = (value: unknown): value is SharedTrainerState => {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v["iteration"] === "number" && typeof v["envSteps"] === "number" && Array.isArray(v["rows"]) && typeof v["agents"] === "object";
};

const sharedStateCodec = structuredCodec("shared-trainer", isSharedTrainerState);

export const sharedLoopStateCodec = {
  name: "shared-training-state",
  extension: "ckpt",
  encode: (state: SharedLoopState): Uint8Array => sharedStateCodec.encode(state.trainer?.getState() ?? state.saved!),
  decode: (bytes: Uint8Array): SharedLoopState => ({ saved: sharedStateCodec.decode(bytes) })
};

export const rowsOfShared = (state: SharedLoopState): readonly SharedIterationRow[] => state.trainer?.history ?? state.saved?.rows ?? [];

/** A live trainer for a loop state: the state's own, or a fresh one restored from its checkpoint. */
export const liveTrainer = (state: SharedLoopState, make: () => SharedTrainer): SharedTrainer => {
  if (state.trainer !== undefined) return state.trainer;
  const trainer = make();
  trainer.setState(state.saved!);
  return trainer;
};

/** One loop iteration over a SharedTrainer, with the progress line. */
export const sharedLoopStep = (stage: string, trainer: SharedTrainer, iteration: number, status: (text: string) => void, describe: (row: SharedIterationRow) => string) =>
  Effect.gen(function* () {
    const rng = (yield* Rng).stream.split("iterations").split(iteration);
    const started = performance.now();
    const row = yield* Stage.attemptPromise(stage, () => trainer.iterate(rng));
    const seconds = (performance.now() - started) / 1000;
    const envSteps = trainer.options.episodes * trainer.env.horizon;
    status(`${describe(row)} | ${(envSteps / seconds).toFixed(0)} env steps/s`);
    return { trainer } satisfies SharedLoopState;
  });

// ---------------------------------------------------------------------------------------------
// train-shared
// ---------------------------------------------------------------------------------------------

export const SharedTrainingParams = Schema.Struct({
  /** Population: the emergent-behaviour setup of section 5.2 or a calibration experiment's (section 5.1). */
  population: opt(Schema.Literal("emergent", "calibration-exp1", "calibration-exp2", "calibration-exp3", "calibration-exp4"), "emergent"),
  iterations: opt(NonNegativeInt, 50),
  checkpointEvery: opt(PositiveInt, 10),
  /** B, episodes per iteration [60]. */
  episodes: opt(PositiveInt, 8),
  /** T, steps per episode [100]. */
  horizon: opt(PositiveInt, 100),
  /** Episodes per rollout shard (the unit of work of a worker thread). */
  episodesPerShard: opt(EpisodesPerShard, 4),
  /** Rollout execution (worker threads); never changes results, so not in the cache key. */
  rollouts: opt(RolloutSettings, defaultRolloutSettings()),
  /** Classes whose policy is trained. */
  learning: opt(Schema.mutable(Schema.Array(Schema.Literal("lp", "lt"))), ["lp", "lt"] as Array<"lp" | "lt">),
  lp: opt(PpoSettingsSchema, defaultSettings()),
  lt: opt(PpoSettingsSchema, defaultSettings())
});
export type SharedTrainingParams = typeof SharedTrainingParams.Type;

export const sharedPopulation = (choice: SharedTrainingParams["population"]): Population =>
  choice === "emergent" ? emergentBehaviourPopulation() : calibrationPopulation(Number(choice.slice(-1)) as 1 | 2 | 3 | 4);

export const sharedGameConfig = (p: SharedTrainingParams) => ({ ...defaultGameConfig(sharedPopulation(p.population)), horizon: p.horizon });

/** A shared trainer drawing its episodes from `source`; `probe` is an env of the same population. */
const sharedTrainerOver = (source: RolloutSource, probe: OtcEnv, p: SharedTrainingParams, rng: import("../core/random/philox.ts").Random): SharedTrainer =>
  new SharedTrainer(
    source,
    {
      ppo: { lp: ppoParamsFrom(p.lp), lt: ppoParamsFrom(p.lt) },
      defaultPpo: ppoParamsFrom(p.lp),
      learning: p.learning.filter((c) => source.classes.some((s) => s.name === c)),
      episodes: p.episodes,
      labels: otcSupertypeLabels(probe, p.episodes)
    },
    rng
  );

/** The trainer of `train-shared`, its rollouts sharded over `workers` threads (0: this thread) or on `executor`. */
export const makeSharedTrainer = (
  model: EcnModel,
  p: SharedTrainingParams,
  rng: import("../core/random/philox.ts").Random,
  execution: { readonly workers: number; readonly backend?: "wasm" | "cpu"; readonly executor?: ShardExecutor } = { workers: 0 }
): SharedTrainer => {
  const runner = new RolloutRunner({
    factory: otcRolloutEnv,
    location: otcRolloutLocation,
    args: { config: sharedGameConfig(p), ecn: { kind: "gmm", data: model } },
    episodes: p.episodes,
    episodesPerShard: p.episodesPerShard,
    ...execution
  });
  return sharedTrainerOver(runner, runner.probe, p, rng);
};

/** A trainer over one in-thread env of all B episodes, for diagnostics that drive the env themselves. */
const makeInThreadSharedTrainer = (model: EcnModel, p: SharedTrainingParams, rng: import("../core/random/philox.ts").Random) => {
  const env = new OtcEnv({ config: sharedGameConfig(p), batchSize: p.episodes, ecnModel: gmmVariationModel(model) });
  return { env, trainer: sharedTrainerOver(localRollouts(env), env, p, rng) };
};

const freshSharedTrainer = (model: EcnModel, p: SharedTrainingParams) =>
  Effect.gen(function* () {
    const backend = yield* Backend;
    yield* backend.ensure;
    // Fails early if the networks' backend cannot load; "auto" resolves the same way in the networks.
    yield* resolvePpoBackend(p.lp);
    yield* resolvePpoBackend(p.lt);
    const rng = (yield* Rng).stream;
    const executor = yield* acquireRolloutExecutor(p.rollouts, Math.ceil(p.episodes / p.episodesPerShard));
    return makeSharedTrainer(model, p, rng.split("init"), { workers: 0, ...(executor !== undefined ? { executor } : {}), ...workerBackend(backend.current()) });
  });

export const trainShared = Stage.loop({
  name: "train-shared",
  description: "shared LP and LT policies trained together by PPO (SPEC 3, eq. 10)",
  source: import.meta.url,
  params: SharedTrainingParams,
  scheduleParams: ["iterations", "checkpointEvery"],
  executionParams: ["rollouts"],
  iterations: (p) => p.iterations,
  checkpointEvery: (p) => p.checkpointEvery,
  inputs: { model: ecnModelCodec },
  state: sharedLoopStateCodec,
  init: (inputs, p) => Effect.map(freshSharedTrainer(inputs.model, p), (trainer): SharedLoopState => ({ trainer })),
  // Rollout threads or Redis connections close when the run ends; the trainer stays readable.
  release: (state) => Effect.promise(async () => state.trainer?.env.close()),
  step: (state, inputs, p, context) =>
    Effect.gen(function* () {
      let trainer = state.trainer;
      if (trainer === undefined) {
        const fresh = yield* freshSharedTrainer(inputs.model, p);
        trainer = liveTrainer(state, () => fresh);
      }
      return yield* sharedLoopStep("train-shared", trainer, context.iteration, context.status, (row) =>
        ["lp", "lt"]
          .filter((c) => row[`${c}/charts/episode_reward_mean`] !== undefined)
          .map((c) => `${c} reward ${row[`${c}/charts/episode_reward_mean`]!.toFixed(3)}`)
          .join(" ")
      );
    })
});

// ---------------------------------------------------------------------------------------------
// exploitability
// ---------------------------------------------------------------------------------------------

export const ExploitabilityParams = Schema.Struct({
  /** Class of the deviating agent. */
  agentClass: opt(Schema.Literal("lp", "lt"), "lp"),
  /** Index of the deviating agent within its class in an episode. */
  agent: opt(NonNegativeInt, 0),
  /** F, fine-tuning iterations of the deviator. */
  fineTuneIterations: opt(PositiveInt, 20),
  /** Batches of B episodes on which deviator and baseline are compared (same seeds). */
  evaluationBatches: opt(PositiveInt, 4),
  /** The deviator's PPO (it starts from the shared weights with a fresh optimiser). */
  ppo: opt(PpoSettingsSchema, defaultSettings())
});
export type ExploitabilityParams = typeof ExploitabilityParams.Type;

export const ExploitabilitySummary = Schema.Struct({
  agentClass: Schema.String,
  agent: Schema.Number,
  gain: Schema.Number,
  gainStdError: Schema.Number,
  baselineReward: Schema.Number,
  deviatorReward: Schema.Number,
  episodes: Schema.Number,
  fineTuneRewards: Schema.mutable(Schema.Array(Schema.Number))
});
export type ExploitabilitySummary = typeof ExploitabilitySummary.Type;

export const exploitabilityStage = Stage.make({
  name: "exploitability",
  description: "gain of one agent fine-tuned against the frozen shared policy (SPEC 3, section 3.1)",
  source: import.meta.url,
  /** Read where both subtrees sit side by side (e.g. node params path "shared" over { training, exploitability }). */
  params: Schema.Struct({ training: SharedTrainingParams, exploitability: ExploitabilityParams }),
  inputs: { model: ecnModelCodec, shared: sharedLoopStateCodec },
  output: jsonCodec(ExploitabilitySummary),
  run: (inputs, p) =>
    Effect.gen(function* () {
      yield* (yield* Backend).ensure;
      const rng = (yield* Rng).stream;
      const e = p.exploitability;
      const result = yield* Stage.attempt("exploitability", (): ExploitabilityResult => {
        const { env, trainer } = makeInThreadSharedTrainer(inputs.model, p.training, rng.split("init"));
        try {
          trainer.setState(inputs.shared.trainer?.getState() ?? inputs.shared.saved!);
          const classIndex = env.classes.findIndex((c) => c.name === e.agentClass);
          const spec = env.classes[classIndex];
          if (spec === undefined) throw new Error(`The population has no learning ${e.agentClass} class; pick agentClass among ${env.classes.map((c) => c.name).join(", ")}.`);
          return estimateExploitability(
            env,
            trainer.agents,
            {
              classIndex,
              agentIndex: e.agent,
              agentsPerEpisode: spec.count / p.training.episodes,
              fineTuneIterations: e.fineTuneIterations,
              evaluationBatches: e.evaluationBatches,
              ppo: ppoParamsFrom(e.ppo)
            },
            rng.split("exploitability")
          );
        } finally {
          void trainer.dispose();
        }
      });
      return { agentClass: e.agentClass, agent: e.agent, ...result, fineTuneRewards: [...result.fineTuneRewards] };
    })
});

// ---------------------------------------------------------------------------------------------
// shared-report: reward over training per supertype (extended transitivity)
// ---------------------------------------------------------------------------------------------

export const SharedReportParams = Schema.Struct({
  /** Width (iterations) of the moving average the slope is taken on. */
  smoothing: opt(PositiveInt, 10),
  /** Slopes smaller than this fraction of the curve's range per iteration count as flat. */
  flatTolerance: opt(Schema.Number.pipe(Schema.nonNegative()), 0.001)
});

export const SharedReportSummary = Schema.Struct({
  iterations: Schema.Number,
  /** Per reward series: last smoothed value and number of sign changes of the smoothed slope. */
  series: Schema.Record({ key: Schema.String, value: Schema.Struct({ last: Schema.Number, signChanges: Schema.Number, monotone: Schema.Boolean }) })
});
export type SharedReportSummary = typeof SharedReportSummary.Type;

export type SharedReport = { html: string; table: arrow.Table; summary: SharedReportSummary };
export const sharedReportCodec = compositeCodec<SharedReport>("shared-report", {
  html: textCodec("html"),
  table: arrowTableCodec,
  summary: jsonCodec(SharedReportSummary)
});

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
    { name: "iterations", extension: "parquet", encode: (value: SharedReport) => tableToParquet(value.table) },
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
          {
            heading: "Exploitability",
            table: {
              columns: ["class", "agent", "gain", "std error", "baseline reward", "deviator reward", "episodes"],
              rows: [[ex.agentClass, ex.agent, ex.gain, ex.gainStdError, ex.baselineReward, ex.deviatorReward, ex.episodes]]
            }
          }
        ]
      );
      return { html, table: rowsTable(rows), summary: { iterations: rows.length, series } };
    })
});
