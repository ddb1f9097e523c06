/**
 * The OTC market game as a vectorised multi-agent environment (paper sections 2.1-2.2, eqs. 3-6,
 * table 1). B episodes run in lockstep; each has n_LP liquidity providers, n_LT liquidity takers,
 * one ECN limit order book and one ECN agent driving it. Agent state lives in typed arrays
 * (structure of arrays, episode-major). One step is a Stackelberg step (section 2.2: LTs play in
 * response to LPs), in this order:
 *   1. agents observe (`observe`; LPs first), 2. LPs act and quote by eq. (5) on the 0.1 bp grid
 *   (ask rounded up, bid down): `applyStage(0, ...)`, or the start of `step`, 3. learning LTs observe
 *   the connected LPs' quotes of THIS step and the ECN cost, act, and every LT trades at the best
 *   connected price among LPs and the ECN (ties uniform at random), 4. LP hedges and LT ECN trades
 *   execute on the ECN in a random order, 5. the ECN agent sends its orders and P_{t+1} is the new
 *   mid, 6. PnL (eq. 3) and rewards (eqs. 4, 6).
 * The learning classes ("lp", and "lt" when some LT supertype is not stationary) are exposed
 * through `MultiClassVecEnv`, with `stages` = [[lp], [lt]] so that rollouts (`stepInStages`) let
 * LTs observe after the LPs' actions; stationary LTs (section 5.1) act inside the env.
 *
 * ECN execution (docs/market-mechanics.md has the reasons and measured effects). The paper says an
 * LT's trade "will always occur" at the best price it saw; the ECN book of the simulation holds
 * only the levels the ECN agent keeps (the paper's extrapolated depth beyond them is implicit), and
 * the flow of 500 LTs routed to it is many times its resting volume. So every ECN market order (an
 * LT's ECN trade or an LP's hedge) is priced on the cost curve its sender observed at the start of
 * the step: the average fill price of its size over the resting book plus the extrapolated depth
 * V_m exp(-alpha (k - m)), as if it were the step's only order; it fills in full at that price.
 * The order also walks the physical book (in the random order of step 4), taking whatever resting
 * volume is left; what the resting volume cannot absorb fills against the extrapolated depth,
 * which is not kept in the book (it stands for the rest of the market, like the ECN agent). So
 * within a step no agent gets a cost other than the one it observed, and the flow still moves the
 * book, hence P_{t+1} and the ECN agent's next orders (recursion (8) starts from the depleted
 * volumes): price impact acts across steps. The depth beyond the resting book stands for the rest
 * of the market, so it does not vanish when the flow empties the visible levels: it is anchored on
 * the larger of the paper's V_m (extrapolated from the m-th resting level) and the model's long-run
 * mean volume at level m, V̄_m (`EcnVariationModel.longRunVolumes`, else the episode's initial
 * book), placed at the deepest resting level; an empty side is priced on the long-run book V̄_1..V̄_m
 * from its last best price. So the cost curve x(q) is defined for every size on both sides at every
 * step (`reset` refuses an LT size above V̄_m / (e^alpha - 1), what every side always prices), and
 * every LT on the ECN, or connected to an LP, always has a price. Checked every step (`OtcEnvError`
 * otherwise): LT quantity decided = LT quantity filled by LPs + by the ECN; `marketStats()` reports
 * where the quantity went, including how much the resting book absorbed.
 *
 * Decisions (the paper is silent or the interface forces them):
 * - Prices are in ticks of the ECN grid; LP quotes are multiples of xi_LP = lpGridBp * 1e-4 * P0.
 *   x(q) and the ECN prices LTs compare with are the cost curve above.
 * - The hedge of step t is round(eps_hedge * |q_t|) lots with q_t the inventory at the START of the
 *   step (the one the LP observed, as in the paper's "market order eps_hedge q_t"), sent against
 *   its sign, cut to the most the book plus its extrapolated depth holds (the geometric tail is
 *   finite). The LP's hedge-cost observations are that same curve at the same (cut) sizes.
 * - An LT buy / sell of an LT connected to no venue at all (no LP drawn and not on the ECN) has no
 *   one to trade with: it is not a trade decision, it trades nothing, and it is counted apart
 *   (`marketStats().ltNoVenueQty`), not in the market-share denominator. An LT on the ECN always
 *   has a price (an `OtcEnvError` otherwise), so this is 0 in the paper's experiments.
 * - Market share m^i_t = quantity LP i traded with LTs / all LT quantity decided in step t (LP plus
 *   ECN fills); the running mhat averages m_t over the steps with LT volume; it starts at 0, so
 *   M_0 = |0 - m_target|. LT trade fractions qhat start at 0 and after step t count the t + 1 steps.
 * - Randomness: episode b of a batch draws everything (types, ECN, LT coin flips, tie breaks,
 *   order shuffles) from `rng.split(firstEpisodeIndex + b)` given to `reset`, so an episode's result
 *   does not depend on how episodes are grouped into batches; the `rng` given to `step` is unused.
 * - If a side of the ECN book is empty, the mid stays at its last value and the side is priced on
 *   the reference depth from its last best price (kept above the other side's best); LPs quote
 *   around that mid with that cost curve.
 * - LT action counts (qhat) count the steps on which the LT chose to buy / sell, whether or not a
 *   counterparty was available. A stationary LT's per-step reward is computed only when recording;
 *   its episode reward in `episodeOutcomes` is the telescoped sum (exactly the sum of eq. 6).
 * - `step` without a preceding `applyStage` applies the LPs' actions itself (for callers that move
 *   every class at once); observing LTs before the LPs' actions of the step is an error, since
 *   their quotes do not exist yet.
 *
 * Observation normalisations (`config.observation`): prices (P_t - P0) / priceTicks; inventories /
 * inventoryLots; ECN level volumes / volumeLots (ask levels 1..m then bid levels 1..m, 0 when
 * missing); per-lot costs in ticks / costTicks (an LT's canBuy / canSell is 1 when a connected venue
 * quotes that side, else 0 with cost 0); LT size / sizeLots; eta enters as log10(eta); t/T,
 * mhat, qhat, gamma, omega, m_target, q^a, q^b and connected fractions as they are. The component
 * names are given by `lpObservationLayout()` / `ltObservationLayout()`.
 *
 * Speed (the LT loop dominates with 500 LTs): per step and side, LPs are sorted once by their
 * quote offset (the order holds for every size because the grid projection is monotone), runs of
 * equal quotes are precomputed per size, and each LT's connectivity mask is mapped to rank bits by
 * byte tables, so finding the best connected LP is a couple of lookups and a count-trailing-zeros;
 * stationary LTs' coin flips take one bit each of a 32-bit draw. Nothing is allocated per step
 * except by the book's market-order results.
 */
import { BUY, OrderBook, SELL, type DeepDecay, type Side } from "../book/order-book.ts";
import { EcnAgent } from "../book/ecn-agent.ts";
import type { EcnVariationModel } from "../ecn/variation-model.ts";
import type { Random } from "../random/philox.ts";
import type { AgentClassSpec, MultiClassVecEnv } from "../rl/vec-env.ts";
import type { OtcGameConfig } from "./config.ts";
import { PopulationTypes, type Population } from "./supertypes.ts";

/** What drives the ECN book: the ECN agent of core/book (or a stand-in in tests). */
export interface EcnDriver {
  /** Builds the initial book of an episode (the book is cleared before). */
  startEpisode(rng: Random): void;
  /** Sends the ECN agent's orders for one step. */
  step(rng: Random): void;
}

export interface EcnDriverOptions {
  readonly p0Tick: number;
  readonly depthLevels: number;
  readonly originator: number;
}

export type EcnDriverFactory = (book: OrderBook, model: EcnVariationModel, options: EcnDriverOptions) => EcnDriver;

/** The paper's ECN agent (section 2.3.1) on the episode's book. */
export const defaultEcnFactory: EcnDriverFactory = (book, model, options) =>
  new EcnAgent(book, model, { p0Tick: options.p0Tick, depthLevels: options.depthLevels, originator: options.originator });

export interface OtcEnvOptions {
  readonly config: OtcGameConfig;
  /** B, episodes run in lockstep. */
  readonly batchSize: number;
  readonly ecnModel: EcnVariationModel;
  /** Builds the ECN driver of each episode's book; default: the ECN agent of core/book/ecn-agent.ts. */
  readonly ecnFactory?: EcnDriverFactory;
  /** Global index of this batch's first episode: episode b uses `rng.split(firstEpisodeIndex + b)`. */
  readonly firstEpisodeIndex?: number;
  /** Keep the per-step columnar record (off in training, for speed). */
  readonly record?: boolean;
}

/** LT action indices of the categorical action (table 1: buy, sell, no trade). */
export const LT_BUY = 0;
export const LT_SELL = 1;
export const LT_NONE = 2;

/** Counterparty codes in the record: an LP index >= 0, the ECN, or no trade. */
export const COUNTERPARTY_ECN = -1;
export const COUNTERPARTY_NONE = -2;

/** Agent class codes in the record. */
export const CLASS_LP = 0;
export const CLASS_LT = 1;

/** ECN originator ids: the ECN agent is 0, LP i is 1 + i, LT k is 1 + n_LP + k. */
export const ECN_ORIGINATOR = 0;

/** Raised on misuse of the env (stepping past the horizon, wrong action arrays). */
export class OtcEnvError extends Error {
  readonly _tag = "OtcEnvError";
  constructor(reason: string, remedy: string) {
    super(`${reason}; ${remedy}.`);
  }
}

/** The per-step record: one row per agent per step, columns as typed arrays of equal length. */
export interface OtcStepRecord {
  readonly rows: number;
  /** Global episode index. */
  readonly episode: Int32Array;
  readonly t: Int32Array;
  /** Agent index within its class and episode. */
  readonly agent: Int32Array;
  /** CLASS_LP or CLASS_LT. */
  readonly agentClass: Uint8Array;
  readonly supertype: Int32Array;
  /** LP: eps_spread, eps_skew, eps_hedge (clipped); LT: action index, NaN, NaN. */
  readonly action0: Float32Array;
  readonly action1: Float32Array;
  readonly action2: Float32Array;
  /** P_t, the mid at the start of the step, in ticks. */
  readonly mid: Float64Array;
  /** LP: ask and bid quotes for the smallest LT size this episode (ticks); LT: NaN. */
  readonly quoteAsk: Float64Array;
  readonly quoteBid: Float64Array;
  /** Number of LP-LT trades of the agent this step. */
  readonly ltTrades: Int32Array;
  /** LP: quantity LTs bought from it; LT: quantity it bought from LPs. */
  readonly ltBuyQty: Float64Array;
  /** LP: quantity LTs sold to it; LT: quantity it sold to LPs. */
  readonly ltSellQty: Float64Array;
  /** ECN market-order fills of the agent (LP hedges, LT ECN trades). */
  readonly ecnBuyQty: Float64Array;
  readonly ecnSellQty: Float64Array;
  /** LT: LP index, COUNTERPARTY_ECN or COUNTERPARTY_NONE; LP: COUNTERPARTY_NONE. */
  readonly counterparty: Int32Array;
  /** LT: the price it chose (best connected quote or ECN average cost) when it traded; else NaN. */
  readonly decisionPrice: Float64Array;
  /** LT: average price actually paid or received; else NaN. */
  readonly tradePrice: Float64Array;
  /** State after the step. */
  readonly inventory: Float64Array;
  readonly cash: Float64Array;
  readonly pnlInventory: Float64Array;
  readonly pnlSpread: Float64Array;
  readonly reward: Float64Array;
  /** LP: m_t (NaN on steps without LT volume); LT: NaN. */
  readonly marketShare: Float64Array;
  /** P_{t+1}, the mid after the step. */
  readonly midNext: Float64Array;
}

/** Episode-level results used by calibration. */
export interface OtcEpisodeOutcomes {
  readonly episodes: number;
  readonly firstEpisodeIndex: number;
  readonly nLp: number;
  readonly nLt: number;
  readonly nLpSupertypes: number;
  /** [episodes * nLpSupertypes]: quantity the supertype's LPs traded with LTs over the episode. */
  readonly lpSupertypeLtQuantity: Float64Array;
  /** [episodes]: total quantity all LTs traded (with LPs and the ECN): all the LT quantity decided. */
  readonly totalLtQuantity: Float64Array;
  /** [episodes]: the part of it the ECN filled, and the part of that the physical book's resting volume absorbed. */
  readonly ecnLtQuantity: Float64Array;
  readonly ecnRestingLtQuantity: Float64Array;
  /** [episodes]: LT buy / sell quantity no connected venue quoted (not traded, not in totalLtQuantity). */
  readonly noVenueLtQuantity: Float64Array;
  /** [episode][lpSupertype]: sizes of the individual trades the supertype's LPs received from LTs. */
  readonly lpSupertypeTradeSizes: readonly (readonly Float64Array[])[];
  /** [episodes * nLp], [episodes * nLt]: sum of the agent's rewards over the episode. */
  readonly lpEpisodeReward: Float64Array;
  readonly ltEpisodeReward: Float64Array;
  /** [episodes * nLp], [episodes * nLt]: final PnL (inventory + spread). */
  readonly lpPnl: Float64Array;
  readonly ltPnl: Float64Array;
  readonly lpSupertype: Int32Array;
  readonly ltSupertype: Int32Array;
}

/**
 * Where the LTs' quantity went since the last reset, summed over the batch's episodes (lots).
 * By construction ltDecidedQty = ltLpQty + ltEcnQty (checked every step).
 */
export interface OtcMarketStats {
  /** LT buy / sell quantity with at least one connected venue quoting it: all of it trades. */
  ltDecidedQty: number;
  /** Filled by LPs at their quotes. */
  ltLpQty: number;
  /** Filled by the ECN (always in full, at the observed cost curve). */
  ltEcnQty: number;
  /** The part of ltEcnQty the physical book's resting volume absorbed (the rest: extrapolated depth). */
  ltEcnRestingQty: number;
  /**
   * LT buy / sell actions of LTs connected to no venue at all (no LP drawn, not on the ECN): no
   * one to trade with, so not a trade decision. Every venue quotes every size (the ECN's cost
   * curve is always defined), so an LT with a connection always trades: 0 for populations whose
   * LTs are all on the ECN, as in the paper's experiments.
   */
  ltNoVenueQty: number;
  /** Book sides found empty when the step's cost curves were built (priced on the reference depth). */
  emptySides: number;
  /** LP hedge quantity filled on the ECN, and the part the resting volume absorbed. */
  hedgeQty: number;
  hedgeRestingQty: number;
}

const emptyMarketStats = (): OtcMarketStats => ({
  ltDecidedQty: 0,
  ltLpQty: 0,
  ltEcnQty: 0,
  ltEcnRestingQty: 0,
  ltNoVenueQty: 0,
  emptySides: 0,
  hedgeQty: 0,
  hedgeRestingQty: 0
});

/** Tolerance when projecting on the LP grid, so that float noise on an exact grid price does not move it. */
const GRID_EPSILON = 1e-7;

type ColumnArray = Int32Array | Uint8Array | Float32Array | Float64Array;
type ColumnName = Exclude<keyof OtcStepRecord, "rows">;
const COLUMN_TYPES: Record<ColumnName, "i32" | "u8" | "f32" | "f64"> = {
  episode: "i32",
  t: "i32",
  agent: "i32",
  agentClass: "u8",
  supertype: "i32",
  action0: "f32",
  action1: "f32",
  action2: "f32",
  mid: "f64",
  quoteAsk: "f64",
  quoteBid: "f64",
  ltTrades: "i32",
  ltBuyQty: "f64",
  ltSellQty: "f64",
  ecnBuyQty: "f64",
  ecnSellQty: "f64",
  counterparty: "i32",
  decisionPrice: "f64",
  tradePrice: "f64",
  inventory: "f64",
  cash: "f64",
  pnlInventory: "f64",
  pnlSpread: "f64",
  reward: "f64",
  marketShare: "f64",
  midNext: "f64"
};
const makeColumn = (kind: "i32" | "u8" | "f32" | "f64", n: number): ColumnArray =>
  kind === "i32" ? new Int32Array(n) : kind === "u8" ? new Uint8Array(n) : kind === "f32" ? new Float32Array(n) : new Float64Array(n);

/** Columnar row store that doubles its capacity when full. */
class StepRecorder {
  rows = 0;
  capacity: number;
  columns: Record<ColumnName, ColumnArray>;
  constructor(capacity: number) {
    this.capacity = capacity;
    this.columns = this.allocate(capacity);
  }
  private allocate(n: number): Record<ColumnName, ColumnArray> {
    const out = {} as Record<ColumnName, ColumnArray>;
    for (const name of Object.keys(COLUMN_TYPES) as ColumnName[]) out[name] = makeColumn(COLUMN_TYPES[name], n);
    return out;
  }
  reserve(extra: number): void {
    if (this.rows + extra <= this.capacity) return;
    let next = this.capacity * 2;
    while (next < this.rows + extra) next *= 2;
    const columns = this.allocate(next);
    for (const name of Object.keys(COLUMN_TYPES) as ColumnName[]) (columns[name] as Float64Array).set(this.columns[name] as Float64Array);
    this.columns = columns;
    this.capacity = next;
  }
  take(): OtcStepRecord {
    const out = { rows: this.rows } as Record<string, unknown>;
    for (const name of Object.keys(COLUMN_TYPES) as ColumnName[]) out[name] = this.columns[name].slice(0, this.rows);
    this.rows = 0;
    return out as unknown as OtcStepRecord;
  }
}

/**
 * One side of the resting book as cumulative volume and notional by level, to price market orders
 * of many sizes with a binary search each.
 */
class RestingLadder {
  prices = new Float64Array(64);
  volumes = new Float64Array(64);
  cumVolume = new Float64Array(64);
  cumNotional = new Float64Array(64);
  count = 0;

  /** False when only the best levels were read (enough for the sizes asked so far). */
  complete = false;
  private book: OrderBook | undefined;
  private side: Side = BUY;

  /**
   * The market's reference depth for this side (docs/market-mechanics.md): the reference best price
   * (the side's best, or its last best while it is empty), the long-run mean level volumes
   * V̄_1..V̄_m and V̄_m, the least volume the extrapolated depth is anchored on.
   */
  private refBest = NaN;
  private refDirection: 1 | -1 = 1;
  private refVolumes: Float64Array = new Float64Array(0);
  private refOffset = 0;
  private refLevels = 0;
  floorVolume = 0;
  /** True when the side was empty and the ladder holds the reference levels instead. */
  reference = false;

  /** Sets the reference depth used when the side is empty and as the floor of the extrapolated depth. */
  setReference(refBest: number, direction: 1 | -1, volumes: Float64Array, offset: number, levels: number): void {
    this.refBest = refBest;
    this.refDirection = direction;
    this.refVolumes = volumes;
    this.refOffset = offset;
    this.refLevels = levels;
    this.floorVolume = volumes[offset + levels - 1]!;
  }

  /** Reads the whole side (every resting level). */
  read(book: OrderBook, restingSide: Side): void {
    this.book = book;
    this.side = restingSide;
    let n = book.topLevels(restingSide, this.prices.length, this.prices, this.volumes);
    while (n === this.prices.length) {
      this.grow(2 * n);
      n = book.topLevels(restingSide, this.prices.length, this.prices, this.volumes);
    }
    this.accumulate(n);
    this.complete = true;
  }

  /** Reads the best `levels` levels only; pricing reads the rest if a size needs it. */
  readTop(book: OrderBook, restingSide: Side, levels: number): void {
    this.book = book;
    this.side = restingSide;
    if (levels > this.prices.length) this.grow(levels);
    const n = book.topLevels(restingSide, levels, this.prices, this.volumes);
    this.accumulate(n);
    this.complete = n < levels;
  }

  private grow(n: number): void {
    this.prices = new Float64Array(n);
    this.volumes = new Float64Array(n);
    this.cumVolume = new Float64Array(n);
    this.cumNotional = new Float64Array(n);
  }

  private accumulate(n: number): void {
    this.reference = false;
    if (n === 0 && this.refLevels > 0) {
      // An empty side: the market's depth is still there, at its long-run mean volumes from the
      // side's last best price (the flow emptied the visible levels, not the market).
      n = this.refLevels;
      if (n > this.prices.length) this.grow(n);
      for (let l = 0; l < n; l++) {
        this.prices[l] = this.refBest + this.refDirection * l;
        this.volumes[l] = this.refVolumes[this.refOffset + l]!;
      }
      this.reference = true;
    }
    let v = 0;
    let x = 0;
    for (let l = 0; l < n; l++) {
      v += this.volumes[l]!;
      x += this.volumes[l]! * this.prices[l]!;
      this.cumVolume[l] = v;
      this.cumNotional[l] = x;
    }
    this.count = n;
  }

  /**
   * Average fill price of `quantity` with liquidity beyond the resting levels extrapolated as in
   * `OrderBook.averageFillPrice`: the price d ticks beyond the deepest resting level
   * holds V_m exp(-alpha * distance to the m-th level). NaN when even that cannot fill it.
   */
  averagePriceExtrapolated(quantity: number, direction: 1 | -1, decay: DeepDecay): number {
    if (!(quantity > 0)) return NaN;
    if (!this.complete && (this.count === 0 || quantity > this.cumVolume[this.count - 1]!)) this.read(this.book!, this.side);
    const n = this.count;
    if (n === 0) return NaN;
    const total = this.cumVolume[n - 1]!;
    if (quantity <= total) return this.averagePrice(quantity);
    if (!(decay.alpha > 0)) return NaN;
    const last = this.prices[n - 1]!;
    let remaining = quantity - total;
    // The whole tail holds A / (e^alpha - 1); refuse early instead of walking the grid.
    const start = this.tailStart(decay);
    const capacity = start / Math.expm1(decay.alpha);
    if (remaining > capacity * (1 - 1e-9)) return NaN;
    let notional = this.cumNotional[n - 1]!;
    const ratio = Math.exp(-decay.alpha);
    let volume = start;
    for (let d = 1; remaining > 0; d++) {
      volume *= ratio;
      const take = volume < remaining ? volume : remaining;
      notional += (last + direction * d) * take;
      remaining -= take;
    }
    return notional / quantity;
  }

  /**
   * The largest quantity `averagePriceExtrapolated` prices: the resting volume plus the whole
   * extrapolated tail, less a margin so that a quantity up to it is always priced.
   */
  maxPricedQuantity(decay: DeepDecay): number {
    if (!this.complete) this.read(this.book!, this.side);
    const n = this.count;
    if (n === 0) return 0;
    const total = this.cumVolume[n - 1]!;
    if (!(decay.alpha > 0)) return total;
    return total + this.tailCapacity(decay) * (1 - 2e-9);
  }

  /** Volume of the extrapolated tail beyond the deepest level (the geometric series V_m exp(-alpha (k - m)) of the model, paper section 2.3.1). */
  private tailCapacity(decay: DeepDecay): number {
    return this.tailStart(decay) / Math.expm1(decay.alpha);
  }

  /**
   * A: the extrapolated depth at d ticks beyond the deepest level is A e^{-alpha d}. The paper's
   * extrapolation V_m e^{-alpha (k - m)} from the m-th level, or, when the flow has thinned the
   * book below it, the same extrapolation from a level m at its long-run mean volume V̄_m placed at
   * the deepest level: the depth beyond the visible book stands for the rest of the market and does
   * not vanish with the resting volume. So every side prices at least V̄_m / (e^alpha - 1) lots.
   */
  private tailStart(decay: DeepDecay): number {
    const n = this.count;
    const anchor = Math.min(Math.max(1, Math.floor(decay.levels)), n) - 1;
    const gap = Math.abs(this.prices[n - 1]! - this.prices[anchor]!);
    const fromBook = this.volumes[anchor]! * Math.exp(-decay.alpha * gap);
    return fromBook > this.floorVolume ? fromBook : this.floorVolume;
  }

  /**
   * Average fill price of a market order of `quantity` against this side; beyond the resting
   * volume, the average over what would fill (a market order drops the rest). NaN when empty.
   */
  averagePrice(quantity: number): number {
    if (!this.complete && (this.count === 0 || quantity > this.cumVolume[this.count - 1]!)) this.read(this.book!, this.side);
    const n = this.count;
    if (n === 0) return NaN;
    if (quantity >= this.cumVolume[n - 1]!) return this.cumNotional[n - 1]! / this.cumVolume[n - 1]!;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumVolume[mid]! < quantity) lo = mid + 1;
      else hi = mid;
    }
    const before = lo === 0 ? 0 : this.cumVolume[lo - 1]!;
    const notionalBefore = lo === 0 ? 0 : this.cumNotional[lo - 1]!;
    return (notionalBefore + (quantity - before) * this.prices[lo]!) / quantity;
  }
}

/** Everything one episode owns besides the agent arrays. */
class Episode {
  readonly book: OrderBook;
  readonly ecn: EcnDriver;
  readonly types: PopulationTypes;
  profile: Population | undefined = undefined;
  stepRng: Random | undefined = undefined;
  ecnRng: Random | undefined = undefined;
  /** Distinct LT sizes, ascending, and each LT's index into them. */
  readonly sizes: Float64Array;
  nSizes = 0;
  readonly ltSizeIndex: Int32Array;
  /** Quote tables of the last step: [nLp * nSizes] and ECN average prices [nSizes]. */
  readonly askQuote: Float64Array;
  readonly bidQuote: Float64Array;
  readonly ecnBuyPrice: Float64Array;
  readonly ecnSellPrice: Float64Array;
  /** [nLpSupertypes * nLt]: trades the supertype's LPs received from LTs, per size index. */
  readonly tradeCounts: Float64Array;
  /**
   * Step-2 tables of the current step, kept per episode because every episode quotes before any
   * LT acts: each LP's quote offset, the LPs in attractiveness order per side
   * and their ranks, per connectivity byte the connected LPs as rank bits, and per (size, rank)
   * the last rank quoting the same price.
   */
  readonly askOffset: Float64Array;
  readonly bidOffset: Float64Array;
  readonly askOrder: Int32Array;
  readonly bidOrder: Int32Array;
  readonly askRankOf: Int32Array;
  readonly bidRankOf: Int32Array;
  readonly askRankTable: Int32Array;
  readonly bidRankTable: Int32Array;
  readonly askTieEnd: Int32Array;
  readonly bidTieEnd: Int32Array;
  /**
   * The market's reference depth (docs/market-mechanics.md): the long-run mean level volumes
   * (ask 1..m, then bid 1..m) and each side's last best price, which stands in while the side is
   * empty.
   */
  referenceVolumes: Float64Array = new Float64Array(0);
  lastBestAsk = NaN;
  lastBestBid = NaN;

  constructor(book: OrderBook, ecn: EcnDriver, population: Population) {
    this.book = book;
    this.ecn = ecn;
    this.types = new PopulationTypes(population);
    const nLt = this.types.nLt;
    const nLp = this.types.nLp;
    this.sizes = new Float64Array(nLt);
    this.ltSizeIndex = new Int32Array(nLt);
    this.askQuote = new Float64Array(nLp * nLt);
    this.bidQuote = new Float64Array(nLp * nLt);
    this.ecnBuyPrice = new Float64Array(nLt);
    this.ecnSellPrice = new Float64Array(nLt);
    this.tradeCounts = new Float64Array(population.lp.length * nLt);
    this.askOffset = new Float64Array(nLp);
    this.bidOffset = new Float64Array(nLp);
    this.askOrder = new Int32Array(nLp);
    this.bidOrder = new Int32Array(nLp);
    this.askRankOf = new Int32Array(nLp);
    this.bidRankOf = new Int32Array(nLp);
    const rankChunks = Math.ceil(nLp / 8);
    this.askRankTable = new Int32Array(rankChunks * 256);
    this.bidRankTable = new Int32Array(rankChunks * 256);
    this.askTieEnd = new Int32Array(nLp * nLt);
    this.bidTieEnd = new Int32Array(nLp * nLt);
  }

  /** Collects the distinct LT sizes drawn this episode. */
  indexSizes(): void {
    const types = this.types;
    const sorted = Float64Array.from(types.ltSize).sort();
    let n = 0;
    for (let k = 0; k < sorted.length; k++) {
      if (n === 0 || sorted[k] !== this.sizes[n - 1]) this.sizes[n++] = sorted[k]!;
    }
    this.nSizes = n;
    for (let k = 0; k < types.nLt; k++) {
      const q = types.ltSize[k]!;
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.sizes[mid]! < q) lo = mid + 1;
        else hi = mid;
      }
      this.ltSizeIndex[k] = lo;
    }
  }
}

/** The OTC game: B episodes of n_LP LPs, n_LT LTs and one ECN, in lockstep. */
export class OtcEnv implements MultiClassVecEnv {
  readonly classes: readonly AgentClassSpec[];
  /** The Stackelberg move order: LPs, then learning LTs who observe this step's quotes (none without learning LTs). */
  readonly stages: readonly (readonly number[])[] | undefined;
  readonly horizon: number;
  readonly batchSize: number;
  readonly nLp: number;
  readonly nLt: number;
  readonly nLpSupertypes: number;
  readonly nLtSupertypes: number;
  /** Indices (within an episode) of the LTs that learn, i.e. are not stationary. */
  readonly learningLts: Int32Array;
  /** Class index of "lp" and "lt" in `classes` (-1 when absent). */
  readonly lpClassIndex: number;
  readonly ltClassIndex: number;
  readonly lpObsDim: number;
  readonly ltObsDim: number;
  readonly config: OtcGameConfig;
  /** xi_LP in ticks. */
  readonly lpGridTicks: number;
  readonly p0Tick: number;
  firstEpisodeIndex: number;

  private readonly episodes: Episode[];
  private readonly deepDecay: DeepDecay;
  private readonly levels: number;
  private stepCount = 0;
  private hasReset = false;
  private recorder: StepRecorder | undefined;

  // Per episode [B].
  private readonly mid: Float64Array;
  private readonly totalLtQty: Float64Array;
  private readonly ecnLtQty: Float64Array;
  private readonly ecnRestingLtQty: Float64Array;
  private readonly noVenueLtQty: Float64Array;
  private readonly stepLtQty: Float64Array;
  private readonly supertypeLtQty: Float64Array;

  // Per LP [B * nLp].
  private readonly lpAction: Float64Array;
  private readonly lpInventory: Float64Array;
  private readonly lpCash: Float64Array;
  private readonly lpPnlInv: Float64Array;
  private readonly lpPnlSpread: Float64Array;
  private readonly lpStartSpread: Float64Array;
  private readonly lpShareSum: Float64Array;
  private readonly lpShareSteps: Float64Array;
  private readonly lpMhat: Float64Array;
  private readonly lpDistance: Float64Array;
  private readonly lpReward: Float64Array;
  private readonly lpEpisodeReward: Float64Array;
  private readonly lpStepLtBuy: Float64Array;
  private readonly lpStepLtSell: Float64Array;
  private readonly lpStepTrades: Int32Array;
  private readonly lpStepEcnBuy: Float64Array;
  private readonly lpStepEcnSell: Float64Array;
  private readonly lpStepShare: Float64Array;
  /** This step's hedge of each LP: size (0: none), side and price per lot on the observed cost curve. */
  private readonly lpHedgeQty: Float64Array;
  private readonly lpHedgeSide: Int8Array;
  private readonly lpHedgePrice: Float64Array;

  // Per LT [B * nLt].
  private readonly ltInventory: Float64Array;
  private readonly ltCash: Float64Array;
  private readonly ltPnlInv: Float64Array;
  private readonly ltPnlSpread: Float64Array;
  private readonly ltStartSpread: Float64Array;
  private readonly ltSells: Float64Array;
  private readonly ltBuys: Float64Array;
  private readonly ltDistance: Float64Array;
  private readonly ltReward: Float64Array;
  /** sum_k |dPnL_inv,k| per LT, for the risk penalty of telescoped episode rewards. */
  private readonly ltRiskSum: Float64Array;
  private readonly ltStepAction: Int32Array;
  private readonly ltStepCounterparty: Int32Array;
  private readonly ltStepDecision: Float64Array;
  private readonly ltStepLpQty: Float64Array;
  private readonly ltStepEcnQty: Float64Array;
  private readonly ltStepNotional: Float64Array;

  // ECN order queue of one episode-step (hedges + LT ECN trades).
  private readonly orderAgent: Int32Array;
  private readonly orderSide: Int8Array;
  private readonly orderQty: Float64Array;
  /** Price per lot of each ECN order: the sender's observed cost curve at its size. */
  private readonly orderPrice: Float64Array;
  private readonly orderPerm: Int32Array;
  private readonly levelPrices: Float64Array;
  private readonly levelVolumes: Float64Array;
  private readonly clippedLtActions: Int32Array;
  /** Bytes of an LT's connectivity mask (8 LPs per byte, see `Episode.askRankTable`). */
  private readonly rankChunks: number;
  /** True between the LPs' actions of a step (`applyStage` or the start of `step`) and its end. */
  private quotesReady = false;
  private readonly stats: OtcMarketStats = emptyMarketStats();
  private readonly askLadder = new RestingLadder();
  private readonly bidLadder = new RestingLadder();
  /** The model's long-run mean level volumes, when it carries them (else each episode's initial book). */
  private readonly modelReferenceVolumes: Float64Array | undefined;

  constructor(options: OtcEnvOptions) {
    const { config, batchSize, ecnModel } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new OtcEnvError(`batchSize must be a positive integer, got ${batchSize}`, "pass B >= 1");
    if (!Number.isInteger(config.horizon) || config.horizon < 1) throw new OtcEnvError(`horizon must be a positive integer, got ${config.horizon}`, "set T >= 1");
    this.config = config;
    this.horizon = config.horizon;
    this.batchSize = batchSize;
    this.firstEpisodeIndex = options.firstEpisodeIndex ?? 0;
    this.p0Tick = config.ecn.p0Tick;
    this.lpGridTicks = config.lpGridBp * 1e-4 * config.ecn.p0Tick;
    this.levels = ecnModel.levels;
    this.deepDecay = { alpha: ecnModel.alpha, levels: ecnModel.levels };
    if (!(ecnModel.alpha > 0)) throw new OtcEnvError(`the ECN model's depth decay alpha must be positive, got ${ecnModel.alpha}`, "fit the model again (alpha is floored at a positive minimum) or give a stand-in model alpha > 0");
    const reference = ecnModel.longRunVolumes;
    if (reference !== undefined) {
      if (reference.length !== 2 * ecnModel.levels || !reference.every((v) => v > 0 && Number.isFinite(v))) {
        throw new OtcEnvError(`the ECN model's long-run level volumes must be ${2 * ecnModel.levels} positive numbers`, "fit the ECN model again");
      }
      this.modelReferenceVolumes = Float64Array.from(reference);
    }
    const population = config.population;
    this.episodes = [];
    for (let b = 0; b < batchSize; b++) {
      const book = new OrderBook({
        minPriceTick: Math.max(0, Math.floor(config.ecn.p0Tick - config.ecn.priceRangeTicks)),
        maxPriceTick: Math.ceil(config.ecn.p0Tick + config.ecn.priceRangeTicks)
      });
      const ecn = (options.ecnFactory ?? defaultEcnFactory)(book, ecnModel, {
        p0Tick: config.ecn.p0Tick,
        depthLevels: config.ecn.depthLevels,
        originator: ECN_ORIGINATOR
      });
      this.episodes.push(new Episode(book, ecn, population));
    }
    const types0 = this.episodes[0]!.types;
    this.nLp = types0.nLp;
    this.nLt = types0.nLt;
    this.nLpSupertypes = types0.nLpSupertypes;
    this.nLtSupertypes = types0.nLtSupertypes;
    const learners: number[] = [];
    let k = 0;
    for (const s of population.lt) {
      for (let c = 0; c < s.count; c++, k++) if (!s.stationary) learners.push(k);
    }
    this.learningLts = Int32Array.from(learners);
    const m = this.levels;
    this.lpObsDim = 4 + 2 * m + config.hedgeCostFractions.length + 4 + this.nLtSupertypes;
    this.ltObsDim = 9 + 6 + this.nLpSupertypes;
    const classes: AgentClassSpec[] = [];
    this.lpClassIndex = classes.length;
    classes.push({
      name: "lp",
      count: batchSize * this.nLp,
      obsDim: this.lpObsDim,
      action: {
        kind: "continuous",
        dim: 3,
        low: Float32Array.from([-1, -config.skewMax, 0]),
        high: Float32Array.from([config.spreadMax, config.skewMax, 1])
      }
    });
    if (learners.length > 0) {
      this.ltClassIndex = classes.length;
      classes.push({ name: "lt", count: batchSize * learners.length, obsDim: this.ltObsDim, action: { kind: "discrete", n: 3 } });
    } else {
      this.ltClassIndex = -1;
    }
    this.classes = classes;
    this.stages = this.ltClassIndex >= 0 ? [[this.lpClassIndex], [this.ltClassIndex]] : undefined;

    const B = batchSize;
    const nLp = this.nLp * B;
    const nLt = this.nLt * B;
    this.mid = new Float64Array(B);
    this.totalLtQty = new Float64Array(B);
    this.ecnLtQty = new Float64Array(B);
    this.ecnRestingLtQty = new Float64Array(B);
    this.noVenueLtQty = new Float64Array(B);
    this.stepLtQty = new Float64Array(B);
    this.supertypeLtQty = new Float64Array(B * this.nLpSupertypes);
    this.lpAction = new Float64Array(nLp * 3);
    this.lpInventory = new Float64Array(nLp);
    this.lpCash = new Float64Array(nLp);
    this.lpPnlInv = new Float64Array(nLp);
    this.lpPnlSpread = new Float64Array(nLp);
    this.lpStartSpread = new Float64Array(nLp);
    this.lpShareSum = new Float64Array(nLp);
    this.lpShareSteps = new Float64Array(nLp);
    this.lpMhat = new Float64Array(nLp);
    this.lpDistance = new Float64Array(nLp);
    this.lpReward = new Float64Array(nLp);
    this.lpEpisodeReward = new Float64Array(nLp);
    this.lpStepLtBuy = new Float64Array(nLp);
    this.lpStepLtSell = new Float64Array(nLp);
    this.lpStepTrades = new Int32Array(nLp);
    this.lpStepEcnBuy = new Float64Array(nLp);
    this.lpStepEcnSell = new Float64Array(nLp);
    this.lpStepShare = new Float64Array(nLp);
    this.lpHedgeQty = new Float64Array(nLp);
    this.lpHedgeSide = new Int8Array(nLp);
    this.lpHedgePrice = new Float64Array(nLp);
    this.ltInventory = new Float64Array(nLt);
    this.ltCash = new Float64Array(nLt);
    this.ltPnlInv = new Float64Array(nLt);
    this.ltPnlSpread = new Float64Array(nLt);
    this.ltStartSpread = new Float64Array(nLt);
    this.ltSells = new Float64Array(nLt);
    this.ltBuys = new Float64Array(nLt);
    this.ltDistance = new Float64Array(nLt);
    this.ltReward = new Float64Array(nLt);
    this.ltRiskSum = new Float64Array(nLt);
    this.ltStepAction = new Int32Array(nLt);
    this.ltStepCounterparty = new Int32Array(nLt);
    this.ltStepDecision = new Float64Array(nLt);
    this.ltStepLpQty = new Float64Array(nLt);
    this.ltStepEcnQty = new Float64Array(nLt);
    this.ltStepNotional = new Float64Array(nLt);
    const maxOrders = this.nLp + this.nLt;
    this.orderAgent = new Int32Array(maxOrders);
    this.orderSide = new Int8Array(maxOrders);
    this.orderQty = new Float64Array(maxOrders);
    this.orderPrice = new Float64Array(maxOrders);
    this.orderPerm = new Int32Array(maxOrders);
    this.levelPrices = new Float64Array(m);
    this.levelVolumes = new Float64Array(m);
    this.clippedLtActions = new Int32Array(Math.max(1, B * learners.length));
    this.rankChunks = Math.ceil(this.nLp / 8);
    this.recorder = options.record ? new StepRecorder(B * (this.nLp + this.nLt) * config.horizon) : undefined;
  }

  get t(): number {
    return this.stepCount;
  }

  /** Where the LTs' and hedges' quantity went since the last reset (a copy). */
  marketStats(): OtcMarketStats {
    return { ...this.stats };
  }

  /** Turns the per-step record on (it is then filled by every `step`) or off. */
  setRecording(on: boolean): void {
    if (on && this.recorder === undefined) this.recorder = new StepRecorder(this.batchSize * (this.nLp + this.nLt) * this.horizon);
    if (!on) this.recorder = undefined;
  }

  /** Returns the rows recorded since the last call (or reset of the recorder) and empties it. */
  takeRecord(): OtcStepRecord {
    if (this.recorder === undefined) throw new OtcEnvError("Recording is off", "construct the env with record: true or call setRecording(true)");
    return this.recorder.take();
  }

  /**
   * Sets the supertype profile episode `episode` of the batch draws its types from at the next
   * `reset` (a calibration particle); `undefined` restores the config's population. The profile
   * must keep the config's supertypes and counts.
   */
  setEpisodeProfile(episode: number, profile: Population | undefined): void {
    const ep = this.episodes[episode];
    if (ep === undefined) throw new OtcEnvError(`No episode ${episode} in a batch of ${this.batchSize}`, "pass an index in [0, B)");
    ep.profile = profile;
  }

  /** The types drawn for episode `episode` at the last reset. */
  typesOf(episode: number): PopulationTypes {
    return this.episode(episode).types;
  }

  /** The ECN book of episode `episode`. */
  bookOf(episode: number): OrderBook {
    return this.episode(episode).book;
  }

  /** P_t of episode `episode`, in ticks. */
  midOf(episode: number): number {
    return this.mid[episode]!;
  }

  /**
   * The quote tables of the last step of an episode: distinct LT sizes, LP ask/bid per (LP, size)
   * (row-major [nLp][nSizes]) and the ECN average buy/sell prices per size, all in ticks.
   */
  lastQuotes(episode: number): {
    sizes: Float64Array;
    ask: Float64Array;
    bid: Float64Array;
    ecnBuy: Float64Array;
    ecnSell: Float64Array;
  } {
    const ep = this.episode(episode);
    const n = ep.nSizes;
    return {
      sizes: ep.sizes.slice(0, n),
      ask: ep.askQuote.slice(0, this.nLp * n),
      bid: ep.bidQuote.slice(0, this.nLp * n),
      ecnBuy: ep.ecnBuyPrice.slice(0, n),
      ecnSell: ep.ecnSellPrice.slice(0, n)
    };
  }

  /** Per-agent accounting state (views, valid until the next step): [B * nLp] and [B * nLt]. */
  accounts(): {
    lpInventory: Float64Array;
    lpCash: Float64Array;
    lpPnlInventory: Float64Array;
    lpPnlSpread: Float64Array;
    ltInventory: Float64Array;
    ltCash: Float64Array;
    ltPnlInventory: Float64Array;
    ltPnlSpread: Float64Array;
  } {
    return {
      lpInventory: this.lpInventory,
      lpCash: this.lpCash,
      lpPnlInventory: this.lpPnlInv,
      lpPnlSpread: this.lpPnlSpread,
      ltInventory: this.ltInventory,
      ltCash: this.ltCash,
      ltPnlInventory: this.ltPnlInv,
      ltPnlSpread: this.ltPnlSpread
    };
  }

  private episode(episode: number): Episode {
    const ep = this.episodes[episode];
    if (ep === undefined) throw new OtcEnvError(`No episode ${episode} in a batch of ${this.batchSize}`, "pass an index in [0, B)");
    return ep;
  }

  reset(rng: Random): void {
    for (let b = 0; b < this.batchSize; b++) {
      const ep = this.episodes[b]!;
      const episodeRng = rng.split(this.firstEpisodeIndex + b);
      ep.types.sample(episodeRng.split("types"), ep.profile ?? this.config.population);
      ep.indexSizes();
      ep.stepRng = episodeRng.split("env");
      ep.ecnRng = episodeRng.split("ecn");
      ep.book.clear();
      ep.ecn.startEpisode(ep.ecnRng);
      const mid = ep.book.mid();
      if (!Number.isFinite(mid)) throw new OtcEnvError("The ECN agent built an initial book without both sides", "check the ECN model's initial snapshot sampler");
      this.mid[b] = mid;
      this.startReference(ep);
      ep.tradeCounts.fill(0);
    }
    this.totalLtQty.fill(0);
    this.ecnLtQty.fill(0);
    this.ecnRestingLtQty.fill(0);
    this.noVenueLtQty.fill(0);
    this.supertypeLtQty.fill(0);
    for (const a of [
      this.lpInventory,
      this.lpCash,
      this.lpPnlInv,
      this.lpPnlSpread,
      this.lpShareSum,
      this.lpShareSteps,
      this.lpMhat,
      this.lpReward,
      this.lpEpisodeReward,
      this.ltInventory,
      this.ltCash,
      this.ltPnlInv,
      this.ltPnlSpread,
      this.ltSells,
      this.ltBuys,
      this.ltReward,
      this.ltRiskSum
    ]) {
      a.fill(0);
    }
    Object.assign(this.stats, emptyMarketStats());
    this.quotesReady = false;
    for (let b = 0; b < this.batchSize; b++) {
      const types = this.episodes[b]!.types;
      for (let i = 0; i < this.nLp; i++) this.lpDistance[b * this.nLp + i] = Math.abs(0 - types.lpMTarget[i]!);
      for (let k = 0; k < this.nLt; k++) {
        this.ltDistance[b * this.nLt + k] = (types.ltQA[k]! + types.ltQB[k]!) / 2;
      }
    }
    this.stepCount = 0;
    this.hasReset = true;
  }

  observe(classIndex: number, out: Float32Array): void {
    if (!this.hasReset) throw new OtcEnvError("observe before reset", "call reset(rng) first");
    if (classIndex === this.lpClassIndex) this.observeLps(out);
    else if (classIndex === this.ltClassIndex && classIndex >= 0) this.observeLts(out);
    else throw new OtcEnvError(`No class ${classIndex}`, `use an index into env.classes (${this.classes.length} classes)`);
  }

  rewards(classIndex: number, out: Float32Array): void {
    if (classIndex === this.lpClassIndex) {
      for (let a = 0; a < this.lpReward.length; a++) out[a] = this.lpReward[a]!;
    } else if (classIndex === this.ltClassIndex && classIndex >= 0) {
      const nLearn = this.learningLts.length;
      for (let b = 0; b < this.batchSize; b++) {
        for (let j = 0; j < nLearn; j++) out[b * nLearn + j] = this.ltReward[b * this.nLt + this.learningLts[j]!]!;
      }
    } else {
      throw new OtcEnvError(`No class ${classIndex}`, `use an index into env.classes (${this.classes.length} classes)`);
    }
  }

  /**
   * Stage 0 of the Stackelberg step (`stages`): applies the LPs' actions and computes this step's
   * quotes and ECN costs in every episode, so that learning LTs then observe them. `actions` is
   * indexed by class; only the LP entry is read.
   */
  applyStage(stage: number, actions: readonly (Float32Array | undefined)[]): void {
    this.checkStepAllowed();
    if (stage !== 0 || this.ltClassIndex < 0) {
      throw new OtcEnvError(`The OTC env has no stage ${stage} to apply before step`, "apply stage 0 (the LPs), then call step with every class's actions");
    }
    if (this.quotesReady) throw new OtcEnvError("The LPs' actions of this step were already applied", "call step to complete the step");
    this.applyLpActions(actions[this.lpClassIndex]);
  }

  step(actions: readonly Float32Array[], _rng?: Random): void {
    this.checkStepAllowed();
    if (actions.length !== this.classes.length) {
      throw new OtcEnvError(`step got ${actions.length} action arrays for ${this.classes.length} classes`, "pass one array per class of env.classes");
    }
    // Without a preceding applyStage (callers that move every class at once), the LPs move first here.
    if (!this.quotesReady) this.applyLpActions(actions[this.lpClassIndex]);
    if (this.ltClassIndex >= 0) {
      const ltActions = actions[this.ltClassIndex]!;
      const n = this.batchSize * this.learningLts.length;
      if (ltActions.length < n) throw new OtcEnvError(`LT actions have ${ltActions.length} entries, need ${n}`, "pass one action index per learning LT");
      for (let j = 0; j < n; j++) {
        const v = Math.round(ltActions[j]!);
        this.clippedLtActions[j] = v === LT_BUY || v === LT_SELL ? v : LT_NONE;
      }
    }
    for (let b = 0; b < this.batchSize; b++) this.tradeEpisode(b);
    this.quotesReady = false;
    if (this.recorder !== undefined) this.record();
    for (let b = 0; b < this.batchSize; b++) {
      // P_{t+1} becomes the mid of the next step only after the record saw both.
      const ep = this.episodes[b]!;
      const mid = ep.book.mid();
      if (Number.isFinite(mid)) this.mid[b] = mid;
      const ask = ep.book.bestAsk();
      const bid = ep.book.bestBid();
      if (ask === ask) ep.lastBestAsk = ask;
      if (bid === bid) ep.lastBestBid = bid;
    }
    this.stepCount++;
  }

  private checkStepAllowed(): void {
    if (!this.hasReset) throw new OtcEnvError("step before reset", "call reset(rng) first");
    if (this.stepCount >= this.horizon) throw new OtcEnvError(`The episodes ended at T = ${this.horizon}`, "call reset(rng) to start new episodes");
  }

  /** Step 2 for every episode: clips the LP actions, then quotes, ECN costs and hedge orders. */
  private applyLpActions(lpActions: Float32Array | undefined): void {
    const nLpAll = this.batchSize * this.nLp;
    if (lpActions === undefined || lpActions.length < nLpAll * 3) {
      throw new OtcEnvError(`LP actions have ${lpActions?.length ?? 0} entries, need ${nLpAll * 3}`, "pass count * 3 actions");
    }
    const cfg = this.config;
    for (let a = 0; a < nLpAll; a++) {
      const s = lpActions[a * 3]!;
      const k = lpActions[a * 3 + 1]!;
      const h = lpActions[a * 3 + 2]!;
      // NaN actions clip to the lower bound so that a broken policy cannot poison the book.
      this.lpAction[a * 3] = s > cfg.spreadMax ? cfg.spreadMax : s >= -1 ? s : -1;
      this.lpAction[a * 3 + 1] = k > cfg.skewMax ? cfg.skewMax : k >= -cfg.skewMax ? k : -cfg.skewMax;
      this.lpAction[a * 3 + 2] = h > 1 ? 1 : h >= 0 ? h : 0;
    }
    for (let b = 0; b < this.batchSize; b++) this.quoteEpisode(b);
    this.quotesReady = true;
  }

  /**
   * An episode's reference depth: the model's long-run mean level volumes, or (for a model without
   * them) the initial book's top m levels; and both sides' best prices. Refuses an LT size larger
   * than what every side's cost curve prices whatever the flow did to the book (V̄_m / (e^alpha - 1)
   * on the thinner side), since that size could meet a side with no price.
   */
  private startReference(ep: Episode): void {
    const m = this.levels;
    const volumes = ep.referenceVolumes.length === 2 * m ? ep.referenceVolumes : (ep.referenceVolumes = new Float64Array(2 * m));
    if (this.modelReferenceVolumes !== undefined) volumes.set(this.modelReferenceVolumes);
    else {
      const prices = new Float64Array(m);
      const got = new Float64Array(m);
      for (const [side, offset] of [[SELL, 0], [BUY, m]] as const) {
        const n = ep.book.topLevels(side, m, prices, got);
        for (let l = 0; l < m; l++) volumes[offset + l] = l < n ? got[l]! : got[n - 1]!;
      }
    }
    ep.lastBestAsk = ep.book.bestAsk();
    ep.lastBestBid = ep.book.bestBid();
    const guaranteed = Math.min(volumes[m - 1]!, volumes[2 * m - 1]!) / Math.expm1(this.deepDecay.alpha);
    const sizes = ep.sizes;
    const largest = ep.nSizes > 0 ? sizes[ep.nSizes - 1]! : 0;
    if (!(largest <= guaranteed * (1 - 1e-6))) {
      throw new OtcEnvError(
        `an LT size of ${largest} lots exceeds the ${guaranteed.toFixed(2)} lots the ECN's extrapolated depth always holds (long-run volume at level ${m} / (e^alpha - 1))`,
        "use smaller LT sizes or an ECN model with deeper levels"
      );
    }
  }

  /**
   * Points both ladders at the episode's reference depth, the best prices a side would have if it
   * is empty (its last best, kept on its own side of the other side's best), and returns the spread
   * the LPs quote around.
   */
  private prepareLadders(ep: Episode): number {
    const book = ep.book;
    const m = this.levels;
    let ask = book.bestAsk();
    let bid = book.bestBid();
    if (ask !== ask) ask = bid === bid ? Math.max(ep.lastBestAsk, bid + 1) : ep.lastBestAsk;
    if (bid !== bid) bid = Math.min(ep.lastBestBid, ask - 1);
    this.askLadder.setReference(ask, 1, ep.referenceVolumes, 0, m);
    this.bidLadder.setReference(bid, -1, ep.referenceVolumes, m, m);
    return ask - bid;
  }

  /**
   * Step 2 of one episode, on the start-of-step book: the ECN cost curve per distinct LT size, LP
   * quotes by eq. (5) on the LP grid, the tables that find each LT's best connected LP, and each
   * LP's hedge (size and price on the same cost curve it observed).
   */
  private quoteEpisode(b: number): void {
    const ep = this.episodes[b]!;
    const book = ep.book;
    const nLp = this.nLp;
    const lpBase = b * nLp;
    const P = this.mid[b]!;
    const nSizes = ep.nSizes;
    const sizes = ep.sizes;
    const askQuote = ep.askQuote;
    const bidQuote = ep.bidQuote;
    const ecnBuy = ep.ecnBuyPrice;
    const ecnSell = ep.ecnSellPrice;
    const askLadder = this.askLadder;
    const bidLadder = this.bidLadder;
    const spread = this.prepareLadders(ep);
    if (book.bestAsk() !== book.bestAsk()) this.stats.emptySides++;
    if (book.bestBid() !== book.bestBid()) this.stats.emptySides++;
    // The best m + 2 levels usually cover every LT size; the ladder reads deeper only if needed.
    askLadder.readTop(book, SELL, this.levels + 2);
    bidLadder.readTop(book, BUY, this.levels + 2);
    for (let s = 0; s < nSizes; s++) {
      ecnBuy[s] = askLadder.averagePriceExtrapolated(sizes[s]!, 1, this.deepDecay);
      ecnSell[s] = bidLadder.averagePriceExtrapolated(sizes[s]!, -1, this.deepDecay);
    }
    // Hedges: round(eps_hedge * |q_t|) against the start-of-step inventory, cut to what the book
    // with its extrapolated depth holds, priced on the cost curve the LP observed (`observeLps`).
    const lpEcn = ep.types.lpEcnConnected;
    let askMax = -1;
    let bidMax = -1;
    for (let i = 0; i < nLp; i++) {
      const a = lpBase + i;
      this.lpHedgeQty[a] = 0;
      this.lpHedgePrice[a] = NaN;
      if (lpEcn[i] !== 1) continue;
      const inv = this.lpInventory[a]!;
      let qty = Math.round(this.lpAction[a * 3 + 2]! * Math.abs(inv));
      if (qty <= 0) continue;
      const selling = inv > 0;
      if (selling) {
        if (bidMax < 0) bidMax = bidLadder.maxPricedQuantity(this.deepDecay);
        if (qty > bidMax) qty = bidMax;
      } else {
        if (askMax < 0) askMax = askLadder.maxPricedQuantity(this.deepDecay);
        if (qty > askMax) qty = askMax;
      }
      if (qty <= 0) continue;
      this.lpHedgeQty[a] = qty;
      this.lpHedgeSide[a] = selling ? SELL : BUY;
      this.lpHedgePrice[a] = selling ? bidLadder.averagePriceExtrapolated(qty, -1, this.deepDecay) : askLadder.averagePriceExtrapolated(qty, 1, this.deepDecay);
    }
    const grid = this.lpGridTicks;
    const invGrid = 1 / grid;
    const askOffset = ep.askOffset;
    const bidOffset = ep.bidOffset;
    const askOrder = ep.askOrder;
    const bidOrder = ep.bidOrder;
    for (let i = 0; i < nLp; i++) {
      const a = (lpBase + i) * 3;
      const half = (this.lpAction[a]! * spread) / 2;
      const shift = this.lpAction[a + 1]! * spread;
      askOffset[i] = half + shift;
      bidOffset[i] = shift - half;
    }
    // LPs from most to least attractive (asks ascending, bids descending); insertion sort, n <= 31.
    for (let i = 0; i < nLp; i++) {
      let r = i;
      while (r > 0 && askOffset[askOrder[r - 1]!]! > askOffset[i]!) {
        askOrder[r] = askOrder[r - 1]!;
        r--;
      }
      askOrder[r] = i;
      r = i;
      while (r > 0 && bidOffset[bidOrder[r - 1]!]! < bidOffset[i]!) {
        bidOrder[r] = bidOrder[r - 1]!;
        r--;
      }
      bidOrder[r] = i;
    }
    // Quotes per (LP, size), and per (size, rank) the last rank quoting the same price: (base +
    // offset) is monotone in the offset, so for every size equal prices form runs in this order.
    const askTieEnd = ep.askTieEnd;
    const bidTieEnd = ep.bidTieEnd;
    for (let s = 0; s < nSizes; s++) {
      const cost = (ecnBuy[s]! - ecnSell[s]!) / 2;
      const askBase = P + cost;
      const bidBase = P - cost;
      for (let i = 0; i < nLp; i++) {
        askQuote[i * nSizes + s] = Math.ceil((askBase + askOffset[i]!) * invGrid - GRID_EPSILON) * grid;
        bidQuote[i * nSizes + s] = Math.floor((bidBase + bidOffset[i]!) * invGrid + GRID_EPSILON) * grid;
      }
      const row = s * nLp;
      askTieEnd[row + nLp - 1] = nLp - 1;
      bidTieEnd[row + nLp - 1] = nLp - 1;
      for (let r = nLp - 2; r >= 0; r--) {
        askTieEnd[row + r] = askQuote[askOrder[r]! * nSizes + s] === askQuote[askOrder[r + 1]! * nSizes + s] ? askTieEnd[row + r + 1]! : r;
        bidTieEnd[row + r] = bidQuote[bidOrder[r]! * nSizes + s] === bidQuote[bidOrder[r + 1]! * nSizes + s] ? bidTieEnd[row + r + 1]! : r;
      }
    }

    // Byte tables mapping a connectivity mask (LP bits) to the same set in rank bits, per side.
    const askRankOf = ep.askRankOf;
    const bidRankOf = ep.bidRankOf;
    const askRankTable = ep.askRankTable;
    const bidRankTable = ep.bidRankTable;
    for (let i = 0; i < nLp; i++) {
      askRankOf[askOrder[i]!] = i;
      bidRankOf[bidOrder[i]!] = i;
    }
    for (let c = 0; c < this.rankChunks; c++) {
      const base = c * 256;
      const entries = 1 << Math.min(8, nLp - 8 * c);
      askRankTable[base] = 0;
      bidRankTable[base] = 0;
      for (let x = 1; x < entries; x++) {
        const lp = 8 * c + 31 - Math.clz32(x & -x);
        const rest = base + (x & (x - 1));
        askRankTable[base + x] = askRankTable[rest]! | (1 << askRankOf[lp]!);
        bidRankTable[base + x] = bidRankTable[rest]! | (1 << bidRankOf[lp]!);
      }
    }
  }

  /**
   * The best price LT k of episode b can trade q_LT at this step on one side (the best connected
   * LP quote or the ECN cost curve, whichever is better; NaN when no venue quotes). Reads the
   * tables of `quoteEpisode`; what an LT observes is exactly the price it then trades at.
   */
  private bestConnectedPrice(b: number, k: number, buying: boolean): number {
    const ep = this.episodes[b]!;
    const s = ep.ltSizeIndex[k]!;
    const m = ep.types.ltLpMask[k]!;
    const nSizes = ep.nSizes;
    const order = buying ? ep.askOrder : ep.bidOrder;
    const quotes = buying ? ep.askQuote : ep.bidQuote;
    let best = NaN;
    for (let r = 0; r < this.nLp && m !== 0; r++) {
      const i = order[r]!;
      if (((m >>> i) & 1) === 1) {
        best = quotes[i * nSizes + s]!;
        break;
      }
    }
    if (ep.types.ltEcnConnected[k] === 1) {
      const p = buying ? ep.ecnBuyPrice[s]! : ep.ecnSellPrice[s]!;
      if (p === p && !(buying ? best <= p : best >= p)) best = p;
    }
    return best;
  }

  /** Steps 3-6 of the step for one episode (step 2 ran in `quoteEpisode`). */
  private tradeEpisode(b: number): void {
    const ep = this.episodes[b]!;
    const types = ep.types;
    const book = ep.book;
    const rng = ep.stepRng!;
    const nLp = this.nLp;
    const nLt = this.nLt;
    const lpBase = b * nLp;
    const ltBase = b * nLt;
    const P = this.mid[b]!;
    const nSizes = ep.nSizes;
    const sizes = ep.sizes;
    const askQuote = ep.askQuote;
    const bidQuote = ep.bidQuote;
    const ecnBuy = ep.ecnBuyPrice;
    const ecnSell = ep.ecnSellPrice;
    const askOrder = ep.askOrder;
    const bidOrder = ep.bidOrder;
    const askTieEnd = ep.askTieEnd;
    const bidTieEnd = ep.bidTieEnd;

    // Start-of-step snapshots for the spread-PnL increment.
    const recording = this.recorder !== undefined;
    for (let i = 0; i < nLp; i++) {
      this.lpStartSpread[lpBase + i] = this.lpPnlSpread[lpBase + i]!;
      this.lpStepLtBuy[lpBase + i] = 0;
      this.lpStepLtSell[lpBase + i] = 0;
      this.lpStepTrades[lpBase + i] = 0;
      this.lpStepEcnBuy[lpBase + i] = 0;
      this.lpStepEcnSell[lpBase + i] = 0;
    }
    this.ltStartSpread.set(this.ltPnlSpread.subarray(ltBase, ltBase + nLt), ltBase);
    if (recording) {
      this.ltStepLpQty.fill(0, ltBase, ltBase + nLt);
      this.ltStepEcnQty.fill(0, ltBase, ltBase + nLt);
      this.ltStepNotional.fill(0, ltBase, ltBase + nLt);
    }

    // Step 3: LTs act and trade at the best connected price (ties uniform at random).
    const mask = types.ltLpMask;
    const ltSizeIndex = ep.ltSizeIndex;
    const stationary = types.ltStationary;
    const ltEcn = types.ltEcnConnected;
    const lpSupertype = types.lpSupertype;
    const tradeCounts = ep.tradeCounts;
    const askRankTable = ep.askRankTable;
    const bidRankTable = ep.bidRankTable;
    const nChunks = this.rankChunks;
    const lpInventory = this.lpInventory;
    const lpCash = this.lpCash;
    const lpPnlSpread = this.lpPnlSpread;
    const lpStepLtBuy = this.lpStepLtBuy;
    const lpStepLtSell = this.lpStepLtSell;
    const lpStepTrades = this.lpStepTrades;
    const ltInventory = this.ltInventory;
    const ltCash = this.ltCash;
    const ltPnlSpread = this.ltPnlSpread;
    const ltSells = this.ltSells;
    const ltBuys = this.ltBuys;
    const supertypeLtQty = this.supertypeLtQty;
    const orderAgent = this.orderAgent;
    const orderSide = this.orderSide;
    const orderQty = this.orderQty;
    const orderPrice = this.orderPrice;
    const supertypeQtyBase = b * this.nLpSupertypes;
    const learnerBase = b * this.learningLts.length;
    let learner = 0;
    let coinWord = 0;
    let coinsLeft = 0;
    let orders = 0;
    let lpVolume = 0;
    // LT quantity decided this step: buy / sell actions that some connected venue quotes.
    let decidedVolume = 0;
    let noVenueVolume = 0;
    for (let k = 0; k < nLt; k++) {
      const lt = ltBase + k;
      const s = ltSizeIndex[k]!;
      const m = mask[k]!;
      let action: number;
      if (stationary[k] === 1) {
        if (coinsLeft === 0) {
          coinWord = rng.nextUint32();
          coinsLeft = 32;
        }
        action = (coinWord & 1) === 1 ? LT_BUY : LT_SELL;
        coinWord >>>= 1;
        coinsLeft--;
      } else {
        action = this.clippedLtActions[learnerBase + learner]!;
        learner++;
      }
      if (recording) {
        this.ltStepAction[lt] = action;
        this.ltStepCounterparty[lt] = COUNTERPARTY_NONE;
        this.ltStepDecision[lt] = NaN;
      }
      if (action === LT_NONE) continue;
      const buying = action === LT_BUY;
      ltBuys[lt]! += buying ? 1 : 0;
      ltSells[lt]! += buying ? 0 : 1;
      // The first connected LP in attractiveness order sets the best LP price; connected LPs in
      // its run of equal prices tie with it.
      let best = NaN;
      let ties = 0;
      // The LT's connections in rank space (bit r = the r-th most attractive LP), by table lookup.
      const table = buying ? askRankTable : bidRankTable;
      let rankMask = table[m & 255]!;
      if (nChunks > 1) {
        rankMask |= table[256 + ((m >>> 8) & 255)]!;
        if (nChunks > 2) rankMask |= table[512 + ((m >>> 16) & 255)]! | table[768 + ((m >>> 24) & 255)]!;
      }
      let tieMask = 0;
      let firstLp = -1;
      if (rankMask !== 0) {
        const r = 31 - Math.clz32(rankMask & -rankMask);
        firstLp = (buying ? askOrder : bidOrder)[r]!;
        const p = (buying ? askQuote : bidQuote)[firstLp * nSizes + s]!;
        if (p === p) {
          best = p;
          ties = 1;
          const end = (buying ? askTieEnd : bidTieEnd)[s * nLp + r]!;
          if (end > r) {
            tieMask = rankMask & ((2 << end) - 1) & ~((2 << r) - 1);
            for (let x = tieMask; x !== 0; x &= x - 1) ties++;
          }
        }
      }
      let ecnCandidate = false;
      if (ltEcn[k] === 1) {
        const p = buying ? ecnBuy[s]! : ecnSell[s]!;
        if (p === p) {
          if (ties === 0 || (buying ? p < best : p > best)) {
            best = p;
            ties = 1;
            tieMask = 0;
            firstLp = COUNTERPARTY_ECN;
          } else if (p === best) {
            ties++;
            ecnCandidate = true;
          }
        }
      }
      const q = sizes[s]!;
      if (ties === 0) {
        // Every side's cost curve prices every LT size (the reference depth), so only an LT
        // connected to no venue at all lands here: it has no one to trade with, nothing is decided.
        if (ltEcn[k] === 1) {
          throw new OtcEnvError(`LT ${k} of episode ${this.firstEpisodeIndex + b} is connected to the ECN but found no price at step ${this.stepCount}`, "this is a bug of the ECN cost curve; report it with the seed");
        }
        noVenueVolume += q;
        continue;
      }
      decidedVolume += q;
      // Uniform among the tied candidates: the first LP, the other tied LPs by rank, then the ECN.
      let chosen = firstLp;
      if (ties > 1) {
        let u = rng.int(ties);
        if (u > 0) {
          let x = tieMask;
          for (; u > 1 && x !== 0; u--) x &= x - 1;
          chosen = x !== 0 ? (buying ? askOrder : bidOrder)[31 - Math.clz32(x & -x)]! : COUNTERPARTY_ECN;
        }
      }
      if (recording) {
        this.ltStepCounterparty[lt] = chosen;
        this.ltStepDecision[lt] = best;
      }
      if (chosen === COUNTERPARTY_ECN) {
        orderAgent[orders] = nLp + k;
        orderSide[orders] = buying ? BUY : SELL;
        orderQty[orders] = q;
        orderPrice[orders] = best;
        orders++;
        continue;
      }
      // An LP-LT trade at the LP's quote; spread PnL against P_t on both sides.
      const lp = lpBase + chosen;
      const notional = q * best;
      if (buying) {
        lpInventory[lp]! -= q;
        lpCash[lp]! += notional;
        lpPnlSpread[lp]! += notional - q * P;
        lpStepLtBuy[lp]! += q;
        ltInventory[lt]! += q;
        ltCash[lt]! -= notional;
        ltPnlSpread[lt]! += q * P - notional;
      } else {
        lpInventory[lp]! += q;
        lpCash[lp]! -= notional;
        lpPnlSpread[lp]! += q * P - notional;
        lpStepLtSell[lp]! += q;
        ltInventory[lt]! -= q;
        ltCash[lt]! += notional;
        ltPnlSpread[lt]! += notional - q * P;
      }
      lpStepTrades[lp]!++;
      if (recording) {
        this.ltStepLpQty[lt] = q;
        this.ltStepNotional[lt] = notional;
      }
      lpVolume += q;
      const lpS = lpSupertype[chosen]!;
      supertypeLtQty[supertypeQtyBase + lpS]! += q;
      tradeCounts[lpS * nLt + s]! += 1;
    }


    // Step 4: LP hedges join the LT ECN orders. Every order is priced on the cost curve its
    // sender observed (resting book plus extrapolated depth, as if it were alone) and fills in
    // full; it also walks the physical book in a random order, taking the resting volume left, and
    // the rest fills against the extrapolated depth, which the book does not hold.
    for (let i = 0; i < nLp; i++) {
      const qty = this.lpHedgeQty[lpBase + i]!;
      if (!(qty > 0)) continue;
      orderAgent[orders] = i;
      orderSide[orders] = this.lpHedgeSide[lpBase + i]!;
      orderQty[orders] = qty;
      orderPrice[orders] = this.lpHedgePrice[lpBase + i]!;
      orders++;
    }
    const perm = this.orderPerm;
    for (let o = 0; o < orders; o++) perm[o] = o;
    rng.shuffle(perm, orders);
    let ecnLtVolume = 0;
    const stats = this.stats;
    for (let o = 0; o < orders; o++) {
      const order = perm[o]!;
      const agent = orderAgent[order]!;
      const side = orderSide[order]! as Side;
      const qty = orderQty[order]!;
      const price = orderPrice[order]!;
      const fromBook = book.submitMarket(side, qty, 1 + agent).filled;
      const notional = qty * price;
      if (agent < nLp) {
        const lp = lpBase + agent;
        if (side === BUY) {
          lpInventory[lp]! += qty;
          lpCash[lp]! -= notional;
          lpPnlSpread[lp]! += qty * P - notional;
          this.lpStepEcnBuy[lp]! += qty;
        } else {
          lpInventory[lp]! -= qty;
          lpCash[lp]! += notional;
          lpPnlSpread[lp]! += notional - qty * P;
          this.lpStepEcnSell[lp]! += qty;
        }
        stats.hedgeQty += qty;
        stats.hedgeRestingQty += fromBook;
      } else {
        const lt = ltBase + agent - nLp;
        if (side === BUY) {
          ltInventory[lt]! += qty;
          ltCash[lt]! -= notional;
          ltPnlSpread[lt]! += qty * P - notional;
        } else {
          ltInventory[lt]! -= qty;
          ltCash[lt]! += notional;
          ltPnlSpread[lt]! += notional - qty * P;
        }
        if (recording) {
          this.ltStepEcnQty[lt] = qty;
          this.ltStepNotional[lt] = notional;
        }
        ecnLtVolume += qty;
        stats.ltEcnRestingQty += fromBook;
        this.ecnRestingLtQty[b]! += fromBook;
      }
    }
    // The step's invariant: every LT quantity decided is filled, by an LP or by the ECN.
    const ltVolume = lpVolume + ecnLtVolume;
    if (Math.abs(decidedVolume - ltVolume) > 1e-9 * (1 + decidedVolume)) {
      throw new OtcEnvError(
        `LTs decided ${decidedVolume} lots at step ${this.stepCount} of episode ${this.firstEpisodeIndex + b} but LPs filled ${lpVolume} and the ECN ${ecnLtVolume}`,
        "this is a bug of the env's matching; report it with the seed"
      );
    }
    stats.ltDecidedQty += decidedVolume;
    stats.ltLpQty += lpVolume;
    stats.ltEcnQty += ecnLtVolume;
    stats.ltNoVenueQty += noVenueVolume;
    this.ecnLtQty[b]! += ecnLtVolume;
    this.noVenueLtQty[b]! += noVenueVolume;

    // Step 5: the ECN agent moves the book; P_{t+1} is its mid.
    ep.ecn.step(ep.ecnRng!);
    const nextMid = book.mid();
    const P1 = Number.isFinite(nextMid) ? nextMid : P;
    const dP = P1 - P;

    // Step 6: inventory PnL, risk penalty, market share and rewards (eqs. 3, 4, 6).
    this.stepLtQty[b] = ltVolume;
    this.totalLtQty[b]! += ltVolume;
    const tNext = this.stepCount + 1;
    for (let i = 0; i < nLp; i++) {
      const a = lpBase + i;
      const dInv = this.lpInventory[a]! * dP;
      this.lpPnlInv[a]! += dInv;
      const dSpread = this.lpPnlSpread[a]! - this.lpStartSpread[a]!;
      const gamma = types.lpGamma[i]!;
      const dPnlGamma = dInv + dSpread - gamma * Math.abs(dInv);
      let share = NaN;
      if (ltVolume > 0) {
        share = (this.lpStepLtBuy[a]! + this.lpStepLtSell[a]!) / ltVolume;
        this.lpShareSum[a]! += share;
        this.lpShareSteps[a]! += 1;
        this.lpMhat[a] = this.lpShareSum[a]! / this.lpShareSteps[a]!;
      }
      this.lpStepShare[a] = share;
      const distance = Math.abs(this.lpMhat[a]! - types.lpMTarget[i]!);
      const omega = types.lpOmega[i]!;
      const reward = omega * types.lpEta[i]! * dPnlGamma - (1 - omega) * (distance - this.lpDistance[a]!);
      this.lpDistance[a] = distance;
      this.lpReward[a] = reward;
      this.lpEpisodeReward[a]! += reward;
    }
    // LTs: inventory PnL for all; per-step rewards for learners (and for everybody when recording).
    // Stationary LTs' episode rewards are recovered by telescoping in `episodeOutcomes`.
    const ltPnlInv = this.ltPnlInv;
    const ltRiskSum = this.ltRiskSum;
    for (let k = 0; k < nLt; k++) {
      const lt = ltBase + k;
      const dInv = ltInventory[lt]! * dP;
      ltPnlInv[lt]! += dInv;
      ltRiskSum[lt]! += Math.abs(dInv);
    }
    const rewardAll = recording;
    const nRewarded = rewardAll ? nLt : this.learningLts.length;
    for (let j = 0; j < nRewarded; j++) {
      const k = rewardAll ? j : this.learningLts[j]!;
      const lt = ltBase + k;
      const dInv = ltInventory[lt]! * dP;
      const dSpread = ltPnlSpread[lt]! - this.ltStartSpread[lt]!;
      const distance = (Math.abs(ltSells[lt]! / tNext - types.ltQA[k]!) + Math.abs(ltBuys[lt]! / tNext - types.ltQB[k]!)) / 2;
      const omega = types.ltOmega[k]!;
      const dPnlGamma = dInv + dSpread - types.ltGamma[k]! * Math.abs(dInv);
      const reward = omega * types.ltEta[k]! * dPnlGamma - (1 - omega) * (distance - this.ltDistance[lt]!);
      this.ltDistance[lt] = distance;
      this.ltReward[lt] = reward;
    }
  }

  /** Appends this step's rows (before the mids advance). */
  private record(): void {
    const rec = this.recorder!;
    const nLp = this.nLp;
    const nLt = this.nLt;
    rec.reserve(this.batchSize * (nLp + nLt));
    const c = rec.columns;
    let r = rec.rows;
    for (let b = 0; b < this.batchSize; b++) {
      const ep = this.episodes[b]!;
      const types = ep.types;
      const P = this.mid[b]!;
      const nextMid = ep.book.mid();
      const P1 = Number.isFinite(nextMid) ? nextMid : P;
      const episode = this.firstEpisodeIndex + b;
      for (let i = 0; i < nLp; i++, r++) {
        const a = b * nLp + i;
        c.episode[r] = episode;
        c.t[r] = this.stepCount;
        c.agent[r] = i;
        c.agentClass[r] = CLASS_LP;
        c.supertype[r] = types.lpSupertype[i]!;
        c.action0[r] = this.lpAction[a * 3]!;
        c.action1[r] = this.lpAction[a * 3 + 1]!;
        c.action2[r] = this.lpAction[a * 3 + 2]!;
        c.mid[r] = P;
        c.quoteAsk[r] = ep.askQuote[i * ep.nSizes]!;
        c.quoteBid[r] = ep.bidQuote[i * ep.nSizes]!;
        c.ltTrades[r] = this.lpStepTrades[a]!;
        c.ltBuyQty[r] = this.lpStepLtBuy[a]!;
        c.ltSellQty[r] = this.lpStepLtSell[a]!;
        c.ecnBuyQty[r] = this.lpStepEcnBuy[a]!;
        c.ecnSellQty[r] = this.lpStepEcnSell[a]!;
        c.counterparty[r] = COUNTERPARTY_NONE;
        c.decisionPrice[r] = NaN;
        c.tradePrice[r] = NaN;
        c.inventory[r] = this.lpInventory[a]!;
        c.cash[r] = this.lpCash[a]!;
        c.pnlInventory[r] = this.lpPnlInv[a]!;
        c.pnlSpread[r] = this.lpPnlSpread[a]!;
        c.reward[r] = this.lpReward[a]!;
        c.marketShare[r] = this.lpStepShare[a]!;
        c.midNext[r] = P1;
      }
      for (let k = 0; k < nLt; k++, r++) {
        const lt = b * nLt + k;
        const action = this.ltStepAction[lt]!;
        const counterparty = this.ltStepCounterparty[lt]!;
        const lpQty = this.ltStepLpQty[lt]!;
        const ecnQty = this.ltStepEcnQty[lt]!;
        c.episode[r] = episode;
        c.t[r] = this.stepCount;
        c.agent[r] = k;
        c.agentClass[r] = CLASS_LT;
        c.supertype[r] = types.ltSupertype[k]!;
        c.action0[r] = action;
        c.action1[r] = NaN;
        c.action2[r] = NaN;
        c.mid[r] = P;
        c.quoteAsk[r] = NaN;
        c.quoteBid[r] = NaN;
        c.ltTrades[r] = lpQty > 0 ? 1 : 0;
        c.ltBuyQty[r] = action === LT_BUY ? lpQty : 0;
        c.ltSellQty[r] = action === LT_SELL ? lpQty : 0;
        c.ecnBuyQty[r] = action === LT_BUY ? ecnQty : 0;
        c.ecnSellQty[r] = action === LT_SELL ? ecnQty : 0;
        c.counterparty[r] = counterparty;
        c.decisionPrice[r] = this.ltStepDecision[lt]!;
        const traded = lpQty + ecnQty;
        c.tradePrice[r] = traded > 0 ? this.ltStepNotional[lt]! / traded : NaN;
        c.inventory[r] = this.ltInventory[lt]!;
        c.cash[r] = this.ltCash[lt]!;
        c.pnlInventory[r] = this.ltPnlInv[lt]!;
        c.pnlSpread[r] = this.ltPnlSpread[lt]!;
        c.reward[r] = this.ltReward[lt]!;
        c.marketShare[r] = NaN;
        c.midNext[r] = P1;
      }
    }
    rec.rows = r;
  }

  /** LP observations (table 1), agent-major rows of `lpObsDim`; the layout is `lpObservationLayout`. */
  private observeLps(out: Float32Array): void {
    const dim = this.lpObsDim;
    const m = this.levels;
    const scales = this.config.observation;
    const fractions = this.config.hedgeCostFractions;
    const nLtS = this.nLtSupertypes;
    const tOverT = this.stepCount / this.horizon;
    for (let b = 0; b < this.batchSize; b++) {
      const ep = this.episodes[b]!;
      const book = ep.book;
      const types = ep.types;
      const P = this.mid[b]!;
      const rowStart = b * this.nLp * dim;
      // The ECN part is common to all LPs of the episode: write it in the first row, copy after.
      const first = rowStart;
      let o = first + 4;
      // Ask side (resting sells) first, then bids, level 1 = best; missing levels are 0.
      for (const side of [SELL, BUY] as const) {
        const got = book.topLevels(side, m, this.levelPrices, this.levelVolumes);
        for (let l = 0; l < m; l++) out[o++] = l < got ? this.levelVolumes[l]! / scales.volumeLots : 0;
      }
      // Hedge costs: the cost curve a hedge of that size is then priced on (resting book plus
      // extrapolated depth, cut to what that holds), exactly as `quoteEpisode` prices the hedge.
      const askLadder = this.askLadder;
      const bidLadder = this.bidLadder;
      this.prepareLadders(ep);
      askLadder.read(book, SELL);
      bidLadder.read(book, BUY);
      const askMax = askLadder.maxPricedQuantity(this.deepDecay);
      const bidMax = bidLadder.maxPricedQuantity(this.deepDecay);
      for (let i = 0; i < this.nLp; i++) {
        const a = b * this.nLp + i;
        const row = rowStart + i * dim;
        const inv = this.lpInventory[a]!;
        out[row] = (P - this.p0Tick) / scales.priceTicks;
        out[row + 1] = inv / scales.inventoryLots;
        out[row + 2] = tOverT;
        out[row + 3] = this.lpMhat[a]!;
        if (i > 0) out.copyWithin(row + 4, first + 4, first + 4 + 2 * m);
        let c = row + 4 + 2 * m;
        for (let f = 0; f < fractions.length; f++) {
          const qty = Math.min(Math.round(fractions[f]! * Math.abs(inv)), inv > 0 ? bidMax : askMax);
          let cost = 0;
          if (qty > 0) {
            cost = inv > 0 ? P - bidLadder.averagePriceExtrapolated(qty, -1, this.deepDecay) : askLadder.averagePriceExtrapolated(qty, 1, this.deepDecay) - P;
            if (!Number.isFinite(cost)) cost = 0;
          }
          out[c++] = cost / scales.costTicks;
        }
        out[c++] = types.lpGamma[i]!;
        out[c++] = Math.log10(types.lpEta[i]!);
        out[c++] = types.lpOmega[i]!;
        out[c++] = types.lpMTarget[i]!;
        for (let j = 0; j < nLtS; j++) out[c++] = types.lpConnectedFraction[i * nLtS + j]!;
      }
    }
  }

  /** Learning-LT observations (table 1), agent-major rows of `ltObsDim`; layout `ltObservationLayout`. */
  private observeLts(out: Float32Array): void {
    const dim = this.ltObsDim;
    const scales = this.config.observation;
    const nLpS = this.nLpSupertypes;
    const nLearn = this.learningLts.length;
    const t = this.stepCount;
    if (!this.quotesReady) {
      throw new OtcEnvError(
        "LTs observe the LP quotes of the current step, which do not exist before the LPs act",
        "apply the LPs' actions first with applyStage(0, actions) (stepInStages in core/rl/vec-env.ts does)"
      );
    }
    for (let b = 0; b < this.batchSize; b++) {
      const ep = this.episodes[b]!;
      const types = ep.types;
      const P = this.mid[b]!;
      for (let j = 0; j < nLearn; j++) {
        const k = this.learningLts[j]!;
        const lt = b * this.nLt + k;
        const q = types.ltSize[k]!;
        // The price it would trade at now: this step's best connected quote or the ECN cost.
        const buyCost = this.bestConnectedPrice(b, k, true) - P;
        const sellCost = P - this.bestConnectedPrice(b, k, false);
        let c = (b * nLearn + j) * dim;
        out[c++] = (P - this.p0Tick) / scales.priceTicks;
        out[c++] = this.ltInventory[lt]! / scales.inventoryLots;
        out[c++] = t / this.horizon;
        out[c++] = t > 0 ? this.ltSells[lt]! / t : 0;
        out[c++] = t > 0 ? this.ltBuys[lt]! / t : 0;
        // No venue quoting a side: cost 0 and the side's flag 0, so no cost is shown that nobody offers.
        out[c++] = Number.isFinite(buyCost) ? buyCost / scales.costTicks : 0;
        out[c++] = Number.isFinite(sellCost) ? sellCost / scales.costTicks : 0;
        out[c++] = Number.isFinite(buyCost) ? 1 : 0;
        out[c++] = Number.isFinite(sellCost) ? 1 : 0;
        out[c++] = types.ltGamma[k]!;
        out[c++] = Math.log10(types.ltEta[k]!);
        out[c++] = types.ltOmega[k]!;
        out[c++] = types.ltQA[k]!;
        out[c++] = types.ltQB[k]!;
        out[c++] = q / scales.sizeLots;
        for (let s = 0; s < nLpS; s++) out[c++] = types.ltConnectedFraction[k * nLpS + s]!;
      }
    }
  }

  /** Names of the LP observation components, in order (for reports and tests). */
  lpObservationLayout(): string[] {
    const m = this.levels;
    return [
      "price",
      "inventory",
      "time",
      "marketShare",
      ...Array.from({ length: m }, (_, l) => `askVolume${l + 1}`),
      ...Array.from({ length: m }, (_, l) => `bidVolume${l + 1}`),
      ...this.config.hedgeCostFractions.map((f) => `hedgeCost${f}`),
      "gamma",
      "log10Eta",
      "omega",
      "mTarget",
      ...this.config.population.lt.map((s) => `connected:${s.name}`)
    ];
  }

  /** Names of the LT observation components, in order. */
  ltObservationLayout(): string[] {
    return [
      "price",
      "inventory",
      "time",
      "sellFraction",
      "buyFraction",
      "buyCost",
      "sellCost",
      "canBuy",
      "canSell",
      "gamma",
      "log10Eta",
      "omega",
      "qA",
      "qB",
      "size",
      ...this.config.population.lp.map((s) => `connected:${s.name}`)
    ];
  }

  /**
   * Sum over the steps so far of each LT's rewards, telescoped: omega eta (PnL - gamma sum|dPnL_inv|)
   * - (1 - omega)(Q_t - Q_0) is exactly the sum of eq. (6)'s rewards, without per-step work.
   */
  private ltEpisodeRewards(): Float64Array {
    const out = new Float64Array(this.batchSize * this.nLt);
    const t = this.stepCount;
    for (let b = 0; b < this.batchSize; b++) {
      const types = this.episodes[b]!.types;
      for (let k = 0; k < this.nLt; k++) {
        const lt = b * this.nLt + k;
        const qa = types.ltQA[k]!;
        const qb = types.ltQB[k]!;
        const q0 = (qa + qb) / 2;
        const qt = t === 0 ? q0 : (Math.abs(this.ltSells[lt]! / t - qa) + Math.abs(this.ltBuys[lt]! / t - qb)) / 2;
        const pnlGamma = this.ltPnlInv[lt]! + this.ltPnlSpread[lt]! - types.ltGamma[k]! * this.ltRiskSum[lt]!;
        const omega = types.ltOmega[k]!;
        out[lt] = omega * types.ltEta[k]! * pnlGamma - (1 - omega) * (qt - q0);
      }
    }
    return out;
  }

  /** Episode results for calibration (copies; valid any time, complete after T steps). */
  episodeOutcomes(): OtcEpisodeOutcomes {
    const lpPnl = new Float64Array(this.lpPnlInv.length);
    for (let a = 0; a < lpPnl.length; a++) lpPnl[a] = this.lpPnlInv[a]! + this.lpPnlSpread[a]!;
    const ltPnl = new Float64Array(this.ltPnlInv.length);
    for (let a = 0; a < ltPnl.length; a++) ltPnl[a] = this.ltPnlInv[a]! + this.ltPnlSpread[a]!;
    return {
      episodes: this.batchSize,
      firstEpisodeIndex: this.firstEpisodeIndex,
      nLp: this.nLp,
      nLt: this.nLt,
      nLpSupertypes: this.nLpSupertypes,
      lpSupertypeLtQuantity: this.supertypeLtQty.slice(),
      totalLtQuantity: this.totalLtQty.slice(),
      ecnLtQuantity: this.ecnLtQty.slice(),
      ecnRestingLtQuantity: this.ecnRestingLtQty.slice(),
      noVenueLtQuantity: this.noVenueLtQty.slice(),
      lpSupertypeTradeSizes: this.episodes.map((ep) =>
        this.config.population.lp.map((_, lpS) => {
          let n = 0;
          for (let s = 0; s < ep.nSizes; s++) n += ep.tradeCounts[lpS * this.nLt + s]!;
          const out = new Float64Array(n);
          let o = 0;
          for (let s = 0; s < ep.nSizes; s++) out.fill(ep.sizes[s]!, o, (o += ep.tradeCounts[lpS * this.nLt + s]!));
          return out;
        })
      ),
      lpEpisodeReward: this.lpEpisodeReward.slice(),
      ltEpisodeReward: this.ltEpisodeRewards(),
      lpPnl,
      ltPnl,
      lpSupertype: this.episodes[0]!.types.lpSupertype.slice(),
      ltSupertype: this.episodes[0]!.types.ltSupertype.slice()
    };
  }
}
