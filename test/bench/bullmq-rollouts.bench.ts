/**
 * Rollouts through BullMQ against the local executor (rollouts past one machine;
 * core/rl/bullmq-rollouts.ts): episodes per second of `RolloutRunner` on the experiment-4
 * population (B = 60 episodes of T = 100 in shards of 5, i.e. 12 jobs per iteration, the quick
 * preset's 2 x 64 LP network on wasm) with the local executor (main thread, 1 and 2 worker threads)
 * and with the BullMQ executor fed to 1, 2 and 4 local `pnpm rollout-worker` processes (one thread
 * each), all measured side by side in one run against a `redis-server` this script starts.
 * Overheads: per iteration, the wall time of a call minus the compute of its shards when one
 * process or thread plays them all (so nothing runs in parallel and the rest is overhead); per job,
 * the same on calls of 40 one-step episodes in 40 jobs, where compute is negligible. On a 2-core
 * machine 4 worker processes oversubscribe the cores. Prints one JSON object.
 */
import { experimentPopulation } from "../../core/calibration/experiments.ts";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultGameConfig } from "../../core/otc/config.ts";
import { otcRolloutEnv, otcRolloutLocation } from "../../core/otc/rollout-env.ts";
import { FsArtifactStore } from "../../core/pipeline/store.ts";
import { Random } from "../../core/random/philox.ts";
import { initTfBackend } from "../../core/rl/backend.ts";
import { BullmqShardExecutor } from "../../core/rl/bullmq-rollouts.ts";
import { defaultPpoParams, PpoAgent, type PpoParams } from "../../core/rl/ppo.ts";
import { threadShardExecutor, type ShardExecutor } from "../../core/rl/rollout-executor.ts";
import { RolloutRunner } from "../../core/rl/rollout-runner.ts";
import { standInGmmData } from "../otc/fixtures.ts";
import { freePort, hasRedisServer, startRedisServer, waitForOutput } from "../rl/processes.ts";

if (!hasRedisServer()) {
  console.log(JSON.stringify({ bench: "bullmq-rollouts", skipped: "redis-server is not installed (apt-get install redis-server)" }));
  process.exit(0);
}

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const backend = await initTfBackend("wasm");
const episodes = Number(process.env.ROLLOUT_BENCH_EPISODES ?? 60);
const calls = Number(process.env.ROLLOUT_BENCH_CALLS ?? 3);
const episodesPerShard = 5;
const horizon = 100;
const ppo: PpoParams = {
  ...defaultPpoParams,
  network: {
    ...defaultPpoParams.network,
    policy: { ...defaultPpoParams.network.policy, hiddenWidths: [64, 64] },
    value: { ...defaultPpoParams.network.value, hiddenWidths: [64, 64] }
  }
};

const port = await freePort();
const url = `redis://127.0.0.1:${port}`;
const dir = mkdtempSync(join(tmpdir(), "bullmq-bench-"));
const store = new FsArtifactStore(join(dir, "store"));
const blobs = { put: (b: Uint8Array) => store.putBlob(b), get: (h: string) => store.getBlob(h) };

const redis = await startRedisServer(port);

const startWorkers = async (count: number): Promise<ChildProcess[]> => {
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, ["--import", "tsx", join(repo, "pipelines/rollout-worker-main.ts"), "--redis", url, "--store", join(dir, "store"), "--threads", "1"], {
      cwd: repo,
      stdio: ["ignore", "pipe", "pipe"]
    })
  );
  await Promise.all(children.map((c) => waitForOutput(c, /code version/, "pnpm rollout-worker")));
  return children;
};
const stopWorkers = async (children: ChildProcess[]) => {
  await Promise.all(children.map((c) => new Promise((done) => (c.once("exit", done), c.kill("SIGTERM")))));
};

interface Measured {
  readonly episodesPerSecond: number;
  readonly msPerIteration: number;
  readonly computeMsPerIteration: number;
  readonly warmupMs: number;
}

/** Runs `calls` iterations of B episodes on `executor` (undefined: the main thread). */
const measure = async (executor: ShardExecutor | undefined, b = episodes, perShard = episodesPerShard, steps = horizon): Promise<Measured> => {
  const args = { config: { ...defaultGameConfig(experimentPopulation(4)), horizon: steps }, ecn: { kind: "gmm" as const, data: standInGmmData() } };
  const runner = new RolloutRunner({ factory: otcRolloutEnv, location: otcRolloutLocation, args, episodes: b, episodesPerShard: perShard, workers: 0, backend: "wasm", ...(executor ? { executor } : {}) });
  const agent = new PpoAgent(runner.classes[0]!.obsDim, runner.classes[0]!.action, ppo, Random.fromSeed(1));
  const started = performance.now();
  await runner.collect([agent], Random.fromSeed(0), ppo);
  const warmupMs = performance.now() - started;
  let wall = 0;
  let compute = 0;
  for (let i = 1; i <= calls; i++) {
    const t0 = performance.now();
    const result = await runner.collect([agent], Random.fromSeed(i), ppo);
    wall += performance.now() - t0;
    compute += result.shardMs.reduce((a, s) => a + s, 0);
  }
  await runner.close();
  agent.dispose();
  return {
    episodesPerSecond: Number(((calls * b) / (wall / 1000)).toFixed(2)),
    msPerIteration: Math.round(wall / calls),
    computeMsPerIteration: Math.round(compute / calls),
    warmupMs: Math.round(warmupMs)
  };
};

const bullmq = () => new BullmqShardExecutor({ redis: url, blobs, sweepMs: 500 });

const throughput: Record<string, Measured & { speedupVsMainThread?: number }> = {};
throughput["local, main thread"] = await measure(undefined);
throughput["local, 1 thread"] = await measure(threadShardExecutor(1));
throughput["local, 2 threads"] = await measure(threadShardExecutor(2));
for (const processes of [1, 2, 4]) {
  const workers = await startWorkers(processes);
  throughput[`bullmq, ${processes} worker process${processes === 1 ? "" : "es"}`] = await measure(bullmq());
  await stopWorkers(workers);
}
const base = throughput["local, main thread"]!.episodesPerSecond;
for (const row of Object.values(throughput)) row.speedupVsMainThread = Number((row.episodesPerSecond / base).toFixed(2));

// Overheads with one thread / one process: everything is serial, so wall - compute is overhead.
const serialJobs = Math.ceil(episodes / episodesPerShard);
const overheadPerIteration = (m: Measured) => m.msPerIteration - m.computeMsPerIteration;
const tinyJobs = 40;
const oneWorker = await startWorkers(1);
const tinyBullmq = await measure(bullmq(), tinyJobs, 1, 1);
await stopWorkers(oneWorker);
const tinyLocal = await measure(threadShardExecutor(1), tinyJobs, 1, 1);
const perJob = (m: Measured) => Number(((m.msPerIteration - m.computeMsPerIteration) / tinyJobs).toFixed(2));

redis.kill("SIGTERM");
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify(
    {
      bench: "bullmq-rollouts",
      backend,
      cores: cpus().length,
      episodes,
      episodesPerShard,
      horizon,
      jobsPerIteration: serialJobs,
      calls,
      throughput,
      overhead: {
        msPerIteration: {
          "local, 1 thread": overheadPerIteration(throughput["local, 1 thread"]!),
          "bullmq, 1 worker process": overheadPerIteration(throughput["bullmq, 1 worker process"]!)
        },
        msPerJob: { "local, 1 thread": perJob(tinyLocal), "bullmq, 1 worker process": perJob(tinyBullmq), jobs: tinyJobs, episodeSteps: 1 }
      }
    },
    null,
    2
  )
);
process.exit(0);
