/**
 * Proximal Policy Optimisation (Schulman et al., 2017) for the shared policies of the OTC game
 * (paper section 5 and sections 2.2.1 and 3.1). The paper used RLlib's PPO of its
 * time, so the defaults below are RLlib's: clipped surrogate (clip 0.3) PLUS an adaptive KL
 * penalty (coefficient 0.2, target 0.01), learning rate 1e-4, 30 SGD passes over each batch in
 * minibatches, discount 1, GAE lambda 1, advantages standardised over the batch, a separate value
 * network with a clipped value loss, no entropy bonus. All agents of a class share one policy, so
 * a batch is the experience of every agent of the class over B episodes (eq. 10).
 *
 * Read top to bottom: parameters, generalised advantage estimation, the agent (networks,
 * optimiser, KL coefficient), the losses, and the update. The losses here are the tfjs reference;
 * with the onnxruntime compute backend (`network.compute`) the same losses, their hand-derived
 * gradients and Adam run as one ONNX graph per minibatch step (onnx-ppo.ts). Every random draw (minibatch shuffles)
 * comes from the `Random` passed in, so an update is a deterministic function of its inputs.
 */
import * as tf from "@tensorflow/tfjs";
import type { Random } from "../random/philox.ts";
import { Adam, defaultAdamParams, type AdamParams, type AdamState, type AdamStateHolder } from "./adam.ts";
import { ActorCritic, defaultActorCriticParams, splitColumns, type ActorCriticParams, type WeightMap } from "./networks.ts";
import type { OnnxMinibatch } from "./onnx-networks.ts";
import type { ActionSpec } from "./vec-env.ts";

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

export interface PpoParams {
  /** Surrogate clip: probability ratios are clipped to [1 - clip, 1 + clip]. */
  clipParam: number;
  /** Initial coefficient of the KL(old || new) penalty added to the policy loss. */
  klCoeffInitial: number;
  /** Mean KL per update the adaptive coefficient aims at. */
  klTarget: number;
  /** The coefficient is multiplied by klIncreaseFactor when KL > klIncreaseThreshold * target. */
  klIncreaseThreshold: number;
  klIncreaseFactor: number;
  /** The coefficient is multiplied by klDecreaseFactor when KL < klDecreaseThreshold * target. */
  klDecreaseThreshold: number;
  klDecreaseFactor: number;
  /** Adam step size. */
  learningRate: number;
  /** Passes of minibatch SGD over the whole batch per update ("num_sgd_iter"). */
  sgdPasses: number;
  /**
   * Samples per minibatch ("sgd_minibatch_size"). RLlib's default was 128; with the paper's
   * batches of n_agents * T * B samples (60 000 for 10 agents) that is ~14 000 Adam steps per
   * update. The default here is 128 to stay with the paper; raise it (e.g. 1024-4096) to trade
   * steps for throughput: the per-step overhead of tfjs is amortised over more rows.
   */
  minibatchSize: number;
  /** Discount zeta of future rewards (1: episodes are short and finite). */
  discount: number;
  /** GAE lambda (1: Monte-Carlo returns minus the value baseline). */
  gaeLambda: number;
  /** Standardise advantages to mean 0, stDev 1 over the whole batch before the SGD passes. */
  standardizeAdvantages: boolean;
  /** Weight of the value loss in the total loss. */
  valueLossCoeff: number;
  /** Value predictions may move at most this far from the rollout's values per update (null: no clip). */
  valueClipParam: number | null;
  /** Weight of the entropy bonus (0: none, as in the paper). */
  entropyCoeff: number;
  /** Gradients are rescaled to this global L2 norm when larger (null: no clipping, RLlib's default). */
  maxGradNorm: number | null;
  /** Rows per chunk when the KL of the updated policy is measured on the whole batch. */
  evaluationChunkSize: number;
  /** Layer sizes, activations and initialisation of the policy and value networks. */
  network: ActorCriticParams;
  /** Adam's moment decays and epsilon. */
  adam: AdamParams;
}

export const defaultPpoParams: PpoParams = {
  clipParam: 0.3,
  klCoeffInitial: 0.2,
  klTarget: 0.01,
  klIncreaseThreshold: 2,
  klIncreaseFactor: 1.5,
  klDecreaseThreshold: 0.5,
  klDecreaseFactor: 0.5,
  learningRate: 1e-4,
  sgdPasses: 30,
  minibatchSize: 128,
  discount: 1,
  gaeLambda: 1,
  standardizeAdvantages: true,
  valueLossCoeff: 1,
  valueClipParam: 10,
  entropyCoeff: 0,
  maxGradNorm: null,
  evaluationChunkSize: 8192,
  network: defaultActorCriticParams,
  adam: defaultAdamParams
};

/** Raised when a batch does not match the agent it is meant to train. */
export class PpoBatchError extends Error {
  readonly _tag = "PpoBatchError";
  constructor(readonly detail: string) {
    super(`The PPO batch does not fit the agent: ${detail}; build the batch with collectRollouts for this agent's class.`);
  }
}

// ---------------------------------------------------------------------------------------------
// Generalised advantage estimation (Schulman et al., 2016)
// ---------------------------------------------------------------------------------------------

export interface GaeInput {
  /** Time-major [steps, agents] arrays: entry t * agents + i. */
  rewards: Float32Array;
  values: Float32Array;
  /** 1 where the episode of agent i ended with step t (nothing is bootstrapped past it). */
  dones: Float32Array;
  /** V(s_steps) per agent, used where the last step is not an episode end. */
  lastValues: Float32Array;
  steps: number;
  agents: number;
  discount: number;
  lambda: number;
}

/**
 * A_t = sum_l (discount * lambda)^l delta_{t+l}, delta_t = r_t + discount * V(s_{t+1}) (1 - done_t)
 * - V(s_t), and returns (value targets) A_t + V(s_t). Accumulated in float64.
 */
export const computeGae = (input: GaeInput): { advantages: Float32Array; returns: Float32Array } => {
  const { rewards, values, dones, lastValues, steps, agents, discount, lambda } = input;
  const n = steps * agents;
  if (rewards.length < n || values.length < n || dones.length < n || lastValues.length < agents) {
    throw new PpoBatchError(`GAE needs ${n} rewards, values and dones and ${agents} last values`);
  }
  const advantages = new Float32Array(n);
  const returns = new Float32Array(n);
  for (let i = 0; i < agents; i++) {
    let nextAdvantage = 0;
    let nextValue = lastValues[i]!;
    for (let t = steps - 1; t >= 0; t--) {
      const k = t * agents + i;
      const notDone = 1 - dones[k]!;
      const delta = rewards[k]! + discount * nextValue * notDone - values[k]!;
      nextAdvantage = delta + discount * lambda * notDone * nextAdvantage;
      advantages[k] = nextAdvantage;
      returns[k] = nextAdvantage + values[k]!;
      nextValue = values[k]!;
    }
  }
  return { advantages, returns };
};

// ---------------------------------------------------------------------------------------------
// Batch and agent
// ---------------------------------------------------------------------------------------------

/** The experience of one class: `size` samples, row-aligned arrays. */
export interface PpoBatch {
  size: number;
  obsDim: number;
  /** Width of an action row (dim, or 1 for a discrete index). */
  actionDim: number;
  /** Width of a distribution-parameter row. */
  paramDim: number;
  obs: Float32Array;
  /** Unclipped actions (or indices) as sampled. */
  actions: Float32Array;
  /** Log-probabilities of the actions under the policy that sampled them. */
  logProbs: Float32Array;
  /** Distribution parameters of the sampling policy (for the KL penalty). */
  distParams: Float32Array;
  values: Float32Array;
  rewards: Float32Array;
  dones: Float32Array;
  advantages: Float32Array;
  returns: Float32Array;
}

/** Zero-filled buffers for `size` samples of a policy with these widths (advantages/returns filled later). */
export const emptyPpoBatch = (size: number, obsDim: number, widths: { actionDim: number; paramDim: number }): PpoBatch => ({
  size,
  obsDim,
  actionDim: widths.actionDim,
  paramDim: widths.paramDim,
  obs: new Float32Array(size * obsDim),
  actions: new Float32Array(size * widths.actionDim),
  logProbs: new Float32Array(size),
  distParams: new Float32Array(size * widths.paramDim),
  values: new Float32Array(size),
  rewards: new Float32Array(size),
  dones: new Float32Array(size),
  advantages: new Float32Array(0),
  returns: new Float32Array(0)
});

export interface PpoAgentState {
  /** Policy and value network weights by variable name. */
  weights: WeightMap;
  optimizer: AdamState;
  klCoeff: number;
}

/** The learner of one agent class: its networks, their optimiser and the adaptive KL coefficient. */
export class PpoAgent {
  readonly net: ActorCritic;
  readonly optimizer: Adam;
  klCoeff: number;

  constructor(
    readonly obsDim: number,
    readonly action: ActionSpec,
    readonly params: PpoParams,
    rng: Random
  ) {
    this.net = new ActorCritic(obsDim, action, params.network, rng.split("networks"));
    this.optimizer = new Adam(this.net.variables(), params.adam);
    this.klCoeff = params.klCoeffInitial;
  }

  /** Where the optimiser's state lives: in the onnxruntime networks when they train, else in the JS Adam. */
  private get adamState(): AdamStateHolder {
    return this.net.onnx?.adam ?? this.optimizer;
  }

  /** Everything needed to continue training bit-identically (copied out of the tensors). */
  getState(): PpoAgentState {
    return { weights: this.net.getWeights(), optimizer: this.adamState.getState(), klCoeff: this.klCoeff };
  }

  /**
   * Restores a state from `getState`; a state that does not fit throws WeightShapeError and changes
   * nothing. States are interchangeable between the tfjs and onnxruntime backends (same layout).
   */
  setState(state: PpoAgentState): void {
    this.adamState.checkState(state.optimizer);
    this.net.setWeights(state.weights);
    this.adamState.setState(state.optimizer);
    this.klCoeff = state.klCoeff;
  }

  dispose(): void {
    this.net.dispose();
    this.optimizer.dispose();
  }
}

/** RLlib's rule: x increase factor above increaseThreshold * target, x decrease factor below decreaseThreshold * target. */
export const adaptKlCoeff = (klCoeff: number, meanKl: number, params: PpoParams): number => {
  if (meanKl > params.klIncreaseThreshold * params.klTarget) return klCoeff * params.klIncreaseFactor;
  if (meanKl < params.klDecreaseThreshold * params.klTarget) return klCoeff * params.klDecreaseFactor;
  return klCoeff;
};

// ---------------------------------------------------------------------------------------------
// Losses
// ---------------------------------------------------------------------------------------------

/** A minibatch as tensors. */
export interface PpoMinibatch {
  obs: tf.Tensor2D;
  /** Actions in the policy's loss encoding (one-hot for discrete actions). */
  actionFeatures: tf.Tensor2D;
  oldLogProbs: tf.Tensor1D;
  /** The sampling policy's distribution parameters, as parts (see `Policy.paramParts`). */
  oldDistParams: tf.Tensor2D[];
  oldValues: tf.Tensor1D;
  advantages: tf.Tensor1D;
  returns: tf.Tensor1D;
}

export interface PpoLosses {
  /** What is minimised: policy + klCoeff * kl + valueLossCoeff * value - entropyCoeff * entropy. */
  total: tf.Scalar;
  /** -mean(min(ratio * A, clip(ratio, 1 - c, 1 + c) * A)). */
  policy: tf.Scalar;
  /** mean(max((V - R)^2, (V_old + clip(V - V_old, -vc, vc) - R)^2)), or mean((V - R)^2) unclipped. */
  value: tf.Scalar;
  /** mean KL(old || new), analytic. */
  kl: tf.Scalar;
  /** Mean entropy of the new policy (null when neither asked for nor in the loss). */
  entropy: tf.Scalar | null;
  /** mean((ratio - 1) - log ratio), the low-variance estimator CleanRL logs (null unless asked for). */
  approxKl: tf.Scalar | null;
  /** Fraction of samples whose ratio lies outside the clip range (null unless asked for). */
  clipFraction: tf.Scalar | null;
}

/**
 * The PPO losses of `net` on a minibatch (differentiable in the network variables). With
 * `diagnostics` false the entropy (unless in the loss), approxKl and clipFraction are skipped:
 * on small minibatches every tensor op costs as much as the arithmetic of a few rows.
 */
export const ppoLosses = (net: ActorCritic, mb: PpoMinibatch, params: PpoParams, klCoeff: number, diagnostics = true): PpoLosses => {
  const policy = net.policy;
  const newParams = policy.distParams(mb.obs);
  const logRatio = tf.sub(policy.logProb(newParams, mb.actionFeatures), mb.oldLogProbs);
  const ratio = tf.exp(logRatio);
  const clip = params.clipParam;
  const surrogate = tf.minimum(tf.mul(ratio, mb.advantages), tf.mul(tf.clipByValue(ratio, 1 - clip, 1 + clip), mb.advantages));
  const policyLoss = tf.neg(tf.mean(surrogate)) as tf.Scalar;
  const kl = tf.mean(policy.kl(mb.oldDistParams, newParams)) as tf.Scalar;
  const entropy = diagnostics || params.entropyCoeff !== 0 ? (tf.mean(policy.entropy(newParams)) as tf.Scalar) : null;

  const values = net.values(mb.obs);
  const squaredError = tf.squaredDifference(values, mb.returns);
  let valueLoss: tf.Scalar;
  if (params.valueClipParam === null) {
    valueLoss = tf.mean(squaredError) as tf.Scalar;
  } else {
    const vc = params.valueClipParam;
    const clippedValues = tf.add(mb.oldValues, tf.clipByValue(tf.sub(values, mb.oldValues), -vc, vc));
    valueLoss = tf.mean(tf.maximum(squaredError, tf.squaredDifference(clippedValues, mb.returns))) as tf.Scalar;
  }

  let total = tf.add(policyLoss, tf.mul(valueLoss, params.valueLossCoeff)) as tf.Scalar;
  if (klCoeff !== 0) total = tf.add(total, tf.mul(kl, klCoeff)) as tf.Scalar;
  if (params.entropyCoeff !== 0) total = tf.sub(total, tf.mul(entropy!, params.entropyCoeff)) as tf.Scalar;
  if (!diagnostics) return { total, policy: policyLoss, value: valueLoss, kl, entropy, approxKl: null, clipFraction: null };

  const approxKl = tf.mean(tf.sub(tf.sub(ratio, 1), logRatio)) as tf.Scalar;
  const clipFraction = tf.mean(tf.cast(tf.greater(tf.abs(tf.sub(ratio, 1)), clip), "float32")) as tf.Scalar;
  return { total, policy: policyLoss, value: valueLoss, kl, entropy, approxKl, clipFraction };
};

// ---------------------------------------------------------------------------------------------
// Update
// ---------------------------------------------------------------------------------------------

/**
 * Metrics of one update, named as in CleanRL where CleanRL has the quantity. Losses, entropy,
 * approx_kl and clipfrac are means over the minibatches of the LAST pass (CleanRL logs its last
 * minibatch); computing them on every pass would cost ~5% of the update.
 */
export interface PpoMetrics {
  "losses/policy_loss": number;
  "losses/value_loss": number;
  "losses/entropy": number;
  /** CleanRL's (ratio - 1) - log ratio estimator. */
  "losses/approx_kl": number;
  /** Analytic mean KL(old || new) over the whole batch after the update: what adapts the coefficient. */
  "losses/kl": number;
  "losses/clipfrac": number;
  "losses/explained_variance": number;
  /** The KL coefficient used during this update (the agent now holds the adapted one). */
  "charts/kl_coeff": number;
  "charts/learning_rate": number;
  "charts/sgd_steps": number;
}

const METRIC_COUNT = 5; // policy, value, entropy, approxKl, clipFraction

const explainedVariance = (values: Float32Array, returns: Float32Array, n: number): number => {
  let meanR = 0;
  let meanE = 0;
  for (let i = 0; i < n; i++) {
    meanR += returns[i]!;
    meanE += returns[i]! - values[i]!;
  }
  meanR /= n;
  meanE /= n;
  let varR = 0;
  let varE = 0;
  for (let i = 0; i < n; i++) {
    varR += (returns[i]! - meanR) ** 2;
    varE += (returns[i]! - values[i]! - meanE) ** 2;
  }
  return varR === 0 ? Number.NaN : 1 - varE / varR;
};

/** Rescales all gradients together so that their joint L2 norm is at most `maxNorm`. */
const clipByGlobalNorm = (gradients: tf.Tensor[], maxNorm: number): tf.Tensor[] => {
  const norm = tf.sqrt(tf.addN(gradients.map((g) => tf.sum(tf.square(g)))));
  const scale = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)));
  return gradients.map((g) => tf.mul(g, scale));
};

/** Advantages standardised over the batch (float64 statistics). */
const standardize = (x: Float32Array, n: number): Float32Array => {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i]!;
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (x[i]! - mean) ** 2;
  const scale = 1 / (Math.sqrt(variance / n) + 1e-8);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (x[i]! - mean) * scale;
  return out;
};

const checkBatch = (agent: PpoAgent, batch: PpoBatch): void => {
  const policy = agent.net.policy;
  const n = batch.size;
  if (n <= 0) throw new PpoBatchError("it is empty");
  if (batch.obsDim !== agent.obsDim) throw new PpoBatchError(`obsDim ${batch.obsDim} differs from the agent's ${agent.obsDim}`);
  if (batch.actionDim !== policy.actionDim) throw new PpoBatchError(`actionDim ${batch.actionDim} differs from ${policy.actionDim}`);
  if (batch.paramDim !== policy.paramDim) throw new PpoBatchError(`paramDim ${batch.paramDim} differs from ${policy.paramDim}`);
  const rowArrays: [string, Float32Array, number][] = [
    ["obs", batch.obs, agent.obsDim],
    ["actions", batch.actions, policy.actionDim],
    ["distParams", batch.distParams, policy.paramDim],
    ["logProbs", batch.logProbs, 1],
    ["values", batch.values, 1],
    ["advantages", batch.advantages, 1],
    ["returns", batch.returns, 1]
  ];
  for (const [name, data, width] of rowArrays) {
    if (data.length < n * width) throw new PpoBatchError(`${name} holds ${data.length} numbers, fewer than ${n} x ${width}`);
  }
};

/** One update's minibatch steps on one backend; the shuffles and bookkeeping are ppoUpdate's. */
interface UpdateRun {
  /** One SGD step on the batch rows `index`; `measured` steps contribute to the metric sums. */
  step(index: Int32Array, measured: boolean): void;
  /** Sums of [policy, value, entropy, approxKl, clipFraction] over the measured steps. */
  measuredSums(): ArrayLike<number>;
  /** Mean KL(old || new) of the current policy over the whole batch. */
  meanKl(): number;
  dispose(): void;
}

/**
 * The tfjs run: the batch is uploaded once and minibatches are gathered on the backend; autodiff
 * through `ppoLosses`, then the JS Adam.
 */
const tfjsUpdateRun = (agent: PpoAgent, batch: PpoBatch, advantages: Float32Array, params: PpoParams, klCoeff: number): UpdateRun => {
  const net = agent.net;
  const policy = net.policy;
  const n = batch.size;
  const variables = net.variables();
  const full = {
    obs: tf.tensor2d(batch.obs.subarray(0, n * batch.obsDim), [n, batch.obsDim]),
    actionFeatures: tf.tensor2d(policy.encodeActions(batch.actions, n), [n, policy.actionFeatureDim]),
    oldLogProbs: tf.tensor1d(batch.logProbs.subarray(0, n)),
    oldDistParams: splitColumns(batch.distParams, n, policy.paramParts).map((part, k) => tf.tensor2d(part, [n, policy.paramParts[k]!])),
    oldValues: tf.tensor1d(batch.values.subarray(0, n)),
    advantages: tf.tensor1d(advantages),
    returns: tf.tensor1d(batch.returns.subarray(0, n))
  } satisfies PpoMinibatch;
  let metricSums = tf.zeros([METRIC_COUNT]);
  return {
    step: (order, measured) => {
      const nextSums = tf.tidy((): tf.Tensor | void => {
        const index = tf.tensor1d(order, "int32");
        const mb: PpoMinibatch = {
          obs: tf.gather(full.obs, index),
          actionFeatures: tf.gather(full.actionFeatures, index),
          oldLogProbs: tf.gather(full.oldLogProbs, index),
          oldDistParams: full.oldDistParams.map((part) => tf.gather(part, index)),
          oldValues: tf.gather(full.oldValues, index),
          advantages: tf.gather(full.advantages, index),
          returns: tf.gather(full.returns, index)
        };
        let metrics: tf.Tensor | undefined;
        const { grads } = tf.variableGrads(() => {
          const losses = ppoLosses(net, mb, params, klCoeff, measured);
          if (measured) metrics = tf.keep(tf.stack([losses.policy, losses.value, losses.entropy!, losses.approxKl!, losses.clipFraction!]));
          return losses.total;
        }, variables);
        // tfjs omits variables the loss does not reach (e.g. the value net when its coefficient is 0).
        let gradients = variables.map((v) => grads[v.name] ?? tf.zerosLike(v));
        if (params.maxGradNorm !== null) gradients = clipByGlobalNorm(gradients, params.maxGradNorm);
        agent.optimizer.apply(gradients, params.learningRate);
        if (metrics === undefined) return;
        // tf.keep exempts the metrics from every tidy, so they are released by hand once summed.
        const summed = tf.add(metricSums, metrics);
        metrics.dispose();
        return summed;
      });
      if (nextSums !== undefined) {
        metricSums.dispose();
        metricSums = nextSums;
      }
    },
    measuredSums: () => Float32Array.from(metricSums.dataSync() as Float32Array),
    meanKl: () => {
      // Mean KL(old || new) of the updated policy on the whole batch, in chunks to bound memory.
      let klSum = 0;
      const chunk = Math.max(1, params.evaluationChunkSize);
      for (let start = 0; start < n; start += chunk) {
        const size = Math.min(chunk, n - start);
        const s = tf.tidy(() => {
          const obs = tf.slice(full.obs, [start, 0], [size, -1]);
          const old = full.oldDistParams.map((part) => tf.slice(part, [start, 0], [size, -1]));
          return tf.sum(policy.kl(old, policy.distParams(obs)));
        });
        klSum += (s.dataSync() as Float32Array)[0]!;
        s.dispose();
      }
      return klSum / n;
    },
    dispose: () => {
      metricSums.dispose();
      tf.dispose(Object.values(full));
    }
  };
};

/** KL(old || new) summed over `rows` rows of distribution parameters (float64), for either policy kind. */
const klSumOf = (kind: "continuous" | "discrete", width: number, oldParams: Float32Array, newParams: Float32Array, newStride: number, rows: number): number => {
  let sum = 0;
  const paramDim = kind === "continuous" ? 2 * width : width;
  for (let r = 0; r < rows; r++) {
    const o = r * paramDim;
    const q = r * newStride;
    if (kind === "continuous") {
      for (let d = 0; d < width; d++) {
        const oldMean = oldParams[o + d]!;
        const oldLogStd = oldParams[o + width + d]!;
        const newMean = newParams[q + d]!;
        const newLogStd = newParams[q + width + d]!;
        const ratio = (Math.exp(2 * oldLogStd) + (oldMean - newMean) ** 2) * Math.exp(-2 * newLogStd);
        sum += newLogStd - oldLogStd + 0.5 * (ratio - 1);
      }
    } else {
      const logSoftmax = (p: Float32Array, base: number) => {
        let max = -Infinity;
        for (let k = 0; k < width; k++) max = Math.max(max, p[base + k]!);
        let total = 0;
        for (let k = 0; k < width; k++) total += Math.exp(p[base + k]! - max);
        return (k: number) => p[base + k]! - max - Math.log(total);
      };
      const oldLog = logSoftmax(oldParams, o);
      const newLog = logSoftmax(newParams, q);
      for (let k = 0; k < width; k++) sum += Math.exp(oldLog(k)) * (oldLog(k) - newLog(k));
    }
  }
  return sum;
};

/**
 * What the onnxruntime update of one agent works in, kept from one update to the next: the
 * batch's per-sample fields side by side, one row per sample (observation, action features, the
 * sampling policy's distribution parameters, log-probability, value, standardised advantage,
 * return), and the minibatch arrays the training graph reads. A minibatch row is then one
 * contiguous read: gathering from the batch's separate arrays touched a cache line per field and
 * row (nine per sample, most for a single float), and those misses made the gather a third of
 * the update on the quick preset's batches (measured). Reusing the arrays spares the garbage
 * collector a batch-sized allocation per update and lets the session keep its tensors.
 */
interface OnnxWorkspace {
  readonly rows: Float32Array;
  readonly width: number;
  readonly mb: OnnxMinibatch;
  /** The minibatch arrays in the order of a packed row's fields, and their widths. */
  readonly fields: readonly Float32Array[];
  readonly widths: readonly number[];
}

const onnxWorkspaces = new WeakMap<PpoAgent, OnnxWorkspace>();

/** Where the gather's cache-warming pass leaves its sum, so that its loads are not optimised away. */
let lastTouched = 0;

const onnxWorkspace = (agent: PpoAgent, samples: number, capacity: number): OnnxWorkspace => {
  const policy = agent.net.policy;
  const widths = [agent.obsDim, policy.actionFeatureDim, ...policy.paramParts, 1, 1, 1, 1];
  const width = widths.reduce((a, b) => a + b, 0);
  const kept = onnxWorkspaces.get(agent);
  if (kept !== undefined && kept.rows.length >= samples * width && kept.mb.oldLogp.length === capacity) return kept;
  const mb: OnnxMinibatch = {
    rows: 0,
    obs: new Float32Array(capacity * agent.obsDim),
    act: new Float32Array(capacity * policy.actionFeatureDim),
    oldLogp: new Float32Array(capacity),
    oldParams: policy.paramParts.map((w) => new Float32Array(capacity * w)),
    oldV: new Float32Array(capacity),
    adv: new Float32Array(capacity),
    ret: new Float32Array(capacity)
  };
  const workspace = { rows: new Float32Array(samples * width), width, mb, fields: [mb.obs, mb.act, ...mb.oldParams, mb.oldLogp, mb.oldV, mb.adv, mb.ret], widths };
  onnxWorkspaces.set(agent, workspace);
  return workspace;
};

/** Writes the batch's samples as rows of the workspace (see OnnxWorkspace). */
const packRows = (ws: OnnxWorkspace, batch: PpoBatch, features: Float32Array, advantages: Float32Array): void => {
  const { size: n, obsDim, paramDim } = batch;
  const featureDim = features.length / n;
  const { rows, width } = ws;
  for (let i = 0; i < n; i++) {
    let o = i * width;
    for (let j = 0; j < obsDim; j++) rows[o++] = batch.obs[i * obsDim + j]!;
    for (let j = 0; j < featureDim; j++) rows[o++] = features[i * featureDim + j]!;
    for (let j = 0; j < paramDim; j++) rows[o++] = batch.distParams[i * paramDim + j]!;
    rows[o++] = batch.logProbs[i]!;
    rows[o++] = batch.values[i]!;
    rows[o++] = advantages[i]!;
    rows[o] = batch.returns[i]!;
  }
};

/**
 * The onnxruntime run: minibatch rows are gathered in JS from the packed rows into reused
 * buffers and each step is one native call of the training graph (forward, losses, backward, Adam).
 */
const onnxUpdateRun = (agent: PpoAgent, batch: PpoBatch, advantages: Float32Array, params: PpoParams, klCoeff: number): UpdateRun => {
  const onnx = agent.net.onnx!;
  const policy = agent.net.policy;
  const n = batch.size;
  const ws = onnxWorkspace(agent, n, Math.max(1, Math.min(params.minibatchSize, n)));
  packRows(ws, batch, policy.encodeActions(batch.actions, n), advantages);
  const { mb, fields, widths, width } = ws;
  const packed = ws.rows;
  const constants = {
    clipParam: params.clipParam,
    valueClipParam: params.valueClipParam,
    maxGradNorm: params.maxGradNorm,
    beta1: params.adam.beta1,
    beta2: params.adam.beta2,
    epsilon: params.adam.epsilon
  };
  const weights = { policy: 1, value: params.valueLossCoeff, kl: klCoeff, entropy: params.entropyCoeff };
  const sums = new Float64Array(METRIC_COUNT);
  return {
    step: (index, measured) => {
      const rows = index.length;
      mb.rows = rows;
      // The batch's rows are out of cache by now (the native step in between evicts them). A
      // first pass reads one float per cache line of every row: short independent loads, so many
      // misses are in flight at once, where the copy loop below waits on them a row at a time
      // (measured: ~9 ms less CPU per update of the quick preset, of ~90).
      let touched = 0;
      for (let r = 0; r < rows; r++) {
        const src = index[r]! * width;
        for (let j = 0; j < width; j += 16) touched += packed[src + j]!;
        touched += packed[src + width - 1]!;
      }
      lastTouched = touched;
      // Indexed loops: iterating over [array, width] pairs with for-of doubled the gather's time.
      for (let r = 0; r < rows; r++) {
        let src = index[r]! * width;
        for (let f = 0; f < fields.length; f++) {
          const to = fields[f]!;
          const w = widths[f]!;
          const dst = r * w;
          for (let j = 0; j < w; j++) to[dst + j] = packed[src + j]!;
          src += w;
        }
      }
      const losses = onnx.step(mb, constants, weights, params.learningRate);
      if (!measured) return;
      sums[0]! += losses.policy;
      sums[1]! += losses.value;
      sums[2]! += losses.entropy;
      sums[3]! += losses.approxKl;
      sums[4]! += losses.clipFraction;
    },
    measuredSums: () => sums,
    meanKl: () => {
      // The policy head alone: the value network plays no part in the KL.
      const width = policy.kind === "continuous" ? policy.actionDim : policy.paramDim;
      let klSum = 0;
      const chunk = Math.max(1, params.evaluationChunkSize);
      for (let start = 0; start < n; start += chunk) {
        const size = Math.min(chunk, n - start);
        const out = onnx.evaluatePolicy(batch.obs.subarray(start * batch.obsDim, (start + size) * batch.obsDim), size);
        klSum += klSumOf(policy.kind, width, batch.distParams.subarray(start * policy.paramDim), out, policy.paramDim, size);
      }
      return klSum / n;
    },
    dispose: () => {}
  };
};

/**
 * One PPO update of `agent` on `batch`: `sgdPasses` passes over the batch in shuffled minibatches
 * (shuffles drawn from `rng`, the same on every backend), one Adam step per minibatch, then the
 * mean KL of the updated policy on the whole batch adapts the KL coefficient. The steps run on
 * the agent's compute backend (tfjs or onnxruntime).
 */
export const ppoUpdate = (agent: PpoAgent, batch: PpoBatch, params: PpoParams, rng: Random): PpoMetrics => {
  checkBatch(agent, batch);
  const n = batch.size;
  const advantages = params.standardizeAdvantages ? standardize(batch.advantages, n) : batch.advantages.subarray(0, n);
  const klCoeff = agent.klCoeff;
  const run = agent.net.onnx !== null ? onnxUpdateRun(agent, batch, advantages, params, klCoeff) : tfjsUpdateRun(agent, batch, advantages, params, klCoeff);
  try {
    const order = new Int32Array(n);
    const minibatchSize = Math.max(1, Math.min(params.minibatchSize, n));
    let sgdSteps = 0;
    let measuredSteps = 0;
    for (let pass = 0; pass < params.sgdPasses; pass++) {
      const measured = pass === params.sgdPasses - 1;
      for (let i = 0; i < n; i++) order[i] = i;
      rng.shuffle(order);
      for (let start = 0; start < n; start += minibatchSize) {
        run.step(order.subarray(start, Math.min(n, start + minibatchSize)), measured);
        if (measured) measuredSteps++;
        sgdSteps++;
      }
    }
    const meanKl = run.meanKl();
    agent.klCoeff = adaptKlCoeff(klCoeff, meanKl, params);

    const sums = run.measuredSums();
    const perStep = (k: number) => (measuredSteps > 0 ? sums[k]! / measuredSteps : Number.NaN);
    return {
      "losses/policy_loss": perStep(0),
      "losses/value_loss": perStep(1),
      "losses/entropy": perStep(2),
      "losses/approx_kl": perStep(3),
      "losses/kl": meanKl,
      "losses/clipfrac": perStep(4),
      "losses/explained_variance": explainedVariance(batch.values, batch.returns, n),
      "charts/kl_coeff": klCoeff,
      "charts/learning_rate": params.learningRate,
      "charts/sgd_steps": sgdSteps
    };
  } finally {
    run.dispose();
  }
};
