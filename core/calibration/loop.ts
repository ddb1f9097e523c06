/**
 * The calibration training loop of paper section 4 (algorithm 1) and its Bayesian-optimisation
 * baseline as plain data and pure functions: the loop state (the LP shared policy's weights and
 * Adam moments, the calibrator's state, the iteration rows), the profiles Lambda^b each episode of
 * an iteration runs with, the per-episode calibration metrics and rewards r_cal, and the row of
 * figures an iteration adds. One iteration is a small DAG of stages (build-supertypes -> rollouts
 * -> ppo-update -> episode-rewards -> calibrator-update or bo-propose; stages/calibration.ts)
 * composed from these functions and the learners of core/rl. With CALSHEQ every episode b runs
 * with its own particle Lambda^b and the calibrator learns from the B episode rewards r_cal
 * (two-timescale: its learning rate is a fraction of the policy's); with BO all episodes run with
 * the current Lambda and every M iterations a Gaussian process over all (Lambda, reward) pairs
 * proposes the next Lambda by UCB. An iteration is a pure function of (state, params, iteration
 * stream), so a checkpointed loop resumes bit-identically.
 */
import { defaultGameConfig, type OtcGameConfig } from "../otc/config.ts";
import { OtcEnv, type OtcEpisodeOutcomes, type OtcStepRecord } from "../otc/env.ts";
import { ecnVariationModelOf, type OtcEcnSpec } from "../otc/rollout-env.ts";
import type { Population } from "../otc/supertypes.ts";
import type { Random } from "../random/philox.ts";
import { collectRollouts, type RolloutBatch } from "../rl/rollout.ts";
import type { PpoAgent, PpoAgentState, PpoMetrics, PpoParams } from "../rl/ppo.ts";
import type { BayesOptParams, BayesOptState } from "./bayes-opt.ts";
import type { CalsheqParams, CalsheqSpec, CalsheqState } from "./calsheq.ts";
import {
  calibrationMetricsFromSupertypeSizes,
  calibrationRewardBreakdown,
  experimentDefinition,
  experimentPopulation,
  type CalibrationTargets,
  type ExperimentId
} from "./experiments.ts";
import { initialStopping, type StoppingProgress, type StoppingRuleKind } from "./stopping.ts";

export type CalibrationMethod = "calsheq" | "bo";

export interface CalibrationTrainingParams {
  readonly experiment: ExperimentId;
  readonly method: CalibrationMethod;
  /** B: episodes per iteration (= CALSHEQ particles). */
  readonly episodes: number;
  /** T: steps per episode. */
  readonly horizon: number;
  /** Episodes per rollout shard (fixes the shard layout; see core/rl/rollout-runner.ts). */
  readonly episodesPerShard: number;
  /** The LP shared policy's PPO. */
  readonly ppo: PpoParams;
  /** CALSHEQ calibrator (its `particles` is set to `episodes`). */
  readonly calsheq: CalsheqParams;
  /** BO: iterations between proposals (M) and the optimiser's settings. */
  readonly boEvery: number;
  readonly bo: BayesOptParams;
  /** The experiment's targets (table 5), overridable to ask what-if questions. */
  readonly targets: CalibrationTargets;
}

/** One row per iteration; every field a number so the rows become an Arrow table directly. */
export type IterationRow = Record<string, number>;

/** BO's part of the state: the optimiser's observations, the profile the episodes run with, and when it next proposes. */
export interface BoLoopState {
  readonly optimizer: BayesOptState;
  readonly current: Float64Array;
  readonly nextProposal: number;
}

/** The loop state: plain data only (what a checkpoint holds). */
export interface CalibrationLoopState {
  /** What was trained (for reports): the experiment and the targets its rewards used. */
  readonly experiment: ExperimentId;
  readonly method: CalibrationMethod;
  readonly targets: CalibrationTargets;
  /** All training params (networks on the backend that ran), so a checkpoint alone describes its run. */
  readonly params: CalibrationTrainingParams;
  readonly iteration: number;
  readonly envSteps: number;
  /** The LP shared policy: weights, Adam moments, KL coefficient. */
  readonly lp: PpoAgentState;
  readonly calsheq: CalsheqState | null;
  readonly bo: BoLoopState | null;
  readonly rows: readonly IterationRow[];
  /** The stopping rule's checks so far (core/calibration/stopping.ts); absent in states saved before it existed. */
  readonly stopping?: StoppingProgress;
}

/** The game every episode of the experiment is played in (the population at Lambda_0; each episode gets its own profile). */
export const calibrationGame = (params: Pick<CalibrationTrainingParams, "experiment" | "horizon">): OtcGameConfig => ({
  ...defaultGameConfig(experimentPopulation(params.experiment)),
  horizon: params.horizon
});

/** The calibrator's search space and settings for CALSHEQ (B particles; its learning rate a ratio of the policy's). */
export const calsheqSetup = (params: CalibrationTrainingParams): { spec: CalsheqSpec; params: CalsheqParams } => {
  const { space } = experimentDefinition(params.experiment);
  return {
    spec: { names: space.names, lower: space.lower, upper: space.upper, initial: space.initial },
    params: { ...params.calsheq, particles: params.episodes, sharedLearningRate: params.ppo.learningRate }
  };
};

/** The state before the first iteration, from the initial policy and calibrator. */
export const initialCalibrationState = (
  params: CalibrationTrainingParams,
  lp: PpoAgentState,
  calsheq: CalsheqState | null,
  bo: BayesOptState | null,
  stopping: StoppingRuleKind = "fixed"
): CalibrationLoopState => ({
  experiment: params.experiment,
  method: params.method,
  targets: params.targets,
  params,
  iteration: 0,
  envSteps: 0,
  lp,
  calsheq,
  bo: bo === null ? null : { optimizer: bo, current: Float64Array.from(experimentDefinition(params.experiment).space.initial), nextProposal: params.boEvery },
  rows: [],
  stopping: initialStopping(stopping)
});

/**
 * The profile Lambda^b each of the B episodes runs with: CALSHEQ's particles, or BO's current
 * point for all (the same array for every episode).
 */
export const episodeProfiles = (calsheq: CalsheqState | null, bo: BoLoopState | null, episodes: number): Float64Array[] => {
  if (calsheq !== null) {
    const d = calsheq.particles.length / episodes;
    return Array.from({ length: episodes }, (_, b) => calsheq.particles.slice(b * d, (b + 1) * d));
  }
  if (bo === null) throw new RangeError("a calibration loop state has a CALSHEQ or a BO calibrator");
  return Array.from({ length: episodes }, () => bo.current);
};

/** The supertype populations of the episodes: the experiment's population at each episode's profile. */
export const episodePopulations = (experiment: ExperimentId, profiles: readonly Float64Array[]): Population[] =>
  profiles.map((lambda) => experimentPopulation(experiment, lambda));

/** Per-episode calibration figures of one iteration (section 5.1's metrics and r_cal). */
export interface EpisodeCalibration {
  /** r_cal of each episode. */
  readonly rewards: Float64Array;
  readonly shareSuper1: Float64Array;
  readonly shareTotal: Float64Array;
  /** Percentiles 10%..90% of the received trade sizes per LP supertype, averaged over the episodes. */
  readonly vhatSuper1: Float64Array;
  readonly vhatSuper2: Float64Array;
}

/** Market shares, trade-size percentiles and r_cal of each episode against `targets`. */
export const episodeCalibration = (outcomes: OtcEpisodeOutcomes, experiment: ExperimentId, targets: CalibrationTargets): EpisodeCalibration => {
  const B = outcomes.episodes;
  const rewards = new Float64Array(B);
  const shareSuper1 = new Float64Array(B);
  const shareTotal = new Float64Array(B);
  const vhatSuper1 = new Float64Array(9);
  const vhatSuper2 = new Float64Array(9);
  for (let b = 0; b < B; b++) {
    const metrics = calibrationMetricsFromSupertypeSizes(outcomes.lpSupertypeTradeSizes[b]!, outcomes.totalLtQuantity[b]!);
    rewards[b] = calibrationRewardBreakdown(experiment, metrics, targets).reward;
    shareSuper1[b] = metrics.m_super1;
    shareTotal[b] = metrics.m_total;
    for (let p = 0; p < 9; p++) {
      vhatSuper1[p]! += metrics.vhat_super1[p]! / B;
      vhatSuper2[p]! += metrics.vhat_super2[p]! / B;
    }
  }
  return { rewards, shareSuper1, shareTotal, vhatSuper1, vhatSuper2 };
};

export const mean = (a: ArrayLike<number>): number => {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]!;
  return sum / a.length;
};

/** What the calibrator did this iteration (NaN where it did not: BO learns no policy). */
export interface CalibratorStep {
  readonly loss: number;
  readonly meanAbsoluteStep: number;
}

/** Everything an iteration's row is made of. */
export interface IterationFigures {
  readonly iteration: number;
  readonly envSteps: number;
  readonly names: readonly string[];
  readonly profiles: readonly Float64Array[];
  readonly lpBatch: RolloutBatch;
  readonly ppo: PpoMetrics;
  readonly outcomes: OtcEpisodeOutcomes;
  readonly episodes: EpisodeCalibration;
  readonly calibrator: CalibratorStep;
}

/** The iteration's row of figures (CleanRL's namespaces); undefined values (NaN) are left out. */
export const iterationRow = (f: IterationFigures): IterationRow => {
  const { outcomes, episodes, lpBatch, profiles, names } = f;
  const B = profiles.length;
  const d = names.length;
  const sum = (a: ArrayLike<number>) => {
    let total = 0;
    for (let i = 0; i < a.length; i++) total += a[i]!;
    return total;
  };
  const ratio = (num: ArrayLike<number>, den: ArrayLike<number>) => sum(num) / sum(den);
  let lpRewardTotal = 0;
  for (let i = 0; i < lpBatch.agents; i++) lpRewardTotal += lpBatch.episodeRewards[i]!;
  const nSuper = outcomes.nLpSupertypes;
  const lpReward = new Float64Array(nSuper);
  const lpRewardSquares = new Float64Array(nSuper);
  const lpCount = new Float64Array(nSuper);
  // lpSupertype lists one episode's LPs; every episode has the same LPs in the same order.
  for (let i = 0; i < outcomes.lpEpisodeReward.length; i++) {
    const s = outcomes.lpSupertype[i % outcomes.nLp]!;
    lpReward[s]! += outcomes.lpEpisodeReward[i]!;
    lpRewardSquares[s]! += outcomes.lpEpisodeReward[i]! ** 2;
    lpCount[s]! += 1;
  }
  // Parameter statistics of the profiles these episodes ran with.
  const paramMean = new Float64Array(d);
  const paramStd = new Float64Array(d);
  for (const lambda of profiles) for (let i = 0; i < d; i++) paramMean[i]! += lambda[i]! / B;
  for (const lambda of profiles) for (let i = 0; i < d; i++) paramStd[i]! += (lambda[i]! - paramMean[i]!) ** 2 / B;

  const rewards = episodes.rewards;
  const raw: IterationRow = {
    iteration: f.iteration,
    env_steps: f.envSteps,
    agent_steps: f.envSteps * outcomes.nLp,
    "calibration/reward": mean(rewards),
    "calibration/reward_std": Math.sqrt(mean(rewards.map((r) => (r - mean(rewards)) ** 2))),
    "targets/m_super1": mean(episodes.shareSuper1),
    "targets/m_total": mean(episodes.shareTotal),
    // Where the LTs' quantity went (docs/market-mechanics.md): the ECN's share of all LT quantity
    // decided (per episode, as m_total: the two add up to 1), the part of the ECN's fills the
    // resting book absorbed, and buy / sell actions no venue quoted (pooled over the episodes).
    "market/ecn_share": mean(outcomes.ecnLtQuantity.map((q, b) => q / outcomes.totalLtQuantity[b]!)),
    "market/ecn_from_resting_book": ratio(outcomes.ecnRestingLtQuantity, outcomes.ecnLtQuantity),
    "market/no_venue_fraction": ratio(outcomes.noVenueLtQuantity, outcomes.totalLtQuantity.map((q, b) => q + outcomes.noVenueLtQuantity[b]!)),
    "calibration/policy_loss": f.calibrator.loss,
    "calibration/mean_abs_step": f.calibrator.meanAbsoluteStep,
    "charts/episode_reward_mean": lpRewardTotal / lpBatch.agents,
    "losses/policy_loss": f.ppo["losses/policy_loss"],
    "losses/value_loss": f.ppo["losses/value_loss"],
    "losses/approx_kl": f.ppo["losses/approx_kl"],
    "losses/entropy": f.ppo["losses/entropy"],
    "charts/kl_coeff": f.ppo["charts/kl_coeff"]
  };
  const row: IterationRow = {};
  for (const [k, v] of Object.entries(raw)) if (Number.isFinite(v)) row[k] = v;
  const put = (k: string, v: number) => {
    if (Number.isFinite(v)) row[k] = v;
  };
  for (let s = 0; s < nSuper; s++) {
    const n = lpCount[s]!;
    const m = n > 0 ? lpReward[s]! / n : Number.NaN;
    put(`rewards/lp_super${s + 1}`, m);
    // The spread of the supertype's LPs' episode rewards: figure 7's +-1 stDev band.
    put(`rewards/lp_super${s + 1}_std`, n > 0 ? Math.sqrt(Math.max(0, lpRewardSquares[s]! / n - m * m)) : Number.NaN);
  }
  for (let p = 0; p < 9; p++) {
    put(`targets/vhat_super1_p${p + 1}`, episodes.vhatSuper1[p]!);
    put(`targets/vhat_super2_p${p + 1}`, episodes.vhatSuper2[p]!);
  }
  names.forEach((name, i) => {
    put(`params/${name}/mean`, paramMean[i]!);
    put(`params/${name}/std`, Math.sqrt(paramStd[i]!));
  });
  return row;
};

/** The mean profile of a state: CALSHEQ's particles' mean, or BO's current point. */
export const meanProfile = (state: Pick<CalibrationLoopState, "calsheq" | "bo">, dim: number): Float64Array => {
  const profile = new Float64Array(dim);
  if (state.calsheq !== null) {
    const particles = state.calsheq.particles;
    const B = particles.length / dim;
    for (let b = 0; b < B; b++) for (let i = 0; i < dim; i++) profile[i]! += particles[b * dim + i]! / B;
  } else if (state.bo !== null) profile.set(state.bo.current);
  return profile;
};

/**
 * Plays `episodes` episodes with the trained LP policy (no learning) at the mean of the trained
 * profile and returns the per-agent, per-step record of the game (section 2.2: quotes, trades,
 * inventories, PnL, rewards, market shares).
 */
export const recordCalibratedEpisodes = (state: CalibrationLoopState, lp: PpoAgent, ecn: OtcEcnSpec, episodes: number, rng: Random): OtcStepRecord => {
  const { params } = state;
  const population = experimentPopulation(params.experiment, meanProfile(state, experimentDefinition(params.experiment).space.names.length));
  const config = { ...defaultGameConfig(population), horizon: params.horizon };
  const env = new OtcEnv({ config, batchSize: episodes, ecnModel: ecnVariationModelOf(ecn), record: true });
  collectRollouts(env, [lp], rng, params.ppo);
  return env.takeRecord();
};
