/**
 * The ECN agent (paper section 2.3.1). The target book is recomputed here from the
 * drawn S_{n+1} and the book before the step, straight from the definitions (rounding rule, eq. (8),
 * exponential extrapolation), and compared with the book the agent's orders produced. The
 * long-run mean of the level volumes is compared with proposition 2.3's mu+/mu-, computed from
 * the stand-in's Gaussian draws by quadrature.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Random } from "../../core/random/philox.ts";
import { BUY, OrderBook, SELL, type MarketExecution, type Side } from "../../core/book/order-book.ts";
import { EcnAgent } from "../../core/book/ecn-agent.ts";
import { GaussianStandInModel, longRunMeanVolume, type StandInParams } from "./gaussian-stand-in.ts";

type Logged = { kind: "market" | "limit" | "cancel"; side: Side; size: number; originator: number };

/** Records every order the agent sends, in order. */
class RecordingBook extends OrderBook {
  log: Logged[] = [];
  override submitLimit(side: Side, priceTick: number, quantity: number, originator: number): number {
    this.log.push({ kind: "limit", side, size: quantity, originator });
    return super.submitLimit(side, priceTick, quantity, originator);
  }
  override submitMarket(side: Side, quantity: number, originator: number): MarketExecution {
    this.log.push({ kind: "market", side, size: quantity, originator });
    return super.submitMarket(side, quantity, originator);
  }
  override cancel(orderId: number, quantity?: number): number {
    const side = this.orderSide(orderId);
    const size = quantity ?? this.orderQuantity(orderId);
    this.log.push({ kind: "cancel", side, size, originator: this.orderOriginator(orderId) });
    return super.cancel(orderId, quantity);
  }
  override cancelNewestOf(side: Side, priceTick: number, originator: number, quantity: number): number {
    this.log.push({ kind: "cancel", side, size: quantity, originator });
    return super.cancelNewestOf(side, priceTick, originator, quantity);
  }
}

const levelsOf = (book: OrderBook, side: Side): Array<[number, number]> => {
  const prices = new Float64Array(4096);
  const volumes = new Float64Array(4096);
  const n = book.topLevels(side, 4096, prices, volumes);
  return Array.from({ length: n }, (_, i) => [prices[i]!, volumes[i]!] as [number, number]);
};

/** The target book of section 2.3.1 from the book before the step and the drawn S_{n+1}. */
const targetBook = (before: { asks: Array<[number, number]>; bids: Array<[number, number]>; mid: number }, s: Float64Array, m: number, depth: number, alpha: number) => {
  const spread = Math.max(1, Math.round(s[2 * m]!));
  const bestBid = Math.round(before.mid + s[2 * m + 1]! - spread / 2);
  const bestAsk = bestBid + spread;
  const side = (levels: Array<[number, number]>, deltaOffset: number, best: number, direction: number) => {
    const volumes: number[] = [];
    for (let i = 0; i < m; i++) {
      const v = levels[i]?.[1] ?? 0;
      const d = s[deltaOffset + i]!;
      volumes.push((1 - Math.min(Math.max(-d, 0), 1)) * v + Math.max(d, 0));
    }
    for (let k = m + 1; k <= depth; k++) volumes.push(volumes[m - 1]! * Math.exp(-alpha * (k - m)));
    return volumes.map((v, k) => [best + direction * k, v] as [number, number]);
  };
  return { asks: side(before.asks, 0, bestAsk, 1), bids: side(before.bids, m, bestBid, -1) };
};

/** Section 2.3.1's leading market order, as far as a market order can reproduce the target. */
const leadingMarketSize = (current: Array<[number, number]>, target: Array<[number, number]>, side: Side): number => {
  const volumes = new Map<number, [number, number]>();
  for (const [p, v] of current) volumes.set(p, [v, 0]);
  for (const [p, v] of target) if (v > 1e-9) volumes.set(p, [volumes.get(p)?.[0] ?? 0, v]);
  const prices = [...volumes.keys()].sort((a, b) => (side === SELL ? a - b : b - a));
  let size = 0;
  for (const p of prices) {
    const [c, t] = volumes.get(p)!;
    if (!(c - t > 1e-9 * Math.max(1, c))) break;
    if (t > 0) return size + c - t;
    size += c;
  }
  return size;
};

/** Same prices and volumes; a level of at most 1e-9 lots counts as empty on both sides. */
const expectSameLevels = (all: Array<[number, number]>, want: Array<[number, number]>) => {
  const got = all.filter(([, v]) => v > 1e-9);
  const wanted = want.filter(([, v]) => v > 1e-9);
  expect(got.map(([p]) => p)).toEqual(wanted.map(([p]) => p));
  for (let i = 0; i < wanted.length; i++) {
    expect(Math.abs(got[i]![1] - wanted[i]![1])).toBeLessThanOrEqual(1e-9 * Math.max(1, wanted[i]![1]));
  }
};

const paramsArb: fc.Arbitrary<StandInParams> = fc.integer({ min: 1, max: 5 }).chain((m) =>
  fc.record({
    levels: fc.constant(m),
    alpha: fc.double({ min: 0.1, max: 1.5, noNaN: true }),
    lnVolumeMean: fc.double({ min: 0, max: 3, noNaN: true }),
    lnVolumeSd: fc.double({ min: 0, max: 1, noNaN: true }),
    deltaMean: fc.array(fc.double({ min: -0.5, max: 2, noNaN: true }), { minLength: 2 * m, maxLength: 2 * m }),
    deltaSd: fc.array(fc.double({ min: 0.01, max: 2, noNaN: true }), { minLength: 2 * m, maxLength: 2 * m }),
    deltaFloor: fc.constantFrom(-1, -0.95),
    spreadChoices: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
    midSd: fc.double({ min: 0, max: 6, noNaN: true }),
    orderSizes: fc.array(fc.constantFrom(0.25, 0.5, 1, 2, 3, 5, 1.7), { minLength: 1, maxLength: 5 })
  })
);

describe("EcnAgent", () => {
  it("sends orders that, alone, reproduce the section 2.3.1 target book; market orders first and only for a leading decrease at the best", () => {
    fc.assert(
      fc.property(paramsArb, fc.integer({ min: 0, max: 5 }), fc.nat({ max: 1e9 }), fc.boolean(), (params, extraDepth, seed, othersTrade) => {
        const model = new GaussianStandInModel(params);
        const m = params.levels;
        const depth = m + extraDepth;
        const book = new RecordingBook({ minPriceTick: 0, maxPriceTick: 4000 });
        const agent = new EcnAgent(book, model, { p0Tick: 2000, depthLevels: depth, originator: 7 });
        const rng = Random.fromSeed(seed);
        agent.startEpisode(rng.split("start"));
        // The initial book: S0 volumes around P0, deeper levels extrapolated.
        const s0 = agent.lastInitialSample;
        const spread0 = Math.max(1, Math.round(s0[2 * m]!));
        const bid0 = Math.round(2000 - spread0 / 2);
        const initial = targetBook(
          { asks: Array.from({ length: m }, (_, i) => [0, Math.exp(s0[i]!)]), bids: Array.from({ length: m }, (_, i) => [0, Math.exp(s0[m + i]!)]), mid: 2000 },
          Float64Array.from([...new Array(2 * m).fill(0), spread0, 0]),
          m,
          depth,
          params.alpha
        );
        expect(bid0 + spread0).toBe(initial.asks[0]![0]);
        expectSameLevels(levelsOf(book, SELL), initial.asks);
        expectSameLevels(levelsOf(book, BUY), initial.bids);

        const others = rng.split("others");
        for (let step = 0; step < 25; step++) {
          if (othersTrade && others.bernoulli(0.5)) {
            const side = others.bernoulli(0.5) ? BUY : SELL;
            const opposite = side === BUY ? SELL : BUY;
            const available = levelsOf(book, opposite).reduce((a, [, v]) => a + v, 0);
            if (available > 1) book.submitMarket(side, others.uniformIn(0, available * 0.6), 99);
          }
          const before = { asks: levelsOf(book, SELL), bids: levelsOf(book, BUY), mid: book.mid() };
          book.log = [];
          agent.step(rng.split(step));
          if (Number.isNaN(before.mid)) continue;
          const target = targetBook(before, agent.lastStepSample, m, depth, params.alpha);
          expectSameLevels(levelsOf(book, SELL), target.asks);
          expectSameLevels(levelsOf(book, BUY), target.bids);

          // Every order is the agent's; markets, then cancels, then limits.
          const rank = { market: 0, cancel: 1, limit: 2 } as const;
          for (let i = 1; i < book.log.length; i++) expect(rank[book.log[i]!.kind]).toBeGreaterThanOrEqual(rank[book.log[i - 1]!.kind]);
          expect(book.log.every((o) => o.originator === 7)).toBe(true);
          // The market orders against each side add up to that side's leading decrease.
          for (const side of [SELL, BUY] as const) {
            const aggressor = side === SELL ? BUY : SELL;
            const sent = book.log.filter((o) => o.kind === "market" && o.side === aggressor).reduce((a, o) => a + o.size, 0);
            const want = leadingMarketSize(side === SELL ? before.asks : before.bids, side === SELL ? target.asks : target.bids, side);
            expect(Math.abs(sent - want)).toBeLessThanOrEqual(1e-9 * Math.max(1, want));
          }
          // Pieces are typical order sizes, or smaller remainders of a meta order.
          const largest = Math.max(...params.orderSizes);
          for (const o of book.log) expect(o.size).toBeLessThanOrEqual(largest * (1 + 1e-9));
        }
      }),
      { numRuns: 100 }
    );
  });

  it("keeps level volumes bounded and their long-run mean at mu+/mu- (proposition 2.3, figure 4) over 100,000 steps", () => {
    const m = 3;
    const params: StandInParams = {
      levels: m,
      alpha: 0.4,
      lnVolumeMean: 1,
      lnVolumeSd: 0.3,
      deltaMean: [0.4, 0.3, 0.5, 0.35, 0.2, 0.6],
      deltaSd: [0.8, 0.7, 1.0, 0.9, 0.5, 1.1],
      deltaFloor: -0.95,
      spreadChoices: [1, 2, 3],
      midSd: 0.4,
      orderSizes: [0.5, 1, 1, 2, 3]
    };
    const model = new GaussianStandInModel(params);
    const book = new OrderBook({ minPriceTick: 0, maxPriceTick: 40000 });
    const agent = new EcnAgent(book, model, { p0Tick: 20000, depthLevels: 8, originator: 1 });
    const rng = Random.fromSeed(20240621);
    agent.startEpisode(rng);
    const steps = 100_000;
    const burnIn = 1000;
    const batches = 99;
    const batchLength = (steps - burnIn) / batches;
    const prices = new Float64Array(m);
    const volumes = new Float64Array(m);
    const batchSums = Array.from({ length: 2 * m }, () => new Float64Array(batches));
    let maxVolume = 0;
    let maxOrders = 0;
    for (let n = 0; n < steps; n++) {
      agent.step(rng);
      if (n < burnIn) continue;
      const batch = Math.floor((n - burnIn) / batchLength);
      for (const [sideIndex, side] of [[0, SELL], [1, BUY]] as const) {
        expect(book.topLevels(side, m, prices, volumes)).toBe(m);
        for (let i = 0; i < m; i++) {
          batchSums[sideIndex * m + i]![batch]! += volumes[i]!;
          if (volumes[i]! > maxVolume) maxVolume = volumes[i]!;
        }
      }
      if (book.restingOrders() > maxOrders) maxOrders = book.restingOrders();
    }
    const muInf = params.deltaMean.map((mean, i) => longRunMeanVolume(mean, params.deltaSd[i]!, params.deltaFloor));
    for (let level = 0; level < 2 * m; level++) {
      const means = Array.from(batchSums[level]!, (s) => s / batchLength);
      const mean = means.reduce((a, b) => a + b, 0) / batches;
      const sd = Math.sqrt(means.reduce((a, b) => a + (b - mean) ** 2, 0) / (batches - 1));
      const standardError = sd / Math.sqrt(batches);
      expect(Math.abs(mean - muInf[level]!)).toBeLessThan(5 * standardError + 1e-3 * muInf[level]!);
      expect(Math.abs(mean - muInf[level]!) / muInf[level]!).toBeLessThan(0.03);
      // No drift: the first and last thirds agree.
      const third = Math.floor(batches / 3);
      const early = means.slice(0, third).reduce((a, b) => a + b, 0) / third;
      const late = means.slice(-third).reduce((a, b) => a + b, 0) / third;
      expect(Math.abs(early - late)).toBeLessThan(6 * sd / Math.sqrt(third) + 1e-3);
    }
    const largestMean = Math.max(...muInf);
    expect(maxVolume).toBeLessThan(20 * largestMean);
    expect(maxOrders).toBeLessThan(2 * 8 * 20 * largestMean);
  });
});
