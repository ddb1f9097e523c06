/**
 * Hand-built mechanics of the OTC env on a static, known ECN book (eq. 5), and
 * determinism (results independent of how episodes are batched).
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { OrderBook, BUY, SELL } from "../../core/book/order-book.ts";
import { Random } from "../../core/random/philox.ts";
import { defaultGameConfig, type OtcGameConfig } from "../../core/otc/config.ts";
import { CLASS_LP, OtcEnv, type EcnDriverFactory, type OtcStepRecord } from "../../core/otc/env.ts";
import { constant, type LpSupertype, type LtSupertype, type Population } from "../../core/otc/supertypes.ts";
import { stepInStages } from "../../core/rl/vec-env.ts";
import { handFillPrice, standInModel, staticBookFactory } from "./fixtures.ts";

const P0 = 10_000;
/** xi_LP = 0.1 bp of P0 = 0.1 tick. */
const XI = 0.1;

const lpSupertype = (count: number, nLtSupertypes: number, p = 1): LpSupertype => ({
  name: "lp",
  count,
  gamma: constant(0),
  eta: constant(0.01),
  omega: constant(1),
  mTarget: constant(1),
  connectivity: Array.from({ length: nLtSupertypes }, () => constant(p)),
  ecnConnected: true
});
const ltSupertype = (size: number, count: number, stationary = true): LtSupertype => ({
  name: `lt${size}`,
  count,
  gamma: constant(0),
  eta: constant(0.01),
  omega: constant(0),
  qA: constant(0.5),
  qB: constant(0.5),
  qLT: constant(size),
  ecnConnected: true,
  stationary
});

const makeEnv = (population: Population, ecnFactory: EcnDriverFactory, options: { batchSize?: number; horizon?: number; first?: number; alpha?: number; levels?: number } = {}) => {
  const config: OtcGameConfig = { ...defaultGameConfig(population), horizon: options.horizon ?? 10, ecn: { p0Tick: P0, depthLevels: 10, priceRangeTicks: 500 } };
  return new OtcEnv({
    config,
    batchSize: options.batchSize ?? 1,
    ecnModel: standInModel({ alpha: options.alpha ?? 0.2, levels: options.levels ?? 5 }),
    ecnFactory,
    firstEpisodeIndex: options.first ?? 0,
    record: true
  });
};

/** The same LP action for every LP of every episode. */
const lpActions = (env: OtcEnv, spread: number, skew: number, hedge: number): Float32Array[] =>
  env.classes.map((c) => {
    if (c.name !== "lp") return new Float32Array(c.count).fill(2);
    const a = new Float32Array(c.count * 3);
    for (let i = 0; i < c.count; i++) a.set([spread, skew, hedge], i * 3);
    return a;
  });

const VOLUMES = [3, 4, 5, 6, 7];
const symmetricBook = staticBookFactory({ spread: 2, askVolumes: VOLUMES, bidVolumes: VOLUMES });
const sizesPopulation: Population = {
  lp: [lpSupertype(2, 8)],
  lt: Array.from({ length: 8 }, (_, i) => ltSupertype(i + 1, 1))
};

describe("LP quotes (eq. 5) on a hand-built book", () => {
  it("with eps_spread = eps_skew = 0 quote the ECN cost of every size, rounded outwards to the 0.1 bp grid", () => {
    const env = makeEnv(sizesPopulation, symmetricBook);
    env.reset(Random.fromSeed(1));
    env.step(lpActions(env, 0, 0, 0));
    const q = env.lastQuotes(0);
    expect(Array.from(q.sizes)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    q.sizes.forEach((size, s) => {
      const buy = handFillPrice(P0 + 1, 1, VOLUMES, size);
      const sell = handFillPrice(P0 - 1, -1, VOLUMES, size);
      expect(q.ecnBuy[s]).toBeCloseTo(buy, 9);
      expect(q.ecnSell[s]).toBeCloseTo(sell, 9);
      for (let i = 0; i < env.nLp; i++) {
        const ask = q.ask[i * q.sizes.length + s]!;
        const bid = q.bid[i * q.sizes.length + s]!;
        expect(ask).toBeGreaterThanOrEqual(buy - 1e-9);
        expect(ask).toBeLessThan(buy + XI);
        expect(bid).toBeLessThanOrEqual(sell + 1e-9);
        expect(bid).toBeGreaterThan(sell - XI);
        // On the grid.
        expect(Math.abs(ask / XI - Math.round(ask / XI))).toBeLessThan(1e-6);
        expect(Math.abs(bid / XI - Math.round(bid / XI))).toBeLessThan(1e-6);
      }
    });
  });

  it("raising eps_skew by d moves both quotes up by d * x; raising eps_spread by d widens each side by d * x / 2", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1, max: 1, noNaN: true }),
        fc.double({ min: -1, max: 1, noNaN: true }),
        fc.double({ min: -1, max: 2, noNaN: true }),
        (skew, skew2, spread) => {
          const quotesFor = (sp: number, sk: number) => {
            const env = makeEnv(sizesPopulation, symmetricBook);
            env.reset(Random.fromSeed(2));
            env.step(lpActions(env, sp, sk, 0));
            return env.lastQuotes(0);
          };
          const x = 2; // market spread of the hand-built book
          const a = quotesFor(spread, skew);
          const b = quotesFor(spread, skew2);
          const shift = (skew2 - skew) * x;
          for (let j = 0; j < a.ask.length; j++) {
            expect(Math.abs(b.ask[j]! - a.ask[j]! - shift)).toBeLessThan(XI + 1e-9);
            expect(Math.abs(b.bid[j]! - a.bid[j]! - shift)).toBeLessThan(XI + 1e-9);
          }
          const c = quotesFor(Math.min(2, spread + 0.5), skew);
          const widen = ((Math.min(2, spread + 0.5) - spread) * x) / 2;
          for (let j = 0; j < a.ask.length; j++) {
            expect(Math.abs(c.ask[j]! - a.ask[j]! - widen)).toBeLessThan(XI + 1e-9);
            expect(Math.abs(a.bid[j]! - c.bid[j]! - widen)).toBeLessThan(XI + 1e-9);
          }
        }
      ),
      { numRuns: 30 }
    );
    // A shift that is a whole number of grid steps is exact.
    const env0 = makeEnv(sizesPopulation, symmetricBook);
    env0.reset(Random.fromSeed(2));
    env0.step(lpActions(env0, 0, 0, 0));
    const env1 = makeEnv(sizesPopulation, symmetricBook);
    env1.reset(Random.fromSeed(2));
    env1.step(lpActions(env1, 0, 0.25, 0));
    const a = env0.lastQuotes(0);
    const b = env1.lastQuotes(0);
    for (let j = 0; j < a.ask.length; j++) {
      expect(b.ask[j]! - a.ask[j]!).toBeCloseTo(0.5, 9);
      expect(b.bid[j]! - a.bid[j]!).toBeCloseTo(0.5, 9);
    }
  });

  it("positive skew attracts LT sells and repels buys; negative skew the reverse", () => {
    const population: Population = { lp: [lpSupertype(1, 1)], lt: [ltSupertype(1, 200)] };
    const flows = (skew: number) => {
      const env = makeEnv(population, symmetricBook, { horizon: 5 });
      env.reset(Random.fromSeed(3));
      for (let t = 0; t < 5; t++) env.step(lpActions(env, 0, skew, 0));
      const rec = env.takeRecord();
      let bought = 0;
      let sold = 0;
      for (let r = 0; r < rec.rows; r++) {
        if (rec.agentClass[r] !== CLASS_LP) continue;
        bought += rec.ltBuyQty[r]!;
        sold += rec.ltSellQty[r]!;
      }
      return { ltBought: bought, ltSold: sold };
    };
    const up = flows(0.5);
    expect(up.ltBought).toBe(0);
    expect(up.ltSold).toBeGreaterThan(300);
    const down = flows(-0.5);
    expect(down.ltSold).toBe(0);
    expect(down.ltBought).toBeGreaterThan(300);
    // In between, LP flow moves monotonically from buys to sells.
    const skews = [-0.5, -0.2, 0, 0.2, 0.5];
    const net = skews.map((s) => {
      const f = flows(s);
      return (f.ltSold - f.ltBought) / (f.ltSold + f.ltBought || 1);
    });
    for (let i = 1; i < net.length; i++) expect(net[i]!).toBeGreaterThanOrEqual(net[i - 1]! - 0.1);
    expect(net[net.length - 1]! - net[0]!).toBeGreaterThan(1.5);
  });

  it("hedges round(eps_hedge * |q_t|) of the start-of-step inventory on the ECN, against its sign", () => {
    const deep = staticBookFactory({ spread: 2, askVolumes: [1e6, 1e6], bidVolumes: [1e6, 1e6] });
    const population: Population = { lp: [lpSupertype(1, 1)], lt: [ltSupertype(3, 50)] };
    const env = makeEnv(population, deep, { horizon: 8 });
    env.reset(Random.fromSeed(4));
    const hedges = [0.5, 0.3, 1, 0.75, 0, 1, 0.4, 0.9];
    hedges.forEach((h, t) => env.step(lpActions(env, -1, t % 2 === 0 ? 0.4 : -0.4, h)));
    const rec = env.takeRecord();
    let inventoryBefore = 0;
    for (let r = 0; r < rec.rows; r++) {
      if (rec.agentClass[r] !== CLASS_LP) continue;
      const t = rec.t[r]!;
      const expected = Math.round(hedges[t]! * Math.abs(inventoryBefore));
      if (inventoryBefore > 0) {
        expect(rec.ecnSellQty[r]).toBe(expected);
        expect(rec.ecnBuyQty[r]).toBe(0);
      } else {
        expect(rec.ecnBuyQty[r]).toBe(expected);
        expect(rec.ecnSellQty[r]).toBe(0);
      }
      inventoryBefore = rec.inventory[r]!;
    }
  });

  it("prices sizes beyond the resting book with the model's depth extrapolation, floored at the reference depth", () => {
    const thin = staticBookFactory({ spread: 2, askVolumes: [1, 2, 1], bidVolumes: [2, 1, 1] });
    const population: Population = { lp: [lpSupertype(1, 6)], lt: Array.from({ length: 6 }, (_, i) => ltSupertype(i + 3, 1)) };
    const alpha = 0.1;
    const env = makeEnv(population, thin, { alpha, levels: 2 });
    env.reset(Random.fromSeed(5));
    env.step(lpActions(env, 0, 0, 0));
    const q = env.lastQuotes(0);
    // The stand-in model carries no long-run volumes, so the reference depth is the initial book's
    // top 2 levels: V̄_2 = 2 (ask) and 1 (bid). Beyond the deepest resting level (3 ticks from the
    // best), d ticks further hold A e^{-alpha d}, A = max(V_2 e^{-alpha * 1}, V̄_2): the paper's
    // extrapolation from level 2, or from a level 2 at its long-run volume if that is deeper.
    const price = (levels: readonly number[], best: number, direction: 1 | -1, anchor: number, size: number) => {
      let remaining = size;
      let notional = 0;
      levels.forEach((v, k) => {
        const take = Math.min(v, remaining);
        notional += take * (best + direction * k);
        remaining -= take;
      });
      const start = Math.max(levels[1]! * Math.exp(-alpha), anchor);
      for (let d = 1; remaining > 1e-12; d++) {
        const take = Math.min(start * Math.exp(-alpha * d), remaining);
        notional += take * (best + direction * (levels.length - 1 + d));
        remaining -= take;
      }
      return notional / size;
    };
    let extrapolated = 0;
    q.sizes.forEach((size, s) => {
      expect(q.ecnBuy[s]).toBeCloseTo(price([1, 2, 1], P0 + 1, 1, 2, size), 9);
      expect(q.ecnSell[s]).toBeCloseTo(price([2, 1, 1], P0 - 1, -1, 1, size), 9);
      if (size > 4) extrapolated++;
    });
    expect(extrapolated).toBeGreaterThan(0);
  });

  it("refuses an LT size larger than the depth every side always prices", () => {
    const thin = staticBookFactory({ spread: 2, askVolumes: [1, 2, 1], bidVolumes: [2, 1, 1] });
    const population: Population = { lp: [lpSupertype(1, 1)], lt: [ltSupertype(3, 1)] };
    // V̄_2 = 1 on the bid side: at alpha = 0.5 every side always prices 1 / (e^0.5 - 1) = 1.54 lots.
    const env = makeEnv(population, thin, { alpha: 0.5, levels: 2 });
    expect(() => env.reset(Random.fromSeed(5))).toThrow(/exceeds the 1.54 lots/);
  });

  it("clips actions to their bounds and exposes documented observation layouts", () => {
    const population: Population = { lp: [lpSupertype(2, 2)], lt: [ltSupertype(1, 3), ltSupertype(2, 2, false)] };
    const env = makeEnv(population, symmetricBook);
    expect(env.classes.map((c) => c.name)).toEqual(["lp", "lt"]);
    expect(env.lpObservationLayout()).toHaveLength(env.lpObsDim);
    expect(env.ltObservationLayout()).toHaveLength(env.ltObsDim);
    expect(env.classes[1]!.count).toBe(2);
    env.reset(Random.fromSeed(6));
    env.step([Float32Array.from([9, -9, 7, -9, 9, -7]), Float32Array.from([0, 1])]);
    const rec = env.takeRecord();
    const lpRows = [0, 1];
    expect(lpRows.map((r) => [rec.action0[r], rec.action1[r], rec.action2[r]])).toEqual([
      [2, -1, 1],
      [-1, 1, 0]
    ]);
    expect(() => {
      for (let t = 0; t < 20; t++) env.step(lpActions(env, 0, 0, 0));
    }).toThrow(/reset/);
  });
});

describe("determinism", () => {
  const population: Population = { lp: [lpSupertype(2, 2, 0.6), { ...lpSupertype(1, 2, 0.3), name: "lp2" }], lt: [ltSupertype(1, 20), ltSupertype(3, 4, false)] };
  /** Actions that depend only on (global episode, t, class, agent). */
  const actionsFor = (env: OtcEnv, t: number): Float32Array[] =>
    env.classes.map((c) => {
      const perEpisode = c.count / env.batchSize;
      const dim = c.action.kind === "continuous" ? c.action.dim : 1;
      const out = new Float32Array(c.count * dim);
      for (let b = 0; b < env.batchSize; b++) {
        const rng = Random.fromSeed(77).split(env.firstEpisodeIndex + b).split(t).split(c.name);
        for (let j = 0; j < perEpisode * dim; j++) out[b * perEpisode * dim + j] = c.action.kind === "continuous" ? rng.uniformIn(-1.5, 2.5) : rng.int(3);
      }
      return out;
    });
  const runBatch = (batchSize: number, first: number, horizon = 12): OtcStepRecord => {
    const env = new OtcEnv({
      config: { ...defaultGameConfig(population), horizon },
      batchSize,
      ecnModel: standInModel(),
      firstEpisodeIndex: first,
      record: true
    });
    env.reset(Random.fromSeed(123));
    for (let t = 0; t < horizon; t++) {
      const actions = actionsFor(env, t);
      stepInStages(env, (ci) => {
        const c = env.classes[ci]!;
        env.observe(ci, new Float32Array(c.count * c.obsDim));
        return actions[ci]!;
      }, Random.fromSeed(0));
    }
    return env.takeRecord();
  };
  const episodeRows = (rec: OtcStepRecord, episode: number) => {
    const out: Record<string, number[]> = {};
    for (const [name, col] of Object.entries(rec)) {
      if (name === "rows") continue;
      out[name] = [];
      for (let r = 0; r < rec.rows; r++) if (rec.episode[r] === episode) out[name]!.push((col as Float64Array)[r]!);
    }
    return out;
  };

  it("the same seed and actions give identical records", () => {
    const a = runBatch(2, 0);
    const b = runBatch(2, 0);
    expect(a.rows).toBeGreaterThan(0);
    for (const [name, col] of Object.entries(a)) {
      if (name === "rows") continue;
      expect(Array.from(col as Float64Array)).toEqual(Array.from((b as unknown as Record<string, Float64Array>)[name]!));
    }
  });

  it("an episode's results do not depend on how episodes are split across batches", () => {
    const whole = runBatch(4, 0);
    const first = runBatch(2, 0);
    const second = runBatch(2, 2);
    for (let e = 0; e < 4; e++) {
      const split = episodeRows(e < 2 ? first : second, e);
      expect(episodeRows(whole, e)).toEqual(split);
    }
    // And different episodes differ.
    expect(episodeRows(whole, 0).inventory).not.toEqual(episodeRows(whole, 1).inventory);
  });
});
