/**
 * Rollouts of the shared policies in a vectorised multi-agent env (paper sections 2.2.1 and 5,
 * eq. 10: the experiences of all agents of a class form one batch; SPEC section 3). Every step
 * makes ONE batched policy-and-value call per class for all agents of all B episodes, samples the
 * actions in JS from a `Random`, and steps the env. After T steps each class's samples get their
 * advantages and returns by GAE. Arrays are time-major: sample t * count + i is agent i at step t.
 */
import type { Random } from "../random/philox.ts";
import { computeGae, emptyPpoBatch, PpoBatchError, type PpoAgent, type PpoBatch, type PpoParams } from "./ppo.ts";
import type { MultiClassVecEnv } from "./vec-env.ts";

export interface RolloutBatch extends PpoBatch {
  /** Agents of the class (samples per step). */
  agents: number;
  /** Steps per episode (T). */
  steps: number;
  /** Sum of rewards per agent over its episode: [agents]. */
  episodeRewards: Float64Array;
}

/**
 * Runs one batch of episodes: reset, T steps, GAE. `agents[c]` acts for `env.classes[c]`; the
 * discount and lambda come from `params[c]` (or the one `params` for all classes). Draws: the env
 * reset, the action samples and the env's own randomness each get a child stream of `rng`.
 */
export const collectRollouts = (
  env: MultiClassVecEnv,
  agents: readonly PpoAgent[],
  rng: Random,
  params: PpoParams | readonly PpoParams[]
): RolloutBatch[] => {
  const classes = env.classes;
  if (agents.length !== classes.length) throw new PpoBatchError(`${agents.length} agents for ${classes.length} classes`);
  const paramsOf = (c: number): PpoParams => (Array.isArray(params) ? (params as readonly PpoParams[])[c]! : (params as PpoParams));
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
  for (let t = 0; t < steps; t++) {
    const stepActions: Float32Array[] = [];
    for (let c = 0; c < classes.length; c++) {
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
      agent.net.policy.sample(params, count, actionRng, actions, batch.logProbs.subarray(rowBase, rowBase + count));
      // The env gets its own copy: it may clip in place, and the batch keeps the unclipped sample.
      stepActions.push(Float32Array.from(actions));
    }
    env.step(stepActions, envRng);
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
