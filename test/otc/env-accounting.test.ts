/**
 * Properties of the OTC env from first principles (eqs. 3, 4, 6), over random small
 * populations and random actions, with the real ECN agent on a stand-in ECN model.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Random } from "../../core/random/philox.ts";
import { defaultGameConfig, type OtcGameConfig } from "../../core/otc/config.ts";
import { CLASS_LP, CLASS_LT, COUNTERPARTY_ECN, COUNTERPARTY_NONE, LT_BUY, LT_NONE, LT_SELL, OtcEnv, type OtcStepRecord } from "../../core/otc/env.ts";
import { constant, type LpSupertype, type LtSupertype, type Population } from "../../core/otc/supertypes.ts";
import { stepInStages } from "../../core/rl/vec-env.ts";
import { standInModel } from "./fixtures.ts";

const B = 2;

const populationArb: fc.Arbitrary<Population> = fc
  .record({
    lpCounts: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
    ltCounts: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 })
  })
  .chain(({ lpCounts, ltCounts }) =>
    fc.record({
      lp: fc.tuple(
        ...lpCounts.map((count, i) =>
          fc.record({
            connectivity: fc.array(fc.constantFrom(0, 0.3, 0.7, 1), { minLength: ltCounts.length, maxLength: ltCounts.length }),
            gamma: fc.constantFrom(0, 0.5, 2),
            omega: fc.constantFrom(0, 0.4, 1),
            ecnConnected: fc.boolean()
          }).map(
            (r): LpSupertype => ({
              name: `lp${i}`,
              count,
              gamma: constant(r.gamma),
              eta: constant(0.01),
              omega: constant(r.omega),
              mTarget: constant(1),
              connectivity: r.connectivity.map(constant),
              ecnConnected: r.ecnConnected
            })
          )
        )
      ),
      lt: fc.tuple(
        ...ltCounts.map((count, j) =>
          fc.record({
            size: fc.integer({ min: 1, max: 6 }),
            stationary: fc.boolean(),
            ecnConnected: fc.boolean(),
            omega: fc.constantFrom(0, 0.5, 1),
            gamma: fc.constantFrom(0, 1)
          }).map(
            (r): LtSupertype => ({
              name: `lt${j}`,
              count,
              gamma: constant(r.gamma),
              eta: constant(0.01),
              omega: constant(r.omega),
              qA: constant(0.3),
              qB: constant(0.6),
              qLT: constant(r.size),
              ecnConnected: r.ecnConnected,
              stationary: r.stationary
            })
          )
        )
      )
    })
  );

interface Run {
  env: OtcEnv;
  record: OtcStepRecord;
  /** Per step, per episode: the quote tables of that step. */
  quotes: ReturnType<OtcEnv["lastQuotes"]>[][];
  lpRewards: Float32Array[];
  ltRewards: Float32Array[];
  config: OtcGameConfig;
}

/** Runs one batch with random (partly out-of-bounds) actions drawn from `seed`. */
const run = (population: Population, seed: number, horizon: number): Run => {
  const config: OtcGameConfig = { ...defaultGameConfig(population), horizon, ecn: { p0Tick: 10_000, depthLevels: 12, priceRangeTicks: 2_000 } };
  const env = new OtcEnv({ config, batchSize: B, ecnModel: standInModel({ meanVolume: 8 }), record: true });
  const rng = Random.fromSeed(seed);
  const actionRng = rng.split("actions");
  env.reset(rng.split("reset"));
  const quotes: Run["quotes"] = [];
  const lpRewards: Float32Array[] = [];
  const ltRewards: Float32Array[] = [];
  for (let t = 0; t < horizon; t++) {
    const actions = env.classes.map((c) => {
      if (c.action.kind === "discrete") {
        const n = c.action.n;
        return Float32Array.from({ length: c.count }, () => actionRng.int(n));
      }
      const a = new Float32Array(c.count * 3);
      for (let i = 0; i < a.length; i++) a[i] = actionRng.uniformIn(-3, 3);
      return a;
    });
    const obs = env.classes.map((c) => new Float32Array(c.count * c.obsDim));
    // The Stackelberg order: LPs observe and act, then learning LTs observe this step's quotes.
    stepInStages(env, (ci) => {
      env.observe(ci, obs[ci]!);
      return actions[ci]!;
    }, rng);
    for (const o of obs) for (const x of o) expect(Number.isFinite(x)).toBe(true);
    quotes.push(Array.from({ length: B }, (_, e) => env.lastQuotes(e)));
    const lp = new Float32Array(env.classes[env.lpClassIndex]!.count);
    env.rewards(env.lpClassIndex, lp);
    lpRewards.push(lp);
    if (env.ltClassIndex >= 0) {
      const lt = new Float32Array(env.classes[env.ltClassIndex]!.count);
      env.rewards(env.ltClassIndex, lt);
      ltRewards.push(lt);
    }
  }
  return { env, record: env.takeRecord(), quotes, lpRewards, ltRewards, config };
};

const rowsOf = (record: OtcStepRecord, episode: number, t: number, agentClass: number): number[] => {
  const out: number[] = [];
  for (let r = 0; r < record.rows; r++) {
    if (record.episode[r] === episode && record.t[r] === t && record.agentClass[r] === agentClass) out.push(r);
  }
  return out;
};

const close = (a: number, b: number, scale: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-9 * (1 + scale));

describe("OTC env accounting (property tests)", () => {
  it("cash + inventory * P_{t+1} = PnL_inv + PnL_spread for every agent at every step (eq. 3)", () => {
    fc.assert(
      fc.property(populationArb, fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 3, max: 10 }), (population, seed, horizon) => {
        const { record } = run(population, seed, horizon);
        expect(record.rows).toBe(B * horizon * population.lp.concat().reduce((a, s) => a + s.count, 0) + B * horizon * population.lt.reduce((a, s) => a + s.count, 0));
        for (let r = 0; r < record.rows; r++) {
          const wealth = record.cash[r]! + record.inventory[r]! * record.midNext[r]!;
          close(wealth, record.pnlInventory[r]! + record.pnlSpread[r]!, Math.abs(record.cash[r]!) + Math.abs(record.inventory[r]! * record.midNext[r]!));
        }
      }),
      { numRuns: 25 }
    );
  });

  it("conserves quantity: LT purchases = LP sales + ECN fills, inventories move only by trades, shares sum to 1", () => {
    fc.assert(
      fc.property(populationArb, fc.integer({ min: 0, max: 1_000_000 }), (population, seed) => {
        const horizon = 6;
        const { record } = run(population, seed, horizon);
        const previous = new Map<string, number>();
        for (let e = 0; e < B; e++) {
          for (let t = 0; t < horizon; t++) {
            const lps = rowsOf(record, e, t, CLASS_LP);
            const lts = rowsOf(record, e, t, CLASS_LT);
            const sum = (rows: number[], col: Float64Array) => rows.reduce((a, r) => a + col[r]!, 0);
            close(sum(lts, record.ltBuyQty), sum(lps, record.ltBuyQty), 1);
            close(sum(lts, record.ltSellQty), sum(lps, record.ltSellQty), 1);
            // Every inventory change is an LP-LT trade or an ECN fill of that agent.
            let netChange = 0;
            let netEcn = 0;
            for (const r of [...lps, ...lts]) {
              const key = `${record.agentClass[r]}:${record.agent[r]}:${e}`;
              const before = previous.get(key) ?? 0;
              const change = record.inventory[r]! - before;
              previous.set(key, record.inventory[r]!);
              const lpSide = record.agentClass[r] === CLASS_LP ? record.ltSellQty[r]! - record.ltBuyQty[r]! : record.ltBuyQty[r]! - record.ltSellQty[r]!;
              const ecn = record.ecnBuyQty[r]! - record.ecnSellQty[r]!;
              close(change, lpSide + ecn, Math.abs(before));
              netChange += change;
              netEcn += ecn;
            }
            close(netChange, netEcn, 1);
            // Market share: sum over LPs of m_t plus the ECN's share of LT volume is 1 when LTs traded.
            const ltVolume = lts.reduce((a, r) => a + record.ltBuyQty[r]! + record.ltSellQty[r]! + record.ecnBuyQty[r]! + record.ecnSellQty[r]!, 0);
            const ecnVolume = lts.reduce((a, r) => a + record.ecnBuyQty[r]! + record.ecnSellQty[r]!, 0);
            if (ltVolume > 0) close(lps.reduce((a, r) => a + record.marketShare[r]!, 0) + ecnVolume / ltVolume, 1, 1);
            else for (const r of lps) expect(record.marketShare[r]).toBeNaN();
          }
        }
      }),
      { numRuns: 25 }
    );
  });

  it("LTs trade at the best connected price and never with a disconnected LP", () => {
    fc.assert(
      fc.property(populationArb, fc.integer({ min: 0, max: 1_000_000 }), (population, seed) => {
        const horizon = 5;
        const { record, quotes, env } = run(population, seed, horizon);
        for (let r = 0; r < record.rows; r++) {
          if (record.agentClass[r] !== CLASS_LT) continue;
          const e = record.episode[r]!;
          const k = record.agent[r]!;
          const t = record.t[r]!;
          const types = env.typesOf(e);
          const q = quotes[t]![e]!;
          const s = q.sizes.indexOf(types.ltSize[k]!);
          const nS = q.sizes.length;
          const action = record.action0[r]!;
          const counterparty = record.counterparty[r]!;
          const buying = action === LT_BUY;
          const connected = Array.from({ length: env.nLp }, (_, i) => i).filter((i) => types.connected(i, k));
          const prices = connected.map((i) => (buying ? q.ask : q.bid)[i * nS + s]!);
          if (types.ltEcnConnected[k] === 1) prices.push(buying ? q.ecnBuy[s]! : q.ecnSell[s]!);
          if (action === LT_NONE || prices.length === 0) {
            expect(counterparty).toBe(COUNTERPARTY_NONE);
            continue;
          }
          expect([LT_BUY, LT_SELL]).toContain(action);
          expect(counterparty).not.toBe(COUNTERPARTY_NONE);
          const bestPrice = buying ? Math.min(...prices) : Math.max(...prices);
          expect(record.decisionPrice[r]).toBe(bestPrice);
          if (counterparty === COUNTERPARTY_ECN) {
            expect(types.ltEcnConnected[k]).toBe(1);
            expect(buying ? q.ecnBuy[s] : q.ecnSell[s]).toBe(bestPrice);
          } else {
            expect(types.connected(counterparty, k)).toBe(true);
            expect((buying ? q.ask : q.bid)[counterparty * nS + s]).toBe(bestPrice);
            expect(record.tradePrice[r]).toBe(bestPrice);
            expect(record.ltBuyQty[r]! + record.ltSellQty[r]!).toBe(types.ltSize[k]);
          }
        }
      }),
      { numRuns: 25 }
    );
  });

  it("rewards follow eqs. (4) and (6) from the recorded PnL, market share and trade fractions", () => {
    fc.assert(
      fc.property(populationArb, fc.integer({ min: 0, max: 1_000_000 }), (population, seed) => {
        const horizon = 6;
        const { record, env, lpRewards, ltRewards } = run(population, seed, horizon);
        const learnerIndex = new Map<number, number>();
        env.learningLts.forEach((k, j) => learnerIndex.set(k, j));
        const state = new Map<string, { pnl: number; pnlInv: number; shares: number[]; sells: number; buys: number }>();
        const outcomes = env.episodeOutcomes();
        const sums = new Map<string, number>();
        for (let r = 0; r < record.rows; r++) {
          const e = record.episode[r]!;
          const i = record.agent[r]!;
          const t = record.t[r]!;
          const types = env.typesOf(e);
          const key = `${record.agentClass[r]}:${i}:${e}`;
          const s = state.get(key) ?? { pnl: 0, pnlInv: 0, shares: [], sells: 0, buys: 0 };
          const pnl = record.pnlInventory[r]! + record.pnlSpread[r]!;
          const dInv = record.pnlInventory[r]! - s.pnlInv;
          const dPnl = pnl - s.pnl;
          let expected: number;
          if (record.agentClass[r] === CLASS_LP) {
            const mBefore = s.shares.length === 0 ? 0 : s.shares.reduce((a, b) => a + b, 0) / s.shares.length;
            if (!Number.isNaN(record.marketShare[r]!)) s.shares.push(record.marketShare[r]!);
            const mAfter = s.shares.length === 0 ? 0 : s.shares.reduce((a, b) => a + b, 0) / s.shares.length;
            const target = types.lpMTarget[i]!;
            const omega = types.lpOmega[i]!;
            expected = omega * types.lpEta[i]! * (dPnl - types.lpGamma[i]! * Math.abs(dInv)) - (1 - omega) * (Math.abs(mAfter - target) - Math.abs(mBefore - target));
            expect(Math.abs(lpRewards[t]![e * env.nLp + i]! - expected)).toBeLessThan(1e-5 * (1 + Math.abs(expected)));
          } else {
            const qa = types.ltQA[i]!;
            const qb = types.ltQB[i]!;
            const before = t === 0 ? (qa + qb) / 2 : (Math.abs(s.sells / t - qa) + Math.abs(s.buys / t - qb)) / 2;
            if (record.action0[r] === LT_SELL) s.sells++;
            if (record.action0[r] === LT_BUY) s.buys++;
            const after = (Math.abs(s.sells / (t + 1) - qa) + Math.abs(s.buys / (t + 1) - qb)) / 2;
            const omega = types.ltOmega[i]!;
            expected = omega * types.ltEta[i]! * (dPnl - types.ltGamma[i]! * Math.abs(dInv)) - (1 - omega) * (after - before);
            const j = learnerIndex.get(i);
            if (j !== undefined) expect(Math.abs(ltRewards[t]![e * env.learningLts.length + j]! - expected)).toBeLessThan(1e-5 * (1 + Math.abs(expected)));
          }
          close(record.reward[r]!, expected, Math.abs(expected));
          sums.set(key, (sums.get(key) ?? 0) + expected);
          state.set(key, { ...s, pnl, pnlInv: record.pnlInventory[r]! });
        }
        // Episode rewards (summed per step for LPs, telescoped for LTs) equal the sums of step rewards.
        for (let e = 0; e < B; e++) {
          for (let i = 0; i < env.nLp; i++) close(outcomes.lpEpisodeReward[e * env.nLp + i]!, sums.get(`${CLASS_LP}:${i}:${e}`)!, 1e3);
          for (let k = 0; k < env.nLt; k++) close(outcomes.ltEpisodeReward[e * env.nLt + k]!, sums.get(`${CLASS_LT}:${k}:${e}`)!, 1e3);
        }
      }),
      { numRuns: 20 }
    );
  });

  it("episode outcomes add up: supertype quantities and trade sizes match the LP-LT trades", () => {
    fc.assert(
      fc.property(populationArb, fc.integer({ min: 0, max: 1_000_000 }), (population, seed) => {
        const horizon = 6;
        const { record, env } = run(population, seed, horizon);
        const outcomes = env.episodeOutcomes();
        for (let e = 0; e < B; e++) {
          const perSupertype = new Array(env.nLpSupertypes).fill(0);
          let total = 0;
          const sizes: number[][] = Array.from({ length: env.nLpSupertypes }, () => []);
          for (let r = 0; r < record.rows; r++) {
            if (record.episode[r] !== e) continue;
            if (record.agentClass[r] === CLASS_LP) perSupertype[record.supertype[r]!] += record.ltBuyQty[r]! + record.ltSellQty[r]!;
            else {
              total += record.ltBuyQty[r]! + record.ltSellQty[r]! + record.ecnBuyQty[r]! + record.ecnSellQty[r]!;
              const c = record.counterparty[r]!;
              if (c >= 0) sizes[env.typesOf(e).lpSupertype[c]!]!.push(env.typesOf(e).ltSize[record.agent[r]!]!);
            }
          }
          perSupertype.forEach((x, s) => close(outcomes.lpSupertypeLtQuantity[e * env.nLpSupertypes + s]!, x, x));
          close(outcomes.totalLtQuantity[e]!, total, total);
          sizes.forEach((list, s) => expect(Array.from(outcomes.lpSupertypeTradeSizes[e]![s]!)).toEqual(list.sort((a, b) => a - b)));
        }
      }),
      { numRuns: 15 }
    );
  });
});
