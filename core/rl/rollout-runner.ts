/**
 * Rollouts split into shards of episodes and run in parallel over worker threads (
 * "rollouts ... parallel over worker threads"; paper section 5, where RLlib spreads episodes over
 * CPUs). The B episodes of an iteration are cut into fixed shards of `episodesPerShard`
 * consecutive episodes; each shard is an env of its own built by a `RolloutEnvFactory`, played with
 * the current policies by `collectRollouts`, and the shards' batches are merged back in episode
 * order. Because every episode draws from its own streams (its global index splits the reset and
 * action streams) and a shard is always the same env shape, the merged batch is bit-identical
 * whether the shards run in this thread (`workers: 0`) or over any number of worker threads; the
 * worker count is an execution setting, not part of a result. Where the shards run is a
 * `ShardExecutor` (rollout-executor.ts): worker threads by default, or BullMQ worker processes
 * (bullmq-rollouts.ts). Workers receive the policy weights once per call and rebuild the env from
 * the factory's module, so nothing but plain data crosses threads or hosts.
 */
import { availableParallelism } from "node:os";
import type { Random } from "../random/philox.ts";
import {
  RolloutRunnerError,
  threadShardExecutor,
  type RolloutFactoryLocation,
  type RolloutSetup,
  type ShardExecutor,
  type ShardResult,
  type WorkerPolicySpec
} from "./rollout-executor.ts";
import { collectRollouts, mergeRolloutBatches, type RolloutBatch, type RolloutPolicy, type RolloutReturnsParams } from "./rollout.ts";
import type { ActionSpec, AgentClassSpec, MultiClassVecEnv } from "./vec-env.ts";

/**
 * How to build the env of one shard, in this thread or in a worker. A worker imports the factory
 * from `location` (an ES module exporting it), so `args` and the per-episode inputs must be plain
 * structured-cloneable data (typed arrays are fine).
 */
export interface RolloutEnvFactory<Args, Env extends MultiClassVecEnv = MultiClassVecEnv, Input = unknown, Extra = unknown> {
  /** An env running `episodes` episodes with global indices firstEpisode .. firstEpisode + episodes - 1. */
  create(args: Args, firstEpisode: number, episodes: number): Env;
  /** Applies the shard's per-episode inputs (e.g. each episode's supertype profile) before its reset. */
  prepare?(env: Env, inputs: readonly Input[]): void;
  /** What the caller needs from the env after the episodes besides the PPO batches (e.g. outcomes). */
  extract?(env: Env): Extra;
}

export interface RolloutRunnerOptions<Args, Env extends MultiClassVecEnv, Input, Extra> {
  readonly factory: RolloutEnvFactory<Args, Env, Input, Extra>;
  readonly location: RolloutFactoryLocation;
  readonly args: Args;
  /** B: episodes per call. */
  readonly episodes: number;
  /** Episodes per shard (the last shard may be smaller); fixes the shard layout, and so the results. */
  readonly episodesPerShard: number;
  /** Worker threads when no `executor` is given; 0 runs the shards in this thread. Never changes results. */
  readonly workers: number;
  /**
   * Where the shards run instead (e.g. BullMQ worker processes); the runner owns it and closes it
   * in `close`. Never changes results.
   */
  readonly executor?: ShardExecutor;
  /** The tfjs backend the workers run the policies on (the caller's own, for identical numbers). */
  readonly backend?: "wasm" | "cpu";
}

export interface RolloutResult<Extra> {
  /** One batch per class, episodes in order. */
  readonly batches: RolloutBatch[];
  /** The factory's `extract` of each shard, in shard order (empty without `extract`). */
  readonly extras: Extra[];
  /** Episodes per shard, in shard order (to map extras to episodes). */
  readonly shardEpisodes: readonly number[];
  /** Milliseconds each shard's rollouts took where they ran (the call's wall time minus these is overhead). */
  readonly shardMs: readonly number[];
}

/** The worker count to use when the user asks for "auto": one per core, at most one per shard. */
export const autoWorkerCount = (shards: number): number => Math.max(1, Math.min(availableParallelism(), shards));

/** A policy whose networks a worker can rebuild: a `PpoAgent` is one. */
export interface ShippablePolicy extends RolloutPolicy {
  readonly action: ActionSpec;
}

/** What a trainer draws its experience from: a sharded runner, or one env in this thread. */
export interface RolloutSource<Input = unknown, Extra = unknown> {
  /** The classes with their counts over all B episodes. */
  readonly classes: readonly AgentClassSpec[];
  readonly horizon: number;
  collect(
    policies: readonly ShippablePolicy[],
    rng: Random,
    returns: RolloutReturnsParams | readonly RolloutReturnsParams[],
    inputs?: readonly Input[]
  ): Promise<RolloutResult<Extra>>;
  close(): Promise<void>;
}

/**
 * One env played in this thread as a single shard: for envs that cannot be rebuilt from plain data
 * (a test stand-in, a scripted mid-price path). `prepare`/`extract` as in a factory.
 */
export const localRollouts = <Env extends MultiClassVecEnv, Input = unknown, Extra = unknown>(
  env: Env,
  hooks: Pick<RolloutEnvFactory<unknown, Env, Input, Extra>, "prepare" | "extract"> = {}
): RolloutSource<Input, Extra> => ({
  classes: env.classes,
  horizon: env.horizon,
  collect: async (policies, rng, returns, inputs) => {
    if (inputs !== undefined) hooks.prepare?.(env, inputs);
    const started = performance.now();
    const batches = collectRollouts(env, policies, rng, returns);
    const extras = hooks.extract === undefined ? [] : [hooks.extract(env)];
    return { batches, extras, shardEpisodes: [env.batchSize ?? 1], shardMs: [performance.now() - started] };
  },
  close: async () => {}
});

let runnerCount = 0;

/** Runs B episodes per call as shards, in this thread, over worker threads, or on another `ShardExecutor`. */
export class RolloutRunner<Args, Env extends MultiClassVecEnv = MultiClassVecEnv, Input = unknown, Extra = unknown> implements RolloutSource<Input, Extra> {
  /** Episode counts of the shards, in order. */
  readonly shardEpisodes: readonly number[];
  /** The env of shard 0 in this thread: the classes and horizon, and what in-thread runs use. */
  readonly probe: Env;
  private readonly localEnvs = new Map<number, Env>();
  private executor: ShardExecutor | undefined;
  private readonly setupKey: string;
  private calls = 0;

  constructor(readonly options: RolloutRunnerOptions<Args, Env, Input, Extra>) {
    const { episodes, episodesPerShard, workers } = options;
    if (!Number.isSafeInteger(episodes) || episodes < 1) throw new RolloutRunnerError(`the episode count must be a positive integer, got ${episodes}`);
    if (!Number.isSafeInteger(episodesPerShard) || episodesPerShard < 1) {
      throw new RolloutRunnerError(`episodesPerShard must be a positive integer, got ${episodesPerShard}`);
    }
    if (!Number.isSafeInteger(workers) || workers < 0) throw new RolloutRunnerError(`the worker count must be a non-negative integer, got ${workers}`);
    const sizes: number[] = [];
    for (let first = 0; first < episodes; first += episodesPerShard) sizes.push(Math.min(episodesPerShard, episodes - first));
    this.shardEpisodes = sizes;
    this.probe = this.localEnv(0);
    this.executor = options.executor;
    // Unique per runner: an executor never mistakes another runner's setup for this one's.
    this.setupKey = `runner-${process.pid}-${++runnerCount}-${Date.now()}`;
  }

  get classes(): readonly AgentClassSpec[] {
    // Class counts of the whole batch: a shard's counts scaled up to B episodes.
    const scale = this.options.episodes / this.shardEpisodes[0]!;
    return this.probe.classes.map((c) => ({ ...c, count: c.count * scale }));
  }

  get horizon(): number {
    return this.probe.horizon;
  }

  private firstEpisodeOf(shard: number): number {
    return shard * this.options.episodesPerShard;
  }

  private localEnv(shard: number): Env {
    let env = this.localEnvs.get(shard);
    if (env === undefined) {
      env = this.options.factory.create(this.options.args, this.firstEpisodeOf(shard), this.shardEpisodes[shard]!);
      this.localEnvs.set(shard, env);
    }
    return env;
  }

  private executorInUse(): ShardExecutor {
    this.executor ??= threadShardExecutor(Math.min(this.options.workers, this.shardEpisodes.length));
    return this.executor;
  }

  /**
   * Plays the B episodes with `policies` (one per class) and returns the merged batches. `rng` is
   * the iteration's rollout stream; `inputs`, when given, holds one entry per episode.
   */
  async collect(
    policies: readonly ShippablePolicy[],
    rng: Random,
    returns: RolloutReturnsParams | readonly RolloutReturnsParams[],
    inputs?: readonly Input[]
  ): Promise<RolloutResult<Extra>> {
    const { factory, episodes } = this.options;
    if (inputs !== undefined && inputs.length !== episodes) throw new RolloutRunnerError(`${inputs.length} episode inputs for ${episodes} episodes`);
    const shards = this.shardEpisodes.length;
    const inputsOf = (shard: number) => {
      const first = this.firstEpisodeOf(shard);
      return inputs === undefined ? undefined : inputs.slice(first, first + this.shardEpisodes[shard]!);
    };
    const parts: ShardResult[] = [];
    if (this.options.workers === 0 && this.options.executor === undefined) {
      for (let s = 0; s < shards; s++) {
        const env = this.localEnv(s);
        const shardInputs = inputsOf(s);
        if (shardInputs !== undefined) factory.prepare?.(env, shardInputs);
        const started = performance.now();
        const batches = collectRollouts(env, policies, rng, returns);
        const extra = factory.extract?.(env);
        parts.push({ batches, extra, ms: performance.now() - started });
      }
    } else {
      const specs: WorkerPolicySpec[] = policies.map((p) => ({ obsDim: p.obsDim, action: p.action, network: p.net.params, weights: p.net.getWeights() }));
      const perClass = policies.map((_, c) => (Array.isArray(returns) ? (returns as readonly RolloutReturnsParams[])[c]! : (returns as RolloutReturnsParams)));
      const returnsOnly = perClass.map((p) => ({ discount: p.discount, gaeLambda: p.gaeLambda }));
      const rngKey = rng.keyPair();
      const setup: RolloutSetup = { location: this.options.location, args: this.options.args, backend: this.options.backend ?? "wasm" };
      parts.push(
        ...(await this.executorInUse().run({
          setupKey: this.setupKey,
          setup,
          policiesKey: `${this.setupKey}-call-${++this.calls}`,
          policies: specs,
          jobs: this.shardEpisodes.map((episodesInShard, s) => ({
            shard: s,
            firstEpisode: this.firstEpisodeOf(s),
            episodes: episodesInShard,
            inputs: inputsOf(s) ?? null,
            rngKey: [rngKey[0], rngKey[1]] as const,
            returns: returnsOnly
          }))
        }))
      );
    }
    return {
      batches: mergeRolloutBatches(parts.map((p) => p.batches)),
      extras: factory.extract === undefined ? [] : parts.map((p) => p.extra as Extra),
      shardEpisodes: this.shardEpisodes,
      shardMs: parts.map((p) => p.ms)
    };
  }

  /** Stops the executor's threads or connections (a runner can still be used afterwards: they restart on demand). */
  async close(): Promise<void> {
    await this.executor?.close();
  }
}

export { registeredRolloutFactory, rolloutFactoryLocation, RolloutRunnerError, type RolloutFactoryLocation, type WorkerPolicySpec } from "./rollout-executor.ts";
