/**
 * The market mechanics of one step (docs/market-mechanics.md): every LT trade decided is filled,
 * by an LP or by the ECN, so market shares are over all LT quantity decided; ECN orders fill at the
 * cost their senders observed (LT ECN trades and LP hedges) while the physical book moves with the
 * flow; LTs decide on the LP quotes of the same step (a Stackelberg step). Checked at the paper's
 * population size (experiment 4: 10 LPs, 500 stationary LTs), where the ECN book is far too thin
 * for the flow routed to it.
 */
import { experimentPopulation } from "../../core/calibration/experiments.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { calibrationMetricsFromTrades } from "../../core/calibration/experiments.ts";
import { Random } from "../../core/random/philox.ts";
import { BUY, SELL } from "../../core/book/order-book.ts";
import { calibrationPopulation, defaultGameConfig, type OtcGameConfig } from "../../core/otc/config.ts";
import { CLASS_LP, CLASS_LT, COUNTERPARTY_NONE, LT_BUY, LT_NONE, LT_SELL, OtcEnv, type EcnDriverFactory, type OtcStepRecord } from "../../core/otc/env.ts";
import { constant, type LpSupertype, type LtSupertype, type Population } from "../../core/otc/supertypes.ts";
import { stepInStages } from "../../core/rl/vec-env.ts";
import { standInModel, staticBookFactory } from "./fixtures.ts";

const P0 = 10_000;

/** The experiment-4 env on the stand-in ECN (about 40 lots per modelled level). */
const exp4Env = (population: Population, batchSize: number, horizon: number, meanVolume?: number): OtcEnv => {
  const config: OtcGameConfig = { ...defaultGameConfig(population), horizon };
  return new OtcEnv({ config, batchSize, ecnModel: standInModel(meanVolume === undefined ? {} : { meanVolume }), record: true });
};

const neutral = (env: OtcEnv): Float32Array[] => [new Float32Array(env.classes[env.lpClassIndex]!.count * 3)];

/** Per (episode, t): the LT quantity decided (buy / sell with a venue) and the LT quantity filled by LPs and by the ECN. */
const stepTotals = (rec: OtcStepRecord) => {
  const totals = new Map<string, { decided: number; lp: number; ecn: number }>();
  for (let r = 0; r < rec.rows; r++) {
    if (rec.agentClass[r] !== CLASS_LT) continue;
    const key = `${rec.episode[r]}:${rec.t[r]}`;
    const entry = totals.get(key) ?? { decided: 0, lp: 0, ecn: 0 };
    totals.set(key, entry);
    entry.lp += rec.ltBuyQty[r]! + rec.ltSellQty[r]!;
    entry.ecn += rec.ecnBuyQty[r]! + rec.ecnSellQty[r]!;
  }
  return totals;
};

describe("experiment-4 market with neutral LP actions", () => {
  it("fills every LT order decided, and m_total = LP-filled / all LT quantity decided", () => {
    const B = 2;
    const T = 30;
    const env = exp4Env(experimentPopulation(4), B, T);
    env.reset(Random.fromSeed(11));
    for (let t = 0; t < T; t++) {
      env.step(neutral(env));
      for (let e = 0; e < B; e++) {
        const q = env.lastQuotes(e);
        // The ECN's cost curve prices every size on both sides, every step.
        q.sizes.forEach((_, s) => {
          expect(Number.isFinite(q.ecnBuy[s]!) && Number.isFinite(q.ecnSell[s]!)).toBe(true);
        });
      }
    }
    const rec = env.takeRecord();
    const outcomes = env.episodeOutcomes();
    const sizes = (e: number) => env.typesOf(e).ltSize;
    const decided = new Float64Array(B);
    const lpFilled = new Float64Array(B);
    let ecnRouted = 0;
    let ecnFilled = 0;
    let ltOrders = 0;
    for (let r = 0; r < rec.rows; r++) {
      if (rec.agentClass[r] !== CLASS_LT) continue;
      const e = rec.episode[r]!;
      const action = rec.action0[r]!;
      expect(action === LT_BUY || action === LT_SELL).toBe(true); // stationary LTs always trade
      const size = sizes(e)[rec.agent[r]!]!;
      const lp = rec.ltBuyQty[r]! + rec.ltSellQty[r]!;
      const ecn = rec.ecnBuyQty[r]! + rec.ecnSellQty[r]!;
      // Every LT is on the ECN, so every buy or sell has a venue and trades.
      expect(rec.counterparty[r]).not.toBe(COUNTERPARTY_NONE);
      ltOrders++;
      // No order is dropped or cut: it fills its whole size at one venue.
      expect(lp + ecn).toBe(size);
      decided[e]! += size;
      lpFilled[e]! += lp;
      if (rec.counterparty[r] === -1) {
        ecnRouted += size;
        ecnFilled += ecn;
      }
    }
    expect(ltOrders).toBe(B * T * 500);
    expect(ecnRouted).toBeGreaterThan(0);
    expect(ecnFilled / ecnRouted).toBe(1);
    const stats = env.marketStats();
    expect(stats.ltDecidedQty).toBe(decided[0]! + decided[1]!);
    expect(stats.ltEcnQty).toBe(ecnFilled);
    expect(outcomes.ecnLtQuantity[0]! + outcomes.ecnLtQuantity[1]!).toBe(ecnFilled);
    expect(outcomes.ecnRestingLtQuantity[0]! + outcomes.ecnRestingLtQuantity[1]!).toBeCloseTo(stats.ltEcnRestingQty, 6);
    expect(stats.ltNoVenueQty).toBe(0);
    expect(outcomes.noVenueLtQuantity[0]! + outcomes.noVenueLtQuantity[1]!).toBe(0);
    // The flow far exceeds the physical book: most ECN quantity filled against extrapolated depth.
    expect(stats.ltEcnRestingQty).toBeLessThan(0.5 * stats.ltEcnQty);
    for (let e = 0; e < B; e++) {
      expect(outcomes.totalLtQuantity[e]).toBe(decided[e]);
      const trades = rec.rows;
      const supertypeOfTrade: number[] = [];
      const tradeSize: number[] = [];
      const lpSupertype = env.typesOf(e).lpSupertype;
      for (let r = 0; r < trades; r++) {
        if (rec.episode[r] !== e || rec.agentClass[r] !== CLASS_LT || rec.counterparty[r]! < 0) continue;
        supertypeOfTrade.push(lpSupertype[rec.counterparty[r]!]!);
        tradeSize.push(rec.ltBuyQty[r]! + rec.ltSellQty[r]!);
      }
      const metrics = calibrationMetricsFromTrades({ lpSupertypeOfTrade: supertypeOfTrade, tradeSize, ltTotalQuantity: outcomes.totalLtQuantity[e]! });
      expect(metrics.m_total).toBeCloseTo(lpFilled[e]! / decided[e]!, 12);
      // With neutral quotes the LPs are not better than the ECN on both sides: a large part goes to the ECN.
      expect(metrics.m_total).toBeLessThan(0.8);
    }
  });
});

describe("an ECN side emptied by the flow", () => {
  it("still prices every size (reference depth), so no LT quantity is without a venue (500 LTs, neutral LPs)", () => {
    // A book of about 3 lots per level: the flow of 500 LTs empties a side at the start of many steps.
    const B = 2;
    const T = 40;
    const env = exp4Env(experimentPopulation(4), B, T, 3);
    env.reset(Random.fromSeed(5));
    let emptyAtQuote = 0;
    for (let t = 0; t < T; t++) {
      const empty = [0, 1].map((e) => [env.bookOf(e).bestAsk(), env.bookOf(e).bestBid()].filter((p) => Number.isNaN(p)).length);
      env.step(neutral(env));
      for (let e = 0; e < B; e++) {
        const q = env.lastQuotes(e);
        if (empty[e]! > 0) emptyAtQuote++;
        q.sizes.forEach((_, s) => {
          expect(Number.isFinite(q.ecnBuy[s]!) && Number.isFinite(q.ecnSell[s]!)).toBe(true);
        });
        // The LPs quote too (their quotes are built on the ECN cost), around the last mid.
        expect(q.ask.every(Number.isFinite) && q.bid.every(Number.isFinite)).toBe(true);
      }
    }
    const stats = env.marketStats();
    expect(emptyAtQuote).toBeGreaterThan(0);
    expect(stats.emptySides).toBeGreaterThanOrEqual(emptyAtQuote);
    expect(stats.ltNoVenueQty).toBe(0);
    // Stationary LTs buy or sell every step: all of it is decided and filled.
    const sizes = [0, 1].map((e) => env.typesOf(e).ltSize.reduce((a, x) => a + x, 0));
    expect(stats.ltDecidedQty).toBe(T * (sizes[0]! + sizes[1]!));
    expect(stats.ltLpQty + stats.ltEcnQty).toBe(stats.ltDecidedQty);
  });
});

describe("per-step invariants at the paper's population size (property)", () => {
  it("LT quantity decided = LP-filled + ECN-filled and cash + inventory * P = PnL_inv + PnL_spread, every step", () => {
    const connectivity = fc.array(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 10, maxLength: 10 }), { minLength: 2, maxLength: 2 });
    fc.assert(
      fc.property(connectivity, fc.integer({ min: 0, max: 1_000_000 }), fc.double({ min: 0, max: 3, noNaN: true }), (conn, seed, gamma) => {
        const T = 8;
        const env = exp4Env(calibrationPopulation({ nLp: 10, lp2RiskAversion: "clipped-normal" }, { connectivity: conn, gamma1: gamma }), 1, T);
        const rng = Random.fromSeed(seed);
        const actionRng = rng.split("actions");
        env.reset(rng.split("reset"));
        const decided = new Map<string, number>();
        for (let t = 0; t < T; t++) {
          const lp = new Float32Array(env.classes[0]!.count * 3);
          for (let i = 0; i < lp.length; i += 3) lp.set([actionRng.uniformIn(-1, 2), actionRng.uniformIn(-1, 1), actionRng.uniformIn(0, 1)], i);
          const before = env.marketStats().ltDecidedQty;
          env.step([lp]);
          decided.set(`0:${t}`, env.marketStats().ltDecidedQty - before);
        }
        const rec = env.takeRecord();
        for (const [key, totals] of stepTotals(rec)) {
          const d = decided.get(key)!;
          expect(totals.lp + totals.ecn).toBeCloseTo(d, 9);
        }
        for (let r = 0; r < rec.rows; r++) {
          const wealth = rec.cash[r]! + rec.inventory[r]! * rec.midNext[r]!;
          const scale = Math.abs(rec.cash[r]!) + Math.abs(rec.inventory[r]! * rec.midNext[r]!);
          expect(Math.abs(wealth - rec.pnlInventory[r]! - rec.pnlSpread[r]!)).toBeLessThanOrEqual(1e-9 * (1 + scale));
        }
        const s = env.marketStats();
        expect(s.ltDecidedQty).toBeCloseTo(s.ltLpQty + s.ltEcnQty, 9);
      }),
      { numRuns: 6 }
    );
  });
});

const lpSupertype = (count: number, nLtSupertypes: number): LpSupertype => ({
  name: "lp",
  count,
  gamma: constant(0),
  eta: constant(0.01),
  omega: constant(1),
  mTarget: constant(1),
  connectivity: Array.from({ length: nLtSupertypes }, () => constant(1)),
  ecnConnected: true
});
const ltSupertype = (size: number, count: number, stationary: boolean): LtSupertype => ({
  name: `lt${size}${stationary ? "s" : "l"}`,
  count,
  gamma: constant(0),
  eta: constant(0.01),
  omega: constant(1),
  qA: constant(0.5),
  qB: constant(0.5),
  qLT: constant(size),
  ecnConnected: true,
  stationary
});

const staticEnv = (population: Population, factory: EcnDriverFactory, options: { alpha?: number; levels?: number } = {}) =>
  new OtcEnv({
    config: { ...defaultGameConfig(population), horizon: 6, ecn: { p0Tick: P0, depthLevels: 10, priceRangeTicks: 500 } },
    batchSize: 1,
    ecnModel: standInModel({ alpha: options.alpha ?? 0.2, levels: options.levels ?? 5 }),
    ecnFactory: factory,
    record: true
  });

describe("Stackelberg step: LTs decide on this step's LP quotes", () => {
  const book = staticBookFactory({ spread: 4, askVolumes: [50, 50, 50], bidVolumes: [50, 50, 50] });
  const population: Population = { lp: [lpSupertype(1, 1)], lt: [ltSupertype(2, 1, false)] };
  const layout = staticEnv(population, book).ltObservationLayout();
  const buyCostAt = layout.indexOf("buyCost");
  /** A fixed policy: buy when the observed cost of buying is below one tick per lot (0.2 in cost units), else no trade. */
  const policy = (obs: Float32Array) => Float32Array.from([obs[buyCostAt]! < 0.2 ? LT_BUY : LT_NONE]);

  const firstStep = (spread: number) => {
    const env = staticEnv(population, book);
    env.reset(Random.fromSeed(3));
    let observed = new Float32Array(0);
    const actions = stepInStages(
      env,
      (c) => {
        if (c === env.lpClassIndex) return Float32Array.from([spread, 0, 0]);
        observed = new Float32Array(env.ltObsDim);
        env.observe(c, observed);
        return policy(observed);
      },
      Random.fromSeed(0)
    );
    return { env, observed, action: actions[env.ltClassIndex]![0]!, rec: env.takeRecord() };
  };

  it("a learning LT's observation, and so its action under a fixed policy, follows the quotes of the same step", () => {
    // The ECN costs 2 ticks per lot to buy (half the 4-tick spread); an LP at eps_spread = -1 quotes
    // the mid, at eps_spread = 2 the mid + 6 ticks.
    const tight = firstStep(-1);
    const wide = firstStep(2);
    const cost = (o: Float32Array) => o[buyCostAt]! * defaultGameConfig(population).observation.costTicks;
    expect(cost(tight.observed)).toBeCloseTo(0, 5);
    expect(cost(wide.observed)).toBeCloseTo(2, 5);
    expect(tight.action).toBe(LT_BUY);
    expect(wide.action).toBe(LT_NONE);
    // The LT traded with the LP at the very quote it observed.
    const ltRow = Array.from({ length: tight.rec.rows }, (_, r) => r).find((r) => tight.rec.agentClass[r] === CLASS_LT && tight.rec.t[r] === 0)!;
    expect(tight.rec.counterparty[ltRow]).toBe(0);
    expect(tight.rec.tradePrice[ltRow]! - tight.rec.mid[ltRow]!).toBeCloseTo(cost(tight.observed), 5);
  });

  it("an LT that no venue quotes observes canBuy = canSell = 0 (and no cost), one that has a venue 1", () => {
    const isolated: Population = { lp: [{ ...lpSupertype(1, 2), connectivity: [constant(0), constant(1)] }], lt: [{ ...ltSupertype(2, 1, false), ecnConnected: false }, ltSupertype(3, 1, false)] };
    const env = staticEnv(isolated, book);
    env.reset(Random.fromSeed(3));
    env.applyStage(0, [Float32Array.from([0, 0, 0])]);
    const obs = new Float32Array(2 * env.ltObsDim);
    env.observe(env.ltClassIndex, obs);
    const at = (row: number, name: string) => obs[row * env.ltObsDim + env.ltObservationLayout().indexOf(name)]!;
    expect([at(0, "canBuy"), at(0, "canSell"), at(0, "buyCost"), at(0, "sellCost")]).toEqual([0, 0, 0, 0]);
    expect([at(1, "canBuy"), at(1, "canSell")]).toEqual([1, 1]);
    expect(at(1, "buyCost")).toBeGreaterThan(0);
  });

  it("refuses an LT observation before the LPs of the step have acted", () => {
    const env = staticEnv(population, book);
    env.reset(Random.fromSeed(3));
    expect(() => env.observe(env.ltClassIndex, new Float32Array(env.ltObsDim))).toThrow(/applyStage/);
    env.applyStage(0, [Float32Array.from([0, 0, 0])]);
    expect(() => env.observe(env.ltClassIndex, new Float32Array(env.ltObsDim))).not.toThrow();
  });
});

describe("the reference depth on an empty side", () => {
  it("prices an empty ask side on the model's long-run book from the last best ask, and the trade fills there", () => {
    // Both sides at start; from the first ECN step on, the ask side is empty (the flow took it all).
    const emptiedAsk: EcnDriverFactory = (book, _model, options) => {
      const bids = () => [20, 20, 20].forEach((v, k) => book.submitLimit(BUY, options.p0Tick - 1 - k, v, options.originator));
      return {
        startEpisode: () => {
          bids();
          [20, 20, 20].forEach((v, k) => book.submitLimit(SELL, options.p0Tick + 1 + k, v, options.originator));
        },
        step: () => {
          book.clear();
          bids();
        }
      };
    };
    const longRun = Float64Array.from([3, 2, 1, 30, 30, 30]);
    const population: Population = { lp: [{ ...lpSupertype(1, 1), connectivity: [constant(0)] }], lt: [ltSupertype(8, 1, true)] };
    const env = new OtcEnv({
      config: { ...defaultGameConfig(population), horizon: 3, ecn: { p0Tick: P0, depthLevels: 10, priceRangeTicks: 500 } },
      batchSize: 1,
      ecnModel: { ...standInModel({ alpha: 0.1, levels: 3 }), longRunVolumes: longRun },
      ecnFactory: emptiedAsk,
      record: true
    });
    env.reset(Random.fromSeed(1));
    env.step(neutral(env));
    expect(Number.isNaN(env.bookOf(0).bestAsk())).toBe(true);
    env.takeRecord();
    env.step(neutral(env));
    // 3 + 2 + 1 lots at P0 + 1, + 2, + 3 (the last best ask and behind it), then the tail from a
    // level 3 of 1 lot at P0 + 3: 2 more lots at e^{-0.1 d} per tick d beyond it.
    let remaining = 2;
    let notional = 3 * (P0 + 1) + 2 * (P0 + 2) + 1 * (P0 + 3);
    for (let d = 1; remaining > 0; d++) {
      const take = Math.min(Math.exp(-0.1 * d), remaining);
      notional += take * (P0 + 3 + d);
      remaining -= take;
    }
    const q = env.lastQuotes(0);
    expect(q.ecnBuy[0]).toBeCloseTo(notional / 8, 9);
    expect(env.marketStats().emptySides).toBe(1);
    const rec = env.takeRecord();
    const ltRow = Array.from({ length: rec.rows }, (_, r) => r).find((r) => rec.agentClass[r] === CLASS_LT)!;
    if (rec.action0[ltRow] === LT_BUY) {
      // Filled in full at the price it observed, though the book held nothing on that side.
      expect(rec.ecnBuyQty[ltRow]).toBe(8);
      expect(rec.tradePrice[ltRow]).toBeCloseTo(notional / 8, 9);
    } else {
      expect(rec.ecnSellQty[ltRow]).toBe(8);
    }
  });
});

describe("ECN costs observed = costs delivered", () => {
  it("a hedge beyond the resting book fills in full at the hedge cost the LP observed", () => {
    // A thin static book (2 lots per level, 3 levels): hedges of tens of lots need extrapolated depth.
    const thin = staticBookFactory({ spread: 2, askVolumes: [2, 2, 2], bidVolumes: [2, 2, 2] });
    const population: Population = { lp: [lpSupertype(1, 1)], lt: [ltSupertype(4, 12, true)] };
    const env = staticEnv(population, thin, { alpha: 0.02, levels: 3 });
    const costTicks = defaultGameConfig(population).observation.costTicks;
    const hedgeCost1 = env.lpObservationLayout().indexOf("hedgeCost1");
    env.reset(Random.fromSeed(9));
    const obs = new Float32Array(env.lpObsDim);
    let checked = 0;
    for (let t = 0; t < 6; t++) {
      env.observe(env.lpClassIndex, obs);
      const before = env.accounts();
      const inventory = before.lpInventory[0]!;
      const spreadBefore = before.lpPnlSpread[0]!;
      // Steps 0, 2, 4 build inventory with tight quotes; steps 1, 3, 5 hedge all of it with wide quotes.
      const hedging = t % 2 === 1;
      env.step([Float32Array.from(hedging ? [2, 0, 1] : [-1, 0.5, 0])]);
      if (!hedging || inventory === 0) continue;
      const rec = env.takeRecord();
      const lpRow = Array.from({ length: rec.rows }, (_, r) => r).find((r) => rec.agentClass[r] === CLASS_LP && rec.t[r] === t)!;
      const ltFlow = rec.ltBuyQty[lpRow]! + rec.ltSellQty[lpRow]!;
      if (ltFlow > 0) continue; // the wide quote kept LTs away (else their spread PnL would mix in)
      const hedged = rec.ecnBuyQty[lpRow]! + rec.ecnSellQty[lpRow]!;
      expect(hedged).toBe(Math.abs(inventory));
      expect(hedged).toBeGreaterThan(6); // more than the whole resting side
      const perLot = -(rec.pnlSpread[lpRow]! - spreadBefore) / hedged;
      expect(perLot).toBeCloseTo(obs[hedgeCost1]! * costTicks, 4);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });
});
