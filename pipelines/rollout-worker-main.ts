/**
 * Entry point of `pnpm rollout-worker --redis URL`: a rollout worker process for the BullMQ
 * executor (ARCHITECTURE section 5; core/rl/bullmq-rollouts.ts). Start any number, on any host that
 * has this checkout and sees the artifact store's directory (`--store`, the same directory the
 * pipeline run uses, shared across hosts by a network mount). Each pulls shard jobs from Redis,
 * plays them on its own worker threads and puts the results in the store's blobs. It stops on
 * SIGINT/SIGTERM after its jobs in flight (exit 0), and refuses and stops at the first job of
 * another code version (exit 3).
 */
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { FsArtifactStore } from "../core/pipeline/store.ts";
import { defaultRolloutQueue, startRolloutWorker } from "../core/rl/bullmq-rollouts.ts";

const usage = `Usage: pnpm rollout-worker --redis URL [--store DIR] [--threads N|auto] [--queue NAME] [--lock-seconds S]

  --redis URL         Redis the coordinator uses (calibration.rollouts.redis), e.g. redis://10.0.0.5:6379
                      (default: $REDIS_URL)
  --store DIR         the artifact store the pipeline run uses (its blobs carry weights and results;
                      on several hosts, a directory they all mount). Default: artifacts
  --threads N|auto    worker threads, and so jobs in flight at once. Default: auto (one per core)
  --queue NAME        BullMQ queue (the coordinator's rollouts.queue). Default: ${defaultRolloutQueue}
  --lock-seconds S    a job of a worker that died is re-run about S seconds later. Default: 30`;

const fail = (message: string, code: number): never => {
  process.stderr.write(`${message}\n`);
  process.exit(code);
};

let parsed;
try {
  parsed = parseArgs({
    options: {
      redis: { type: "string" },
      store: { type: "string", default: "artifacts" },
      threads: { type: "string", default: "auto" },
      queue: { type: "string", default: defaultRolloutQueue },
      "lock-seconds": { type: "string", default: "30" },
      help: { type: "boolean", short: "h", default: false }
    },
    strict: true,
    allowPositionals: false
  }).values;
} catch (error) {
  fail(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`, 2);
}
const values = parsed!;
if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const redis = values.redis ?? process.env["REDIS_URL"];
if (redis === undefined || redis === "") fail(`Give the Redis URL with --redis (or REDIS_URL).\n\n${usage}`, 2);
const threads = values.threads === "auto" ? availableParallelism() : Number(values.threads);
if (!Number.isSafeInteger(threads) || threads < 1 || threads > 256) fail(`--threads must be "auto" or an integer from 1 to 256, got "${values.threads}".`, 2);
const lockSeconds = Number(values["lock-seconds"]);
if (!Number.isFinite(lockSeconds) || lockSeconds < 1) fail(`--lock-seconds must be a number of seconds, at least 1, got "${values["lock-seconds"]}".`, 2);

const store = new FsArtifactStore(values.store!, { onWarning: (m) => process.stderr.write(`${m}\n`) });
let worker;
try {
  worker = await startRolloutWorker({
    redis: redis!,
    blobs: { put: (bytes) => store.putBlob(bytes), get: (hash) => store.getBlob(hash) },
    threads,
    queue: values.queue!,
    lockMs: lockSeconds * 1000
  });
} catch (error) {
  fail(`The rollout worker could not start: ${(error instanceof Error ? error.message : String(error)).replace(/^Rollouts failed: /, "")}`, 1);
}
const running = worker!;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    process.stdout.write(`${signal}: finishing the jobs in flight, then stopping\n`);
    void running.close();
  });
}
const exit = await running.done;
process.stdout.write(`rollout worker ${running.name} stopped after ${running.completed()} job${running.completed() === 1 ? "" : "s"}\n`);
if (exit.reason === "stale") fail(`Stopped: ${exit.message}.`, 3);
process.exit(0);
