/**
 * Rollouts of the shared policies in a vectorised multi-agent env (paper sections 2.2.1 and 5,
 * eq. 10: the experiences of all agents of a class form one batch). Every step
 * makes ONE batched policy-and-value call per class for all agents of all B episodes, samples the
 * actions in JS from a `Random`, and steps the env, class by class in the env's move order
 * (`stepInStages`: in the OTC game LTs observe after the LPs' quotes of the same step). After T
 * steps each class's samples get their advantages and returns by GAE. Arrays are time-major: sample t * count + i is agent i at step t.
 * When the env tells how its agents split into episodes (`batchSize`, `firstEpisodeIndex`), the
 * actions of global episode e are drawn from their own stream `split("actions").split(e)`, so an
 * episode's actions do not depend on which other episodes share its batch: rollouts split into
 * shards (core/rl/rollout-runner.ts) and merged back give the same samples however the shards
 * are spread over worker threads.
 */
import type { Random } from "../random/philox.ts";
import type { ActorCritic } from "./networks.ts";
import { computeGae, emptyPpoBatch, PpoBatchError, type PpoBatch, type PpoParams } from "./ppo.ts";
import { stepInStages, type MultiClassVecEnv } from "./vec-env.ts";

export interface RolloutBatch extends PpoBatch {
  /** Agents of the class (samples per step). */
  agents: number;
  /** Steps per episode (T). */
  steps: number;
  /** Sum of rewards per agent over its episode: [agents]. */
  episodeRewards: Float64Array;
}

/** What acting needs of a learner: its networks (a `PpoAgent` is one). */
export interface RolloutPolicy {
  readonly obsDim: number;
  readonly net: ActorCritic;
}

/** What the advantage computation needs of a class's PPO settings. */
export type RolloutReturnsParams = Pick<PpoParams, "discount" | "gaeLambda">;

/**
 * Runs one batch of episodes: reset, T steps, GAE. `agents[c]` acts for `env.classes[c]`; the
 * discount and lambda come from `params[c]` (or the one `params` for all classes). Draws: the env
 * reset, the action samples and the env's own randomness each get a child stream of `rng`.
 */
export const collectRollouts = (
  env: MultiClassVecEnv,
  agents: readonly RolloutPolicy[],
  rng: Random,
  params: RolloutReturnsParams | readonly RolloutReturnsParams[]
): RolloutBatch[] => {
  const classes = env.classes;
  if (agents.length !== classes.length) throw new PpoBatchError(`${agents.length} agents for ${classes.length} classes`);
  const paramsOf = (c: number): RolloutReturnsParams =>
    Array.isArray(params) ? (params as readonly RolloutReturnsParams[])[c]! : (params as RolloutReturnsParams);
  const steps = env.horizon;

  const batches: RolloutBatch[] = classes.map((spec, c) => {
    const agent = agents[c]!;
    const policy = agent.net.policy;
    if (spec.obsDim !== agent.obsDim) throw new PpoBatchError(`class ${spec.name} has obsDim ${spec.obsDim}, its agent ${agent.obsDim}`);
    if (spec.action.kind !== policy.kind) throw new PpoBatchError(`class ${spec.name} has ${spec.action.kind} actions, its policy ${policy.kind}`);
    const size = steps * spec.count;
    return { ...emptyPpoBatch(size, spec.obsDim, policy), agents: spec.count, steps, episodeRewards: new Float64Array(spec.count) };
  });

  env.reset(rng.split("reset"));
  const actionRng = rng.split("actions");
  const envRng = rng.split("env");
  const episodes = env.batchSize;
  const perEpisode = episodes !== undefined && episodes > 0 && classes.every((spec) => spec.count % episodes === 0);
  const firstEpisode = env.firstEpisodeIndex ?? 0;
  const episodeStreams = perEpisode ? Array.from({ length: episodes }, (_, b) => actionRng.split(firstEpisode + b)) : [];
  for (let t = 0; t < steps; t++) {
    // Classes act in the env's move order (leaders first, then followers who see their moves).
    const act = (c: number): Float32Array => {
      const batch = batches[c]!;
      const agent = agents[c]!;
      const count = batch.agents;
      const rowBase = t * count;
      const obs = batch.obs.subarray(rowBase * batch.obsDim, (rowBase + count) * batch.obsDim);
      env.observe(c, obs);
      const out = agent.net.evaluate(obs, count); // [count, paramDim + 1]
      const width = batch.paramDim + 1;
      const params = batch.distParams.subarray(rowBase * batch.paramDim, (rowBase + count) * batch.paramDim);
      for (let i = 0; i < count; i++) {
        for (let k = 0; k < batch.paramDim; k++) params[i * batch.paramDim + k] = out[i * width + k]!;
        batch.values[rowBase + i] = out[i * width + batch.paramDim]!;
      }
      const actions = batch.actions.subarray(rowBase * batch.actionDim, (rowBase + count) * batch.actionDim);
      const logProbs = batch.logProbs.subarray(rowBase, rowBase + count);
      if (perEpisode) {
        const k = count / episodes;
        for (let b = 0; b < episodes; b++) {
          const rows = (x: Float32Array, width: number) => x.subarray(b * k * width, (b + 1) * k * width);
          agent.net.policy.sample(rows(params, batch.paramDim), k, episodeStreams[b]!, rows(actions, batch.actionDim), rows(logProbs, 1));
        }
      } else agent.net.policy.sample(params, count, actionRng, actions, logProbs);
      // The env gets its own copy: it may clip in place, and the batch keeps the unclipped sample.
      return Float32Array.from(actions);
    };
    stepInStages(env, act, envRng);
    for (let c = 0; c < classes.length; c++) {
      const batch = batches[c]!;
      const rewards = batch.rewards.subarray(t * batch.agents, (t + 1) * batch.agents);
      env.rewards(c, rewards);
      for (let i = 0; i < batch.agents; i++) batch.episodeRewards[i]! += rewards[i]!;
      if (t === steps - 1) batch.dones.fill(1, t * batch.agents, (t + 1) * batch.agents);
    }
  }

  batches.forEach((batch, c) => {
    const p = paramsOf(c);
    // Episodes end at the horizon (a finite-horizon game), so nothing is bootstrapped past T.
    const { advantages, returns } = computeGae({
      rewards: batch.rewards,
      values: batch.values,
      dones: batch.dones,
      lastValues: new Float32Array(batch.agents),
      steps,
      agents: batch.agents,
      discount: p.discount,
      lambda: p.gaeLambda
    });
    batch.advantages = advantages;
    batch.returns = returns;
  });
  return batches;
};

/**
 * Joins the batches of consecutive shards of episodes into one batch per class, as if one env had
 * run them all: `parts[s][c]` is class c of shard s, shards in episode order. Rows stay
 * time-major, so row t * count + i is global agent i at step t, with shard s's agents after those
 * of the shards before it.
 */
export const mergeRolloutBatches = (parts: readonly (readonly RolloutBatch[])[]): RolloutBatch[] => {
  if (parts.length === 0) throw new PpoBatchError("no rollout shards to merge");
  if (parts.length === 1) return [...parts[0]!];
  const classes = parts[0]!.length;
  const merged: RolloutBatch[] = [];
  for (let c = 0; c < classes; c++) {
    const shards = parts.map((p) => p[c]!);
    const first = shards[0]!;
    const steps = first.steps;
    for (const b of shards) {
      if (b.steps !== steps || b.obsDim !== first.obsDim || b.actionDim !== first.actionDim || b.paramDim !== first.paramDim) {
        throw new PpoBatchError(`rollout shards of class ${c} differ in shape`);
      }
    }
    const agents = shards.reduce((n, b) => n + b.agents, 0);
    const size = steps * agents;
    const out: RolloutBatch = {
      ...emptyPpoBatch(size, first.obsDim, first),
      advantages: new Float32Array(size),
      returns: new Float32Array(size),
      agents,
      steps,
      episodeRewards: new Float64Array(agents)
    };
    const columns: [keyof PpoBatch & string, number][] = [
      ["obs", first.obsDim],
      ["actions", first.actionDim],
      ["logProbs", 1],
      ["distParams", first.paramDim],
      ["values", 1],
      ["rewards", 1],
      ["dones", 1],
      ["advantages", 1],
      ["returns", 1]
    ];
    let offset = 0;
    for (const b of shards) {
      for (const [name, width] of columns) {
        const from = b[name] as Float32Array;
        const to = out[name] as Float32Array;
        for (let t = 0; t < steps; t++) {
          to.set(from.subarray(t * b.agents * width, (t + 1) * b.agents * width), (t * agents + offset) * width);
        }
      }
      out.episodeRewards.set(b.episodeRewards, offset);
      offset += b.agents;
    }
    merged.push(out);
  }
  return merged;
};
