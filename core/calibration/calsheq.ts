/**
 * CALSHEQ, the RL calibrator of shared equilibria (paper section 4, algorithm 1). The
 * calibrator's state is the supertype profile Lambda (the calibrated parameters), its action an
 * increment dLambda. B particles Lambda^b, one per episode of a training iteration, evolve by
 * Lambda^b_n = Lambda^b_{n-1} + dLambda^b kept in the state range, dLambda^b ~ pi_cal(. | Lambda^b_{n-1});
 * the episode run with Lambda^b_n earns the reward r_cal (eq. 19, `experiments.ts`), and the
 * calibrator policy is updated by PPO (core/rl, the same algorithm and defaults as the shared
 * policies) on the B one-step transitions (Lambda^b_{n-1}, dLambda^b, r_cal^b) of the iteration,
 * with a learning rate equal to the shared policies' times a ratio (the slower timescale of
 * assumption 4.1).
 *
 * Units: the policy sees Lambda mapped to [0, 1]^d by the state ranges; its Gaussian action a is
 * in units of the maximum step, and the increment applied is dLambda_i = clip(a_i, -1, 1) *
 * maxStepFraction * width_i. The default maxStepFraction = 1 is table 3 (an increment may span
 * the whole range), so the best one-step move towards any point of the range is an interior
 * action; smoothness comes from the small initial stDev (10% of each range) and the slow learning
 * rate. As in RLlib, the log-probability is that of the unclipped action.
 *
 * Bounds (a measured deviation from algorithm 1, which clips): the default is "reflect", a move
 * past a bound is mirrored back inside. With "clip" (kept as an option) a bound becomes absorbing
 * once the policy's mean for that coordinate points outside by a few stDevs: every sample lands on
 * the bound, the rewards stop depending on that coordinate's action and nothing pulls the particle
 * back. On the toy problem of the tests (lr 3e-3, B = 32, 2 parameters) clip pinned a coordinate
 * at the wrong bound in 2 of 3 seeds for an interior optimum and in 1 of 5 for an optimum with one
 * coordinate on a bound; reflect reached the interior optimum in 5 of 5 seeds (more noisily).
 *
 * Two forms of the policy: "increment" is algorithm 1 as written (the calibrator's state is
 * Lambda and each particle takes a step from where it is), so particles random-walk in every
 * direction the reward does not constrain (with the initial stDev of 10% of a range, about 1 range
 * in 100 iterations: measured, a risk aversion the experiment-4 reward ignores wandered to 3.8);
 * "distribution" is the paper's "CALSHEQ_no_state" ablation (section 5.1, figure 25, which the
 * paper found markedly worse): the policy sees a constant input instead of the state and every
 * particle is a fresh draw Lambda^b_n = Lambda_0 + a^b * maxStepFraction * width, a^b ~ pihat_theta,
 * so the particles' mean is the policy's mean and moves only as fast as the updates move it. Reports
 * must name the form they ran (`calibratorLabel`).
 *
 * Protocol per training iteration: `particles()` gives the B profiles to run episodes with;
 * `update(rewards, rng)` trains on those episodes' rewards and moves the particles for the next
 * iteration. The first increments are drawn in the constructor (algorithm 1: Lambda^b_1 =
 * Lambda_0 + dLambda^b). Every random draw comes from the `Random`s passed in.
 */
import type { Random } from "../random/philox.ts";
import { PpoAgent, defaultPpoParams, ppoUpdate, type PpoAgentState, type PpoBatch, type PpoMetrics, type PpoParams } from "../rl/ppo.ts";

/** What is calibrated: names, state ranges (clip bounds) and the starting profile Lambda_0. */
export interface CalsheqSpec {
  readonly names: readonly string[];
  readonly lower: ArrayLike<number>;
  readonly upper: ArrayLike<number>;
  readonly initial: ArrayLike<number>;
}

export interface CalsheqParams {
  /** B, particles (= episodes) per iteration (60 in the paper). */
  particles: number;
  /** Largest increment per iteration as a fraction of each parameter's range (table 3: 1). */
  maxStepFraction: number;
  /** How a move leaving the state range is brought back: "reflect" (default) or "clip"; see the module note. */
  boundary: "clip" | "reflect";
  /** "increment": Lambda^b_n = Lambda^b_{n-1} + a; "distribution": Lambda^b_n = Lambda_0 + a, a ~ pihat (see the module note). */
  form: "increment" | "distribution";
  /** Learning rate of the shared policies (alpha_shared). */
  sharedLearningRate: number;
  /** alpha_cal / alpha_shared: below 1 puts the calibrator on the slower timescale. */
  learningRateRatio: number;
  /**
   * The calibrator's PPO (defaults: the shared policies' defaults). Its `learningRate` is
   * replaced by sharedLearningRate x learningRateRatio; `network.gaussian.initialLogStd` sets the
   * initial increment stDev in units of the maximum step.
   */
  ppo: PpoParams;
}

/**
 * The calibrator as run, in words: the form (algorithm 1 with state, or the no-state ablation),
 * the two-timescale ratio, and the boundary rule, for reports and logs.
 */
export const calibratorLabel = (p: Pick<CalsheqParams, "form" | "learningRateRatio" | "boundary">): string =>
  `${p.form === "increment" ? "CALSHEQ (algorithm 1: increment form, state Lambda)" : "CALSHEQ_no_state (distribution form: particles drawn around Lambda_0, no state; the paper's ablation)"}, alpha_cal / alpha_shared = ${p.learningRateRatio}, ${p.boundary} at the range bounds`;

export const defaultCalsheqParams: CalsheqParams = {
  particles: 60,
  maxStepFraction: 1,
  boundary: "reflect",
  form: "increment",
  sharedLearningRate: defaultPpoParams.learningRate,
  learningRateRatio: 0.1,
  ppo: {
    ...defaultPpoParams,
    network: {
      ...defaultPpoParams.network,
      // Increments start small (stDev 10% of each range) so the first moves are smooth.
      gaussian: { ...defaultPpoParams.network.gaussian, initialLogStd: Math.log(0.1) }
    }
  }
};

/** Raised on an inconsistent spec, wrong reward count or a checkpoint that does not fit. */
export class CalsheqError extends Error {
  readonly _tag = "CalsheqError";
  constructor(readonly detail: string) {
    super(`CALSHEQ calibrator: ${detail}; build the spec from experimentDefinition(id).space and pass one reward per particle.`);
  }
}

/** Metrics of one calibrator update (reward and the parameters' mean and spread). */
export interface CalsheqMetrics {
  /** Updates done so far, this one included. */
  iteration: number;
  meanReward: number;
  minReward: number;
  maxReward: number;
  /** Mean and stDev across particles of Lambda after this update's move (d entries each). */
  particleMean: Float64Array;
  particleStd: Float64Array;
  /** Mean |dLambda| per parameter of the move, in units of its range. */
  meanAbsoluteStep: number;
  ppo: PpoMetrics;
}

/** Everything needed to continue bit-identically: networks, optimiser, particles and pending transitions. */
export interface CalsheqState {
  iteration: number;
  agent: PpoAgentState;
  /** B x d: the particles the current episodes run with (Lambda_n). */
  particles: Float64Array;
  /** B x d: the particles before the last move (Lambda_{n-1}), whose transitions await rewards. */
  previousParticles: Float64Array;
  /** B x d: the unclipped actions of the last move, their log-probabilities, distribution parameters and values. */
  actions: Float32Array;
  logProbs: Float32Array;
  distParams: Float32Array;
  values: Float32Array;
}

export class CalsheqCalibrator {
  readonly dim: number;
  readonly batch: number;
  private readonly lower: Float64Array;
  private readonly width: Float64Array;
  private readonly anchor: Float64Array;
  private readonly agent: PpoAgent;
  private readonly ppoParams: PpoParams;
  private current: Float64Array;
  private previous: Float64Array;
  private actions: Float32Array;
  private logProbs: Float32Array;
  private distParams: Float32Array;
  private values: Float32Array;
  private iteration = 0;

  constructor(
    readonly spec: CalsheqSpec,
    readonly params: CalsheqParams,
    rng: Random
  ) {
    const d = spec.names.length;
    if (d === 0) throw new CalsheqError("nothing to calibrate");
    if (spec.lower.length !== d || spec.upper.length !== d || spec.initial.length !== d) {
      throw new CalsheqError(`names, lower, upper and initial must all have ${d} entries`);
    }
    if (!Number.isInteger(params.particles) || params.particles < 1) throw new CalsheqError(`particles must be a positive integer, got ${params.particles}`);
    if (!(params.maxStepFraction > 0 && params.maxStepFraction <= 1)) throw new CalsheqError("maxStepFraction must lie in (0, 1]");
    this.dim = d;
    this.batch = params.particles;
    this.lower = Float64Array.from(spec.lower);
    this.anchor = Float64Array.from(spec.initial);
    this.width = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      this.width[i] = spec.upper[i]! - spec.lower[i]!;
      if (!(this.width[i]! > 0)) throw new CalsheqError(`${spec.names[i]}: upper must exceed lower`);
      const v = spec.initial[i]!;
      if (!(v >= spec.lower[i]! && v <= spec.upper[i]!)) throw new CalsheqError(`${spec.names[i]}: initial value ${v} lies outside its range`);
    }
    this.ppoParams = { ...params.ppo, learningRate: params.sharedLearningRate * params.learningRateRatio };
    const actionSpec = { kind: "continuous" as const, dim: d, low: new Float32Array(d).fill(-1), high: new Float32Array(d).fill(1) };
    this.agent = new PpoAgent(d, actionSpec, this.ppoParams, rng.split("calibrator-networks"));
    const b = this.batch;
    this.current = new Float64Array(b * d);
    for (let k = 0; k < b; k++) for (let i = 0; i < d; i++) this.current[k * d + i] = spec.initial[i]!;
    this.previous = new Float64Array(b * d);
    this.actions = new Float32Array(b * d);
    this.logProbs = new Float32Array(b);
    this.distParams = new Float32Array(b * 2 * d);
    this.values = new Float32Array(b);
    this.move(rng.split("first-move"));
  }

  /** The B profiles Lambda^b_n (B x d, row-major, in parameter units) for this iteration's episodes. */
  particles(): Float64Array {
    return Float64Array.from(this.current);
  }

  /** Particle b's profile. */
  particle(b: number): Float64Array {
    return this.current.slice(b * this.dim, (b + 1) * this.dim);
  }

  /**
   * One calibrator step: PPO on the B transitions whose episodes earned `rewards` (one per
   * particle, in particle order), then the next increments move the particles.
   */
  update(rewards: ArrayLike<number>, rng: Random): CalsheqMetrics {
    const b = this.batch;
    const d = this.dim;
    if (rewards.length !== b) throw new CalsheqError(`got ${rewards.length} rewards for ${b} particles`);
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let k = 0; k < b; k++) {
      const r = rewards[k]!;
      if (!Number.isFinite(r)) throw new CalsheqError(`reward ${k} is not finite`);
      sum += r;
      min = Math.min(min, r);
      max = Math.max(max, r);
    }
    const obs = new Float32Array(b * d);
    this.observe(this.previous, obs);
    const rewardArray = Float32Array.from(rewards);
    // One-step episodes: the return is the reward, the advantage r - V(Lambda_{n-1}).
    const advantages = new Float32Array(b);
    for (let k = 0; k < b; k++) advantages[k] = rewardArray[k]! - this.values[k]!;
    const batch: PpoBatch = {
      size: b,
      obsDim: d,
      actionDim: d,
      paramDim: 2 * d,
      obs,
      actions: this.actions,
      logProbs: this.logProbs,
      distParams: this.distParams,
      values: this.values,
      rewards: rewardArray,
      dones: new Float32Array(b).fill(1),
      advantages,
      returns: rewardArray
    };
    const ppo = ppoUpdate(this.agent, batch, this.ppoParams, rng.split("ppo"));
    const step = this.move(rng.split("move"));
    this.iteration++;
    const mean = new Float64Array(d);
    const std = new Float64Array(d);
    for (let k = 0; k < b; k++) for (let i = 0; i < d; i++) mean[i]! += this.current[k * d + i]! / b;
    for (let k = 0; k < b; k++) for (let i = 0; i < d; i++) std[i]! += (this.current[k * d + i]! - mean[i]!) ** 2 / b;
    for (let i = 0; i < d; i++) std[i] = Math.sqrt(std[i]!);
    return { iteration: this.iteration, meanReward: sum / b, minReward: min, maxReward: max, particleMean: mean, particleStd: std, meanAbsoluteStep: step, ppo };
  }

  getState(): CalsheqState {
    return {
      iteration: this.iteration,
      agent: this.agent.getState(),
      particles: Float64Array.from(this.current),
      previousParticles: Float64Array.from(this.previous),
      actions: Float32Array.from(this.actions),
      logProbs: Float32Array.from(this.logProbs),
      distParams: Float32Array.from(this.distParams),
      values: Float32Array.from(this.values)
    };
  }

  setState(state: CalsheqState): void {
    const n = this.batch * this.dim;
    if (state.particles.length !== n || state.previousParticles.length !== n || state.actions.length !== n) {
      throw new CalsheqError(`the checkpoint holds ${state.particles.length / this.dim} particles of dimension ${this.dim}? expected ${this.batch} x ${this.dim}`);
    }
    if (state.values.length !== this.batch || state.logProbs.length !== this.batch || state.distParams.length !== 2 * n) {
      throw new CalsheqError("the checkpoint's pending transitions do not match the particle count");
    }
    this.agent.setState(state.agent);
    this.iteration = state.iteration;
    this.current = Float64Array.from(state.particles);
    this.previous = Float64Array.from(state.previousParticles);
    this.actions = Float32Array.from(state.actions);
    this.logProbs = Float32Array.from(state.logProbs);
    this.distParams = Float32Array.from(state.distParams);
    this.values = Float32Array.from(state.values);
  }

  /** Releases the networks' tensors. */
  dispose(): void {
    this.agent.dispose();
  }

  /** Lambda (B x d) -> policy input in [0, 1]^d (the "distribution" form sees a constant 0). */
  private observe(lambda: Float64Array, out: Float32Array): void {
    const d = this.dim;
    if (this.params.form === "distribution") {
      out.fill(0);
      return;
    }
    for (let k = 0; k < this.batch; k++) for (let i = 0; i < d; i++) out[k * d + i] = (lambda[k * d + i]! - this.lower[i]!) / this.width[i]!;
  }

  /** Samples dLambda^b from the policy at the current particles and applies it; returns mean |step| in range units. */
  private move(rng: Random): number {
    const b = this.batch;
    const d = this.dim;
    const obs = new Float32Array(b * d);
    this.observe(this.current, obs);
    const out = this.agent.net.evaluate(obs, b); // rows of [2d distribution parameters, value]
    const width = 2 * d + 1;
    for (let k = 0; k < b; k++) {
      this.distParams.set(out.subarray(k * width, k * width + 2 * d), k * 2 * d);
      this.values[k] = out[k * width + 2 * d]!;
    }
    this.agent.net.policy.sample(this.distParams, b, rng, this.actions, this.logProbs);
    this.previous.set(this.current);
    let stepSum = 0;
    const scale = this.params.maxStepFraction;
    const reflect = this.params.boundary === "reflect";
    for (let k = 0; k < b; k++) {
      for (let i = 0; i < d; i++) {
        const a = Math.min(1, Math.max(-1, this.actions[k * d + i]!));
        const lo = this.lower[i]!;
        const hi = lo + this.width[i]!;
        const before = this.current[k * d + i]!;
        const origin = this.params.form === "distribution" ? this.anchor[i]! : before;
        const proposed = origin + a * scale * this.width[i]!;
        // |a| * scale <= 1 and the origin is inside the range, so one reflection always lands inside it.
        const after = reflect
          ? proposed > hi
            ? 2 * hi - proposed
            : proposed < lo
              ? 2 * lo - proposed
              : proposed
          : Math.min(hi, Math.max(lo, proposed));
        this.current[k * d + i] = after;
        stepSum += Math.abs(after - before) / this.width[i]!;
      }
    }
    return stepSum / (b * d);
  }
}
