/**
 * Stages of shared-policy training and its diagnostics (paper sections 2.2.1, 3.1, 5):
 * the loop `train-shared` (B episodes -> one PPO update per learning class, checkpointed like
 * train-calsheq, over core/rl/shared-trainer.ts), `exploitability` (fine-tune a copy of the shared
 * policy for one agent while the others stay frozen, report the gain; core/rl/exploitability.ts).
 * Their report, `shared-report`, is in its own module (stages/shared-report.ts) so that editing
 * it does not re-run the training. The training params, loop state, exploitability summary and
 * trainer set-up, shared with other stages, live in schemas/shared-training.ts and
 * stages/support/shared-training.ts.
 */
import { Effect, Schema } from "effect";
import { gmmVariationModel } from "../core/ecn/model.ts";
import { localRollouts } from "../core/rl/rollout-runner.ts";
import { OtcEnv } from "../core/otc/env.ts";
import { estimateExploitability, type ExploitabilityResult } from "../core/rl/exploitability.ts";
import { Backend } from "../core/pipeline/backend.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import type { EcnModel } from "../schemas/ecn.ts";
import { PpoSettings, ppoParamsFrom } from "../schemas/ppo.ts";
import { workerBackend } from "../schemas/rollouts.ts";
import { ecnModelCodec } from "../schemas/ecn-artifacts.ts";
import { ExploitabilitySummary, SharedTrainingParams, sharedGameConfig, sharedLoopStateCodec, type SharedLoopState } from "../schemas/shared-training.ts";
import { acquireRolloutExecutor } from "./support/rollout-executor.ts";
import { liveTrainer, makeSharedTrainer, sharedLoopStep, sharedTrainerOver } from "./support/shared-training.ts";
import { resolvePpoBackend } from "./support/network-backend.ts";

const PositiveInt = Schema.Int.pipe(Schema.positive());
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative());
const Positive = Schema.Number.pipe(Schema.positive(), Schema.finite());
const opt = <A, I>(schema: Schema.Schema<A, I>, value: A) => Schema.optionalWith(schema, { default: () => value });

/** PPO settings of one class: the project-wide schema (schemas/ppo.ts). */
export const PpoSettingsSchema = PpoSettings;
const defaultSettings = (): PpoSettings => PpoSettingsSchema.make({});

// ---------------------------------------------------------------------------------------------
// train-shared
// ---------------------------------------------------------------------------------------------

/** A trainer over one in-thread env of all B episodes, for diagnostics that drive the env themselves. */
const makeInThreadSharedTrainer = (model: EcnModel, p: SharedTrainingParams, rng: import("../core/random/philox.ts").Random) => {
  const env = new OtcEnv({ config: sharedGameConfig(p), batchSize: p.episodes, ecnModel: gmmVariationModel(model) });
  return { env, trainer: sharedTrainerOver(localRollouts(env), env, p, rng) };
};

const freshSharedTrainer = (model: EcnModel, p: SharedTrainingParams) =>
  Effect.gen(function* () {
    const backend = yield* Backend;
    yield* backend.ensure;
    // An explicit backend that cannot load fails here with one sentence; the networks are built on the resolved one.
    const resolved = { ...p, lp: yield* resolvePpoBackend(p.lp), lt: yield* resolvePpoBackend(p.lt) };
    const rng = (yield* Rng).stream;
    const executor = yield* acquireRolloutExecutor(p.rollouts, Math.ceil(p.episodes / p.episodesPerShard));
    return makeSharedTrainer(model, resolved, rng.split("init"), { workers: 0, ...(executor !== undefined ? { executor } : {}), ...workerBackend(backend.current()) });
  });

export const trainShared = Stage.loop({
  name: "train-shared",
  description: "shared LP and LT policies trained together by PPO (paper eq. 10)",
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
      return yield* sharedLoopStep("train-shared", trainer, context, (row) =>
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
  agentClass: opt(Schema.Literal("lp", "lt"), "lp").annotations({ description: "Class of the deviating agent." }),
  agent: opt(NonNegativeInt, 0).annotations({ description: "Index of the deviating agent within its class in an episode." }),
  fineTuneIterations: opt(PositiveInt, 20).annotations({ description: "F, fine-tuning iterations of the deviator." }),
  evaluationBatches: opt(PositiveInt, 4).annotations({ description: "Batches of B episodes on which deviator and baseline are compared (same seeds)." }),
  ppo: opt(PpoSettingsSchema, defaultSettings()).annotations({ description: "The deviator's PPO (it starts from the shared weights with a fresh optimiser)." })
});
export type ExploitabilityParams = typeof ExploitabilityParams.Type;

export const exploitabilityStage = Stage.make({
  name: "exploitability",
  description: "gain of one agent fine-tuned against the frozen shared policy (paper section 3.1)",
  source: import.meta.url,
  /** Read where both subtrees sit side by side (e.g. node params path "shared" over { training, exploitability }). */
  params: Schema.Struct({ training: SharedTrainingParams, exploitability: ExploitabilityParams }),
  inputs: { model: ecnModelCodec, shared: sharedLoopStateCodec },
  output: jsonCodec(ExploitabilitySummary),
  run: (inputs, p) =>
    Effect.gen(function* () {
      yield* (yield* Backend).ensure;
      const training = { ...p.training, lp: yield* resolvePpoBackend(p.training.lp), lt: yield* resolvePpoBackend(p.training.lt) };
      const rng = (yield* Rng).stream;
      const e = p.exploitability;
      const result = yield* Stage.attempt("exploitability", (): ExploitabilityResult => {
        const { env, trainer } = makeInThreadSharedTrainer(inputs.model, training, rng.split("init"));
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
