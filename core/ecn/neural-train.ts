/**
 * Training and scoring of the neural ECN model (paper section 2.3.2, table 2). The step
 * variations S (core/ecn/samples.ts) are standardised with the mean and standard deviation of the
 * training part of the same chronological 70/15/15 split as the vanilla model; the model predicts
 * S_i from the window S_{i-k..i-1}. Windows reaching before the first sample are padded with zeros
 * (the standardised mean), so the neural and vanilla models are scored on exactly the same
 * samples. Training maximises the log-likelihood with Adam (lr 1e-3 up to epoch 110, then 1e-4),
 * minibatches of 100 shuffled from a `Random` per epoch, Glorot-uniform init, early stopping on the
 * validation loss with a patience (the best weights are kept). One call of `trainNeuralEpoch` is
 * one epoch, and the whole state (weights, Adam moments and step, best-so-far, curves) is plain
 * data, so a run resumed from any epoch ends bit-identical to an uninterrupted one.
 *
 * Units: scores are mean log-likelihoods per sample of the STANDARDISED data. By the change of
 * variables z = (x - mean) / std, log p_raw(x) = log p_std(z) - sum_j log std_j, so raw scores are
 * standardised scores minus `sum log std` (`logStdSum`). The vanilla GMM regularises covariances by
 * adding regCovar (raw units) to their diagonals; the neural model adds the same floor to its
 * variances, regCovar / std_j^2 in standardised units, so neither can exploit the point masses of
 * the data (deltas exactly 0, integer spreads) more than the other. A training column with zero
 * spread is not scaled (std 1).
 */
import * as tf from "@tensorflow/tfjs";
import type { Random } from "../random/philox.ts";
import {
  correlationCholesky,
  empiricalCorrelation,
  invertLowerTriangular,
  lowerFactorInverse,
  mixtureLogDensity,
  sharedFactorFromRaw,
  sharedRawFromFactor
} from "./neural-density.ts";
import { initialWeights, NeuralEcnNetwork, weightShapes, type NeuralEcnArchitecture, type WeightMap } from "./neural-network.ts";
import { chronologicalSplit, type ChronologicalSplit } from "./samples.ts";

/** Everything besides the weights that the model needs to score or sample (plain JSON). */
export interface NeuralEcnModelInfo {
  readonly kind: "neural-ecn-model";
  readonly version: 1;
  readonly architecture: NeuralEcnArchitecture;
  /** Visible levels per side m (p = 2m + 2). */
  readonly levels: number;
  /** Training mean and standard deviation of each coordinate of S (raw units). */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** Variance floor per coordinate, standardised units (regCovar / std^2). */
  readonly varianceFloor: readonly number[];
  /** Correlation of the standardised training samples (p x p row-major): the fixed variant's C. */
  readonly correlation: readonly number[];
  readonly split: { readonly train: readonly [number, number]; readonly validation: readonly [number, number]; readonly test: readonly [number, number] };
  /** The first k raw S vectors of the training part (a warm-start history for the sampler). */
  readonly warmWindow: readonly number[];
}

/** A trained model: its description and weights. */
export interface NeuralEcnModel {
  readonly info: NeuralEcnModelInfo;
  readonly weights: WeightMap;
}

export interface NeuralDataset {
  readonly dim: number;
  readonly count: number;
  /** Standardised samples, count x dim row-major. */
  readonly standardised: Float32Array;
  readonly split: ChronologicalSplit;
}

export interface PrepareNeuralOptions {
  readonly split?: readonly [number, number, number];
  /** Covariance regularisation in raw units, as the vanilla model's (default 1e-6). */
  readonly regCovar?: number;
  /** "empirical" (default): the shared correlation starts at the fixed one; "identity": at I. */
  readonly sharedInit?: "empirical" | "identity";
}

export class NeuralDataError extends Error {
  readonly _tag = "NeuralDataError" as const;
  constructor(detail: string) {
    super(`${detail}; use a longer data window (more snapshots) or a smaller history window k.`);
    this.name = "NeuralDataError";
  }
}

/** sum_j log std_j: standardised log-likelihood minus this is the raw one. */
export const logStdSum = (info: NeuralEcnModelInfo): number => info.std.reduce((s, v) => s + Math.log(v), 0);

/** The model description from the S samples (raw, count x (2m+2)) of a series. */
export const describeNeuralModel = (
  samples: Float64Array,
  count: number,
  levels: number,
  architecture: NeuralEcnArchitecture,
  options: PrepareNeuralOptions = {}
): NeuralEcnModelInfo => {
  const p = 2 * levels + 2;
  if (architecture.dim !== p) throw new NeuralDataError(`the architecture's dimension ${architecture.dim} is not 2m + 2 = ${p}`);
  const split = chronologicalSplit(count, options.split);
  const [from, to] = split.train;
  const n = to - from;
  if (n < Math.max(p + 1, architecture.window) || split.validation[1] <= split.validation[0]) {
    throw new NeuralDataError(`only ${n} training and ${split.validation[1] - split.validation[0]} validation samples`);
  }
  const mean = new Float64Array(p);
  const std = new Float64Array(p);
  for (let r = from; r < to; r++) for (let j = 0; j < p; j++) mean[j] = mean[j]! + samples[r * p + j]! / n;
  for (let r = from; r < to; r++) for (let j = 0; j < p; j++) std[j] = std[j]! + (samples[r * p + j]! - mean[j]!) ** 2 / n;
  for (let j = 0; j < p; j++) {
    const s = Math.sqrt(std[j]!);
    std[j] = s > 0 && Number.isFinite(s) ? s : 1;
  }
  const standardisedTrain = new Float64Array(n * p);
  for (let r = 0; r < n; r++) for (let j = 0; j < p; j++) standardisedTrain[r * p + j] = (samples[(from + r) * p + j]! - mean[j]!) / std[j]!;
  const regCovar = options.regCovar ?? 1e-6;
  return {
    kind: "neural-ecn-model",
    version: 1,
    architecture,
    levels,
    mean: Array.from(mean),
    std: Array.from(std),
    varianceFloor: Array.from(std, (s) => regCovar / (s * s)),
    correlation: Array.from(empiricalCorrelation(standardisedTrain, n, p)),
    split: { train: split.train, validation: split.validation, test: split.test },
    warmWindow: Array.from(samples.subarray(from * p, (from + architecture.window) * p))
  };
};

/** The samples standardised as the model describes. */
export const neuralDataset = (info: NeuralEcnModelInfo, samples: Float64Array, count: number): NeuralDataset => {
  const p = info.architecture.dim;
  const standardised = new Float32Array(count * p);
  for (let r = 0; r < count; r++) for (let j = 0; j < p; j++) standardised[r * p + j] = (samples[r * p + j]! - info.mean[j]!) / info.std[j]!;
  return { dim: p, count, standardised, split: info.split };
};

/**
 * Windows and targets for the target indices `targets`, feature-major as the network reads them:
 * steps[(t * p + j) * B + b] = coordinate j of S_{i-k+t} for target i = targets[b] (zero before the
 * first sample), targets[b * p + j] = coordinate j of S_i.
 */
export const windowBatch = (dataset: NeuralDataset, targets: ArrayLike<number>, window: number): { steps: Float32Array; targets: Float32Array } => {
  const p = dataset.dim;
  const B = targets.length;
  const steps = new Float32Array(window * p * B);
  const out = new Float32Array(B * p);
  const source = dataset.standardised;
  for (let b = 0; b < B; b++) {
    const i = targets[b]!;
    for (let j = 0; j < p; j++) out[b * p + j] = source[i * p + j]!;
    for (let t = 0; t < window; t++) {
      const r = i - window + t;
      if (r < 0) continue;
      for (let j = 0; j < p; j++) steps[(t * p + j) * B + b] = source[r * p + j]!;
    }
  }
  return { steps, targets: out };
};

/** The per-step tensors ([p, B] each) of a window batch. */
export const stepTensors = (steps: Float32Array, window: number, dim: number, batch: number): tf.Tensor2D[] =>
  Array.from({ length: window }, (_, t) => tf.tensor2d(steps.subarray(t * dim * batch, (t + 1) * dim * batch), [dim, batch], "float32"));

/** The correlation factor's inverse and log-determinant: constant (fixed) or from the weights (shared). */
const correlationTerms = (info: NeuralEcnModelInfo, network: NeuralEcnNetwork, fixed: { inverse: tf.Tensor2D; logDet: tf.Scalar } | undefined) =>
  info.architecture.correlation === "shared" ? lowerFactorInverse(network.sharedFactor()) : fixed!;

const fixedCorrelationTerms = (info: NeuralEcnModelInfo): { inverse: tf.Tensor2D; logDet: tf.Scalar } | undefined => {
  if (info.architecture.correlation !== "fixed") return undefined;
  const p = info.architecture.dim;
  const { factor } = correlationCholesky(info.correlation, p);
  let logDet = 0;
  for (let i = 0; i < p; i++) logDet += Math.log(factor[i * p + i]!);
  return { inverse: tf.tensor2d(Float32Array.from(invertLowerTriangular(factor, p)), [p, p], "float32"), logDet: tf.scalar(logDet, "float32") };
};

/** Per-sample log-densities (standardised units) of a batch. */
const batchLogDensity = (
  network: NeuralEcnNetwork,
  info: NeuralEcnModelInfo,
  fixed: { inverse: tf.Tensor2D; logDet: tf.Scalar } | undefined,
  floor: tf.Tensor1D,
  steps: readonly tf.Tensor2D[],
  targets: tf.Tensor2D
): tf.Tensor1D =>
  tf.tidy(() => {
    const params = network.forward(steps);
    const { inverse, logDet } = correlationTerms(info, network, fixed);
    return mixtureLogDensity(targets, { ...params, variances: tf.add(params.variances, floor) as tf.Tensor3D }, inverse, logDet);
  });

/**
 * Mean log-likelihood per sample (standardised units) of the targets in [from, to), evaluated in
 * batches of `batchSize`.
 */
export const neuralMeanLogLikelihood = (model: NeuralEcnModel, dataset: NeuralDataset, [from, to]: readonly [number, number], batchSize = 1000): number => {
  if (to <= from) return Number.NaN;
  const network = new NeuralEcnNetwork(model.info.architecture, model.weights);
  try {
    return meanLogLikelihoodOf(network, model.info, dataset, from, to, batchSize);
  } finally {
    network.dispose();
  }
};

const meanLogLikelihoodOf = (network: NeuralEcnNetwork, info: NeuralEcnModelInfo, dataset: NeuralDataset, from: number, to: number, batchSize: number): number => {
  const k = info.architecture.window;
  const p = info.architecture.dim;
  const fixed = fixedCorrelationTerms(info);
  const floor = tf.tensor1d(info.varianceFloor as number[], "float32");
  let total = 0;
  try {
    for (let start = from; start < to; start += batchSize) {
      const end = Math.min(to, start + batchSize);
      const indices = Int32Array.from({ length: end - start }, (_, b) => start + b);
      const batch = windowBatch(dataset, indices, k);
      const sum = tf.tidy(() => {
        const steps = stepTensors(batch.steps, k, p, indices.length);
        const targets = tf.tensor2d(batch.targets, [indices.length, p]);
        return tf.sum(batchLogDensity(network, info, fixed, floor, steps, targets));
      });
      total += (sum.dataSync() as Float32Array)[0]!;
      sum.dispose();
    }
  } finally {
    floor.dispose();
    fixed?.inverse.dispose();
    fixed?.logDet.dispose();
  }
  return total / (to - from);
};

/** Adam moments and step count, as plain data. */
export interface AdamState {
  readonly step: number;
  readonly first: WeightMap;
  readonly second: WeightMap;
}

export interface NeuralTrainOptions {
  /** Minibatch size (100 in the paper). */
  readonly batchSize: number;
  /** Learning rate up to and including `decayEpoch`. */
  readonly learningRate: number;
  /** Learning rate after `decayEpoch`. */
  readonly learningRateAfter: number;
  readonly decayEpoch: number;
  /** Epochs without a better validation loss before training stops. */
  readonly patience: number;
  /** Batch size of the validation pass (memory only; no effect on results beyond float rounding). */
  readonly evalBatchSize?: number;
}

export const paperTrainOptions: NeuralTrainOptions = { batchSize: 100, learningRate: 1e-3, learningRateAfter: 1e-4, decayEpoch: 110, patience: 50 };

export interface TrainingCurves {
  readonly epoch: number[];
  /** Mean minibatch negative log-likelihood during the epoch (standardised units). */
  readonly trainLoss: number[];
  /** Validation negative log-likelihood at the end of the epoch. */
  readonly validationLoss: number[];
  readonly learningRate: number[];
}

export interface NeuralTrainingState {
  readonly info: NeuralEcnModelInfo;
  /** Epochs run so far (epochs after stopping are not counted). */
  readonly epoch: number;
  readonly weights: WeightMap;
  readonly adam: AdamState;
  readonly best: WeightMap;
  readonly bestEpoch: number;
  readonly bestValidationLoss: number;
  readonly epochsSinceBest: number;
  /** Why training stopped, or null while it goes on. */
  readonly stopped: null | "patience" | "non-finite loss";
  readonly curves: TrainingCurves;
}

const zerosLike = (weights: WeightMap): WeightMap =>
  Object.fromEntries(Object.entries(weights).map(([name, w]) => [name, { shape: w.shape, data: new Float32Array(w.data.length) }]));

/** Epoch 0: initial weights, zero Adam moments, the initial validation loss as best-so-far. */
export const startNeuralTraining = (info: NeuralEcnModelInfo, dataset: NeuralDataset, options: NeuralTrainOptions, rng: Random, sharedInit: "empirical" | "identity" = "empirical"): NeuralTrainingState => {
  const p = info.architecture.dim;
  const raw = info.architecture.correlation === "shared" && sharedInit === "empirical" ? sharedRawFromFactor(correlationCholesky(info.correlation, p).factor, p) : undefined;
  const weights = initialWeights(info.architecture, rng.split("init"), raw);
  const validationLoss = -neuralMeanLogLikelihood({ info, weights }, dataset, info.split.validation, options.evalBatchSize);
  return {
    info,
    epoch: 0,
    weights,
    adam: { step: 0, first: zerosLike(weights), second: zerosLike(weights) },
    best: weights,
    bestEpoch: 0,
    bestValidationLoss: Number.isFinite(validationLoss) ? validationLoss : Number.POSITIVE_INFINITY,
    epochsSinceBest: 0,
    stopped: null,
    curves: { epoch: [], trainLoss: [], validationLoss: [], learningRate: [] }
  };
};

const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

/**
 * One epoch: shuffled minibatches of the training targets, one Adam update each, then the
 * validation loss and early stopping. A stopped state is returned unchanged. `rng` must be this
 * epoch's own stream (e.g. split by the epoch number).
 */
export const trainNeuralEpoch = (state: NeuralTrainingState, dataset: NeuralDataset, options: NeuralTrainOptions, rng: Random): NeuralTrainingState => {
  if (state.stopped !== null) return state;
  const { info } = state;
  const a = info.architecture;
  const epoch = state.epoch + 1;
  const learningRate = epoch <= options.decayEpoch ? options.learningRate : options.learningRateAfter;
  const network = new NeuralEcnNetwork(a, state.weights);
  const names = weightShapes(a).map(([name]) => name);
  const moment = (w: WeightMap) => names.map((name) => tf.tidy(() => tf.variable(tf.tensor(w[name]!.data, [...w[name]!.shape], "float32"), false)));
  const first = moment(state.adam.first);
  const second = moment(state.adam.second);
  const fixed = fixedCorrelationTerms(info);
  const floor = tf.tensor1d(info.varianceFloor as number[], "float32");
  const variables = network.trainable();
  let step = state.adam.step;
  let lossSum = 0;
  let lossCount = 0;
  try {
    const [from, to] = info.split.train;
    const order = Int32Array.from({ length: to - from }, (_, i) => from + i);
    rng.shuffle(order);
    for (let start = 0; start < order.length; start += options.batchSize) {
      const indices = order.subarray(start, Math.min(order.length, start + options.batchSize));
      const batch = windowBatch(dataset, indices, a.window);
      step += 1;
      // Bias corrections folded into the step size (Kingma and Ba, section 2), in float64.
      const rate = (learningRate * Math.sqrt(1 - ADAM.beta2 ** step)) / (1 - ADAM.beta1 ** step);
      const epsilon = ADAM.epsilon * Math.sqrt(1 - ADAM.beta2 ** step);
      const loss = tf.tidy(() => {
        const steps = stepTensors(batch.steps, a.window, a.dim, indices.length);
        const targets = tf.tensor2d(batch.targets, [indices.length, a.dim]);
        const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(batchLogDensity(network, info, fixed, floor, steps, targets))) as tf.Scalar, variables);
        variables.forEach((variable, i) => {
          const g = grads[variable.name]!;
          const m = tf.add(tf.mul(first[i]!, ADAM.beta1), tf.mul(g, 1 - ADAM.beta1));
          const v = tf.add(tf.mul(second[i]!, ADAM.beta2), tf.mul(tf.square(g), 1 - ADAM.beta2));
          first[i]!.assign(m);
          second[i]!.assign(v);
          variable.assign(tf.sub(variable, tf.mul(tf.div(m, tf.add(tf.sqrt(v), epsilon)), rate)));
        });
        return value;
      });
      const value = (loss.dataSync() as Float32Array)[0]!;
      loss.dispose();
      lossSum += value * indices.length;
      lossCount += indices.length;
      if (!Number.isFinite(value)) break;
    }
    const trainLoss = lossSum / lossCount;
    const weights = network.exportWeights();
    const exportMoments = (vars: tf.Variable[]): WeightMap =>
      Object.fromEntries(names.map((name, i) => [name, { shape: [...vars[i]!.shape], data: Float32Array.from(vars[i]!.dataSync() as Float32Array) }]));
    const validationLoss = Number.isFinite(trainLoss)
      ? -meanLogLikelihoodOf(network, info, dataset, info.split.validation[0], info.split.validation[1], options.evalBatchSize ?? 1000)
      : Number.NaN;
    const improved = Number.isFinite(validationLoss) && validationLoss < state.bestValidationLoss;
    const epochsSinceBest = improved ? 0 : state.epochsSinceBest + 1;
    const stopped = !Number.isFinite(trainLoss) || !Number.isFinite(validationLoss) ? "non-finite loss" : epochsSinceBest >= options.patience ? "patience" : null;
    return {
      info,
      epoch,
      weights,
      adam: { step, first: exportMoments(first), second: exportMoments(second) },
      best: improved ? weights : state.best,
      bestEpoch: improved ? epoch : state.bestEpoch,
      bestValidationLoss: improved ? validationLoss : state.bestValidationLoss,
      epochsSinceBest,
      stopped,
      curves: {
        epoch: [...state.curves.epoch, epoch],
        trainLoss: [...state.curves.trainLoss, trainLoss],
        validationLoss: [...state.curves.validationLoss, validationLoss],
        learningRate: [...state.curves.learningRate, learningRate]
      }
    };
  } finally {
    network.dispose();
    for (const v of [...first, ...second]) v.dispose();
    floor.dispose();
    fixed?.inverse.dispose();
    fixed?.logDet.dispose();
  }
};

/** The trained model: the best weights seen on the validation set. */
export const trainedModel = (state: NeuralTrainingState): NeuralEcnModel => ({ info: state.info, weights: state.best });

/** The lower Cholesky factor (p x p row-major) of the correlation a model uses: the fixed one, or the learnt shared one. */
export const modelCorrelationFactor = (model: NeuralEcnModel): Float64Array => {
  const p = model.info.architecture.dim;
  if (model.info.architecture.correlation === "fixed") return correlationCholesky(model.info.correlation, p).factor;
  return sharedFactorFromRaw(model.weights["correlation/raw"]!.data, p);
};
