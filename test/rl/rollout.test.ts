/**
 * collectRollouts on a two-class env (one continuous, one discrete class): one batched policy call
 * per class per step for all agents, batches laid out time-major with the unclipped actions the
 * policy sampled, their log-probabilities under the sampling distribution, episode ends at the
 * horizon, and (discount 1, lambda 1) returns equal to the rewards-to-go.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { Random } from "../../core/random/philox.ts";
import { initTfBackend } from "../../core/rl/backend.ts";
import { PpoAgent, defaultPpoParams, type PpoParams } from "../../core/rl/ppo.ts";
import { splitColumns } from "../../core/rl/networks.ts";
import { collectRollouts } from "../../core/rl/rollout.ts";
import { clipActions, type ActionSpec, type AgentClassSpec, type MultiClassVecEnv } from "../../core/rl/vec-env.ts";

beforeAll(async () => {
  await initTfBackend("cpu");
});

const continuous: Extract<ActionSpec, { kind: "continuous" }> = {
  kind: "continuous",
  dim: 2,
  low: Float32Array.of(-0.5, -0.5),
  high: Float32Array.of(0.5, 0.5)
};

/** Observations depend on t and the agent; rewards on the (clipped) actions; records what it was given. */
class RecordingEnv implements MultiClassVecEnv {
  readonly classes: readonly AgentClassSpec[] = [
    { name: "continuous", count: 3, obsDim: 2, action: continuous },
    { name: "discrete", count: 5, obsDim: 3, action: { kind: "discrete", n: 3 } }
  ];
  readonly horizon = 4;
  t = 0;
  readonly received: Float32Array[][] = [];
  private last: Float32Array[] = [new Float32Array(3), new Float32Array(5)];

  reset(_rng: Random): void {
    this.t = 0;
  }
  observe(c: number, out: Float32Array): void {
    for (let k = 0; k < out.length; k++) out[k] = Math.sin(1 + c + k + 10 * this.t);
  }
  step(actions: readonly Float32Array[], _rng: Random): void {
    this.received.push(actions.map((a) => Float32Array.from(a)));
    const clipped = clipActions(continuous, actions[0]!, 3, new Float32Array(6));
    this.last = [
      Float32Array.from({ length: 3 }, (_, i) => clipped[2 * i]! + clipped[2 * i + 1]!),
      Float32Array.from(actions[1]!, (a) => a + this.t)
    ];
    this.t++;
  }
  rewards(c: number, out: Float32Array): void {
    out.set(this.last[c]!);
  }
}

const params: PpoParams = {
  ...defaultPpoParams,
  network: {
    ...defaultPpoParams.network,
    policy: { hiddenWidths: [8], activation: "tanh", outputInitScale: 1 },
    value: { hiddenWidths: [8], activation: "tanh", outputInitScale: 1 }
  }
};

describe("collectRollouts", () => {
  const setup = () => {
    const env = new RecordingEnv();
    const rng = Random.fromSeed(3);
    const agents = env.classes.map((spec, c) => new PpoAgent(spec.obsDim, spec.action, params, rng.split(c)));
    return { env, agents };
  };

  it("makes one batched policy call per class per step, for all agents of the class", () => {
    const { env, agents } = setup();
    const calls: number[][] = [[], []];
    agents.forEach((agent, c) => {
      const original = agent.net.evaluate.bind(agent.net);
      agent.net.evaluate = (obs: Float32Array, rows: number) => {
        calls[c]!.push(rows);
        return original(obs, rows);
      };
    });
    collectRollouts(env, agents, Random.fromSeed(1), params);
    expect(calls).toEqual([Array(env.horizon).fill(3), Array(env.horizon).fill(5)]);
    expect(env.t).toBe(env.horizon);
    agents.forEach((a) => a.dispose());
  });

  it("stores what the policy sampled and the env received, with consistent log-probabilities, values and returns", () => {
    const { env, agents } = setup();
    const batches = collectRollouts(env, agents, Random.fromSeed(1), params);
    batches.forEach((batch, c) => {
      const spec = env.classes[c]!;
      const agent = agents[c]!;
      const T = env.horizon;
      expect(batch.size).toBe(T * spec.count);
      // Actions as received by the env at step t are rows t * count ... of the batch (time-major).
      for (let t = 0; t < T; t++) {
        const width = batch.actionDim;
        expect(Array.from(env.received[t]![c]!)).toEqual(Array.from(batch.actions.subarray(t * spec.count * width, (t + 1) * spec.count * width)));
      }
      // Episodes end exactly at the horizon.
      expect(Array.from(batch.dones)).toEqual(Array.from({ length: batch.size }, (_, k) => (k >= (T - 1) * spec.count ? 1 : 0)));
      // Stored parameters and values are the networks' outputs on the stored observations.
      const evaluated = agent.net.evaluate(batch.obs, batch.size);
      for (let k = 0; k < batch.size; k++) {
        for (let j = 0; j < batch.paramDim; j++) expect(batch.distParams[k * batch.paramDim + j]!).toBeCloseTo(evaluated[k * (batch.paramDim + 1) + j]!, 5);
        expect(batch.values[k]!).toBeCloseTo(evaluated[k * (batch.paramDim + 1) + batch.paramDim]!, 5);
      }
      // Log-probabilities are those of the stored (unclipped) actions under the stored parameters.
      const logProbTensor = tf.tidy(() =>
        agent.net.policy
          .logProb(
            splitColumns(batch.distParams, batch.size, agent.net.policy.paramParts).map((part, j) => tf.tensor2d(part, [batch.size, agent.net.policy.paramParts[j]!])),
            tf.tensor2d(agent.net.policy.encodeActions(batch.actions, batch.size), [batch.size, agent.net.policy.actionFeatureDim])
          )
      );
      const logProbs = logProbTensor.dataSync();
      logProbTensor.dispose();
      for (let k = 0; k < batch.size; k++) expect(batch.logProbs[k]!).toBeCloseTo(logProbs[k]!, 4);
      // Discount 1, lambda 1: returns are rewards-to-go; advantages are returns minus values.
      for (let i = 0; i < spec.count; i++) {
        let toGo = 0;
        for (let t = T - 1; t >= 0; t--) {
          const k = t * spec.count + i;
          toGo += batch.rewards[k]!;
          expect(batch.returns[k]!).toBeCloseTo(toGo, 5);
          expect(batch.advantages[k]!).toBeCloseTo(toGo - batch.values[k]!, 5);
        }
        expect(batch.episodeRewards[i]!).toBeCloseTo(toGo, 5);
      }
    });
    // With stDev ~1 and bounds +-0.5 some continuous samples lie outside the bounds: stored unclipped.
    expect(Array.from(batches[0]!.actions).some((a) => Math.abs(a) > 0.5)).toBe(true);
    agents.forEach((a) => a.dispose());
  });

  it("is a deterministic function of the rng: same stream, same batch; another stream, other actions", () => {
    const { env, agents } = setup();
    const a = collectRollouts(env, agents, Random.fromSeed(8), params);
    const b = collectRollouts(env, agents, Random.fromSeed(8), params);
    const c = collectRollouts(env, agents, Random.fromSeed(9), params);
    expect(Array.from(a[0]!.actions)).toEqual(Array.from(b[0]!.actions));
    expect(Array.from(a[1]!.actions)).toEqual(Array.from(b[1]!.actions));
    expect(Array.from(a[0]!.actions)).not.toEqual(Array.from(c[0]!.actions));
    agents.forEach((x) => x.dispose());
  });
});
