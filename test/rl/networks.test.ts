/**
 * Policy and value networks: Glorot-uniform initialisation from a `Random` (bounds and variance of
 * Glorot and Bengio 2010), sampling in JS that matches the distribution the tensor functions
 * describe (moments, frequencies, log-probabilities), KL and entropy against their definitions by
 * Monte Carlo, and weight bundles that round-trip exactly.
 */
import * as tf from "@tensorflow/tfjs";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { Random } from "../../core/random/philox.ts";
import { initTfBackend } from "../../core/rl/backend.ts";
import {
  ActorCritic,
  CategoricalPolicy,
  DiagonalGaussianPolicy,
  Mlp,
  WeightShapeError,
  defaultActorCriticParams,
  splitColumns,
  defaultGaussianPolicyParams,
  type Policy
} from "../../core/rl/networks.ts";
import { clipActions } from "../../core/rl/vec-env.ts";

beforeAll(async () => {
  await initTfBackend("cpu");
});

const small = { hiddenWidths: [8], activation: "tanh" as const, outputInitScale: 1 };

/** Per-row tensor-side log-probabilities, entropies and KLs for plain arrays. */
const tensorSideTensors = (policy: Policy, params: Float32Array, actions: Float32Array, rows: number, other?: Float32Array) =>
  tf.tidy(() => {
    const toParts = (data: Float32Array) => splitColumns(data, rows, policy.paramParts).map((part, k) => tf.tensor2d(part, [rows, policy.paramParts[k]!]));
    const p = toParts(params);
    const a = tf.tensor2d(policy.encodeActions(actions, rows), [rows, policy.actionFeatureDim]);
    return {
      logProb: policy.logProb(p, a),
      entropy: policy.entropy(p),
      kl: other === undefined ? tf.zeros([rows]) : policy.kl(p, toParts(other))
    };
  });
/** The same as plain arrays (read outside the tidy, which would otherwise walk every array entry). */
const tensorSide = (policy: Policy, params: Float32Array, actions: Float32Array, rows: number, other?: Float32Array) => {
  const t = tensorSideTensors(policy, params, actions, rows, other);
  const read = (x: tf.Tensor) => {
    const data = x.dataSync() as Float32Array;
    x.dispose();
    return data;
  };
  return { logProb: read(t.logProb), entropy: read(t.entropy), kl: read(t.kl) };
};

describe("Mlp initialisation", () => {
  it("draws Glorot-uniform kernels (|w| <= sqrt(6 / (fanIn + fanOut)), variance limit^2 / 3) and zero biases", () => {
    const mlp = new Mlp("net", 64, [{ name: "out", width: 10 }], { hiddenWidths: [256, 128], activation: "tanh", outputInitScale: 1 }, Random.fromSeed(1));
    const sizes = [64, 256, 128, 10];
    mlp.kernels.forEach((kernel, l) => {
      const limit = Math.sqrt(6 / (sizes[l]! + sizes[l + 1]!));
      const w = kernel.dataSync();
      let sq = 0;
      let mean = 0;
      let largest = 0;
      for (const x of w) {
        largest = Math.max(largest, Math.abs(x));
        sq += x * x;
        mean += x;
      }
      expect(largest).toBeLessThanOrEqual(limit);
      expect(largest).toBeGreaterThan(0.95 * limit);
      expect(Math.abs(mean / w.length)).toBeLessThan(limit * 0.05);
      expect(sq / w.length / (limit * limit / 3)).toBeGreaterThan(0.85);
      expect(sq / w.length / (limit * limit / 3)).toBeLessThan(1.15);
    });
    for (const b of mlp.biases) expect(Array.from(b.dataSync()).every((x) => x === 0)).toBe(true);
    mlp.dispose();
  });

  it("the same seed gives identical weights and another seed different ones", () => {
    const make = (seed: number) => new ActorCritic(5, { kind: "discrete", n: 3 }, defaultActorCriticParams, Random.fromSeed(seed));
    const [a, b, c] = [make(4), make(4), make(5)];
    const [wa, wb, wc] = [a.getWeights(), b.getWeights(), c.getWeights()];
    expect(Object.keys(wa).sort()).toEqual(Object.keys(wb).sort());
    for (const k of Object.keys(wa)) expect(Array.from(wa[k]!.data)).toEqual(Array.from(wb[k]!.data));
    expect(Object.keys(wa).sort()).toEqual(
      ["policy/layer0", "policy/layer1", "policy/logits", "value/layer0", "value/layer1", "value/out"].flatMap((l) => [`${l}/bias`, `${l}/kernel`]).sort()
    );
    expect(Array.from(wa["policy/layer0/kernel"]!.data)).not.toEqual(Array.from(wc["policy/layer0/kernel"]!.data));
    [a, b, c].forEach((x) => x.dispose());
  });

  it("starts the Gaussian policy near mean 0 and log-stDev initialLogStd (small output scale)", () => {
    const net = new ActorCritic(4, { kind: "continuous", dim: 2, low: Float32Array.of(-1, -1), high: Float32Array.of(1, 1) }, {
      ...defaultActorCriticParams,
      gaussian: { ...defaultGaussianPolicyParams, initialLogStd: -0.7 }
    }, Random.fromSeed(2));
    const rng = Random.fromSeed(3);
    const out = net.evaluate(Float32Array.from({ length: 40 }, () => rng.normal()), 10);
    for (let r = 0; r < 10; r++) {
      expect(Math.abs(out[r * 5]!)).toBeLessThan(0.1);
      expect(Math.abs(out[r * 5 + 2]! + 0.7)).toBeLessThan(0.1);
    }
    net.dispose();
  });
});

describe("DiagonalGaussianPolicy", () => {
  let policy: DiagonalGaussianPolicy;
  beforeAll(() => {
    policy = new DiagonalGaussianPolicy(3, 2, small, defaultGaussianPolicyParams, Random.fromSeed(1));
  });

  it("samples with the mean and stDev its parameters state, and the JS log-density equals the tensor one", () => {
    const rows = 20000;
    const params = new Float32Array(rows * 4);
    for (let r = 0; r < rows; r++) params.set([0.3, -1.2, Math.log(0.5), Math.log(2)], r * 4);
    const actions = new Float32Array(rows * 2);
    const logProbs = new Float32Array(rows);
    policy.sample(params, rows, Random.fromSeed(5), actions, logProbs);
    const expected = [
      [0.3, 0.5],
      [-1.2, 2]
    ];
    for (let d = 0; d < 2; d++) {
      let m = 0;
      let s = 0;
      for (let r = 0; r < rows; r++) m += actions[r * 2 + d]!;
      m /= rows;
      for (let r = 0; r < rows; r++) s += (actions[r * 2 + d]! - m) ** 2;
      const sd = Math.sqrt(s / rows);
      const [mean, stDev] = expected[d]!;
      expect(Math.abs(m - mean!)).toBeLessThan((4 * stDev!) / Math.sqrt(rows));
      expect(Math.abs(sd / stDev! - 1)).toBeLessThan(0.03);
    }
    const t = tensorSide(policy, params.subarray(0, 400), actions, 100);
    for (let r = 0; r < 100; r++) expect(logProbs[r]!).toBeCloseTo(t.logProb[r]!, 4);
  });

  it("KL(old || new) equals the Monte Carlo mean of log p_old - log p_new, and the entropy -E[log p]", () => {
    const rows = 40000;
    const oldRow = [0.2, -0.4, Math.log(0.8), Math.log(1.3)];
    const newRow = [0.5, -0.1, Math.log(1.1), Math.log(0.9)];
    const oldP = new Float32Array(rows * 4);
    const newP = new Float32Array(rows * 4);
    for (let r = 0; r < rows; r++) {
      oldP.set(oldRow, r * 4);
      newP.set(newRow, r * 4);
    }
    const actions = new Float32Array(rows * 2);
    const logOld = new Float32Array(rows);
    policy.sample(oldP, rows, Random.fromSeed(6), actions, logOld);
    const underOld = tensorSide(policy, oldP, actions, rows, newP);
    const underNew = tensorSide(policy, newP, actions, rows);
    let mcKl = 0;
    let mcEntropy = 0;
    for (let r = 0; r < rows; r++) {
      mcKl += underOld.logProb[r]! - underNew.logProb[r]!;
      mcEntropy -= underOld.logProb[r]!;
    }
    expect(Math.abs(mcKl / rows - underOld.kl[0]!)).toBeLessThan(0.02);
    expect(Math.abs(mcEntropy / rows - underOld.entropy[0]!)).toBeLessThan(0.02);
  });

  it("KL is >= 0 and 0 between identical distributions", () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -2, max: 2, noNaN: true }), { minLength: 8, maxLength: 8 }), (xs) => {
        const a = Float32Array.from(xs.slice(0, 4));
        const b = Float32Array.from(xs.slice(4));
        const t = tensorSide(policy, a, new Float32Array(2), 1, b);
        expect(t.kl[0]!).toBeGreaterThanOrEqual(-1e-5);
        expect(Math.abs(tensorSide(policy, a, new Float32Array(2), 1, a).kl[0]!)).toBeLessThan(1e-5);
      }),
      { numRuns: 50 }
    );
  });
});

describe("CategoricalPolicy", () => {
  let policy: CategoricalPolicy;
  beforeAll(() => {
    policy = new CategoricalPolicy(3, 4, small, Random.fromSeed(1));
  });

  it("samples each action with its softmax probability, with the matching log-probability", () => {
    const rows = 20000;
    const logits = [0.5, -1, 2, 0];
    const z = logits.reduce((s, l) => s + Math.exp(l), 0);
    const params = new Float32Array(rows * 4);
    for (let r = 0; r < rows; r++) params.set(logits, r * 4);
    const actions = new Float32Array(rows);
    const logProbs = new Float32Array(rows);
    policy.sample(params, rows, Random.fromSeed(2), actions, logProbs);
    const counts = [0, 0, 0, 0];
    for (let r = 0; r < rows; r++) counts[actions[r]!]!++;
    logits.forEach((l, k) => {
      const p = Math.exp(l) / z;
      expect(Math.abs(counts[k]! / rows - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / rows));
    });
    for (let r = 0; r < rows; r++) expect(logProbs[r]!).toBeCloseTo(logits[actions[r]!]! - Math.log(z), 5);
    const t = tensorSide(policy, params.subarray(0, 400), actions, 100);
    for (let r = 0; r < 100; r++) expect(logProbs[r]!).toBeCloseTo(t.logProb[r]!, 5);
    expect(t.entropy[0]!).toBeCloseTo(-logits.reduce((s, l) => s + (Math.exp(l) / z) * (l - Math.log(z)), 0), 5);
  });
});

describe("weight bundles and action clipping", () => {
  it("getWeights / setWeights round-trip exactly, and a mismatched bundle throws WeightShapeError", () => {
    const spec = { kind: "continuous" as const, dim: 2, low: Float32Array.of(-1, -1), high: Float32Array.of(1, 1) };
    const a = new ActorCritic(4, spec, defaultActorCriticParams, Random.fromSeed(1));
    const b = new ActorCritic(4, spec, defaultActorCriticParams, Random.fromSeed(2));
    b.setWeights(a.getWeights());
    const obs = Float32Array.from({ length: 8 }, (_, i) => Math.cos(i));
    expect(Array.from(b.evaluate(obs, 2))).toEqual(Array.from(a.evaluate(obs, 2)));
    const c = new ActorCritic(5, spec, defaultActorCriticParams, Random.fromSeed(3));
    expect(() => c.setWeights(a.getWeights())).toThrow(WeightShapeError);
    const missing = a.getWeights();
    delete missing["value/out/bias"];
    expect(() => b.setWeights(missing)).toThrow(WeightShapeError);
    [a, b, c].forEach((x) => x.dispose());
  });

  it("clipActions projects every coordinate onto its bounds and leaves interior actions alone", () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: 6, maxLength: 6 }), (xs) => {
        const spec = { kind: "continuous" as const, dim: 3, low: Float32Array.of(-1, 0, -2), high: Float32Array.of(1, 1, 5) };
        const actions = Float32Array.from(xs);
        const clipped = clipActions(spec, actions, 2, new Float32Array(6));
        for (let k = 0; k < 6; k++) {
          const lo = spec.low[k % 3]!;
          const hi = spec.high[k % 3]!;
          // toBeCloseTo rather than toBe: -0 and +0 are the same action.
          expect(clipped[k]!).toBeCloseTo(Math.min(hi, Math.max(lo, actions[k]!)), 12);
        }
      })
    );
  });
});
