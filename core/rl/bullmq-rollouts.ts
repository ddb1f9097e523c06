/**
 * Rollouts past one machine on BullMQ and Redis (ARCHITECTURE section 5): a
 * coordinator executor that enqueues one BullMQ job per shard of episodes, and the worker process
 * loop that pulls those jobs and plays them on its own thread pool (rollout-executor.ts). A shard's
 * result is a pure function of (env setup, policy weights, episode range, seed stream), so:
 * - payloads stay small: the setup, the weights and each result travel through a content-addressed
 *   blob store by hash (a directory every host sees), and a worker fetches each weights blob once;
 * - delivery is at least once: a job whose worker dies is re-run by BullMQ's stalled-job check, a
 *   job slower than the timeout is re-issued, a job lost with a restarted Redis is re-issued; the
 *   coordinator keeps the first result per shard and drops the rest, which is safe because every
 *   copy computes the same bytes;
 * - a job names the code version that made it (code-version.ts); a worker on other code refuses
 *   it with an error naming both versions and stops, and the coordinator re-issues the job.
 */
import { hostname } from "node:os";
import { deserialize, serialize } from "node:v8";
import { Job, Queue, QueueEvents, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import { rolloutCodeVersion } from "./code-version.ts";
import { decodeShardResult, encodeShardResult } from "./shard-codec.ts";
import {
  RolloutRunnerError,
  RolloutThreadPool,
  type RolloutCall,
  type RolloutSetup,
  type ShardExecutor,
  type ShardJob,
  type ShardResult,
  type WorkerPolicySpec
} from "./rollout-executor.ts";

/** A content-addressed store of bytes shared by the coordinator and its workers. */
export interface RolloutBlobStore {
  /** Stores bytes, returns their hash (idempotent). */
  put(bytes: Uint8Array): Promise<string>;
  /** The bytes stored under `hash`, verified; rejects when missing or corrupt. */
  get(hash: string): Promise<Uint8Array>;
}

/** The data of one BullMQ rollout job (JSON: hashes, ids and the encoded shard job). */
export interface RolloutJobData {
  readonly version: string;
  readonly setup: string;
  readonly policies: string;
  /** The `ShardJob`, v8-serialised and base64-encoded (its inputs may hold typed arrays). */
  readonly job: string;
}

/** What a worker returns for a job: the hash of the `ShardResult` blob (shard-codec.ts). */
export interface RolloutJobReturn {
  readonly result: string;
  readonly ms: number;
  readonly worker: string;
}

export const defaultRolloutQueue = "otc-rollouts";

/** The marker a refusing worker puts first in its error, so the coordinator tells refusals from failures. */
const versionMismatch = "code version mismatch";

const encode = (value: unknown): Uint8Array => {
  const buffer = serialize(value);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
};
const decode = <A>(bytes: Uint8Array): A => deserialize(bytes) as A;

/** Checks a Redis URL and returns it normalised, or throws a `RolloutRunnerError` saying what is wrong. */
export const checkRedisUrl = (url: string): string => {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RolloutRunnerError(`"${url}" is not a Redis URL; give one like redis://host:6379`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new RolloutRunnerError(`"${url}" is not a Redis URL (it must start with redis:// or rediss://)`);
  }
  return parsed.toString();
};

const connectionOf = (url: string) => ({ url: checkRedisUrl(url), maxRetriesPerRequest: null });

const withTimeout = <A>(promise: Promise<A>, ms: number, message: string): Promise<A> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new RolloutRunnerError(message)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    );
  });

/**
 * Checks that Redis answers at `url` within `ms`, with a throwaway connection that does not retry:
 * BullMQ's own clients retry forever and cannot be closed before they first connect, so they are
 * only created once Redis is known to be there.
 */
const probeRedis = async (url: string, ms: number, advice: string): Promise<void> => {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: ms, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  let last: string | undefined;
  client.on("error", (error: Error) => (last = error.message));
  try {
    await withTimeout(client.connect().then(() => client.ping()), ms, "timeout");
  } catch {
    throw new RolloutRunnerError(`cannot reach Redis at ${url} ${last === undefined ? `within ${ms / 1000} s` : `(${last})`}; ${advice}`);
  } finally {
    client.disconnect();
  }
};

/** Closes a BullMQ client; if Redis does not answer within 3 s (it is down), drops the connection instead. */
const closeQuietly = async (client: { close(): Promise<void>; disconnect(): Promise<void> } | undefined): Promise<void> => {
  if (client === undefined) return;
  try {
    await withTimeout(client.close(), 3_000, "close timed out");
  } catch {
    void client.disconnect().catch(() => undefined);
  }
};

// ---------------------------------------------------------------------------------------------
// Coordinator

export interface BullmqExecutorOptions {
  /** Redis URL, e.g. redis://127.0.0.1:6379. */
  readonly redis: string;
  readonly blobs: RolloutBlobStore;
  /** Queue name (workers must use the same). */
  readonly queue?: string;
  /** Re-issue a job not finished this many ms after it was issued. Default 10 minutes. */
  readonly jobTimeoutMs?: number;
  /** Most re-issues per shard and call (timeouts, lost jobs, refusals) before the call fails. Default 5. */
  readonly maxReissues?: number;
  /** How often pending jobs are checked directly in Redis, besides the event stream. Default 500 ms. */
  readonly sweepMs?: number;
  /** Give up connecting to Redis after this many ms. Default 15 s. */
  readonly connectTimeoutMs?: number;
  /** After this many ms with results outstanding and no worker connected, say so (then every 30 s). Default 10 s. */
  readonly noWorkerNoticeMs?: number;
  /** The version jobs carry. Default: this checkout's `rolloutCodeVersion()`. */
  readonly codeVersion?: string;
  /** One sentence per event worth telling the user (re-issues, refusals, no workers). Default: stderr. */
  readonly onNotice?: (message: string) => void;
}

/** Counts over the executor's life, for benchmarks and tests. */
export interface BullmqExecutorStats {
  jobs: number;
  reissued: number;
  duplicatesDropped: number;
  refusals: number;
}

interface ShardState {
  readonly index: number;
  result: ShardResult | undefined;
  /** The job whose result was kept. */
  winner: string | undefined;
  issuedAt: number;
  reissues: number;
  readonly jobIds: string[];
}

interface CallState {
  readonly id: string;
  readonly data: Omit<RolloutJobData, "job">;
  readonly jobs: readonly ShardJob[];
  readonly shards: ShardState[];
  readonly byJobId: Map<string, ShardState>;
  /** Job ids whose completion or failure has been taken in (an event and a sweep may both report one). */
  readonly seen: Set<string>;
  remaining: number;
  readonly resolve: (results: ShardResult[]) => void;
  readonly reject: (error: Error) => void;
  failed: boolean;
}

let coordinatorCount = 0;

/** Runs shard jobs on BullMQ worker processes (`pnpm rollout-worker --redis URL`). */
export class BullmqShardExecutor implements ShardExecutor {
  readonly stats: BullmqExecutorStats = { jobs: 0, reissued: 0, duplicatesDropped: 0, refusals: 0 };
  private readonly queueName: string;
  private readonly redis: string;
  private readonly codeVersion: string;
  private readonly notice: (message: string) => void;
  private queue: Queue | undefined;
  private events: QueueEvents | undefined;
  private ready: Promise<void> | undefined;
  private readonly calls = new Map<string, CallState>();
  private readonly setupHashes = new Map<string, string>();
  private readonly nonce = `${hostname().replace(/[^A-Za-z0-9-]/g, "")}-${process.pid}-${Date.now().toString(36)}-${++coordinatorCount}`;
  private callCount = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  private lastWorkerNotice = 0;
  private waitingSince = 0;
  private lastRedisNotice = 0;

  constructor(private readonly options: BullmqExecutorOptions) {
    this.redis = checkRedisUrl(options.redis);
    this.queueName = options.queue ?? defaultRolloutQueue;
    this.codeVersion = options.codeVersion ?? rolloutCodeVersion();
    this.notice = options.onNotice ?? ((message) => process.stderr.write(`${message}\n`));
  }

  private redisTrouble(error: Error): void {
    const now = Date.now();
    if (now - this.lastRedisNotice < 5_000) return;
    this.lastRedisNotice = now;
    this.notice(`Rollout coordinator: Redis at ${this.redis} is unavailable (${error.message}); waiting for it to come back.`);
  }

  private connect(): Promise<void> {
    this.ready ??= (async () => {
      const timeout = this.options.connectTimeoutMs ?? 15_000;
      await probeRedis(this.redis, timeout, "start redis-server there or fix rollouts.redis");
      const connection = connectionOf(this.redis);
      const queue = new Queue(this.queueName, { connection });
      const events = new QueueEvents(this.queueName, { connection });
      queue.on("error", (e) => this.redisTrouble(e));
      events.on("error", (e) => this.redisTrouble(e));
      events.on("completed", ({ jobId, returnvalue }) => void this.completed(jobId, returnvalue));
      events.on("failed", ({ jobId, failedReason }) => this.failed(jobId, failedReason));
      this.queue = queue;
      this.events = events;
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    })().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  private async setupHash(call: RolloutCall): Promise<string> {
    let hash = this.setupHashes.get(call.setupKey);
    if (hash === undefined) {
      hash = await this.options.blobs.put(encode(call.setup));
      this.setupHashes.set(call.setupKey, hash);
    }
    return hash;
  }

  async run(call: RolloutCall): Promise<ShardResult[]> {
    await this.connect();
    const [setup, policies] = await Promise.all([this.setupHash(call), this.options.blobs.put(encode(call.policies))]);
    const id = `${this.nonce}.${++this.callCount}`;
    return new Promise<ShardResult[]>((resolve, reject) => {
      const state: CallState = {
        id,
        data: { version: this.codeVersion, setup, policies },
        jobs: call.jobs,
        shards: call.jobs.map((_, index) => ({ index, result: undefined, winner: undefined, issuedAt: 0, reissues: 0, jobIds: [] })),
        byJobId: new Map(),
        seen: new Set(),
        remaining: call.jobs.length,
        resolve,
        reject,
        failed: false
      };
      this.calls.set(id, state);
      this.waitingSince = Date.now();
      if (call.jobs.length === 0) {
        this.finish(state);
        return;
      }
      this.startSweeping();
      this.issue(state, state.shards).catch((error: unknown) => this.fail(state, error instanceof Error ? error : new Error(String(error))));
    });
  }

  private async issue(state: CallState, shards: readonly ShardState[]): Promise<void> {
    const queue = this.queue!;
    const now = Date.now();
    const entries = shards.map((shard) => {
      const jobId = `${state.id}.${shard.index}.${shard.jobIds.length}`;
      shard.jobIds.push(jobId);
      shard.issuedAt = now;
      state.byJobId.set(jobId, shard);
      const data: RolloutJobData = { ...state.data, job: Buffer.from(encode(state.jobs[shard.index])).toString("base64") };
      return { name: "rollout", data, opts: { jobId, attempts: 1, removeOnComplete: { age: 3600 }, removeOnFail: { age: 24 * 3600 } } };
    });
    this.stats.jobs += entries.length;
    await queue.addBulk(entries);
  }

  private reissue(state: CallState, shard: ShardState, why: string, limit = this.options.maxReissues ?? 5): void {
    if (shard.reissues >= limit) {
      this.fail(state, new RolloutRunnerError(`shard ${shard.index} was re-issued ${shard.reissues} times and still has no result (last: ${why})`));
      return;
    }
    shard.reissues++;
    this.stats.reissued++;
    this.notice(`Rollout coordinator: ${why}; re-issuing shard ${shard.index} (re-issue ${shard.reissues}).`);
    this.issue(state, [shard]).catch((error: unknown) => this.fail(state, error instanceof Error ? error : new Error(String(error))));
  }

  private callOf(jobId: string): { state: CallState; shard: ShardState } | undefined {
    const callId = jobId.slice(0, jobId.lastIndexOf(".", jobId.lastIndexOf(".") - 1));
    const state = this.calls.get(callId);
    const shard = state?.byJobId.get(jobId);
    return state === undefined || shard === undefined ? undefined : { state, shard };
  }

  private async completed(jobId: string, returned: unknown): Promise<void> {
    const found = this.callOf(jobId);
    if (found === undefined) return;
    const { state, shard } = found;
    if (state.failed || state.seen.has(jobId)) return;
    state.seen.add(jobId);
    if (shard.result !== undefined) {
      this.stats.duplicatesDropped++;
      return;
    }
    const value = (typeof returned === "string" ? JSON.parse(returned) : returned) as Partial<RolloutJobReturn> | null;
    if (value === null || typeof value !== "object" || typeof value.result !== "string") {
      this.fail(state, new RolloutRunnerError(`job ${jobId} returned no result hash (${JSON.stringify(returned)}); is the worker this project's \`pnpm rollout-worker\`?`));
      return;
    }
    let result: ShardResult;
    try {
      result = decodeShardResult(await this.options.blobs.get(value.result));
    } catch (error) {
      this.fail(state, new RolloutRunnerError(`the result of job ${jobId} could not be read from the blob store (${error instanceof Error ? error.message : String(error)}); do the coordinator and the workers share the blob directory?`));
      return;
    }
    // Another copy may have landed while the blob was read.
    if (shard.result !== undefined) {
      this.stats.duplicatesDropped++;
      return;
    }
    shard.result = result;
    shard.winner = jobId;
    state.remaining--;
    if (state.remaining === 0) this.finish(state);
  }

  private failed(jobId: string, reason: string): void {
    const found = this.callOf(jobId);
    if (found === undefined) return;
    const { state, shard } = found;
    if (state.failed || shard.result !== undefined || state.seen.has(jobId)) return;
    state.seen.add(jobId);
    if (reason.startsWith(versionMismatch)) {
      this.stats.refusals++;
      this.reissue(state, shard, `a worker refused job ${jobId}: ${reason}`, 20);
      return;
    }
    this.fail(state, new RolloutRunnerError(`a rollout worker failed job ${jobId}: ${reason}`));
  }

  private finish(state: CallState): void {
    this.calls.delete(state.id);
    if (this.calls.size === 0) this.stopSweeping();
    state.resolve(state.shards.map((s) => s.result!));
    void this.removeLeftovers(state);
  }

  private fail(state: CallState, error: Error): void {
    if (state.failed) return;
    state.failed = true;
    this.calls.delete(state.id);
    if (this.calls.size === 0) this.stopSweeping();
    state.reject(error);
    void this.removeLeftovers(state);
  }

  /** Removes every copy but the kept one that is still waiting (an active copy cannot be removed; its result will be dropped). */
  private async removeLeftovers(state: CallState): Promise<void> {
    const queue = this.queue;
    if (queue === undefined) return;
    const leftovers = state.shards.flatMap((s) => s.jobIds.filter((id) => id !== s.winner));
    await Promise.allSettled(leftovers.map((id) => queue.remove(id)));
  }

  private startSweeping(): void {
    if (this.sweepTimer !== undefined) return;
    this.sweepTimer = setInterval(() => void this.sweep(), this.options.sweepMs ?? 500);
  }

  private stopSweeping(): void {
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /**
   * Looks at every outstanding job in Redis: results whose event was missed (the event stream does
   * not survive a Redis restart), jobs that vanished with a restarted Redis, jobs past the timeout.
   */
  private async sweep(): Promise<void> {
    const queue = this.queue;
    if (queue === undefined) return;
    const timeout = this.options.jobTimeoutMs ?? 600_000;
    const now = Date.now();
    try {
      const open = [...this.calls.values()].flatMap((state) => state.shards.filter((shard) => shard.result === undefined).map((shard) => ({ state, shard })));
      const found = await Promise.all(open.map(({ shard }) => Promise.all(shard.jobIds.map((id) => Job.fromId<RolloutJobData, RolloutJobReturn>(queue, id)))));
      for (const [k, { state, shard }] of open.entries()) {
        if (shard.result !== undefined || state.failed) continue;
        const jobs = found[k]!;
        let alive = false;
        for (const job of jobs) {
          if (job === undefined) continue;
          if (job.finishedOn !== undefined && job.returnvalue !== null && job.returnvalue !== undefined && job.failedReason === undefined) {
            await this.completed(job.id!, job.returnvalue);
          } else if (job.finishedOn !== undefined && job.failedReason !== undefined) {
            this.failed(job.id!, job.failedReason);
          } else {
            alive = true;
          }
        }
        if (shard.result !== undefined || state.failed) continue;
        if (!alive && jobs.every((j) => j === undefined)) this.reissue(state, shard, `job ${shard.jobIds.at(-1)} is no longer in Redis (was Redis restarted?)`);
        else if (now - shard.issuedAt > timeout) this.reissue(state, shard, `job ${shard.jobIds.at(-1)} has taken more than ${Math.round(timeout / 1000)} s`);
      }
      if (this.calls.size > 0 && now - this.waitingSince > (this.options.noWorkerNoticeMs ?? 10_000) && now - this.lastWorkerNotice > 30_000) {
        if ((await queue.getWorkersCount()) === 0) {
          this.lastWorkerNotice = now;
          this.notice(
            `Rollout coordinator: no rollout worker is connected to queue "${this.queueName}" on ${this.redis}; start one with \`pnpm rollout-worker --redis ${this.redis}\` (code version ${this.codeVersion}).`
          );
        }
      }
    } catch (error) {
      this.redisTrouble(error instanceof Error ? error : new Error(String(error)));
    }
  }

  async close(): Promise<void> {
    this.stopSweeping();
    for (const state of [...this.calls.values()]) this.fail(state, new RolloutRunnerError("the BullMQ executor was closed with rollouts outstanding"));
    const queue = this.queue;
    const events = this.events;
    this.queue = undefined;
    this.events = undefined;
    this.ready = undefined;
    await Promise.all([closeQuietly(queue), closeQuietly(events)]);
  }
}

// ---------------------------------------------------------------------------------------------
// Worker process

export interface RolloutWorkerOptions {
  readonly redis: string;
  readonly blobs: RolloutBlobStore;
  /** Worker threads, and so jobs in flight at once. */
  readonly threads: number;
  readonly queue?: string;
  /** BullMQ lock duration: a dead worker's job is re-run about this long after it died. Default 30 s. */
  readonly lockMs?: number;
  /** The version this worker runs. Default: this checkout's `rolloutCodeVersion()`. */
  readonly codeVersion?: string;
  /** Name shown in Redis's client list and in results. Default host-pid. */
  readonly name?: string;
  /** One line per event (jobs, refusals, Redis trouble). Default: stdout. */
  readonly log?: (line: string) => void;
}

/** Why a worker stopped: asked to, or it met a job of another code version (then `message` says which). */
export type RolloutWorkerExit = { readonly reason: "closed" } | { readonly reason: "stale"; readonly message: string };

export interface RunningRolloutWorker {
  readonly name: string;
  readonly codeVersion: string;
  /** Jobs completed so far. */
  readonly completed: () => number;
  /** Resolves when the worker has stopped. */
  readonly done: Promise<RolloutWorkerExit>;
  /** Stops taking jobs, lets the ones in flight finish, releases threads and connections. */
  close(): Promise<void>;
}

/** Starts a BullMQ rollout worker in this process. */
export const startRolloutWorker = async (options: RolloutWorkerOptions): Promise<RunningRolloutWorker> => {
  const codeVersion = options.codeVersion ?? rolloutCodeVersion();
  const name = options.name ?? `${hostname()}-${process.pid}`;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const pool = new RolloutThreadPool(options.threads);
  const setups = new Map<string, RolloutSetup>();
  // The weights of the current and previous call: a job of either finds them without a fetch.
  const policies = new Map<string, readonly WorkerPolicySpec[]>();
  const fetchPolicies = async (hash: string) => {
    let found = policies.get(hash);
    if (found === undefined) {
      found = decode<readonly WorkerPolicySpec[]>(await options.blobs.get(hash));
      policies.set(hash, found);
      while (policies.size > 2) policies.delete(policies.keys().next().value!);
    }
    return found;
  };
  const fetchSetup = async (hash: string) => {
    let found = setups.get(hash);
    if (found === undefined) {
      found = decode<RolloutSetup>(await options.blobs.get(hash));
      setups.set(hash, found);
    }
    return found;
  };
  let completed = 0;
  let exit: (value: RolloutWorkerExit) => void = () => undefined;
  const done = new Promise<RolloutWorkerExit>((resolve) => (exit = resolve));
  let stopping: Promise<void> | undefined;
  let refusal: { readonly jobId: string; readonly message: string } | undefined;
  let lastRedisLog = 0;

  await probeRedis(checkRedisUrl(options.redis), 15_000, "start redis-server there or fix --redis");
  const lockMs = options.lockMs ?? 30_000;
  const worker = new Worker<RolloutJobData, RolloutJobReturn>(
    options.queue ?? defaultRolloutQueue,
    async (job) => {
      const data = job.data;
      if (data.version !== codeVersion) {
        const message = `${versionMismatch}: job ${job.id} comes from a coordinator on code version ${data.version} but worker ${name} runs code version ${codeVersion}; update this host's checkout (git pull, pnpm install) and restart the worker`;
        log(`refused: ${message}`);
        // Stop once BullMQ has recorded the refusal (the "failed" handler below), so the
        // coordinator hears of it and re-issues the job at once rather than after the lock expires.
        refusal ??= { jobId: job.id ?? "", message };
        throw new UnrecoverableError(message);
      }
      const [setup, weights] = await Promise.all([fetchSetup(data.setup), fetchPolicies(data.policies)]);
      const shardJob = decode<ShardJob>(Buffer.from(data.job, "base64"));
      const result = await pool.runJob({ setupKey: data.setup, setup, policiesKey: data.policies, policies: weights }, shardJob);
      const hash = await options.blobs.put(encodeShardResult(result));
      completed++;
      log(`job ${job.id} shard ${shardJob.shard}: ${shardJob.episodes} episode${shardJob.episodes === 1 ? "" : "s"} in ${result.ms.toFixed(0)} ms`);
      return { result: hash, ms: result.ms, worker: name };
    },
    {
      connection: connectionOf(options.redis),
      concurrency: options.threads,
      lockDuration: lockMs,
      stalledInterval: Math.max(1000, Math.round(lockMs / 2)),
      // A job may outlive a few dead workers before BullMQ gives up on it.
      maxStalledCount: 5,
      name
    }
  );
  worker.on("failed", (job) => {
    if (refusal !== undefined && job?.id === refusal.jobId) void stop({ reason: "stale", message: refusal.message });
  });
  worker.on("error", (error) => {
    const now = Date.now();
    if (now - lastRedisLog < 5_000) return;
    lastRedisLog = now;
    log(`Redis trouble (${error.message}); retrying`);
  });

  const stop = (why: RolloutWorkerExit): Promise<void> => {
    stopping ??= (async () => {
      await worker.close();
      await pool.close();
      exit(why);
    })();
    return stopping;
  };

  await worker.waitUntilReady();
  log(`rollout worker ${name}: code version ${codeVersion}, ${options.threads} thread${options.threads === 1 ? "" : "s"}, queue "${options.queue ?? defaultRolloutQueue}" on ${checkRedisUrl(options.redis)}`);
  return { name, codeVersion, completed: () => completed, done, close: () => stop({ reason: "closed" }) };
};
