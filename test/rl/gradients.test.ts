/**
 * Gradient checks of the PPO losses: the tfjs autodiff gradients (cpu backend, float32), and the
 * hand-derived gradients of the onnxruntime training graph (float32), of the clipped surrogate, the KL penalty, the clipped value loss and the entropy are compared with
 * central finite differences of an independent float64 re-implementation written here from the
 * formulas of Schulman et al. (2017) and the Gaussian / categorical densities. The loss values
 * themselves are compared too, so a wrong formula fails even where its gradient would agree.
 * Tolerances: values within 1e-5 relative; gradients within 2e-4 + 2e-3 |g| (float32 autodiff vs
 * float64 differences with step 1e-6).
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { Random } from "../../core/random/philox.ts";
import { initTfBackend } from "../../core/rl/backend.ts";
import { splitColumns, type WeightMap } from "../../core/rl/networks.ts";
import { PpoAgent, defaultPpoParams, ppoLosses, type PpoMinibatch, type PpoParams } from "../../core/rl/ppo.ts";
import type { OnnxMinibatch } from "../../core/rl/onnx-networks.ts";
import type { ActionSpec } from "../../core/rl/vec-env.ts";

beforeAll(async () => {
  expect(await initTfBackend("cpu")).toBe("cpu");
});

type Weights64 = Record<string, Float64Array>;

/** Float64 forward pass: tanh hidden layers `${prefix}/layer${l}`, then linear heads concatenated. */
const mlp64 = (w: Weights64, prefix: string, hiddenLayers: number, heads: readonly string[], x: Float64Array, rows: number, inputDim: number): Float64Array => {
  const dense = (input: Float64Array, width: number, layer: string, activate: boolean) => {
    const kernel = w[`${layer}/kernel`]!;
    const bias = w[`${layer}/bias`]!;
    const outWidth = bias.length;
    const out = new Float64Array(rows * outWidth);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < outWidth; j++) {
        let z = bias[j]!;
        for (let i = 0; i < width; i++) z += input[r * width + i]! * kernel[i * outWidth + j]!;
        out[r * outWidth + j] = activate ? Math.tanh(z) : z;
      }
    }
    return { out, outWidth };
  };
  let current = x;
  let width = inputDim;
  for (let l = 0; l < hiddenLayers; l++) {
    const { out, outWidth } = dense(current, width, `${prefix}/layer${l}`, true);
    current = out;
    width = outWidth;
  }
  const outputs = heads.map((h) => dense(current, width, `${prefix}/${h}`, false));
  const total = outputs.reduce((s, o) => s + o.outWidth, 0);
  const result = new Float64Array(rows * total);
  for (let r = 0; r < rows; r++) {
    let offset = 0;
    for (const o of outputs) {
      for (let j = 0; j < o.outWidth; j++) result[r * total + offset + j] = o.out[r * o.outWidth + j]!;
      offset += o.outWidth;
    }
  }
  return result;
};

const policyHeads = (action: ActionSpec) => (action.kind === "continuous" ? ["mean", "logStd"] : ["logits"]);
const policy64 = (w: Weights64, action: ActionSpec, obs: Float64Array, rows: number, obsDim: number) =>
  mlp64(w, "policy", 2, policyHeads(action), obs, rows, obsDim);
const value64 = (w: Weights64, obs: Float64Array, rows: number, obsDim: number) => mlp64(w, "value", 2, ["out"], obs, rows, obsDim);

interface Problem {
  rows: number;
  obsDim: number;
  obs: Float64Array;
  /** Continuous: the actions; discrete: indices. */
  actions: Float64Array;
  oldLogProbs: Float64Array;
  oldParams: Float64Array;
  oldValues: Float64Array;
  advantages: Float64Array;
  returns: Float64Array;
}

interface Losses64 {
  policy: number;
  kl: number;
  value: number;
  entropy: number;
}

/** Per-row log-density, KL(old || new) and entropy from first principles. */
const distribution64 = (action: ActionSpec) => ({
  logProb(p: Float64Array, r: number, a: Float64Array): number {
    if (action.kind === "continuous") {
      const d = action.dim;
      let s = 0;
      for (let k = 0; k < d; k++) {
        const mean = p[r * 2 * d + k]!;
        const sigma = Math.exp(Math.min(2, Math.max(-5, p[r * 2 * d + d + k]!)));
        const x = a[r * d + k]!;
        s += -((x - mean) ** 2) / (2 * sigma * sigma) - Math.log(sigma * Math.sqrt(2 * Math.PI));
      }
      return s;
    }
    const n = action.n;
    let z = 0;
    for (let k = 0; k < n; k++) z += Math.exp(p[r * n + k]!);
    return p[r * n + a[r]!]! - Math.log(z);
  },
  kl(oldP: Float64Array, newP: Float64Array, r: number): number {
    if (action.kind === "continuous") {
      const d = action.dim;
      let s = 0;
      for (let k = 0; k < d; k++) {
        const m0 = oldP[r * 2 * d + k]!;
        const s0 = Math.exp(oldP[r * 2 * d + d + k]!);
        const m1 = newP[r * 2 * d + k]!;
        const s1 = Math.exp(Math.min(2, Math.max(-5, newP[r * 2 * d + d + k]!)));
        s += Math.log(s1 / s0) + (s0 * s0 + (m0 - m1) ** 2) / (2 * s1 * s1) - 0.5;
      }
      return s;
    }
    const n = action.n;
    const probs = (q: Float64Array) => {
      let z = 0;
      for (let k = 0; k < n; k++) z += Math.exp(q[r * n + k]!);
      return Array.from({ length: n }, (_, k) => Math.exp(q[r * n + k]!) / z);
    };
    const p0 = probs(oldP);
    const p1 = probs(newP);
    return p0.reduce((s, p, k) => s + p * Math.log(p / p1[k]!), 0);
  },
  entropy(p: Float64Array, r: number): number {
    if (action.kind === "continuous") {
      const d = action.dim;
      let s = 0;
      for (let k = 0; k < d; k++) s += 0.5 * Math.log(2 * Math.PI * Math.E) + Math.min(2, Math.max(-5, p[r * 2 * d + d + k]!));
      return s;
    }
    const n = action.n;
    let z = 0;
    for (let k = 0; k < n; k++) z += Math.exp(p[r * n + k]!);
    let h = 0;
    for (let k = 0; k < n; k++) {
      const q = Math.exp(p[r * n + k]!) / z;
      h -= q * Math.log(q);
    }
    return h;
  }
});

const losses64 = (w: Weights64, problem: Problem, action: ActionSpec, clip: number, valueClip: number): Losses64 => {
  const dist = distribution64(action);
  const newParams = policy64(w, action, problem.obs, problem.rows, problem.obsDim);
  const values = value64(w, problem.obs, problem.rows, problem.obsDim);
  let policy = 0;
  let kl = 0;
  let value = 0;
  let entropy = 0;
  for (let r = 0; r < problem.rows; r++) {
    const ratio = Math.exp(dist.logProb(newParams, r, problem.actions) - problem.oldLogProbs[r]!);
    const adv = problem.advantages[r]!;
    policy -= Math.min(ratio * adv, Math.min(1 + clip, Math.max(1 - clip, ratio)) * adv);
    kl += dist.kl(problem.oldParams, newParams, r);
    entropy += dist.entropy(newParams, r);
    const v = values[r]!;
    const vOld = problem.oldValues[r]!;
    const vClipped = vOld + Math.min(valueClip, Math.max(-valueClip, v - vOld));
    value += Math.max((v - problem.returns[r]!) ** 2, (vClipped - problem.returns[r]!) ** 2);
  }
  const n = problem.rows;
  return { policy: policy / n, kl: kl / n, value: value / n, entropy: entropy / n };
};

const to64 = (weights: WeightMap): Weights64 => Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, Float64Array.from(v.data)]));

const buildProblem = (agent: PpoAgent, action: ActionSpec, rows: number, rng: Random, clip: number, valueClip: number): Problem => {
  const obsDim = agent.obsDim;
  const w = to64(agent.net.getWeights());
  const obs = Float64Array.from({ length: rows * obsDim }, () => Math.fround(rng.normal()));
  const newParams = policy64(w, action, obs, rows, obsDim);
  const values = value64(w, obs, rows, obsDim);
  const paramDim = action.kind === "continuous" ? 2 * action.dim : action.n;
  // The sampling policy: the current one, perturbed, so the KL and the ratios are away from 0 and 1.
  const oldParams = Float64Array.from(newParams, (p) => Math.fround(p + 0.3 * rng.normal()));
  const actionWidth = action.kind === "continuous" ? action.dim : 1;
  const actions = Float64Array.from({ length: rows * actionWidth }, () =>
    action.kind === "continuous" ? Math.fround(rng.normal()) : rng.int(action.n)
  );
  const dist = distribution64(action);
  // Target ratios spread across and beyond the clip range [1 - clip, 1 + clip], away from its edges,
  // with advantages of both signs, so both branches of the min are exercised.
  const targetRatios = [0.5, 0.85, 1.1, 1.45, 0.6, 1.2, 1.6, 0.95];
  const oldLogProbs = new Float64Array(rows);
  const advantages = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    oldLogProbs[r] = Math.fround(dist.logProb(newParams, r, actions) - Math.log(targetRatios[r % targetRatios.length]!));
    advantages[r] = Math.fround((r % 2 === 0 ? 1 : -1) * (0.5 + rng.uniform()));
  }
  // Value moves of +-0.2 (inside the clip) and +-0.9 (outside the clip 0.5).
  const oldValues = Float64Array.from(values, (v, r) => Math.fround(v - [0.2, -0.9, -0.2, 0.9][r % 4]!));
  const returns = Float64Array.from(values, (v) => Math.fround(v + rng.normal()));
  void paramDim;
  void clip;
  void valueClip;
  return { rows, obsDim, obs, actions, oldLogProbs, oldParams, oldValues, advantages, returns };
};

const toMinibatch = (agent: PpoAgent, p: Problem): PpoMinibatch => {
  const policy = agent.net.policy;
  const actionRows = Float32Array.from(p.actions);
  return {
    obs: tf.tensor2d(Float32Array.from(p.obs), [p.rows, p.obsDim]),
    actionFeatures: tf.tensor2d(policy.encodeActions(actionRows, p.rows), [p.rows, policy.actionFeatureDim]),
    oldLogProbs: tf.tensor1d(Float32Array.from(p.oldLogProbs)),
    oldDistParams: splitColumns(Float32Array.from(p.oldParams), p.rows, policy.paramParts).map((part, k) => tf.tensor2d(part, [p.rows, policy.paramParts[k]!])),
    oldValues: tf.tensor1d(Float32Array.from(p.oldValues)),
    advantages: tf.tensor1d(Float32Array.from(p.advantages)),
    returns: tf.tensor1d(Float32Array.from(p.returns))
  };
};

const cases: [string, ActionSpec][] = [
  ["diagonal Gaussian", { kind: "continuous", dim: 2, low: Float32Array.of(-1, -1), high: Float32Array.of(1, 1) }],
  ["categorical", { kind: "discrete", n: 3 }]
];

describe.each(cases)("PPO loss gradients, %s policy", (_name, action) => {
  const clip = 0.3;
  const valueClip = 0.5;
  const params: PpoParams = {
    ...defaultPpoParams,
    clipParam: clip,
    valueClipParam: valueClip,
    network: {
      ...defaultPpoParams.network,
      // Output scale 1 so the outputs, and the gradients, are not tiny.
      policy: { hiddenWidths: [5, 4], activation: "tanh", outputInitScale: 1 },
      value: { hiddenWidths: [5, 4], activation: "tanh", outputInitScale: 1 }
    }
  };
  const rows = 8;

  /** The term's value and gradient by bundle name, from tfjs autodiff or the onnxruntime graph. */
  const termGradients = (agent: PpoAgent, mb: PpoMinibatch, problem: Problem, term: "policy" | "kl" | "value" | "entropy") => {
    if (agent.net.onnx === null) {
      const { value, grads } = tf.variableGrads(() => ppoLosses(agent.net, mb, params, agent.klCoeff)[term]!, agent.net.variables());
      const out = {
        value: value.dataSync()[0]!,
        // tfjs leaves out variables the loss does not depend on: their gradient is zero.
        grads: Object.fromEntries(agent.net.namedVariables().map(([name, v]) => [name, Float32Array.from(grads[v.name]?.dataSync() ?? new Float32Array(v.size))]))
      };
      value.dispose();
      for (const g of Object.values(grads)) g.dispose();
      return out;
    }
    const policy = agent.net.policy;
    const onnxMb: OnnxMinibatch = {
      rows: problem.rows,
      obs: Float32Array.from(problem.obs),
      act: policy.encodeActions(Float32Array.from(problem.actions), problem.rows),
      oldLogp: Float32Array.from(problem.oldLogProbs),
      oldParams: splitColumns(Float32Array.from(problem.oldParams), problem.rows, policy.paramParts),
      oldV: Float32Array.from(problem.oldValues),
      adv: Float32Array.from(problem.advantages),
      ret: Float32Array.from(problem.returns)
    };
    // The graph minimises policy*wP + value*wV + kl*wK - entropy*wE: one-hot weights pick a term.
    const weights = { policy: term === "policy" ? 1 : 0, value: term === "value" ? 1 : 0, kl: term === "kl" ? 1 : 0, entropy: term === "entropy" ? -1 : 0 };
    const constants = { clipParam: clip, valueClipParam: valueClip, maxGradNorm: null, beta1: params.adam.beta1, beta2: params.adam.beta2 };
    const { losses, gradients } = agent.net.onnx.gradients(onnxMb, constants, weights);
    return { value: losses[term], grads: Object.fromEntries(Object.entries(gradients).map(([k, v]) => [k, v.data])) };
  };

  const check = (seed: number, backend: "tfjs" | "onnxruntime" = "tfjs") => {
    const rng = Random.fromSeed(seed);
    const onBackend: PpoParams = { ...params, network: { ...params.network, compute: { backend, intraOpThreads: 1 } } };
    const agent = new PpoAgent(3, action, onBackend, rng.split("agent"));
    const problem = buildProblem(agent, action, rows, rng.split("problem"), clip, valueClip);
    const mb = toMinibatch(agent, problem);
    const variables = agent.net.variables();
    const weights = agent.net.getWeights();
    const w64 = to64(weights);
    const reference = losses64(w64, problem, action, clip, valueClip);

    const terms = ["policy", "kl", "value", "entropy"] as const;
    for (const term of terms) {
      const { value: tfValue, grads } = termGradients(agent, mb, problem, term);
      expect(Math.abs(tfValue - reference[term])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(reference[term])));
      let compared = 0;
      for (const [name, v] of agent.net.namedVariables()) {
        const g = grads[name]!;
        expect(g.length).toBe(v.size);
        const base = w64[name]!;
        for (let j = 0; j < base.length; j++) {
          const h = 1e-6;
          const saved = base[j]!;
          base[j] = saved + h;
          const plus = losses64(w64, problem, action, clip, valueClip)[term];
          base[j] = saved - h;
          const minus = losses64(w64, problem, action, clip, valueClip)[term];
          base[j] = saved;
          const fd = (plus - minus) / (2 * h);
          const err = Math.abs(g[j]! - fd);
          if (err > 2e-4 + 2e-3 * Math.abs(fd)) {
            throw new Error(`${term} gradient of ${name}[${j}]: autodiff ${g[j]}, finite difference ${fd}`);
          }
          compared++;
        }
      }
      expect(compared).toBe(variables.reduce((s, v) => s + v.size, 0));
    }
    if (backend === "onnxruntime") {
      tf.dispose(Object.values(mb));
      agent.dispose();
      return reference;
    }
    // The policy terms do not depend on the value network and vice versa (separate networks).
    const { grads } = tf.variableGrads(() => ppoLosses(agent.net, mb, params, agent.klCoeff).value, variables);
    for (const v of agent.net.policy.network.variables()) expect(grads[v.name]).toBeUndefined();
    for (const v of agent.net.value.variables()) expect(grads[v.name]).toBeDefined();
    tf.dispose(Object.values(mb));
    agent.dispose();
    return reference;
  };

  it("matches finite differences of a float64 reference for the surrogate, KL, value and entropy terms", () => {
    for (const seed of [1, 2, 3]) {
      const reference = check(seed);
      // The problem is built to be non-degenerate: a positive KL and non-zero losses.
      expect(reference.kl).toBeGreaterThan(1e-3);
      expect(Math.abs(reference.policy)).toBeGreaterThan(1e-3);
    }
  });

  it("onnxruntime: the hand-derived gradients of the ONNX training graph match the same finite differences", () => {
    for (const seed of [1, 2, 3]) check(seed, "onnxruntime");
  });

  it("the total loss is policy + klCoeff * kl + valueLossCoeff * value - entropyCoeff * entropy", () => {
    const rng = Random.fromSeed(9);
    const withEntropy: PpoParams = { ...params, entropyCoeff: 0.05, valueLossCoeff: 0.7 };
    const agent = new PpoAgent(3, action, withEntropy, rng.split("agent"));
    const mb = toMinibatch(agent, buildProblem(agent, action, rows, rng.split("problem"), clip, valueClip));
    const l = ppoLosses(agent.net, mb, withEntropy, 0.37);
    const [total, policy, kl, value, entropy] = [l.total, l.policy, l.kl, l.value, l.entropy!].map((t) => t.dataSync()[0]!);
    expect(total!).toBeCloseTo(policy! + 0.37 * kl! + 0.7 * value! - 0.05 * entropy!, 5);
    agent.dispose();
  });
});
