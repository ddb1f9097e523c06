/**
 * A stand-in EcnVariationModel for the book tests (the fitted Gaussian-mixture and neural models
 * live in core/ecn): every S0 and every S_{n+1} entry is an independent Gaussian draw, so the
 * long-range moments of recursion (8) follow from one-dimensional integrals (proposition 2.3).
 * Deltas are floored at `deltaFloor` (-1 lets a level empty; -0.95 keeps every level alive), the
 * spread is drawn uniformly from `spreadChoices`, the mid change is N(0, midSd). The sampler keeps
 * the last draws so that tests can recompute the target book from first principles.
 */
import type { Random } from "../../core/random/philox.ts";
import type { EcnVariationModel, EcnVariationSampler } from "../../core/ecn/variation-model.ts";

export interface StandInParams {
  levels: number;
  alpha: number;
  lnVolumeMean: number;
  lnVolumeSd: number;
  /** Per level, asks 1..m then bids 1..m. */
  deltaMean: readonly number[];
  deltaSd: readonly number[];
  deltaFloor: number;
  spreadChoices: readonly number[];
  midSd: number;
  orderSizes: readonly number[];
}

export class GaussianStandInSampler implements EcnVariationSampler {
  readonly levels: number;
  constructor(private readonly p: StandInParams) {
    this.levels = p.levels;
  }
  sampleInitial(rng: Random, out: Float64Array): void {
    const m = this.p.levels;
    for (let i = 0; i < 2 * m; i++) out[i] = this.p.lnVolumeMean + this.p.lnVolumeSd * rng.normal();
    out[2 * m] = this.p.spreadChoices[rng.int(this.p.spreadChoices.length)]!;
  }
  sampleStep(rng: Random, out: Float64Array): void {
    const m = this.p.levels;
    for (let i = 0; i < 2 * m; i++) out[i] = Math.max(this.p.deltaFloor, this.p.deltaMean[i]! + this.p.deltaSd[i]! * rng.normal());
    out[2 * m] = this.p.spreadChoices[rng.int(this.p.spreadChoices.length)]!;
    out[2 * m + 1] = this.p.midSd * rng.normal();
  }
}

export class GaussianStandInModel implements EcnVariationModel {
  readonly levels: number;
  readonly alpha: number;
  readonly tick = 0.01;
  readonly volumeUnit = 100;
  readonly orderSizes: Float64Array;
  constructor(readonly params: StandInParams) {
    this.levels = params.levels;
    this.alpha = params.alpha;
    this.orderSizes = Float64Array.from(params.orderSizes);
  }
  forEpisode(): EcnVariationSampler {
    return new GaussianStandInSampler(this.params);
  }
}

/**
 * E[g(delta)] for delta ~ N(mean, sd) by composite Simpson quadrature of the density over
 * mean +- 12 sd (the kinks of max/min make it second order; 40,000 panels give ~1e-8).
 */
export const gaussianExpectation = (mean: number, sd: number, g: (x: number) => number): number => {
  const panels = 40000;
  const lo = mean - 12 * sd;
  const h = (24 * sd) / panels;
  let sum = 0;
  for (let k = 0; k <= panels; k++) {
    const x = lo + k * h;
    const z = (x - mean) / sd;
    const w = k === 0 || k === panels ? 1 : k % 2 === 1 ? 4 : 2;
    sum += w * g(x) * Math.exp(-0.5 * z * z);
  }
  return (sum * h) / 3 / (sd * Math.sqrt(2 * Math.PI));
};

/** Proposition 2.3: mu_inf = E[delta+] / E[delta-] for delta = max(floor, N(mean, sd)). */
export const longRunMeanVolume = (mean: number, sd: number, floor: number): number => {
  const plus = gaussianExpectation(mean, sd, (x) => Math.max(x, 0));
  const minus = gaussianExpectation(mean, sd, (x) => Math.min(Math.max(-x, 0), -floor, 1));
  return plus / minus;
};
