/**
 * Adam (Kingma and Ba, 2015) over a list of tf.Variables, written here rather than taken from
 * tf.train so that its whole state (moments and step count) is plain data that can be saved and
 * restored exactly: resuming PPO from a checkpoint must give bit-identical weights to an
 * uninterrupted run (ARCHITECTURE section 5). The update itself runs in JS over Float32Arrays:
 * on the wasm backend a dozen small elementwise tensor ops plus splitting a flat vector back into
 * layers cost ~25 ms per step (tf.split and tf.slice copy element by element), against ~1 ms for
 * one JS pass over the ~140k parameters of the paper's networks.
 */
import * as tf from "@tensorflow/tfjs";
import { WeightShapeError, type WeightMap } from "./networks.ts";

export interface AdamParams {
  /** Exponential decay of the first-moment (mean) estimate. */
  beta1: number;
  /** Exponential decay of the second-moment (uncentred variance) estimate. */
  beta2: number;
  /** Added to the root of the bias-corrected second moment (PyTorch's placement). */
  epsilon: number;
}

export const defaultAdamParams: AdamParams = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

export interface AdamState {
  /** Updates taken so far (drives the bias correction). */
  step: number;
  /** First and second moments, "adam/m" and "adam/v", flat in the order of the optimiser's variables. */
  moments: WeightMap;
}

/**
 * The step size and epsilon of update number `step` (1-based) with Adam's bias corrections folded
 * in (Kingma and Ba, end of section 2): lr * mhat / (sqrt(vhat) + eps) = rate * m / (sqrt(v) +
 * eps * sqrt(1 - beta2^t)). Computed in float64, the same for every backend.
 */
export const adamStepConstants = (params: AdamParams, learningRate: number, step: number): { readonly rate: number; readonly eps: number } => {
  const correction2 = Math.sqrt(1 - Math.pow(params.beta2, step));
  return { rate: (learningRate * correction2) / (1 - Math.pow(params.beta1, step)), eps: params.epsilon * correction2 };
};

/** The saved form of flat moments after `step` updates (copies). */
export const adamStateOf = (step: number, firstMoment: Float32Array, secondMoment: Float32Array): AdamState => ({
  step,
  moments: {
    "adam/m": { shape: [firstMoment.length], data: Float32Array.from(firstMoment) },
    "adam/v": { shape: [secondMoment.length], data: Float32Array.from(secondMoment) }
  }
});

/** Throws WeightShapeError unless `state` holds both moments for `size` weights and a step count. */
export const checkAdamState = (state: AdamState, size: number): void => {
  for (const name of ["adam/m", "adam/v"]) {
    const entry = state.moments[name];
    if (entry === undefined) throw new WeightShapeError(name, "it is missing from the optimiser state");
    if (entry.data.length !== size) throw new WeightShapeError(name, `${entry.data.length} values for ${size} entries`);
  }
  if (!Number.isSafeInteger(state.step) || state.step < 0) throw new WeightShapeError("adam/step", `step ${state.step} is not a count`);
};

/**
 * Whatever holds an Adam state: the JS optimiser of the tfjs backend, or the moments the
 * onnxruntime training graph updates (onnx-networks.ts). Saved states are interchangeable.
 */
export interface AdamStateHolder {
  getState(): AdamState;
  /** Throws WeightShapeError unless `state` fits, changing nothing. */
  checkState(state: AdamState): void;
  setState(state: AdamState): void;
}

export class Adam implements AdamStateHolder {
  private readonly offsets: number[];
  private readonly firstMoment: Float32Array;
  private readonly secondMoment: Float32Array;
  /** Number of updates applied so far. */
  step = 0;

  constructor(
    readonly variables: readonly tf.Variable[],
    readonly params: AdamParams = defaultAdamParams
  ) {
    this.offsets = [];
    let total = 0;
    for (const v of variables) {
      this.offsets.push(total);
      total += v.size;
    }
    this.firstMoment = new Float32Array(total);
    this.secondMoment = new Float32Array(total);
  }

  /**
   * Applies one update with learning rate `learningRate` from `gradients` (one per variable, in
   * the optimiser's order). The caller owns and disposes the gradient tensors.
   */
  apply(gradients: readonly tf.Tensor[], learningRate: number): void {
    this.step += 1;
    const { beta1, beta2 } = this.params;
    const { rate, eps } = adamStepConstants(this.params, learningRate, this.step);
    const m = this.firstMoment;
    const v = this.secondMoment;
    this.variables.forEach((variable, i) => {
      const g = gradients[i]!.dataSync() as Float32Array;
      const w = Float32Array.from(variable.dataSync() as Float32Array);
      const offset = this.offsets[i]!;
      for (let j = 0; j < w.length; j++) {
        const gj = g[j]!;
        const mj = beta1 * m[offset + j]! + (1 - beta1) * gj;
        const vj = beta2 * v[offset + j]! + (1 - beta2) * gj * gj;
        m[offset + j] = mj;
        v[offset + j] = vj;
        w[j] = w[j]! - (rate * m[offset + j]!) / (Math.sqrt(v[offset + j]!) + eps);
      }
      tf.tidy(() => variable.assign(tf.tensor(w, variable.shape, "float32")));
    });
  }

  getState(): AdamState {
    return adamStateOf(this.step, this.firstMoment, this.secondMoment);
  }

  /** Throws WeightShapeError unless `state` fits this optimiser's variables. */
  checkState(state: AdamState): void {
    checkAdamState(state, this.firstMoment.length);
  }

  setState(state: AdamState): void {
    this.checkState(state);
    this.firstMoment.set(state.moments["adam/m"]!.data);
    this.secondMoment.set(state.moments["adam/v"]!.data);
    this.step = state.step;
  }

  dispose(): void {
    // Nothing on the backend: the moments are JS arrays.
  }
}
