/**
 * The calibration training loop of section 4 (algorithm 1) and its Bayesian-optimisation baseline
 *, one iteration at a time: B episodes of the OTC game are rolled out with the LP shared
 * policy, the policy takes a PPO update on all LPs' experience (eq. 10), and the calibrator moves
 * the supertype profile. With CALSHEQ every episode b runs with its own particle Lambda^b and the
 * calibrator learns from the B episode rewards r_cal (two-timescale: its learning rate is a
 * fraction of the policy's); with BO all episodes run with the current Lambda and every M
 * iterations a Gaussian process over all (Lambda, reward) pairs proposes the next Lambda by UCB.
 * An iteration is a pure function of (state, params, iteration stream), so a checkpointed loop
 * resumes bit-identically; every figure the reports need is kept in the per-iteration rows.
 */
import { defaultGameConfig } from "../otc/config.ts";
import { OtcEnv, type OtcEpisodeOutcomes, type OtcStepRecord } from "../otc/env.ts";
import { ecnVariationModelOf, mergeEpisodeOutcomes, otcRolloutEnv, otcRolloutLocation, type OtcEcnSpec, type OtcEpisodeProfile, type OtcRolloutArgs } from "../otc/rollout-env.ts";
import { collectRollouts } from "../rl/rollout.ts";
import type { ShardExecutor } from "../rl/rollout-executor.ts";
import { RolloutRunner } from "../rl/rollout-runner.ts";
import type { Random } from "../random/philox.ts";
import { PpoAgent, ppoUpdate, type PpoAgentState, type PpoParams } from "../rl/ppo.ts";
import { BayesOptimizer, type BayesOptParams, type BayesOptState } from "./bayes-opt.ts";
import { CalsheqCalibrator, type CalsheqParams, type CalsheqState } from "./calsheq.ts";
import {
  calibrationMetricsFromSupertypeSizes,
  calibrationRewardBreakdown,
  experimentDefinition,
  experimentPopulation,
  type CalibrationTargets,
  type ExperimentId
} from "./experiments.ts";

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

export interface TrainerState {
  /** What was trained (for reports): the experiment and the targets its rewards used. */
  readonly experiment: ExperimentId;
  readonly method: CalibrationMethod;
  readonly targets: CalibrationTargets;
  /** All training params, so a checkpoint alone can rebuild its trainer. */
  readonly params: CalibrationTrainingParams;
  readonly iteration: number;
  readonly envSteps: number;
  readonly lp: PpoAgentState;
  readonly calsheq: CalsheqState | null;
  readonly bo: { readonly optimizer: BayesOptState; readonly current: Float64Array; readonly nextProposal: number } | null;
  readonly rows: IterationRow[];
}

/** How the trainer runs its rollouts: worker threads (0: this thread); never changes results. */
export interface TrainerExecution {
  /** Worker threads when no executor is given (0: this thread). */
  readonly workers: number;
  readonly backend?: "wasm" | "cpu";
  /** Where the rollout shards run instead (the trainer's runner owns it). */
  readonly executor?: ShardExecutor;
}

export class CalibrationTrainer {
  readonly rollouts: RolloutRunner<OtcRolloutArgs, OtcEnv, OtcEpisodeProfile, OtcEpisodeOutcomes>;
  readonly names: readonly string[];
  private readonly lp: PpoAgent;
  private readonly calsheq: CalsheqCalibrator | undefined;
  private readonly bo: BayesOptimizer | undefined;
  private boCurrent: Float64Array;
  private boNextProposal: number;
  private iteration = 0;
  private envSteps = 0;
  private readonly rows: IterationRow[] = [];

  constructor(
    readonly params: CalibrationTrainingParams,
    readonly ecn: OtcEcnSpec,
    rng: Random,
    execution: TrainerExecution = { workers: 0 }
  ) {
    const definition = experimentDefinition(params.experiment);
    const { space } = definition;
    this.names = space.names;
    const config = { ...defaultGameConfig(experimentPopulation(params.experiment, space.initial)), horizon: params.horizon };
    this.rollouts = new RolloutRunner({
      factory: otcRolloutEnv,
      location: otcRolloutLocation,
      args: { config, ecn },
      episodes: params.episodes,
      episodesPerShard: params.episodesPerShard,
      workers: execution.workers,
      ...(execution.backend !== undefined ? { backend: execution.backend } : {}),
      ...(execution.executor !== undefined ? { executor: execution.executor } : {})
    });
    const lpClass = this.rollouts.classes[0]!;
    this.lp = new PpoAgent(lpClass.obsDim, lpClass.action, params.ppo, rng.split("lp-policy"));
    this.boCurrent = Float64Array.from(space.initial);
    this.boNextProposal = params.boEvery;
    if (params.method === "calsheq") {
      this.calsheq = new CalsheqCalibrator(
        { names: space.names, lower: space.lower, upper: space.upper, initial: space.initial },
        { ...params.calsheq, particles: params.episodes, sharedLearningRate: params.ppo.learningRate },
        rng.split("calsheq")
      );
    } else {
      this.bo = new BayesOptimizer({ lower: space.lower, upper: space.upper }, params.bo, rng.split("bo"));
    }
  }

  /** Restores a checkpoint taken by `getState` (same params). */
  setState(state: TrainerState): void {
    this.lp.setState(state.lp);
    if (this.calsheq !== undefined && state.calsheq !== null) this.calsheq.setState(state.calsheq);
    if (this.bo !== undefined && state.bo !== null) {
      this.bo.setState(state.bo.optimizer);
      this.boCurrent = Float64Array.from(state.bo.current);
      this.boNextProposal = state.bo.nextProposal;
    }
    this.iteration = state.iteration;
    this.envSteps = state.envSteps;
    this.rows.length = 0;
    this.rows.push(...state.rows);
  }

  getState(): TrainerState {
    return {
      experiment: this.params.experiment,
      method: this.params.method,
      targets: this.params.targets,
      params: this.params,
      iteration: this.iteration,
      envSteps: this.envSteps,
      lp: this.lp.getState(),
      calsheq: this.calsheq?.getState() ?? null,
      bo: this.bo ? { optimizer: this.bo.getState(), current: Float64Array.from(this.boCurrent), nextProposal: this.boNextProposal } : null,
      rows: this.rows.map((r) => ({ ...r }))
    };
  }

  get history(): readonly IterationRow[] {
    return this.rows;
  }

  /** The profile episode b runs with in the coming iteration. */
  private profileOf(b: number): Float64Array {
    if (this.calsheq !== undefined) return this.calsheq.particle(b);
    return this.boCurrent;
  }

  /** One training iteration; `rng` must be the iteration's own stream (e.g. root.split(k)). */
  async iterate(rng: Random): Promise<IterationRow> {
    const { params } = this;
    const B = params.episodes;
    const d = this.names.length;
    const profiles: Float64Array[] = [];
    for (let b = 0; b < B; b++) profiles.push(this.profileOf(b));
    const populations = profiles.map((lambda) => experimentPopulation(params.experiment, lambda));
    const sharedRng = rng.split("shared");
    const rollout = await this.rollouts.collect([this.lp], sharedRng.split("rollouts"), params.ppo, populations);
    const lpBatch = rollout.batches[0]!;
    const ppoMetrics = ppoUpdate(this.lp, lpBatch, params.ppo, sharedRng.split("update").split(0));
    let lpRewardTotal = 0;
    for (let i = 0; i < lpBatch.agents; i++) lpRewardTotal += lpBatch.episodeRewards[i]!;
    const lpMetrics = { ...ppoMetrics, "charts/episode_reward_mean": lpRewardTotal / lpBatch.agents };
    const outcomes = mergeEpisodeOutcomes(rollout.extras);
    this.envSteps += B * params.horizon;

    // Per-episode calibration metrics and rewards.
    const rewards = new Float64Array(B);
    const share1 = new Float64Array(B);
    const shareTotal = new Float64Array(B);
    const vhat1 = new Float64Array(9);
    const vhat2 = new Float64Array(9);
    const nSuper = outcomes.nLpSupertypes;
    for (let b = 0; b < B; b++) {
      const metrics = calibrationMetricsFromSupertypeSizes(outcomes.lpSupertypeTradeSizes[b]!, outcomes.totalLtQuantity[b]!);
      rewards[b] = calibrationRewardBreakdown(params.experiment, metrics, params.targets).reward;
      share1[b] = metrics.m_super1;
      shareTotal[b] = metrics.m_total;
      for (let p = 0; p < 9; p++) {
        vhat1[p]! += metrics.vhat_super1[p]! / B;
        vhat2[p]! += metrics.vhat_super2[p]! / B;
      }
    }
    const sum = (a: ArrayLike<number>) => {
      let total = 0;
      for (let i = 0; i < a.length; i++) total += a[i]!;
      return total;
    };
    const ratio = (num: ArrayLike<number>, den: ArrayLike<number>) => sum(num) / sum(den);
    const mean = (a: ArrayLike<number>) => {
      let sum = 0;
      for (let i = 0; i < a.length; i++) sum += a[i]!;
      return sum / a.length;
    };
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

    let calibratorLoss = Number.NaN;
    let calibratorStep = Number.NaN;
    if (this.calsheq !== undefined) {
      const update = this.calsheq.update(rewards, rng.split("calibrator"));
      calibratorLoss = update.ppo["losses/policy_loss"];
      calibratorStep = update.meanAbsoluteStep;
    } else if (this.bo !== undefined && this.iteration + 1 >= this.boNextProposal) {
      this.bo.observe(this.boCurrent, mean(rewards));
      this.boCurrent = Float64Array.from(this.bo.suggest());
      this.boNextProposal += params.boEvery;
    }

    this.iteration++;
    const raw: IterationRow = {
      iteration: this.iteration,
      env_steps: this.envSteps,
      agent_steps: this.envSteps * outcomes.nLp,
      "calibration/reward": mean(rewards),
      "calibration/reward_std": Math.sqrt(mean(rewards.map((r) => (r - mean(rewards)) ** 2))),
      "targets/m_super1": mean(share1),
      "targets/m_total": mean(shareTotal),
      // Where the LTs' quantity went (docs/market-mechanics.md): the ECN's share of all LT quantity
      // decided (per episode, as m_total: the two add up to 1), the part of the ECN's fills the
      // resting book absorbed, and buy / sell actions no venue quoted (pooled over the episodes).
      "market/ecn_share": mean(outcomes.ecnLtQuantity.map((q, b) => q / outcomes.totalLtQuantity[b]!)),
      "market/ecn_from_resting_book": ratio(outcomes.ecnRestingLtQuantity, outcomes.ecnLtQuantity),
      "market/no_venue_fraction": ratio(outcomes.noVenueLtQuantity, outcomes.totalLtQuantity.map((q, b) => q + outcomes.noVenueLtQuantity[b]!)),
      "calibration/policy_loss": calibratorLoss,
      "calibration/mean_abs_step": calibratorStep,
      "charts/episode_reward_mean": lpMetrics["charts/episode_reward_mean"],
      "losses/policy_loss": lpMetrics["losses/policy_loss"],
      "losses/value_loss": lpMetrics["losses/value_loss"],
      "losses/approx_kl": lpMetrics["losses/approx_kl"],
      "losses/entropy": lpMetrics["losses/entropy"],
      "charts/kl_coeff": lpMetrics["charts/kl_coeff"]
    };
    // Undefined values (NaN: e.g. no calibrator loss under BO) are left out of the row.
    const row: IterationRow = {};
    for (const [k, v] of Object.entries(raw)) if (Number.isFinite(v)) row[k] = v;
    const put = (k: string, v: number) => {
      if (Number.isFinite(v)) row[k] = v;
    };
    for (let s = 0; s < nSuper; s++) {
      const n = lpCount[s]!;
      const mean = n > 0 ? lpReward[s]! / n : Number.NaN;
      put(`rewards/lp_super${s + 1}`, mean);
      // The spread of the supertype's LPs' episode rewards: figure 7's +-1 stDev band.
      put(`rewards/lp_super${s + 1}_std`, n > 0 ? Math.sqrt(Math.max(0, lpRewardSquares[s]! / n - mean * mean)) : Number.NaN);
    }
    for (let p = 0; p < 9; p++) {
      put(`targets/vhat_super1_p${p + 1}`, vhat1[p]!);
      put(`targets/vhat_super2_p${p + 1}`, vhat2[p]!);
    }
    this.names.forEach((name, i) => {
      put(`params/${name}/mean`, paramMean[i]!);
      put(`params/${name}/std`, Math.sqrt(paramStd[i]!));
    });
    this.rows.push(row);
    return row;
  }

  /**
   * Plays `episodes` episodes with the current LP policy (no learning) at the mean of the current
   * profile (CALSHEQ: the particles' mean; BO: its current point) and returns the per-agent,
   * per-step record of the game (section 2.2: quotes, trades, inventories, PnL, rewards, market shares).
   */
  recordEpisodes(episodes: number, rng: Random): OtcStepRecord {
    const d = this.names.length;
    const profile = new Float64Array(d);
    if (this.calsheq !== undefined) {
      const particles = this.calsheq.particles();
      const B = particles.length / d;
      for (let b = 0; b < B; b++) for (let i = 0; i < d; i++) profile[i]! += particles[b * d + i]! / B;
    } else profile.set(this.boCurrent);
    const population = experimentPopulation(this.params.experiment, profile);
    const config = { ...defaultGameConfig(population), horizon: this.params.horizon };
    const env = new OtcEnv({ config, batchSize: episodes, ecnModel: ecnVariationModelOf(this.ecn), record: true });
    collectRollouts(env, [this.lp], rng, this.params.ppo);
    return env.takeRecord();
  }

  /** Frees the networks and stops the rollout worker threads. */
  async dispose(): Promise<void> {
    this.lp.dispose();
    await this.rollouts.close();
  }
}
