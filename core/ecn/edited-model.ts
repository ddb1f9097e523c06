/**
 * A fitted ECN model with a what-if change (paper section 1's scenarios, on the ECN of section
 * 2.3): the spread the model samples scaled (the ECN's spread widens or tightens), and the depth of
 * every visible level scaled (a thinner or deeper book). Both act on what the model samples, so
 * the book the OTC market hedges on keeps the model's dynamics: volume variations are relative
 * (eq. 8) and need no change; spreads are scaled and rounded to whole ticks (at least one); level
 * volumes are ln V, so depth adds ln(scale) to the initial snapshot, and the long-run volumes the
 * env anchors deeper levels on are scaled alike.
 */
import type { Random } from "../random/philox.ts";
import type { EcnVariationModel, EcnVariationSampler } from "./variation-model.ts";

export interface EcnEdits {
  /** Multiplies every sampled spread (in ticks; rounded, at least 1). */
  readonly spreadScale?: number;
  /** Multiplies the volume of every visible level. */
  readonly depthScale?: number;
}

/** Each edit's allowed range (what-if scenarios check values against it). */
export const ECN_EDIT_RANGES: Readonly<Record<keyof EcnEdits, { readonly low: number; readonly high: number }>> = {
  spreadScale: { low: 0.1, high: 10 },
  depthScale: { low: 0.01, high: 100 }
};

const scaledSpread = (spread: number, scale: number) => Math.max(1, Math.round(spread * scale));

/** `model` with `edits` applied to what it samples; the model itself when there is nothing to change. */
export const editedEcnModel = (model: EcnVariationModel, edits: EcnEdits): EcnVariationModel => {
  const spreadScale = edits.spreadScale ?? 1;
  const depthScale = edits.depthScale ?? 1;
  if (spreadScale === 1 && depthScale === 1) return model;
  const m = model.levels;
  const logDepth = Math.log(depthScale);
  const wrap = (sampler: EcnVariationSampler): EcnVariationSampler => ({
    levels: sampler.levels,
    sampleInitial(rng: Random, out: Float64Array): void {
      sampler.sampleInitial(rng, out);
      for (let j = 0; j < 2 * m; j++) out[j] = out[j]! + logDepth;
      out[2 * m] = scaledSpread(out[2 * m]!, spreadScale);
    },
    sampleStep(rng: Random, out: Float64Array): void {
      sampler.sampleStep(rng, out);
      out[2 * m] = scaledSpread(out[2 * m]!, spreadScale);
    }
  });
  return {
    levels: model.levels,
    alpha: model.alpha,
    tick: model.tick,
    volumeUnit: model.volumeUnit,
    orderSizes: model.orderSizes,
    longRunVolumes: model.longRunVolumes === undefined ? undefined : Float64Array.from(model.longRunVolumes, (v) => v * depthScale),
    forEpisode: () => wrap(model.forEpisode())
  };
};
