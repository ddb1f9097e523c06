/**
 * One training iteration of the shared policies ("rollouts (B episodes) -> PPO
 * update(s)"): collect a batch of episodes with every class's current policy, then update each
 * class's policy on its own batch. The iteration is a pure function of (agent states, params,
 * rng), which is what makes a checkpointed loop resume bit-identically: give iteration k the
 * stream `root.split(k)`.
 */
import type { Random } from "../random/philox.ts";
import { ppoUpdate, type PpoAgent, type PpoMetrics, type PpoParams } from "./ppo.ts";
import { collectRollouts } from "./rollout.ts";
import type { MultiClassVecEnv } from "./vec-env.ts";

export interface ClassIterationMetrics extends PpoMetrics {
  /** Mean over the class's agents of the sum of rewards of their episode. */
  "charts/episode_reward_mean": number;
  /** Samples of the class in this iteration (agents x T). */
  "charts/samples": number;
}

export const runPpoIteration = (
  env: MultiClassVecEnv,
  agents: readonly PpoAgent[],
  params: PpoParams | readonly PpoParams[],
  rng: Random
): ClassIterationMetrics[] => {
  const batches = collectRollouts(env, agents, rng.split("rollouts"), params);
  const updateRng = rng.split("update");
  return batches.map((batch, c) => {
    const p = Array.isArray(params) ? (params as readonly PpoParams[])[c]! : (params as PpoParams);
    const metrics = ppoUpdate(agents[c]!, batch, p, updateRng.split(c));
    let total = 0;
    for (let i = 0; i < batch.agents; i++) total += batch.episodeRewards[i]!;
    return { ...metrics, "charts/episode_reward_mean": total / batch.agents, "charts/samples": batch.size };
  });
};
