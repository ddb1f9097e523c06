/**
 * Training and sampling of the neural ECN model (paper section 2.3.2), on the synthetic
 * level-2 data with a tiny network so the whole file runs in seconds on the cpu backend:
 * training reduces the training loss; a seed fixes every weight bit for bit, and a run resumed
 * from a saved epoch equals an uninterrupted one; the float64 sampling forward pass computes the
 * same mixture as the tfjs one; the score of a model equals the mean of its per-sample
 * log-densities in raw units plus sum log std (change of variables); and an order book driven by
 * the neural sampler through the ECN agent stays alive and bounded for 10,000 steps.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { EcnAgent } from "../../core/book/ecn-agent.ts";
import { BUY, OrderBook, SELL } from "../../core/book/order-book.ts";
import { fitEcnModel } from "../../core/ecn/model.ts";
import { NeuralEcnInference, NeuralEcnNetwork, type NeuralEcnArchitecture } from "../../core/ecn/neural-network.ts";
import { neuralVariationModel } from "../../core/ecn/neural-sampler.ts";
import {
  describeNeuralModel,
  logStdSum,
  neuralDataset,
  neuralMeanLogLikelihood,
  startNeuralTraining,
  stepTensors,
  trainedModel,
  trainNeuralEpoch,
  windowBatch,
  type NeuralTrainingState,
  type NeuralTrainOptions
} from "../../core/ecn/neural-train.ts";
import { buildSamples } from "../../core/ecn/samples.ts";
import { toTicks } from "../../core/ecn/snapshots.ts";
import { generateSyntheticL2 } from "../../core/ecn/synthetic.ts";
import { Random } from "../../core/random/philox.ts";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const tiny = (correlation: "fixed" | "shared"): NeuralEcnArchitecture => ({
  dim: 12,
  window: 6,
  lstmUnits: 8,
  inputWidth: 8,
  hiddenWidths: [12],
  components: 2,
  activation: "tanh",
  correlation
});
const options: NeuralTrainOptions = { batchSize: 100, learningRate: 1e-2, learningRateAfter: 1e-3, decayEpoch: 3, patience: 10 };

const synthetic = generateSyntheticL2(Random.fromSeed(11), { rows: 1200 });
const series = toTicks(synthetic.series, synthetic.tick);
const samples = buildSamples(series);

const train = (correlation: "fixed" | "shared", seed: number, epochs: number, from?: NeuralTrainingState): NeuralTrainingState => {
  const info = describeNeuralModel(samples.s, samples.sCount, 5, tiny(correlation));
  const dataset = neuralDataset(info, samples.s, samples.sCount);
  let state = from ?? startNeuralTraining(info, dataset, options, Random.fromSeed(seed));
  for (let e = state.epoch; e < epochs; e++) state = trainNeuralEpoch(state, dataset, options, Random.fromSeed(seed).split(`epoch:${e + 1}`));
  return state;
};

const sameWeights = (a: NeuralTrainingState, b: NeuralTrainingState) =>
  Object.keys(a.weights).every((name) => Buffer.compare(Buffer.from(a.weights[name]!.data.buffer), Buffer.from(b.weights[name]!.data.buffer)) === 0);

describe("neural ECN training", () => {
  it.each(["fixed", "shared"] as const)("reduces the training loss (%s correlation)", (correlation) => {
    const start = train(correlation, 3, 0);
    const end = train(correlation, 3, 6, start);
    const dataset = neuralDataset(start.info, samples.s, samples.sCount);
    const before = neuralMeanLogLikelihood({ info: start.info, weights: start.weights }, dataset, start.info.split.train);
    const after = neuralMeanLogLikelihood({ info: end.info, weights: end.weights }, dataset, end.info.split.train);
    expect(after).toBeGreaterThan(before + 0.5);
    expect(end.curves.trainLoss.at(-1)!).toBeLessThan(end.curves.trainLoss[0]!);
    expect(end.curves.epoch).toEqual([1, 2, 3, 4, 5, 6]);
    expect(end.curves.learningRate).toEqual([1e-2, 1e-2, 1e-2, 1e-3, 1e-3, 1e-3]);
    // Best-so-far is the epoch with the lowest validation loss.
    const losses = [start.bestValidationLoss, ...end.curves.validationLoss];
    const best = Math.min(...losses);
    expect(end.bestValidationLoss).toBe(best);
    expect(end.bestEpoch).toBe(losses.indexOf(best));
  });

  it("is deterministic per seed, and a resumed run equals an uninterrupted one", () => {
    const a = train("shared", 7, 2);
    const b = train("shared", 7, 2);
    const c = train("shared", 8, 2);
    expect(sameWeights(a, b)).toBe(true);
    expect(sameWeights(a, c)).toBe(false);
    // Resume from a deep copy of the state after epoch 1 (as a checkpoint would restore it).
    const one = structuredClone(train("shared", 7, 1));
    const resumed = train("shared", 7, 2, one);
    expect(sameWeights(a, resumed)).toBe(true);
    expect(resumed.adam.step).toBe(a.adam.step);
    expect(resumed.curves).toEqual(a.curves);
  });

  it("stops early when the validation loss stops improving and keeps the best weights", () => {
    const info = describeNeuralModel(samples.s, samples.sCount, 5, tiny("fixed"));
    const dataset = neuralDataset(info, samples.s, samples.sCount);
    // A large learning rate and patience 1: training stops at the first epoch that does not improve.
    const noisy: NeuralTrainOptions = { ...options, learningRate: 0.05, patience: 1 };
    let state = startNeuralTraining(info, dataset, noisy, Random.fromSeed(1));
    for (let e = 1; e <= 40 && state.stopped === null; e++) state = trainNeuralEpoch(state, dataset, noisy, Random.fromSeed(1).split(`epoch:${e}`));
    expect(state.stopped).not.toBeNull();
    const after = trainNeuralEpoch(state, dataset, noisy, Random.fromSeed(1).split("later"));
    expect(after).toBe(state);
    const bestScore = neuralMeanLogLikelihood(trainedModel(state), dataset, info.split.validation);
    expect(-bestScore).toBeCloseTo(state.bestValidationLoss, 3);
    expect(state.bestValidationLoss).toBeLessThanOrEqual(Math.min(...state.curves.validationLoss.filter(Number.isFinite)));
  });
});

describe("neural ECN forward passes and scores", () => {
  const state = train("shared", 5, 2);
  const model = trainedModel(state);
  const dataset = neuralDataset(model.info, samples.s, samples.sCount);

  it("the float64 sampling forward pass equals the tfjs one", () => {
    const a = model.info.architecture;
    const targets = [0, 3, 100, 700];
    const batch = windowBatch(dataset, targets, a.window);
    const network = new NeuralEcnNetwork(a, model.weights);
    const out = tf.tidy(() => {
      const params = network.forward(stepTensors(batch.steps, a.window, a.dim, targets.length));
      return { logWeights: tf.logSoftmax(params.logits, 1).arraySync(), means: params.means.arraySync(), variances: params.variances.arraySync() };
    });
    network.dispose();
    const inference = new NeuralEcnInference(a, model.weights);
    targets.forEach((target, b) => {
      const window = new Float64Array(a.window * a.dim);
      for (let t = 0; t < a.window; t++) {
        const r = target - a.window + t;
        if (r >= 0) for (let j = 0; j < a.dim; j++) window[t * a.dim + j] = dataset.standardised[r * a.dim + j]!;
      }
      const row = inference.run(window);
      for (let k = 0; k < a.components; k++) {
        expect(row.logWeights[k]).toBeCloseTo(out.logWeights[b]![k]!, 4);
        for (let j = 0; j < a.dim; j++) {
          expect(row.means[k * a.dim + j]).toBeCloseTo(out.means[b]![k]![j]!, 4);
          expect(Math.abs(row.variances[k * a.dim + j]! / out.variances[b]![k]![j]! - 1)).toBeLessThan(1e-4);
        }
      }
    });
  });

  it("scores are mean log-densities of the standardised samples; raw = standardised - sum log std", () => {
    const [from, to] = model.info.split.test;
    const batched = neuralMeanLogLikelihood(model, dataset, [from, to], 37);
    const single = neuralMeanLogLikelihood(model, dataset, [from, to], 10_000);
    expect(batched).toBeCloseTo(single, 3);
    // Change of variables checked numerically: scaling one raw coordinate by s shifts the raw score by -log s.
    const scaled = Float64Array.from(samples.s);
    for (let r = 0; r < samples.sCount; r++) scaled[r * 12 + 3] = scaled[r * 12 + 3]! * 10;
    const infoScaled = describeNeuralModel(scaled, samples.sCount, 5, model.info.architecture);
    const scaledModel = { info: { ...infoScaled, varianceFloor: model.info.varianceFloor }, weights: model.weights };
    const scaledScore = neuralMeanLogLikelihood(scaledModel, neuralDataset(infoScaled, scaled, samples.sCount), [from, to]);
    expect(scaledScore).toBeCloseTo(batched, 3);
    expect(scaledScore - logStdSum(infoScaled) - (batched - logStdSum(model.info))).toBeCloseTo(-Math.log(10), 3);
  });
});

describe("neural sampler in the ECN agent", () => {
  const vanilla = fitEcnModel(series, { tick: 1, volumeUnit: 1, nComponents: 2, theoryDraws: 1000 }, Random.fromSeed(4));
  const neural = trainedModel(train("fixed", 9, 2));

  it.each(["vanilla", "data"] as const)("draws valid step variations (warm start %s) that depend on the history", (warmStart) => {
    const model = neuralVariationModel(neural, vanilla, { warmStart });
    const a = model.forEpisode();
    const b = model.forEpisode();
    const out = new Float64Array(12);
    const draws: number[][] = [];
    for (let n = 0; n < 200; n++) {
      a.sampleStep(Random.fromSeed(1).split(n), out);
      draws.push(Array.from(out));
      for (let j = 0; j < 10; j++) expect(out[j]!).toBeGreaterThanOrEqual(-1);
      expect(Number.isInteger(out[10]) && out[10]! >= 1).toBe(true);
      expect(out.every(Number.isFinite)).toBe(true);
    }
    // Same draws of randomness, a fresh episode: the first draw repeats (same warm start and noise).
    b.sampleStep(Random.fromSeed(1).split(0), out);
    expect(Array.from(out)).toEqual(draws[0]);
    // The same noise at different steps gives different S: the history matters.
    const c = model.forEpisode();
    c.sampleStep(Random.fromSeed(1).split(0), out);
    c.sampleStep(Random.fromSeed(1).split(0), out);
    expect(Array.from(out)).not.toEqual(draws[0]);
  });

  it("keeps the book alive for 10,000 steps: positive spread, non-empty sides, bounded volumes", () => {
    const model = neuralVariationModel(neural, vanilla);
    const book = new OrderBook({ minPriceTick: 0, maxPriceTick: 400_000 });
    const agent = new EcnAgent(book, model, { p0Tick: 200_000, depthLevels: 8, originator: 1 });
    const rng = Random.fromSeed(77);
    agent.startEpisode(rng);
    const prices = new Float64Array(5);
    const volumes = new Float64Array(5);
    let maxVolume = 0;
    let minSpread = Infinity;
    let visibleLevels = 0;
    let emptySides = 0;
    for (let n = 0; n < 10_000; n++) {
      agent.step(rng);
      let bothSides = true;
      for (const side of [SELL, BUY]) {
        // A drawn delta <= -1 (delta^- = 1 after clipping) legitimately empties a level, and
        // rarely a whole side, until a later increase refills it; the vanilla mixture does the
        // same on these data (the deltas' standard deviation is several lots).
        const visible = book.topLevels(side, 5, prices, volumes);
        if (visible === 0) bothSides = false;
        visibleLevels += visible;
        for (let i = 0; i < visible; i++) maxVolume = Math.max(maxVolume, volumes[i]!);
      }
      if (bothSides) minSpread = Math.min(minSpread, book.bestAsk() - book.bestBid());
      else emptySides++;
    }
    expect(minSpread).toBeGreaterThanOrEqual(1);
    expect(emptySides).toBeLessThan(0.02 * 10_000);
    // On average most of the top 5 levels hold volume.
    expect(visibleLevels / (2 * 10_000)).toBeGreaterThan(3.5);
    // The data's level volumes are ~30 lots at the top; the model's book must stay of that order.
    let dataMax = 0;
    for (const v of [...synthetic.series.askSize, ...synthetic.series.bidSize]) dataMax = Math.max(dataMax, v);
    expect(maxVolume).toBeLessThan(20 * dataMax);
    expect(Number.isFinite(maxVolume)).toBe(true);
  });
});
