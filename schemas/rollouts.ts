/**
 * How rollouts are executed (core/rl/rollout-executor.ts, core/rl/bullmq-rollouts.ts):
 * worker threads on this machine, or BullMQ worker processes on any number of hosts. These settings
 * never change a result (episodes draw from their own streams, shards have a fixed layout), so
 * stages list `rollouts` among their execution params: it stays out of cache keys and goes into
 * the provenance. The shard size, which fixes the layout, is a training param of its own.
 */
import { Schema } from "effect";
import { autoWorkerCount } from "../core/rl/rollout-runner.ts";

export const RolloutSettings = Schema.Struct({
  workers: Schema.optionalWith(Schema.Union(Schema.Literal("auto"), Schema.Int.pipe(Schema.between(0, 256))), { default: () => "auto" as const }).annotations({ description: "Worker threads for the local executor: \"auto\" = one per core (at most one per shard); 0 = the main thread." }),
  executor: Schema.optionalWith(Schema.Literal("local", "bullmq"), { default: () => "local" as const }).annotations({ description: "Where shards run: \"local\" (worker threads here) or \"bullmq\" (worker processes fed through Redis; needs `redis`)." }),
  redis: Schema.optional(Schema.String.pipe(Schema.pattern(/^rediss?:\/\/\S+$/, { message: () => "a Redis URL like redis://host:6379" }))).annotations({ description: "Redis URL of the BullMQ executor, e.g. redis://10.0.0.5:6379; start workers with `pnpm rollout-worker --redis URL`." }),
  queue: Schema.optionalWith(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/, { message: () => "1-64 letters, digits, _ or -" })), {
    default: () => "otc-rollouts"
  }).annotations({ description: "BullMQ queue name (workers take `--queue` with the same name)." }),
  jobTimeoutSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 600 }).annotations({ description: "BullMQ: a shard job not finished this many seconds after it was issued is issued again (the first result wins)." })
}).pipe(
  Schema.filter((s) => s.executor !== "bullmq" || s.redis !== undefined || "executor bullmq needs rollouts.redis, the Redis URL your `pnpm rollout-worker` processes use (e.g. redis://host:6379)")
);
export type RolloutSettings = typeof RolloutSettings.Type;

export const defaultRolloutSettings = (): RolloutSettings => ({ workers: "auto", executor: "local", queue: "otc-rollouts", jobTimeoutSeconds: 600 });

/** The worker-thread count the settings ask for, given the number of shards. */
export const workerCountOf = (settings: Pick<RolloutSettings, "workers">, shards: number): number =>
  settings.workers === "auto" ? autoWorkerCount(shards) : settings.workers;

/** Episodes per rollout shard: fixes how the B episodes are split (part of the results' identity). */
export const EpisodesPerShard = Schema.Int.pipe(Schema.between(1, 10_000));

/** The run's tfjs backend as the worker threads' backend (workers follow the main thread's choice). */
export const workerBackend = (name: string | undefined): { backend?: "wasm" | "cpu" } =>
  name === "wasm" || name === "cpu" ? { backend: name } : {};
