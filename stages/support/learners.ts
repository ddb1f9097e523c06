/**
 * Plain-data learners and where their live forms come from (paper section 5's shared policies;
 * ARCHITECTURE section 6). A training loop's state holds each shared policy as plain data (weights,
 * Adam moments, KL coefficient: `PpoAgentState`); the body stages that act or learn materialise it
 * as a `PpoAgent` on its compute backend through the node's `Workspace`, which hands back the agent
 * built last time when it holds exactly that state (so an iteration costs no rebuild, and a stage
 * given any other state restores it first: results never depend on what was kept). The same goes
 * for the rollout runner of an env description (its envs and its executor's threads). Not a stage:
 * stage modules import it, it imports no stage module.
 */
import { Effect } from "effect";
import { Backend as BackendTag, type Backend, type BackendError } from "../../core/pipeline/backend.ts";
import { StageFailure } from "../../core/pipeline/stage.ts";
import { Workspace } from "../../core/pipeline/workspace.ts";
import { Random } from "../../core/random/philox.ts";
import { PpoAgent, type PpoAgentState, type PpoParams } from "../../core/rl/ppo.ts";
import type { RolloutEnvFactory, RolloutFactoryLocation } from "../../core/rl/rollout-runner.ts";
import { registeredRolloutFactory, RolloutRunner } from "../../core/rl/rollout-runner.ts";
import type { ActionSpec, AgentClassSpec, MultiClassVecEnv } from "../../core/rl/vec-env.ts";
import type { RolloutSettings } from "../../schemas/rollouts.ts";
import { workerBackend } from "../../schemas/rollouts.ts";
import { acquireRolloutExecutor, type RolloutExecutor, type RolloutExecutorError } from "./rollout-executor.ts";

/** One shared policy of an agent class, as data: its class, observation width, action space and PPO settings. */
export interface LearnerSpec {
  readonly name: string;
  readonly obsDim: number;
  readonly action: ActionSpec;
  readonly ppo: PpoParams;
}

/** Where rollouts are played, as data: the env factory's module and export, and its plain-data args. */
export interface RolloutEnvSpec {
  readonly location: RolloutFactoryLocation;
  readonly args: unknown;
}

const factories = new Map<string, Promise<RolloutEnvFactory<unknown, MultiClassVecEnv, unknown, unknown>>>();

/** The env factory an env description names (imported once per process). */
export const envFactory = (location: RolloutFactoryLocation): Effect.Effect<RolloutEnvFactory<unknown, MultiClassVecEnv, unknown, unknown>, StageFailure> =>
  Effect.tryPromise({
    try: () => {
      const key = `${location.module}#${location.exportName}`;
      let factory = factories.get(key);
      if (factory === undefined) {
        // A factory this process loaded is used as is; only one it never loaded is imported by URL.
        const registered = registeredRolloutFactory(location);
        factory = (registered !== undefined ? Promise.resolve(registered) : import(location.module).then((module: Record<string, unknown>) => module[location.exportName])).then((found) => {
          if (found === undefined) throw new Error(`${location.module} exports no ${location.exportName}`);
          return found as RolloutEnvFactory<unknown, MultiClassVecEnv, unknown, unknown>;
        });
        factories.set(key, factory);
      }
      return factory;
    },
    catch: (error) => new StageFailure({ stage: "rollouts", message: `The rollout env could not be loaded: ${error instanceof Error ? error.message : String(error)}.` })
  });

/** The learning classes of an env (names, observation widths, action spaces), read off a one-episode env. */
export const envClasses = (env: RolloutEnvSpec): Effect.Effect<readonly AgentClassSpec[], StageFailure> =>
  Effect.map(envFactory(env.location), (factory) => factory.create(env.args, 0, 1).classes);

/**
 * The learners of an env's classes, each with the PPO settings `ppoOf` gives its class. Selects
 * the run's tfjs backend first (networks on tfjs are built on it, and worker threads follow it).
 */
export const learnerSpecs = (env: RolloutEnvSpec, ppoOf: (className: string) => PpoParams): Effect.Effect<LearnerSpec[], BackendError | StageFailure, Backend> =>
  Effect.gen(function* () {
    yield* (yield* BackendTag).ensure;
    const classes = yield* envClasses(env);
    return classes.map((c) => ({ name: c.name, obsDim: c.obsDim, action: c.action, ppo: ppoOf(c.name) }));
  });

/** A workspace slot: a live agent and the plain state it holds now (undefined: unknown, restore before use). */
interface AgentSlot {
  readonly agent: PpoAgent;
  holds: PpoAgentState | undefined;
}

const slotOf = (spec: LearnerSpec, seed?: { agent: PpoAgent }) =>
  Effect.flatMap(Workspace, (workspace) =>
    workspace.use<AgentSlot, never, never>(
      `learner:${spec.name}`,
      [spec],
      // The construction's initial weights are overwritten by the state restored below.
      Effect.sync(() => ({ agent: seed?.agent ?? new PpoAgent(spec.obsDim, spec.action, spec.ppo, Random.fromSeed(0)), holds: undefined })),
      (slot) => Effect.sync(() => slot.agent.dispose())
    )
  );

/** The live agent of `spec` holding `state` (the one kept in the workspace when it already holds it). */
export const liveAgent = (spec: LearnerSpec, state: PpoAgentState) =>
  Effect.flatMap(slotOf(spec), (slot) =>
    Effect.sync(() => {
      if (slot.holds !== state) {
        slot.agent.setState(state);
        slot.holds = state;
      }
      return slot.agent;
    })
  );

/** The plain state of a live agent after it learned, noted as what the workspace's agent now holds. */
export const stateOfLive = (spec: LearnerSpec, agent: PpoAgent) =>
  Effect.flatMap(slotOf(spec), (slot) =>
    Effect.sync(() => {
      const state = agent.getState();
      if (slot.agent === agent) slot.holds = state;
      return state;
    })
  );

/**
 * A fresh learner's initial state, its weights drawn from `rng`; the agent stays in the workspace
 * (so the first iteration does not rebuild it).
 */
export const initialLearnerState = (spec: LearnerSpec, rng: Random) =>
  Effect.gen(function* () {
    const agent = new PpoAgent(spec.obsDim, spec.action, spec.ppo, rng);
    const slot = yield* slotOf(spec, { agent });
    if (slot.agent !== agent) agent.dispose();
    const state = agent.getState();
    slot.agent.setState(state);
    slot.holds = state;
    return state;
  });

/** Live agents for states outside a loop (analysis stages): built, restored, and disposed of with the workspace. */
export const restoredAgents = (specs: readonly LearnerSpec[], states: Readonly<Record<string, PpoAgentState>>) =>
  Effect.forEach(specs, (spec) => {
    const state = states[spec.name];
    if (state === undefined) {
      return Effect.fail(new StageFailure({ stage: "learners", message: `The trained state has no policy for class "${spec.name}" (it has ${Object.keys(states).join(", ")}); train with this population first.` }));
    }
    return liveAgent(spec, state);
  });

/**
 * The rollout runner of an env description (its envs are kept between iterations), its shards on
 * the run's executor as `settings` ask, workers on the run's tfjs backend.
 */
export const liveRunner = (env: RolloutEnvSpec, episodes: number, episodesPerShard: number, settings: RolloutSettings): Effect.Effect<RolloutRunner<unknown>, RolloutExecutorError | BackendError | StageFailure, Workspace | RolloutExecutor | Backend> =>
  Effect.gen(function* () {
    const workspace = yield* Workspace;
    const backend = yield* BackendTag;
    yield* backend.ensure;
    return yield* workspace.use(
      "rollout-runner",
      [env, episodes, episodesPerShard, settings],
      Effect.gen(function* () {
        const factory = yield* envFactory(env.location);
        const executor = yield* acquireRolloutExecutor(settings, Math.ceil(episodes / episodesPerShard));
        return new RolloutRunner<unknown>({
          factory,
          location: env.location,
          args: env.args,
          episodes,
          episodesPerShard,
          workers: 0,
          ...(executor !== undefined ? { executor } : {}),
          ...workerBackend(backend.current())
        });
      }),
      (runner) => Effect.promise(() => runner.close())
    );
  });
