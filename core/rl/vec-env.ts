/**
 * The contract between the learning code and a vectorised multi-agent environment (paper
 * sections 2.2 and 2.2.1, eq. 10; SPEC sections 2.2 and 3). One env object holds every agent of
 * every episode of a batch (B parallel episodes of horizon T) so that each learning class is
 * served by ONE batched policy call per step. Agents are grouped in classes (LP, LT); each class
 * has one shared policy, conditioned on the agent's type through its observation. Stationary
 * agents (section 5.1) act inside the env and are not listed. The OTC environment in core/otc
 * implements this interface; core/rl never depends on it.
 */
import type { Random } from "../random/philox.ts";

export type ActionSpec =
  | { kind: "continuous"; dim: number; low: Float32Array; high: Float32Array }
  | { kind: "discrete"; n: number };

export interface AgentClassSpec {
  name: string;
  /** Agents of this class over all episodes of the batch. */
  count: number;
  obsDim: number;
  action: ActionSpec;
}

export interface MultiClassVecEnv {
  /** Learning classes only (stationary agents act inside the env). */
  readonly classes: readonly AgentClassSpec[];
  /** T: steps per episode; every episode of the batch ends after exactly T steps. */
  readonly horizon: number;
  /** Starts a new batch of episodes (types are drawn here, from `rng`). */
  reset(rng: Random): void;
  /** Writes the observations of every agent of the class: count * obsDim, agent-major. */
  observe(classIndex: number, out: Float32Array): void;
  /**
   * Advances one step. Per class: count*dim unclipped continuous actions (the env clips them to
   * the bounds) or count discrete action indices.
   */
  step(actions: readonly Float32Array[], rng: Random): void;
  /** Reward of the last step, per agent of the class. */
  rewards(classIndex: number, out: Float32Array): void;
  /** Steps taken since reset. */
  readonly t: number;
  /**
   * Optional episode layout: B episodes whose agents are contiguous in every class (agent i of a
   * class belongs to episode floor(i / (count / B))), with global indices from firstEpisodeIndex.
   * Rollouts use it to give each episode its own random stream.
   */
  readonly batchSize?: number;
  readonly firstEpisodeIndex?: number;
}

/** Clips `rows` continuous action rows to the bounds of `spec` (what an env does on `step`). */
export const clipActions = (
  spec: Extract<ActionSpec, { kind: "continuous" }>,
  actions: Float32Array,
  rows: number,
  out: Float32Array = actions
): Float32Array => {
  const dim = spec.dim;
  for (let r = 0; r < rows; r++) {
    for (let d = 0; d < dim; d++) {
      const a = actions[r * dim + d]!;
      const lo = spec.low[d]!;
      const hi = spec.high[d]!;
      out[r * dim + d] = a < lo ? lo : a > hi ? hi : a;
    }
  }
  return out;
};
