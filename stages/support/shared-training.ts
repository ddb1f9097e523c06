/**
 * Set-up shared by the loops that train shared policies (paper sections 2.2.1, 3.1, 5):
 * `train-shared`, the figure 6 games and the LT spectrum, and by the stages that analyse what
 * they trained: the env and learners of a run (networks on the backend the run resolved), the
 * supertype labels of the per-supertype rewards, and the learners' initial states. Their state is
 * plain data (core/rl/shared-loop.ts); their body is stages/body/shared-iteration.ts. Not a
 * stage: stage modules import it, it imports no stage module.
 */
import { Effect } from "effect";
import { OtcEnv } from "../../core/otc/env.ts";
import { otcRolloutLocation, type OtcEcnSpec } from "../../core/otc/rollout-env.ts";
import type { Random } from "../../core/random/philox.ts";
import type { PpoAgent, PpoAgentState, PpoParams } from "../../core/rl/ppo.ts";
import { estimateExploitability, type ExploitabilityResult } from "../../core/rl/exploitability.ts";
import { gmmVariationModel } from "../../core/ecn/model.ts";
import { initialSharedState, otcSupertypeLabels, type SupertypeLabels } from "../../core/rl/shared-loop.ts";
import type { EcnModel } from "../../schemas/ecn.ts";
import { ppoParamsFrom } from "../../schemas/ppo.ts";
import { sharedGameConfig, type SharedTrainingParams } from "../../schemas/shared-training.ts";
import { envFactory, initialLearnerState, learnerSpecs, type LearnerSpec, type RolloutEnvSpec } from "./learners.ts";
import { resolvePpoBackend } from "./network-backend.ts";

/** What a shared-policy loop plays and trains, fixed for a run of the loop. */
export interface SharedSetup {
  readonly env: RolloutEnvSpec;
  readonly learners: readonly LearnerSpec[];
  /** Supertype labels per class, for the per-supertype rewards. */
  readonly labels: readonly SupertypeLabels[];
  /** No per-episode inputs: every episode plays the env's own population. */
  readonly episodeInputs: null;
}

/** The env of `train-shared`: the population the params name on the vanilla ECN model, as data. */
export const sharedEnv = (model: EcnModel, p: SharedTrainingParams): RolloutEnvSpec => ({
  location: otcRolloutLocation,
  args: { config: sharedGameConfig(p), ecn: { kind: "gmm", data: model } satisfies OtcEcnSpec }
});

/** The learners of an OTC env (each class's PPO from `ppoOf`) and the supertype labels of `episodes` episodes. */
export const sharedSetup = (env: RolloutEnvSpec, episodes: number, ppoOf: (className: string) => PpoParams) =>
  Effect.gen(function* () {
    const learners = yield* learnerSpecs(env, ppoOf);
    const probe = (yield* envFactory(env.location)).create(env.args, 0, 1);
    const labels = probe instanceof OtcEnv ? otcSupertypeLabels(probe, episodes) : [];
    return { env, learners, labels, episodeInputs: null } satisfies SharedSetup;
  });

/** The setup of `train-shared` with each class's networks on the backend the run resolved. */
export const trainSharedSetup = (model: EcnModel, p: SharedTrainingParams) =>
  Effect.gen(function* () {
    const ppo = { lp: ppoParamsFrom(yield* resolvePpoBackend(p.lp)), lt: ppoParamsFrom(yield* resolvePpoBackend(p.lt)) };
    return yield* sharedSetup(sharedEnv(model, p), p.episodes, (c) => (c === "lt" ? ppo.lt : ppo.lp));
  });

/** Each class's initial learner, drawn from `rng.split("policy:<class>")` (the node's `init` stream). */
export const initialAgents = (learners: readonly LearnerSpec[], rng: Random) =>
  Effect.map(
    Effect.forEach(learners, (spec) => Effect.map(initialLearnerState(spec, rng.split(`policy:${spec.name}`)), (state) => [spec.name, state] as const)),
    (entries): Record<string, PpoAgentState> => Object.fromEntries(entries)
  );

/** How one agent deviates: its class and index per episode, fine-tuning iterations and evaluation batches. */
export interface SharedDeviation {
  readonly agentClass: string;
  readonly agent: number;
  readonly fineTuneIterations: number;
  readonly evaluationBatches: number;
  readonly ppo: PpoParams;
}

/**
 * The gain of one agent fine-tuned against the frozen shared policies of `train-shared`'s game
 * (paper section 3.1), on one in-thread env of B episodes. Throws with a sentence when the
 * population has no learning class of that name.
 */
export const sharedDeviationGain = (model: EcnModel, p: SharedTrainingParams, agents: readonly PpoAgent[], deviation: SharedDeviation, rng: Random): ExploitabilityResult => {
  const env = new OtcEnv({ config: sharedGameConfig(p), batchSize: p.episodes, ecnModel: gmmVariationModel(model) });
  const classIndex = env.classes.findIndex((c) => c.name === deviation.agentClass);
  const spec = env.classes[classIndex];
  if (spec === undefined) throw new Error(`The population has no learning ${deviation.agentClass} class; pick agentClass among ${env.classes.map((c) => c.name).join(", ")}.`);
  return estimateExploitability(
    env,
    agents,
    {
      classIndex,
      agentIndex: deviation.agent,
      agentsPerEpisode: spec.count / p.episodes,
      fineTuneIterations: deviation.fineTuneIterations,
      evaluationBatches: deviation.evaluationBatches,
      ppo: deviation.ppo
    },
    rng
  );
};

export { initialSharedState };
