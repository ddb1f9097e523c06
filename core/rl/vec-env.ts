/**
 * The contract between the learning code and a vectorised multi-agent environment (paper
 * sections 2.2 and 2.2.1, eq. 10). One env object holds every agent of
 * every episode of a batch (B parallel episodes of horizon T) so that each learning class is
 * served by ONE batched policy call per step. Agents are grouped in classes (LP, LT); each class
 * has one shared policy, conditioned on the agent's type through its observation. Stationary
 * agents (section 5.1) act inside the env and are not listed. The OTC environment in core/otc
 * implements this interface; core/rl never depends on it.
 *
 * A step may be sequential (a Stackelberg step, paper section 2.2: LTs play in response to LPs):
 * an env lists its classes in `stages`, and a class of a later stage observes only after the
 * actions of the earlier stages are applied (`applyStage`). `stepInStages` plays one step in that
 * order and is what every rollout loop calls, so the ordering lives in one place.
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
  /**
   * Optional move order within a step: `stages[k]` lists the class indices that act at stage k
   * (every class exactly once). Classes of stage k + 1 observe after `applyStage(k, ...)` applied
   * the actions of stage k. Absent: every class acts at once.
   */
  readonly stages?: readonly (readonly number[])[];
  /**
   * Applies the actions of stage k (not the last) before the next stage observes. `actions` is
   * indexed by class; only the entries of stage k's classes are read. `step` then completes the
   * step with every class's actions (the same arrays for the classes already applied).
   */
  applyStage?(stage: number, actions: readonly (Float32Array | undefined)[]): void;
}

/** Move orders already checked: `stepInStages` runs every env step, the check once per order. */
const checkedStages = new WeakMap<readonly (readonly number[])[], MultiClassVecEnv>();

/** The move order of an env: its `stages`, or one stage with every class. */
export const moveStages = (env: MultiClassVecEnv): readonly (readonly number[])[] => {
  if (env.stages !== undefined && checkedStages.get(env.stages) === env) return env.stages;
  const stages = env.stages ?? [env.classes.map((_, c) => c)];
  const seen = new Set(stages.flat());
  if (seen.size !== env.classes.length || stages.flat().length !== env.classes.length) {
    throw new RangeError(`The env's stages ${JSON.stringify(stages)} must list each of its ${env.classes.length} classes exactly once`);
  }
  if (stages.length > 1 && env.applyStage === undefined) throw new RangeError("An env with several stages must implement applyStage");
  if (env.stages !== undefined) checkedStages.set(env.stages, env);
  return stages;
};

/**
 * Plays one step in the env's move order: for each stage, `act(c)` observes class c and returns
 * its actions (count*dim floats, or count indices), then the stage is applied (leaders) or the
 * step taken (the last stage). Returns the actions passed to `step`, indexed by class.
 */
export const stepInStages = (env: MultiClassVecEnv, act: (classIndex: number) => Float32Array, rng: Random): Float32Array[] => {
  const stages = moveStages(env);
  const actions: (Float32Array | undefined)[] = new Array<Float32Array | undefined>(env.classes.length).fill(undefined);
  for (let k = 0; k < stages.length; k++) {
    for (const c of stages[k]!) actions[c] = act(c);
    if (k < stages.length - 1) env.applyStage!(k, actions);
  }
  const all = actions as Float32Array[];
  env.step(all, rng);
  return all;
};

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
