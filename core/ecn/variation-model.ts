/**
 * The contract between a fitted ECN model (paper section 2.3) and the ECN agent
 * that drives the order book with it. A model samples the initial snapshot S0 and the
 * step variations S_{n+1}; the Gaussian-mixture model and the neural model both implement it, so
 * the agent never knows which one it runs on. A history-dependent (neural) model is stateful per
 * episode: `forEpisode` returns a fresh sampler that remembers what it produced.
 */
import type { Random } from "../random/philox.ts";

export interface EcnVariationSampler {
  /** Number of visible levels per side, m (5 by default). */
  readonly levels: number;
  /**
   * Writes S0 into `out` (length 2m+1): ln V_1..ln V_m of the ask side (level 1 = best), then
   * ln V_1..ln V_m of the bid side, then the spread in ticks (an integer >= 1).
   */
  sampleInitial(rng: Random, out: Float64Array): void;
  /**
   * Writes S_{n+1} into `out` (length 2m+2): the hybrid variations delta_1..delta_2m of eq. (8)
   * in the same level order (each delta >= -1, so delta^- is in [0, 1]), then the new spread in
   * ticks (an integer >= 1), then the mid change in ticks.
   */
  sampleStep(rng: Random, out: Float64Array): void;
}

export interface EcnVariationModel {
  readonly levels: number;
  /** Decay rate of deeper levels: V_k = V_m exp(-alpha (k - m)) for k > m. */
  readonly alpha: number;
  /** Price units per tick of the data (e.g. 0.01 dollars). */
  readonly tick: number;
  /** Raw volume per lot. */
  readonly volumeUnit: number;
  /** Typical order sizes in lots (empirical distribution, drawn uniformly) used to split meta orders. */
  readonly orderSizes: Float64Array;
  /**
   * Long-run mean level volumes in lots (ask levels 1..m, then bid levels 1..m), where the model's
   * recursion (8) settles (proposition 2.3). The OTC env anchors the market's depth beyond (and,
   * when a side is empty, instead of) the resting book on them; absent, it uses each episode's
   * initial book.
   */
  readonly longRunVolumes?: Float64Array | undefined;
  /** A sampler for one episode (stateless models may return a shared instance). */
  forEpisode(): EcnVariationSampler;
}
