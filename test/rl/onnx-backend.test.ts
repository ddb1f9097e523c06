/**
 * The onnxruntime network backend against the tfjs reference, on the same networks (both draw
 * their initial weights from the same Random) and the same batch (the minibatch shuffles come from
 * the same Random on both): the inference outputs, one whole PPO update's metrics and the updated
 * weights agree within float32 tolerance; the same seed and settings (thread count included) give
 * bit-identical results; an agent's state moves between the backends; rollouts on worker threads
 * (each building its own onnxruntime networks from the weights) equal rollouts in the main thread;
 * a backend that cannot load fails with a sentence naming the fallback.
 */
import { experimentPopulation } from "../../core/calibration/experiments.ts";
import { beforeAll, describe, expect, it } from "vitest";
import { Random } from "../../core/random/philox.ts";
import { initTfBackend } from "../../core/rl/backend.ts";
import type { NetworkComputeParams, WeightMap } from "../../core/rl/networks.ts";
import { OnnxRuntimeLoadError } from "../../core/rl/onnx-runtime.ts";
import { PpoAgent, defaultPpoParams, ppoUpdate, type PpoBatch, type PpoMetrics, type PpoParams } from "../../core/rl/ppo.ts";
import { collectRollouts } from "../../core/rl/rollout.ts";
import type { ActionSpec, MultiClassVecEnv } from "../../core/rl/vec-env.ts";
import { defaultGameConfig } from "../../core/otc/config.ts";
import { otcRolloutEnv, otcRolloutLocation, type OtcRolloutArgs } from "../../core/otc/rollout-env.ts";
import { RolloutRunner } from "../../core/rl/rollout-runner.ts";
import { standInGmmData } from "../otc/fixtures.ts";
import { CategoricalBanditEnv, ContextualBanditEnv, tinyOtcPpo } from "./toy-envs.ts";

beforeAll(async () => {
  await initTfBackend("wasm");
});

const paramsOn = (compute: NetworkComputeParams, overrides: Partial<PpoParams> = {}): PpoParams => ({
  ...defaultPpoParams,
  learningRate: 1e-3,
  sgdPasses: 3,
  minibatchSize: 64,
  ...overrides,
  network: {
    ...defaultPpoParams.network,
    policy: { ...defaultPpoParams.network.policy, hiddenWidths: [32, 32] },
    value: { ...defaultPpoParams.network.value, hiddenWidths: [32, 32] },
    compute
  }
});
const tfjs: NetworkComputeParams = { backend: "tfjs", intraOpThreads: 1 };
const onnx = (threads = 1): NetworkComputeParams => ({ backend: "onnxruntime", intraOpThreads: threads });

const cases: [string, () => MultiClassVecEnv, number][] = [
  ["Gaussian", () => new ContextualBanditEnv(300, (t) => 0.5 * t), 1],
  ["categorical", () => new CategoricalBanditEnv(300, 4), 4]
];

/** One rollout batch (sampled with a tfjs agent, so both backends train on the same data). */
const batchOf = (env: MultiClassVecEnv, obsDim: number, params: PpoParams): PpoBatch => {
  const sampler = new PpoAgent(obsDim, env.classes[0]!.action, { ...params, network: { ...params.network, compute: tfjs } }, Random.fromSeed(5).split("agent"));
  const [batch] = collectRollouts(env, [sampler], Random.fromSeed(6), params);
  sampler.dispose();
  return batch!;
};

const trainOnce = (action: ActionSpec, obsDim: number, batch: PpoBatch, params: PpoParams, updates = 2): { metrics: PpoMetrics[]; weights: WeightMap; agent: PpoAgent } => {
  const agent = new PpoAgent(obsDim, action, params, Random.fromSeed(5).split("agent"));
  const rng = Random.fromSeed(8);
  const metrics = Array.from({ length: updates }, (_, k) => ppoUpdate(agent, batch, params, rng.split(k)));
  return { metrics, weights: agent.net.getWeights(), agent };
};

const maxAbsDiff = (a: WeightMap, b: WeightMap): number => {
  let worst = 0;
  for (const [name, entry] of Object.entries(a)) {
    const other = b[name]!.data;
    for (let i = 0; i < entry.data.length; i++) worst = Math.max(worst, Math.abs(entry.data[i]! - other[i]!));
  }
  return worst;
};

const bitEqual = (a: WeightMap, b: WeightMap): boolean =>
  Object.keys(a).every((name) => {
    const x = new Uint32Array(a[name]!.data.buffer, a[name]!.data.byteOffset, a[name]!.data.length);
    const y = new Uint32Array(b[name]!.data.buffer, b[name]!.data.byteOffset, b[name]!.data.length);
    return x.length === y.length && x.every((v, i) => v === y[i]);
  });

describe.each(cases)("onnxruntime vs tfjs, %s policy", (_name, makeEnv, obsDim) => {
  it("inference gives the same distribution parameters and values", () => {
    const env = makeEnv();
    const action = env.classes[0]!.action;
    const a = new PpoAgent(obsDim, action, paramsOn(tfjs), Random.fromSeed(3));
    const b = new PpoAgent(obsDim, action, paramsOn(onnx()), Random.fromSeed(3));
    expect(b.net.backend).toBe("onnxruntime");
    const rng = Random.fromSeed(4);
    const obs = Float32Array.from({ length: 200 * obsDim }, () => rng.normal());
    const x = a.net.evaluate(obs, 200);
    const y = b.net.evaluate(obs, 200);
    expect(y.length).toBe(x.length);
    for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(x[i]!)));
    a.dispose();
    b.dispose();
  });

  it("a PPO update gives the same metrics and weights within float32 tolerance", () => {
    const env = makeEnv();
    const action = env.classes[0]!.action;
    const batch = batchOf(env, obsDim, paramsOn(tfjs));
    const ref = trainOnce(action, obsDim, batch, paramsOn(tfjs));
    const got = trainOnce(action, obsDim, batch, paramsOn(onnx()));
    for (const [k, m] of ref.metrics.entries()) {
      for (const key of Object.keys(m) as (keyof PpoMetrics)[]) {
        expect(Math.abs(got.metrics[k]![key] - m[key]), key).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(m[key])));
      }
    }
    expect(got.agent.klCoeff).toBe(ref.agent.klCoeff);
    // 2 updates x 3 passes x 5 steps of Adam, each moving a weight by about the learning rate
    // (1e-3): float32 rounding differences stay far below one step.
    const initial = new PpoAgent(obsDim, action, paramsOn(tfjs), Random.fromSeed(5).split("agent"));
    expect(maxAbsDiff(ref.weights, initial.net.getWeights())).toBeGreaterThan(5e-3);
    initial.dispose();
    expect(maxAbsDiff(ref.weights, got.weights)).toBeLessThan(1e-4);
    ref.agent.dispose();
    got.agent.dispose();
  });

  it("same seed and settings: bit-identical weights, metrics and Adam state, with 1 and with 2 intra-op threads", () => {
    const env = makeEnv();
    const action = env.classes[0]!.action;
    // The paper's widths and minibatch, so the matmuls are large enough to be split across threads.
    const paper = (threads: number) => {
      const p = paramsOn(onnx(threads), { minibatchSize: 128, sgdPasses: 2 });
      return { ...p, network: { ...p.network, policy: { ...p.network.policy, hiddenWidths: [256, 256] }, value: { ...p.network.value, hiddenWidths: [256, 256] } } };
    };
    const batch = batchOf(env, obsDim, paramsOn(tfjs));
    const runs = [1, 1, 2, 2].map((threads) => trainOnce(action, obsDim, batch, paper(threads)));
    for (const [first, other] of [
      [runs[0]!, runs[1]!],
      [runs[2]!, runs[3]!]
    ] as const) {
      expect(bitEqual(first.weights, other.weights)).toBe(true);
      expect(other.metrics).toEqual(first.metrics);
      const [s, t] = [first.agent.getState().optimizer, other.agent.getState().optimizer];
      expect(bitEqual(s.moments, t.moments)).toBe(true);
    }
    // Across thread counts the kernels may split a matmul differently (measured: the KL pass over
    // 300 rows differs in the last bits), so the thread count is part of a run's identity; the
    // results still agree to float32 rounding.
    expect(maxAbsDiff(runs[0]!.weights, runs[2]!.weights)).toBeLessThan(1e-5);
    for (const r of runs) r.agent.dispose();
  });

  it("an agent's state moves between the backends: tfjs -> onnxruntime continues like tfjs", () => {
    const env = makeEnv();
    const action = env.classes[0]!.action;
    const batch = batchOf(env, obsDim, paramsOn(tfjs));
    const ref = trainOnce(action, obsDim, batch, paramsOn(tfjs), 1);
    const moved = new PpoAgent(obsDim, action, paramsOn(onnx()), Random.fromSeed(99));
    moved.setState(ref.agent.getState());
    expect(bitEqual(moved.getState().weights, ref.agent.getState().weights)).toBe(true);
    expect(moved.getState().optimizer.step).toBe(ref.agent.getState().optimizer.step);
    const p = paramsOn(tfjs);
    ppoUpdate(ref.agent, batch, p, Random.fromSeed(12));
    ppoUpdate(moved, batch, paramsOn(onnx()), Random.fromSeed(12));
    expect(maxAbsDiff(ref.agent.net.getWeights(), moved.net.getWeights())).toBeLessThan(1e-4);
    ref.agent.dispose();
    moved.dispose();
  });
});

describe("onnxruntime in rollout worker threads", { timeout: 120_000 }, () => {
  it("the OTC rollouts give bit-identical batches in the main thread and on worker threads", async () => {
    const args: OtcRolloutArgs = { config: { ...defaultGameConfig(experimentPopulation(4)), horizon: 12 }, ecn: { kind: "gmm", data: standInGmmData() } };
    const ppo = tinyOtcPpo(16);
    const params: PpoParams = { ...ppo, network: { ...ppo.network, compute: onnx() } };
    const collect = async (workers: number) => {
      const runner = new RolloutRunner({ factory: otcRolloutEnv, location: otcRolloutLocation, args, episodes: 4, episodesPerShard: 2, workers, backend: "wasm" });
      const agent = new PpoAgent(runner.classes[0]!.obsDim, runner.classes[0]!.action, params, Random.fromSeed(1));
      expect(agent.net.backend).toBe("onnxruntime");
      const result = await runner.collect([agent], Random.fromSeed(3), params);
      await runner.close();
      agent.dispose();
      return result.batches.map((b) => ({ ...b }));
    };
    const inThread = await collect(0);
    expect(inThread[0]!.size).toBe(4 * 10 * 12);
    expect(await collect(2)).toEqual(inThread);
  });
});

describe("onnxruntime loading", () => {
  it("a backend that cannot load fails with one sentence naming the backend and the fallback", () => {
    const error = new OnnxRuntimeLoadError("libonnxruntime.so.1: cannot open shared object file");
    expect(error.message).toMatch(/^The onnxruntime network backend could not be loaded \(.*\); run with ppo\.backend=tfjs \(or auto\)/);
    expect(error.message.split(". ").length).toBe(1);
  });
});
