/**
 * Synthetic level-2 data, the default input of the ECN model when the user gives no data
 * (paper section 2.3.1): a top-m book on a one-tick grid whose level volumes follow
 * the hybrid recursion (8) with i.i.d. variations, a 1-3 tick spread that changes rarely, and
 * mostly-zero mid changes. Deterministic given the `Random` passed in. Level volumes decay with
 * depth (long-range mean V_k = baseVolume exp(-decay (k-1))) so the fitted alpha is positive, as
 * the model assumes.
 *
 * Per step and level, independently: with probability `pDown` a relative decrease
 * delta^- ~ U(0, maxDown); otherwise with probability `pUp` an absolute increase delta^+ ~
 * Exponential(mean chosen so that the long-range mean mu+/mu- is the target); otherwise nothing.
 */
import type { Random } from "../random/philox.ts";
import type { SnapshotSeries } from "./snapshots.ts";

export interface SyntheticL2Options {
  /** Number of snapshots (default 7200: two hours at dt = 1 s). */
  readonly rows?: number;
  readonly levels?: number;
  readonly dt?: number;
  /** Price units per tick (default 0.01). */
  readonly tick?: number;
  /** Initial mid price in price units (default 100). */
  readonly startPrice?: number;
  /** Long-range mean volume of level 1 in lots (default 30). */
  readonly baseVolume?: number;
  /** Decay of the long-range mean per level (default 0.15). */
  readonly decay?: number;
  readonly pDown?: number;
  readonly maxDown?: number;
  readonly pUp?: number;
  /** Probability that the spread keeps its value in a step (default 0.9). */
  readonly spreadPersistence?: number;
  /** Probability of a zero mid change request (default 0.8). */
  readonly pStill?: number;
}

export interface SyntheticL2 {
  /** Prices in price units (ticks x tick), sizes in lots. */
  readonly series: SnapshotSeries;
  readonly tick: number;
  readonly volumeUnit: number;
}

export const generateSyntheticL2 = (rng: Random, options: SyntheticL2Options = {}): SyntheticL2 => {
  const rows = options.rows ?? 7200;
  const m = options.levels ?? 5;
  const dt = options.dt ?? 1;
  const tick = options.tick ?? 0.01;
  const baseVolume = options.baseVolume ?? 30;
  const decay = options.decay ?? 0.15;
  const pDown = options.pDown ?? 0.35;
  const maxDown = options.maxDown ?? 0.5;
  const pUp = options.pUp ?? 0.35;
  const spreadPersistence = options.spreadPersistence ?? 0.9;
  const pStill = options.pStill ?? 0.8;
  const meanDown = pDown * (maxDown / 2);

  const target = new Float64Array(2 * m);
  const upMean = new Float64Array(2 * m);
  for (let j = 0; j < 2 * m; j++) {
    target[j] = baseVolume * Math.exp(-decay * (j % m));
    // mu+ = (1 - pDown) pUp E[up] must equal mu- x target.
    upMean[j] = (meanDown * target[j]!) / ((1 - pDown) * pUp);
  }
  const volume = Float64Array.from(target);

  const time = new Float64Array(rows);
  const askPrice = new Float64Array(rows * m);
  const askSize = new Float64Array(rows * m);
  const bidPrice = new Float64Array(rows * m);
  const bidSize = new Float64Array(rows * m);

  let spread = 1;
  let bid = Math.round((options.startPrice ?? 100) / tick - spread / 2);
  for (let r = 0; r < rows; r++) {
    if (r > 0) {
      for (let j = 0; j < 2 * m; j++) {
        if (rng.bernoulli(pDown)) volume[j] = (1 - rng.uniformIn(0, maxDown)) * volume[j]!;
        else if (rng.bernoulli(pUp)) volume[j] = volume[j]! - upMean[j]! * Math.log(rng.uniformPositive());
      }
      const mid = bid + spread / 2;
      if (!rng.bernoulli(spreadPersistence)) spread = 1 + rng.int(3);
      const u = rng.uniform();
      const move = u < pStill ? 0 : u < pStill + (1 - pStill) * 0.7 ? 0.5 : 1;
      const dmid = move === 0 ? 0 : rng.bernoulli(0.5) ? move : -move;
      // The ECN agent's rounding: new best bid = round(mid + dmid - spread / 2).
      bid = Math.round(mid + dmid - spread / 2);
    }
    time[r] = r * dt;
    for (let k = 0; k < m; k++) {
      askPrice[r * m + k] = (bid + spread + k) * tick;
      bidPrice[r * m + k] = (bid - k) * tick;
      askSize[r * m + k] = volume[k]!;
      bidSize[r * m + k] = volume[m + k]!;
    }
  }
  return {
    series: { source: "synthetic", rows, levels: m, time, askPrice, askSize, bidPrice, bidSize },
    tick,
    volumeUnit: 1
  };
};
