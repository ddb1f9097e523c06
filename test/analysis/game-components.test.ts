/**
 * Definition 3.17 on games with known structure (paper section 3.2): in a potential game (every
 * player maximises the same function) the Jacobian is symmetric, so A = 0 and omega_A = 0; in a
 * zero-sum bilinear game (V_1 = x^T M y = -V_2) the Jacobian [[0, M], [-M^T, 0]] is antisymmetric,
 * so S = 0 and omega_A = 1. A scalar game checks the norms against the matrices written by hand,
 * and the policy-gradient surrogate's gradient is checked against the REINFORCE formula.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { gameComponents, policyGradientGame, type DifferentiableGame } from "../../core/analysis/game-components.ts";
import { Random } from "../../core/random/philox.ts";
import { initTfBackend } from "../../core/rl/backend.ts";

beforeAll(async () => {
  await initTfBackend("cpu");
});

const vector = (rng: Random, n: number) => tf.tensor1d(Array.from({ length: n }, () => rng.normal()));

describe("gameComponents (definition 3.17)", () => {
  it("gives omega_A = 0 for a potential game: all players maximise one smooth function", () => {
    const rng = Random.fromSeed(3).split("potential");
    const x = vector(rng, 3);
    const y = vector(rng, 2);
    const z = vector(rng, 2);
    const W = tf.tensor2d(Array.from({ length: 6 }, () => rng.normal()), [3, 2]);
    // phi = sum tanh(W^T x) * y + |x|^2 |z|^2 / 4 + sum(y * z)^2: cross-coupled, not separable.
    const phi = ([px, py, pz]: readonly (readonly tf.Tensor[])[]): tf.Scalar =>
      tf.tidy(() => {
        const a = tf.sum(tf.mul(tf.tanh(tf.matMul(tf.reshape(px![0]!, [1, 3]), W)), py![0]!));
        const b = tf.mul(tf.mul(tf.sum(tf.square(px![0]!)), tf.sum(tf.square(pz![0]!))), 0.25);
        const c = tf.square(tf.sum(tf.mul(py![0]!, pz![0]!)));
        return tf.addN([a, b, c]) as tf.Scalar;
      });
    const game: DifferentiableGame = { params: [[x], [y], [z]], utility: (_i, ps) => phi(ps) };
    const result = gameComponents(game);
    expect(result.pairs).toHaveLength(3);
    for (const pair of result.pairs) {
      expect(pair.normS).toBeGreaterThan(1e-3);
      expect(pair.omegaA).toBeLessThan(1e-4);
    }
    expect(result.all.omegaA).toBeLessThan(1e-4);
  });

  it("gives omega_A = 1 for a zero-sum bilinear game", () => {
    const rng = Random.fromSeed(4).split("bilinear");
    const x = vector(rng, 3);
    const y = vector(rng, 4);
    const M = tf.tensor2d(Array.from({ length: 12 }, () => rng.normal()), [3, 4]);
    const bilinear = (px: tf.Tensor, py: tf.Tensor) => tf.sum(tf.mul(tf.matMul(tf.reshape(px, [1, 3]), M), tf.reshape(py, [1, 4]))) as tf.Scalar;
    const game: DifferentiableGame = {
      params: [[x], [y]],
      utility: (i, ps) => tf.tidy(() => (i === 0 ? bilinear(ps[0]![0]!, ps[1]![0]!) : (tf.neg(bilinear(ps[0]![0]!, ps[1]![0]!)) as tf.Scalar)))
    };
    const result = gameComponents(game);
    expect(result.pairs[0]!.normA).toBeGreaterThan(1e-3);
    expect(result.pairs[0]!.omegaA).toBeGreaterThan(1 - 1e-4);
    expect(result.all.omegaS).toBeLessThan(1e-4);
  });

  it("gives omega_A = 1/2 when one player's utility ignores the other's strategy (one-way coupling), whatever the other's", () => {
    // From definition 3.17 alone: with V_2 independent of theta_1, J_21 = 0, so the off-diagonal
    // Jacobian is [[0, J_12], [0, 0]], whose symmetric and antisymmetric parts have equal norms along any G.
    for (const seed of [5, 6, 7]) {
      const rng = Random.fromSeed(seed).split("one-way");
      const x = vector(rng, 3);
      const y = vector(rng, 2);
      const W = tf.tensor2d(Array.from({ length: 6 }, () => rng.normal()), [3, 2]);
      const c = tf.tensor1d(Array.from({ length: 2 }, () => rng.normal()));
      const game: DifferentiableGame = {
        params: [[x], [y]],
        utility: (i, ps) =>
          tf.tidy(() => {
            const px = ps[0]![0]!;
            const py = ps[1]![0]!;
            // V_1 couples both strategies; V_2 depends on y only.
            if (i === 0) return tf.add(tf.sum(tf.mul(tf.tanh(tf.matMul(tf.reshape(px, [1, 3]), W)), tf.square(py))), tf.sum(tf.square(px))) as tf.Scalar;
            return tf.sum(tf.mul(tf.sin(py), c)) as tf.Scalar;
          })
      };
      const pair = gameComponents(game).pairs[0]!;
      expect(pair.crossNorms[0]).toBeGreaterThan(1e-3);
      expect(pair.crossNorms[1]).toBe(0);
      expect(pair.omegaA).toBeCloseTo(0.5, 6);
    }
  });

  it("reports the cross terms of a potential game as aligned and those of a zero-sum game as opposed", () => {
    const rng = Random.fromSeed(8).split("alignment");
    const x = vector(rng, 3);
    const y = vector(rng, 4);
    const M = tf.tensor2d(Array.from({ length: 12 }, () => rng.normal()), [3, 4]);
    const coupling = (px: tf.Tensor, py: tf.Tensor) => tf.sum(tf.tanh(tf.mul(tf.matMul(tf.reshape(px, [1, 3]), M), tf.reshape(py, [1, 4])))) as tf.Scalar;
    const sign = (s: number): DifferentiableGame => ({
      params: [[x], [y]],
      utility: (i, ps) => tf.tidy(() => (i === 0 ? coupling(ps[0]![0]!, ps[1]![0]!) : (tf.mul(coupling(ps[0]![0]!, ps[1]![0]!), s) as tf.Scalar)))
    });
    const potential = gameComponents(sign(1)).pairs[0]!;
    const zeroSum = gameComponents(sign(-1)).pairs[0]!;
    expect(potential.crossAlignment).toBeCloseTo(1, 6);
    expect(zeroSum.crossAlignment).toBeCloseTo(-1, 6);
    expect(potential.crossNorms[0]).toBeCloseTo(potential.crossNorms[1], 6);
  });

  it("matches the hand-computed decomposition of a scalar game", () => {
    // V1 = a x y + x^2 y / 2, V2 = c x y - y^2 at (x, y) = (1, 2), a = 1.5, c = -0.5.
    // G = (a y + x y, c x - 2 y) = (5, -4.5). J12 = a + x = 2.5, J21 = c = -0.5.
    // A^T G = ((J21 - J12) G2 / 2, (J12 - J21) G1 / 2) = (6.75, 7.5); S G = ((J12 + J21) G2 / 2, (J12 + J21) G1 / 2) = (-4.5, 5).
    const a = 1.5;
    const c = -0.5;
    const game: DifferentiableGame = {
      params: [[tf.scalar(1)], [tf.scalar(2)]],
      utility: (i, ps) =>
        tf.tidy(() => {
          const x = ps[0]![0]!;
          const y = ps[1]![0]!;
          return (i === 0 ? tf.add(tf.mul(tf.mul(x, y), a), tf.mul(tf.mul(tf.square(x), y), 0.5)) : tf.sub(tf.mul(tf.mul(x, y), c), tf.square(y))) as tf.Scalar;
        })
    };
    const result = gameComponents(game);
    const normA = Math.hypot(6.75, 7.5);
    const normS = Math.hypot(-4.5, 5);
    expect(result.pairs[0]!.normA).toBeCloseTo(normA, 4);
    expect(result.pairs[0]!.normS).toBeCloseTo(normS, 4);
    expect(result.pairs[0]!.omegaA).toBeCloseTo(normA / (normA + normS), 5);
    expect(result.gradientNorms[0]).toBeCloseTo(5, 5);
    // J^T G = (J11 G1 + J21 G2, J12 G1 + J22 G2) with J11 = y = 2, J22 = -2: (10 + 2.25, 12.5 + 9).
    expect(result.jacobianGradientNorm).toBeCloseTo(Math.hypot(12.25, 21.5), 3);
  });
});

/** A small policy network bundle (one hidden layer of 3) with deterministic weights. */
const smallPolicy = (kind: "discrete" | "continuous", seed: number) => {
  const n = kind === "discrete" ? 3 : 2;
  const w: Record<string, { shape: number[]; data: Float32Array }> = {
    "policy/layer0/kernel": { shape: [2, 3], data: Float32Array.from({ length: 6 }, (_, i) => 0.8 * Math.sin(i + seed)) },
    "policy/layer0/bias": { shape: [3], data: Float32Array.from({ length: 3 }, (_, i) => 0.1 * Math.cos(i * seed)) }
  };
  for (const h of kind === "discrete" ? ["logits"] : ["mean", "logStd"]) {
    w[`policy/${h}/kernel`] = { shape: [3, n], data: Float32Array.from({ length: 3 * n }, (_, i) => 0.5 * Math.cos(i * 3 + seed + h.length)) };
    w[`policy/${h}/bias`] = { shape: [n], data: Float32Array.from({ length: n }, (_, i) => 0.1 * i) };
  }
  return w;
};

describe("policyGradientGame", () => {
  it("gives the components of the Jacobian built column by column from finite differences of G", () => {
    // A continuous (Gaussian) player and a discrete (softmax) player, B = 2 episodes of T = 3 steps.
    const B = 2;
    const T = 3;
    const spec = (kind: "discrete" | "continuous") => ({ kind, activation: "tanh" as const, hiddenLayers: 1, logStdMin: -5, logStdMax: 2 });
    const obs = Float32Array.from({ length: B * T * 2 }, (_, i) => Math.sin(1.7 * i));
    const game = policyGradientGame({
      players: [
        { spec: spec("continuous"), weights: smallPolicy("continuous", 1), obsDim: 2, obs, actions: Float32Array.from({ length: B * T * 2 }, (_, i) => Math.cos(i)), actionSize: 2, rewards: Float32Array.from({ length: B * T }, (_, i) => 0.5 * i - 1) },
        { spec: spec("discrete"), weights: smallPolicy("discrete", 2), obsDim: 2, obs, actions: Float32Array.from({ length: B * T }, (_, i) => i % 3), actionSize: 3, rewards: Float32Array.from({ length: B * T }, (_, i) => 1 - 0.3 * i) }
      ],
      episodes: B,
      steps: T,
      discount: 1
    });
    try {
      const result = gameComponents(game);
      // G(theta) of both players, flat, at parameters `flat` (the concatenation of every tensor).
      const shapes = game.params.map((p) => p.map((t) => t.shape));
      const sizes = game.params.map((p) => p.reduce((n, t) => n + t.size, 0));
      const flat0 = Float64Array.from(game.params.flatMap((p) => p.flatMap((t) => [...t.dataSync()])));
      const unflatten = (flat: Float64Array) => {
        let o = 0;
        return shapes.map((ps) => ps.map((shape) => {
          const size = shape.reduce((a, b) => a * b, 1);
          const t = tf.tensor(Float32Array.from(flat.subarray(o, o + size)), shape);
          o += size;
          return t;
        }));
      };
      const gradient = (flat: Float64Array): Float64Array => {
        const ps = unflatten(flat);
        const out: number[] = [];
        ps.forEach((p, i) => {
          const g = tf.grads((...x: tf.Tensor[]) => game.utility(i, ps.map((q, k) => (k === i ? x : q))))([...p]);
          for (const t of g) out.push(...t.dataSync());
          tf.dispose(g);
        });
        tf.dispose(ps.flat());
        return Float64Array.from(out);
      };
      const n = flat0.length;
      const G = gradient(flat0);
      const J: Float64Array[] = Array.from({ length: n }, () => new Float64Array(n)); // J[r][m] = dG_r / dtheta_m
      const h = 1e-2;
      for (let m = 0; m < n; m++) {
        const plus = Float64Array.from(flat0);
        const minus = Float64Array.from(flat0);
        plus[m]! += h;
        minus[m]! -= h;
        const gp = gradient(plus);
        const gm = gradient(minus);
        for (let r = 0; r < n; r++) J[r]![m] = (gp[r]! - gm[r]!) / (2 * h);
      }
      const playerOf = (r: number) => (r < sizes[0]! ? 0 : 1);
      let normA = 0;
      let normS = 0;
      for (let r = 0; r < n; r++) {
        let a = 0;
        let s = 0;
        for (let m = 0; m < n; m++) {
          if (playerOf(m) === playerOf(r)) continue; // A has no diagonal blocks; S excludes them
          a += ((J[m]![r]! - J[r]![m]!) / 2) * G[m]!; // (A^T G)_r = sum_m A_mr G_m
          s += ((J[r]![m]! + J[m]![r]!) / 2) * G[m]!;
        }
        normA += a * a;
        normS += s * s;
      }
      expect(result.pairs[0]!.normA).toBeCloseTo(Math.sqrt(normA), 0);
      expect(Math.abs(result.pairs[0]!.normA / Math.sqrt(normA) - 1)).toBeLessThan(0.02);
      expect(Math.abs(result.pairs[0]!.normS / Math.sqrt(normS) - 1)).toBeLessThan(0.02);
      expect(result.gradientNorms[0]).toBeCloseTo(Math.hypot(...G.subarray(0, sizes[0])), 3);
    } finally {
      game.dispose();
    }
  });

  it("has the Monte Carlo return as value and the REINFORCE estimator as gradient", () => {
    // One player, a linear softmax policy over 2 actions (no hidden layer), B = 2 episodes of T = 2 steps.
    const weights = { "policy/logits/kernel": { shape: [1, 2], data: Float32Array.from([0.3, -0.2]) }, "policy/logits/bias": { shape: [2], data: Float32Array.from([0.1, 0]) } };
    const obs = Float32Array.from([1, -1, 0.5, 2]);
    const actions = Float32Array.from([0, 1, 1, 0]);
    const rewards = Float32Array.from([1, 2, -1, 0.5]);
    const game = policyGradientGame({
      players: [{ spec: { kind: "discrete", activation: "tanh", hiddenLayers: 0, logStdMin: -5, logStdMax: 2 }, weights, obsDim: 1, obs, actions, actionSize: 2, rewards }],
      episodes: 2,
      steps: 2,
      discount: 1
    });
    try {
      const value = game.utility(0, game.params);
      expect(value.dataSync()[0]).toBeCloseTo((1 + 2 - 1 + 0.5) / 2, 6);
      const grads = tf.grads((...p: tf.Tensor[]) => game.utility(0, [p]))([...game.params[0]!]);
      // REINFORCE: (1/B) sum_b sum_t R_t sum_{t' <= t} grad ln pi(a_t'|s_t'); d ln softmax_a / d logits = onehot(a) - p.
      const expected = new Float64Array(4);
      for (let b = 0; b < 2; b++) {
        const score: number[][] = [];
        for (let t = 0; t < 2; t++) {
          const r = b * 2 + t;
          const l0 = 0.3 * obs[r]! + 0.1;
          const l1 = -0.2 * obs[r]!;
          const p0 = Math.exp(l0) / (Math.exp(l0) + Math.exp(l1));
          const d = [(actions[r] === 0 ? 1 : 0) - p0, (actions[r] === 1 ? 1 : 0) - (1 - p0)];
          score.push([d[0]! * obs[r]!, d[1]! * obs[r]!, d[0]!, d[1]!]);
        }
        for (let t = 0; t < 2; t++) for (let tp = 0; tp <= t; tp++) for (let m = 0; m < 4; m++) expected[m]! += (rewards[b * 2 + t]! * score[tp]![m]!) / 2;
      }
      const got = [...grads[0]!.dataSync(), ...grads[1]!.dataSync()];
      got.forEach((g, m) => expect(g).toBeCloseTo(expected[m]!, 5));
    } finally {
      game.dispose();
    }
  });
});
