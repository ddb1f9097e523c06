/**
 * The games of figure 6 (paper section 3.2) and the measurement of their Hamiltonian
 * weights during training: a PnL-driven LP against a PnL-driven LT with no ECN (1v1), the same
 * with a second identical LP (2v1), and a PnL-driven LP against a flow-driven LT with even targets
 * q^a = q^b = 0.5 (flow 1v1). `measureGameWeights` plays a batch of episodes with the current
 * policies, turns every LP and learning LT of the episode into a player of a policy-gradient game
 * (core/analysis/game-components.ts) and returns omega_A and omega_S for every pair of players.
 *
 * Decisions where the paper is silent: the LPs' risk aversion is a param (default 0.5, the base value of section 5.2; at 0 the PnL games
 * without ECN are exactly zero-sum, which forces omega_A = 1),
 * eta is the project default, LTs trade one lot, and "no ECN" means neither the LPs nor the LT can
 * trade on it (the book still moves the mid, as in every game of this project).
 */
import { defaultGameConfig, DEFAULT_ETA, type OtcGameConfig } from "../otc/config.ts";
import type { OtcEnv } from "../otc/env.ts";
import { constant, type Population } from "../otc/supertypes.ts";
import type { Random } from "../random/philox.ts";
import type { PpoAgent } from "../rl/ppo.ts";
import { collectRollouts, type RolloutBatch } from "../rl/rollout.ts";
import { gameComponents, policyForwardSpec, policyGradientGame, type PolicyPlayer } from "./game-components.ts";

export const FIGURE6_GAMES = ["pnl-1v1", "pnl-2v1", "flow-1v1"] as const;
export type Figure6Game = (typeof FIGURE6_GAMES)[number];

/** The population of one figure 6 game. */
export const figure6Population = (game: Figure6Game, lpRiskAversion: number): Population => {
  const flowLt = game === "flow-1v1";
  return {
    lp: [
      {
        name: "lp",
        count: game === "pnl-2v1" ? 2 : 1,
        gamma: constant(lpRiskAversion),
        eta: constant(DEFAULT_ETA),
        omega: constant(1),
        mTarget: constant(1),
        connectivity: [constant(1)],
        ecnConnected: false
      }
    ],
    lt: [
      {
        name: flowLt ? "flow-lt" : "pnl-lt",
        count: 1,
        gamma: constant(0),
        eta: constant(DEFAULT_ETA),
        omega: constant(flowLt ? 0 : 1),
        qA: constant(0.5),
        qB: constant(0.5),
        qLT: constant(1),
        ecnConnected: false,
        stationary: false
      }
    ]
  };
};

export const figure6Config = (game: Figure6Game, lpRiskAversion: number, horizon: number): OtcGameConfig => ({
  ...defaultGameConfig(figure6Population(game, lpRiskAversion)),
  horizon
});

/** One measurement: omega_A and the norms for one pair of players at one training iteration. */
export interface GameWeightRow {
  readonly iteration: number;
  /** "lp1-lt", "lp1-lp2", ... or "all". */
  readonly pair: string;
  readonly omegaA: number | null;
  readonly normA: number;
  readonly normS: number;
  /**
   * For a pair: the norms of the cross terms from the first and from the second player's utility,
   * and the cosine between them (game-components.ts: what sets omega_A); null for "all" or when a
   * cosine is undefined.
   */
  readonly crossNorms: readonly [number, number] | null;
  readonly crossAlignment: number | null;
}

/** Player names of an env: lp1..lpN then lt1..ltM (learning LTs). */
export const playerNames = (env: OtcEnv): string[] => [
  ...Array.from({ length: env.nLp }, (_, i) => `lp${i + 1}`),
  ...Array.from({ length: env.learningLts.length }, (_, k) => (env.learningLts.length === 1 ? "lt" : `lt${k + 1}`))
];

/** Rows of agent j (of k per episode) of a time-major class batch, re-laid episode-major. */
const playerData = (batch: RolloutBatch, episodes: number, j: number) => {
  const T = batch.steps;
  const count = batch.agents;
  const k = count / episodes;
  const obs = new Float32Array(episodes * T * batch.obsDim);
  const actions = new Float32Array(episodes * T * batch.actionDim);
  const rewards = new Float32Array(episodes * T);
  for (let b = 0; b < episodes; b++) {
    for (let t = 0; t < T; t++) {
      const from = t * count + b * k + j;
      const to = b * T + t;
      obs.set(batch.obs.subarray(from * batch.obsDim, (from + 1) * batch.obsDim), to * batch.obsDim);
      actions.set(batch.actions.subarray(from * batch.actionDim, (from + 1) * batch.actionDim), to * batch.actionDim);
      rewards[to] = batch.rewards[from]!;
    }
  }
  return { obs, actions, rewards };
};

/**
 * Plays one batch of `env.batchSize` episodes with `agents` (one per env class) and measures the
 * game components of every pair of players (and of all of them) on it.
 */
export const measureGameWeights = async (env: OtcEnv, agents: readonly PpoAgent[], rng: Random, iteration: number): Promise<GameWeightRow[]> => {
  const returns = agents.map((a) => ({ discount: a.params.discount, gaeLambda: a.params.gaeLambda }));
  const batches = await collectRollouts(env, agents, rng, returns);
  const B = env.batchSize;
  const players: PolicyPlayer[] = [];
  env.classes.forEach((spec, c) => {
    const agent = agents[c]!;
    const perEpisode = spec.count / B;
    const weights = agent.net.getWeights();
    const action = spec.action;
    for (let j = 0; j < perEpisode; j++) {
      players.push({
        spec: policyForwardSpec(action.kind, agent.params.network),
        weights,
        obsDim: spec.obsDim,
        actionSize: action.kind === "continuous" ? action.dim : action.n,
        ...playerData(batches[c]!, B, j)
      });
    }
  });
  const game = policyGradientGame({ players, episodes: B, steps: env.horizon, discount: agents[0]!.params.discount });
  try {
    const components = gameComponents(game);
    const names = playerNames(env);
    const row = (pair: string, c: { omegaA: number; normA: number; normS: number; crossNorms?: readonly [number, number]; crossAlignment?: number }): GameWeightRow => ({
      iteration,
      pair,
      omegaA: Number.isFinite(c.omegaA) ? c.omegaA : null,
      normA: c.normA,
      normS: c.normS,
      crossNorms: c.crossNorms ?? null,
      crossAlignment: c.crossAlignment !== undefined && Number.isFinite(c.crossAlignment) ? c.crossAlignment : null
    });
    return [...components.pairs.map((p) => row(`${names[p.i]}-${names[p.j]}`, p)), row("all", components.all)];
  } finally {
    game.dispose();
  }
};
