/**
 * PPO settings of one shared policy as stage params (the paper's RLlib defaults in
 * brackets). The defaults here are the `quick` scale used by every pipeline that trains a policy;
 * each pipeline's `paper` preset restores the bracketed values.
 */
import { Schema } from "effect";
import { defaultPpoParams, type PpoParams } from "../core/rl/ppo.ts";

const PositiveInt = Schema.Int.pipe(Schema.positive());
const Positive = Schema.Number.pipe(Schema.positive(), Schema.finite());
const opt = <A, I>(schema: Schema.Schema<A, I>, value: A) => Schema.optionalWith(schema, { default: () => value });

export const PpoSettings = Schema.Struct({
  learningRate: opt(Positive, 3e-4).annotations({ description: "Adam step size [1e-4]." }),
  sgdPasses: opt(PositiveInt, 4).annotations({ description: "SGD passes per update [30]." }),
  minibatchSize: opt(PositiveInt, 1024).annotations({ description: "Samples per minibatch [128]." }),
  hidden: opt(Schema.mutable(Schema.Array(PositiveInt)), [64, 64]).annotations({ description: "Hidden widths of the policy and value networks [[256, 256]]." }),
  clip: opt(Positive, 0.3).annotations({ description: "Surrogate clip [0.3]." }),
  klTarget: opt(Positive, 0.01).annotations({ description: "Target KL of the adaptive penalty [0.01]." }),
  discount: opt(Schema.Number.pipe(Schema.between(0, 1)), 1).annotations({ description: "Discount zeta [1]." }),
  gaeLambda: opt(Schema.Number.pipe(Schema.between(0, 1)), 1).annotations({ description: "GAE lambda [1]." }),
  entropyCoeff: opt(Schema.Number.pipe(Schema.nonNegative()), 0).annotations({ description: "Entropy bonus [0]." }),
  logStdMin: opt(Schema.Number.pipe(Schema.between(-20, 0)), -5).annotations({
    description:
      "Floor of a Gaussian policy's log-stDev (its output is clamped there). PPO moves a Gaussian policy by about one stDev per update, so at -5 (stDev 0.007) a policy whose exploration collapsed no longer moves: its reward curve is flat and a fine-tuned deviator cannot leave it, whether or not it is an equilibrium."
  }),
  backend: opt(Schema.Literal("onnxruntime", "tfjs", "auto"), "onnxruntime").annotations({ description: "Where the networks compute: \"onnxruntime\" (native, multi-threaded; the default), \"tfjs\" (the portable reference) or \"auto\" (onnxruntime when it loads, else tfjs; the run's provenance records which ran). Results differ across backends in float32 rounding, so it is in the key." }),
  threads: opt(Schema.Int.pipe(Schema.between(1, 64)), 1).annotations({ description: "onnxruntime intra-op threads per network. In the key: different counts can differ in the last bits (repeated runs with one count are bit-identical)." })
});
export type PpoSettings = typeof PpoSettings.Type;

/** The PPO params of core/rl for these settings (the rest from the domain defaults). */
export const ppoParamsFrom = (s: PpoSettings): PpoParams => ({
  ...defaultPpoParams,
  learningRate: s.learningRate,
  sgdPasses: s.sgdPasses,
  minibatchSize: s.minibatchSize,
  clipParam: s.clip,
  klTarget: s.klTarget,
  discount: s.discount,
  gaeLambda: s.gaeLambda,
  entropyCoeff: s.entropyCoeff,
  network: {
    ...defaultPpoParams.network,
    policy: { ...defaultPpoParams.network.policy, hiddenWidths: s.hidden },
    value: { ...defaultPpoParams.network.value, hiddenWidths: s.hidden },
    gaussian: { ...defaultPpoParams.network.gaussian, logStdMin: s.logStdMin },
    compute: { backend: s.backend, intraOpThreads: s.threads }
  }
});
