/**
 * Rollouts on BullMQ worker processes (core/rl/bullmq-rollouts.ts, ARCHITECTURE section 5), against
 * a real `redis-server` and real `pnpm rollout-worker` processes. A calibration run whose rollouts
 * go through Redis is stepped in lockstep with the same run in this thread, and after every
 * iteration both must hold bit-identical rows and weights, through the faults of the issue: a
 * worker started late, a worker SIGKILLed while it holds a job, Redis restarted between
 * iterations, and a worker on a stale code version (it must refuse its job, naming both versions,
 * and stop). Skips, saying so, where `redis-server` is not installed (`.ci/run` installs it).
 */
import { experimentPopulation } from "../../core/calibration/experiments.ts";
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { serialize } from "node:v8";
import * as tf from "@tensorflow/tfjs";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest";
import { Effect, Layer } from "effect";
import { defaultRolloutSettings } from "../../schemas/rollouts.ts";
import { acquireRolloutExecutor, RolloutExecutor } from "../../stages/support/rollout-executor.ts";
import { ArtifactStore, FsArtifactStore } from "../../core/pipeline/store.ts";
import { Random } from "../../core/random/philox.ts";
import { BullmqShardExecutor, checkRedisUrl } from "../../core/rl/bullmq-rollouts.ts";
import { PpoAgent } from "../../core/rl/ppo.ts";
import { RolloutRunner } from "../../core/rl/rollout-runner.ts";
import { defaultGameConfig } from "../../core/otc/config.ts";
import { otcRolloutEnv, otcRolloutLocation } from "../../core/otc/rollout-env.ts";
import { standInGmmData } from "../otc/fixtures.ts";
import { cliRunner, repo, setFlags } from "../pipelines/cli.ts";
import { exitOf, freePort, hasRedisServer, startRedisServer, waitForOutput } from "./processes.ts";
import { tinyOtcPpo } from "./toy-envs.ts";
import { openLoop, tinyCalibration, type OpenLoop } from "../pipelines/loops.ts";

const hasRedis = hasRedisServer();
if (!hasRedis) console.warn("bullmq-rollouts.test.ts skipped: redis-server is not installed (apt-get install redis-server; .ci/run does this).");

interface WorkerProcess {
  readonly child: ChildProcess;
  readonly name: string;
  output: string;
}

const params = tinyCalibration({ episodes: 12, horizon: 10, episodesPerShard: 1 });
const ecn = { kind: "gmm" as const, data: standInGmmData() };

describe("BullMQ executor errors", () => {
  it.effect("asking for bullmq without a Redis URL fails with a sentence saying what to set", () =>
    Effect.gen(function* () {
      const settings = { ...defaultRolloutSettings(), executor: "bullmq" as const };
      const failure = yield* Effect.flip(
        acquireRolloutExecutor(settings, 4).pipe(Effect.provide(RolloutExecutor.live), Effect.provide(ArtifactStore.layerFs(tmpdir())), Effect.scoped)
      );
      expect(failure._tag).toBe("RolloutExecutorError");
      expect(failure.message).toMatch(/rollouts\.redis is not set; set it .*--set calibration\.rollouts\.redis=redis:\/\//);
    })
  );

  it("a Redis that cannot be reached fails the call with a sentence naming it, instead of hanging", async () => {
    const port = await freePort();
    const executor = new BullmqShardExecutor({ redis: `redis://127.0.0.1:${port}`, blobs: { put: async () => "", get: async () => new Uint8Array() }, connectTimeoutMs: 1500, onNotice: () => undefined });
    const setup = { location: { module: "none", exportName: "none" }, args: null, backend: "cpu" as const };
    const failure = await executor.run({ setupKey: "s", setup, policiesKey: "p", policies: [], jobs: [] }).then(
      () => undefined,
      (error: unknown) => error as Error
    );
    expect(failure?.message).toBe(`Rollouts failed: cannot reach Redis at redis://127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port}); start redis-server there or fix rollouts.redis.`);
    await executor.close();
  });
});

describe.skipIf(!hasRedis)("BullMQ rollouts with redis-server and worker processes", { timeout: Number(process.env["BULLMQ_TEST_TIMEOUT"] ?? 240_000) }, () => {
  const dir = mkdtempSync(join(tmpdir(), "bullmq-rollouts-"));
  const storeRoot = join(dir, "store");
  const store = new FsArtifactStore(storeRoot);
  const workers: WorkerProcess[] = [];
  const notices: string[] = [];
  let port = 0;
  let redis: ChildProcess | undefined;
  let url = "";
  let executor: BullmqShardExecutor;
  let local: OpenLoop;
  let remote: OpenLoop;
  let iteration = 0;

  const startRedis = async () => {
    redis = await startRedisServer(port);
  };
  const stopRedis = async () => {
    const r = redis!;
    r.kill("SIGTERM");
    await exitOf(r);
  };

  const startWorker = async (root = repo, lockSeconds = 1): Promise<WorkerProcess> => {
    const child = spawn(process.execPath, ["--import", "tsx", join(root, "pipelines/rollout-worker-main.ts"), "--redis", url, "--store", storeRoot, "--threads", "1", "--lock-seconds", String(lockSeconds)], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"]
    });
    const worker: WorkerProcess = { child, name: `${hostname()}-${child.pid}`, output: "" };
    child.stdout!.on("data", (d: Buffer) => (worker.output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (worker.output += d.toString()));
    workers.push(worker);
    await waitForOutput(child, /code version [0-9a-f]{16}/, "pnpm rollout-worker");
    return worker;
  };

  /** One iteration of both runs; their rows and weights must agree bit for bit. */
  const step = async (during?: () => Promise<void>) => {
    iteration++;
    const expected = await local.next();
    const [row] = await Promise.all([remote.next(), during?.()]);
    expect(row.iteration).toBe(iteration);
    expect(remote.driver.current().state.rows).toEqual(local.driver.current().state.rows);
    expect(serialize(remote.driver.current().state)).toEqual(serialize(local.driver.current().state));
    expect(row["calibration/reward"]).toBe(expected["calibration/reward"]);
    return row;
  };

  beforeAll(async () => {
    await tf.setBackend("cpu");
    port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    await startRedis();
    executor = new BullmqShardExecutor({
      redis: url,
      blobs: { put: (b) => store.putBlob(b), get: (h) => store.getBlob(h) },
      sweepMs: 200,
      onNotice: (m) => notices.push(m)
    });
    local = await openLoop("calsheq", params);
    // The run's executor is this test's BullMQ executor (its Layer swapped in, as a test may).
    remote = await openLoop("calsheq", params, { executor: Layer.succeed(RolloutExecutor, { acquire: () => Effect.succeed(executor) }) });
    await Promise.all([startWorker(), startWorker()]);
  });

  afterAll(async () => {
    if (process.env["DEBUG_BULLMQ_TEST"]) console.log(notices, workers.map((w) => w.output));
    await remote?.close();
    await local?.close();
    for (const w of workers) w.child.kill("SIGKILL");
    await Promise.all(workers.map((w) => exitOf(w.child)));
    if (redis !== undefined && redis.exitCode === null) await stopRedis();
    rmSync(dir, { recursive: true, force: true });
  });

  it("checks the Redis URL it is given", () => {
    expect(() => checkRedisUrl("localhost:6379")).toThrow(/not a Redis URL/);
    expect(() => checkRedisUrl("http://localhost:6379")).toThrow(/must start with redis:\/\//);
    expect(checkRedisUrl("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379");
  });

  it("gives the same rows and weights as rollouts in this thread, with a third worker started late", async () => {
    await step();
    const late = await startWorker();
    await step();
    await step();
    // The late worker took part: it logs one line per job it played.
    expect(late.output).toMatch(/job \S+ shard \d+/);
    expect(executor.stats.duplicatesDropped).toBe(0);
  });

  it("calibrate-exp4 through the CLI with rollouts.executor=bullmq writes the same checkpoints as with the local executor", async () => {
    const tiny = [
      "calibration.iterations=3",
      "calibration.checkpointEvery=1",
      "calibration.episodes=6",
      "calibration.episodesPerShard=2",
      "calibration.horizon=10",
      "calibration.ppo.hidden=[8]",
      "calibration.ppo.sgdPasses=1",
      "calibration.calsheq.hidden=[8]",
      "calibration.bo.every=2",
      "ecn.data.rows=600"
    ];
    const bullmq = ["calibration.rollouts.executor=bullmq", `calibration.rollouts.redis=${url}`];
    const localStore = join(dir, "local-store");
    // The pipeline's store is the one the workers share (they put results in its blobs).
    const runs = await Promise.all([
      cliRunner("pipelines/main.ts", storeRoot)(["run", "calibrate-exp4", "--until", "calibration-report", ...setFlags([...tiny, ...bullmq])]),
      cliRunner("pipelines/main.ts", localStore)(["run", "calibrate-exp4", "--until", "calibration-report", ...setFlags([...tiny, "calibration.rollouts.workers=2"])])
    ]);
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const checkpoints = (root: string) => {
      const found: Record<string, string> = {};
      for (const file of readdirSync(join(root, "actions"))) {
        const m = JSON.parse(readFileSync(join(root, "actions", file), "utf8")) as { stage: string; dataVersion: string; provenance: { iteration?: number; execution?: { rollouts?: { executor?: string } } } };
        if (m.stage === "train-calsheq" || m.stage === "train-bo") found[`${m.stage}@${m.provenance.iteration}`] = m.dataVersion;
      }
      return found;
    };
    const [remoteRun, localRun] = [checkpoints(storeRoot), checkpoints(localStore)];
    expect(Object.keys(remoteRun).sort()).toEqual(["train-bo@1", "train-bo@2", "train-bo@3", "train-calsheq@1", "train-calsheq@2", "train-calsheq@3"]);
    expect(remoteRun).toEqual(localRun);
  });

  it("survives a worker SIGKILLed in the middle of an iteration: its job is re-run, counted once", async () => {
    const queue = new Queue("otc-rollouts", { connection: { url, maxRetriesPerRequest: null } });
    const client = new Redis(url);
    let killed: WorkerProcess | undefined;
    try {
      await step(async () => {
        // Kill the worker of the first job seen active (it has not answered yet): BullMQ keeps the
        // name of the worker that holds a job in the job's "pb" field.
        const deadline = Date.now() + 20_000;
        while (killed === undefined) {
          if (Date.now() > deadline) throw new Error("no job was seen active on a worker within 20 s");
          for (const job of await queue.getActive()) {
            const holder = await client.hget(`bull:otc-rollouts:${job.id}`, "pb");
            const victim = workers.find((w) => w.name === holder && w.child.exitCode === null && w.child.signalCode === null);
            if (victim !== undefined) {
              victim.child.kill("SIGKILL");
              killed = victim;
              break;
            }
          }
          if (killed === undefined) await new Promise((r) => setTimeout(r, 2));
        }
      });
    } finally {
      await queue.close();
      client.disconnect();
    }
    expect(await exitOf(killed!.child)).toBe(null);
    expect(killed!.child.signalCode).toBe("SIGKILL");
    // Equal rows above mean every episode counted exactly once; the dead worker's job ran again elsewhere.
    expect(executor.stats.duplicatesDropped).toBe(0);
  });

  it("carries on after Redis is restarted between iterations", async () => {
    await stopRedis();
    await startRedis();
    await step();
    await step();
  });

  it("re-issues a job that outlives the timeout (its worker frozen) and completes with the same batches", async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGTERM");
    await Promise.all(workers.map((w) => exitOf(w.child)));
    // A long lock, so only the coordinator's timeout (1.5 s) can recover the frozen worker's job.
    const slow = await startWorker(repo, 60);
    const impatient = new BullmqShardExecutor({
      redis: url,
      blobs: { put: (b) => store.putBlob(b), get: (h) => store.getBlob(h) },
      sweepMs: 100,
      jobTimeoutMs: 1500,
      // The healthy worker started below may take several timeouts to boot on a loaded machine.
      maxReissues: 40,
      onNotice: (m) => notices.push(m)
    });
    const runnerWith = (executor?: BullmqShardExecutor) =>
      new RolloutRunner({ factory: otcRolloutEnv, location: otcRolloutLocation, args: { config: { ...defaultGameConfig(experimentPopulation(4)), horizon: 10 }, ecn }, episodes: 4, episodesPerShard: 1, workers: 0, backend: "cpu", ...(executor ? { executor } : {}) });
    const [inThread, remote] = [runnerWith(), runnerWith(impatient)];
    const agent = new PpoAgent(inThread.classes[0]!.obsDim, inThread.classes[0]!.action, tinyOtcPpo(16), Random.fromSeed(2));
    const queue = new Queue("otc-rollouts", { connection: { url, maxRetriesPerRequest: null } });
    const client = new Redis(url);
    try {
      const expected = await inThread.collect([agent], Random.fromSeed(11), tinyOtcPpo(16));
      const collecting = remote.collect([agent], Random.fromSeed(11), tinyOtcPpo(16));
      // Freeze the slow worker while it holds a job, then give the queue a healthy worker.
      const deadline = Date.now() + 20_000;
      let frozen = false;
      while (!frozen) {
        if (Date.now() > deadline) throw new Error("the slow worker never held a job");
        for (const job of await queue.getActive()) if ((await client.hget(`bull:otc-rollouts:${job.id}`, "pb")) === slow.name) frozen = slow.child.kill("SIGSTOP");
        if (!frozen) await new Promise((r) => setTimeout(r, 2));
      }
      await startWorker();
      const got = await collecting;
      expect(got.batches).toEqual(expected.batches);
      expect(impatient.stats.reissued).toBeGreaterThanOrEqual(1);
      expect(notices.some((n) => /has taken more than 2 s; re-issuing shard \d/.test(n))).toBe(true);
    } finally {
      slow.child.kill("SIGCONT");
      await remote.close();
      await inThread.close();
      agent.dispose();
      await queue.close();
      client.disconnect();
    }
  });

  it("a worker on a stale code version refuses its job with an error naming both versions, and stops", async () => {
    // A copy of the checkout whose core/ differs by one comment: another code version.
    const stale = join(dir, "stale-checkout");
    mkdirSync(join(stale, "pipelines"), { recursive: true });
    cpSync(join(repo, "core"), join(stale, "core"), { recursive: true });
    cpSync(join(repo, "pipelines/rollout-worker-main.ts"), join(stale, "pipelines/rollout-worker-main.ts"));
    cpSync(join(repo, "package.json"), join(stale, "package.json"));
    cpSync(join(repo, "pnpm-lock.yaml"), join(stale, "pnpm-lock.yaml"));
    symlinkSync(join(repo, "node_modules"), join(stale, "node_modules"), "dir");
    appendFileSync(join(stale, "core/rl/ppo.ts"), "\n// an older copy\n");
    // Only the stale worker is left to take the next job.
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGTERM");
    await Promise.all(workers.map((w) => exitOf(w.child)));
    // Copies left by the timeout test's closed executor must not be what the stale worker meets.
    const queue = new Queue("otc-rollouts", { connection: { url, maxRetriesPerRequest: null } });
    await queue.obliterate({ force: true });
    await queue.close();
    const refusalsBefore = executor.stats.refusals;
    const staleWorker = await startWorker(stale);
    await step(async () => {
      expect(await exitOf(staleWorker.child)).toBe(3);
      // With the stale worker gone, a current one finishes the iteration.
      await startWorker();
    });
    const versions = [...staleWorker.output.matchAll(/code version ([0-9a-f]{16})/g)].map((m) => m[1]);
    expect(new Set(versions).size).toBe(2);
    expect(staleWorker.output).toMatch(/code version mismatch: job \S+ comes from a coordinator on code version [0-9a-f]{16} but worker \S+ runs code version [0-9a-f]{16}/);
    expect(executor.stats.refusals).toBeGreaterThan(refusalsBefore);
    expect(notices.some((n) => n.includes("refused"))).toBe(true);
  });
});
