/**
 * The `RolloutExecutor` service (ARCHITECTURE sections 5 and 6): where the training stages' rollout
 * shards run. A pipeline provides it for the whole run (`RolloutExecutor.live`, a scoped Layer:
 * every executor it hands out is closed when the run ends or fails); a stage asks it for a
 * `ShardExecutor` with its `rollouts` execution params, which choose:
 * - `local` (default): worker threads on this machine (`rollouts.workers`, 0 = the main thread);
 * - `bullmq`: shard jobs on a BullMQ queue in Redis (`rollouts.redis`), played by
 *   `pnpm rollout-worker` processes on any hosts; weights and results travel through the artifact
 *   store's blobs, so workers on other hosts need the store's directory mounted.
 * Neither changes a result, which is why `rollouts` stays out of cache keys. Tests swap the Layer
 * (`RolloutExecutor.inThread`, or one of their own).
 */
import { Context, Data, Effect, Layer } from "effect";
import { ArtifactStore } from "../../core/pipeline/store.ts";
import { BullmqShardExecutor } from "../../core/rl/bullmq-rollouts.ts";
import { threadShardExecutor, type ShardExecutor } from "../../core/rl/rollout-executor.ts";
import { workerCountOf, type RolloutSettings } from "../../schemas/rollouts.ts";

export class RolloutExecutorError extends Data.TaggedError("RolloutExecutorError")<{ readonly message: string }> {}

export interface RolloutExecutorService {
  /**
   * An executor for a runner of `shards` shards as `settings` ask, or undefined to play them in the
   * calling thread. It lives until the run ends (closing it earlier is allowed: it restarts on demand).
   */
  readonly acquire: (settings: RolloutSettings, shards: number) => Effect.Effect<ShardExecutor | undefined, RolloutExecutorError>;
}

const missingRedis = () =>
  new RolloutExecutorError({
    message: "rollouts.executor is bullmq but rollouts.redis is not set; set it beside the executor (e.g. --set calibration.rollouts.redis=redis://host:6379) to the Redis your `pnpm rollout-worker` processes use."
  });

export class RolloutExecutor extends Context.Tag("otc-marl/stages/RolloutExecutor")<RolloutExecutor, RolloutExecutorService>() {
  /**
   * The run's executors: worker threads (`workers`; "auto" = one per core, at most one per shard)
   * or BullMQ through Redis, the artifact store's blobs carrying weights and results. All are
   * closed when the Layer's scope (the run) ends.
   */
  static readonly live: Layer.Layer<RolloutExecutor, never, ArtifactStore> = Layer.scoped(
    RolloutExecutor,
    Effect.gen(function* () {
      const store = yield* ArtifactStore;
      const blobs = {
        put: (bytes: Uint8Array) => Effect.runPromise(store.putBlob(bytes)),
        get: (hash: string) => Effect.runPromise(store.getBlob(hash))
      };
      const handedOut: ShardExecutor[] = [];
      yield* Effect.addFinalizer(() => Effect.promise(() => Promise.allSettled(handedOut.splice(0).map((e) => e.close()))));
      const create = (settings: RolloutSettings, shards: number): ShardExecutor | undefined => {
        if (settings.executor === "local") {
          const threads = Math.min(workerCountOf(settings, shards), shards);
          return threads === 0 ? undefined : threadShardExecutor(threads);
        }
        if (settings.redis === undefined) throw missingRedis();
        return new BullmqShardExecutor({ redis: settings.redis, queue: settings.queue, blobs, jobTimeoutMs: settings.jobTimeoutSeconds * 1000 });
      };
      return {
        acquire: (settings, shards) =>
          Effect.try({
            try: () => {
              const executor = create(settings, shards);
              if (executor !== undefined) handedOut.push(executor);
              return executor;
            },
            catch: (error) => (error instanceof RolloutExecutorError ? error : new RolloutExecutorError({ message: error instanceof Error ? error.message : String(error) }))
          })
      };
    })
  );

  /** Every shard in the calling thread, whatever the settings (tests; results are the same). */
  static readonly inThread: Layer.Layer<RolloutExecutor> = Layer.succeed(RolloutExecutor, { acquire: () => Effect.succeed(undefined) });
}

/** The executor for a runner of `shards` shards as `settings` choose (undefined: the calling thread). */
export const acquireRolloutExecutor = (settings: RolloutSettings, shards: number) => Effect.flatMap(RolloutExecutor, (executors) => executors.acquire(settings, shards));
