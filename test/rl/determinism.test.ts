/**
 * Reproducibility (ARCHITECTURE section 5): training is a deterministic function of the seed, and
 * a run saved mid-way and resumed from its state (weights, Adam moments and step, KL coefficient)
 * into a freshly built agent ends bit-identical to the uninterrupted run. Runs on the production
 * backend (wasm, falling back to cpu).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Random } from "../../core/random/philox.ts";
import { initTfBackend } from "../../core/rl/backend.ts";
import { WeightShapeError, type WeightMap } from "../../core/rl/networks.ts";
import { PpoAgent, defaultPpoParams, type PpoAgentState, type PpoParams } from "../../core/rl/ppo.ts";
import { ContextualBanditEnv, LinearQuadraticEnv, runPpoIteration } from "./toy-envs.ts";

beforeAll(async () => {
  await initTfBackend("wasm");
});

const params: PpoParams = {
  ...defaultPpoParams,
  learningRate: 3e-3,
  sgdPasses: 3,
  minibatchSize: 64,
  network: {
    ...defaultPpoParams.network,
    policy: { ...defaultPpoParams.network.policy, hiddenWidths: [16, 16] },
    value: { ...defaultPpoParams.network.value, hiddenWidths: [16, 16] }
  }
};

const sameBits = (a: Float32Array, b: Float32Array): boolean =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const sameWeights = (a: WeightMap, b: WeightMap): boolean =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] !== undefined && sameBits(v.data, b[k]!.data));

const sameState = (a: PpoAgentState, b: PpoAgentState): boolean =>
  sameWeights(a.weights, b.weights) &&
  sameWeights(a.optimizer.moments, b.optimizer.moments) &&
  a.optimizer.step === b.optimizer.step &&
  Object.is(a.klCoeff, b.klCoeff);

/** Trains iterations [from, to) of the run with root `seed` (iteration k draws from root.split(k)). */
const train = (agent: PpoAgent, seed: number, from: number, to: number) => {
  const env = new LinearQuadraticEnv(48, 4, 1, 1, 1);
  const root = Random.fromSeed(seed);
  for (let k = from; k < to; k++) runPpoIteration(env, [agent], params, root.split(k));
};

const newAgent = (seed: number) => new PpoAgent(2, new LinearQuadraticEnv(1, 4, 1, 1, 1).classes[0]!.action, params, Random.fromSeed(seed).split("agent"));

describe("PPO determinism", () => {
  it("the same seed twice gives bit-identical weights, optimiser state and KL coefficient; another seed does not", () => {
    const runs = [1, 1, 2].map((seed) => {
      const agent = newAgent(seed);
      train(agent, seed, 0, 3);
      const state = agent.getState();
      agent.dispose();
      return state;
    });
    expect(sameState(runs[0]!, runs[1]!)).toBe(true);
    expect(sameWeights(runs[0]!.weights, runs[2]!.weights)).toBe(false);
    // Training moved the weights away from their initialisation.
    const initial = newAgent(1);
    expect(sameWeights(initial.getState().weights, runs[0]!.weights)).toBe(false);
    initial.dispose();
  });

  it("saving after 2 iterations and resuming in a fresh agent ends bit-identical to 4 uninterrupted iterations", () => {
    const uninterrupted = newAgent(5);
    train(uninterrupted, 5, 0, 4);
    const expected = uninterrupted.getState();
    uninterrupted.dispose();

    const first = newAgent(5);
    train(first, 5, 0, 2);
    // A checkpoint is plain data; copy it so nothing is shared with the first agent.
    const saved = structuredClone(first.getState());
    first.dispose();
    const resumed = newAgent(99); // different initial weights, overwritten by the checkpoint
    resumed.setState(saved);
    expect(sameState(resumed.getState(), saved)).toBe(true);
    train(resumed, 5, 2, 4);
    expect(sameState(resumed.getState(), expected)).toBe(true);
    resumed.dispose();
  });

  it("restoring a checkpoint of differently sized networks fails with WeightShapeError and leaves the agent unchanged", () => {
    const agent = newAgent(3);
    const before = agent.getState();
    const other = new PpoAgent(1, new ContextualBanditEnv(1, () => 0).classes[0]!.action, params, Random.fromSeed(3));
    expect(() => agent.setState(other.getState())).toThrow(WeightShapeError);
    expect(sameState(agent.getState(), before)).toBe(true);
    agent.dispose();
    other.dispose();
  });
});
