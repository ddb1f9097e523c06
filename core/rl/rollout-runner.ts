/**
 * Rollouts split into shards of episodes and run in parallel over worker threads (SPEC section 3,
 * "rollouts ... parallel over worker threads"; paper section 5, where RLlib spreads episodes over
 * CPUs). The B episodes of an iteration are cut into fixed shards of `episodesPerShard`
 * consecutive episodes; each shard is an env of its own built by a `RolloutEnvFactory`, played with
 * the current policies by `collectRollouts`, and the shards' batches are merged back in episode
 * order. Because every episode draws from its own streams (its global index splits the reset and
 * action streams) and a shard is always the same env shape, the merged batch is bit-identical
 * whether the shards run in this thread (`workers: 0`) or over any number of worker threads; the
 * worker count is an execution setting, not part of a result. Workers receive the policy weights
 * once per call and rebuild the env from the factory's module, so nothing but plain data crosses
 * threads.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { Random } from "../random/philox.ts";
import type { ActorCriticParams, WeightMap } from "./networks.ts";
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

/** Where a worker finds a factory: the module's URL and the name it is exported under. */
export interface RolloutFactoryLocation {
  readonly module: string;
  readonly exportName: string;
}

export interface RolloutRunnerOptions<Args, Env extends MultiClassVecEnv, Input, Extra> {
  readonly factory: RolloutEnvFactory<Args, Env, Input, Extra>;
  readonly location: RolloutFactoryLocation;
  readonly args: Args;
  /** B: episodes per call. */
  readonly episodes: number;
  /** Episodes per shard (the last shard may be smaller); fixes the shard layout, and so the results. */
  readonly episodesPerShard: number;
  /** Worker threads; 0 runs the shards in this thread. Never changes results. */
  readonly workers: number;
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

/** Raised when rollouts cannot be run (bad layout) or a worker thread fails. */
export class RolloutRunnerError extends Error {
  readonly _tag = "RolloutRunnerError";
  constructor(reason: string) {
    super(`Rollouts failed: ${reason}.`);
  }
}

/** The worker count to use when the user asks for "auto": one per core, at most one per shard. */
export const autoWorkerCount = (shards: number): number => Math.max(1, Math.min(availableParallelism(), shards));

/** The network description a worker needs to rebuild a class's policy from its weights. */
export interface WorkerPolicySpec {
  readonly obsDim: number;
  readonly action: ActionSpec;
  readonly network: ActorCriticParams;
  readonly weights: WeightMap;
}

/** Messages from the runner to a worker, and back (see rollout-worker.ts). */
export type ToWorker =
  | { readonly type: "init"; readonly location: RolloutFactoryLocation; readonly args: unknown; readonly backend: "wasm" | "cpu" }
  | { readonly type: "policies"; readonly policies: readonly WorkerPolicySpec[] }
  | {
      readonly type: "job";
      readonly id: number;
      readonly shard: number;
      readonly firstEpisode: number;
      readonly episodes: number;
      readonly inputs: readonly unknown[] | null;
      readonly rngKey: readonly [number, number];
      readonly returns: readonly RolloutReturnsParams[];
    };

export type FromWorker =
  | { readonly type: "result"; readonly id: number; readonly batches: RolloutBatch[]; readonly extra: unknown; readonly ms: number }
  | { readonly type: "error"; readonly id: number; readonly message: string };

/** A policy whose networks a worker can rebuild: a `PpoAgent` is one. */
export interface ShippablePolicy extends RolloutPolicy {
  readonly action: ActionSpec;
}

interface Pending {
  readonly resolve: (result: { batches: RolloutBatch[]; extra: unknown; ms: number }) => void;
  readonly reject: (error: Error) => void;
}

const workerEntry = new URL("./rollout-worker-entry.mjs", import.meta.url);
const workerBody = new URL("./rollout-worker.ts", import.meta.url).href;

class RolloutWorker {
  readonly thread: Worker;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | undefined;

  constructor(init: ToWorker) {
    this.thread = new Worker(workerEntry, { workerData: { script: workerBody } });
    this.thread.unref();
    this.thread.on("message", (message: FromWorker) => {
      const waiting = this.pending.get(message.id);
      if (waiting === undefined) return;
      this.pending.delete(message.id);
      if (message.type === "result") waiting.resolve(message);
      else waiting.reject(new RolloutRunnerError(`a rollout worker thread threw: ${message.message}`));
      if (this.pending.size === 0) this.thread.unref();
    });
    const fail = (error: Error) => {
      this.failure = error;
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
    this.thread.on("error", (error) => fail(new RolloutRunnerError(`a rollout worker thread crashed (${error.message}); rerun with rollouts.workers=0 to run in this thread`)));
    this.thread.on("exit", (code) => {
      if (this.pending.size > 0) fail(new RolloutRunnerError(`a rollout worker thread exited with code ${code} in the middle of a job`));
    });
    this.thread.postMessage(init);
  }

  send(message: ToWorker): void {
    if (this.failure !== undefined) throw this.failure;
    this.thread.postMessage(message);
  }

  run(job: Extract<ToWorker, { type: "job" }>): Promise<{ batches: RolloutBatch[]; extra: unknown; ms: number }> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.set(job.id, { resolve, reject });
      // Referenced while a job is out, so a process waiting on it stays alive; unreferenced when idle.
      this.thread.ref();
      this.thread.postMessage(job);
    });
  }

  terminate(): Promise<number> {
    return this.thread.terminate();
  }
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

/** Runs B episodes per call as shards, in this thread or over worker threads. */
export class RolloutRunner<Args, Env extends MultiClassVecEnv = MultiClassVecEnv, Input = unknown, Extra = unknown> implements RolloutSource<Input, Extra> {
  /** Episode counts of the shards, in order. */
  readonly shardEpisodes: readonly number[];
  /** The env of shard 0 in this thread: the classes and horizon, and what in-thread runs use. */
  readonly probe: Env;
  private readonly localEnvs = new Map<number, Env>();
  private workers: RolloutWorker[] | undefined;
  private nextJob = 0;

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

  private startWorkers(): RolloutWorker[] {
    if (this.workers === undefined) {
      const init: ToWorker = { type: "init", location: this.options.location, args: this.options.args, backend: this.options.backend ?? "wasm" };
      this.workers = Array.from({ length: Math.min(this.options.workers, this.shardEpisodes.length) }, () => new RolloutWorker(init));
    }
    return this.workers;
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
    const parts: { batches: RolloutBatch[]; extra: unknown; ms: number }[] = [];
    if (this.options.workers === 0) {
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
      const workers = this.startWorkers();
      const specs: WorkerPolicySpec[] = policies.map((p) => ({ obsDim: p.obsDim, action: p.action, network: p.net.params, weights: p.net.getWeights() }));
      for (const w of workers) w.send({ type: "policies", policies: specs });
      const perClass = policies.map((_, c) => (Array.isArray(returns) ? (returns as readonly RolloutReturnsParams[])[c]! : (returns as RolloutReturnsParams)));
      const returnsOnly = perClass.map((p) => ({ discount: p.discount, gaeLambda: p.gaeLambda }));
      const rngKey = rng.keyPair();
      const jobs = Array.from({ length: shards }, (_, s) =>
        workers[s % workers.length]!.run({
          type: "job",
          id: this.nextJob++,
          shard: s,
          firstEpisode: this.firstEpisodeOf(s),
          episodes: this.shardEpisodes[s]!,
          inputs: inputsOf(s) ?? null,
          rngKey: [rngKey[0], rngKey[1]],
          returns: returnsOnly
        })
      );
      parts.push(...(await Promise.all(jobs)));
    }
    return {
      batches: mergeRolloutBatches(parts.map((p) => p.batches)),
      extras: factory.extract === undefined ? [] : parts.map((p) => p.extra as Extra),
      shardEpisodes: this.shardEpisodes,
      shardMs: parts.map((p) => p.ms)
    };
  }

  /** Stops the worker threads (a runner can still be used afterwards: they restart on demand). */
  async close(): Promise<void> {
    const workers = this.workers ?? [];
    this.workers = undefined;
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
