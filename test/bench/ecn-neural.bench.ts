/**
 * Neural ECN benchmark: training throughput of the figure-5 network (k = 20, LSTM 32,
 * dense 32-64-64, 5 components, minibatch 100) on the AMZN LOBSTER sample (last two hours at
 * dt = 1 s, lots of 100 shares), in epochs and samples per second for both correlation variants,
 * on the backend the pipeline would pick (wasm unless NEURAL_BENCH_BACKEND says otherwise); and
 * sampling throughput: steps per second of the ECN agent driving an order book with the neural
 * sampler, next to the same agent with the vanilla mixture sampler measured in the same run (the
 * ratio is the cost of history dependence). Falls back to synthetic data when the sample is absent.
 * Usage: node --import tsx test/bench/ecn-neural.bench.ts
 */
import { existsSync } from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { EcnAgent } from "../../core/book/ecn-agent.ts";
import { OrderBook } from "../../core/book/order-book.ts";
import { fitEcnModel, gmmVariationModel } from "../../core/ecn/model.ts";
import { paperArchitecture } from "../../core/ecn/neural-network.ts";
import { neuralVariationModel } from "../../core/ecn/neural-sampler.ts";
import { describeNeuralModel, neuralDataset, paperTrainOptions, startNeuralTraining, trainedModel, trainNeuralEpoch } from "../../core/ecn/neural-train.ts";
import { buildSamples } from "../../core/ecn/samples.ts";
import { toTicks } from "../../core/ecn/snapshots.ts";
import { generateSyntheticL2 } from "../../core/ecn/synthetic.ts";
import type { EcnVariationModel } from "../../core/ecn/variation-model.ts";
import { selectBackend, type BackendName } from "../../core/pipeline/backend.ts";
import { Random } from "../../core/random/philox.ts";
import { readLobsterZip } from "../../core/ecn/lobster.ts";
import { prepareLobsterInput } from "../../core/ecn/model.ts";
import { toLots } from "../../core/ecn/snapshots.ts";
import { VOLUME_UNIT, zipPath } from "./ecn-export.ts";

const backend = await selectBackend((process.env.NEURAL_BENCH_BACKEND ?? "auto") as "auto" | BackendName);
const epochs = Number(process.env.NEURAL_BENCH_EPOCHS ?? 2);

const real = existsSync(zipPath("AMZN"));
const { series, vanillaInput } = (() => {
  if (real) {
    const input = prepareLobsterInput(readLobsterZip(zipPath("AMZN")));
    return { series: toTicks(toLots(input.series, VOLUME_UNIT), input.tick), vanillaInput: { series: input.series, tick: input.tick, volumeUnit: VOLUME_UNIT } };
  }
  const synthetic = generateSyntheticL2(Random.fromSeed(1));
  return { series: toTicks(synthetic.series, synthetic.tick), vanillaInput: { series: synthetic.series, tick: synthetic.tick, volumeUnit: 1 } };
})();
const samples = buildSamples(series);
const vanilla = fitEcnModel(vanillaInput.series, { tick: vanillaInput.tick, volumeUnit: vanillaInput.volumeUnit, nComponents: 5, nInit: 1, theoryDraws: 1000 }, Random.fromSeed(2));

const training: Record<string, unknown> = {};
let trained: ReturnType<typeof trainedModel> | undefined;
for (const correlation of ["fixed", "shared"] as const) {
  const info = describeNeuralModel(samples.s, samples.sCount, series.levels, paperArchitecture(2 * series.levels + 2, correlation));
  const dataset = neuralDataset(info, samples.s, samples.sCount);
  let state = startNeuralTraining(info, dataset, paperTrainOptions, Random.fromSeed(3));
  // First epoch warms up the backend's kernels; the timed ones follow.
  state = trainNeuralEpoch(state, dataset, paperTrainOptions, Random.fromSeed(4).split(0));
  const t0 = performance.now();
  for (let e = 1; e <= epochs; e++) state = trainNeuralEpoch(state, dataset, paperTrainOptions, Random.fromSeed(4).split(e));
  const seconds = (performance.now() - t0) / 1000;
  const trainSamples = info.split.train[1] - info.split.train[0];
  training[correlation] = {
    epochsPerSecond: epochs / seconds,
    secondsPerEpoch: seconds / epochs,
    trainSamplesPerSecond: (epochs * trainSamples) / seconds,
    trainSamples,
    validationLogLikAfter: -state.curves.validationLoss.at(-1)!
  };
  if (correlation === "shared") trained = trainedModel(state);
}

const agentStepsPerSecond = (model: EcnVariationModel, steps: number): number => {
  const book = new OrderBook({ minPriceTick: 0, maxPriceTick: 2_000_000 });
  const agent = new EcnAgent(book, model, { p0Tick: 1_000_000, depthLevels: 10, originator: 1 });
  const rng = Random.fromSeed(5);
  agent.startEpisode(rng);
  for (let n = 0; n < 500; n++) agent.step(rng);
  const t0 = performance.now();
  for (let n = 0; n < steps; n++) agent.step(rng);
  return steps / ((performance.now() - t0) / 1000);
};
const neuralModel = neuralVariationModel(trained!, vanilla);
const neuralSampler = neuralModel.forEpisode();
const out = new Float64Array(2 * series.levels + 2);
const rng = Random.fromSeed(6);
const t0 = performance.now();
const draws = 20_000;
for (let n = 0; n < draws; n++) neuralSampler.sampleStep(rng, out);
const neuralDrawsPerSecond = draws / ((performance.now() - t0) / 1000);
const neuralAgent = agentStepsPerSecond(neuralModel, 20_000);
const vanillaAgent = agentStepsPerSecond(gmmVariationModel(vanilla), 200_000);

console.log(
  JSON.stringify({
    data: real ? "AMZN 2012-06-21 LOBSTER sample, last 2 h at 1 s, lots of 100" : "synthetic (AMZN sample absent)",
    backend,
    tfBackend: tf.getBackend(),
    timedEpochs: epochs,
    training,
    sampling: {
      neuralDrawsPerSecond,
      neuralAgentStepsPerSecond: neuralAgent,
      vanillaAgentStepsPerSecond: vanillaAgent,
      neuralOverVanillaAgentRatio: neuralAgent / vanillaAgent
    }
  })
);
