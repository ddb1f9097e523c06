/**
 * Replays a LOBSTER level-N sample through the order book engine and checks it against every
 * recorded orderbook row: the engine's validation on real NASDAQ data (the paper
 * fits its ECN model on level-2 data of this kind, section 2.3). Parsing is core/ecn/lobster.ts.
 *
 * Semantics (see ../shared/data/README.md):
 * - Start from the first orderbook row (the book after message 1); its volume is anonymous: it
 *   has no order id (orders resting before the file, or message 1 itself).
 * - Apply every later message: 1 new limit order, 2 partial cancel, 3 delete, 4 visible execution
 *   of a given order id; 5 hidden executions, 6 cross trades and 7 halts leave the visible book.
 * - A level-N file records only messages that touch its N visible levels. A price beyond the
 *   N-th level of the last row is unknown: the replay drops it from the book, and when it enters
 *   the window again its volume is re-adopted from the snapshot as anonymous volume.
 * - A cancel or execution of an id the book does not hold (placed before the file or while its
 *   level was unknown) consumes anonymous volume at its price.
 * - After each message the top levels are compared with the row. A mismatch on a known level is
 *   counted and the level is then set to the row's volume, so one error is counted once.
 * - A visible execution of an order that is not the first known (non-anonymous) order in its
 *   price's FIFO queue is counted as an out-of-queue execution (hidden/iceberg orders, or
 *   priority that NASDAQ's book does not follow).
 */
import {
  LOBSTER_EMPTY_ASK_PRICE,
  LOBSTER_EMPTY_BID_PRICE,
  type LobsterData
} from "../ecn/lobster.ts";
import { ANONYMOUS_ORIGINATOR as ANONYMOUS_IMPORT, OrderBook, type Side } from "./order-book.ts";

// Module-local copies: bundlers (tsx/esbuild) turn imported bindings into getter calls, which
// cost a few percent of the replay's hot loop.
const BUY: Side = 1;
const SELL: Side = -1;
const ANONYMOUS_ORIGINATOR = ANONYMOUS_IMPORT;
const EMPTY_ASK_PRICE = LOBSTER_EMPTY_ASK_PRICE;
const EMPTY_BID_PRICE = LOBSTER_EMPTY_BID_PRICE;

/** Originator of orders whose LOBSTER id is known. */
const KNOWN_ORIGINATOR = 0;

export interface ReplayOptions {
  /** Levels compared per side (default and maximum: the file's level count). */
  levels?: number;
  /** LOBSTER price units (dollars x 10000) per tick; 100 = one cent (default). */
  priceUnitsPerTick?: number;
  /** Stop after this many messages (default: all). */
  maxEvents?: number;
  /** How many mismatches to describe in the report (default 10). */
  describeMismatches?: number;
}

export interface ReplayMismatch {
  /** 0-based row of the orderbook file (= message index). */
  row: number;
  side: "ask" | "bid";
  /** Price in ticks. */
  priceTick: number;
  replayed: number;
  recorded: number;
}

export interface ReplayReport {
  /** Messages applied after the first row. */
  events: number;
  /** Rows compared. */
  rowsCompared: number;
  /** Known levels whose replayed volume differed from the row (including replayed levels the row lacks). */
  mismatches: number;
  /** Levels that re-entered the window and were taken from the snapshot. */
  readoptedLevels: number;
  /** Levels that left the window and were dropped as unknown. */
  droppedLevels: number;
  /** Visible executions (type 4) of orders with a known id. */
  knownExecutions: number;
  /** Of those, executions of an order not first among the known orders at its price. */
  outOfQueueExecutions: number;
  /** Cancels and executions that found neither their id nor enough anonymous volume (shares). */
  unmatchedVolume: number;
  /** New orders that would have crossed the book (skipped). */
  crossingNewOrders: number;
  seconds: number;
  eventsPerSecond: number;
  firstMismatches: ReplayMismatch[];
}

export class LobsterReplayError extends Error {
  readonly _tag = "LobsterReplayError" as const;
  constructor(message: string) {
    super(message);
    this.name = "LobsterReplayError";
  }
}

const isEmptyAsk = (price: number, size: number): boolean => price >= EMPTY_ASK_PRICE || size <= 0;
const isEmptyBid = (price: number, size: number): boolean => price <= EMPTY_BID_PRICE || size <= 0;

/** The tick grid covering every price of the sample, with a margin. */
const gridOf = (data: LobsterData, unitsPerTick: number): { min: number; max: number } => {
  let lo = Infinity;
  let hi = -Infinity;
  const see = (price: number, where: string): void => {
    const tick = price / unitsPerTick;
    if (!Number.isInteger(tick)) {
      throw new LobsterReplayError(`${where}: price ${price} is not a multiple of ${unitsPerTick} units; pass the sample's tick size (--tick).`);
    }
    if (tick < lo) lo = tick;
    if (tick > hi) hi = tick;
  };
  const { messages, orderbook } = data;
  for (let r = 0; r < messages.length; r++) {
    const type = messages.type[r]!;
    if (type >= 1 && type <= 4) see(messages.price[r]!, `${data.messageFile} row ${r + 1}`);
  }
  const cells = orderbook.rows * orderbook.levels;
  for (let i = 0; i < cells; i++) {
    if (!isEmptyAsk(orderbook.askPrice[i]!, orderbook.askSize[i]!)) see(orderbook.askPrice[i]!, `${data.orderbookFile} row ${Math.floor(i / orderbook.levels) + 1}`);
    if (!isEmptyBid(orderbook.bidPrice[i]!, orderbook.bidSize[i]!)) see(orderbook.bidPrice[i]!, `${data.orderbookFile} row ${Math.floor(i / orderbook.levels) + 1}`);
  }
  if (lo > hi) throw new LobsterReplayError(`${data.orderbookFile}: no priced level or order in the sample; supply a non-empty sample.`);
  return { min: lo - 16, max: hi + 16 };
};

export const replayLobster = (data: LobsterData, options: ReplayOptions = {}): ReplayReport => {
  const { messages, orderbook } = data;
  const fileLevels = orderbook.levels;
  const compared = Math.min(options.levels ?? fileLevels, fileLevels);
  if (!Number.isInteger(compared) || compared < 1) throw new LobsterReplayError(`levels must be an integer in 1..${fileLevels}, got ${options.levels}.`);
  const unitsPerTick = options.priceUnitsPerTick ?? 100;
  const rows = Math.min(orderbook.rows, options.maxEvents === undefined ? Infinity : options.maxEvents + 1);
  const describe = options.describeMismatches ?? 10;
  const grid = gridOf(data, unitsPerTick);
  const book = new OrderBook({ minPriceTick: grid.min, maxPriceTick: grid.max });
  const idOf = new Map<number, number>();
  const scratchPrices = new Float64Array(2 * fileLevels + 2);
  const scratchVolumes = new Float64Array(2 * fileLevels + 2);
  const report: ReplayReport = {
    events: 0,
    rowsCompared: 0,
    mismatches: 0,
    readoptedLevels: 0,
    droppedLevels: 0,
    knownExecutions: 0,
    outOfQueueExecutions: 0,
    unmatchedVolume: 0,
    crossingNewOrders: 0,
    seconds: 0,
    eventsPerSecond: 0,
    firstMismatches: []
  };

  /** Removes up to `quantity` of anonymous volume at a price; returns what could not be removed. */
  const consumeAnonymous = (side: Side, tick: number, quantity: number): number => {
    let left = quantity;
    let id = book.oldestOrderAt(side, tick);
    while (id !== -1 && left > 0) {
      const newer = book.newerOrder(id);
      if (book.orderOriginator(id) === ANONYMOUS_ORIGINATOR) left -= book.cancel(id, left);
      id = newer;
    }
    return left;
  };

  /** Sets a level's volume: adds anonymous volume, or removes anonymous then newest known volume. */
  const setLevelVolume = (side: Side, tick: number, volume: number): void => {
    const current = book.volumeAt(side, tick);
    if (volume > current) {
      book.submitLimit(side, tick, volume - current, ANONYMOUS_ORIGINATOR);
      return;
    }
    let left = consumeAnonymous(side, tick, current - volume);
    let id = book.newestOrderAt(side, tick);
    while (id !== -1 && left > 0) {
      const older = book.olderOrder(id);
      left -= book.cancel(id, left);
      id = older;
    }
  };

  const removeLevel = (side: Side, tick: number): void => {
    for (let id = book.oldestOrderAt(side, tick); id !== -1; id = book.oldestOrderAt(side, tick)) book.cancel(id);
  };

  // Boundary of the known region: asks at prices <= askLimit, bids at prices >= bidLimit.
  // Nothing is known before the first row.
  let askLimit = -Infinity;
  let bidLimit = Infinity;

  /** Compares one side of row r, re-adopts re-entering levels, drops levels that left. */
  const reconcileSide = (r: number, side: Side): void => {
    const prices = side === SELL ? orderbook.askPrice : orderbook.bidPrice;
    const sizes = side === SELL ? orderbook.askSize : orderbook.bidSize;
    const base = r * fileLevels;
    let present = 0;
    for (let k = 0; k < fileLevels; k++) {
      const price = prices[base + k]!;
      const size = sizes[base + k]!;
      if (side === SELL ? isEmptyAsk(price, size) : isEmptyBid(price, size)) break;
      present++;
      const tick = price / unitsPerTick;
      const known = side === SELL ? tick <= askLimit : tick >= bidLimit;
      const replayed = book.volumeAt(side, tick);
      if (!known) {
        report.readoptedLevels++;
        if (replayed !== size) setLevelVolume(side, tick, size);
        continue;
      }
      if (replayed !== size) {
        if (k < compared) {
          report.mismatches++;
          if (report.firstMismatches.length < describe) {
            report.firstMismatches.push({ row: r, side: side === SELL ? "ask" : "bid", priceTick: tick, replayed, recorded: size });
          }
        }
        setLevelVolume(side, tick, size);
      }
    }
    // The new boundary: the N-th level when the window is full, else the whole side is visible.
    const newLimit = present === fileLevels ? prices[base + fileLevels - 1]! / unitsPerTick : side === SELL ? Infinity : -Infinity;
    // Levels beyond the window become unknown.
    if (Number.isFinite(newLimit)) {
      for (let tick = book.nextLevelBeyond(side, newLimit); !Number.isNaN(tick); tick = book.nextLevelBeyond(side, newLimit)) {
        removeLevel(side, tick);
        report.droppedLevels++;
      }
    }
    // Every row level is now in the book, so more levels mean replayed levels the row lacks.
    if (book.levelCountOf(side) > present) {
      const n = book.topLevels(side, scratchPrices.length, scratchPrices, scratchVolumes);
      for (let i = 0; i < n; i++) {
        const tick = scratchPrices[i]!;
        if (rowHas(prices, sizes, base, present, tick * unitsPerTick)) continue;
        if (i < compared) {
          report.mismatches++;
          if (report.firstMismatches.length < describe) {
            report.firstMismatches.push({ row: r, side: side === SELL ? "ask" : "bid", priceTick: tick, replayed: scratchVolumes[i]!, recorded: 0 });
          }
        }
        removeLevel(side, tick);
      }
    }
    if (side === SELL) askLimit = newLimit;
    else bidLimit = newLimit;
  };

  const started = performance.now();
  reconcileSide(0, SELL);
  reconcileSide(0, BUY);
  report.readoptedLevels = 0;
  report.droppedLevels = 0;

  for (let r = 1; r < rows; r++) {
    const type = messages.type[r]!;
    if (type >= 1 && type <= 4) {
      const side = messages.direction[r] as Side;
      const tick = messages.price[r]! / unitsPerTick;
      const size = messages.size[r]!;
      const orderId = messages.orderId[r]!;
      if (type === 1) {
        const crosses = side === BUY ? tick >= book.bestAsk() : tick <= book.bestBid();
        if (crosses) report.crossingNewOrders++;
        else idOf.set(orderId, book.submitLimit(side, tick, size, KNOWN_ORIGINATOR));
      } else {
        const bookId = idOf.get(orderId);
        if (bookId !== undefined && book.orderQuantity(bookId) > 0) {
          if (type === 4) {
            report.knownExecutions++;
            let first = book.oldestOrderAt(side, tick);
            while (first !== -1 && book.orderOriginator(first) === ANONYMOUS_ORIGINATOR) first = book.newerOrder(first);
            if (first !== bookId) report.outOfQueueExecutions++;
          }
          if (type === 3) book.cancel(bookId);
          else book.cancel(bookId, size);
          if (book.orderQuantity(bookId) === 0) idOf.delete(orderId);
        } else {
          if (bookId !== undefined) idOf.delete(orderId);
          report.unmatchedVolume += consumeAnonymous(side, tick, size);
        }
      }
    }
    report.events++;
    reconcileSide(r, SELL);
    reconcileSide(r, BUY);
    report.rowsCompared++;
  }
  report.seconds = (performance.now() - started) / 1000;
  report.eventsPerSecond = report.events / report.seconds;
  return report;
};

const rowHas = (prices: Float64Array, sizes: Float64Array, base: number, present: number, price: number): boolean => {
  for (let k = 0; k < present; k++) if (prices[base + k] === price && sizes[base + k]! > 0) return true;
  return false;
};
