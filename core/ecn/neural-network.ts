/**
 * The network of the neural ECN model (paper section 2.3.2, figure 5): an LSTM (hidden
 * 32) reads a window of the last k = 20 standardised step variations S_{t-k+1..t}; its last hidden
 * state, concatenated with S_t, goes through a dense input layer (32) and two hidden layers (64),
 * then three linear heads give, for each of n_mix components, the mixture logit (softmax gives the
 * weights), the mean (p) and the log-variance (p; variances = exp + a floor). With the "shared"
 * correlation variant the network also holds the raw parameters of the one learnt correlation
 * matrix (see neural-density.ts); with "fixed" the correlation is data, not a weight.
 *
 * Decisions: the dense layers use tanh. The inputs are standardised and the outputs feed an
 * exponential (variances) and a softmax, so a bounded, smooth activation keeps early log-variances
 * moderate and the log-likelihood surface smooth (relu units are unbounded, so a few large
 * standardised inputs, e.g. rare spread jumps, can push a log-variance far out); the LSTM uses tanh
 * internally anyway. relu stays available as an option.
 * Every weight is Glorot-uniform from a `Random` (never tfjs random ops) so a seed gives
 * bit-identical networks; biases are zero except the LSTM forget gate (1, as Keras'
 * unit_forget_bias, so that early gradients flow through the window). The log-variance head is
 * clipped to [-20, 20] before exp to rule out float32 overflow. Two forward passes exist: a tfjs
 * one (batched, differentiable) for training and scoring, and a float64 plain-JS one for the
 * sampler, which runs one window at a time where tfjs's per-op overhead would dominate.
 */
import * as tf from "@tensorflow/tfjs";
import type { Random } from "../random/philox.ts";
import { sharedCorrelationFactor, type MixtureParameters } from "./neural-density.ts";

export type CorrelationVariant = "fixed" | "shared";
export type DenseActivation = "tanh" | "relu";

export interface NeuralEcnArchitecture {
  /** Dimension p of S (2m + 2). */
  readonly dim: number;
  /** History window k. */
  readonly window: number;
  /** LSTM hidden size L. */
  readonly lstmUnits: number;
  /** Width of the dense input layer. */
  readonly inputWidth: number;
  /** Widths of the hidden layers after the input layer. */
  readonly hiddenWidths: readonly number[];
  /** Mixture components n_mix. */
  readonly components: number;
  readonly activation: DenseActivation;
  readonly correlation: CorrelationVariant;
}

/** Figure 5's sizes for p-dimensional S. */
export const paperArchitecture = (dim: number, correlation: CorrelationVariant): NeuralEcnArchitecture => ({
  dim,
  window: 20,
  lstmUnits: 32,
  inputWidth: 32,
  hiddenWidths: [64, 64],
  components: 5,
  activation: "tanh",
  correlation
});

/** A named tensor as plain data (how weights and optimiser state are saved). */
export interface TensorData {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}
export type WeightMap = Record<string, TensorData>;

/** A weight bundle that does not fit the architecture it is loaded into. */
export class NeuralWeightsError extends Error {
  readonly _tag = "NeuralWeightsError" as const;
  constructor(name: string, detail: string) {
    super(`weight "${name}" cannot be loaded: ${detail}; load weights saved from a network with the same architecture.`);
    this.name = "NeuralWeightsError";
  }
}

const LOG_VARIANCE_LIMIT = 20;

/**
 * Names and shapes of every weight, in a fixed order (the optimiser's order). Kernels are stored
 * [fan_out, fan_in] because the network runs feature-major (activations [features, batch]): tfjs's
 * wasm backend slices and splits contiguous leading axes cheaply, so the four LSTM gates are one
 * split along axis 0, and tf.unstack over the time axis (very slow there) is never needed.
 */
export const weightShapes = (a: NeuralEcnArchitecture): Array<[string, number[]]> => {
  const H = a.lstmUnits;
  const widths = [a.inputWidth, ...a.hiddenWidths];
  const shapes: Array<[string, number[]]> = [
    ["lstm/kernel", [4 * H, a.dim]],
    ["lstm/recurrent", [4 * H, H]],
    ["lstm/bias", [4 * H, 1]]
  ];
  let fanIn = H + a.dim;
  widths.forEach((width, l) => {
    shapes.push([`dense${l}/kernel`, [width, fanIn]], [`dense${l}/bias`, [width, 1]]);
    fanIn = width;
  });
  const K = a.components;
  shapes.push(
    ["head/logits/kernel", [K, fanIn]],
    ["head/logits/bias", [K, 1]],
    ["head/means/kernel", [K * a.dim, fanIn]],
    ["head/means/bias", [K * a.dim, 1]],
    ["head/logvar/kernel", [K * a.dim, fanIn]],
    ["head/logvar/bias", [K * a.dim, 1]]
  );
  if (a.correlation === "shared") shapes.push(["correlation/raw", [a.dim, a.dim]]);
  return shapes;
};

/**
 * Initial weights: Glorot-uniform kernels (limit sqrt(6 / (fan_in + fan_out)), the LSTM's fan_out
 * being its 4 gates), zero biases except the forget gate (1), and the shared correlation's raw
 * parameters from `initialCorrelationRaw` (zeros = the identity) when given.
 */
export const initialWeights = (a: NeuralEcnArchitecture, rng: Random, initialCorrelationRaw?: ArrayLike<number>): WeightMap => {
  const weights: WeightMap = {};
  for (const [name, shape] of weightShapes(a)) {
    const size = shape.reduce((x, y) => x * y, 1);
    const data = new Float32Array(size);
    if (name === "correlation/raw") {
      if (initialCorrelationRaw !== undefined) for (let i = 0; i < size; i++) data[i] = initialCorrelationRaw[i]!;
    } else if (name.endsWith("/kernel")) {
      const limit = Math.sqrt(6 / (shape[0]! + shape[1]!));
      const stream = rng.split(name);
      for (let i = 0; i < size; i++) data[i] = stream.uniformIn(-limit, limit);
    } else if (name === "lstm/bias") {
      // Gate order i, f, g, o (rows of the [4H, 1] bias).
      data.fill(1, a.lstmUnits, 2 * a.lstmUnits);
    }
    weights[name] = { shape, data };
  }
  return weights;
};

/** Throws NeuralWeightsError unless `weights` has exactly the architecture's names and shapes. */
export const checkWeights = (a: NeuralEcnArchitecture, weights: WeightMap): void => {
  for (const [name, shape] of weightShapes(a)) {
    const w = weights[name];
    if (w === undefined) throw new NeuralWeightsError(name, "it is missing");
    if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
      throw new NeuralWeightsError(name, `shape [${w.shape.join(",")}] differs from [${shape.join(",")}]`);
    }
    if (w.data.length !== shape.reduce((x, y) => x * y, 1)) throw new NeuralWeightsError(name, `${w.data.length} values for shape [${shape.join(",")}]`);
  }
};

/**
 * W x with a hand-written gradient: tfjs's own matMul gradient asks for transposed operands, a
 * slow path of the wasm backend; explicit transposes of these small matrices are cheaper.
 */
const matMulWithGrad = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [w, x, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([w, x]);
  return {
    value: tf.matMul(w, x),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [ws, xs] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(xs)), tf.matMul(tf.transpose(ws), dy as tf.Tensor2D)];
    }
  };
});
const matMul = (w: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor2D => matMulWithGrad(w, x) as tf.Tensor2D;

/** The network's weights as tf.Variables, with its differentiable forward pass. */
export class NeuralEcnNetwork {
  readonly variables: ReadonlyArray<readonly [string, tf.Variable]>;
  private readonly byName: Map<string, tf.Variable>;

  constructor(
    readonly architecture: NeuralEcnArchitecture,
    weights: WeightMap
  ) {
    checkWeights(architecture, weights);
    this.variables = weightShapes(architecture).map(([name, shape]) => {
      const values = weights[name]!.data;
      return [name, tf.tidy(() => tf.variable(tf.tensor(values, shape, "float32"), true))] as const;
    });
    this.byName = new Map(this.variables);
  }

  private get(name: string): tf.Tensor {
    return this.byName.get(name)!;
  }

  /**
   * Mixture parameters for a batch of B windows given feature-major, one tensor per time step:
   * steps[t] is [p, B] (t = 0 oldest, t = k - 1 is S_t). See `windowSteps`.
   */
  forward(steps: readonly tf.Tensor2D[]): MixtureParameters {
    return tf.tidy(() => {
      const a = this.architecture;
      const batch = steps[0]!.shape[1];
      const H = a.lstmUnits;
      const kernel = this.get("lstm/kernel") as tf.Tensor2D;
      const recurrent = this.get("lstm/recurrent") as tf.Tensor2D;
      const bias = this.get("lstm/bias");
      let h = tf.zeros([H, batch]) as tf.Tensor2D;
      let c = tf.zeros([H, batch]) as tf.Tensor2D;
      steps.forEach((x, t) => {
        const input = tf.add(matMul(kernel, x), bias);
        const z = t === 0 ? input : tf.add(input, matMul(recurrent, h));
        const [i, f, g, o] = tf.split(z, 4, 0) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const fresh = tf.mul(tf.sigmoid(i), tf.tanh(g));
        c = (t === 0 ? fresh : tf.add(tf.mul(tf.sigmoid(f), c), fresh)) as tf.Tensor2D;
        h = tf.mul(tf.sigmoid(o), tf.tanh(c)) as tf.Tensor2D;
      });
      let x = tf.concat([h, steps[steps.length - 1]!], 0) as tf.Tensor2D;
      const layers = 1 + a.hiddenWidths.length;
      for (let l = 0; l < layers; l++) {
        const z = tf.add(matMul(this.get(`dense${l}/kernel`) as tf.Tensor2D, x), this.get(`dense${l}/bias`));
        x = (a.activation === "tanh" ? tf.tanh(z) : tf.relu(z)) as tf.Tensor2D;
      }
      const head = (name: string) => tf.transpose(tf.add(matMul(this.get(`head/${name}/kernel`) as tf.Tensor2D, x), this.get(`head/${name}/bias`))) as tf.Tensor2D;
      const K = a.components;
      const p = a.dim;
      const logits = head("logits");
      const means = tf.reshape(head("means"), [batch, K, p]) as tf.Tensor3D;
      const logVariances = tf.clipByValue(tf.reshape(head("logvar"), [batch, K, p]), -LOG_VARIANCE_LIMIT, LOG_VARIANCE_LIMIT);
      return { logits, means, variances: tf.exp(logVariances) as tf.Tensor3D };
    });
  }

  /** The learnt correlation factor (shared variant only). */
  sharedFactor(): tf.Tensor2D {
    return sharedCorrelationFactor(this.get("correlation/raw") as tf.Tensor2D);
  }

  trainable(): tf.Variable[] {
    return this.variables.map(([, v]) => v);
  }

  exportWeights(): WeightMap {
    const out: WeightMap = {};
    for (const [name, v] of this.variables) out[name] = { shape: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) };
    return out;
  }

  dispose(): void {
    for (const [, v] of this.variables) v.dispose();
  }
}

/** Mixture parameters of one window, computed in float64 by `NeuralEcnInference`. */
export interface MixtureRow {
  /** Log-weights (normalised), length K. */
  readonly logWeights: Float64Array;
  /** Means, K x p. */
  readonly means: Float64Array;
  /** Variances before the floor, K x p. */
  readonly variances: Float64Array;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** The forward pass in float64 plain JS, one window at a time (for sampling). */
export class NeuralEcnInference {
  private readonly w: Record<string, Float64Array> = {};
  private readonly h: Float64Array;
  private readonly c: Float64Array;
  private readonly gates: Float64Array;
  private readonly layerInputs: Float64Array[];
  private readonly out: Float64Array;
  readonly row: MixtureRow;

  constructor(
    readonly architecture: NeuralEcnArchitecture,
    weights: WeightMap
  ) {
    checkWeights(architecture, weights);
    for (const [name] of weightShapes(architecture)) this.w[name] = Float64Array.from(weights[name]!.data);
    const a = architecture;
    this.h = new Float64Array(a.lstmUnits);
    this.c = new Float64Array(a.lstmUnits);
    this.gates = new Float64Array(4 * a.lstmUnits);
    const widths = [a.lstmUnits + a.dim, a.inputWidth, ...a.hiddenWidths];
    this.layerInputs = widths.map((n) => new Float64Array(n));
    this.out = new Float64Array(a.components * (1 + 2 * a.dim));
    this.row = {
      logWeights: new Float64Array(a.components),
      means: new Float64Array(a.components * a.dim),
      variances: new Float64Array(a.components * a.dim)
    };
  }

  /** Mixture parameters for one window (k x p, row-major, oldest first), written into `this.row`. */
  run(window: ArrayLike<number>): MixtureRow {
    const a = this.architecture;
    const p = a.dim;
    const H = a.lstmUnits;
    const G = 4 * H;
    const kx = this.w["lstm/kernel"]!;
    const kh = this.w["lstm/recurrent"]!;
    const b = this.w["lstm/bias"]!;
    const { h, c, gates } = this;
    h.fill(0);
    c.fill(0);
    for (let t = 0; t < a.window; t++) {
      const xo = t * p;
      for (let g = 0; g < G; g++) {
        let s = b[g]!;
        const ko = g * p;
        for (let j = 0; j < p; j++) s += kx[ko + j]! * window[xo + j]!;
        const ro = g * H;
        for (let j = 0; j < H; j++) s += kh[ro + j]! * h[j]!;
        gates[g] = s;
      }
      for (let u = 0; u < H; u++) {
        const cell = sigmoid(gates[H + u]!) * c[u]! + sigmoid(gates[u]!) * Math.tanh(gates[2 * H + u]!);
        c[u] = cell;
        h[u] = sigmoid(gates[3 * H + u]!) * Math.tanh(cell);
      }
    }
    let x = this.layerInputs[0]!;
    x.set(h);
    for (let j = 0; j < p; j++) x[H + j] = window[(a.window - 1) * p + j]!;
    const dense = (name: string, input: Float64Array, out: Float64Array, outOffset: number, outSize: number, activate: boolean) => {
      const kernel = this.w[`${name}/kernel`]!;
      const bias = this.w[`${name}/bias`]!;
      const n = input.length;
      for (let o = 0; o < outSize; o++) {
        let s = bias[o]!;
        const ko = o * n;
        for (let i = 0; i < n; i++) s += kernel[ko + i]! * input[i]!;
        out[outOffset + o] = !activate ? s : a.activation === "tanh" ? Math.tanh(s) : Math.max(0, s);
      }
    };
    const layers = 1 + a.hiddenWidths.length;
    for (let l = 0; l < layers; l++) {
      const y = this.layerInputs[l + 1]!;
      dense(`dense${l}`, x, y, 0, y.length, true);
      x = y;
    }
    const K0 = a.components;
    dense("head/logits", x, this.out, 0, K0, false);
    dense("head/means", x, this.out, K0, K0 * p, false);
    dense("head/logvar", x, this.out, K0 + K0 * p, K0 * p, false);
    const K = a.components;
    const { logWeights, means, variances } = this.row;
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, this.out[k]!);
    let total = 0;
    for (let k = 0; k < K; k++) total += Math.exp(this.out[k]! - max);
    const logTotal = max + Math.log(total);
    for (let k = 0; k < K; k++) logWeights[k] = this.out[k]! - logTotal;
    for (let i = 0; i < K * p; i++) {
      means[i] = this.out[K + i]!;
      variances[i] = Math.exp(Math.max(-LOG_VARIANCE_LIMIT, Math.min(LOG_VARIANCE_LIMIT, this.out[K + K * p + i]!)));
    }
    return this.row;
  }
}
