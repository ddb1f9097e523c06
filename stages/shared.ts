/**
 * Stages of shared-policy training and its diagnostics (paper sections 2.2.1, 3.1, 5):
 * the loop `train-shared` (plain-data state, core/rl/shared-loop.ts; each iteration the body
 * rollouts -> ppo-update of stages/body/, checkpointed like train-calsheq), `exploitability`
 * (fine-tune a copy of the shared policy for one agent while the others stay frozen, report the
 * gain; core/rl/exploitability.ts).
 * Their report, `shared-report`, is in its own module (stages/shared-report.ts) so that editing
 * it does not re-run the training. The training params, loop state, exploitability summary and
 * set-up, shared with other stages, live in schemas/shared-training.ts and
 * stages/support/shared-training.ts.
 */
import { Effect, Schema } from "effect";
import { OtcEnv } from "../core/otc/env.ts";
import { gmmVariationModel } from "../core/ecn/model.ts";
import { estimateExploitability, type ExploitabilityResult } from "../core/rl/exploitability.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import type { EcnModel } from "../schemas/ecn.ts";
import { PpoSettings, ppoParamsFrom } from "../schemas/ppo.ts";
import { ecnModelCodec } from "../schemas/ecn-artifacts.ts";
import { ExploitabilitySummary, SharedTrainingParams, sharedGameConfig, sharedLoopStateCodec } from "../schemas/shared-training.ts";
import { sharedBody } from "./body/shared-iteration.ts";
import { restoredAgents } from "./support/learners.ts";
import { initialAgents, initialSharedState, trainSharedSetup } from "./support/shared-training.ts";

const PositiveInt = Schema.Int.pipe(Schema.positive());
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative());
const opt = <A, I>(schema: Schema.Schema<A, I>, value: A) => Schema.optionalWith(schema, { default: () => value });

/** PPO settings of one class: the project-wide schema (schemas/ppo.ts). */
export const PpoSettingsSchema = PpoSettings;
const defaultSettings = (): PpoSettings => PpoSettingsSchema.make({});

// ---------------------------------------------------------------------------------------------
// train-shared
// ---------------------------------------------------------------------------------------------

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
  init: (inputs, p) =>
    Effect.gen(function* () {
      const { learners } = yield* trainSharedSetup(inputs.model, p);
      return initialSharedState(yield* initialAgents(learners, (yield* Rng).stream.split("init")));
    }),
  body: sharedBody<SharedTrainingParams, { model: EcnModel }>(
    (p, inputs) => trainSharedSetup(inputs.model, p),
    (p) => ({ episodes: p.episodes, episodesPerShard: p.episodesPerShard, rollouts: p.rollouts, learning: p.learning }),
    (row) =>
      ["lp", "lt"]
        .filter((c) => row[`${c}/charts/episode_reward_mean`] !== undefined)
        .map((c) => `${c} reward ${row[`${c}/charts/episode_reward_mean`]!.toFixed(3)}`)
        .join(" ")
  )
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
      const { learners } = yield* trainSharedSetup(inputs.model, p.training);
      const agents = yield* restoredAgents(learners, inputs.shared.agents);
      const rng = (yield* Rng).stream;
      const e = p.exploitability;
      const result = yield* Stage.attempt("exploitability", (): ExploitabilityResult => {
        // One in-thread env of all B episodes: the estimate drives it itself.
        const env = new OtcEnv({ config: sharedGameConfig(p.training), batchSize: p.training.episodes, ecnModel: gmmVariationModel(inputs.model) });
        {
          const classIndex = env.classes.findIndex((c) => c.name === e.agentClass);
          const spec = env.classes[classIndex];
          if (spec === undefined) throw new Error(`The population has no learning ${e.agentClass} class; pick agentClass among ${env.classes.map((c) => c.name).join(", ")}.`);
          return estimateExploitability(
            env,
            agents,
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
        }
      });
      return { agentClass: e.agentClass, agent: e.agent, ...result, fineTuneRewards: [...result.fineTuneRewards] };
    })
});
