/**
 * The OTC market as a multi-agent environment with PettingZoo's parallel API (paper section 2:
 * LPs stream quotes and hedge on the ECN, LTs trade at the best price they reach; table 1 gives
 * the observations and actions), for researchers who bring an agent of their own instead of the
 * project's PPO. One episode runs at a time; every learning agent of the population is an agent
 * of the API, named `lp_0`, `lp_1`, ... and `lt_0`, ... (stationary LTs act inside the market).
 *
 * `reset(seed)` returns each agent's observation and info; `step(actions)` takes one action per
 * live agent and returns observations, rewards, terminations and truncations (the episode is cut
 * at its horizon T, so every agent is truncated after step T), and infos. Within a step LPs move
 * first and learning LTs then see this step's quotes (the paper's Stackelberg order): an LT's
 * action may therefore be a function of its observation taken after the LPs' quotes are out; the
 * LT observations `reset` and `step` return are those of the LT's last step (zeros at first), so a
 * plain action acts on them. Observation spaces are
 * unbounded boxes whose `labels` name each entry; LP actions are boxes (eps_spread, eps_skew,
 * eps_hedge; out-of-bounds values are clipped), LT actions are discrete (buy, sell, no trade).
 */
import { fitEcnModel } from "../ecn/model.ts";
import { generateSyntheticL2 } from "../ecn/synthetic.ts";
import { Random } from "../random/philox.ts";
import type { OtcGameConfig } from "./config.ts";
import { OtcEnv } from "./env.ts";
import { ecnVariationModelOf, type OtcEcnSpec } from "./rollout-env.ts";

export type Space =
  | { readonly kind: "box"; readonly shape: readonly number[]; readonly low: Float32Array; readonly high: Float32Array; readonly labels: readonly string[] }
  | { readonly kind: "discrete"; readonly n: number; readonly labels: readonly string[] };

/** What an agent is: its class ("lp" or "lt"), supertype (1-based, as in the paper) and index in its class. */
export interface AgentInfo {
  readonly agentClass: "lp" | "lt";
  readonly supertype: number;
  readonly index: number;
  /** The step the agent is about to act in (0-based). */
  readonly t: number;
}

/** An LT's action, or a function of its observation once the LPs have quoted this step. */
export type AgentAction = Float32Array | readonly number[] | number | ((observation: Float32Array) => Float32Array | readonly number[] | number);

export interface StepResult {
  readonly observations: Readonly<Record<string, Float32Array>>;
  readonly rewards: Readonly<Record<string, number>>;
  readonly terminations: Readonly<Record<string, boolean>>;
  readonly truncations: Readonly<Record<string, boolean>>;
  readonly infos: Readonly<Record<string, AgentInfo>>;
}

export class ParallelEnvError extends Error {
  readonly _tag = "ParallelEnvError";
  constructor(reason: string, fix: string) {
    super(`${reason}; ${fix}.`);
  }
}

export interface OtcParallelEnvOptions {
  readonly config: OtcGameConfig;
  /** The ECN's book model: a fitted Gaussian-mixture model (the `ecn-fit` pipeline's output). */
  readonly ecn: OtcEcnSpec;
}

/**
 * An ECN model fitted (one EM run) on the embedded synthetic level-2 data, the same data the
 * pipelines use by default: a market to play in without running a pipeline first. Deterministic
 * in `seed`; takes a second or two.
 */
export const syntheticEcn = (seed = 1): OtcEcnSpec => {
  const rng = Random.fromSeed(seed);
  const l2 = generateSyntheticL2(rng.split("l2"));
  return { kind: "gmm", data: fitEcnModel(l2.series, { nInit: 1, tick: l2.tick, volumeUnit: l2.volumeUnit }, rng.split("fit")) };
};

export class OtcParallelEnv {
  private readonly env: OtcEnv;
  private readonly observationBuffers: Float32Array[];
  private readonly rewardBuffers: Float32Array[];
  private readonly infosByAgent: Record<string, Omit<AgentInfo, "t">> = {};
  private rng: Random | undefined;
  /** The supertype of each learning LT (LTs of stationary supertypes act inside the market). */
  private readonly learningLtSupertypes: number[];
  /** Every agent the market has, in class order. */
  readonly possibleAgents: readonly string[];
  /** The agents still acting: all of them during an episode, none after it ends or before `reset`. */
  agents: readonly string[] = [];

  constructor(options: OtcParallelEnvOptions) {
    this.env = new OtcEnv({ config: options.config, batchSize: 1, ecnModel: ecnVariationModelOf(options.ecn) });
    this.observationBuffers = this.env.classes.map((c) => new Float32Array(c.count * c.obsDim));
    this.rewardBuffers = this.env.classes.map((c) => new Float32Array(c.count));
    const names: string[] = [];
    this.env.classes.forEach((c) => {
      for (let i = 0; i < c.count; i++) names.push(`${c.name}_${i}`);
    });
    this.possibleAgents = names;
    this.learningLtSupertypes = options.config.population.lt.flatMap((s, j) => (s.stationary ? [] : Array.from({ length: s.count }, () => j)));
  }

  private locate(agent: string): { classIndex: number; index: number } {
    const [name, position] = agent.split("_");
    const classIndex = this.env.classes.findIndex((c) => c.name === name);
    const index = Number(position);
    if (classIndex < 0 || !Number.isInteger(index) || index < 0 || index >= this.env.classes[classIndex]!.count) {
      throw new ParallelEnvError(`"${agent}" is not an agent of this market`, `use one of possibleAgents (${this.possibleAgents[0]} .. ${this.possibleAgents[this.possibleAgents.length - 1]})`);
    }
    return { classIndex, index };
  }

  observationSpace(agent: string): Space {
    const { classIndex } = this.locate(agent);
    const spec = this.env.classes[classIndex]!;
    const labels = classIndex === this.env.lpClassIndex ? this.env.lpObservationLayout() : this.env.ltObservationLayout();
    return {
      kind: "box",
      shape: [spec.obsDim],
      low: new Float32Array(spec.obsDim).fill(Number.NEGATIVE_INFINITY),
      high: new Float32Array(spec.obsDim).fill(Number.POSITIVE_INFINITY),
      labels
    };
  }

  actionSpace(agent: string): Space {
    const { classIndex } = this.locate(agent);
    const action = this.env.classes[classIndex]!.action;
    return action.kind === "continuous"
      ? { kind: "box", shape: [action.dim], low: Float32Array.from(action.low), high: Float32Array.from(action.high), labels: ["eps_spread", "eps_skew", "eps_hedge"] }
      : { kind: "discrete", n: action.n, labels: ["buy", "sell", "no trade"] };
  }

  private observeAll(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    // Learning LTs observe this step's quotes, which exist only once the LPs have acted: until then
    // they keep the observation of their last step (zeros before the first).
    this.env.observe(this.env.lpClassIndex, this.observationBuffers[this.env.lpClassIndex]!);
    this.env.classes.forEach((c, classIndex) => {
      const buffer = this.observationBuffers[classIndex]!;
      for (let i = 0; i < c.count; i++) out[`${c.name}_${i}`] = buffer.slice(i * c.obsDim, (i + 1) * c.obsDim);
    });
    return out;
  }

  private infos(): Record<string, AgentInfo> {
    const out: Record<string, AgentInfo> = {};
    for (const agent of this.possibleAgents) out[agent] = { ...this.infosByAgent[agent]!, t: this.env.t };
    return out;
  }

  /** Starts an episode; the same seed gives the same episode (types, ECN path, stationary LTs' draws). */
  reset(seed: number): { observations: Record<string, Float32Array>; infos: Record<string, AgentInfo> } {
    if (!Number.isSafeInteger(seed)) throw new ParallelEnvError(`seed ${seed} is not an integer`, "pass an integer seed");
    const rng = Random.fromSeed(seed);
    this.rng = rng.split("steps");
    this.env.reset(rng.split("reset"));
    const types = this.env.typesOf(0);
    this.env.classes.forEach((c, classIndex) => {
      for (let i = 0; i < c.count; i++) {
        const supertype = classIndex === this.env.lpClassIndex ? types.lpSupertype[i]! : this.learningLtSupertypes[i]!;
        this.infosByAgent[`${c.name}_${i}`] = { agentClass: classIndex === this.env.lpClassIndex ? "lp" : "lt", supertype: supertype + 1, index: i };
      }
    });
    this.observationBuffers.forEach((b) => b.fill(0));
    this.agents = [...this.possibleAgents];
    return { observations: this.observeAll(), infos: this.infos() };
  }

  /** Plays one step with one action per live agent. */
  step(actions: Readonly<Record<string, AgentAction>>): StepResult {
    if (this.rng === undefined || this.agents.length === 0) {
      throw new ParallelEnvError(this.rng === undefined ? "step was called before reset" : "the episode is over", "call reset(seed) to start an episode");
    }
    for (const agent of this.agents) if (!(agent in actions)) throw new ParallelEnvError(`no action for ${agent}`, "pass one action per agent in env.agents");
    for (const agent of Object.keys(actions)) this.locate(agent);
    const buffers = this.env.classes.map((c) => new Float32Array(c.count * (c.action.kind === "continuous" ? c.action.dim : 1)));
    const fill = (classIndex: number) => {
      const c = this.env.classes[classIndex]!;
      const width = c.action.kind === "continuous" ? c.action.dim : 1;
      const buffer = buffers[classIndex]!;
      for (let i = 0; i < c.count; i++) {
        const agent = `${c.name}_${i}`;
        let action = actions[agent]!;
        if (typeof action === "function") action = action(this.observationBuffers[classIndex]!.slice(i * c.obsDim, (i + 1) * c.obsDim));
        const values = typeof action === "number" ? [action] : Array.from(action);
        if (values.length !== width) throw new ParallelEnvError(`${agent}'s action has ${values.length} values`, `pass ${width} (see actionSpace("${agent}"))`);
        if (c.action.kind === "discrete" && !(Number.isInteger(values[0]) && values[0]! >= 0 && values[0]! < c.action.n)) {
          throw new ParallelEnvError(`${agent}'s action ${values[0]} is not one of 0..${c.action.n - 1}`, "pass 0 (buy), 1 (sell) or 2 (no trade)");
        }
        buffer.set(values, i * width);
      }
      return buffer;
    };
    const stages = this.env.stages ?? [this.env.classes.map((_, c) => c)];
    stages.forEach((stage, k) => {
      // Followers observe now, after the leaders' actions were applied; their function actions see it.
      if (k > 0) for (const c of stage) this.env.observe(c, this.observationBuffers[c]!);
      for (const c of stage) fill(c);
      if (k < stages.length - 1) this.env.applyStage!(k, buffers);
    });
    this.env.step(buffers, this.rng);
    const rewards: Record<string, number> = {};
    this.env.classes.forEach((c, classIndex) => {
      this.env.rewards(classIndex, this.rewardBuffers[classIndex]!);
      for (let i = 0; i < c.count; i++) rewards[`${c.name}_${i}`] = this.rewardBuffers[classIndex]![i]!;
    });
    const over = this.env.t >= this.env.horizon;
    const terminations: Record<string, boolean> = {};
    const truncations: Record<string, boolean> = {};
    for (const agent of this.agents) {
      terminations[agent] = false;
      truncations[agent] = over;
    }
    const observations = this.observeAll();
    const infos = this.infos();
    if (over) this.agents = [];
    return { observations, rewards, terminations, truncations, infos };
  }
}
