/**
 * Rollout throughput with policy inference (paper section 5; with 1 and 2
 * workers): env steps per second (one episode advancing one step = 1) of `RolloutRunner` on the
 * experiment-4 population, B = 60 episodes of T = 100 in shards of 5, the LP policy on the wasm
 * backend with the paper's 2 x 256 network (and the quick preset's 2 x 64), with the rollouts in
 * the main thread (workers 0) and over 1 and 2 worker threads, measured side by side in one run.
 * Also: the per-call overhead of the worker path (wall time of a call minus its shards' compute
 * spread evenly over the workers, per call and per job) and the process CPU seconds per env step. On a 2-core machine,
 * 2 workers can at best halve the wall time of the main-thread run. Prints one JSON object.
 */
import { experimentPopulation } from "../../core/calibration/experiments.ts";
import { cpus } from "node:os";
import { defaultGameConfig } from "../../core/otc/config.ts";
import { otcRolloutEnv, otcRolloutLocation } from "../../core/otc/rollout-env.ts";
import { Random } from "../../core/random/philox.ts";
import { initTfBackend } from "../../core/rl/backend.ts";
import { defaultPpoParams, PpoAgent, type PpoParams } from "../../core/rl/ppo.ts";
import { RolloutRunner } from "../../core/rl/rollout-runner.ts";
import { standInGmmData } from "../otc/fixtures.ts";

const backend = await initTfBackend("wasm");
const episodes = Number(process.env.ROLLOUT_BENCH_EPISODES ?? 60);
const episodesPerShard = 5;
const calls = Number(process.env.ROLLOUT_BENCH_CALLS ?? 4);
const args = { config: { ...defaultGameConfig(experimentPopulation(4)), horizon: 100 }, ecn: { kind: "gmm" as const, data: standInGmmData() } };

const ppoWith = (hidden: number[]): PpoParams => ({
  ...defaultPpoParams,
  network: {
    ...defaultPpoParams.network,
    policy: { ...defaultPpoParams.network.policy, hiddenWidths: hidden },
    value: { ...defaultPpoParams.network.value, hiddenWidths: hidden }
  }
});

const measure = async (hidden: number[], workers: number) => {
  const ppo = ppoWith(hidden);
  const runner = new RolloutRunner({ factory: otcRolloutEnv, location: otcRolloutLocation, args, episodes, episodesPerShard, workers, backend: "wasm" });
  const agent = new PpoAgent(runner.classes[0]!.obsDim, runner.classes[0]!.action, ppo, Random.fromSeed(1));
  const startup = performance.now();
  await runner.collect([agent], Random.fromSeed(0), ppo); // warm-up: threads, envs, wasm
  const warmupMs = performance.now() - startup;
  let wall = 0;
  let overhead = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 1; i <= calls; i++) {
    const t0 = performance.now();
    const result = await runner.collect([agent], Random.fromSeed(i), ppo);
    const ms = performance.now() - t0;
    wall += ms;
    // The least a perfectly balanced call could take: the shards' compute spread evenly over the
    // workers, and never less than the longest shard (a lower bound, whatever the assignment).
    const computeSum = result.shardMs.reduce((a, s) => a + s, 0);
    overhead += ms - Math.max(computeSum / Math.max(1, workers), ...result.shardMs);
  }
  const cpu = process.cpuUsage(cpu0);
  await runner.close();
  agent.dispose();
  const steps = calls * episodes * 100;
  const shards = Math.ceil(episodes / episodesPerShard);
  return {
    workers,
    envStepsPerSecond: Math.round(steps / (wall / 1000)),
    msPerCall: Math.round(wall / calls),
    overheadMsPerCall: Math.round(overhead / calls),
    overheadMsPerJob: workers === 0 ? 0 : Number((overhead / calls / shards).toFixed(2)),
    cpuMicrosecondsPerEnvStep: Math.round((cpu.user + cpu.system) / steps),
    warmupMs: Math.round(warmupMs)
  };
};

const results: Record<string, unknown> = {};
for (const hidden of [[64, 64], [256, 256]]) {
  const rows = [];
  for (const workers of [0, 1, 2]) rows.push(await measure(hidden, workers));
  const base = rows[0]!.envStepsPerSecond;
  results[`hidden ${hidden.join("x")}`] = rows.map((r) => ({ ...r, speedupVsMainThread: Number((r.envStepsPerSecond / base).toFixed(2)) }));
}
console.log(JSON.stringify({ bench: "rollouts", backend, cores: cpus().length, episodes, episodesPerShard, horizon: 100, calls, results }, null, 2));
