/**
 * Stages of the neural ECN model (paper section 2.3.2, figure 5, table 2):
 * `train-ecn-neural-fixed` and `train-ecn-neural-shared` train the LSTM mixture-density network
 * (fixed or learnt shared correlation) as loop stages, one epoch per iteration, checkpointing
 * weights, Adam state, best-so-far and curves; `score-ecn-models` scores the vanilla mixture and
 * both networks on the same chronological split in the same units (mean log-likelihood per sample
 * of the standardised S; raw = standardised - sum log std); `compare-ecn-models` gives the paired
 * differences of their test scores with batch-means intervals over consecutive test blocks
 * (core/ecn/score-comparison.ts); `ecn-models-report` writes table 2's equivalent, the
 * differences and the training curves. Thin wrappers: the work is in core/ecn/neural-*.ts.
 */
import { ecnModelScoresCodec, type EcnModelScores } from "../schemas/ecn-neural-artifacts.ts";
import { Effect, Schema } from "effect";
import { htmlReport, renderSvg, type VegaLiteSpec } from "../core/analysis/report.ts";
import { stepLogLikelihood } from "../core/ecn/model.ts";
import type { CorrelationVariant, NeuralEcnArchitecture, WeightMap } from "../core/ecn/neural-network.ts";
import {
  describeNeuralModel,
  logStdSum,
  neuralDataset,
  neuralMeanLogLikelihood,
  startNeuralTraining,
  trainedModel,
  trainNeuralEpoch,
  type NeuralTrainOptions
} from "../core/ecn/neural-train.ts";
import { buildSamples } from "../core/ecn/samples.ts";
import { blockScoreDifferences, consecutiveBlocks, syntheticHistoryNote } from "../core/ecn/score-comparison.ts";
import { toLots, toTicks } from "../core/ecn/snapshots.ts";
import { Backend } from "../core/pipeline/backend.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { textCodec } from "../core/pipeline/codecs/text.ts";
import { Random, Rng } from "../core/pipeline/rng.ts";
import { Stage, type LoopContext } from "../core/pipeline/stage.ts";
import type { EcnModel } from "../schemas/ecn.ts";
import { ecnModelCodec, l2Codec, tableToSeries, type L2Data } from "../schemas/ecn-artifacts.ts";
import { ecnModelComparisonCodec, type EcnModelComparison } from "../schemas/ecn-comparison.ts";
import { ecnSimModelCodec, neuralTrainingCodec, type EcnSimModel, type NeuralTrainingArtifact } from "../schemas/ecn-neural-artifacts.ts";

const PositiveNumber = Schema.Number.pipe(Schema.positive(), Schema.finite());
const PositiveInt = Schema.Int.pipe(Schema.positive());

/** Params `ecn.neural.train.*`, shared by both variants. */
export const EcnNeuralTrainParams = Schema.Struct({
  maxEpochs: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 1_000_000)), { default: () => 500 }).annotations({ description: "Epochs N (the loop's iteration count; raising it resumes from the last checkpoint)." }),
  checkpointEvery: Schema.optionalWith(PositiveInt, { default: () => 10 }).annotations({ description: "Checkpoint every K epochs." }),
  patience: Schema.optionalWith(PositiveInt, { default: () => 30 }).annotations({ description: "Early stopping: epochs without a better validation loss before training stops." }),
  batchSize: Schema.optionalWith(PositiveInt, { default: () => 100 }).annotations({ description: "Samples per minibatch of the LSTM's Adam steps (the paper's 100)." }),
  learningRate: Schema.optionalWith(PositiveNumber, { default: () => 1e-3 }).annotations({ description: "Adam step size up to `decayEpoch` (the paper's 1e-3)." }),
  learningRateAfter: Schema.optionalWith(PositiveNumber, { default: () => 1e-4 }).annotations({ description: "Adam step size after `decayEpoch` (the paper's 1e-4)." }),
  decayEpoch: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 110 }).annotations({ description: "Last epoch at `learningRate`; later epochs use `learningRateAfter`." }),
  window: Schema.optionalWith(PositiveInt, { default: () => 20 }).annotations({ description: "History window k." }),
  lstmUnits: Schema.optionalWith(PositiveInt, { default: () => 32 }).annotations({ description: "Units of the LSTM layer." }),
  inputWidth: Schema.optionalWith(PositiveInt, { default: () => 32 }).annotations({ description: "Width of the dense layer in front of the LSTM." }),
  hiddenWidths: Schema.optionalWith(Schema.Array(PositiveInt), { default: () => [64, 64] }).annotations({ description: "Widths of the dense layers after the LSTM." }),
  components: Schema.optionalWith(PositiveInt, { default: () => 5 }).annotations({ description: "Mixture components n_mix." }),
  activation: Schema.optionalWith(Schema.Literal("tanh", "relu"), { default: () => "tanh" as const }).annotations({ description: "Activation of the dense layers." }),
  sharedInit: Schema.optionalWith(Schema.Literal("empirical", "identity"), { default: () => "empirical" as const }).annotations({ description: "Start of the learnt shared correlation: the fixed (empirical) one, or the identity." }),
  regCovar: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 1e-6 }).annotations({ description: "Variance floor in raw units, as the vanilla mixture's regCovar." })
});
export type EcnNeuralTrainParams = typeof EcnNeuralTrainParams.Type;

/** The S samples in the vanilla model's units (lots, ticks), exactly as `fitEcnModel` builds them. */
const stepSamples = (l2: L2Data, model: EcnModel) => {
  const raw = tableToSeries(l2.series, l2.meta.source, l2.meta.levels);
  return buildSamples(toTicks(toLots(raw, model.volumeUnit), model.tick));
};

const trainOptions = (p: EcnNeuralTrainParams): NeuralTrainOptions => ({
  batchSize: p.batchSize,
  learningRate: p.learningRate,
  learningRateAfter: p.learningRateAfter,
  decayEpoch: p.decayEpoch,
  patience: p.patience
});

const architectureOf = (p: EcnNeuralTrainParams, levels: number, correlation: CorrelationVariant): NeuralEcnArchitecture => ({
  dim: 2 * levels + 2,
  window: p.window,
  lstmUnits: p.lstmUnits,
  inputWidth: p.inputWidth,
  hiddenWidths: [...p.hiddenWidths],
  components: p.components,
  activation: p.activation,
  correlation
});

/**
 * Both variants draw from the same stream of the run seed (not their node's stream): same initial
 * network weights and same minibatch order, so with `sharedInit: "empirical"` the shared variant
 * starts exactly where the fixed one does and the two runs differ only in learning C.
 */
const sharedStream = (seed: number): Random => Random.fromSeed(seed).split("ecn-neural");

/** The first state of a training run (epoch 0). */
const startTraining = (inputs: { l2: L2Data; model: EcnModel }, p: EcnNeuralTrainParams, correlation: CorrelationVariant) =>
  Effect.gen(function* () {
    yield* (yield* Backend).ensure;
    const rng = sharedStream((yield* Rng).seed);
    return yield* Stage.attempt(`train-ecn-neural-${correlation}`, (): NeuralTrainingArtifact => {
      const samples = stepSamples(inputs.l2, inputs.model);
      const info = describeNeuralModel(samples.s, samples.sCount, inputs.model.levels, architectureOf(p, inputs.model.levels, correlation), { regCovar: p.regCovar, sharedInit: p.sharedInit });
      const dataset = neuralDataset(info, samples.s, samples.sCount);
      return { state: startNeuralTraining(info, dataset, trainOptions(p), rng.split("init"), p.sharedInit), data: inputs.model.data };
    });
  });

/** One epoch (nothing once early stopping has stopped the run). */
const trainEpoch = (artifact: NeuralTrainingArtifact, inputs: { l2: L2Data; model: EcnModel }, p: EcnNeuralTrainParams, context: LoopContext, correlation: CorrelationVariant) =>
  Effect.gen(function* () {
    if (artifact.state.stopped !== null) {
      context.status(`stopped (${artifact.state.stopped}) at epoch ${artifact.state.epoch}, best ${artifact.state.bestEpoch}`);
      return artifact;
    }
    yield* (yield* Backend).ensure;
    const rng = sharedStream((yield* Rng).seed);
    const next = yield* Stage.attempt(`train-ecn-neural-${correlation}`, () => {
      const samples = stepSamples(inputs.l2, inputs.model);
      const dataset = neuralDataset(artifact.state.info, samples.s, samples.sCount);
      return trainNeuralEpoch(artifact.state, dataset, trainOptions(p), rng.split(`epoch:${context.iteration}`));
    });
    const c = next.curves;
    context.metrics({ "losses/train_nll": c.trainLoss.at(-1)!, "losses/validation_nll": c.validationLoss.at(-1)!, "charts/best_epoch": next.bestEpoch });
    context.status(`train ${(-c.trainLoss.at(-1)!).toFixed(3)}, val ${(-c.validationLoss.at(-1)!).toFixed(3)} (best ${(-next.bestValidationLoss).toFixed(3)} @ ${next.bestEpoch})`);
    return { state: next, data: artifact.data } satisfies NeuralTrainingArtifact;
  });

const trainingStage = (correlation: CorrelationVariant) =>
  Stage.loop({
    name: `train-ecn-neural-${correlation}`,
    description: `neural ECN model (LSTM mixture density, ${correlation} correlation), one epoch per iteration`,
    source: import.meta.url,
    params: EcnNeuralTrainParams,
    inputs: { l2: l2Codec, model: ecnModelCodec },
    state: neuralTrainingCodec,
    iterations: (p) => p.maxEpochs,
    checkpointEvery: (p) => p.checkpointEvery,
    scheduleParams: ["maxEpochs", "checkpointEvery"],
    init: (inputs, p) => startTraining(inputs, p, correlation),
    step: (artifact, inputs, p, context) => trainEpoch(artifact, inputs, p, context, correlation)
  });

export const trainEcnNeuralFixed = trainingStage("fixed");
export const trainEcnNeuralShared = trainingStage("shared");

type ScoredInputs = { readonly l2: L2Data; readonly model: EcnModel; readonly fixed: NeuralTrainingArtifact; readonly shared: NeuralTrainingArtifact };

/**
 * Each model's mean log-likelihood per sample on each range of the S samples: the vanilla
 * mixture's in raw units (lots, ticks) and the networks' in standardised units (raw = standardised
 * - `shift`, the training part's sum log std).
 */
const scoresOnRanges = (inputs: ScoredInputs, ranges: ReadonlyArray<readonly [number, number]>, batchSize: number) => {
  const samples = stepSamples(inputs.l2, inputs.model);
  const info = inputs.fixed.state.info;
  const dim = info.architecture.dim;
  const neural = (artifact: NeuralTrainingArtifact) => {
    const model = trainedModel(artifact.state);
    const dataset = neuralDataset(model.info, samples.s, samples.sCount);
    return ranges.map((range) => neuralMeanLogLikelihood(model, dataset, range, batchSize));
  };
  return {
    shift: logStdSum(info),
    vanillaRaw: ranges.map(([from, to]) => stepLogLikelihood(inputs.model, samples.s.subarray(from * dim, to * dim))),
    fixed: neural(inputs.fixed),
    shared: neural(inputs.shared)
  };
};

const ScoreParams = Schema.Struct({
  batchSize: Schema.optionalWith(PositiveInt, { default: () => 1000 }).annotations({ description: "Samples per batch when scoring the networks (memory only)." })
});

export const scoreEcnModels = Stage.make({
  name: "score-ecn-models",
  description: "log-likelihood of the vanilla and neural ECN models on train/validation/test (table 2)",
  source: import.meta.url,
  params: ScoreParams,
  inputs: { l2: l2Codec, model: ecnModelCodec, fixed: neuralTrainingCodec, shared: neuralTrainingCodec },
  output: ecnModelScoresCodec,
  run: (inputs, p) =>
    Effect.gen(function* () {
      yield* (yield* Backend).ensure;
      return yield* Stage.attempt("score-ecn-models", (): EcnModelScores => {
        const info = inputs.fixed.state.info;
        const parts = ["train", "val", "test"] as const;
        const range = (part: (typeof parts)[number]) => (part === "val" ? info.split.validation : info.split[part]);
        const scores = scoresOnRanges(inputs, parts.map(range), p.batchSize);
        const shift = scores.shift;
        const byPart = (values: readonly number[]) => ({ train: values[0]!, val: values[1]!, test: values[2]! });
        const vanillaRaw = byPart(scores.vanillaRaw);
        const vanilla = { model: "vanilla" as const, standardised: { train: vanillaRaw.train + shift, val: vanillaRaw.val + shift, test: vanillaRaw.test + shift }, raw: vanillaRaw, epochs: null, bestEpoch: null, stopped: null };
        const neural = (name: "neural-fixed" | "neural-shared", artifact: NeuralTrainingArtifact, values: readonly number[]) => {
          const standardised = byPart(values);
          const raw = { train: standardised.train - shift, val: standardised.val - shift, test: standardised.test - shift };
          return { model: name, standardised, raw, epochs: artifact.state.epoch, bestEpoch: artifact.state.bestEpoch, stopped: artifact.state.stopped };
        };
        const fixed = neural("neural-fixed", inputs.fixed, scores.fixed);
        const shared = neural("neural-shared", inputs.shared, scores.shared);
        return {
          data: inputs.model.data,
          sampleCounts: Object.fromEntries(parts.map((part) => [part, range(part)[1] - range(part)[0]])) as { train: number; val: number; test: number },
          sumLogStd: shift,
          rows: [vanilla, fixed, shared],
          paperOrderingOnTest: vanilla.standardised.test < fixed.standardised.test && fixed.standardised.test < shared.standardised.test
        };
      });
    })
});

const ComparisonParams = Schema.Struct({
  blocks: Schema.optionalWith(Schema.Int.pipe(Schema.between(2, 1000)), { default: () => 10 }).annotations({
    description: "Consecutive blocks the test part is cut into for the batch-means intervals of the score differences."
  }),
  ...ScoreParams.fields
});

export const compareEcnModels = Stage.make({
  name: "compare-ecn-models",
  description: "paired differences of the ECN models' test log-likelihoods with batch-means intervals (table 2)",
  source: import.meta.url,
  params: ComparisonParams,
  inputs: { l2: l2Codec, model: ecnModelCodec, fixed: neuralTrainingCodec, shared: neuralTrainingCodec },
  output: ecnModelComparisonCodec,
  run: (inputs, p) =>
    Effect.gen(function* () {
      yield* (yield* Backend).ensure;
      return yield* Stage.attempt("compare-ecn-models", (): EcnModelComparison => {
        const [from, to] = inputs.fixed.state.info.split.test;
        const scores = scoresOnRanges(inputs, consecutiveBlocks(from, to, p.blocks), p.batchSize);
        // The vanilla score in the networks' (standardised) units.
        const byModel = { vanilla: scores.vanillaRaw.map((raw) => raw + scores.shift), "neural-fixed": scores.fixed, "neural-shared": scores.shared };
        return {
          data: inputs.model.data,
          synthetic: inputs.l2.meta.source === "synthetic",
          blocks: p.blocks,
          testSamples: to - from,
          differences: blockScoreDifferences(byModel, [
            ["vanilla", "neural-fixed"],
            ["neural-fixed", "neural-shared"],
            ["vanilla", "neural-shared"]
          ])
        };
      });
    })
});

const curvesSpec = (title: string, rows: Array<{ epoch: number; logLikelihood: number; series: string }>): VegaLiteSpec => ({
  $schema: "https://vega.github.io/schema/vega-lite/v6.json",
  title,
  width: 420,
  height: 220,
  data: { values: rows },
  mark: { type: "line" },
  encoding: {
    x: { field: "epoch", type: "quantitative", title: "epoch" },
    y: { field: "logLikelihood", type: "quantitative", title: "mean log-likelihood (standardised)", scale: { zero: false } },
    color: { field: "series", type: "nominal" }
  }
});

const ReportParams = Schema.Struct({});

export const ecnModelsReport = Stage.make({
  name: "ecn-models-report",
  description: "HTML report: table 2 (vanilla vs neural ECN scores) and training curves",
  source: import.meta.url,
  params: ReportParams,
  inputs: { scores: ecnModelScoresCodec, comparison: ecnModelComparisonCodec, fixed: neuralTrainingCodec, shared: neuralTrainingCodec },
  output: textCodec("html"),
  run: (inputs) =>
    Effect.gen(function* () {
      const { scores } = inputs;
      const svgs: string[] = [];
      for (const [name, artifact] of [["fixed", inputs.fixed], ["shared", inputs.shared]] as const) {
        const c = artifact.state.curves;
        const rows = c.epoch.flatMap((epoch, i) =>
          [
            { epoch, logLikelihood: -c.trainLoss[i]!, series: "train (minibatch mean)" },
            { epoch, logLikelihood: -c.validationLoss[i]!, series: "validation" }
          ].filter((r) => Number.isFinite(r.logLikelihood))
        );
        svgs.push(yield* Effect.promise(() => renderSvg(curvesSpec(`Neural ECN, ${name} correlation`, rows))));
      }
      const label = { vanilla: "Vanilla (Gaussian mixture, EM)", "neural-fixed": "Neural w/ fixed correlation", "neural-shared": "Neural w/ shared correlation" } as const;
      return htmlReport(
        "ECN models: vanilla vs neural",
        `Log-likelihood scores of the three ECN models of the paper's table 2 on ${scores.data}, chronological 70/15/15 split (${scores.sampleCounts.train}/${scores.sampleCounts.val}/${scores.sampleCounts.test} step variations S).`,
        [
          {
            heading: "Table 2: mean log-likelihood per sample of the standardised S",
            text:
              `Standardised with the training part's mean and standard deviation. Raw-unit scores (lots, ticks) are these minus sum log std = ${scores.sumLogStd.toFixed(4)}. ` +
              `Paper's ordering on test (vanilla < fixed < shared): ${scores.paperOrderingOnTest ? "holds" : "does not hold"}.`,
            table: {
              columns: ["model", "train", "validation", "test", "epochs", "best epoch", "stopped"],
              rows: scores.rows.map((r) => [label[r.model], r.standardised.train, r.standardised.val, r.standardised.test, r.epochs, r.bestEpoch, r.stopped])
            }
          },
          {
            heading: "How sure the ordering is: paired differences on the test part",
            text:
              `Mean log-likelihood per test sample of one model minus another's, with the 95% Student-t interval over ${inputs.comparison.blocks} consecutive blocks of the ${inputs.comparison.testSamples} test samples (batch means: per-sample scores are autocorrelated and heavy-tailed, so samples are not treated as independent).` +
              (inputs.comparison.synthetic ? ` ${syntheticHistoryNote.charAt(0).toUpperCase()}${syntheticHistoryNote.slice(1)}: the paper's ordering is a claim about real books.` : ""),
            table: {
              columns: ["difference", "mean", "95% low", "95% high"],
              rows: inputs.comparison.differences.map((d) => [`${label[d.second]} - ${label[d.first]}`, d.mean, d.low, d.high])
            }
          },
          {
            heading: "Raw units (lots, ticks)",
            table: { columns: ["model", "train", "validation", "test"], rows: scores.rows.map((r) => [label[r.model], r.raw.train, r.raw.val, r.raw.test]) }
          },
          { heading: "Training curves", text: "Mean log-likelihood per sample (standardised) by epoch; the scored weights are those of the best validation epoch.", svgs }
        ]
      );
    })
});

// ---------------------------------------------------------------------------------------------
// The ECN model the simulator runs on (`--set ecn.model=neural-shared`)
// ---------------------------------------------------------------------------------------------

/**
 * Params of `train-ecn-sim-model`, read from the pipeline's `ecn` group: `model` picks the model
 * that drives the simulated books; the neural variants are trained here with `neural.train`.
 * `data` and `gmm` belong to the other ECN nodes of the group and are accepted as they are.
 */
export const EcnSimModelParams = Schema.Struct({
  model: Schema.optionalWith(Schema.Literal("gmm", "neural-fixed", "neural-shared"), { default: () => "gmm" as const }).annotations({ description: "The ECN model of the simulator: the vanilla mixture, or a neural model trained on the same data." }),
  neural: Schema.optionalWith(
    Schema.Struct({
      train: Schema.optionalWith(EcnNeuralTrainParams, { default: () => EcnNeuralTrainParams.make({}) }),
      score: Schema.optional(Schema.Unknown),
      report: Schema.optional(Schema.Unknown)
    }),
    { default: () => ({ train: EcnNeuralTrainParams.make({}) }) }
  ),
  data: Schema.optional(Schema.Unknown),
  gmm: Schema.optional(Schema.Unknown)
});
export type EcnSimModelParams = typeof EcnSimModelParams.Type;

const variantOf = (p: EcnSimModelParams): CorrelationVariant => (p.model === "neural-fixed" ? "fixed" : "shared");

/**
 * Loop `train-ecn-sim-model`: with `ecn.model=gmm` (the default) it runs no epoch and says so;
 * with a neural model it trains that network (one epoch per iteration, early stopping, the same
 * schedule as `ecn-models`) and hands it to the training stages, whose ECN agents then sample
 * S_{n+1} given each book's own history.
 */
export const trainEcnSimModel = Stage.loop({
  name: "train-ecn-sim-model",
  description: "the ECN model of the simulated books: the vanilla mixture, or a neural model trained here",
  source: import.meta.url,
  params: EcnSimModelParams,
  inputs: { l2: l2Codec, model: ecnModelCodec },
  state: ecnSimModelCodec,
  iterations: (p) => (p.model === "gmm" ? 0 : p.neural.train.maxEpochs),
  checkpointEvery: (p) => p.neural.train.checkpointEvery,
  scheduleParams: [],
  init: (inputs, p) =>
    p.model === "gmm" ? Effect.succeed<EcnSimModel>({ kind: "gmm" }) : Effect.map(startTraining(inputs, p.neural.train, variantOf(p)), (training): EcnSimModel => ({ kind: "neural", training })),
  step: (state, inputs, p, context) =>
    state.kind === "gmm"
      ? Effect.succeed(state)
      : Effect.map(trainEpoch(state.training, inputs, p.neural.train, context, variantOf(p)), (training): EcnSimModel => ({ kind: "neural", training }))
});
