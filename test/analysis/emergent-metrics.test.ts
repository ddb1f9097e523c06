/**
 * The section 5.2 metrics on a small synthetic step record whose values are worked out
 * by hand in the comments: one episode of T = 4 steps, two LPs (the first is measured) and three
 * LTs (two flow LTs of class 0, one PnL LT of class 1). Holding times are also checked against a
 * brute-force reading of their definition on random inventory paths.
 */
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { episodeMetrics, flowResponse, holdingByInventory, holdingTimes, lpTraces, pooledSkewFit, TraceError } from "../../core/analysis/emergent-metrics.ts";
import { CLASS_LP, CLASS_LT, COUNTERPARTY_ECN, COUNTERPARTY_NONE, type OtcStepRecord } from "../../core/otc/env.ts";

type Row = Partial<Record<Exclude<keyof OtcStepRecord, "rows">, number>>;

const record = (rows: Row[]): OtcStepRecord => {
  const n = rows.length;
  const f64 = (k: keyof Row, fill = 0) => Float64Array.from(rows, (r) => r[k] ?? fill);
  return {
    rows: n,
    episode: Int32Array.from(rows, (r) => r.episode ?? 5),
    t: Int32Array.from(rows, (r) => r.t ?? 0),
    agent: Int32Array.from(rows, (r) => r.agent ?? 0),
    agentClass: Uint8Array.from(rows, (r) => r.agentClass ?? CLASS_LP),
    supertype: Int32Array.from(rows, (r) => r.supertype ?? 0),
    action0: Float32Array.from(rows, (r) => r.action0 ?? 0),
    action1: Float32Array.from(rows, (r) => r.action1 ?? 0),
    action2: Float32Array.from(rows, (r) => r.action2 ?? 0),
    mid: f64("mid", 100),
    quoteAsk: f64("quoteAsk"),
    quoteBid: f64("quoteBid"),
    ltTrades: Int32Array.from(rows, (r) => r.ltTrades ?? 0),
    ltBuyQty: f64("ltBuyQty"),
    ltSellQty: f64("ltSellQty"),
    ecnBuyQty: f64("ecnBuyQty"),
    ecnSellQty: f64("ecnSellQty"),
    counterparty: Int32Array.from(rows, (r) => r.counterparty ?? COUNTERPARTY_NONE),
    decisionPrice: f64("decisionPrice"),
    tradePrice: f64("tradePrice"),
    inventory: f64("inventory"),
    cash: f64("cash"),
    pnlInventory: f64("pnlInventory"),
    pnlSpread: f64("pnlSpread"),
    reward: f64("reward"),
    marketShare: f64("marketShare"),
    midNext: f64("midNext", 100)
  };
};

// LP 0: actions (spread, skew, hedge), flows it received, inventory after each step.
const lp0 = [
  { action0: 1, action1: 0.5, action2: 0.2, ltBuyQty: 1, ltSellQty: 0, inventory: -1, reward: 0.1 },
  { action0: 0, action1: -0.5, action2: 0.4, ltBuyQty: 0, ltSellQty: 3, inventory: -2, reward: 0.2 },
  { action0: 2, action1: 0, action2: 0, ltBuyQty: 2, ltSellQty: 0, inventory: 3, reward: -0.1 },
  { action0: 1, action1: -1, action2: 0.6, ltBuyQty: 0, ltSellQty: 1, inventory: 1, reward: 0.3, pnlInventory: 5, pnlSpread: 2 }
];
// LT rows (agent, class, counterparty, buy from LPs, sell to LPs, ECN buy).
const lts: Row[] = [
  { t: 0, agent: 0, supertype: 0, counterparty: 0, ltBuyQty: 1 },
  { t: 0, agent: 2, supertype: 1, counterparty: COUNTERPARTY_ECN, ecnBuyQty: 1 },
  { t: 1, agent: 1, supertype: 0, counterparty: 0, ltSellQty: 2 },
  { t: 1, agent: 2, supertype: 1, counterparty: 0, ltSellQty: 1 },
  { t: 2, agent: 0, supertype: 0, counterparty: 0, ltBuyQty: 1 },
  { t: 2, agent: 2, supertype: 1, counterparty: 0, ltBuyQty: 1 },
  { t: 3, agent: 2, supertype: 1, counterparty: 0, ltSellQty: 1 },
  { t: 3, agent: 1, supertype: 0, counterparty: 1, ltBuyQty: 2 }
];
const rows: Row[] = [
  ...lp0.map((r, t) => ({ ...r, t, agent: 0, agentClass: CLASS_LP })),
  ...lp0.map((_, t) => ({ t, agent: 1, agentClass: CLASS_LP, action1: 9, inventory: 40, ltBuyQty: t === 3 ? 2 : 0 })),
  ...lts.map((r) => ({ ...r, agentClass: CLASS_LT })),
  // Another episode that must be ignored.
  { episode: 6, t: 0, agent: 0, agentClass: CLASS_LP, action1: 7, inventory: 9 }
];
const options = { lp: 0, horizon: 4, ltClasses: 2, episodes: [5], connected: [Float64Array.from([2, 1])] };
const [trace] = lpTraces(record(rows), options);

describe("lpTraces", () => {
  it("reads the first LP's actions, inventories and flows per LT class", () => {
    expect([...trace!.inventoryStart]).toEqual([0, -1, -2, 3]);
    expect([...trace!.skew]).toEqual([0.5, -0.5, 0, -1]);
    expect([...trace!.flowAsk]).toEqual([1, 0, 2, 0]);
    expect([...trace!.flowBid]).toEqual([0, 3, 0, 1]);
    // Class 0 (flow LTs): ask 1 at t0 and t2, bid 2 at t1. Class 1: bid 1 at t1, ask 1 at t2, bid 1 at t3.
    expect([...trace!.classFlowAsk]).toEqual([1, 0, 1, 0, 0, 0, 1, 0]);
    expect([...trace!.classFlowBid]).toEqual([0, 2, 0, 0, 0, 1, 0, 1]);
    // LT volume: LP 0 flows 7, the ECN buy 1, LP 1's trade 2.
    expect(trace!.ltVolume).toBe(10);
    expect(trace!.pnl).toBe(7);
    expect(trace!.reward).toBeCloseTo(0.5, 12);
  });

  it("refuses an episode with missing steps", () => {
    expect(() => lpTraces(record(rows.filter((r) => !(r.agentClass === CLASS_LP && r.agent === 0 && r.t === 2))), options)).toThrow(TraceError);
  });
});

describe("episodeMetrics", () => {
  const m = episodeMetrics(trace!);
  it("skew intensity is the OLS slope of eps_skew on q_t", () => {
    // x = (0, -1, -2, 3), mean 0, Sxx = 14; y = (0.5, -0.5, 0, -1): Sxy = sum x y = 0.5 - 3 = -2.5.
    expect(m.skewIntensity).toBeCloseTo(-2.5 / 14, 6);
  });
  it("holding times: first time the inventory reaches zero or the other side, censored at T", () => {
    // path 0, -1, -2, 3, 1: t1 (q=-1) ends at t3 -> 2; t2 (q=-2) at t3 -> 1; t3 (q=3) never -> T - 3 = 1 (censored).
    expect(m.meanHoldingTime).toBeCloseTo(4 / 3, 12);
    expect(m.censoredHoldingFraction).toBeCloseTo(1 / 3, 12);
  });
  it("hedge fraction, prices, flows, market share and inventory", () => {
    expect(m.hedgeFraction).toBeCloseTo(0.3, 6);
    // eps_alpha averaged over sides is eps_spread / 2: (0.5 + 0 + 1 + 0.5) / 4.
    expect(m.averagePrice).toBeCloseTo(0.5, 12);
    // Flow-weighted: ask 1.0 x 1, bid 0.5 x 3, ask 1.0 x 2, bid 1.5 x 1 -> 6 / 7.
    expect(m.flowWeightedPrice).toBeCloseTo(6 / 7, 6);
    // Per connected LT per step: class 0: 4 / (2 x 4); class 1: 3 / (1 x 4).
    expect([...m.flowPerConnected]).toEqual([0.5, 0.75]);
    expect(m.marketShare).toBeCloseTo(0.7, 12);
    expect(m.meanAbsInventory).toBeCloseTo(7 / 4, 12);
    expect(m.pnl).toBe(7);
  });
});

describe("flowResponse (eq. 27) and holdingByInventory", () => {
  it("averages the flow per (step, side) in bins of eps_alpha", () => {
    // Points (eps, flow): (1, 1) (0, 0) | (-0.5, 0) (0.5, 3) | (1, 2) (1, 0) | (-0.5, 0) (1.5, 1); below-range eps go to bin 0.
    const f = flowResponse([trace!], { low: 0, high: 2, width: 0.5 });
    expect([...f.eps]).toEqual([0.25, 0.75, 1.25, 1.75]);
    expect([...f.count]).toEqual([3, 1, 3, 1]);
    expect([...f.flow]).toEqual([0, 3, 1, 1]);
    // Per connected LT: class 0 (2 connected): 2/2 at eps 0.5; (1 + 1)/2 over 3 points at eps 1.
    expect(f.classFlow[0]![1]).toBeCloseTo(1, 12);
    expect(f.classFlow[0]![2]).toBeCloseTo(1 / 3, 12);
    expect(f.classFlow[1]![2]).toBeCloseTo(1 / 3, 12);
    expect(f.classFlow[1]![3]).toBeCloseTo(1, 12);
  });
  it("buckets holding times by inventory", () => {
    const h = holdingByInventory([trace!], 2);
    // q = -1 -> bucket 0 (tau 2), q = -2 -> bucket -2 (tau 1), q = 3 -> bucket 4 (tau 1).
    expect([...h.inventory]).toEqual([-2, 0, 4]);
    expect([...h.meanHoldingTime]).toEqual([1, 2, 1]);
    expect([...h.count]).toEqual([1, 1, 1]);
  });
  it("pools the skew regression over episodes", () => {
    expect(pooledSkewFit([trace!]).slope).toBeCloseTo(-2.5 / 14, 6);
  });
});

describe("holdingTimes", () => {
  test.prop([fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 2, maxLength: 30 })])("matches the definition read literally", (path) => {
    const T = path.length - 1;
    const { times, censored } = holdingTimes(path);
    for (let t = 0; t < T; t++) {
      const q = path[t]!;
      if (q === 0) {
        expect(Number.isNaN(times[t]!)).toBe(true);
        continue;
      }
      let tau = -1;
      for (let s = 1; t + s <= T; s++) {
        if (path[t + s]! * q <= 0) {
          tau = s;
          break;
        }
      }
      expect(times[t]).toBe(tau < 0 ? T - t : tau);
      expect(censored[t]).toBe(tau < 0 ? 1 : 0);
    }
  });
});
