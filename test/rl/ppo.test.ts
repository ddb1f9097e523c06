/**
 * ppoUpdate as a whole: it moves the policy towards the actions with positive advantages (the
 * importance-weighted advantage, zero before the update, becomes positive), adapts the KL
 * coefficient by RLlib's rule from the KL it reports, takes passes x ceil(N / minibatch) Adam
 * steps, leaks no tensors, and rejects batches that do not fit the agent.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { Random } from "../../core/random/philox.ts";
import { initTfBackend } from "../../core/rl/backend.ts";
import { PpoAgent, PpoBatchError, adaptKlCoeff, defaultPpoParams, ppoUpdate, type PpoParams } from "../../core/rl/ppo.ts";
import { collectRollouts } from "../../core/rl/rollout.ts";
import { ContextualBanditEnv } from "./toy-envs.ts";

beforeAll(async () => {
  await initTfBackend("cpu");
});

const params: PpoParams = {
  ...defaultPpoParams,
  learningRate: 1e-3,
  sgdPasses: 3,
  minibatchSize: 50,
  network: {
    ...defaultPpoParams.network,
    policy: { ...defaultPpoParams.network.policy, hiddenWidths: [16] },
    value: { ...defaultPpoParams.network.value, hiddenWidths: [16] }
  }
};

const target = (type: number) => 0.5 * type;

describe("ppoUpdate", () => {
  it("raises the importance-weighted advantage, adapts the KL coefficient by the rule, counts its steps, leaks nothing", () => {
    const env = new ContextualBanditEnv(230, target);
    const rng = Random.fromSeed(4);
    const agent = new PpoAgent(1, env.classes[0]!.action, params, rng.split("agent"));
    const tensorsBefore = tf.memory().numTensors;
    const [batch] = collectRollouts(env, [agent], rng.split("rollout"), params);
    const klBefore = agent.klCoeff;
    const metrics = ppoUpdate(agent, batch!, params, rng.split("update"));
    expect(tf.memory().numTensors).toBe(tensorsBefore);

    expect(metrics["charts/sgd_steps"]).toBe(3 * Math.ceil(230 / 50));
    expect(metrics["charts/kl_coeff"]).toBe(klBefore);
    expect(agent.klCoeff).toBe(adaptKlCoeff(klBefore, metrics["losses/kl"], params));
    expect(metrics["losses/kl"]).toBeGreaterThan(0);
    for (const value of Object.values(metrics)) expect(Number.isFinite(value)).toBe(true);

    // Importance-weighted advantage sum_i (pi_new(a_i) / pi_old(a_i)) A_i: 0 at the sampling policy.
    const newLogProbTensor = tf.tidy(() => {
      const policy = agent.net.policy;
      const params_ = policy.distParams(tf.tensor2d(batch!.obs, [batch!.size, 1]));
      return policy.logProb(params_, tf.tensor2d(batch!.actions, [batch!.size, 1]));
    });
    const newLogProbs = newLogProbTensor.dataSync();
    newLogProbTensor.dispose();
    let mean = 0;
    for (let i = 0; i < batch!.size; i++) mean += batch!.advantages[i]!;
    mean /= batch!.size;
    let weighted = 0;
    for (let i = 0; i < batch!.size; i++) weighted += Math.exp(newLogProbs[i]! - batch!.logProbs[i]!) * (batch!.advantages[i]! - mean);
    expect(weighted / batch!.size).toBeGreaterThan(0);
    agent.dispose();
  });

  it("rejects a batch of another observation width with PpoBatchError", () => {
    const env = new ContextualBanditEnv(10, target);
    const rng = Random.fromSeed(1);
    const agent = new PpoAgent(1, env.classes[0]!.action, params, rng);
    const [batch] = collectRollouts(env, [agent], rng, params);
    const other = new PpoAgent(2, env.classes[0]!.action, params, rng);
    expect(() => ppoUpdate(other, batch!, params, rng)).toThrow(PpoBatchError);
    expect(() => ppoUpdate(agent, { ...batch!, logProbs: new Float32Array(3) }, params, rng)).toThrow(PpoBatchError);
    agent.dispose();
    other.dispose();
  });
});
