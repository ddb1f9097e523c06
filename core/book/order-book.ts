/**
 * The ECN matching engine of paper section 2.3.1: a limit order book on a fixed integer
 * tick grid with market, limit and cancel orders on both sides, price-time (FIFO) priority, every
 * order carrying an id and an originator, and every fill reported with both sides' originators.
 * It also answers the cost-curve questions of paper section 2.3.1 (average fill price of a hypothetical market
 * order, with the exponential depth extrapolation of section 2.3 beyond the resting book) without
 * touching the book.
 *
 * Layout, chosen for speed (millions of events per second): per side, per tick, a volume, an order
 * count and the head/tail of a doubly linked FIFO queue, all in typed arrays indexed by
 * `priceTick - minPriceTick`; orders live in a pooled structure-of-arrays (quantity, originator,
 * price, side, links) with a free list, so no object is allocated per order; a bitset of non-empty
 * levels per side makes finding the next best price a few word scans. An order id encodes its pool
 * slot and the slot's generation, so stale ids are detected in O(1) without an id map.
 *
 * Quantities are any positive finite numbers (lots may be fractional). A level's volume is the
 * running sum of its orders' quantities and is reset to exactly 0 when its last order leaves, so
 * floating-point dust never creates phantom levels. Prices are integer ticks.
 */

export type Side = 1 | -1;
/** Buy orders rest on the bid side; LOBSTER's direction 1. */
export const BUY: Side = 1;
/** Sell orders rest on the ask side; LOBSTER's direction -1. */
export const SELL: Side = -1;

export interface BookConfig {
  /** Lowest price on the grid, in ticks (integer, may be negative). */
  minPriceTick: number;
  /** Highest price on the grid, in ticks (integer, >= minPriceTick). */
  maxPriceTick: number;
}

/** One execution between an aggressive order and a resting order. */
export interface Fill {
  /** Execution price in ticks (the resting order's price). */
  readonly price: number;
  readonly quantity: number;
  /** Side of the aggressive order: BUY means the resting order was an ask. */
  readonly aggressorSide: Side;
  readonly aggressorOriginator: number;
  /** Id of the aggressive limit order, or -1 for a market order. */
  readonly aggressorOrderId: number;
  readonly restingOriginator: number;
  readonly restingOrderId: number;
}

export interface MarketExecution {
  /** Quantity executed. */
  filled: number;
  /** Sum of price * quantity over the fills, in ticks x quantity. */
  notionalTicks: number;
  /** Quantity left when the opposite side ran out (market orders never rest). */
  unfilled: number;
}

/** Depth beyond the resting book: level k > m holds V_m exp(-alpha (k - m)). */
export interface DeepDecay {
  alpha: number;
  /** m: the level whose volume V_m anchors the extrapolation (5 by default in the paper). */
  levels: number;
}

export type InvalidOrderReason =
  | "side"
  | "quantity"
  | "price"
  | "originator"
  | "unknown-order";

/** An order the book refuses; the book is unchanged when this is thrown. */
export class InvalidOrderError extends Error {
  readonly _tag = "InvalidOrderError" as const;
  constructor(
    readonly reason: InvalidOrderReason,
    message: string
  ) {
    super(message);
    this.name = "InvalidOrderError";
  }
}

/** A book configuration that cannot describe a tick grid. */
export class InvalidBookConfigError extends Error {
  readonly _tag = "InvalidBookConfigError" as const;
  constructor(message: string) {
    super(message);
    this.name = "InvalidBookConfigError";
  }
}

const SIDES: readonly Side[] = [BUY, SELL];

/** Originator used for volume whose owner is unknown (e.g. LOBSTER volume resting before the file). */
export const ANONYMOUS_ORIGINATOR = -1;

/** Order ids are generation * SLOT_SPAN + slot: at most 2^24 orders resting at once. */
const SLOT_BITS = 24;
const SLOT_SPAN = 1 << SLOT_BITS;
const SLOT_MASK = SLOT_SPAN - 1;
const MAX_GENERATION = 2 ** 29 - 1;
const NONE = -1;
/** A remainder below this fraction of an order's quantity is floating-point dust, not volume. */
const DUST_FRACTION = 1e-12;

/** Lowest set bit index >= from, or -1. */
const nextSetBitUp = (bits: Uint32Array, from: number): number => {
  let w = from >>> 5;
  if (w >= bits.length) return -1;
  let word = bits[w]! & (0xffffffff << (from & 31));
  for (;;) {
    if (word !== 0) return (w << 5) + (31 - Math.clz32(word & -word));
    w++;
    if (w >= bits.length) return -1;
    word = bits[w]!;
  }
};

/** Highest set bit index <= from, or -1. */
const nextSetBitDown = (bits: Uint32Array, from: number): number => {
  if (from < 0) return -1;
  let w = from >>> 5;
  const shift = from & 31;
  let word = bits[w]! & (shift === 31 ? -1 : (1 << (shift + 1)) - 1);
  for (;;) {
    if (word !== 0) return (w << 5) + 31 - Math.clz32(word);
    w--;
    if (w < 0) return -1;
    word = bits[w]!;
  }
};

export class OrderBook {
  readonly minPriceTick: number;
  readonly maxPriceTick: number;
  /** Number of prices on the grid. */
  readonly gridSize: number;

  /** Called once per fill, in execution order, when set. The object is fresh per fill. */
  onFill: ((fill: Fill) => void) | undefined = undefined;

  // Per level, index = sideOffset + (price - minPriceTick); bids at offset 0, asks at gridSize.
  private readonly levelVolume: Float64Array;
  private readonly levelCount: Int32Array;
  private readonly levelHead: Int32Array;
  private readonly levelTail: Int32Array;
  private readonly bidBits: Uint32Array;
  private readonly askBits: Uint32Array;
  /** Grid index of the best bid / best ask, -1 when the side is empty. */
  private bestBidIndex = NONE;
  private bestAskIndex = NONE;
  /** Grid index of the deepest bid (lowest) / deepest ask (highest), -1 when the side is empty. */
  private worstBidIndex = NONE;
  private worstAskIndex = NONE;
  private bidLevels = 0;
  private askLevels = 0;

  // Order pool (structure of arrays).
  private capacity = 0;
  private orderQuantityOf = new Float64Array(0);
  private orderOriginatorOf = new Int32Array(0);
  private orderPriceIndexOf = new Int32Array(0);
  private orderSideOf = new Int8Array(0);
  private orderPrev = new Int32Array(0);
  private orderNext = new Int32Array(0);
  private orderGeneration = new Uint32Array(0);
  private freeSlots = new Int32Array(0);
  private freeCount = 0;
  private usedSlots = 0;
  private resting = 0;

  // Scratch for the market-execution accumulator.
  private notionalAccumulator = 0;

  constructor(config: BookConfig) {
    const { minPriceTick, maxPriceTick } = config;
    if (!Number.isSafeInteger(minPriceTick) || !Number.isSafeInteger(maxPriceTick) || maxPriceTick < minPriceTick) {
      throw new InvalidBookConfigError(
        `The tick grid needs integer bounds with minPriceTick <= maxPriceTick, got ${minPriceTick}..${maxPriceTick}; pass integer ticks.`
      );
    }
    const size = maxPriceTick - minPriceTick + 1;
    if (size > 1 << 26) {
      throw new InvalidBookConfigError(
        `The tick grid has ${size} prices, more than 2^26; narrow minPriceTick..maxPriceTick or use a coarser tick.`
      );
    }
    this.minPriceTick = minPriceTick;
    this.maxPriceTick = maxPriceTick;
    this.gridSize = size;
    this.levelVolume = new Float64Array(2 * size);
    this.levelCount = new Int32Array(2 * size);
    this.levelHead = new Int32Array(2 * size).fill(NONE);
    this.levelTail = new Int32Array(2 * size).fill(NONE);
    const words = (size + 31) >>> 5;
    this.bidBits = new Uint32Array(words);
    this.askBits = new Uint32Array(words);
    this.growPool(1024);
  }

  // ---------------------------------------------------------------- orders

  /**
   * A limit order. The marketable part executes at once against the opposite side (at the resting
   * prices, best first, FIFO within a price); the rest rests at `priceTick` behind the orders
   * already there. Returns the order id (also when nothing rests: `orderQuantity(id)` is then 0).
   */
  submitLimit(side: Side, priceTick: number, quantity: number, originator: number): number {
    this.checkSide(side);
    this.checkPrice(priceTick);
    this.checkQuantity(quantity);
    this.checkOriginator(originator);
    const priceIndex = priceTick - this.minPriceTick;
    const slot = this.allocateSlot();
    const id = this.orderGeneration[slot]! * SLOT_SPAN + slot;
    this.notionalAccumulator = 0;
    const remaining = this.match(side, priceIndex, quantity, originator, id);
    if (remaining > 0) {
      this.orderQuantityOf[slot] = remaining;
      this.orderOriginatorOf[slot] = originator;
      this.orderPriceIndexOf[slot] = priceIndex;
      this.orderSideOf[slot] = side;
      this.appendToLevel(slot, side, priceIndex, remaining);
    } else {
      this.releaseSlot(slot);
    }
    return id;
  }

  /** A market order: walks the opposite side from the best price until filled or the side is empty. */
  submitMarket(side: Side, quantity: number, originator: number): MarketExecution {
    this.checkSide(side);
    this.checkQuantity(quantity);
    this.checkOriginator(originator);
    this.notionalAccumulator = 0;
    const unfilled = this.match(side, side === BUY ? this.gridSize - 1 : 0, quantity, originator, NONE);
    return { filled: quantity - unfilled, notionalTicks: this.notionalAccumulator, unfilled };
  }

  /**
   * Cancels `quantity` of a resting order (all of it when omitted or larger than what remains);
   * the order keeps its queue position on a partial cancel. Returns the quantity cancelled.
   */
  cancel(orderId: number, quantity?: number): number {
    const slot = this.slotOf(orderId);
    if (slot === NONE) {
      throw new InvalidOrderError(
        "unknown-order",
        `Order ${orderId} is not resting (never existed, filled or cancelled); cancel only ids returned by submitLimit that still rest.`
      );
    }
    if (quantity !== undefined) this.checkQuantity(quantity);
    const current = this.orderQuantityOf[slot]!;
    if (quantity === undefined || current - quantity <= current * DUST_FRACTION) {
      this.removeOrder(slot);
      return current;
    }
    this.orderQuantityOf[slot] = current - quantity;
    const level = this.levelIndex(this.orderSideOf[slot] as Side, this.orderPriceIndexOf[slot]!);
    this.levelVolume[level] = this.levelVolume[level]! - quantity;
    return quantity;
  }

  /**
   * One cancel order against an originator's own volume at a price: cancels up to `quantity` of
   * that originator's orders there, newest first (its older orders keep their priority), partially
   * on the last one touched. Returns the quantity cancelled (0 when it has nothing there).
   */
  cancelNewestOf(side: Side, priceTick: number, originator: number, quantity: number): number {
    this.checkSide(side);
    this.checkPrice(priceTick);
    this.checkQuantity(quantity);
    const priceIndex = priceTick - this.minPriceTick;
    const level = this.levelIndex(side, priceIndex);
    let left = quantity;
    let slot = this.levelTail[level]!;
    while (slot !== NONE && left > 0) {
      const older = this.orderPrev[slot]!;
      if (this.orderOriginatorOf[slot] === originator) {
        const current = this.orderQuantityOf[slot]!;
        if (current - left <= current * DUST_FRACTION) {
          this.removeOrder(slot);
          left -= current;
        } else {
          this.orderQuantityOf[slot] = current - left;
          this.levelVolume[level] = this.levelVolume[level]! - left;
          left = 0;
        }
      }
      slot = older;
    }
    return left > 0 ? quantity - left : quantity;
  }

  /** Removes every order and forgets every id (ids issued before stay invalid). */
  clear(): void {
    // Only non-empty levels hold state (an emptied level is reset as it empties), so clearing
    // walks the resting levels and their queues instead of sweeping the whole grid.
    for (const side of SIDES) {
      const offset = side === BUY ? 0 : this.gridSize;
      const bits = side === BUY ? this.bidBits : this.askBits;
      let index = side === BUY ? this.bestBidIndex : this.bestAskIndex;
      while (index !== NONE) {
        const next = this.worseLevel(side, index);
        const level = offset + index;
        for (let slot = this.levelHead[level]!; slot !== NONE; slot = this.orderNext[slot]!) {
          this.orderQuantityOf[slot] = 0;
          this.bumpGeneration(slot);
        }
        this.levelHead[level] = NONE;
        this.levelTail[level] = NONE;
        this.levelCount[level] = 0;
        this.levelVolume[level] = 0;
        bits[index >>> 5] = bits[index >>> 5]! & ~(1 << (index & 31));
        index = next;
      }
    }
    this.freeCount = 0;
    for (let slot = this.usedSlots - 1; slot >= 0; slot--) this.freeSlots[this.freeCount++] = slot;
    this.bestBidIndex = NONE;
    this.bestAskIndex = NONE;
    this.worstBidIndex = NONE;
    this.worstAskIndex = NONE;
    this.bidLevels = 0;
    this.askLevels = 0;
    this.resting = 0;
  }

  // ---------------------------------------------------------------- queries

  /** Best bid in ticks, NaN when there is no bid. */
  bestBid(): number {
    return this.bestBidIndex === NONE ? NaN : this.bestBidIndex + this.minPriceTick;
  }

  /** Best ask in ticks, NaN when there is no ask. */
  bestAsk(): number {
    return this.bestAskIndex === NONE ? NaN : this.bestAskIndex + this.minPriceTick;
  }

  /** (best bid + best ask) / 2 in ticks, NaN when a side is empty. */
  mid(): number {
    if (this.bestBidIndex === NONE || this.bestAskIndex === NONE) return NaN;
    return (this.bestBidIndex + this.bestAskIndex) / 2 + this.minPriceTick;
  }

  /** Resting volume at a price on one side; 0 off the grid. */
  volumeAt(side: Side, priceTick: number): number {
    const index = priceTick - this.minPriceTick;
    if (!(index >= 0 && index < this.gridSize) || !Number.isInteger(index)) return 0;
    return this.levelVolume[this.levelIndex(side, index)]!;
  }

  /** Number of orders resting at a price on one side; 0 off the grid. */
  ordersAt(side: Side, priceTick: number): number {
    const index = priceTick - this.minPriceTick;
    if (!(index >= 0 && index < this.gridSize) || !Number.isInteger(index)) return 0;
    return this.levelCount[this.levelIndex(side, index)]!;
  }

  /**
   * Writes the best `n` non-empty levels of a side (best first) into the output arrays and returns
   * how many were written (fewer when the side is shorter or the arrays are).
   */
  topLevels(side: Side, n: number, outPrices: Float64Array, outVolumes: Float64Array): number {
    const limit = Math.min(n, outPrices.length, outVolumes.length);
    let written = 0;
    let index = side === BUY ? this.bestBidIndex : this.bestAskIndex;
    const offset = side === BUY ? 0 : this.gridSize;
    while (index !== NONE && written < limit) {
      outPrices[written] = index + this.minPriceTick;
      outVolumes[written] = this.levelVolume[offset + index]!;
      written++;
      index = this.worseLevel(side, index);
    }
    return written;
  }

  /** The next non-empty price strictly worse than `priceTick` on a side (lower for bids), NaN if none. */
  nextLevelBeyond(side: Side, priceTick: number): number {
    let index = priceTick - this.minPriceTick;
    if (side === BUY) {
      index = Math.min(Math.ceil(index) - 1, this.gridSize - 1);
      const found = this.worstBidIndex === NONE || index < this.worstBidIndex ? -1 : nextSetBitDown(this.bidBits, index);
      return found < 0 ? NaN : found + this.minPriceTick;
    }
    index = Math.max(Math.floor(index) + 1, 0);
    const found = this.worstAskIndex === NONE || index > this.worstAskIndex ? -1 : nextSetBitUp(this.askBits, index);
    return found < 0 ? NaN : found + this.minPriceTick;
  }

  /** Number of non-empty levels on a side. */
  levelCountOf(side: Side): number {
    return side === BUY ? this.bidLevels : this.askLevels;
  }

  /** Total resting volume on a side. */
  totalVolume(side: Side): number {
    let total = 0;
    let index = side === BUY ? this.bestBidIndex : this.bestAskIndex;
    const offset = side === BUY ? 0 : this.gridSize;
    while (index !== NONE) {
      total += this.levelVolume[offset + index]!;
      index = this.worseLevel(side, index);
    }
    return total;
  }

  /** Number of resting orders. */
  restingOrders(): number {
    return this.resting;
  }

  /** Remaining quantity of an order, 0 when it does not rest (filled, cancelled, unknown). */
  orderQuantity(orderId: number): number {
    const slot = this.slotOf(orderId);
    return slot === NONE ? 0 : this.orderQuantityOf[slot]!;
  }

  /** Originator of a resting order; throws InvalidOrderError when the id does not rest. */
  orderOriginator(orderId: number): number {
    return this.orderOriginatorOf[this.restingSlot(orderId)]!;
  }

  /** Price in ticks of a resting order; throws InvalidOrderError when the id does not rest. */
  orderPrice(orderId: number): number {
    return this.orderPriceIndexOf[this.restingSlot(orderId)]! + this.minPriceTick;
  }

  /** Side of a resting order; throws InvalidOrderError when the id does not rest. */
  orderSide(orderId: number): Side {
    return this.orderSideOf[this.restingSlot(orderId)] as Side;
  }

  /** Id of the first order in the FIFO queue at a price (highest priority), -1 when empty. */
  oldestOrderAt(side: Side, priceTick: number): number {
    const index = priceTick - this.minPriceTick;
    if (!(index >= 0 && index < this.gridSize) || !Number.isInteger(index)) return NONE;
    return this.idOf(this.levelHead[this.levelIndex(side, index)]!);
  }

  /** Id of the last order in the FIFO queue at a price (lowest priority), -1 when empty. */
  newestOrderAt(side: Side, priceTick: number): number {
    const index = priceTick - this.minPriceTick;
    if (!(index >= 0 && index < this.gridSize) || !Number.isInteger(index)) return NONE;
    return this.idOf(this.levelTail[this.levelIndex(side, index)]!);
  }

  /** The order queued right behind a resting order at its price, -1 when it is the last. */
  newerOrder(orderId: number): number {
    return this.idOf(this.orderNext[this.restingSlot(orderId)]!);
  }

  /** The order queued right ahead of a resting order at its price, -1 when it is the first. */
  olderOrder(orderId: number): number {
    return this.idOf(this.orderPrev[this.restingSlot(orderId)]!);
  }

  /**
   * Average fill price in ticks of a market order of `side` and `quantity` sent now, without
   * changing the book (the cost curve of section 2.3.1). With `deepDecay`, liquidity continues beyond
   * the deepest resting price at every tick (levels assumed one tick apart): the price
   * `d` ticks beyond the m-th non-empty level (or the last one when the side has fewer) holds
   * V_m exp(-alpha d), until the grid ends. NaN when the quantity cannot be filled.
   */
  averageFillPrice(side: Side, quantity: number, deepDecay?: DeepDecay): number {
    if (!(quantity > 0) || !Number.isFinite(quantity)) return NaN;
    const opposite: Side = side === BUY ? SELL : BUY;
    const offset = opposite === BUY ? 0 : this.gridSize;
    let index = opposite === BUY ? this.bestBidIndex : this.bestAskIndex;
    if (index === NONE) return NaN;
    let remaining = quantity;
    let notional = 0;
    let rank = 0;
    let anchorIndex = index;
    let lastIndex = index;
    const anchorRank = deepDecay === undefined ? 1 : Math.max(1, Math.floor(deepDecay.levels));
    const dust = quantity * DUST_FRACTION;
    while (index !== NONE && remaining > dust) {
      rank++;
      if (rank <= anchorRank) anchorIndex = index;
      lastIndex = index;
      const volume = this.levelVolume[offset + index]!;
      const take = volume < remaining ? volume : remaining;
      notional += (index + this.minPriceTick) * take;
      remaining -= take;
      index = this.worseLevel(opposite, index);
    }
    if (remaining > dust && deepDecay !== undefined && deepDecay.alpha > 0) {
      const anchorVolume = this.levelVolume[offset + anchorIndex]!;
      const step = opposite === BUY ? -1 : 1;
      for (let p = lastIndex + step; p >= 0 && p < this.gridSize && remaining > dust; p += step) {
        const volume = anchorVolume * Math.exp(-deepDecay.alpha * Math.abs(p - anchorIndex));
        if (volume <= 0) break;
        const take = volume < remaining ? volume : remaining;
        notional += (p + this.minPriceTick) * take;
        remaining -= take;
      }
    }
    if (remaining > dust) return NaN;
    return notional / (quantity - (remaining > 0 ? remaining : 0));
  }

  // ---------------------------------------------------------------- internals

  /** The next non-empty level worse than `index` on a side, -1 past the deepest. */
  private worseLevel(side: Side, index: number): number {
    if (side === BUY) return index <= this.worstBidIndex ? NONE : nextSetBitDown(this.bidBits, index - 1);
    return index >= this.worstAskIndex ? NONE : nextSetBitUp(this.askBits, index + 1);
  }

  private levelIndex(side: Side, priceIndex: number): number {
    return side === BUY ? priceIndex : this.gridSize + priceIndex;
  }

  private idOf(slot: number): number {
    return slot === NONE ? NONE : this.orderGeneration[slot]! * SLOT_SPAN + slot;
  }

  /** Pool slot of a resting order id, or -1. */
  private slotOf(orderId: number): number {
    if (!Number.isSafeInteger(orderId) || orderId < 0) return NONE;
    const slot = orderId & SLOT_MASK;
    if (slot >= this.usedSlots) return NONE;
    const generation = Math.floor(orderId / SLOT_SPAN);
    if (this.orderGeneration[slot] !== generation || !(this.orderQuantityOf[slot]! > 0)) return NONE;
    return slot;
  }

  private restingSlot(orderId: number): number {
    const slot = this.slotOf(orderId);
    if (slot === NONE) {
      throw new InvalidOrderError("unknown-order", `Order ${orderId} is not resting; ask only about ids that still rest (orderQuantity(id) > 0).`);
    }
    return slot;
  }

  private checkSide(side: number): void {
    if (side !== 1 && side !== -1) {
      throw new InvalidOrderError("side", `Side must be BUY (1) or SELL (-1), got ${side}.`);
    }
  }

  private checkPrice(priceTick: number): void {
    if (!Number.isInteger(priceTick) || priceTick < this.minPriceTick || priceTick > this.maxPriceTick) {
      throw new InvalidOrderError(
        "price",
        `Price ${priceTick} is not an integer tick in ${this.minPriceTick}..${this.maxPriceTick}; round to the grid or widen the book's bounds.`
      );
    }
  }

  private checkQuantity(quantity: number): void {
    if (!(quantity > 0) || !Number.isFinite(quantity)) {
      throw new InvalidOrderError("quantity", `Quantity must be a positive finite number, got ${quantity}.`);
    }
  }

  private checkOriginator(originator: number): void {
    if (!Number.isInteger(originator) || originator < -2147483648 || originator > 2147483647) {
      throw new InvalidOrderError("originator", `Originator must be a 32-bit integer, got ${originator}.`);
    }
  }

  private growPool(newCapacity: number): void {
    if (newCapacity > SLOT_SPAN) {
      throw new RangeError(`More than ${SLOT_SPAN} resting orders; the book's order pool is full.`);
    }
    const grow = <T extends Float64Array | Int32Array | Int8Array | Uint32Array>(old: T, make: (n: number) => T): T => {
      const next = make(newCapacity);
      next.set(old);
      return next;
    };
    this.orderQuantityOf = grow(this.orderQuantityOf, (n) => new Float64Array(n));
    this.orderOriginatorOf = grow(this.orderOriginatorOf, (n) => new Int32Array(n));
    this.orderPriceIndexOf = grow(this.orderPriceIndexOf, (n) => new Int32Array(n));
    this.orderSideOf = grow(this.orderSideOf, (n) => new Int8Array(n));
    this.orderPrev = grow(this.orderPrev, (n) => new Int32Array(n));
    this.orderNext = grow(this.orderNext, (n) => new Int32Array(n));
    this.orderGeneration = grow(this.orderGeneration, (n) => new Uint32Array(n));
    this.freeSlots = grow(this.freeSlots, (n) => new Int32Array(n));
    this.capacity = newCapacity;
  }

  private allocateSlot(): number {
    if (this.freeCount > 0) return this.freeSlots[--this.freeCount]!;
    if (this.usedSlots === this.capacity) this.growPool(Math.min(this.capacity * 2, SLOT_SPAN));
    return this.usedSlots++;
  }

  private bumpGeneration(slot: number): void {
    const next = this.orderGeneration[slot]! + 1;
    this.orderGeneration[slot] = next > MAX_GENERATION ? 0 : next;
  }

  /** Returns a slot to the free list; its old id becomes invalid. */
  private releaseSlot(slot: number): void {
    this.orderQuantityOf[slot] = 0;
    this.bumpGeneration(slot);
    this.freeSlots[this.freeCount++] = slot;
  }

  private appendToLevel(slot: number, side: Side, priceIndex: number, quantity: number): void {
    const level = this.levelIndex(side, priceIndex);
    const tail = this.levelTail[level]!;
    this.orderPrev[slot] = tail;
    this.orderNext[slot] = NONE;
    if (tail === NONE) {
      this.levelHead[level] = slot;
      const bits = side === BUY ? this.bidBits : this.askBits;
      bits[priceIndex >>> 5] = bits[priceIndex >>> 5]! | (1 << (priceIndex & 31));
      if (side === BUY) {
        this.bidLevels++;
        if (priceIndex > this.bestBidIndex) this.bestBidIndex = priceIndex;
        if (this.worstBidIndex === NONE || priceIndex < this.worstBidIndex) this.worstBidIndex = priceIndex;
      } else {
        this.askLevels++;
        if (this.bestAskIndex === NONE || priceIndex < this.bestAskIndex) this.bestAskIndex = priceIndex;
        if (priceIndex > this.worstAskIndex) this.worstAskIndex = priceIndex;
      }
    } else {
      this.orderNext[tail] = slot;
    }
    this.levelTail[level] = slot;
    this.levelCount[level] = this.levelCount[level]! + 1;
    this.levelVolume[level] = this.levelVolume[level]! + quantity;
    this.resting++;
  }

  /** Unlinks a resting order, keeps level volume, count, bitset and best prices right, frees the slot. */
  private removeOrder(slot: number): void {
    const side = this.orderSideOf[slot] as Side;
    const priceIndex = this.orderPriceIndexOf[slot]!;
    const level = this.levelIndex(side, priceIndex);
    const prev = this.orderPrev[slot]!;
    const next = this.orderNext[slot]!;
    if (prev === NONE) this.levelHead[level] = next;
    else this.orderNext[prev] = next;
    if (next === NONE) this.levelTail[level] = prev;
    else this.orderPrev[next] = prev;
    const count = this.levelCount[level]! - 1;
    this.levelCount[level] = count;
    if (count === 0) {
      this.levelVolume[level] = 0;
      this.emptyLevel(side, priceIndex);
    } else {
      this.levelVolume[level] = this.levelVolume[level]! - this.orderQuantityOf[slot]!;
    }
    this.resting--;
    this.releaseSlot(slot);
  }

  private emptyLevel(side: Side, priceIndex: number): void {
    // Scans are bounded by the other end of the side, so an emptied side costs no grid sweep.
    if (side === BUY) {
      this.bidLevels--;
      this.bidBits[priceIndex >>> 5] = this.bidBits[priceIndex >>> 5]! & ~(1 << (priceIndex & 31));
      if (priceIndex === this.bestBidIndex && priceIndex === this.worstBidIndex) {
        this.bestBidIndex = NONE;
        this.worstBidIndex = NONE;
      } else if (priceIndex === this.bestBidIndex) {
        this.bestBidIndex = nextSetBitDown(this.bidBits, priceIndex - 1);
      } else if (priceIndex === this.worstBidIndex) {
        this.worstBidIndex = nextSetBitUp(this.bidBits, priceIndex + 1);
      }
    } else {
      this.askLevels--;
      this.askBits[priceIndex >>> 5] = this.askBits[priceIndex >>> 5]! & ~(1 << (priceIndex & 31));
      if (priceIndex === this.bestAskIndex && priceIndex === this.worstAskIndex) {
        this.bestAskIndex = NONE;
        this.worstAskIndex = NONE;
      } else if (priceIndex === this.bestAskIndex) {
        this.bestAskIndex = nextSetBitUp(this.askBits, priceIndex + 1);
      } else if (priceIndex === this.worstAskIndex) {
        this.worstAskIndex = nextSetBitDown(this.askBits, priceIndex - 1);
      }
    }
  }

  /**
   * Executes an aggressive order of `side` against the opposite side at prices up to (buy) or down
   * to (sell) `limitIndex`; returns the quantity left and adds price*quantity to the accumulator.
   */
  private match(side: Side, limitIndex: number, quantity: number, originator: number, aggressorId: number): number {
    let remaining = quantity;
    const dust = quantity * DUST_FRACTION;
    const opposite: Side = side === BUY ? SELL : BUY;
    for (;;) {
      const best = side === BUY ? this.bestAskIndex : this.bestBidIndex;
      if (best === NONE) break;
      if (side === BUY ? best > limitIndex : best < limitIndex) break;
      const level = this.levelIndex(opposite, best);
      const price = best + this.minPriceTick;
      let slot = this.levelHead[level]!;
      while (slot !== NONE && remaining > dust) {
        const available = this.orderQuantityOf[slot]!;
        // An order left with floating-point dust would be a phantom level: take it whole.
        const take = available - remaining <= available * DUST_FRACTION ? available : remaining;
        remaining -= take;
        this.notionalAccumulator += price * take;
        const restingId = this.orderGeneration[slot]! * SLOT_SPAN + slot;
        const restingOriginator = this.orderOriginatorOf[slot]!;
        const next = this.orderNext[slot]!;
        if (take === available) {
          this.removeOrder(slot);
        } else {
          this.orderQuantityOf[slot] = available - take;
          this.levelVolume[level] = this.levelVolume[level]! - take;
        }
        if (this.onFill !== undefined) {
          this.onFill({
            price,
            quantity: take,
            aggressorSide: side,
            aggressorOriginator: originator,
            aggressorOrderId: aggressorId,
            restingOriginator,
            restingOrderId: restingId
          });
        }
        slot = next;
      }
      if (remaining <= dust) return 0;
    }
    return remaining;
  }
}

// -------------------------------------------------------------------- cost helpers

/** x^a(q): average fill price of buying q minus the mid, in ticks; NaN when not fillable or no mid. */
export const buyCost = (book: OrderBook, quantity: number, deepDecay?: DeepDecay): number =>
  book.averageFillPrice(BUY, quantity, deepDecay) - book.mid();

/** x^b(q): the mid minus the average fill price of selling q, in ticks; NaN when not fillable or no mid. */
export const sellCost = (book: OrderBook, quantity: number, deepDecay?: DeepDecay): number =>
  book.mid() - book.averageFillPrice(SELL, quantity, deepDecay);

/** x(q) = (x^a(q) + x^b(q)) / 2, the quantity-normalised half round-trip cost, in ticks. */
export const tradingCost = (book: OrderBook, quantity: number, deepDecay?: DeepDecay): number =>
  (buyCost(book, quantity, deepDecay) + sellCost(book, quantity, deepDecay)) / 2;

/** Market spread x = best ask - best bid, in ticks; NaN when a side is empty. */
export const marketSpread = (book: OrderBook): number => book.bestAsk() - book.bestBid();
