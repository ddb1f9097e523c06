/**
 * Shared-policy training of the OTC game as plain data (paper sections 2.2.1, 3.1 and 5): one
 * PPO learner per agent class ("lp", "lt"), each conditioned on the agent's type through its
 * observation, trained on the pooled experience of every agent of its class (eq. 10). The loop's
 * state is each class's plain learner state (weights, Adam moments, KL coefficient), the step
 * counters and the rows; one iteration (B episodes of rollouts with the current policies, then one
 * PPO update per learning class) is a body of stages (stages/body/rollouts.ts, ppo-update.ts), and
 * this module adds its row of metrics under CleanRL's names, with the mean episode reward per
 * supertype (`rewards/<class>_<supertype>`) that the extended-transitivity check of section 3.1
 * plots over training. An iteration is a pure function of (state, params, iteration stream), so a
 * checkpointed loop resumes bit-identically.
 */
import type { StoppingProgress } from "../analysis/stopping.ts";
import type { OtcEnv } from "../otc/env.ts";
import type { PpoAgentState, PpoMetrics } from "./ppo.ts";
import type { RolloutBatch } from "./rollout.ts";

/** One row per iteration; every field a number so that rows become a table directly. */
export type SharedIterationRow = Record<string, number>;

/** Which supertype each agent of a class belongs to, and the supertypes' names. */
export interface SupertypeLabels {
  readonly names: readonly string[];
  /** Supertype index of every agent of the class ([count], the class's agent order). */
  readonly ofAgent: Int32Array;
}

/** The loop state: plain data only (what a checkpoint holds). */
export interface SharedLoopState {
  readonly iteration: number;
  readonly envSteps: number;
  readonly agentSteps: number;
  /** Per class name, the learner's weights, optimiser state and KL coefficient. */
  readonly agents: Readonly<Record<string, PpoAgentState>>;
  readonly rows: readonly SharedIterationRow[];
  /** The stopping rule's checks so far (core/analysis/stopping.ts); absent under a fixed count and in states saved before it existed. */
  readonly stopping?: StoppingProgress;
}

/** The curves the stopping rule watches: each learning class's mean episode reward, per iteration. */
export const sharedRewardCurves = (rows: readonly SharedIterationRow[], learning: readonly string[]): Record<string, Float64Array> =>
  Object.fromEntries([...learning].sort().map((c) => [`${c}/charts/episode_reward_mean`, Float64Array.from(rows, (r) => r[`${c}/charts/episode_reward_mean`] ?? Number.NaN)]));

/** The state before the first iteration, from each class's initial learner state. */
export const initialSharedState = (agents: Readonly<Record<string, PpoAgentState>>): SharedLoopState => ({ iteration: 0, envSteps: 0, agentSteps: 0, agents, rows: [] });

/**
 * The supertype labels of every class of an OTC env (agents are episode-major in each class), for
 * `episodes` episodes (default: the env's own batch; more when the env is one shard of them).
 */
export const otcSupertypeLabels = (env: OtcEnv, episodes: number = env.batchSize): SupertypeLabels[] => {
  const types = env.typesOf(0);
  const population = env.config.population;
  return env.classes.map((_, c) => {
    if (c === env.lpClassIndex) {
      const ofAgent = new Int32Array(episodes * env.nLp);
      for (let b = 0; b < episodes; b++) for (let i = 0; i < env.nLp; i++) ofAgent[b * env.nLp + i] = types.lpSupertype[i]!;
      return { names: population.lp.map((s) => s.name), ofAgent };
    }
    const n = env.learningLts.length;
    const ofAgent = new Int32Array(episodes * n);
    for (let b = 0; b < episodes; b++) for (let j = 0; j < n; j++) ofAgent[b * n + j] = types.ltSupertype[env.learningLts[j]!]!;
    return { names: population.lt.map((s) => s.name), ofAgent };
  });
};

/** What one iteration produced: each class's batch (env class order) and the figures of the classes that learned. */
export interface SharedIteration {
  readonly classes: readonly string[];
  readonly batches: readonly RolloutBatch[];
  readonly episodes: number;
  readonly metrics: Readonly<Record<string, PpoMetrics>>;
  readonly agents: Readonly<Record<string, PpoAgentState>>;
  /** Supertype labels per class (omit for no per-supertype rewards). */
  readonly labels?: readonly SupertypeLabels[];
}

/** The state after an iteration, with its row: step counters, per-class rewards (and per supertype), PPO figures. */
export const nextSharedState = (state: SharedLoopState, it: SharedIteration): { state: SharedLoopState; row: SharedIterationRow } => {
  const iteration = state.iteration + 1;
  const horizon = it.batches[0]?.steps ?? 0;
  const envSteps = state.envSteps + it.episodes * horizon;
  let agentSteps = state.agentSteps;
  for (const batch of it.batches) agentSteps += batch.agents * horizon;
  const row: SharedIterationRow = { iteration, env_steps: envSteps, agent_steps: agentSteps };
  const put = (key: string, value: number) => {
    if (Number.isFinite(value)) row[key] = value;
  };
  it.batches.forEach((batch, c) => {
    const name = it.classes[c]!;
    let total = 0;
    for (let i = 0; i < batch.agents; i++) total += batch.episodeRewards[i]!;
    put(`${name}/charts/episode_reward_mean`, total / batch.agents);
    const labels = it.labels?.[c];
    if (labels !== undefined) {
      const sums = new Float64Array(labels.names.length);
      const counts = new Float64Array(labels.names.length);
      for (let i = 0; i < batch.agents; i++) {
        const s = labels.ofAgent[i]!;
        sums[s]! += batch.episodeRewards[i]!;
        counts[s]! += 1;
      }
      labels.names.forEach((s, k) => put(`rewards/${name}_${s}`, counts[k]! > 0 ? sums[k]! / counts[k]! : Number.NaN));
    }
    const metrics = it.metrics[name];
    if (metrics !== undefined) for (const [key, value] of Object.entries(metrics)) put(`${name}/${key}`, value);
  });
  return { state: { iteration, envSteps, agentSteps, agents: it.agents, rows: [...state.rows, row] }, row };
};
