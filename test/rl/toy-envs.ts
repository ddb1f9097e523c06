/**
 * Small environments with known optimal policies, implementing `MultiClassVecEnv`, for testing
 * that PPO learns what first principles say it should.
 */
import type { Random } from "../../core/random/philox.ts";
import { collectRollouts } from "../../core/rl/rollout.ts";
import { defaultPpoParams, ppoUpdate, type PpoAgent, type PpoMetrics, type PpoParams } from "../../core/rl/ppo.ts";
import { clipActions, type ActionSpec, type AgentClassSpec, type MultiClassVecEnv } from "../../core/rl/vec-env.ts";

/**
 * Continuous contextual bandit: each agent draws a type tau ~ U[-1, 1] at reset and observes it;
 * its one action a earns -(clip(a) - target(tau))^2. The optimal deterministic policy is
 * a = target(tau): a shared policy must learn the whole family, indexed by the type.
 */
export class ContextualBanditEnv implements MultiClassVecEnv {
  readonly classes: readonly AgentClassSpec[];
  readonly horizon = 1;
  t = 0;
  readonly types: Float32Array;
  private readonly lastRewards: Float32Array;
  private readonly spec: Extract<ActionSpec, { kind: "continuous" }>;

  constructor(
    readonly count: number,
    readonly target: (type: number) => number
  ) {
    this.spec = { kind: "continuous", dim: 1, low: Float32Array.of(-1), high: Float32Array.of(1) };
    this.classes = [{ name: "bandit", count, obsDim: 1, action: this.spec }];
    this.types = new Float32Array(count);
    this.lastRewards = new Float32Array(count);
  }

  reset(rng: Random): void {
    for (let i = 0; i < this.count; i++) this.types[i] = rng.uniformIn(-1, 1);
    this.t = 0;
  }

  observe(_classIndex: number, out: Float32Array): void {
    out.set(this.types);
  }

  step(actions: readonly Float32Array[], _rng: Random): void {
    const a = clipActions(this.spec, actions[0]!, this.count);
    for (let i = 0; i < this.count; i++) this.lastRewards[i] = -((a[i]! - this.target(this.types[i]!)) ** 2);
    this.t++;
  }

  rewards(_classIndex: number, out: Float32Array): void {
    out.set(this.lastRewards);
  }
}

/**
 * Categorical contextual bandit: type k uniform in {0..n-1} (observed one-hot); action j earns 1
 * when j = (k + 1) mod n, else 0. The optimal policy picks (k + 1) mod n.
 */
export class CategoricalBanditEnv implements MultiClassVecEnv {
  readonly classes: readonly AgentClassSpec[];
  readonly horizon = 1;
  t = 0;
  readonly types: Int32Array;
  private readonly lastRewards: Float32Array;

  constructor(
    readonly count: number,
    readonly arms: number
  ) {
    this.classes = [{ name: "arms", count, obsDim: arms, action: { kind: "discrete", n: arms } }];
    this.types = new Int32Array(count);
    this.lastRewards = new Float32Array(count);
  }

  reset(rng: Random): void {
    for (let i = 0; i < this.count; i++) this.types[i] = rng.int(this.arms);
    this.t = 0;
  }

  observe(_classIndex: number, out: Float32Array): void {
    out.fill(0);
    for (let i = 0; i < this.count; i++) out[i * this.arms + this.types[i]!] = 1;
  }

  step(actions: readonly Float32Array[], _rng: Random): void {
    const a = actions[0]!;
    for (let i = 0; i < this.count; i++) this.lastRewards[i] = a[i] === (this.types[i]! + 1) % this.arms ? 1 : 0;
    this.t++;
  }

  rewards(_classIndex: number, out: Float32Array): void {
    out.set(this.lastRewards);
  }
}

/**
 * Scalar finite-horizon linear-quadratic regulator: x_{t+1} = x_t + u_t, reward at step t is
 * -(q x_t^2 + r u_t^2), and the last step also pays -qFinal x_T^2. x_0 ~ U[-1, 1]. Observation:
 * (x_t, t / T). Controls are clipped to [-uMax, uMax] (wide enough never to bind optimally).
 */
export class LinearQuadraticEnv implements MultiClassVecEnv {
  readonly classes: readonly AgentClassSpec[];
  t = 0;
  readonly state: Float64Array;
  private readonly lastRewards: Float32Array;
  private readonly spec: Extract<ActionSpec, { kind: "continuous" }>;

  constructor(
    readonly count: number,
    readonly horizon: number,
    readonly q: number,
    readonly r: number,
    readonly qFinal: number,
    uMax = 3
  ) {
    this.spec = { kind: "continuous", dim: 1, low: Float32Array.of(-uMax), high: Float32Array.of(uMax) };
    this.classes = [{ name: "controller", count, obsDim: 2, action: this.spec }];
    this.state = new Float64Array(count);
    this.lastRewards = new Float32Array(count);
  }

  reset(rng: Random): void {
    for (let i = 0; i < this.count; i++) this.state[i] = rng.uniformIn(-1, 1);
    this.t = 0;
  }

  /** Starts every agent from the given initial states (for evaluation). */
  resetTo(initial: Float64Array): void {
    this.state.set(initial);
    this.t = 0;
  }

  observe(_classIndex: number, out: Float32Array): void {
    for (let i = 0; i < this.count; i++) {
      out[2 * i] = this.state[i]!;
      out[2 * i + 1] = this.t / this.horizon;
    }
  }

  step(actions: readonly Float32Array[], _rng: Random): void {
    const u = clipActions(this.spec, actions[0]!, this.count);
    for (let i = 0; i < this.count; i++) {
      const x = this.state[i]!;
      const next = x + u[i]!;
      let reward = -(this.q * x * x + this.r * u[i]! * u[i]!);
      if (this.t === this.horizon - 1) reward -= this.qFinal * next * next;
      this.lastRewards[i] = reward;
      this.state[i] = next;
    }
    this.t++;
  }

  rewards(_classIndex: number, out: Float32Array): void {
    out.set(this.lastRewards);
  }

  /**
   * Riccati recursion for this system: P_T = qFinal, K_t = P_{t+1} / (r + P_{t+1}),
   * P_t = q + r P_{t+1} / (r + P_{t+1}). The optimal cost from x_0 is P_0 x_0^2 with u_t = -K_t x_t.
   */
  riccati(): { gains: Float64Array; costToGo: Float64Array } {
    const costToGo = new Float64Array(this.horizon + 1);
    const gains = new Float64Array(this.horizon);
    costToGo[this.horizon] = this.qFinal;
    for (let t = this.horizon - 1; t >= 0; t--) {
      const next = costToGo[t + 1]!;
      gains[t] = next / (this.r + next);
      costToGo[t] = this.q + (this.r * next) / (this.r + next);
    }
    return { gains, costToGo };
  }
}

/** PPO for tests that train on the OTC env: tiny networks of `width` units, 2 passes, lr 1e-3. */
export const tinyOtcPpo = (width: number): PpoParams => ({
  ...defaultPpoParams,
  sgdPasses: 2,
  minibatchSize: 64,
  learningRate: 1e-3,
  network: {
    ...defaultPpoParams.network,
    policy: { ...defaultPpoParams.network.policy, hiddenWidths: [width] },
    value: { ...defaultPpoParams.network.value, hiddenWidths: [width] }
  }
});

/**
 * One training iteration on a toy env, for the tests of PPO itself: collect a batch of episodes
 * with every class's current policy, then update each class's policy on its own batch. A pure
 * function of (agent states, params, rng), like an iteration of the pipelines' loops.
 */
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
