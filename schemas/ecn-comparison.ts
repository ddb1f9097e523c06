/**
 * The artifact of `compare-ecn-models` (paper table 2): the paired differences of the three ECN
 * models' test log-likelihoods with their batch-means intervals (core/ecn/score-comparison.ts).
 */
import { Schema } from "effect";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";

const ModelName = Schema.Literal("vanilla", "neural-fixed", "neural-shared");

const Difference = Schema.Struct({
  first: ModelName,
  second: ModelName,
  mean: Schema.propertySignature(Schema.Number).annotations({ description: "Mean log-likelihood per test sample of `second` minus `first` (standardised units)." }),
  stdError: Schema.propertySignature(Schema.Number).annotations({ description: "Standard error over the blocks' paired differences." }),
  low: Schema.propertySignature(Schema.Number).annotations({ description: "95% Student-t interval, blocks - 1 degrees of freedom." }),
  high: Schema.Number
});

export const EcnModelComparison = Schema.Struct({
  data: Schema.String,
  synthetic: Schema.propertySignature(Schema.Boolean).annotations({ description: "Whether the data is the embedded generator's, whose level-volume variations are i.i.d. by construction." }),
  blocks: Schema.propertySignature(Schema.Number).annotations({ description: "Consecutive blocks the test part was cut into." }),
  testSamples: Schema.Number,
  differences: Schema.propertySignature(Schema.Array(Difference)).annotations({ description: "neural-fixed - vanilla, neural-shared - neural-fixed, neural-shared - vanilla." })
});
export type EcnModelComparison = typeof EcnModelComparison.Type;
export const ecnModelComparisonCodec = jsonCodec(EcnModelComparison);
