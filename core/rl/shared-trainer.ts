/**
 * The shared-policy training loop of the OTC game (paper sections 2.2.1, 3.1 and 5): one
 * PPO learner per agent class ("lp", "lt"), each conditioned on the agent's type through its
 * observation, trained on the pooled experience of every agent of its class (eq. 10). One
 * `iterate` = B episodes of rollouts with the current policies, then one PPO update per learning
 * class; classes not listed as learning act with their (frozen) policy. The iteration is a pure
 * function of (state, params, iteration stream), so `getState`/`setState` give a bit-identical
 * resume. Each iteration yields one plain row of metrics under CleanRL's names, with the mean
 * episode reward per supertype (`rewards/<class>_<supertype>`) that the extended-transitivity
 * check of section 3.1 plots over training.
 */
import type { OtcEnv } from "../otc/env.ts";
import type { Random } from "../random/philox.ts";
import { PpoAgent, ppoUpdate, type PpoAgentState, type PpoParams } from "./ppo.ts";
import type { RolloutSource } from "./rollout-runner.ts";

/** One row per iteration; every field a number so that rows become a table directly. */
export type SharedIterationRow = Record<string, number>;

/** Which supertype each agent of a class belongs to, and the supertypes' names. */
export interface SupertypeLabels {
  readonly names: readonly string[];
  /** Supertype index of every agent of the class ([count], the class's agent order). */
  readonly ofAgent: Int32Array;
}

export interface SharedTrainerOptions {
  /** PPO settings per class name (a class without an entry uses `defaultPpo`). */
  readonly ppo: Readonly<Record<string, PpoParams>>;
  readonly defaultPpo: PpoParams;
  /** Names of the classes whose policy is updated; the others keep their initial weights. */
  readonly learning: readonly string[];
  /** B, episodes per iteration (for the env-step counter). */
  readonly episodes: number;
  /** Supertype labels per class of `env.classes` (omit for no per-supertype rewards). */
  readonly labels?: readonly SupertypeLabels[];
}

export interface SharedTrainerState {
  readonly iteration: number;
  readonly envSteps: number;
  readonly agentSteps: number;
  /** Per class name, the learner's weights, optimiser state and KL coefficient. */
  readonly agents: Readonly<Record<string, PpoAgentState>>;
  readonly rows: readonly SharedIterationRow[];
}

/** Raised when the trainer's options do not fit the env. */
export class SharedTrainerError extends Error {
  readonly _tag = "SharedTrainerError";
  constructor(reason: string) {
    super(`The shared-policy trainer cannot run: ${reason}; fix the training params or the population.`);
  }
}

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

export class SharedTrainer {
  readonly agents: readonly PpoAgent[];
  private readonly ppoOfClass: readonly PpoParams[];
  private readonly learningClass: readonly boolean[];
  private iteration = 0;
  private envSteps = 0;
  private agentSteps = 0;
  private readonly rows: SharedIterationRow[] = [];

  constructor(
    readonly env: RolloutSource,
    readonly options: SharedTrainerOptions,
    rng: Random
  ) {
    const names = env.classes.map((c) => c.name);
    for (const name of options.learning) if (!names.includes(name)) throw new SharedTrainerError(`class "${name}" is not in the env (classes: ${names.join(", ")})`);
    if (options.labels !== undefined && options.labels.length !== env.classes.length) throw new SharedTrainerError("labels must be given for every class");
    this.ppoOfClass = env.classes.map((c) => options.ppo[c.name] ?? options.defaultPpo);
    this.learningClass = env.classes.map((c) => options.learning.includes(c.name));
    this.agents = env.classes.map((c, k) => new PpoAgent(c.obsDim, c.action, this.ppoOfClass[k]!, rng.split(`policy:${c.name}`)));
  }

  /** The learner of class `name`. */
  agent(name: string): PpoAgent {
    const k = this.env.classes.findIndex((c) => c.name === name);
    if (k < 0) throw new SharedTrainerError(`no class "${name}"`);
    return this.agents[k]!;
  }

  get history(): readonly SharedIterationRow[] {
    return this.rows;
  }

  get iterations(): number {
    return this.iteration;
  }

  getState(): SharedTrainerState {
    const agents: Record<string, PpoAgentState> = {};
    this.env.classes.forEach((c, k) => (agents[c.name] = this.agents[k]!.getState()));
    return { iteration: this.iteration, envSteps: this.envSteps, agentSteps: this.agentSteps, agents, rows: this.rows.map((r) => ({ ...r })) };
  }

  /** Restores a state from `getState` of a trainer built with the same env shape and options. */
  setState(state: SharedTrainerState): void {
    this.env.classes.forEach((c, k) => {
      const saved = state.agents[c.name];
      if (saved === undefined) throw new SharedTrainerError(`the checkpoint has no learner for class "${c.name}"`);
      this.agents[k]!.setState(saved);
    });
    this.iteration = state.iteration;
    this.envSteps = state.envSteps;
    this.agentSteps = state.agentSteps;
    this.rows.length = 0;
    this.rows.push(...state.rows.map((r) => ({ ...r })));
  }

  /** One iteration; `rng` must be the iteration's own stream (e.g. root.split(k)). */
  async iterate(rng: Random): Promise<SharedIterationRow> {
    const env = this.env;
    const { batches } = await env.collect(this.agents, rng.split("rollouts"), this.ppoOfClass);
    const updateRng = rng.split("update");
    this.iteration++;
    this.envSteps += this.options.episodes * env.horizon;
    for (const spec of env.classes) this.agentSteps += spec.count * env.horizon;
    const row: SharedIterationRow = { iteration: this.iteration, env_steps: this.envSteps, agent_steps: this.agentSteps };
    const put = (key: string, value: number) => {
      if (Number.isFinite(value)) row[key] = value;
    };
    batches.forEach((batch, c) => {
      const name = env.classes[c]!.name;
      let total = 0;
      for (let i = 0; i < batch.agents; i++) total += batch.episodeRewards[i]!;
      put(`${name}/charts/episode_reward_mean`, total / batch.agents);
      const labels = this.options.labels?.[c];
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
      if (!this.learningClass[c]) return;
      const metrics = ppoUpdate(this.agents[c]!, batch, this.ppoOfClass[c]!, updateRng.split(c));
      for (const [key, value] of Object.entries(metrics)) put(`${name}/${key}`, value);
    });
    this.rows.push(row);
    return row;
  }

  /** Frees the networks and stops the rollout source's worker threads. */
  async dispose(): Promise<void> {
    for (const a of this.agents) a.dispose();
    await this.env.close();
  }
}
