/**
 * Stages of the calibration experiments (SPEC 3, 4; paper section 4, algorithm 1): the loop
 * nodes `train-calsheq` and `train-bo` (rollouts -> LP shared-policy PPO update -> calibrator
 * update, one iteration per loop step, checkpointed) over core/calibration/trainer.ts. The loop
 * state is the live trainer between iterations and its plain `TrainerState` in checkpoints.
 */
import * as arrow from "apache-arrow";
import { Effect, Schema } from "effect";
import { arrowTableCodec } from "../core/pipeline/codecs/arrow.ts";
import { tableToParquet } from "../core/pipeline/codecs/parquet.ts";
import { defaultBayesOptParams } from "../core/calibration/bayes-opt.ts";
import { defaultCalsheqParams } from "../core/calibration/calsheq.ts";
import { experimentDefinition, type CalibrationTargets, type ExperimentId } from "../core/calibration/experiments.ts";
import { CalibrationTrainer, type CalibrationMethod, type CalibrationTrainingParams, type TrainerState } from "../core/calibration/trainer.ts";
import { Backend } from "../core/pipeline/backend.ts";
import { structuredCodec } from "../core/pipeline/codecs/structured.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { CalibrationParams } from "../schemas/calibration.ts";
import { workerBackend } from "../schemas/rollouts.ts";
import { resolvePpoBackend } from "./network-backend.ts";
import { acquireRolloutExecutor } from "./rollout-executor.ts";
import type { EcnModel } from "../schemas/ecn.ts";
import { ecnModelCodec } from "./ecn.ts";
import { ecnSimModelCodec, neuralModelOf, type EcnSimModel } from "./ecn-neural.ts";
import type { OtcEcnSpec } from "../core/otc/rollout-env.ts";
import { ppoParamsFrom } from "./shared.ts";

/** Between iterations the live trainer; after a checkpoint is read back, its plain state. */
export interface TrainingLoopState {
  readonly trainer?: CalibrationTrainer;
  readonly saved?: TrainerState;
}

const isTrainerState = (value: unknown): value is TrainerState => {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v["iteration"] === "number" && typeof v["envSteps"] === "number" && Array.isArray(v["rows"]) && typeof v["lp"] === "object";
};

const trainerStateCodec = structuredCodec("calibration-trainer", isTrainerState);

export const trainingStateCodec = {
  name: "calibration-training-state",
  extension: "ckpt",
  encode: (state: TrainingLoopState): Uint8Array => trainerStateCodec.encode(state.trainer?.getState() ?? state.saved!),
  decode: (bytes: Uint8Array): TrainingLoopState => ({ saved: trainerStateCodec.decode(bytes) })
};

/** The plain rows of a loop state, whichever form it is in. */
export const rowsOf = (state: TrainingLoopState) => state.trainer?.history ?? state.saved?.rows ?? [];

/** The experiment and targets a loop state was trained for. */
export const setupOf = (state: TrainingLoopState): { experiment: ExperimentId; targets: CalibrationTargets } => {
  if (state.trainer !== undefined) return { experiment: state.trainer.params.experiment, targets: state.trainer.params.targets };
  return { experiment: state.saved!.experiment, targets: state.saved!.targets };
};

export const trainingParams = (p: CalibrationParams, method: CalibrationMethod): CalibrationTrainingParams => {
  const experiment = p.experiment as ExperimentId;
  const base = experimentDefinition(experiment).targets;
  const targets: CalibrationTargets =
    base.kind === "shares"
      ? { ...base, shareSuper1: p.targets.m_super1, minShareTotal: p.targets.m_total }
      : { ...base, minShareSuper1: p.targets.m_super1_min, minShareTotal: p.targets.m_total };
  const calibratorPpo = defaultCalsheqParams.ppo;
  return {
    experiment,
    method,
    episodes: p.episodes,
    horizon: p.horizon,
    episodesPerShard: p.episodesPerShard,
    ppo: ppoParamsFrom(p.ppo),
    calsheq: {
      ...defaultCalsheqParams,
      learningRateRatio: p.calsheq.learningRateRatio,
      maxStepFraction: p.calsheq.maxStepFraction,
      boundary: p.calsheq.boundary,
      form: p.calsheq.form,
      ppo: {
        ...calibratorPpo,
        sgdPasses: p.calsheq.sgdPasses,
        minibatchSize: Math.min(calibratorPpo.minibatchSize, p.episodes),
        network: {
          ...calibratorPpo.network,
          compute: { backend: p.ppo.backend, intraOpThreads: p.ppo.threads },
          policy: { ...calibratorPpo.network.policy, hiddenWidths: p.calsheq.hidden },
          value: { ...calibratorPpo.network.value, hiddenWidths: p.calsheq.hidden }
        }
      }
    },
    boEvery: p.bo.every,
    bo: { ...defaultBayesOptParams, acquisition: p.bo.acquisition, kappa: p.bo.kappa },
    targets
  };
};

/** The simulator's ECN model as data: the vanilla mixture, or the network `train-ecn-sim-model` trained. */
export const ecnSpecOf = (model: EcnModel, sim: EcnSimModel): OtcEcnSpec => {
  const neural = neuralModelOf(sim);
  return neural === undefined ? { kind: "gmm", data: model } : { kind: "neural", neural, vanilla: model };
};

/** A trainer for `params` whose rollouts run as `p.rollouts` asks, on the run's tfjs backend. */
const buildTrainer = (model: EcnModel, sim: EcnSimModel, params: CalibrationTrainingParams, p: CalibrationParams | undefined) =>
  Effect.gen(function* () {
    const backend = yield* Backend;
    yield* backend.ensure;
    const rng = (yield* Rng).stream;
    const shards = Math.ceil(params.episodes / params.episodesPerShard);
    const executor = p === undefined ? undefined : yield* acquireRolloutExecutor(p.rollouts, shards);
    return new CalibrationTrainer(params, ecnSpecOf(model, sim), rng.split("init"), {
      workers: 0,
      ...(executor !== undefined ? { executor } : {}),
      ...workerBackend(backend.current())
    });
  });

const makeTrainer = (model: EcnModel, sim: EcnSimModel, p: CalibrationParams, method: CalibrationMethod) =>
  Effect.flatMap(resolvePpoBackend(p.ppo), (ppo) => buildTrainer(model, sim, trainingParams({ ...p, ppo }, method), p));

const trainingStage = (method: CalibrationMethod) =>
  Stage.loop({
    name: method === "calsheq" ? "train-calsheq" : "train-bo",
    description:
      method === "calsheq"
        ? "CALSHEQ: LP shared policy and calibrator trained together (algorithm 1)"
        : "Bayesian-optimisation baseline with the same shared-policy training (SPEC 4.3)",
    source: import.meta.url,
    params: CalibrationParams,
    scheduleParams: ["iterations", "checkpointEvery"],
    executionParams: ["rollouts"],
    iterations: (p) => p.iterations,
    checkpointEvery: (p) => p.checkpointEvery,
    inputs: { model: ecnModelCodec, sim: ecnSimModelCodec },
    state: trainingStateCodec,
    init: (inputs, p) => Effect.map(makeTrainer(inputs.model, inputs.sim, p, method), (trainer): TrainingLoopState => ({ trainer })),
    // Rollout threads or Redis connections close when the run ends; the trainer stays readable.
    release: (state) => Effect.promise(async () => state.trainer?.rollouts.close()),
    step: (state, inputs, p, context) =>
      Effect.gen(function* () {
        let trainer = state.trainer;
        if (trainer === undefined) {
          trainer = yield* makeTrainer(inputs.model, inputs.sim, p, method);
          trainer.setState(state.saved!);
        }
        const rng = (yield* Rng).stream.split("iterations").split(context.iteration);
        const started = performance.now();
        const live = trainer;
        const row = yield* Stage.attemptPromise(method === "calsheq" ? "train-calsheq" : "train-bo", () => live.iterate(rng));
        const seconds = (performance.now() - started) / 1000;
        const stepsPerSecond = (p.episodes * p.horizon) / seconds;
        context.status(
          `r_cal ${row["calibration/reward"]?.toFixed(3)} m_super1 ${row["targets/m_super1"]?.toFixed(3)} m_total ${row["targets/m_total"]?.toFixed(3)} | ${stepsPerSecond.toFixed(0)} env steps/s`
        );
        return { trainer };
      })
  });

export const trainCalsheq = trainingStage("calsheq");
export const trainBo = trainingStage("bo");

/**
 * Stage `episode-records` (SPEC 2, issue 5): episodes played by the trained LP policy at the
 * calibrated profile, one row per agent and step: action, quotes, trades (counterparty, sizes,
 * prices), inventory, cash, PnL components, reward and market share, as an Arrow table with a
 * Parquet export for DuckDB, pandas or Polars.
 */
export const episodeRecords = Stage.make({
  name: "episode-records",
  description: "per-agent, per-step records of episodes played by the calibrated market",
  source: import.meta.url,
  params: Schema.Struct({
    /** Episodes to play. */
    episodes: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1000)), { default: () => 4 })
  }),
  inputs: { model: ecnModelCodec, sim: ecnSimModelCodec, trained: trainingStateCodec },
  output: arrowTableCodec,
  exports: [{ name: "episodes", extension: "parquet", encode: (table: arrow.Table) => tableToParquet(table) }],
  run: (inputs, p) =>
    Effect.gen(function* () {
      const rng = (yield* Rng).stream;
      let trainer = inputs.trained.trainer;
      if (trainer === undefined) {
        const saved = inputs.trained.saved!;
        trainer = yield* buildTrainer(inputs.model, inputs.sim, saved.params, undefined);
        trainer.setState(saved);
      }
      const live = trainer;
      return yield* Stage.attempt("episode-records", () => {
        const { rows: _rows, ...columns } = live.recordEpisodes(p.episodes, rng);
        return arrow.tableFromArrays(columns as unknown as Record<string, Int32Array | Uint8Array | Float32Array | Float64Array>);
      });
    })
});
