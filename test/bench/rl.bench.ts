/**
 * PPO update throughput on the paper's batch shape (SPEC section 3): 10 agents x T = 100 steps x
 * B = 60 episodes = 60 000 samples of one class, [256, 256] tanh policy and value networks, on the
 * wasm backend. Reports samples x SGD passes per second and the effective GFLOP/s of the update,
 * counting forward + backward matmul FLOPs as 3 x the forward ones (2 x MACs per row), and, as the
 * reference measured in the same run, a bare 4096x256 @ 256x256 matmul's GFLOP/s on the same
 * backend. Times are CPU seconds of this process (the machine is shared; wall-clock figures are
 * printed too). Env vars: RL_BENCH_PASSES (default 2; PPO computes its diagnostics on the last pass only), RL_BENCH_MINIBATCHES (default "128,1024,4096"),
 * RL_BENCH_BACKEND (default wasm).
 * Run: node --import tsx test/bench/rl.bench.ts
 */
import * as tf from "@tensorflow/tfjs";
import { Random } from "../../core/random/philox.ts";
import { initTfBackend, type TfBackendName } from "../../core/rl/backend.ts";
import { PpoAgent, defaultPpoParams, ppoUpdate, type PpoBatch, type PpoParams } from "../../core/rl/ppo.ts";

const agentsPerEpisode = 10;
const steps = 100;
const episodes = 60;
const obsDim = 24; // about the LP observation of SPEC 2.5 (state, ECN levels, hedge costs, type)
const actionDim = 3; // eps_spread, eps_skew, eps_hedge
const samples = agentsPerEpisode * steps * episodes;
const passes = Number(process.env.RL_BENCH_PASSES ?? 2);
const minibatchSizes = (process.env.RL_BENCH_MINIBATCHES ?? "128,1024,4096").split(",").map(Number);

const backend = await initTfBackend((process.env.RL_BENCH_BACKEND as TfBackendName | undefined) ?? "wasm");

/** Seconds of CPU time this process used (user + system): robust to other jobs on a shared machine. */
const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const rngForMatmul = Random.fromSeed(7);
const matA = tf.tensor2d(Float32Array.from({ length: 4096 * 256 }, () => rngForMatmul.normal()), [4096, 256]);
const matB = tf.tensor2d(Float32Array.from({ length: 256 * 256 }, () => rngForMatmul.normal()), [256, 256]);

/** GFLOP/s of a bare 4096x256 @ 256x256 matmul (per CPU second and per wall second). */
const bareMatmulGflops = (): { cpu: number; wall: number } => {
  const once = () => {
    // Not returned from a tidy: tidy would walk the million-entry result array looking for tensors.
    const c = tf.matMul(matA, matB);
    c.dataSync();
    c.dispose();
  };
  for (let k = 0; k < 3; k++) once();
  const reps = 20;
  const cpu0 = cpuSeconds();
  const wall0 = performance.now();
  for (let k = 0; k < reps; k++) once();
  const flops = 2 * 4096 * 256 * 256 * reps;
  return { cpu: flops / (cpuSeconds() - cpu0) / 1e9, wall: flops / ((performance.now() - wall0) / 1000) / 1e9 };
};

const syntheticBatch = (agent: PpoAgent, rng: Random): PpoBatch => {
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
  return {
    size: samples, obsDim, actionDim, paramDim, obs, actions: sampled, logProbs, distParams, values,
    rewards: new Float32Array(samples), dones: new Float32Array(samples), advantages, returns
  };
};

const runs: Record<string, number>[] = [];
const bareSamples: { cpu: number; wall: number }[] = [];
let flopsPerSamplePass = 0;
for (const minibatchSize of minibatchSizes) {
  const params: PpoParams = { ...defaultPpoParams, sgdPasses: passes, minibatchSize };
  const rng = Random.fromSeed(11);
  const spec = { kind: "continuous" as const, dim: actionDim, low: new Float32Array(actionDim).fill(-1), high: new Float32Array(actionDim).fill(1) };
  const agent = new PpoAgent(obsDim, spec, params, rng.split("agent"));
  const batch = syntheticBatch(agent, rng.split("batch"));
  // Warm-up: a few minibatch steps compile the kernels and size the memory pools.
  ppoUpdate(agent, { ...batch, size: 4 * minibatchSize }, { ...params, sgdPasses: 1 }, rng.split("warmup"));
  // The reference is measured next to every run, so both see the same machine load.
  const bare = bareMatmulGflops();
  bareSamples.push(bare);
  const macsPerRow = agent.net.policy.network.macsPerRow() + agent.net.value.macsPerRow();
  const cpu0 = cpuSeconds();
  const wall0 = performance.now();
  const metrics = ppoUpdate(agent, batch, params, rng.split("update"));
  const cpu = cpuSeconds() - cpu0;
  const wall = (performance.now() - wall0) / 1000;
  flopsPerSamplePass = 3 * 2 * macsPerRow;
  const flops = flopsPerSamplePass * samples * passes;
  runs.push({
    minibatchSize,
    sgdSteps: metrics["charts/sgd_steps"],
    wallSeconds: Number(wall.toFixed(3)),
    cpuSeconds: Number(cpu.toFixed(3)),
    samplePassesPerCpuSecond: Math.round((samples * passes) / cpu),
    samplePassesPerWallSecond: Math.round((samples * passes) / wall),
    effectiveGflopsPerCpuSecond: Number((flops / cpu / 1e9).toFixed(2)),
    effectiveGflopsPerWallSecond: Number((flops / wall / 1e9).toFixed(2)),
    ratioToBareMatmul: Number((flops / cpu / 1e9 / bare.cpu).toFixed(3)),
    msPerSgdStepCpu: Number(((1000 * cpu) / metrics["charts/sgd_steps"]).toFixed(2))
  });
  agent.dispose();
}
const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(
  JSON.stringify({
    benchmark: "rl.ppo-update",
    backend,
    samples,
    passes,
    network: "[256,256] tanh policy + separate [256,256] tanh value",
    obsDim,
    actionDim,
    flopsPerSamplePass,
    bareMatmul4096x256x256GflopsPerCpuSecond: Number(meanOf(bareSamples.map((b) => b.cpu)).toFixed(2)),
    bareMatmul4096x256x256GflopsPerWallSecond: Number(meanOf(bareSamples.map((b) => b.wall)).toFixed(2)),
    runs
  })
);
