/**
 * Artifacts of the neural ECN stages (paper section 2.3.2): the training checkpoint of an LSTM
 * mixture-density network (weights, best weights and Adam moments as a tensor bundle; model info,
 * progress and curves as JSON) and the simulator's ECN model (the vanilla mixture, or a trained
 * network), read by the training stages that simulate books with it. Codecs live here, not in the
 * stage that writes them, so a reader's fingerprint does not cover the writer's code.
 */
import { Schema } from "effect";
import type { WeightMap } from "../core/ecn/neural-network.ts";
import { trainedModel, type NeuralEcnModelInfo, type NeuralTrainingState } from "../core/ecn/neural-train.ts";
import type { Codec } from "../core/pipeline/codecs/codec.ts";
import { compositeCodec } from "../core/pipeline/codecs/composite.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { tensorBundleCodec, type TensorBundle } from "../core/pipeline/codecs/tensor.ts";

const Range = Schema.Tuple(Schema.Number, Schema.Number);
const Architecture = Schema.Struct({
  dim: Schema.Number,
  window: Schema.Number,
  lstmUnits: Schema.Number,
  inputWidth: Schema.Number,
  hiddenWidths: Schema.Array(Schema.Number),
  components: Schema.Number,
  activation: Schema.Literal("tanh", "relu"),
  correlation: Schema.Literal("fixed", "shared")
});
const ModelInfo = Schema.Struct({
  kind: Schema.Literal("neural-ecn-model"),
  version: Schema.Literal(1),
  architecture: Architecture,
  levels: Schema.Number,
  mean: Schema.Array(Schema.Number),
  std: Schema.Array(Schema.Number),
  varianceFloor: Schema.Array(Schema.Number),
  correlation: Schema.Array(Schema.Number),
  split: Schema.Struct({ train: Range, validation: Range, test: Range }),
  warmWindow: Schema.Array(Schema.Number)
});
/** Non-finite losses (a diverged epoch, no best yet) are stored as null: JSON has no NaN/Infinity. */
const MaybeNumber = Schema.NullOr(Schema.Number);
const TrainingMeta = Schema.Struct({
  info: ModelInfo,
  /** Which data the model was trained on. */
  data: Schema.String,
  epoch: Schema.Number,
  adamStep: Schema.Number,
  bestEpoch: Schema.Number,
  bestValidationLoss: MaybeNumber,
  epochsSinceBest: Schema.Number,
  stopped: Schema.NullOr(Schema.Literal("patience", "non-finite loss")),
  curves: Schema.Struct({
    epoch: Schema.Array(Schema.Number),
    trainLoss: Schema.Array(MaybeNumber),
    validationLoss: Schema.Array(MaybeNumber),
    learningRate: Schema.Array(Schema.Number)
  })
});

/** The loop state: the domain training state plus which data it was trained on. */
export interface NeuralTrainingArtifact {
  readonly state: NeuralTrainingState;
  readonly data: string;
}

const parts = compositeCodec<{ tensors: TensorBundle; meta: typeof TrainingMeta.Type }>("ecn-neural-training", {
  tensors: tensorBundleCodec,
  meta: jsonCodec(TrainingMeta)
});

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);
const nullToNaN = (x: number | null): number => (x === null ? Number.NaN : x);
const prefixed = (prefix: string, w: WeightMap): TensorBundle =>
  Object.fromEntries(Object.entries(w).map(([name, t]) => [`${prefix}/${name}`, { shape: [...t.shape], data: t.data }]));
const unprefixed = (prefix: string, bundle: TensorBundle): WeightMap =>
  Object.fromEntries(Object.entries(bundle).filter(([name]) => name.startsWith(prefix + "/")).map(([name, t]) => [name.slice(prefix.length + 1), t]));

/** Checkpoint codec: a tensor bundle (weights, best weights, Adam moments) + JSON (info, progress, curves). */
export const neuralTrainingCodec: Codec<NeuralTrainingArtifact> = {
  name: "ecn-neural-training",
  extension: "bin",
  encode: ({ state, data }) =>
    parts.encode({
      tensors: { ...prefixed("weights", state.weights), ...prefixed("best", state.best), ...prefixed("adam/m", state.adam.first), ...prefixed("adam/v", state.adam.second) },
      meta: {
        info: state.info,
        data,
        epoch: state.epoch,
        adamStep: state.adam.step,
        bestEpoch: state.bestEpoch,
        bestValidationLoss: finiteOrNull(state.bestValidationLoss),
        epochsSinceBest: state.epochsSinceBest,
        stopped: state.stopped,
        curves: {
          epoch: state.curves.epoch,
          trainLoss: state.curves.trainLoss.map(finiteOrNull),
          validationLoss: state.curves.validationLoss.map(finiteOrNull),
          learningRate: state.curves.learningRate
        }
      }
    }),
  decode: (bytes) => {
    const { tensors, meta } = parts.decode(bytes);
    const state: NeuralTrainingState = {
      info: meta.info as NeuralEcnModelInfo,
      epoch: meta.epoch,
      weights: unprefixed("weights", tensors),
      adam: { step: meta.adamStep, first: unprefixed("adam/m", tensors), second: unprefixed("adam/v", tensors) },
      best: unprefixed("best", tensors),
      bestEpoch: meta.bestEpoch,
      bestValidationLoss: meta.bestValidationLoss ?? Number.POSITIVE_INFINITY,
      epochsSinceBest: meta.epochsSinceBest,
      stopped: meta.stopped,
      curves: {
        epoch: [...meta.curves.epoch],
        trainLoss: meta.curves.trainLoss.map(nullToNaN),
        validationLoss: meta.curves.validationLoss.map(nullToNaN),
        learningRate: [...meta.curves.learningRate]
      }
    };
    return { state, data: meta.data };
  }
};

/** The simulator's ECN model: the vanilla mixture (the `model` input itself) or a trained network. */
export type EcnSimModel = { readonly kind: "gmm" } | { readonly kind: "neural"; readonly training: NeuralTrainingArtifact };

const GMM_TAG = 0;
const NEURAL_TAG = 1;
export const ecnSimModelCodec: Codec<EcnSimModel> = {
  name: "ecn-sim-model",
  extension: "bin",
  encode: (value) => {
    if (value.kind === "gmm") return Uint8Array.of(GMM_TAG);
    const body = neuralTrainingCodec.encode(value.training);
    const out = new Uint8Array(body.byteLength + 1);
    out[0] = NEURAL_TAG;
    out.set(body, 1);
    return out;
  },
  decode: (bytes) => {
    if (bytes[0] === GMM_TAG && bytes.byteLength === 1) return { kind: "gmm" };
    if (bytes[0] === NEURAL_TAG) return { kind: "neural", training: neuralTrainingCodec.decode(bytes.subarray(1)) };
    throw new Error("not an ECN simulator model artifact (unknown tag)");
  }
};

/** The trained network of a simulator model, or undefined for the vanilla mixture. */
export const neuralModelOf = (sim: EcnSimModel) => (sim.kind === "neural" ? trainedModel(sim.training.state) : undefined);

/** The artifact of `score-ecn-models` (table 2): each model's log-likelihoods per split. */
const SplitScores = Schema.Struct({ train: Schema.Number, val: Schema.Number, test: Schema.Number });
const ScoreRow = Schema.Struct({
  model: Schema.Literal("vanilla", "neural-fixed", "neural-shared"),
  standardised: Schema.propertySignature(SplitScores).annotations({ description: "Mean log-likelihood per sample of the standardised S." }),
  raw: Schema.propertySignature(SplitScores).annotations({ description: "Mean log-likelihood per sample of S in raw units (lots, ticks) = standardised - sumLogStd." }),
  epochs: Schema.propertySignature(Schema.NullOr(Schema.Number)).annotations({ description: "Neural only: epochs run, the epoch whose weights are scored, why training stopped." }),
  bestEpoch: Schema.NullOr(Schema.Number),
  stopped: Schema.NullOr(Schema.String)
});
export const EcnModelScores = Schema.Struct({
  data: Schema.String,
  sampleCounts: SplitScores,
  sumLogStd: Schema.propertySignature(Schema.Number).annotations({ description: "sum_j log std_j of the training part: standardised score minus this is the raw score." }),
  rows: Schema.Array(ScoreRow),
  paperOrderingOnTest: Schema.propertySignature(Schema.Boolean).annotations({ description: "The paper's table 2 ordering on the test part: vanilla < neural fixed < neural shared." })
});
export type EcnModelScores = typeof EcnModelScores.Type;
export const ecnModelScoresCodec = jsonCodec(EcnModelScores);

