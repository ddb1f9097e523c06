/**
 * Stages of the emergent-behaviour analysis (paper sections 3.2 and 5.2), thin wrappers of
 * core/analysis: `evaluate-emergent` plays the trained section 5.2 policies over a grid of the first
 * LP's attributes and the figure 3 markets and stores the metrics as Arrow tables
 * (core/analysis/emergent-eval.ts); `train-game` is the loop of one figure 6 game, shared-policy
 * training (the body rollouts -> ppo-update of stages/body/) followed by the body stage
 * `game-weights`, which logs the Hamiltonian weights of definition 3.17 every few iterations
 * (core/analysis/game-analysis.ts). Their report, `emergent-report`, is in its own module
 * (stages/emergent-report.ts) so that editing it does not re-run them; the artifacts both sides
 * read are in schemas/emergent-artifacts.ts. Training of the 5.2 population itself is
 * `train-shared` of stages/shared.ts.
 */
import { Effect, Schema } from "effect";
import { EMERGENT_ATTRIBUTES, runEmergentEvaluation, type EmergentEvaluation } from "../core/analysis/emergent-eval.ts";
import { figure6Config } from "../core/analysis/game-analysis.ts";
import { otcRolloutLocation } from "../core/otc/rollout-env.ts";
import { Backend } from "../core/pipeline/backend.ts";
import { tableToParquet } from "../core/pipeline/codecs/parquet.ts";
import { describedTable } from "../schemas/described-table.ts";
import { EMERGENT_COLUMNS } from "../schemas/export-columns.ts";
import { LoopBody } from "../core/pipeline/loop-body.ts";
import { Progress } from "../core/pipeline/progress.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { nextSharedState } from "../core/rl/shared-loop.ts";
import type { EcnModel } from "../schemas/ecn.ts";
import { ecnModelCodec } from "../schemas/ecn-artifacts.ts";
import { emergentTablesCodec, gameLoopStateCodec, toTable, type EmergentTables, type GameLoopState } from "../schemas/emergent-artifacts.ts";
import { EvaluationParams, GameTrainingParams } from "../schemas/emergent.ts";
import { ppoParamsFrom } from "../schemas/ppo.ts";
import { defaultRolloutSettings, RolloutSettings, workerBackend } from "../schemas/rollouts.ts";
import { SharedTrainingParams, sharedGameConfig, sharedLoopStateCodec } from "../schemas/shared-training.ts";
import { gameWeights } from "./body/game-weights.ts";
import { sharedSteps } from "./body/shared-iteration.ts";
import { restoredAgents } from "./support/learners.ts";
import { resolvePpoBackend } from "./support/network-backend.ts";
import type { TrainingServices } from "./support/resources.ts";
import { acquireRolloutExecutor } from "./support/rollout-executor.ts";
import { initialAgents, initialSharedState, sharedSetup, trainSharedSetup } from "./support/shared-training.ts";

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
    encode: (value: EmergentTables) => tableToParquet(describedTable(value[name], EMERGENT_COLUMNS))
  })),
  run: (inputs, p) =>
    Effect.gen(function* () {
      const backend = yield* Backend;
      // The trained policies, restored on the backend they were trained on.
      const { learners } = yield* trainSharedSetup(inputs.model, p.training);
      const policies = yield* restoredAgents(learners, inputs.shared.agents);
      const rng = (yield* Rng).stream;
      const progress = yield* Progress;
      const e = p.evaluation;
      const shards = Math.ceil(e.episodes / e.episodesPerShard);
      const total = (EMERGENT_ATTRIBUTES.reduce((n, a) => n + e.grid[a].length, 0) + e.pnlLtCounts.length) * e.episodes;
      const task = progress.task("evaluate-emergent", total);
      const executor = yield* acquireRolloutExecutor(p.rollouts, shards);
      const started = performance.now();
      const result = yield* Stage.attemptPromise("evaluate-emergent", async (): Promise<EmergentEvaluation> => {
        {
          let done = 0;
          return await runEmergentEvaluation(
            {
              config: sharedGameConfig(p.training),
              ecn: { kind: "gmm", data: inputs.model },
              policies,
              returns: learners.map((l) => ({ discount: l.ppo.discount, gaeLambda: l.ppo.gaeLambda })),
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

/** The game's env (the figure 6 population on the vanilla ECN model), its learners on the resolved backends, and labels. */
const gameSetup = (model: EcnModel, p: GameTrainingParams) =>
  Effect.gen(function* () {
    const ppo = { lp: ppoParamsFrom(yield* resolvePpoBackend(p.lp)), lt: ppoParamsFrom(yield* resolvePpoBackend(p.lt)) };
    const env = { location: otcRolloutLocation, args: { config: figure6Config(p.game, p.lpRiskAversion, p.horizon), ecn: { kind: "gmm", data: model } } };
    return yield* sharedSetup(env, p.episodes, (c) => (c === "lt" ? ppo.lt : ppo.lp));
  });

const gameBody = LoopBody.make<GameTrainingParams, { model: EcnModel }, GameLoopState, TrainingServices>((b) => {
  const setup = b.setup("setup", (p, inputs) => gameSetup(inputs.model, p));
  const shared = b.field(b.state, "trainer");
  // Training draws from the iteration's "train" stream, the measurement from its "analysis" stream.
  const { played, updated } = sharedSteps(b, setup, b.field(shared, "agents"), (p) => ({ episodes: p.episodes, episodesPerShard: p.episodesPerShard, rollouts: p.rollouts, learning: ["lp", "lt"] }), ["train"]);
  const measured = b.step(
    "game-weights",
    gameWeights,
    { model: b.input("model"), learners: b.field(setup, "learners"), policies: b.field(updated, "policies"), iteration: b.iteration },
    { params: (p) => ({ game: p.game, lpRiskAversion: p.lpRiskAversion, horizon: p.horizon, analysisEvery: p.analysisEvery, analysisEpisodes: p.analysisEpisodes }), stream: { from: "iteration", path: ["analysis"] } }
  );
  return b.finish({ state: b.state, setup, played, updated, measured }, (v, { params: p }) => {
    const { state: trainer, row } = nextSharedState(v.state.trainer, { classes: v.played.classes, batches: v.played.batches, episodes: p.episodes, metrics: v.updated.metrics, agents: v.updated.policies, labels: v.setup.labels });
    const first = v.measured[0];
    const reward = `lp reward ${row["lp/charts/episode_reward_mean"]?.toFixed(3)}`;
    return {
      state: { trainer, weights: v.measured.length > 0 ? [...v.state.weights, ...v.measured] : v.state.weights },
      metrics: row,
      status: first === undefined ? reward : `${reward} | omega_A ${first.pair} ${first.omegaA?.toFixed(2) ?? "n/a"}`
    };
  });
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
  init: (inputs, p) =>
    Effect.gen(function* () {
      const { learners } = yield* gameSetup(inputs.model, p);
      return { trainer: initialSharedState(yield* initialAgents(learners, (yield* Rng).stream.split("init"))), weights: [] } satisfies GameLoopState;
    }),
  body: gameBody
});
