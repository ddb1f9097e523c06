/**
 * Policy and value networks of the shared policies (paper section 5: "a fully connected neural
 * net with 2 hidden layers, 256 nodes per layer, and tanh activation ... the outputs of the
 * neural net are the mean and stDev of a normal distribution"). One network per
 * agent class is shared by all agents of the class and conditioned on the agent's type, which is
 * part of its observation. Weights live in tf.Variables but are initialised from a `Random`
 * (Glorot-uniform), never from tfjs random ops, so the same seed gives bit-identical networks.
 * Sampling happens in JS on the distribution parameters the network returns, again from a
 * `Random`. Everything can be exported to and restored from named Float32Arrays. With
 * `compute.backend` onnxruntime, inference and training run on onnxruntime instead
 * (onnx-networks.ts), from the same initial draw.
 */
import * as tf from "@tensorflow/tfjs";
import type { Random } from "../random/philox.ts";
import { OnnxNetworks } from "./onnx-networks.ts";
import { onnxRuntimeAvailable } from "./onnx-runtime.ts";
import type { ActionSpec } from "./vec-env.ts";

/** A named tensor as plain data: how weights and optimiser state are saved (a "tensor bundle"). */
export interface TensorRecord {
  shape: number[];
  data: Float32Array;
}
export type WeightMap = Record<string, TensorRecord>;

/** Raised by `setWeights` when a bundle does not fit the network it is loaded into. */
export class WeightShapeError extends Error {
  readonly _tag = "WeightShapeError";
  constructor(readonly weightName: string, readonly detail: string) {
    super(`Weight "${weightName}" cannot be restored: ${detail}; load a bundle saved from a network with the same sizes.`);
  }
}

export interface MlpParams {
  /** Widths of the hidden layers, input side first. */
  hiddenWidths: readonly number[];
  /** Non-linearity after every hidden layer. */
  activation: "tanh" | "relu";
  /** Multiplier of the Glorot bound of the output heads; small values start the policy near its biases. */
  outputInitScale: number;
}

export const defaultMlpParams: MlpParams = {
  hiddenWidths: [256, 256],
  activation: "tanh",
  outputInitScale: 1
};

const glorotUniform = (fanIn: number, fanOut: number, scale: number, rng: Random): Float32Array => {
  const limit = scale * Math.sqrt(6 / (fanIn + fanOut));
  const data = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < data.length; i++) data[i] = rng.uniformIn(-limit, limit);
  return data;
};

/*
 * Hand-written kernels for the wasm backend. Measured on this machine for a [1024, 256] batch:
 * a matmul with a transposed operand (what tfjs's own matmul gradient uses) runs at ~2 GFLOP/s
 * against 15-20 for a plain one; tf.tanh takes 6.4 ms against 0.7 ms for 2 sigmoid(2x) - 1; and
 * tf.sum over the batch axis takes 3.4 ms against 0.2 ms for the same sum as a ones-row matmul.
 * The ops below give the same values and gradients with only the fast kernels.
 */

/**
 * y = x W + b. Backward: dx = dy W^T, dW = x^T dy with W and x transposed explicitly (cheap
 * copies) so both are plain matmuls, db = 1^T dy as a matmul. `inputGradient: false` skips dx
 * for layers fed by observations, which need no gradient.
 */
const makeDense = (inputGradient: boolean) =>
  tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([x, w]);
    return {
      value: tf.fused.matMul({ a: x, b: w, bias: b }),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        const dy2 = dy as tf.Tensor2D;
        const dx = inputGradient ? tf.matMul(dy2, tf.transpose(ws)) : tf.zerosLike(xs);
        const db = tf.reshape(tf.matMul(tf.ones([1, dy2.shape[0]]), dy2), [-1]);
        return [dx, tf.matMul(tf.transpose(xs), dy2), db];
      }
    };
  });
const denseLayer = makeDense(true);
const inputDenseLayer = makeDense(false);

/** tanh(x) = 2 sigmoid(2x) - 1, with the gradient dy (1 - y^2). Absolute error ~1e-7. */
const tanh = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const y = tf.sub(tf.mul(tf.sigmoid(tf.mul(x, 2)), 2), 1);
  save([y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.sub(1, tf.square(saved[0]!)))
  };
});

/** One linear output of an Mlp (a "head"): its bundle name, width and initial bias. */
export interface MlpHead {
  name: string;
  width: number;
  /** Initial value of every output bias of this head (0 when absent). */
  initialBias?: number;
}

/**
 * A fully connected network: hidden layers with `activation`, then one or more linear heads on
 * the last hidden layer (e.g. the mean and the log-stDev of a Gaussian). Separate heads instead
 * of one output split in two: tf.split and tf.concat copy element by element on wasm.
 */
export class Mlp {
  readonly kernels: tf.Variable<tf.Rank.R2>[] = [];
  readonly biases: tf.Variable<tf.Rank.R1>[] = [];
  /** Bundle names of the layers: `${name}/layer${l}` for hidden layers, `${name}/${head}` for heads. */
  readonly layerNames: string[] = [];
  readonly hiddenSizes: readonly number[];

  constructor(
    readonly name: string,
    readonly inputDim: number,
    readonly heads: readonly MlpHead[],
    readonly params: MlpParams,
    rng: Random
  ) {
    this.hiddenSizes = [inputDim, ...params.hiddenWidths];
    const addLayer = (layerName: string, fanIn: number, fanOut: number, scale: number, bias: number) => {
      const kernel = glorotUniform(fanIn, fanOut, scale, rng.split(layerName));
      // tfjs names variables engine-wide, so they get unique automatic names; the bundle names
      // ("policy/layer0/kernel") live here.
      this.kernels.push(tf.tidy(() => tf.variable(tf.tensor2d(kernel, [fanIn, fanOut]), true)) as tf.Variable<tf.Rank.R2>);
      this.biases.push(tf.tidy(() => tf.variable(tf.fill([fanOut], bias), true)) as tf.Variable<tf.Rank.R1>);
      this.layerNames.push(layerName);
    };
    for (let l = 0; l + 1 < this.hiddenSizes.length; l++) {
      addLayer(`${name}/layer${l}`, this.hiddenSizes[l]!, this.hiddenSizes[l + 1]!, 1, 0);
    }
    const last = this.hiddenSizes[this.hiddenSizes.length - 1]!;
    for (const head of heads) addLayer(`${name}/${head.name}`, last, head.width, params.outputInitScale, head.initialBias ?? 0);
  }

  /** Forward pass on a [rows, inputDim] batch; returns one [rows, width] tensor per head. */
  apply(input: tf.Tensor2D): tf.Tensor2D[] {
    let x = input;
    const hidden = this.hiddenSizes.length - 1;
    for (let l = 0; l < hidden; l++) {
      const z = (l === 0 ? inputDenseLayer : denseLayer)(x, this.kernels[l]!, this.biases[l]!) as tf.Tensor2D;
      x = (this.params.activation === "tanh" ? tanh(z) : tf.relu(z)) as tf.Tensor2D;
    }
    const dense = hidden === 0 ? inputDenseLayer : denseLayer;
    return this.heads.map((_, h) => dense(x, this.kernels[hidden + h]!, this.biases[hidden + h]!) as tf.Tensor2D);
  }

  variables(): tf.Variable[] {
    return this.namedVariables().map(([, v]) => v);
  }

  /** The variables with their bundle names, `<layer>/kernel` and `<layer>/bias`. */
  namedVariables(): [string, tf.Variable][] {
    return this.layerNames.flatMap((layer, l): [string, tf.Variable][] => [
      [`${layer}/kernel`, this.kernels[l]!],
      [`${layer}/bias`, this.biases[l]!]
    ]);
  }

  /** Multiply-accumulates of one forward pass per input row (for FLOP accounting). */
  macsPerRow(): number {
    return this.kernels.reduce((sum, k) => sum + k.shape[0] * k.shape[1], 0);
  }

  dispose(): void {
    for (const v of this.variables()) v.dispose();
  }
}

/** Copies named variables into a weight map. */
export const readVariables = (variables: readonly (readonly [string, tf.Variable])[]): WeightMap => {
  const out: WeightMap = {};
  for (const [name, v] of variables) out[name] = { shape: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) };
  return out;
};

/** Assigns every named variable from the entry of the same name; all entries must exist and fit. */
export const writeVariables = (variables: readonly (readonly [string, tf.Variable])[], weights: WeightMap): void => {
  for (const [name, v] of variables) {
    const entry = weights[name];
    if (entry === undefined) throw new WeightShapeError(name, "it is missing from the bundle");
    if (entry.shape.length !== v.shape.length || entry.shape.some((d, i) => d !== v.shape[i])) {
      throw new WeightShapeError(name, `shape [${entry.shape.join(", ")}] differs from [${v.shape.join(", ")}]`);
    }
    if (entry.data.length !== v.size) throw new WeightShapeError(name, `${entry.data.length} values for ${v.size} entries`);
  }
  // Checked first, assigned after: a bad bundle leaves the network untouched.
  for (const [name, v] of variables) tf.tidy(() => v.assign(tf.tensor(weights[name]!.data, v.shape, "float32")));
};

/**
 * Splits `rows` rows of concatenated column blocks of the given widths into one array per block
 * (the JS-side inverse of concatenating distribution-parameter parts).
 */
export const splitColumns = (data: Float32Array, rows: number, widths: readonly number[]): Float32Array[] => {
  const total = widths.reduce((a, b) => a + b, 0);
  const parts = widths.map((w) => new Float32Array(rows * w));
  for (let r = 0; r < rows; r++) {
    let offset = 0;
    widths.forEach((w, p) => {
      parts[p]!.set(data.subarray(r * total + offset, r * total + offset + w), r * w);
      offset += w;
    });
  }
  return parts;
};

/**
 * A stochastic policy: a network mapping observations to distribution parameters, and the
 * distribution's log-probability, entropy and KL divergence as differentiable tensor functions,
 * plus JS sampling from a `Random`. On the tensor side the parameters come as parts (the mean and
 * the log-stDev of a Gaussian, the logits of a categorical) of widths `paramParts`; on the JS side
 * as rows of `paramDim` numbers, the parts concatenated. The tensor form of actions used in the
 * losses ("action features") has `actionFeatureDim` entries per row.
 */
export interface Policy {
  readonly kind: "continuous" | "discrete";
  readonly obsDim: number;
  /** Width of a stored action row: the action dimension, or 1 (the index) for discrete actions. */
  readonly actionDim: number;
  readonly paramDim: number;
  readonly paramParts: readonly number[];
  readonly actionFeatureDim: number;
  readonly network: Mlp;
  /** Distribution parameters for a [rows, obsDim] batch, as parts of [rows, paramParts[k]]. */
  distParams(obs: tf.Tensor2D): tf.Tensor2D[];
  /** Log-density (or log-probability) of each action row under each parameter row: [rows]. */
  logProb(params: readonly tf.Tensor2D[], actionFeatures: tf.Tensor2D): tf.Tensor1D;
  entropy(params: readonly tf.Tensor2D[]): tf.Tensor1D;
  /** KL(old || new) per row: [rows]. */
  kl(oldParams: readonly tf.Tensor2D[], newParams: readonly tf.Tensor2D[]): tf.Tensor1D;
  /** The loss-side encoding of `rows` stored actions (one-hot for discrete actions). */
  encodeActions(actions: Float32Array, rows: number): Float32Array;
  /**
   * Draws one action per parameter row into `outActions` (rows * actionDim) and writes the
   * log-probability of each draw into `outLogProbs`, all in float64 arithmetic.
   */
  sample(params: Float32Array, rows: number, rng: Random, outActions: Float32Array, outLogProbs: Float32Array): void;
  /** The most likely action per row (the mean, or the arg-max), for evaluation. */
  mode(params: Float32Array, rows: number, outActions: Float32Array): void;
}

const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

export interface GaussianPolicyParams {
  /** Initial value of the log-stDev outputs (through the output bias): 0 starts at stDev 1. */
  initialLogStd: number;
  /** The log-stDev outputs are clamped to [logStdMin, logStdMax] to keep densities finite. */
  logStdMin: number;
  logStdMax: number;
}

export const defaultGaussianPolicyParams: GaussianPolicyParams = {
  initialLogStd: 0,
  logStdMin: -5,
  logStdMax: 2
};

/**
 * Diagonal Gaussian over R^dim whose mean and log-stDev are both network outputs (state-dependent
 * stDev, as in the paper and RLlib). The env clips actions to their bounds when it applies them;
 * the policy's log-probability is that of the unclipped sample, as in RLlib and CleanRL.
 */
export class DiagonalGaussianPolicy implements Policy {
  readonly kind = "continuous" as const;
  readonly network: Mlp;
  readonly paramDim: number;
  readonly paramParts: readonly number[];
  readonly actionFeatureDim: number;

  constructor(
    readonly obsDim: number,
    readonly actionDim: number,
    mlpParams: MlpParams,
    readonly gaussianParams: GaussianPolicyParams,
    rng: Random,
    name = "policy"
  ) {
    const heads = [
      { name: "mean", width: actionDim },
      { name: "logStd", width: actionDim, initialBias: gaussianParams.initialLogStd }
    ];
    this.network = new Mlp(name, obsDim, heads, mlpParams, rng);
    this.paramDim = 2 * actionDim;
    this.paramParts = [actionDim, actionDim];
    this.actionFeatureDim = actionDim;
  }

  distParams(obs: tf.Tensor2D): tf.Tensor2D[] {
    const [mean, logStd] = this.network.apply(obs) as [tf.Tensor2D, tf.Tensor2D];
    return [mean, tf.clipByValue(logStd, this.gaussianParams.logStdMin, this.gaussianParams.logStdMax)];
  }

  logProb(params: readonly tf.Tensor2D[], actions: tf.Tensor2D): tf.Tensor1D {
    const [mean, logStd] = params as [tf.Tensor2D, tf.Tensor2D];
    const z = tf.mul(tf.sub(actions, mean), tf.exp(tf.neg(logStd)));
    // sum_d [ -z^2/2 - log sigma_d ] - d log(2 pi)/2
    const perDim = tf.sub(tf.mul(tf.square(z), -0.5), logStd);
    return tf.sub(tf.sum(perDim, 1), HALF_LOG_TWO_PI * this.actionDim) as tf.Tensor1D;
  }

  entropy(params: readonly tf.Tensor2D[]): tf.Tensor1D {
    return tf.add(tf.sum(params[1]!, 1), (0.5 + HALF_LOG_TWO_PI) * this.actionDim) as tf.Tensor1D;
  }

  kl(oldParams: readonly tf.Tensor2D[], newParams: readonly tf.Tensor2D[]): tf.Tensor1D {
    const [oldMean, oldLogStd] = oldParams as [tf.Tensor2D, tf.Tensor2D];
    const [newMean, newLogStd] = newParams as [tf.Tensor2D, tf.Tensor2D];
    // sum_d [ log(s_new/s_old) + (s_old^2 + (m_old - m_new)^2) / (2 s_new^2) - 1/2 ]
    const numerator = tf.add(tf.exp(tf.mul(oldLogStd, 2)), tf.square(tf.sub(oldMean, newMean)));
    const ratio = tf.mul(numerator, tf.exp(tf.mul(newLogStd, -2)));
    const perDim = tf.add(tf.sub(newLogStd, oldLogStd), tf.mul(tf.sub(ratio, 1), 0.5));
    return tf.sum(perDim, 1) as tf.Tensor1D;
  }

  encodeActions(actions: Float32Array, rows: number): Float32Array {
    return actions.subarray(0, rows * this.actionDim);
  }

  sample(params: Float32Array, rows: number, rng: Random, outActions: Float32Array, outLogProbs: Float32Array): void {
    const dim = this.actionDim;
    for (let r = 0; r < rows; r++) {
      const base = r * 2 * dim;
      let logProb = -HALF_LOG_TWO_PI * dim;
      for (let d = 0; d < dim; d++) {
        const mean = params[base + d]!;
        const logStd = params[base + dim + d]!;
        const z = rng.normal();
        outActions[r * dim + d] = mean + Math.exp(logStd) * z;
        logProb -= 0.5 * z * z + logStd;
      }
      outLogProbs[r] = logProb;
    }
  }

  mode(params: Float32Array, rows: number, outActions: Float32Array): void {
    const dim = this.actionDim;
    for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) outActions[r * dim + d] = params[r * 2 * dim + d]!;
  }
}

/** Categorical distribution over n actions, parameterised by unnormalised logits. */
export class CategoricalPolicy implements Policy {
  readonly kind = "discrete" as const;
  readonly actionDim = 1;
  readonly network: Mlp;
  readonly paramDim: number;
  readonly paramParts: readonly number[];
  readonly actionFeatureDim: number;

  constructor(
    readonly obsDim: number,
    readonly actionCount: number,
    mlpParams: MlpParams,
    rng: Random,
    name = "policy"
  ) {
    this.network = new Mlp(name, obsDim, [{ name: "logits", width: actionCount }], mlpParams, rng);
    this.paramDim = actionCount;
    this.paramParts = [actionCount];
    this.actionFeatureDim = actionCount;
  }

  distParams(obs: tf.Tensor2D): tf.Tensor2D[] {
    return this.network.apply(obs);
  }

  logProb(params: readonly tf.Tensor2D[], oneHot: tf.Tensor2D): tf.Tensor1D {
    return tf.sum(tf.mul(tf.logSoftmax(params[0]!), oneHot), 1) as tf.Tensor1D;
  }

  entropy(params: readonly tf.Tensor2D[]): tf.Tensor1D {
    const logP = tf.logSoftmax(params[0]!);
    return tf.neg(tf.sum(tf.mul(tf.exp(logP), logP), 1)) as tf.Tensor1D;
  }

  kl(oldParams: readonly tf.Tensor2D[], newParams: readonly tf.Tensor2D[]): tf.Tensor1D {
    const oldLogP = tf.logSoftmax(oldParams[0]!);
    return tf.sum(tf.mul(tf.exp(oldLogP), tf.sub(oldLogP, tf.logSoftmax(newParams[0]!))), 1) as tf.Tensor1D;
  }

  encodeActions(actions: Float32Array, rows: number): Float32Array {
    const n = this.actionCount;
    const out = new Float32Array(rows * n);
    for (let r = 0; r < rows; r++) out[r * n + actions[r]!] = 1;
    return out;
  }

  sample(logits: Float32Array, rows: number, rng: Random, outActions: Float32Array, outLogProbs: Float32Array): void {
    const n = this.actionCount;
    for (let r = 0; r < rows; r++) {
      const base = r * n;
      let max = -Infinity;
      for (let k = 0; k < n; k++) max = Math.max(max, logits[base + k]!);
      let total = 0;
      for (let k = 0; k < n; k++) total += Math.exp(logits[base + k]! - max);
      // Inverse-CDF draw; the last category absorbs rounding so a draw always lands somewhere.
      let u = rng.uniform() * total;
      let chosen = n - 1;
      for (let k = 0; k < n - 1; k++) {
        u -= Math.exp(logits[base + k]! - max);
        if (u < 0) {
          chosen = k;
          break;
        }
      }
      outActions[r] = chosen;
      outLogProbs[r] = logits[base + chosen]! - max - Math.log(total);
    }
  }

  mode(logits: Float32Array, rows: number, outActions: Float32Array): void {
    const n = this.actionCount;
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let k = 1; k < n; k++) if (logits[r * n + k]! > logits[r * n + best]!) best = k;
      outActions[r] = best;
    }
  }
}

/**
 * Where the networks compute: tfjs (the portable reference; its own wasm/cpu backend is chosen by
 * backend.ts) or onnxruntime (native, multi-threaded; onnx-networks.ts). Absent means tfjs.
 */
export interface NetworkComputeParams {
  /** "auto": onnxruntime when it loads here, else tfjs (see `resolveNetworkBackend`). */
  backend: "tfjs" | "onnxruntime" | "auto";
  /**
   * onnxruntime's intra-op threads. Repeated runs with the same count are bit-identical; runs with
   * different counts can differ in the last bits (a matmul may be split differently).
   */
  intraOpThreads: number;
}

/** The backend `requested` resolves to: "auto" is onnxruntime when its native library loads. */
export const resolveNetworkBackend = (requested: NetworkComputeParams["backend"]): "tfjs" | "onnxruntime" =>
  requested === "auto" ? (onnxRuntimeAvailable() ? "onnxruntime" : "tfjs") : requested;

export interface ActorCriticParams {
  /** Where inference and training run (absent: tfjs). */
  compute?: NetworkComputeParams;
  /** Policy network layers. */
  policy: MlpParams;
  /** Value network layers (a separate network, as in the paper's RLlib setup). */
  value: MlpParams;
  /** Only for continuous actions. */
  gaussian: GaussianPolicyParams;
}

export const defaultActorCriticParams: ActorCriticParams = {
  // A small output scale starts every agent near the same policy (mean 0, stDev exp(initialLogStd)).
  policy: { ...defaultMlpParams, outputInitScale: 0.01 },
  value: { ...defaultMlpParams, outputInitScale: 1 },
  gaussian: defaultGaussianPolicyParams
};

/**
 * The shared networks of one agent class: a policy and a separate state-value network. With the
 * onnxruntime compute backend the weights live in `onnx` (initialised from the same Glorot draw
 * as the tf.Variables, which then only hold that initial draw): `evaluate`, `getWeights` and
 * `setWeights` go there, and `variables()` is for tfjs code paths only.
 */
export class ActorCritic {
  readonly policy: Policy;
  readonly value: Mlp;
  readonly onnx: OnnxNetworks | null;

  constructor(
    readonly obsDim: number,
    readonly action: ActionSpec,
    readonly params: ActorCriticParams,
    rng: Random
  ) {
    this.policy =
      action.kind === "continuous"
        ? new DiagonalGaussianPolicy(obsDim, action.dim, params.policy, params.gaussian, rng.split("policy"))
        : new CategoricalPolicy(obsDim, action.n, params.policy, rng.split("policy"));
    this.value = new Mlp("value", obsDim, [{ name: "out", width: 1 }], params.value, rng.split("value"));
    if (params.compute !== undefined && resolveNetworkBackend(params.compute.backend) === "onnxruntime") {
      const named = this.namedVariables();
      this.onnx = new OnnxNetworks(
        {
          obsDim,
          kind: action.kind,
          actionDim: action.kind === "continuous" ? action.dim : action.n,
          policyHidden: params.policy.hiddenWidths,
          valueHidden: params.value.hiddenWidths,
          policyActivation: params.policy.activation,
          valueActivation: params.value.activation,
          logStdMin: params.gaussian.logStdMin,
          logStdMax: params.gaussian.logStdMax
        },
        named.map(([name]) => name),
        readVariables(named),
        params.compute.intraOpThreads
      );
    } else this.onnx = null;
  }

  /** Which backend computes: "onnxruntime" or "tfjs". */
  get backend(): "onnxruntime" | "tfjs" {
    return this.onnx === null ? "tfjs" : "onnxruntime";
  }

  /** State values for a [rows, obsDim] batch: [rows]. */
  values(obs: tf.Tensor2D): tf.Tensor1D {
    return tf.reshape(this.value.apply(obs)[0]!, [-1]) as tf.Tensor1D;
  }

  /**
   * One batched call for acting: distribution parameters and values of `rows` observations, read
   * back into JS as one array of rows * (paramDim + 1) numbers (parameters, then the value).
   */
  evaluate(obs: Float32Array, rows: number): Float32Array {
    if (this.onnx !== null) return this.onnx.evaluate(obs, rows);
    const out = tf.tidy(() => {
      const x = tf.tensor2d(obs.subarray(0, rows * this.obsDim), [rows, this.obsDim]);
      return tf.concat([...this.policy.distParams(x), ...this.value.apply(x)], 1);
    });
    const data = out.dataSync() as Float32Array;
    out.dispose();
    return data;
  }

  variables(): tf.Variable[] {
    return [...this.policy.network.variables(), ...this.value.variables()];
  }

  namedVariables(): [string, tf.Variable][] {
    return [...this.policy.network.namedVariables(), ...this.value.namedVariables()];
  }

  /** Policy and value weights as a bundle: "policy/layer{l}/kernel|bias", "value/layer{l}/kernel|bias". */
  getWeights(): WeightMap {
    return this.onnx !== null ? this.onnx.getWeights() : readVariables(this.namedVariables());
  }

  setWeights(weights: WeightMap): void {
    if (this.onnx !== null) this.onnx.setWeights(weights);
    else writeVariables(this.namedVariables(), weights);
  }

  dispose(): void {
    this.onnx?.dispose();
    this.policy.network.dispose();
    this.value.dispose();
  }
}
