/**
 * PPO update throughput on the paper's batch shape (paper section 5): 10 agents x T = 100 steps x
 * B = 60 episodes = 60 000 samples of one class, [256, 256] tanh policy and value networks,
 * minibatches of 128, on each network backend side by side in one run: tfjs (wasm) and
 * onnxruntime with 1 and 2 intra-op threads. Reports samples x SGD passes per second and the
 * effective GFLOP/s of the update, counting forward + backward matmul FLOPs as 3 x the forward
 * ones (2 x MACs per row), and, as each backend's own reference measured next to it, a bare
 * 4096x256 @ 256x256 matmul's GFLOP/s. Times are CPU seconds of this process (the machine is
 * shared; wall-clock figures are printed too).
 *
 * Then one iteration of the paper preset of calibrate-exp4 (B = 60 episodes of T = 100 on the
 * experiment-4 population, rollouts in this thread, then 30 SGD passes over minibatches of 128 on
 * the LP batch) on onnxruntime, its wall time split into rollouts and update; the tfjs update of
 * that iteration is projected from tfjs's measured time per SGD step (30 passes there take minutes).
 *
 * Order matters on one process: once tfjs has run its wasm kernels, the onnxruntime update in the
 * same process costs about a fifth more CPU time than in a fresh one (measured: 44-46 against
 * 52-58 effective GFLOP/s per CPU second, wall time unchanged), so the onnxruntime runs and the
 * paper iteration on onnxruntime come first, and the synthetic batch is drawn by the first
 * configuration's own agent.
 *
 * Env vars: RL_BENCH_PASSES (default 2; the KL pass over the whole batch after the update counts
 * once, so fewer passes weigh it more than the paper's 30 do), RL_BENCH_MINIBATCHES (default "128"), RL_BENCH_CONFIGS
 * (default "tfjs,onnxruntime-1,onnxruntime-2"), RL_BENCH_ITERATION (default 1; 0 skips the
 * paper iteration), RL_BENCH_ITERATION_PASSES (default 30).
 * Run: pnpm bench rl
 */
import { experimentPopulation } from "../../core/calibration/experiments.ts";
import * as tf from "@tensorflow/tfjs";
import { cpus } from "node:os";
import { defaultGameConfig } from "../../core/otc/config.ts";
import { otcRolloutEnv, otcRolloutLocation } from "../../core/otc/rollout-env.ts";
import { Random } from "../../core/random/philox.ts";
import { initTfBackend } from "../../core/rl/backend.ts";
import type { NetworkComputeParams } from "../../core/rl/networks.ts";
import { GraphBuilder } from "../../core/rl/onnx-graph.ts";
import { OnnxSession } from "../../core/rl/onnx-runtime.ts";
import { PpoAgent, defaultPpoParams, ppoUpdate, type PpoBatch, type PpoParams } from "../../core/rl/ppo.ts";
import { RolloutRunner } from "../../core/rl/rollout-runner.ts";
import { standInGmmData } from "../otc/fixtures.ts";

const agentsPerEpisode = 10;
const steps = 100;
const episodes = 60;
const obsDim = 24; // about the LP observation (state, ECN levels, hedge costs, type)
const actionDim = 3; // eps_spread, eps_skew, eps_hedge
const samples = agentsPerEpisode * steps * episodes;
const passes = Number(process.env.RL_BENCH_PASSES ?? 2);
const minibatchSizes = (process.env.RL_BENCH_MINIBATCHES ?? "128").split(",").map(Number);
const requestedConfigs = (process.env.RL_BENCH_CONFIGS ?? "onnxruntime-1,onnxruntime-2,tfjs").split(",");
// onnxruntime first (see the module note); the order among each backend's configurations is kept.
const configNames = [...requestedConfigs.filter((c) => c !== "tfjs"), ...requestedConfigs.filter((c) => c === "tfjs")];
const iterationPasses = Number(process.env.RL_BENCH_ITERATION_PASSES ?? 30);

const tfBackend = await initTfBackend("wasm");

const computeOf = (name: string): NetworkComputeParams =>
  name === "tfjs" ? { backend: "tfjs", intraOpThreads: 1 } : { backend: "onnxruntime", intraOpThreads: Number(name.split("-")[1] ?? 1) };

/** Seconds of CPU time this process used (user + system): robust to other jobs on a shared machine. */
const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const rngForMatmul = Random.fromSeed(7);
const dataA = Float32Array.from({ length: 4096 * 256 }, () => rngForMatmul.normal());
const dataB = Float32Array.from({ length: 256 * 256 }, () => rngForMatmul.normal());

/** GFLOP/s (per CPU second and per wall second) of `once`, a 4096x256 @ 256x256 matmul. */
const timeMatmul = (once: () => void): { cpu: number; wall: number } => {
  for (let k = 0; k < 3; k++) once();
  const reps = 20;
  const cpu0 = cpuSeconds();
  const wall0 = performance.now();
  for (let k = 0; k < reps; k++) once();
  const flops = 2 * 4096 * 256 * 256 * reps;
  return { cpu: flops / (cpuSeconds() - cpu0) / 1e9, wall: flops / ((performance.now() - wall0) / 1000) / 1e9 };
};

const bareMatmul = (compute: NetworkComputeParams): { cpu: number; wall: number } => {
  if (compute.backend === "tfjs") {
    const a = tf.tensor2d(dataA, [4096, 256]);
    const b = tf.tensor2d(dataB, [256, 256]);
    const result = timeMatmul(() => {
      const c = tf.matMul(a, b);
      c.dataSync();
      c.dispose();
    });
    a.dispose();
    b.dispose();
    return result;
  }
  const g = new GraphBuilder();
  g.output("c", g.matmul(g.input("a", [4096, 256]), g.input("b", [256, 256])), [4096, 256]);
  const session = new OnnxSession(g.encode("matmul"), ["c"], { intraOpThreads: compute.intraOpThreads });
  const result = timeMatmul(() => void session.run({ a: [dataA, [4096, 256]], b: [dataB, [256, 256]] }));
  session.dispose();
  return result;
};

const paramsFor = (compute: NetworkComputeParams, minibatchSize: number, sgdPasses: number): PpoParams => ({
  ...defaultPpoParams,
  sgdPasses,
  minibatchSize,
  network: { ...defaultPpoParams.network, compute }
});

const continuous = { kind: "continuous" as const, dim: actionDim, low: new Float32Array(actionDim).fill(-1), high: new Float32Array(actionDim).fill(1) };

/** A batch of the paper's shape, from the initial policy (the same draw on every backend): the same batch for every run. */
const syntheticBatch = (rng: Random): PpoBatch => {
  const agent = new PpoAgent(obsDim, continuous, paramsFor(computeOf(configNames[0] ?? "tfjs"), 128, 1), Random.fromSeed(11).split("agent"));
  const obs = Float32Array.from({ length: samples * obsDim }, () => rng.normal());
  const evaluated = agent.net.evaluate(obs, samples);
  const paramDim = 2 * actionDim;
  const distParams = new Float32Array(samples * paramDim);
  const values = new Float32Array(samples);
  for (let i = 0; i < samples; i++) {
    for (let k = 0; k < paramDim; k++) distParams[i * paramDim + k] = evaluated[i * (paramDim + 1) + k]!;
    values[i] = evaluated[i * (paramDim + 1) + paramDim]!;
  }
  const logProbs = new Float32Array(samples);
  const sampled = new Float32Array(samples * actionDim);
  agent.net.policy.sample(distParams, samples, rng, sampled, logProbs);
  const advantages = Float32Array.from({ length: samples }, () => rng.normal());
  const returns = Float32Array.from({ length: samples }, (_, i) => values[i]! + advantages[i]!);
  agent.dispose();
  return {
    size: samples, obsDim, actionDim, paramDim, obs, actions: sampled, logProbs, distParams, values,
    rewards: new Float32Array(samples), dones: new Float32Array(samples), advantages, returns
  };
};

const batch = syntheticBatch(Random.fromSeed(12));
const round = (x: number, digits = 2) => Number(x.toFixed(digits));

const runs: Record<string, number | string>[] = [];
let flopsPerSamplePass = 0;
const msPerStep: Record<string, number> = {};
/** One paper-preset iteration of calibrate-exp4's LP training, rollouts then update. */
const paperIteration = async (compute: NetworkComputeParams, updatePasses: number) => {
  const args = { config: { ...defaultGameConfig(experimentPopulation(4)), horizon: 100 }, ecn: { kind: "gmm" as const, data: standInGmmData() } };
  const params: PpoParams = { ...paramsFor(compute, 128, updatePasses), learningRate: 1e-4 };
  const runner = new RolloutRunner({ factory: otcRolloutEnv, location: otcRolloutLocation, args, episodes, episodesPerShard: 5, workers: 0, backend: "wasm" });
  const agent = new PpoAgent(runner.classes[0]!.obsDim, runner.classes[0]!.action, params, Random.fromSeed(1));
  await runner.collect([agent], Random.fromSeed(0), params); // warm-up
  const r0 = performance.now();
  const rc0 = cpuSeconds();
  const result = await runner.collect([agent], Random.fromSeed(1), params);
  const rolloutSeconds = (performance.now() - r0) / 1000;
  const rolloutCpuSeconds = cpuSeconds() - rc0;
  const lpBatch = result.batches[0]!;
  let updateSeconds = 0;
  let updateCpuSeconds = 0;
  let sgdSteps = 0;
  if (updatePasses > 0) {
    const u0 = performance.now();
    const uc0 = cpuSeconds();
    sgdSteps = ppoUpdate(agent, lpBatch, params, Random.fromSeed(2))["charts/sgd_steps"];
    updateSeconds = (performance.now() - u0) / 1000;
    updateCpuSeconds = cpuSeconds() - uc0;
  }
  await runner.close();
  agent.dispose();
  return {
    samples: lpBatch.size,
    rolloutSeconds: round(rolloutSeconds),
    rolloutCpuSeconds: round(rolloutCpuSeconds),
    updateSeconds: round(updateSeconds),
    updateCpuSeconds: round(updateCpuSeconds),
    sgdSteps
  };
};

const measureConfigs = (names: readonly string[]) => {
for (const minibatchSize of minibatchSizes) {
  for (const name of names) {
    const compute = computeOf(name);
    const params = paramsFor(compute, minibatchSize, passes);
    const agent = new PpoAgent(obsDim, continuous, params, Random.fromSeed(11).split("agent"));
    // Warm-up: a few minibatch steps compile the kernels and size the memory pools.
    ppoUpdate(agent, { ...batch, size: 4 * minibatchSize }, { ...params, sgdPasses: 1 }, Random.fromSeed(1));
    // The reference is measured next to every run, so both see the same machine load.
    const bare = bareMatmul(compute);
    const macsPerRow = agent.net.policy.network.macsPerRow() + agent.net.value.macsPerRow();
    const cpu0 = cpuSeconds();
    const wall0 = performance.now();
    const metrics = ppoUpdate(agent, batch, params, Random.fromSeed(2));
    const cpu = cpuSeconds() - cpu0;
    const wall = (performance.now() - wall0) / 1000;
    flopsPerSamplePass = 3 * 2 * macsPerRow;
    const flops = flopsPerSamplePass * samples * passes;
    msPerStep[`${name}/${minibatchSize}`] = (1000 * wall) / metrics["charts/sgd_steps"];
    runs.push({
      config: name,
      minibatchSize,
      sgdSteps: metrics["charts/sgd_steps"],
      wallSeconds: round(wall, 3),
      cpuSeconds: round(cpu, 3),
      samplePassesPerCpuSecond: Math.round((samples * passes) / cpu),
      samplePassesPerWallSecond: Math.round((samples * passes) / wall),
      effectiveGflopsPerCpuSecond: round(flops / cpu / 1e9),
      effectiveGflopsPerWallSecond: round(flops / wall / 1e9),
      bareMatmulGflopsPerCpuSecond: round(bare.cpu),
      bareMatmulGflopsPerWallSecond: round(bare.wall),
      ratioToOwnBareMatmul: round(flops / cpu / 1e9 / bare.cpu, 3),
      msPerSgdStepWall: round((1000 * wall) / metrics["charts/sgd_steps"]),
      msPerSgdStepCpu: round((1000 * cpu) / metrics["charts/sgd_steps"])
    });
    agent.dispose();
  }
}
};

measureConfigs(configNames.filter((c) => c !== "tfjs"));
const paperIterationOnnx = process.env.RL_BENCH_ITERATION !== "0" ? await paperIteration({ backend: "onnxruntime", intraOpThreads: 1 }, iterationPasses) : undefined;
measureConfigs(configNames.filter((c) => c === "tfjs"));

const speedups: Record<string, number> = {};
for (const mb of minibatchSizes) {
  const base = runs.find((r) => r.config === "tfjs" && r.minibatchSize === mb);
  for (const r of runs.filter((x) => x.minibatchSize === mb && x.config !== "tfjs")) {
    if (base === undefined) continue;
    speedups[`${r.config}/${mb} vs tfjs, wall`] = round((base.wallSeconds as number) / (r.wallSeconds as number));
    speedups[`${r.config}/${mb} vs tfjs, cpu`] = round((base.cpuSeconds as number) / (r.cpuSeconds as number));
  }
}

let iteration: Record<string, unknown> | undefined;
if (paperIterationOnnx !== undefined) {
  const onnx = paperIterationOnnx;
  const tfjsRollouts = await paperIteration({ backend: "tfjs", intraOpThreads: 1 }, 0);
  const tfjsStepMs = msPerStep["tfjs/128"];
  const tfjsUpdateProjected = tfjsStepMs === undefined ? null : round((tfjsStepMs * onnx.sgdSteps) / 1000);
  iteration = {
    preset: "calibrate-exp4 paper: B=60, T=100, [256,256], 30 passes x minibatch 128, rollouts in this thread",
    onnxruntime: { ...onnx, totalSeconds: round(onnx.rolloutSeconds + onnx.updateSeconds), totalCpuSeconds: round(onnx.rolloutCpuSeconds + onnx.updateCpuSeconds) },
    tfjs: {
      rolloutSeconds: tfjsRollouts.rolloutSeconds,
      rolloutCpuSeconds: tfjsRollouts.rolloutCpuSeconds,
      updateSecondsProjected: tfjsUpdateProjected,
      totalSecondsProjected: tfjsUpdateProjected === null ? null : round(tfjsRollouts.rolloutSeconds + tfjsUpdateProjected)
    }
  };
}

console.log(
  JSON.stringify(
    {
      benchmark: "rl.ppo-update",
      tfjsBackend: tfBackend,
      cores: cpus().length,
      samples,
      passes,
      network: "[256,256] tanh policy + separate [256,256] tanh value",
      obsDim,
      actionDim,
      flopsPerSamplePass,
      runs,
      speedups,
      paperIteration: iteration
    },
    null,
    1
  )
);
