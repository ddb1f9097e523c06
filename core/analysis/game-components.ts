/**
 * Game components of a differentiable game (paper section 3.2, definitions 3.15-3.17):
 * the game gradient G = (grad_{theta_i} V_i)_i, the Jacobian J with blocks J_ij = grad_{theta_j} G_i,
 * and its decomposition J = D + S + A into the block diagonal D (each player's self-interaction
 * Hessian), the symmetric part S without those blocks and the antisymmetric part A. J is never
 * stored: only its products with G are formed, by reverse-mode automatic differentiation twice
 * (tfjs `grads` of a function that calls `grads`). For players i != j,
 *   a_ij := J_ij G_j    = grad_{theta_i} < grad_{theta_j} V_i , G_j >,
 *   b_ij := J_ji^T G_j  = grad_{theta_i} < grad_{theta_j} V_j , G_j >   (G_j held constant),
 * using the symmetry of second derivatives of V_i. Since A^T G = (J^T G - J G) / 2 and the
 * diagonal blocks cancel in it, block i of A^T G is sum_{j != i} (b_ij - a_ij) / 2, and block i of
 * S G = (J G + J^T G) / 2 - D G is sum_{j != i} (a_ij + b_ij) / 2. J^T G itself is computed as the
 * gradient of |G|^2 / 2 (consensus optimisation's term, reported as a norm). The Hamiltonian weight of
 * definition 3.17 for a set P of players is omega_A = |A~^T G~| / (|A~^T G~| + |S~ G~|) with J
 * restricted to P, and omega_S = 1 - omega_A; this module gives it for every pair and for all
 * players together.
 *
 * What sets a pair's omega_A: split its cross vectors by the utility they come from, v = (a_ij,
 * b_ji) from V_i and u = (b_ij, a_ji) from V_j. Then |A~^T G~|^2 = (|u|^2 + |v|^2 - 2 <u, v>) / 4
 * and |S~ G~|^2 = (|u|^2 + |v|^2 + 2 <u, v>) / 4, so omega_A is above 1/2 exactly when the two
 * utilities' cross terms point against each other (<u, v> < 0), reaches 1 only when they are
 * equal and opposite (a zero-sum coupling), and is 1/2 exactly when one utility has none: a
 * player whose objective ignores the other's strategy makes the pair's weight 1/2, not 1. Each
 * pair reports both norms and the cosine of the angle between u and v.
 *
 * For reinforcement learning (`policyGradientGame`), V_i is the policy-gradient surrogate of
 * Ramponi and Restelli (2021) / Shen et al. (2019): with the DiCE "magic box" of Foerster et al.
 * (2018), V_i = (1/B) sum_b sum_t zeta^t R^i_{t,b} exp(L_{t,b} - L0_{t,b}) where L_{t,b} is the sum
 * over players k and steps t' <= t of ln pi_{theta_k}(a^k_{t'} | s^k_{t'}) and L0 its value at the
 * current weights (a constant). Its value is the Monte Carlo return, its gradient the REINFORCE
 * estimator g^i_b, and its second derivatives the estimators of [J]_ij and [J]_ii in section 3.2.
 * Decision: players that share a policy (the two LPs of figure 6's 2v1 game) are given untied
 * copies of the shared weights, each differentiated only through its own agent's actions, so that
 * the Jacobian is that of the game between them evaluated at the shared point.
 */
import * as tf from "@tensorflow/tfjs";
import type { WeightMap } from "../rl/networks.ts";

export type PlayerParams = readonly tf.Tensor[];
export type ActivationName = "tanh" | "relu";

/** A game whose players' strategies are tensors and whose utilities are differentiable tfjs scalars. */
export interface DifferentiableGame {
  /** Current strategy of every player (not disposed by this module). */
  readonly params: readonly PlayerParams[];
  /** V_i at the strategies `params` (same shapes as `this.params`). */
  utility(player: number, params: readonly PlayerParams[]): tf.Scalar;
}

export interface ComponentNorms {
  /** |A~^T G~| and |S~ G~| for the restricted game. */
  readonly normA: number;
  readonly normS: number;
  /** Hamiltonian weight omega_A and potential weight omega_S = 1 - omega_A (NaN when both norms vanish). */
  readonly omegaA: number;
  readonly omegaS: number;
}

export interface PairComponents extends ComponentNorms {
  readonly i: number;
  readonly j: number;
  /** |v| and |u|: the norms of the cross terms that come from V_i and from V_j (module note). */
  readonly crossNorms: readonly [number, number];
  /** <u, v> / (|u| |v|): +1 for a potential coupling, -1 for a zero-sum one (NaN when either is 0). */
  readonly crossAlignment: number;
}

export interface GameComponents {
  /** |G_i| per player. */
  readonly gradientNorms: readonly number[];
  /** One entry per unordered pair i < j. */
  readonly pairs: readonly PairComponents[];
  /** All players together. */
  readonly all: ComponentNorms;
  /** |J^T G|, the gradient of |G|^2 / 2. */
  readonly jacobianGradientNorm: number;
}

const flatten = (tensors: readonly tf.Tensor[]): Float64Array => {
  const parts = tensors.map((t) => t.dataSync());
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** Runs `f` in a tidy scope and reads its tensors back as one flat array. */
const tidyRead = (f: () => tf.Tensor[]): Float64Array => {
  let out: Float64Array = new Float64Array(0);
  tf.tidy(() => {
    out = flatten(f());
  });
  return out;
};

/**
 * 0 * sum(x) for every tensor: added to a function so that tfjs differentiates it even where it
 * does not depend on an argument (tfjs throws then; the true derivative is 0, which this gives).
 */
const tie = (xs: readonly tf.Tensor[]): tf.Scalar => tf.addN(xs.map((x) => tf.sum(tf.mul(x, 0)))) as tf.Scalar;

const dot = (xs: readonly tf.Tensor[], ys: readonly tf.Tensor[]): tf.Scalar => tf.addN(xs.map((x, m) => tf.sum(tf.mul(x, ys[m]!)))) as tf.Scalar;

const weightsOf = (norms: { a: number; s: number }): ComponentNorms => {
  const normA = Math.sqrt(norms.a);
  const normS = Math.sqrt(norms.s);
  const omegaA = normA + normS > 0 ? normA / (normA + normS) : Number.NaN;
  return { normA, normS, omegaA, omegaS: 1 - omegaA };
};

const substitute = (params: readonly PlayerParams[], replace: ReadonlyMap<number, PlayerParams>): PlayerParams[] =>
  params.map((p, k) => replace.get(k) ?? p);

/** G_i and the cross products a_ij, b_ij of every ordered pair, then the norms of definition 3.17. */
export const gameComponents = (game: DifferentiableGame): GameComponents => {
  const n = game.params.length;
  const G: tf.Tensor[][] = [];
  try {
    for (let i = 0; i < n; i++) {
      const grads = tf.grads((...xi: tf.Tensor[]) => tf.add(game.utility(i, substitute(game.params, new Map([[i, xi]]))), tie(xi)) as tf.Scalar);
      G.push(tf.tidy(() => grads([...game.params[i]!])));
    }
    const gradientNorms = G.map((g) => Math.hypot(...flatten(g)));
    /** grad_{theta_i} < grad_{theta_j} V_k , G_j >, flattened. */
    const cross = (i: number, j: number, k: number): Float64Array =>
      tidyRead(() => {
        const outer = tf.grads((...xi: tf.Tensor[]) => {
          const inner = tf.grads((...xj: tf.Tensor[]) => tf.add(game.utility(k, substitute(game.params, new Map([[i, xi], [j, xj]]))), tie(xj)) as tf.Scalar);
          return tf.add(dot(inner([...game.params[j]!]), G[j]!), tie(xi)) as tf.Scalar;
        });
        return outer([...game.params[i]!]);
      });
    const a: Float64Array[][] = [];
    const b: Float64Array[][] = [];
    for (let i = 0; i < n; i++) {
      a.push([]);
      b.push([]);
      for (let j = 0; j < n; j++) {
        a[i]!.push(i === j ? new Float64Array(0) : cross(i, j, i));
        b[i]!.push(i === j ? new Float64Array(0) : cross(i, j, j));
      }
    }
    const norms = (players: readonly number[]) => {
      let sa = 0;
      let ss = 0;
      for (const i of players) {
        const size = a[i]!.find((v) => v.length > 0)?.length ?? 0;
        const blockA = new Float64Array(size);
        const blockS = new Float64Array(size);
        for (const j of players) {
          if (j === i) continue;
          const aij = a[i]![j]!;
          const bij = b[i]![j]!;
          for (let m = 0; m < size; m++) {
            blockA[m]! += (bij[m]! - aij[m]!) / 2;
            blockS[m]! += (aij[m]! + bij[m]!) / 2;
          }
        }
        for (let m = 0; m < size; m++) {
          sa += blockA[m]! ** 2;
          ss += blockS[m]! ** 2;
        }
      }
      return weightsOf({ a: sa, s: ss });
    };
    /** The cross vectors of pair (i, j) by the utility they come from: v from V_i, u from V_j. */
    const crossTerms = (i: number, j: number) => {
      let vv = 0;
      let uu = 0;
      let uv = 0;
      for (const [fromI, fromJ] of [[a[i]![j]!, b[i]![j]!], [b[j]![i]!, a[j]![i]!]] as const) {
        for (let m = 0; m < fromI.length; m++) {
          vv += fromI[m]! ** 2;
          uu += fromJ[m]! ** 2;
          uv += fromI[m]! * fromJ[m]!;
        }
      }
      const crossNorms: [number, number] = [Math.sqrt(vv), Math.sqrt(uu)];
      return { crossNorms, crossAlignment: vv > 0 && uu > 0 ? uv / (crossNorms[0] * crossNorms[1]) : Number.NaN };
    };
    const pairs: PairComponents[] = [];
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pairs.push({ i, j, ...norms([i, j]), ...crossTerms(i, j) });
    // J^T G as the gradient of |G|^2 / 2 over every player's parameters (consensus optimisation's term).
    const all = game.params.map((p) => [...p]);
    const sizes = all.map((p) => p.length);
    const jtg = tidyRead(() =>
      tf.grads((...flat: tf.Tensor[]) => {
        const ps: tf.Tensor[][] = [];
        let o = 0;
        for (const n of sizes) {
          ps.push(flat.slice(o, o + n));
          o += n;
        }
        const halfSquares = ps.map((xi, i) => {
          const gi = tf.grads((...xj: tf.Tensor[]) => tf.add(game.utility(i, ps.map((q, k) => (k === i ? xj : q))), tie(xj)) as tf.Scalar)(xi);
          return tf.mul(dot(gi, gi), 0.5);
        });
        return tf.add(tf.addN(halfSquares), tie(flat)) as tf.Scalar;
      })(all.flat())
    );
    const jacobianGradientNorm = Math.hypot(...jtg);
    return { gradientNorms, pairs, all: norms(Array.from({ length: n }, (_, i) => i)), jacobianGradientNorm };
  } finally {
    for (const g of G) for (const t of g) t.dispose();
  }
};

// ---------------------------------------------------------------------------------------------
// Policy-gradient games
// ---------------------------------------------------------------------------------------------

/** How to rebuild a policy network's forward pass from its weights (core/rl/networks.ts layout). */
export interface PolicyForwardSpec {
  readonly kind: "continuous" | "discrete";
  readonly activation: ActivationName;
  /** Number of hidden layers (`policy/layer{l}`). */
  readonly hiddenLayers: number;
  /** Gaussian policies: the log-stDev clamp. */
  readonly logStdMin: number;
  readonly logStdMax: number;
}

/** One player of a policy-gradient game: its policy and its own experience. */
export interface PolicyPlayer {
  readonly spec: PolicyForwardSpec;
  /** The policy network's weights (`policy/...` entries of an ActorCritic bundle). */
  readonly weights: WeightMap;
  readonly obsDim: number;
  /** [B * T * obsDim], episode-major (row b * T + t). */
  readonly obs: Float32Array;
  /** [B * T * actionDim] unclipped continuous samples, or [B * T] action indices. */
  readonly actions: Float32Array;
  /** Continuous: action dimension; discrete: number of actions. */
  readonly actionSize: number;
  /** [B * T] the player's rewards. */
  readonly rewards: Float32Array;
}

export interface PolicyGameData {
  readonly players: readonly PolicyPlayer[];
  readonly episodes: number;
  readonly steps: number;
  /** zeta. */
  readonly discount: number;
}

const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/*
 * Ops that stay differentiable twice. tfjs connects a gradient to the outer tape of a nested
 * `grads` only through the INPUTS a kernel saved for its backward pass, not through saved OUTPUTS:
 * tf.exp, tf.tanh and tf.logSoftmax reuse their output in their gradient, so their second
 * derivatives come out as 0. These versions recompute the derivative from the input instead.
 */
const exp2 = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  return { value: tf.exp(x), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, exp2(saved[0]!)) };
}) as (x: tf.Tensor) => tf.Tensor;

/** tanh(x) = 1 - 2 / (exp(2x) + 1), from twice-differentiable pieces. */
const tanh2 = (x: tf.Tensor): tf.Tensor => tf.sub(1, tf.div(2, tf.add(exp2(tf.mul(x, 2)), 1)));

/**
 * log softmax over axis 1 as z - log sum exp(z), without the usual max shift: the shift's own
 * gradient (tf.max) cannot be differentiated twice in tfjs. float32 exp overflows only for logits
 * above ~88, far from what a policy with softmax outputs produces.
 */
const logSoftmax2 = (z: tf.Tensor2D): tf.Tensor2D => tf.sub(z, tf.log(tf.sum(exp2(z), 1, true))) as tf.Tensor2D;

const policyTensorNames = (spec: PolicyForwardSpec): string[] => {
  const names: string[] = [];
  for (let l = 0; l < spec.hiddenLayers; l++) names.push(`policy/layer${l}/kernel`, `policy/layer${l}/bias`);
  const heads = spec.kind === "continuous" ? ["mean", "logStd"] : ["logits"];
  for (const h of heads) names.push(`policy/${h}/kernel`, `policy/${h}/bias`);
  return names;
};

/** Raised when a weight bundle lacks a tensor the policy forward pass needs. */
export class PolicyWeightsError extends Error {
  readonly _tag = "PolicyWeightsError";
  constructor(name: string) {
    super(`The policy weights have no "${name}"; pass the weights of an ActorCritic (getWeights()) with the same layer count.`);
  }
}

/** ln pi(a_r | s_r) for every row, as a differentiable function of the policy tensors (in `policyTensorNames` order). */
/**
 * The log-stDev clamp as constants of the current point: `inside` is 1 where the raw output lies
 * within the bounds, `clamped` the clamped values. tfjs cannot differentiate clipByValue twice
 * (its gradient goes through LogicalAnd), and inside * raw + (1 - inside) * clamped has the same
 * value and derivatives of every order at the current weights.
 */
interface ClampMask {
  readonly inside: tf.Tensor2D;
  readonly clamped: tf.Tensor2D;
}

const logProbs = (spec: PolicyForwardSpec, params: PlayerParams, obs: tf.Tensor2D, actions: tf.Tensor2D, clamp?: ClampMask): tf.Tensor1D => {
  let x: tf.Tensor2D = obs;
  let k = 0;
  for (let l = 0; l < spec.hiddenLayers; l++) {
    const z = tf.add(tf.matMul(x, params[k++] as tf.Tensor2D), params[k++]!) as tf.Tensor2D;
    x = (spec.activation === "tanh" ? tanh2(z) : tf.relu(z)) as tf.Tensor2D;
  }
  const head = () => tf.add(tf.matMul(x, params[k++] as tf.Tensor2D), params[k++]!) as tf.Tensor2D;
  if (spec.kind === "discrete") return tf.sum(tf.mul(logSoftmax2(head()), actions), 1) as tf.Tensor1D;
  const mean = head();
  const raw = head();
  const logStd = clamp === undefined ? tf.clipByValue(raw, spec.logStdMin, spec.logStdMax) : tf.add(tf.mul(raw, clamp.inside), tf.mul(clamp.clamped, tf.sub(1, clamp.inside)));
  const z = tf.mul(tf.sub(actions, mean), exp2(tf.neg(logStd)));
  const perDim = tf.sub(tf.mul(tf.square(z), -0.5), logStd);
  return tf.sub(tf.sum(perDim, 1), HALF_LOG_TWO_PI * actions.shape[1]) as tf.Tensor1D;
};

export interface PolicyGame extends DifferentiableGame {
  dispose(): void;
}

/**
 * The policy-gradient game of a batch of episodes (definition 3.17 with the estimators of section
 * 3.2). Dispose it after use: it holds the players' weights and data as tensors.
 */
export const policyGradientGame = (data: PolicyGameData): PolicyGame => {
  const { episodes: B, steps: T } = data;
  const rows = B * T;
  const held: tf.Tensor[] = [];
  const keep = <X extends tf.Tensor>(t: X): X => {
    held.push(t);
    return t;
  };
  const params = data.players.map((p) =>
    policyTensorNames(p.spec).map((name) => {
      const w = p.weights[name];
      if (w === undefined) throw new PolicyWeightsError(name);
      return keep(tf.tensor(w.data, w.shape));
    })
  );
  const inputs = data.players.map((p) => {
    if (p.obs.length !== rows * p.obsDim || p.rewards.length !== rows) throw new RangeError(`policyGradientGame: a player's data does not hold ${B} x ${T} rows; pass episode-major rows.`);
    const obs = keep(tf.tensor2d(p.obs, [rows, p.obsDim]));
    let actions: tf.Tensor2D;
    if (p.spec.kind === "discrete") {
      const oneHot = new Float32Array(rows * p.actionSize);
      for (let r = 0; r < rows; r++) oneHot[r * p.actionSize + p.actions[r]!] = 1;
      actions = keep(tf.tensor2d(oneHot, [rows, p.actionSize]));
    } else actions = keep(tf.tensor2d(p.actions, [rows, p.actionSize]));
    const discounted = new Float32Array(rows);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) discounted[b * T + t] = p.rewards[b * T + t]! * data.discount ** t;
    let clamp: ClampMask | undefined;
    if (p.spec.kind === "continuous") {
      const layers = params[data.players.indexOf(p)]!;
      const raw = tf.tidy(() => {
        let x: tf.Tensor2D = obs;
        let k = 0;
        for (let l = 0; l < p.spec.hiddenLayers; l++) {
          const z = tf.add(tf.matMul(x, layers[k++] as tf.Tensor2D), layers[k++]!) as tf.Tensor2D;
          x = p.spec.activation === "tanh" ? tf.tanh(z) : tf.relu(z);
        }
        return tf.add(tf.matMul(x, layers[k + 2] as tf.Tensor2D), layers[k + 3]!) as tf.Tensor2D;
      });
      clamp = {
        inside: keep(tf.tidy(() => tf.cast(tf.logicalAnd(tf.greaterEqual(raw, p.spec.logStdMin), tf.lessEqual(raw, p.spec.logStdMax)), "float32") as tf.Tensor2D)),
        clamped: keep(tf.tidy(() => tf.clipByValue(raw, p.spec.logStdMin, p.spec.logStdMax)))
      };
      raw.dispose();
    }
    return { obs, actions, rewards: keep(tf.tensor2d(discounted, [B, T])), clamp };
  });
  /** L_{t,b}: cumulative sum over t of every player's log-probabilities: [B, T]. */
  const cumulativeLogProb = (ps: readonly PlayerParams[]): tf.Tensor2D => {
    const total = tf.addN(data.players.map((p, k) => logProbs(p.spec, ps[k]!, inputs[k]!.obs, inputs[k]!.actions, inputs[k]!.clamp)));
    return tf.cumsum(tf.reshape(total, [B, T]), 1) as tf.Tensor2D;
  };
  const base = keep(tf.tidy(() => cumulativeLogProb(params)));
  return {
    params,
    utility: (player, ps) => {
      const box = exp2(tf.sub(cumulativeLogProb(ps), base));
      return tf.div(tf.sum(tf.mul(inputs[player]!.rewards, box)), B) as tf.Scalar;
    },
    dispose: () => {
      for (const t of held) t.dispose();
    }
  };
};

/** The forward spec of a core/rl ActorCritic policy from its network params. */
export const policyForwardSpec = (
  kind: "continuous" | "discrete",
  network: { readonly policy: { readonly hiddenWidths: readonly number[]; readonly activation: ActivationName }; readonly gaussian: { readonly logStdMin: number; readonly logStdMax: number } }
): PolicyForwardSpec => ({
  kind,
  activation: network.policy.activation,
  hiddenLayers: network.policy.hiddenWidths.length,
  logStdMin: network.gaussian.logStdMin,
  logStdMax: network.gaussian.logStdMax
});
