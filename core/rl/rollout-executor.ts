/**
 * Where rollout shards run (ARCHITECTURE section 5): a `ShardExecutor` takes one
 * call's shard jobs (each a pure function of the env setup, the policy weights, the episode range
 * and the iteration's seed stream) and returns their results in job order. This module defines the
 * job and result shapes every executor shares and the default executor, a pool of worker threads
 * on this machine (`threadShardExecutor`). The same pool runs the jobs a BullMQ rollout worker
 * process pulls from Redis (bullmq-rollouts.ts). A thread keeps the env setup and the weights it
 * was last given, keyed by the caller's content keys, so a setup crosses to a thread once per run
 * and the weights once per call.
 */
import { Worker } from "node:worker_threads";
import type { ActorCriticParams, WeightMap } from "./networks.ts";
import type { RolloutBatch, RolloutReturnsParams } from "./rollout.ts";
import type { ActionSpec } from "./vec-env.ts";

/** Where a worker finds a rollout env factory: the module's URL and the name it is exported under. */
export interface RolloutFactoryLocation {
  readonly module: string;
  readonly exportName: string;
}

const factoriesInProcess = new Map<string, unknown>();
const locationKey = (location: RolloutFactoryLocation) => `${location.module}#${location.exportName}`;

/**
 * The location of a factory defined in `module` (its `import.meta.url`), remembered with the
 * factory itself so this process never has to import the module by URL: a bundled CLI's
 * `import.meta.url` names a TypeScript source that plain Node cannot import, while worker threads
 * (which load sources through tsx) still can.
 */
export const rolloutFactoryLocation = (module: string, exportName: string, factory: unknown): RolloutFactoryLocation => {
  const location = { module, exportName };
  factoriesInProcess.set(locationKey(location), factory);
  return location;
};

/** The factory registered in this process for `location`, if its module has been loaded here. */
export const registeredRolloutFactory = (location: RolloutFactoryLocation): unknown => factoriesInProcess.get(locationKey(location));

/** What a worker needs to build the envs of a run: the factory, its plain-data args, the tfjs backend. */
export interface RolloutSetup {
  readonly location: RolloutFactoryLocation;
  readonly args: unknown;
  readonly backend: "wasm" | "cpu";
}

/** The network description a worker needs to rebuild a class's policy from its weights. */
export interface WorkerPolicySpec {
  readonly obsDim: number;
  readonly action: ActionSpec;
  readonly network: ActorCriticParams;
  readonly weights: WeightMap;
}

/** One shard of one call: episodes firstEpisode .. firstEpisode + episodes - 1 of the batch. */
export interface ShardJob {
  readonly shard: number;
  readonly firstEpisode: number;
  readonly episodes: number;
  /** The shard's per-episode inputs (structured-cloneable), or null. */
  readonly inputs: readonly unknown[] | null;
  /** The iteration's rollout stream (`Random.keyPair`): episodes split their own streams from it. */
  readonly rngKey: readonly [number, number];
  /** Discount and GAE lambda per class. */
  readonly returns: readonly RolloutReturnsParams[];
}

/** A shard's batches (one per class), the factory's `extract`, and the milliseconds it took where it ran. */
export interface ShardResult {
  readonly batches: RolloutBatch[];
  readonly extra: unknown;
  readonly ms: number;
}

/**
 * One call of the runner. `setupKey` names the setup and `policiesKey` the weights: equal keys mean
 * equal contents, so an executor may skip sending what a worker already holds.
 */
export interface RolloutCall {
  readonly setupKey: string;
  readonly setup: RolloutSetup;
  readonly policiesKey: string;
  readonly policies: readonly WorkerPolicySpec[];
  readonly jobs: readonly ShardJob[];
}

/** Runs the shard jobs of rollout calls somewhere other than the calling thread. */
export interface ShardExecutor {
  /** The jobs' results in job order. */
  run(call: RolloutCall): Promise<ShardResult[]>;
  /** Releases threads and connections; the executor may be used again afterwards (it restarts on demand). */
  close(): Promise<void>;
}

/** Raised when rollouts cannot be run (bad layout) or a worker fails. */
export class RolloutRunnerError extends Error {
  readonly _tag = "RolloutRunnerError";
  constructor(reason: string) {
    super(`Rollouts failed: ${reason}.`);
  }
}

/** Messages from a pool to a worker thread, and back (see rollout-worker.ts). */
export type ToWorker =
  | { readonly type: "init"; readonly setup: RolloutSetup }
  | { readonly type: "policies"; readonly policies: readonly WorkerPolicySpec[] }
  | { readonly type: "job"; readonly id: number; readonly job: ShardJob };

export type FromWorker =
  | { readonly type: "result"; readonly id: number; readonly batches: RolloutBatch[]; readonly extra: unknown; readonly ms: number }
  | { readonly type: "error"; readonly id: number; readonly message: string };

const workerEntry = new URL("./rollout-worker-entry.mjs", import.meta.url);
const workerBody = new URL("./rollout-worker.ts", import.meta.url).href;

interface Pending {
  readonly resolve: (result: ShardResult) => void;
  readonly reject: (error: Error) => void;
}

/** One worker thread with the setup and weights it holds. */
class RolloutThread {
  readonly thread: Worker;
  setupKey: string | undefined;
  policiesKey: string | undefined;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | undefined;

  constructor() {
    this.thread = new Worker(workerEntry, { workerData: { script: workerBody } });
    this.thread.unref();
    this.thread.on("message", (message: FromWorker) => {
      const waiting = this.pending.get(message.id);
      if (waiting === undefined) return;
      this.pending.delete(message.id);
      if (message.type === "result") waiting.resolve({ batches: message.batches, extra: message.extra, ms: message.ms });
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
  }

  /** Sends what the thread lacks, then the job; messages are handled in order, so the job sees them. */
  run(id: number, call: Pick<RolloutCall, "setupKey" | "setup" | "policiesKey" | "policies">, job: ShardJob): Promise<ShardResult> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.setupKey !== call.setupKey) {
      this.thread.postMessage({ type: "init", setup: call.setup } satisfies ToWorker);
      this.setupKey = call.setupKey;
      this.policiesKey = undefined;
    }
    if (this.policiesKey !== call.policiesKey) {
      this.thread.postMessage({ type: "policies", policies: call.policies } satisfies ToWorker);
      this.policiesKey = call.policiesKey;
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Referenced while a job is out, so a process waiting on it stays alive; unreferenced when idle.
      this.thread.ref();
      this.thread.postMessage({ type: "job", id, job } satisfies ToWorker);
    });
  }

  terminate(): Promise<number> {
    return this.thread.terminate();
  }
}

interface Queued {
  readonly call: Pick<RolloutCall, "setupKey" | "setup" | "policiesKey" | "policies">;
  readonly job: ShardJob;
  /** The thread the job must run on, or undefined for any. */
  readonly pinned: number | undefined;
  readonly resolve: (result: ShardResult) => void;
  readonly reject: (error: Error) => void;
}

/**
 * A fixed number of worker threads taking jobs from a queue. A thread keeps the env of every shard
 * it has played (building one costs more than a short shard), so a shard goes back to the thread
 * that has it: jobs may be pinned to a thread, and an unpinned job goes to thread
 * `shard % size` when that thread is idle, else to any idle thread. Which thread runs a job never
 * changes its result (a job is a pure function of its call).
 */
export class RolloutThreadPool {
  private threads: RolloutThread[] | undefined;
  private readonly busy = new Set<number>();
  private readonly queue: Queued[] = [];
  private nextId = 0;

  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RolloutRunnerError(`a thread pool needs at least one thread, got ${size}`);
  }

  private start(): RolloutThread[] {
    this.threads ??= Array.from({ length: this.size }, () => new RolloutThread());
    return this.threads;
  }

  private launch(threads: RolloutThread[], t: number, next: Queued): void {
    this.busy.add(t);
    threads[t]!
      .run(this.nextId++, next.call, next.job)
      .then(next.resolve, next.reject)
      .finally(() => {
        if (this.threads === threads) {
          this.busy.delete(t);
          this.dispatch();
        }
      });
  }

  private dispatch(): void {
    const threads = this.threads;
    if (threads === undefined) return;
    // First pass: each idle thread takes a job pinned to it or a free job that prefers it (its
    // shard's env is there); second pass: idle threads take any free job left.
    for (const own of [true, false]) {
      for (let t = 0; t < threads.length; t++) {
        if (this.busy.has(t)) continue;
        const pick = own
          ? this.queue.findIndex((q) => q.pinned === t || (q.pinned === undefined && q.job.shard % this.size === t))
          : this.queue.findIndex((q) => q.pinned === undefined);
        if (pick >= 0) this.launch(threads, t, this.queue.splice(pick, 1)[0]!);
      }
    }
  }

  /** Runs one job on thread `pinned`, or (undefined) on the best idle thread. */
  runJob(call: Pick<RolloutCall, "setupKey" | "setup" | "policiesKey" | "policies">, job: ShardJob, pinned?: number): Promise<ShardResult> {
    this.start();
    if (pinned !== undefined && !(Number.isSafeInteger(pinned) && pinned >= 0 && pinned < this.size)) {
      return Promise.reject(new RolloutRunnerError(`no thread ${pinned} in a pool of ${this.size}`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ call, job, pinned, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops the threads; jobs still queued are rejected. The pool restarts on the next job. */
  async close(): Promise<void> {
    const threads = this.threads ?? [];
    this.threads = undefined;
    this.busy.clear();
    for (const q of this.queue.splice(0)) q.reject(new RolloutRunnerError("the rollout thread pool was closed"));
    await Promise.all(threads.map((t) => t.terminate()));
  }
}

/** The default executor: `threads` worker threads on this machine. */
export const threadShardExecutor = (threads: number): ShardExecutor => {
  const pool = new RolloutThreadPool(threads);
  return {
    // Shard s always runs on thread s % threads, which keeps its env from call to call.
    run: (call) => Promise.all(call.jobs.map((job) => pool.runJob(call, job, job.shard % threads))),
    close: () => pool.close()
  };
};
