/**
 * Test stand-ins for the OTC env: a small ECN variation model with i.i.d. Gaussian draws (so the
 * env tests do not wait for a fitted model) and a static ECN driver that rebuilds one known book
 * every step (so quotes and costs can be checked by hand).
 */
import { BUY, SELL, type OrderBook } from "../../core/book/order-book.ts";
import type { EcnSamplerData } from "../../core/ecn/model.ts";
import type { EcnVariationModel, EcnVariationSampler } from "../../core/ecn/variation-model.ts";
import type { Random } from "../../core/random/philox.ts";
import type { EcnDriver, EcnDriverFactory } from "../../core/otc/env.ts";

/**
 * S0: ln V_i ~ N(ln meanVolume, 0.3^2), spread uniform in {1, 2, 3} ticks. S: each delta is
 * 8|z| (absolute increase) or -0.15|z| (relative decrease) with probability 1/2, spread uniform in
 * {1, 2, 3}, mid change N(0, midStDev^2) ticks.
 */
export const standInModel = (options: { levels?: number; meanVolume?: number; midStDev?: number; alpha?: number } = {}): EcnVariationModel => {
  const levels = options.levels ?? 5;
  const lnMean = Math.log(options.meanVolume ?? 40);
  const midStDev = options.midStDev ?? 1;
  const sampler: EcnVariationSampler = {
    levels,
    sampleInitial(rng: Random, out: Float64Array) {
      for (let i = 0; i < 2 * levels; i++) out[i] = lnMean + 0.3 * rng.normal();
      out[2 * levels] = 1 + rng.int(3);
    },
    sampleStep(rng: Random, out: Float64Array) {
      for (let i = 0; i < 2 * levels; i++) {
        const z = Math.abs(rng.normal());
        out[i] = rng.bernoulli(0.5) ? 8 * z : -Math.min(1, 0.15 * z);
      }
      out[2 * levels] = 1 + rng.int(3);
      out[2 * levels + 1] = midStDev * rng.normal();
    }
  };
  return {
    levels,
    alpha: options.alpha ?? 0.2,
    tick: 0.01,
    volumeUnit: 100,
    orderSizes: Float64Array.from([1, 2, 5, 10]),
    forEpisode: () => sampler
  };
};

/**
 * A driver that puts the same book on every step: asks at bestAsk + k with volumes `askVolumes`,
 * bids at bestBid - k with `bidVolumes`, around a mid that moves by `midPath[t]` ticks (integer
 * moves keep the book on the grid). The ECN cost of any size is then known in closed form.
 */
export const staticBookFactory = (options: {
  spread: number;
  askVolumes: readonly number[];
  bidVolumes: readonly number[];
  midPath?: (t: number) => number;
}): EcnDriverFactory => {
  return (book: OrderBook, _model, driverOptions): EcnDriver => {
    let t = 0;
    const build = () => {
      book.clear();
      const shift = options.midPath?.(t) ?? 0;
      const bestBid = Math.round(driverOptions.p0Tick - options.spread / 2) + shift;
      const bestAsk = bestBid + options.spread;
      options.askVolumes.forEach((v, k) => book.submitLimit(SELL, bestAsk + k, v, driverOptions.originator));
      options.bidVolumes.forEach((v, k) => book.submitLimit(BUY, bestBid - k, v, driverOptions.originator));
    };
    return {
      startEpisode: () => {
        t = 0;
        build();
      },
      step: () => {
        t++;
        build();
      }
    };
  };
};

/** Average fill price of buying (side 1) or selling (side -1) q against explicit levels, by hand. */
export const handFillPrice = (best: number, direction: 1 | -1, volumes: readonly number[], q: number): number => {
  let left = q;
  let notional = 0;
  for (let k = 0; k < volumes.length && left > 0; k++) {
    const take = Math.min(left, volumes[k]!);
    notional += take * (best + direction * k);
    left -= take;
  }
  if (left > 0) throw new Error("the hand-built book is too thin for this size");
  return notional / q;
};

/**
 * A stand-in ECN model as plain data, for code that rebuilds the model in worker threads: initial
 * level volumes around `meanVolume` lots; each step every level either grows by about 8 lots or
 * shrinks by about 12% (two equally likely components of S), so volumes settle near 8 / 0.12 lots;
 * spreads around 2 ticks, mid changes of `midStDev` ticks.
 */
export const standInGmmData = (options: { levels?: number; meanVolume?: number; midStDev?: number } = {}): EcnSamplerData => {
  const levels = options.levels ?? 5;
  const diagonal = (values: number[]) => values.map((v, i) => values.map((_, j) => (i === j ? v : 0)));
  const s0Dim = 2 * levels + 1;
  const sDim = 2 * levels + 2;
  const midStDev = options.midStDev ?? 1;
  return {
    levels,
    alpha: 0.2,
    tick: 0.01,
    volumeUnit: 100,
    orderSizes: [1, 2, 5, 10],
    s0: {
      nComponents: 1,
      dim: s0Dim,
      weights: [1],
      means: [[...Array<number>(2 * levels).fill(Math.log(options.meanVolume ?? 40)), 2]],
      covariances: [diagonal([...Array<number>(2 * levels).fill(0.09), 0.5])]
    },
    s: {
      nComponents: 2,
      dim: sDim,
      weights: [0.5, 0.5],
      means: [
        [...Array<number>(2 * levels).fill(8), 2, 0],
        [...Array<number>(2 * levels).fill(-0.12), 2, 0]
      ],
      covariances: [
        diagonal([...Array<number>(2 * levels).fill(4), 0.5, midStDev * midStDev]),
        diagonal([...Array<number>(2 * levels).fill(0.0025), 0.5, midStDev * midStDev])
      ]
    }
  };
};
