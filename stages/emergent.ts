/**
 * Stages of the emergent-behaviour analysis (paper sections 3.2 and 5.2), thin wrappers of
 * core/analysis: `evaluate-emergent` plays the trained section 5.2 policies over a grid of the first
 * LP's attributes and the figure 3 markets and stores the metrics as Arrow tables
 * (core/analysis/emergent-eval.ts); `train-game` is the loop of one figure 6 game, shared-policy
 * training that logs the Hamiltonian weights of definition 3.17 every few iterations
 * (core/analysis/game-analysis.ts). Their report, `emergent-report`, is in its own module
 * (stages/emergent-report.ts) so that editing it does not re-run them; the artifacts both sides
 * read are in schemas/emergent-artifacts.ts. Training of the 5.2 population itself is
 * `train-shared` of stages/shared.ts.
 */
import { Effect, Schema } from "effect";
import { EMERGENT_ATTRIBUTES, runEmergentEvaluation, type EmergentEvaluation } from "../core/analysis/emergent-eval.ts";
import { figure6Config, measureGameWeights } from "../core/analysis/game-analysis.ts";
import { OtcEnv } from "../core/otc/env.ts";
import { ecnVariationModelOf, otcRolloutEnv, otcRolloutLocation } from "../core/otc/rollout-env.ts";
import type { Random } from "../core/random/philox.ts";
import { RolloutRunner } from "../core/rl/rollout-runner.ts";
import { otcSupertypeLabels, SharedTrainer } from "../core/rl/shared-trainer.ts";
import { Backend } from "../core/pipeline/backend.ts";
import { resolvePpoBackend } from "./support/network-backend.ts";
import { tableToParquet } from "../core/pipeline/codecs/parquet.ts";
import { Progress } from "../core/pipeline/progress.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { EvaluationParams, GameTrainingParams } from "../schemas/emergent.ts";
import { defaultRolloutSettings, RolloutSettings, workerBackend } from "../schemas/rollouts.ts";
import type { ShardExecutor } from "../core/rl/rollout-executor.ts";
import { acquireRolloutExecutor } from "./support/rollout-executor.ts";
import { ecnModelCodec } from "../schemas/ecn-artifacts.ts";
import { ppoParamsFrom } from "../schemas/ppo.ts";
import { SharedTrainingParams, sharedGameConfig, sharedLoopStateCodec } from "../schemas/shared-training.ts";
import { makeSharedTrainer } from "./support/shared-training.ts";
import { emergentTablesCodec, gameLoopStateCodec, toTable, type EmergentTables, type GameLoopState } from "../schemas/emergent-artifacts.ts";

/** The tfjs backend rollout workers should use: the run's own, so numbers match the main thread. */

// ---------------------------------------------------------------------------------------------
// evaluate-emergent
// ---------------------------------------------------------------------------------------------

export const evaluateEmergentStage = Stage.make({
  name: "evaluate-emergent",
  description: "the trained 5.2 policies over a grid of the first LP's attributes and the figure 3 markets (paper section 5.2)",
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
      const training = { ...p.training, lp: yield* resolvePpoBackend(p.training.lp), lt: yield* resolvePpoBackend(p.training.lt) };
      const rng = (yield* Rng).stream;
      const progress = yield* Progress;
      const e = p.evaluation;
      const shards = Math.ceil(e.episodes / e.episodesPerShard);
      const total = (EMERGENT_ATTRIBUTES.reduce((n, a) => n + e.grid[a].length, 0) + e.pnlLtCounts.length) * e.episodes;
      const task = progress.task("evaluate-emergent", total);
      const trainer = makeSharedTrainer(inputs.model, training, rng.split("init"), { workers: 0 });
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
    // An explicit backend that cannot load fails here with one sentence; the networks are built on the resolved one.
    const resolved = { ...p, lp: yield* resolvePpoBackend(p.lp), lt: yield* resolvePpoBackend(p.lt) };
    const rng = (yield* Rng).stream;
    const executor = yield* acquireRolloutExecutor(p.rollouts, Math.ceil(p.episodes / p.episodesPerShard));
    return gameTrainer(model, resolved, rng.split("init"), { workers: 0, ...(executor !== undefined ? { executor } : {}), ...workerBackend(backend.current()) });
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
      context.metrics(row);
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
