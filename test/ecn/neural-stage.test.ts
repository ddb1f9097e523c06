/**
 * The checkpoint codec of the neural ECN training loop (ARCHITECTURE section 4): a
 * training state survives encode/decode exactly (weights, best weights, Adam moments and step,
 * curves), including the non-finite values JSON cannot hold (no best yet = +Infinity, a diverged
 * epoch = NaN), and equal states encode to identical bytes (the cache relies on it).
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { describeNeuralModel, neuralDataset, startNeuralTraining, trainNeuralEpoch, type NeuralTrainingState } from "../../core/ecn/neural-train.ts";
import { buildSamples } from "../../core/ecn/samples.ts";
import { toTicks } from "../../core/ecn/snapshots.ts";
import { generateSyntheticL2 } from "../../core/ecn/synthetic.ts";
import { Random } from "../../core/random/philox.ts";
import { neuralTrainingCodec } from "../../schemas/ecn-neural-artifacts.ts";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("neuralTrainingCodec", () => {
  const synthetic = generateSyntheticL2(Random.fromSeed(2), { rows: 600 });
  const samples = buildSamples(toTicks(synthetic.series, synthetic.tick));
  const info = describeNeuralModel(samples.s, samples.sCount, 5, { dim: 12, window: 4, lstmUnits: 4, inputWidth: 4, hiddenWidths: [6], components: 2, activation: "tanh", correlation: "shared" });
  const dataset = neuralDataset(info, samples.s, samples.sCount);
  const options = { batchSize: 50, learningRate: 1e-2, learningRateAfter: 1e-3, decayEpoch: 1, patience: 3 };
  const state = trainNeuralEpoch(startNeuralTraining(info, dataset, options, Random.fromSeed(1)), dataset, options, Random.fromSeed(1).split(1));

  it("round-trips a training state exactly", () => {
    const decoded = neuralTrainingCodec.decode(neuralTrainingCodec.encode({ state, data: "synthetic" }));
    expect(decoded.data).toBe("synthetic");
    expect(decoded.state.info).toEqual(state.info);
    for (const part of ["weights", "best"] as const) {
      expect(Object.keys(decoded.state[part]).sort()).toEqual(Object.keys(state[part]).sort());
      for (const [name, w] of Object.entries(state[part])) {
        expect(decoded.state[part][name]!.shape).toEqual(w.shape);
        expect(Array.from(decoded.state[part][name]!.data)).toEqual(Array.from(w.data));
      }
    }
    expect(decoded.state.adam.step).toBe(state.adam.step);
    for (const name of Object.keys(state.adam.first)) expect(Array.from(decoded.state.adam.second[name]!.data)).toEqual(Array.from(state.adam.second[name]!.data));
    expect(decoded.state.curves).toEqual(state.curves);
    expect({ ...decoded.state, weights: 0, best: 0, adam: 0, info: 0 }).toEqual({ ...state, weights: 0, best: 0, adam: 0, info: 0 });
  });

  it("keeps non-finite losses and encodes equal states to equal bytes", () => {
    const odd: NeuralTrainingState = {
      ...state,
      bestValidationLoss: Number.POSITIVE_INFINITY,
      curves: { ...state.curves, trainLoss: [Number.NaN], validationLoss: [Number.NaN] },
      stopped: "non-finite loss"
    };
    const bytes = neuralTrainingCodec.encode({ state: odd, data: "x" });
    const decoded = neuralTrainingCodec.decode(bytes).state;
    expect(decoded.bestValidationLoss).toBe(Number.POSITIVE_INFINITY);
    expect(decoded.curves.trainLoss[0]).toBeNaN();
    expect(decoded.stopped).toBe("non-finite loss");
    expect(Buffer.compare(Buffer.from(neuralTrainingCodec.encode({ state: decoded, data: "x" })), Buffer.from(bytes))).toBe(0);
  });
});
