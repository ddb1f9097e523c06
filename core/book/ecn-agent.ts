/**
 * The ECN agent of paper section 2.3.1: the "rest of the world" that keeps the ECN
 * book alive. At the start of an episode it draws S0 from the fitted model and builds the initial
 * book around P0; at every step it draws S_{n+1}, computes the target book (new best bid / ask from
 * the new mid and spread, top m volumes by the hybrid recursion (8) applied to the CURRENT level
 * volumes, which other agents' trades may have changed, deeper levels extrapolated with
 * V_m exp(-alpha (k - m))), takes the price-wise difference to the current book on each side, turns
 * it into meta orders (a market order for a leading negative run, then cancels and limits) and
 * splits every meta order into orders whose sizes are drawn from the model's typical order sizes.
 * It trades only through the public OrderBook API, like every other agent.
 *
 * Decisions where the paper is silent or cannot be followed literally (written down here):
 * - Level i is the i-th non-empty level from the best price (as in the level-2 data); the model
 *   assumes no gaps, and the agent's own target books have none.
 * - The leading market order covers the leading negative run only as far as a market order can
 *   reproduce it: it must start at the current best price, it takes every level of the run whose
 *   target is empty plus the decrease of the first level of the run that keeps volume, and stops
 *   there; further decreases of the run are cancels. (A market order walks the book level by
 *   level, so the paper's literal "sum over the run" would empty levels the target keeps.)
 * - Order of submission within a step: market orders of both sides, then cancels, then limits.
 *   Removing before adding is what makes a new ask below the old best bid rest instead of trade.
 * - Cancels remove the agent's own orders, newest first (older orders keep their priority), one
 *   cancel order per piece through OrderBook.cancelNewestOf: the book's per-order originator is the
 *   agent's record of what it owns, so that record can never go stale after other agents' fills. Volume owned by others cannot be cancelled; when a decrease
 *   needs that, the level stays above target (this cannot happen when other agents only send
 *   market orders, as in the paper).
 * - Mid_n is the book's mid; when a side is empty (eaten by other agents) it is the mid of the
 *   agent's previous target. Target prices off the book's grid are skipped.
 * - Volumes are real numbers of lots; a target level of at most MIN_LEVEL_VOLUME (1e-9 lots) is
 *   empty, a difference below 1e-9 relative is none, and a level whose target is empty loses all
 *   of the agent's orders there (no floating-point dust is left resting).
 */
import type { Random } from "../random/philox.ts";
import type { EcnVariationModel, EcnVariationSampler } from "../ecn/variation-model.ts";
import type { OrderBook, Side } from "./order-book.ts";

// Module-local sides: imported bindings become getter calls under tsx/esbuild.
const BUY: Side = 1;
const SELL: Side = -1;

export interface EcnAgentConfig {
  /** Initial mid price P0 in ticks. */
  p0Tick: number;
  /** Levels per side the agent maintains: 1..m from the model, m+1..depthLevels extrapolated (>= m). */
  depthLevels: number;
  /** Originator id of the agent's orders. */
  originator: number;
}

export class EcnAgentConfigError extends Error {
  readonly _tag = "EcnAgentConfigError" as const;
  constructor(message: string) {
    super(message);
    this.name = "EcnAgentConfigError";
  }
}

/** Counts of the orders the agent sent since construction. */
export interface EcnAgentStats {
  marketOrders: number;
  limitOrders: number;
  cancelOrders: number;
  steps: number;
}

const RELATIVE_TOLERANCE = 1e-9;
/** A target level of at most this many lots is empty (no order could be that small in practice). */
export const MIN_LEVEL_VOLUME = 1e-9;

/** Per-side working arrays: current levels, target levels and their merge. */
class SideWork {
  currentPrices = new Float64Array(64);
  currentVolumes = new Float64Array(64);
  currentCount = 0;
  readonly targetPrices: Float64Array;
  readonly targetVolumes: Float64Array;
  targetCount = 0;
  mergedPrices = new Float64Array(128);
  mergedCurrent = new Float64Array(128);
  mergedTarget = new Float64Array(128);
  mergedCount = 0;
  constructor(readonly side: Side, depth: number) {
    this.targetPrices = new Float64Array(depth);
    this.targetVolumes = new Float64Array(depth);
  }
}

export class EcnAgent {
  readonly stats: EcnAgentStats = { marketOrders: 0, limitOrders: 0, cancelOrders: 0, steps: 0 };
  private sampler: EcnVariationSampler | undefined;
  private readonly levels: number;
  private readonly depth: number;
  private readonly alpha: number;
  private readonly sizes: Float64Array;
  private readonly initialSample: Float64Array;
  private readonly stepSample: Float64Array;
  /** Ask side work (levels walk upwards), bid side work (levels walk downwards). */
  private readonly asks: SideWork;
  private readonly bids: SideWork;
  private lastMid: number;

  constructor(
    readonly book: OrderBook,
    readonly model: EcnVariationModel,
    readonly config: EcnAgentConfig
  ) {
    const m = model.levels;
    if (!Number.isInteger(m) || m < 1) throw new EcnAgentConfigError(`The model must have at least one level per side, got ${m}; check the fitted model.`);
    if (!Number.isInteger(config.depthLevels) || config.depthLevels < m) {
      throw new EcnAgentConfigError(`depthLevels must be an integer >= the model's ${m} levels, got ${config.depthLevels}.`);
    }
    if (!Number.isFinite(config.p0Tick)) throw new EcnAgentConfigError(`p0Tick must be a finite price in ticks, got ${config.p0Tick}.`);
    if (!(model.alpha > 0) && config.depthLevels > m) {
      throw new EcnAgentConfigError(`The model's decay alpha must be > 0 to extrapolate beyond ${m} levels, got ${model.alpha}; set depthLevels = ${m} or refit alpha.`);
    }
    this.levels = m;
    this.depth = config.depthLevels;
    this.alpha = model.alpha;
    this.sizes = model.orderSizes.filter((s) => s > 0 && Number.isFinite(s));
    this.initialSample = new Float64Array(2 * m + 1);
    this.stepSample = new Float64Array(2 * m + 2);
    this.asks = new SideWork(SELL, this.depth);
    this.bids = new SideWork(BUY, this.depth);
    this.lastMid = config.p0Tick;
  }

  /** The S0 drawn at the last startEpisode (ln V asks 1..m, ln V bids 1..m, spread). */
  get lastInitialSample(): Float64Array {
    return this.initialSample;
  }

  /** The S_{n+1} drawn at the last step (deltas asks 1..m, bids 1..m, spread, mid change). */
  get lastStepSample(): Float64Array {
    return this.stepSample;
  }

  /** Clears the book, draws S0 and builds the initial book around P0. */
  startEpisode(rng: Random): void {
    this.book.clear();
    this.sampler = this.model.forEpisode();
    const m = this.levels;
    const s0 = this.initialSample;
    this.sampler.sampleInitial(rng, s0);
    const spread = Math.max(1, Math.round(s0[2 * m]!));
    const bestBid = Math.round(this.config.p0Tick - spread / 2);
    for (let i = 0; i < m; i++) {
      this.asks.targetVolumes[i] = Math.exp(s0[i]!);
      this.bids.targetVolumes[i] = Math.exp(s0[m + i]!);
    }
    this.setTargetPrices(bestBid, bestBid + spread);
    this.readCurrent(this.asks);
    this.readCurrent(this.bids);
    this.execute(rng);
  }

  /** Draws S_{n+1} and sends the orders that move the book to the target book. */
  step(rng: Random): void {
    const sampler = this.sampler;
    if (sampler === undefined) throw new EcnAgentConfigError("step() was called before startEpisode(); start an episode first.");
    const m = this.levels;
    const s = this.stepSample;
    sampler.sampleStep(rng, s);
    this.readCurrent(this.asks);
    this.readCurrent(this.bids);
    const bookMid = this.book.mid();
    const mid = Number.isNaN(bookMid) ? this.lastMid : bookMid;
    const spread = Math.max(1, Math.round(s[2 * m]!));
    const bestBid = Math.round(mid + s[2 * m + 1]! - spread / 2);
    for (let i = 0; i < m; i++) {
      this.asks.targetVolumes[i] = nextVolume(i < this.asks.currentCount ? this.asks.currentVolumes[i]! : 0, s[i]!);
      this.bids.targetVolumes[i] = nextVolume(i < this.bids.currentCount ? this.bids.currentVolumes[i]! : 0, s[m + i]!);
    }
    this.setTargetPrices(bestBid, bestBid + spread);
    this.execute(rng);
    this.stats.steps++;
  }

  /** Target prices from the new best bid / ask; deeper volumes extrapolated from V_m. */
  private setTargetPrices(bestBid: number, bestAsk: number): void {
    this.lastMid = (bestBid + bestAsk) / 2;
    this.placeTarget(this.asks, bestAsk);
    this.placeTarget(this.bids, bestBid);
  }

  private placeTarget(work: SideWork, best: number): void {
    const m = this.levels;
    const anchor = work.targetVolumes[m - 1]!;
    for (let k = m; k < this.depth; k++) work.targetVolumes[k] = anchor * Math.exp(-this.alpha * (k + 1 - m));
    let count = 0;
    for (let k = 0; k < this.depth; k++) {
      const price = work.side === SELL ? best + k : best - k;
      if (price < this.book.minPriceTick || price > this.book.maxPriceTick) continue;
      const volume = work.targetVolumes[k]!;
      work.targetPrices[count] = price;
      work.targetVolumes[count] = volume > MIN_LEVEL_VOLUME ? volume : 0;
      count++;
    }
    work.targetCount = count;
  }

  private readCurrent(work: SideWork): void {
    for (;;) {
      const n = this.book.topLevels(work.side, work.currentPrices.length, work.currentPrices, work.currentVolumes);
      if (n < work.currentPrices.length) {
        work.currentCount = n;
        return;
      }
      work.currentPrices = new Float64Array(2 * n);
      work.currentVolumes = new Float64Array(2 * n);
    }
  }

  /** Merges current and target levels of one side into price order, most aggressive first. */
  private merge(work: SideWork): void {
    const need = work.currentCount + work.targetCount;
    if (work.mergedPrices.length < need) {
      work.mergedPrices = new Float64Array(2 * need);
      work.mergedCurrent = new Float64Array(2 * need);
      work.mergedTarget = new Float64Array(2 * need);
    }
    // Worse price: higher for asks, lower for bids. Compare with a sign so one loop serves both.
    const sign = work.side === SELL ? 1 : -1;
    let i = 0;
    let j = 0;
    let n = 0;
    while (i < work.currentCount || j < work.targetCount) {
      const pc = i < work.currentCount ? sign * work.currentPrices[i]! : Infinity;
      const pt = j < work.targetCount ? sign * work.targetPrices[j]! : Infinity;
      if (pc === pt) {
        work.mergedPrices[n] = work.currentPrices[i]!;
        work.mergedCurrent[n] = work.currentVolumes[i++]!;
        work.mergedTarget[n] = work.targetVolumes[j++]!;
      } else if (pc < pt) {
        work.mergedPrices[n] = work.currentPrices[i]!;
        work.mergedCurrent[n] = work.currentVolumes[i++]!;
        work.mergedTarget[n] = 0;
      } else {
        work.mergedPrices[n] = work.targetPrices[j]!;
        work.mergedCurrent[n] = 0;
        work.mergedTarget[n] = work.targetVolumes[j++]!;
      }
      n++;
    }
    work.mergedCount = n;
  }

  /** Sends market orders, then cancels, then limits, for both sides, to reach the target book. */
  private execute(rng: Random): void {
    this.merge(this.asks);
    this.merge(this.bids);
    this.sendLeadingMarketOrder(this.asks, rng);
    this.sendLeadingMarketOrder(this.bids, rng);
    this.sendCancels(this.asks, rng);
    this.sendCancels(this.bids, rng);
    this.sendLimits(this.asks, rng);
    this.sendLimits(this.bids, rng);
  }

  /**
   * Section 2.3.1's meta market order: when the first price whose volume changes is the current
   * best and it decreases, a market order (buy against asks, sell against bids) takes the
   * leading run of decreases as far as walking the book reproduces it.
   */
  private sendLeadingMarketOrder(work: SideWork, rng: Random): void {
    let size = 0;
    for (let k = 0; k < work.mergedCount; k++) {
      const current = work.mergedCurrent[k]!;
      const target = work.mergedTarget[k]!;
      if (current === 0 && target === 0) continue; // an empty target price, not a level
      if (!isDecrease(current, target)) break;
      if (target > 0) {
        size += current - target;
        break;
      }
      size += current;
    }
    if (size <= 0) return;
    const aggressor: Side = work.side === SELL ? BUY : SELL;
    let left = size;
    const stop = size * RELATIVE_TOLERANCE;
    while (left > stop) {
      const piece = Math.min(this.drawSize(rng, left), left);
      this.book.submitMarket(aggressor, piece, this.config.originator);
      this.stats.marketOrders++;
      left -= piece;
    }
  }

  /** Cancellation meta orders: every level above its target loses the excess of the agent's orders. */
  private sendCancels(work: SideWork, rng: Random): void {
    const originator = this.config.originator;
    for (let k = 0; k < work.mergedCount; k++) {
      const price = work.mergedPrices[k]!;
      const target = work.mergedTarget[k]!;
      if (this.book.ordersAt(work.side, price) === 0) continue;
      const actual = this.book.volumeAt(work.side, price);
      const emptying = target <= 0;
      if (!emptying && !isDecrease(actual, target)) continue;
      // An emptying level loses all of the agent's orders, whatever floating-point dust says.
      let left = emptying ? this.book.volumeAt(work.side, price) * (1 + 1e-6) + 1 : actual - target;
      const done = RELATIVE_TOLERANCE * Math.max(1, target);
      while (left > done) {
        const piece = emptying ? this.drawSize(rng, Infinity) : this.drawSize(rng, left);
        const cancelled = this.book.cancelNewestOf(work.side, price, originator, Math.min(piece, left));
        if (cancelled === 0) break;
        this.stats.cancelOrders++;
        left -= cancelled;
        if (emptying && this.book.ordersAt(work.side, price) === 0) break;
      }
    }
  }

  /** Limit meta orders: every level below its target gets the missing volume. */
  private sendLimits(work: SideWork, rng: Random): void {
    for (let k = 0; k < work.mergedCount; k++) {
      const price = work.mergedPrices[k]!;
      const target = work.mergedTarget[k]!;
      if (target <= 0) continue;
      const actual = this.book.volumeAt(work.side, price);
      if (!isDecrease(target, actual)) continue;
      let left = target - actual;
      const stop = target * RELATIVE_TOLERANCE;
      while (left > stop) {
        const piece = Math.min(this.drawSize(rng, left), left);
        this.book.submitLimit(work.side, price, piece, this.config.originator);
        this.stats.limitOrders++;
        left -= piece;
      }
    }
  }

  /** A typical order size; the remainder when it would leave floating-point dust behind. */
  private drawSize(rng: Random, left: number): number {
    const n = this.sizes.length;
    if (n === 0) return left;
    // Multiply-shift on 32 random bits: a bias below n / 2^32, far under sampling noise.
    const size = this.sizes[n === 1 ? 0 : Math.floor((rng.nextUint32() * n) / 4294967296)]!;
    return size >= left * (1 - RELATIVE_TOLERANCE) ? left : size;
  }
}

/** Eq. (8): V_{n+1} = (1 - delta^-) V_n + delta^+, delta^- clipped to [0, 1]. */
const nextVolume = (volume: number, delta: number): number => {
  if (delta >= 0) return volume + delta;
  const minus = -delta > 1 ? 1 : -delta;
  return (1 - minus) * volume;
};

/** `to` is meaningfully below `from` (beyond floating-point noise). */
const isDecrease = (from: number, to: number): boolean => from - to > RELATIVE_TOLERANCE * Math.max(1, from);
