/**
 * The `RolloutExecutor` service (ARCHITECTURE section 5): where the training stages' rollout
 * shards run. The stages ask it for a `ShardExecutor` per rollout runner; which Layer answers is
 * chosen by the stage's `rollouts` execution params (`rolloutExecutorLayer`):
 * - `local` (default): worker threads on this machine (`rollouts.workers`, 0 = the main thread);
 * - `bullmq`: shard jobs on a BullMQ queue in Redis (`rollouts.redis`), played by
 *   `pnpm rollout-worker` processes on any hosts; weights and results travel through the artifact
 *   store's blobs, so workers on other hosts need the store's directory mounted.
 * Neither changes a result, which is why `rollouts` stays out of cache keys.
 */
import { Context, Data, Effect, Layer } from "effect";
import { ArtifactStore } from "../../core/pipeline/store.ts";
import { BullmqShardExecutor } from "../../core/rl/bullmq-rollouts.ts";
import { threadShardExecutor, type ShardExecutor } from "../../core/rl/rollout-executor.ts";
import { workerCountOf, type RolloutSettings } from "../../schemas/rollouts.ts";

export class RolloutExecutorError extends Data.TaggedError("RolloutExecutorError")<{ readonly message: string }> {}

export interface RolloutExecutorService {
  /**
   * An executor for a runner of `shards` shards, or undefined to play them in the calling thread.
   * The runner that receives it owns it (and closes it).
   */
  readonly acquire: (shards: number) => Effect.Effect<ShardExecutor | undefined, RolloutExecutorError>;
}

export class RolloutExecutor extends Context.Tag("otc-marl/stages/RolloutExecutor")<RolloutExecutor, RolloutExecutorService>() {
  /** Worker threads on this machine: `workers` of them ("auto": one per core, at most one per shard), 0 = the calling thread. */
  static local(workers: RolloutSettings["workers"]): Layer.Layer<RolloutExecutor> {
    return Layer.succeed(RolloutExecutor, {
      acquire: (shards) =>
        Effect.sync(() => {
          const threads = Math.min(workerCountOf({ workers }, shards), shards);
          return threads === 0 ? undefined : threadShardExecutor(threads);
        })
    });
  }

  /** BullMQ worker processes through Redis at `redis`, the artifact store's blobs carrying weights and results. */
  static bullmq(options: { readonly redis: string; readonly queue: string; readonly jobTimeoutSeconds: number }): Layer.Layer<RolloutExecutor, never, ArtifactStore> {
    return Layer.effect(
      RolloutExecutor,
      Effect.gen(function* () {
        const store = yield* ArtifactStore;
        const blobs = {
          put: (bytes: Uint8Array) => Effect.runPromise(store.putBlob(bytes)),
          get: (hash: string) => Effect.runPromise(store.getBlob(hash))
        };
        return {
          acquire: () =>
            Effect.try({
              try: () => new BullmqShardExecutor({ redis: options.redis, queue: options.queue, blobs, jobTimeoutMs: options.jobTimeoutSeconds * 1000 }),
              catch: (error) => new RolloutExecutorError({ message: error instanceof Error ? error.message : String(error) })
            })
        };
      })
    );
  }
}

/** The Layer the settings choose. */
export const rolloutExecutorLayer = (settings: RolloutSettings): Layer.Layer<RolloutExecutor, RolloutExecutorError, ArtifactStore> => {
  if (settings.executor === "local") return RolloutExecutor.local(settings.workers);
  if (settings.redis === undefined) {
    return Layer.fail(
      new RolloutExecutorError({ message: "rollouts.executor is bullmq but rollouts.redis is not set; set it beside the executor (e.g. --set calibration.rollouts.redis=redis://host:6379) to the Redis your `pnpm rollout-worker` processes use." })
    );
  }
  return RolloutExecutor.bullmq({ redis: settings.redis, queue: settings.queue, jobTimeoutSeconds: settings.jobTimeoutSeconds });
};

/** The executor for a runner of `shards` shards as `settings` choose (undefined: the calling thread). */
export const acquireRolloutExecutor = (settings: RolloutSettings, shards: number) =>
  Effect.flatMap(RolloutExecutor, (executors) => executors.acquire(shards)).pipe(Effect.provide(rolloutExecutorLayer(settings)));
