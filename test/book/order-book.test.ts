/**
 * Properties of the limit order book on random order streams, checked against a naive
 * reference book written from the definition of price-time priority: an aggressive buy takes the
 * lowest-priced ask, earliest first, and so on; nothing here is derived from the engine's code.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  BUY,
  InvalidOrderError,
  OrderBook,
  SELL,
  buyCost,
  marketSpread,
  sellCost,
  tradingCost,
  type Fill,
  type Side
} from "../../core/book/order-book.ts";

const MIN_TICK = 100;
const MAX_TICK = 130;

interface RefOrder {
  seq: number;
  side: Side;
  price: number;
  quantity: number;
  originator: number;
}
interface RefFill {
  price: number;
  quantity: number;
  restingSeq: number;
  restingOriginator: number;
  aggressorOriginator: number;
  aggressorSide: Side;
}

/** The reference book: a flat list of resting orders; matching scans it for the best candidate. */
class ReferenceBook {
  orders: RefOrder[] = [];
  private bestCandidate(aggressorSide: Side, limit: number): RefOrder | undefined {
    let best: RefOrder | undefined;
    for (const o of this.orders) {
      if (o.side === aggressorSide) continue;
      if (aggressorSide === BUY ? o.price > limit : o.price < limit) continue;
      if (
        best === undefined ||
        (aggressorSide === BUY ? o.price < best.price : o.price > best.price) ||
        (o.price === best.price && o.seq < best.seq)
      ) {
        best = o;
      }
    }
    return best;
  }
  execute(side: Side, limit: number, quantity: number, originator: number): { remaining: number; fills: RefFill[] } {
    const fills: RefFill[] = [];
    let remaining = quantity;
    while (remaining > 0) {
      const o = this.bestCandidate(side, limit);
      if (o === undefined) break;
      const take = Math.min(o.quantity, remaining);
      fills.push({ price: o.price, quantity: take, restingSeq: o.seq, restingOriginator: o.originator, aggressorOriginator: originator, aggressorSide: side });
      o.quantity -= take;
      remaining -= take;
      if (o.quantity === 0) this.orders = this.orders.filter((x) => x !== o);
    }
    return { remaining, fills };
  }
  volumeAt(side: Side, price: number): number {
    return this.orders.filter((o) => o.side === side && o.price === price).reduce((a, o) => a + o.quantity, 0);
  }
}

type Op =
  | { kind: "limit"; side: Side; price: number; quantity: number; originator: number }
  | { kind: "market"; side: Side; quantity: number; originator: number }
  | { kind: "cancel"; pick: number; quantity: number | undefined }
  | { kind: "bogus-cancel"; id: number }
  | { kind: "bad-limit"; side: number; price: number; quantity: number }
  | { kind: "clear" };

const sideArb = fc.constantFrom<Side>(BUY, SELL);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("limit" as const), side: sideArb, price: fc.integer({ min: MIN_TICK + 12, max: MIN_TICK + 18 }), quantity: fc.integer({ min: 1, max: 12 }), originator: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("market" as const), side: sideArb, quantity: fc.integer({ min: 1, max: 25 }), originator: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat(), quantity: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "clear" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("bogus-cancel" as const), id: fc.oneof(fc.integer({ min: -5, max: 1 << 30 }), fc.constant(Number.NaN), fc.constant(1.5)) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("bad-limit" as const),
      side: fc.constantFrom(1, -1, 0, 2),
      price: fc.oneof(fc.integer({ min: MIN_TICK, max: MAX_TICK }), fc.constantFrom(MIN_TICK - 1, MAX_TICK + 1, 110.5, Number.NaN)),
      quantity: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constantFrom(0, -2, Number.NaN, Number.POSITIVE_INFINITY))
    })
  }
);

/** Everything observable about the book, for "unchanged" comparisons. */
const snapshot = (book: OrderBook, ids: number[]) => {
  const levels: number[] = [];
  for (let p = MIN_TICK; p <= MAX_TICK; p++) levels.push(book.volumeAt(BUY, p), book.volumeAt(SELL, p), book.ordersAt(BUY, p), book.ordersAt(SELL, p));
  return { levels, bid: book.bestBid(), ask: book.bestAsk(), resting: book.restingOrders(), orders: ids.map((id) => book.orderQuantity(id)) };
};

describe("OrderBook on random order streams", () => {
  it("matches the price-time reference, never rests crossed, conserves volume, balances fills, predicts its own average prices, and refuses invalid orders atomically", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 150 }), (ops) => {
        const book = new OrderBook({ minPriceTick: MIN_TICK, maxPriceTick: MAX_TICK });
        const ref = new ReferenceBook();
        const fills: Fill[] = [];
        book.onFill = (f) => fills.push(f);
        const ids: number[] = []; // book id per reference seq
        const seqOfId = new Map<number, number>();
        let added = 0;
        let cancelled = 0;
        let consumedByFills = 0;
        const position = new Map<number, number>();
        const cash = new Map<number, number>();
        const book1 = (m: Map<number, number>, k: number, v: number) => m.set(k, (m.get(k) ?? 0) + v);

        for (const op of ops) {
          fills.length = 0;
          let refFills: RefFill[] = [];
          if (op.kind === "limit") {
            const seq = ids.length;
            const id = book.submitLimit(op.side, op.price, op.quantity, op.originator);
            ids.push(id);
            seqOfId.set(id, seq);
            const r = ref.execute(op.side, op.price, op.quantity, op.originator);
            refFills = r.fills;
            if (r.remaining > 0) ref.orders.push({ seq, side: op.side, price: op.price, quantity: r.remaining, originator: op.originator });
            added += op.quantity;
            expect(book.orderQuantity(id)).toBe(r.remaining);
            for (const f of fills) expect(f.aggressorOrderId).toBe(id);
          } else if (op.kind === "market") {
            const predicted = book.averageFillPrice(op.side, op.quantity);
            const exec = book.submitMarket(op.side, op.quantity, op.originator);
            const r = ref.execute(op.side, op.side === BUY ? Infinity : -Infinity, op.quantity, op.originator);
            refFills = r.fills;
            expect(exec.unfilled).toBe(r.remaining);
            expect(exec.filled + exec.unfilled).toBe(op.quantity);
            expect(fills.reduce((a, f) => a + f.quantity, 0)).toBe(exec.filled);
            expect(fills.reduce((a, f) => a + f.price * f.quantity, 0)).toBe(exec.notionalTicks);
            if (exec.unfilled === 0) expect(exec.notionalTicks / exec.filled).toBeCloseTo(predicted, 12);
            else expect(predicted).toBeNaN();
          } else if (op.kind === "cancel") {
            if (ids.length === 0) continue;
            const seq = op.pick % ids.length;
            const id = ids[seq]!;
            const refOrder = ref.orders.find((o) => o.seq === seq);
            if (refOrder === undefined) {
              const before = snapshot(book, ids);
              expect(() => book.cancel(id, op.quantity)).toThrow(InvalidOrderError);
              expect(snapshot(book, ids)).toEqual(before);
            } else {
              const got = book.cancel(id, op.quantity);
              const expected = Math.min(op.quantity ?? Infinity, refOrder.quantity);
              expect(got).toBe(expected);
              refOrder.quantity -= expected;
              if (refOrder.quantity === 0) ref.orders = ref.orders.filter((o) => o !== refOrder);
              cancelled += expected;
            }
          } else if (op.kind === "clear") {
            book.clear();
            for (const o of ref.orders) cancelled += o.quantity;
            ref.orders = [];
          } else if (op.kind === "bogus-cancel") {
            if (ids.includes(op.id) && book.orderQuantity(op.id) > 0) continue;
            const before = snapshot(book, ids);
            expect(() => book.cancel(op.id)).toThrow(InvalidOrderError);
            expect(snapshot(book, ids)).toEqual(before);
          } else {
            const valid =
              (op.side === 1 || op.side === -1) && Number.isInteger(op.price) && op.price >= MIN_TICK && op.price <= MAX_TICK && op.quantity > 0 && Number.isFinite(op.quantity);
            if (valid) continue;
            const before = snapshot(book, ids);
            expect(() => book.submitLimit(op.side as Side, op.price, op.quantity, 0)).toThrow(InvalidOrderError);
            if (!(op.quantity > 0 && Number.isFinite(op.quantity))) expect(() => book.submitMarket(op.side as Side, op.quantity, 0)).toThrow(InvalidOrderError);
            expect(snapshot(book, ids)).toEqual(before);
            continue;
          }

          // Fills: the same sequence as the reference (price-time priority), each one balanced.
          expect(fills.map((f) => [f.price, f.quantity, seqOfId.get(f.restingOrderId), f.restingOriginator, f.aggressorOriginator, f.aggressorSide])).toEqual(
            refFills.map((f) => [f.price, f.quantity, f.restingSeq, f.restingOriginator, f.aggressorOriginator, f.aggressorSide])
          );
          for (const f of fills) {
            const buyer = f.aggressorSide === BUY ? f.aggressorOriginator : f.restingOriginator;
            const seller = f.aggressorSide === BUY ? f.restingOriginator : f.aggressorOriginator;
            book1(position, buyer, f.quantity);
            book1(position, seller, -f.quantity);
            book1(cash, buyer, -f.price * f.quantity);
            book1(cash, seller, f.price * f.quantity);
            consumedByFills += f.quantity * (f.aggressorOrderId === -1 ? 1 : 2);
          }

          // Never crossed at rest; level volumes equal the reference's.
          const bid = book.bestBid();
          const ask = book.bestAsk();
          if (!Number.isNaN(bid) && !Number.isNaN(ask)) expect(bid).toBeLessThan(ask);
          for (let p = MIN_TICK; p <= MAX_TICK; p++) {
            expect(book.volumeAt(BUY, p)).toBe(ref.volumeAt(BUY, p));
            expect(book.volumeAt(SELL, p)).toBe(ref.volumeAt(SELL, p));
          }
          // Level walks (best first) agree with the reference's non-empty prices.
          for (const side of [BUY, SELL] as const) {
            const refPrices = [...new Set(ref.orders.filter((o) => o.side === side).map((o) => o.price))].sort((a, b) => (side === BUY ? b - a : a - b));
            const prices = new Float64Array(64);
            const volumes = new Float64Array(64);
            const n = book.topLevels(side, 64, prices, volumes);
            expect([...prices.subarray(0, n)]).toEqual(refPrices);
            expect(book.levelCountOf(side)).toBe(refPrices.length);
            const beyond = refPrices.map((p) => book.nextLevelBeyond(side, p));
            expect(beyond).toEqual(refPrices.map((_, i) => refPrices[i + 1] ?? NaN));
          }
          // Volume conservation: resting = added - cancelled - filled (both legs of a limit-limit fill).
          expect(book.totalVolume(BUY) + book.totalVolume(SELL)).toBe(added - cancelled - consumedByFills);
          expect(book.restingOrders()).toBe(ref.orders.length);
        }
        // Fills are zero-sum in quantity and cash across originators.
        expect([...position.values()].reduce((a, b) => a + b, 0)).toBe(0);
        expect([...cash.values()].reduce((a, b) => a + b, 0)).toBe(0);
      }),
      { numRuns: 200 }
    );
  });
});

describe("OrderBook unit behaviour", () => {
  it("reports NaN prices for empty sides and the right best prices, mid and spread", () => {
    const book = new OrderBook({ minPriceTick: 0, maxPriceTick: 1000 });
    expect(book.bestBid()).toBeNaN();
    expect(book.mid()).toBeNaN();
    book.submitLimit(BUY, 500, 3, 1);
    book.submitLimit(BUY, 498, 3, 1);
    book.submitLimit(SELL, 503, 2, 2);
    expect(book.bestBid()).toBe(500);
    expect(book.bestAsk()).toBe(503);
    expect(book.mid()).toBe(501.5);
    expect(marketSpread(book)).toBe(3);
    const prices = new Float64Array(4);
    const volumes = new Float64Array(4);
    expect(book.topLevels(BUY, 4, prices, volumes)).toBe(2);
    expect([...prices.subarray(0, 2)]).toEqual([500, 498]);
    expect(book.nextLevelBeyond(BUY, 500)).toBe(498);
    expect(book.nextLevelBeyond(BUY, 498)).toBeNaN();
    expect(book.nextLevelBeyond(SELL, 400)).toBe(503);
  });

  it("prices costs from the visible book and from the exponential extrapolation beyond it", () => {
    const book = new OrderBook({ minPriceTick: 0, maxPriceTick: 1000 });
    book.submitLimit(SELL, 101, 2, 1);
    book.submitLimit(SELL, 102, 4, 1);
    book.submitLimit(BUY, 99, 5, 1);
    // Buying 4 takes 2 at 101 and 2 at 102.
    expect(book.averageFillPrice(BUY, 4)).toBeCloseTo((2 * 101 + 2 * 102) / 4, 12);
    expect(buyCost(book, 4)).toBeCloseTo((2 * 101 + 2 * 102) / 4 - 100, 12);
    expect(sellCost(book, 5)).toBeCloseTo(100 - 99, 12);
    expect(tradingCost(book, 4)).toBeCloseTo(((2 * 101 + 2 * 102) / 4 - 100 + 1) / 2, 12);
    expect(book.averageFillPrice(BUY, 7)).toBeNaN();
    // Anchor m = 2 is the level at 102 (V_2 = 4); price 102 + d holds 4 exp(-alpha d).
    const alpha = 0.5;
    const want = 7;
    let left = want - 6;
    let notional = 2 * 101 + 4 * 102;
    for (let d = 1; left > 0; d++) {
      const v = Math.min(4 * Math.exp(-alpha * d), left);
      notional += (102 + d) * v;
      left -= v;
    }
    expect(book.averageFillPrice(BUY, want, { alpha, levels: 2 })).toBeCloseTo(notional / want, 10);
    // More than the whole geometric tail (4 e^-a / (1 - e^-a) ~ 6.16 beyond 102) cannot fill.
    expect(book.averageFillPrice(BUY, 6 + 7, { alpha, levels: 2 })).toBeNaN();
  });

  it("keeps queue position on partial cancels, walks the FIFO and invalidates ids on clear", () => {
    const book = new OrderBook({ minPriceTick: 0, maxPriceTick: 10 });
    const a = book.submitLimit(SELL, 5, 3, 1);
    const b = book.submitLimit(SELL, 5, 3, 2);
    expect(book.cancel(a, 1)).toBe(1);
    expect(book.oldestOrderAt(SELL, 5)).toBe(a);
    expect(book.newerOrder(a)).toBe(b);
    expect(book.olderOrder(b)).toBe(a);
    expect(book.newestOrderAt(SELL, 5)).toBe(b);
    const fills: Fill[] = [];
    book.onFill = (f) => fills.push(f);
    book.submitMarket(BUY, 3, 9);
    expect(fills.map((f) => [f.restingOrderId, f.quantity])).toEqual([[a, 2], [b, 1]]);
    expect(book.orderQuantity(a)).toBe(0);
    book.clear();
    expect(book.orderQuantity(b)).toBe(0);
    expect(() => book.cancel(b)).toThrow(InvalidOrderError);
    expect(book.restingOrders()).toBe(0);
    const c = book.submitLimit(BUY, 2, 1, 1);
    expect(c).not.toBe(a);
    expect(c).not.toBe(b);
    expect(book.bestBid()).toBe(2);
  });

  it("grows its order pool past the initial capacity and keeps every order", () => {
    const book = new OrderBook({ minPriceTick: 0, maxPriceTick: 99 });
    const ids: number[] = [];
    for (let i = 0; i < 5000; i++) ids.push(book.submitLimit(BUY, i % 100, 1 + (i % 3), i));
    expect(new Set(ids).size).toBe(5000);
    let total = 0;
    for (let i = 0; i < 5000; i++) total += 1 + (i % 3);
    expect(book.totalVolume(BUY)).toBe(total);
    expect(book.orderOriginator(ids[4321]!)).toBe(4321);
  });
});
