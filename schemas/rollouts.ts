/**
 * How rollouts are executed (SPEC 3; core/rl/rollout-runner.ts): worker threads. These settings
 * never change a result (episodes draw from their own streams, shards have a fixed layout), so
 * stages list `rollouts` among their execution params: it stays out of cache keys and goes into
 * the provenance. The shard size, which fixes the layout, is a training param of its own.
 */
import { Schema } from "effect";
import { autoWorkerCount } from "../core/rl/rollout-runner.ts";

export const RolloutSettings = Schema.Struct({
  /** Worker threads for rollouts: "auto" = one per core (at most one per shard); 0 = the main thread. */
  workers: Schema.optionalWith(Schema.Union(Schema.Literal("auto"), Schema.Int.pipe(Schema.between(0, 256))), { default: () => "auto" as const })
});
export type RolloutSettings = typeof RolloutSettings.Type;

export const defaultRolloutSettings = (): RolloutSettings => ({ workers: "auto" });

/** The worker count the settings ask for, given the number of shards. */
export const workerCountOf = (settings: RolloutSettings, shards: number): number =>
  settings.workers === "auto" ? autoWorkerCount(shards) : settings.workers;

/** Episodes per rollout shard: fixes how the B episodes are split (part of the results' identity). */
export const EpisodesPerShard = Schema.Int.pipe(Schema.between(1, 10_000));

/** The run's tfjs backend as the worker threads' backend (workers follow the main thread's choice). */
export const workerBackend = (name: string | undefined): { backend?: "wasm" | "cpu" } =>
  name === "wasm" || name === "cpu" ? { backend: name } : {};
