/**
 * The neural ECN model as the ECN agent's `EcnVariationModel` (paper section 2.3.2,
 * 1.6): each episode gets a stateful sampler that remembers the last k step variations it
 * produced and draws S_{n+1} from the mixture the network predicts for that history. Draw: a
 * component k from the softmax weights, z = L eps with eps standard normal and L the correlation
 * factor (fixed or learnt), x = mu_k + sqrt(var_k + floor) * z in standardised units, then back to
 * raw units. Post-processing is the vanilla sampler's: each delta clipped to >= -1 (delta^- in
 * [0, 1]) and the spread rounded to an integer >= 1; the history records the post-processed vector
 * (what the book actually did). The initial snapshot S0 is not modelled by the network and comes
 * from the vanilla model's S0 mixture, as do the alpha, tick, volume unit and order sizes.
 *
 * Warm start: before the first step the history is either k draws of the vanilla S model (the
 * default; random, from the episode's stream) or the first k samples of the training data
 * ("data"). The forward pass runs in float64 plain JS (`NeuralEcnInference`), one window per step.
 */
import type { Random } from "../random/philox.ts";
import { zigguratNormal } from "./ziggurat.ts";
import { gmmVariationModel, type EcnSamplerData } from "./model.ts";
import { NeuralEcnInference } from "./neural-network.ts";
import { modelCorrelationFactor, type NeuralEcnModel } from "./neural-train.ts";
import type { EcnVariationModel, EcnVariationSampler } from "./variation-model.ts";

export interface NeuralSamplerOptions {
  /** How the history is filled before the first step (default "vanilla"). */
  readonly warmStart?: "vanilla" | "data";
}

export class NeuralSamplerError extends Error {
  readonly _tag = "NeuralSamplerError" as const;
  constructor(detail: string) {
    super(`${detail}; pair the neural model with the vanilla model fitted on the same data.`);
    this.name = "NeuralSamplerError";
  }
}

/** Draws a component index from normalised log-weights. */
const drawComponent = (rng: Random, logWeights: Float64Array): number => {
  let u = rng.uniform();
  for (let k = 0; k < logWeights.length - 1; k++) {
    u -= Math.exp(logWeights[k]!);
    if (u < 0) return k;
  }
  return logWeights.length - 1;
};

export const neuralVariationModel = (neural: NeuralEcnModel, vanilla: EcnSamplerData, options: NeuralSamplerOptions = {}): EcnVariationModel => {
  const { info } = neural;
  const a = info.architecture;
  const m = info.levels;
  const p = a.dim;
  const k = a.window;
  if (m !== vanilla.levels || p !== 2 * m + 2) throw new NeuralSamplerError(`the neural model has ${m} levels (p = ${p}), the vanilla model ${vanilla.levels}`);
  const base = gmmVariationModel(vanilla);
  const baseSampler = base.forEpisode();
  const factor = modelCorrelationFactor(neural);
  const warmStart = options.warmStart ?? "vanilla";
  const mean = Float64Array.from(info.mean);
  const std = Float64Array.from(info.std);
  const floor = Float64Array.from(info.varianceFloor);

  const forEpisode = (): EcnVariationSampler => {
    const inference = new NeuralEcnInference(a, neural.weights);
    /** Ring buffer of the last k standardised S vectors; `head` is the oldest row. */
    const ring = new Float64Array(k * p);
    const window = new Float64Array(k * p);
    const eps = new Float64Array(p);
    const draw = new Float64Array(p);
    let head = 0;
    let warm = false;
    const push = (raw: ArrayLike<number>) => {
      for (let j = 0; j < p; j++) ring[head * p + j] = (raw[j]! - mean[j]!) / std[j]!;
      head = (head + 1) % k;
    };
    const postProcess = (out: Float64Array) => {
      for (let j = 0; j < 2 * m; j++) if (out[j]! < -1) out[j] = -1;
      out[2 * m] = Math.max(1, Math.round(out[2 * m]!));
    };
    const warmUp = (rng: Random) => {
      for (let r = 0; r < k; r++) {
        if (warmStart === "data") push(info.warmWindow.slice(r * p, r * p + p));
        else {
          // The vanilla sampler maps its mixture's coordinates to delta and post-processes.
          baseSampler.sampleStep(rng, draw);
          push(draw);
        }
      }
      warm = true;
    };
    return {
      levels: m,
      sampleInitial: (rng, out) => baseSampler.sampleInitial(rng, out),
      sampleStep(rng: Random, out: Float64Array): void {
        if (!warm) warmUp(rng);
        for (let r = 0; r < k; r++) window.set(ring.subarray(((head + r) % k) * p, ((head + r) % k) * p + p), r * p);
        const row = inference.run(window);
        const c = drawComponent(rng, row.logWeights);
        for (let j = 0; j < p; j++) eps[j] = zigguratNormal(rng);
        for (let i = 0; i < p; i++) {
          let z = 0;
          for (let j = 0; j <= i; j++) z += factor[i * p + j]! * eps[j]!;
          const standardised = row.means[c * p + i]! + Math.sqrt(row.variances[c * p + i]! + floor[i]!) * z;
          out[i] = mean[i]! + std[i]! * standardised;
        }
        postProcess(out);
        push(out);
      }
    };
  };

  return { levels: m, alpha: base.alpha, tick: base.tick, volumeUnit: base.volumeUnit, orderSizes: base.orderSizes, longRunVolumes: base.longRunVolumes, forEpisode };
};
