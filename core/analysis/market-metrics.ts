/**
 * Per-episode market metrics for comparing two markets (paper section 1's what-if questions,
 * "impact on a given LP's market share of increasing risk aversion of specific competitors";
 * the metrics are those of sections 5.1 and 5.2). One pass over the OTC env's step record turns
 * each episode into one value per (metric, entity), where the entity is an LP, an LP supertype or
 * the whole market:
 * - marketShare: quantity LTs traded with the LP (or the supertype's LPs, or all LPs) over the
 *   quantity all LTs traded, with LPs and the ECN (the m of section 4.2, per episode);
 * - spread, skew, hedgeFraction: the mean applied eps_spread, eps_skew and eps_hedge over the
 *   episode's steps (and over the supertype's LPs);
 * - meanAbsInventory: the mean |q_t| after each step; pnl: the final PnL (inventory + spread);
 *   reward: the sum of the LP's rewards;
 * - market-wide: ecnVolume (LT ECN trades and LP hedges filled on the ECN), ltVolume, and
 *   ltCost, the quantity-weighted mean of what LTs paid over the mid per lot (price - mid for a
 *   buy, mid - price for a sell, in ticks).
 * Values are per episode so that two markets played on the same seeds can be compared pairwise.
 */
import { CLASS_LP, CLASS_LT, type OtcStepRecord } from "../otc/env.ts";

export const LP_METRICS = ["marketShare", "spread", "skew", "hedgeFraction", "meanAbsInventory", "pnl", "reward"] as const;
export const MARKET_METRICS = ["marketShare", "ecnVolume", "ltVolume", "ltCost"] as const;
export type LpMetric = (typeof LP_METRICS)[number];
export type MarketMetric = (typeof MARKET_METRICS)[number];

export const METRIC_MEANINGS: Readonly<Record<LpMetric | MarketMetric, string>> = {
  marketShare: "share of all LT quantity traded with the LP(s), over the episode",
  spread: "mean applied eps_spread (ticks)",
  skew: "mean applied eps_skew (ticks)",
  hedgeFraction: "mean applied eps_hedge (fraction of inventory hedged per step)",
  meanAbsInventory: "mean |inventory| after each step (lots)",
  pnl: "final PnL, inventory + spread (ticks x lots)",
  reward: "sum of the LP's rewards over the episode",
  ecnVolume: "quantity filled on the ECN: LT trades and LP hedges (lots)",
  ltVolume: "quantity all LTs traded, with LPs and the ECN (lots)",
  ltCost: "LTs' quantity-weighted mean price paid over the mid (ticks per lot)"
};

/** Which agents a row describes: one LP, one LP supertype (1-based as in the paper) or the market. */
export type MetricEntity = { readonly kind: "lp"; readonly index: number } | { readonly kind: "supertype"; readonly index: number } | { readonly kind: "market" };

export const entityLabel = (entity: MetricEntity): string =>
  entity.kind === "market" ? "market" : entity.kind === "lp" ? `LP ${entity.index + 1}` : `supertype ${entity.index + 1}`;

export interface MetricSeries {
  readonly metric: LpMetric | MarketMetric;
  readonly entity: MetricEntity;
  /** One value per episode, in the order of `MarketEpisodeMetrics.episodes`. */
  readonly values: Float64Array;
}

export interface MarketEpisodeMetrics {
  /** Global episode indices, ascending. */
  readonly episodes: Int32Array;
  readonly series: ReadonlyArray<MetricSeries>;
}

export class MarketRecordError extends Error {
  readonly _tag = "MarketRecordError";
  constructor(reason: string) {
    super(`Cannot compute market metrics: ${reason}; record whole episodes (OtcEnv with record: true) before extracting.`);
  }
}

/** The metrics of every episode in `record`, for `nLp` LPs of `nLpSupertypes` supertypes. */
export const marketEpisodeMetrics = (record: OtcStepRecord, shape: { readonly nLp: number; readonly nLpSupertypes: number; readonly horizon: number }): MarketEpisodeMetrics => {
  const { nLp, nLpSupertypes: nS, horizon: T } = shape;
  const slot = new Map<number, number>();
  for (let r = 0; r < record.rows; r++) if (!slot.has(record.episode[r]!)) slot.set(record.episode[r]!, slot.size);
  const episodes = Int32Array.from([...slot.keys()].sort((a, b) => a - b));
  episodes.forEach((e, k) => slot.set(e, k));
  const E = episodes.length;
  const perLp = () => new Float64Array(E * nLp);
  const lpQty = perLp();
  const spread = perLp();
  const skew = perLp();
  const hedge = perLp();
  const absInventory = perLp();
  const pnl = perLp().fill(Number.NaN);
  const reward = perLp();
  const lpSteps = perLp();
  const lpSupertype = new Int32Array(E * nLp).fill(-1);
  const ltVolume = new Float64Array(E);
  const ecnVolume = new Float64Array(E);
  const costSum = new Float64Array(E);
  const costQty = new Float64Array(E);
  for (let r = 0; r < record.rows; r++) {
    const k = slot.get(record.episode[r]!)!;
    if (record.agentClass[r] === CLASS_LP) {
      const i = record.agent[r]!;
      if (i < 0 || i >= nLp) throw new MarketRecordError(`LP index ${i} outside the ${nLp} LPs`);
      const s = record.supertype[r]!;
      if (s < 0 || s >= nS) throw new MarketRecordError(`LP supertype ${s} outside the ${nS} supertypes`);
      const a = k * nLp + i;
      lpSupertype[a] = s;
      lpSteps[a]! += 1;
      spread[a]! += record.action0[r]!;
      skew[a]! += record.action1[r]!;
      hedge[a]! += record.action2[r]!;
      absInventory[a]! += Math.abs(record.inventory[r]!);
      reward[a]! += record.reward[r]!;
      ecnVolume[k]! += record.ecnBuyQty[r]! + record.ecnSellQty[r]!;
      if (record.t[r] === T - 1) pnl[a] = record.pnlInventory[r]! + record.pnlSpread[r]!;
    } else if (record.agentClass[r] === CLASS_LT) {
      const lpBought = record.ltBuyQty[r]!;
      const lpSold = record.ltSellQty[r]!;
      const ecnBought = record.ecnBuyQty[r]!;
      const ecnSold = record.ecnSellQty[r]!;
      const quantity = lpBought + lpSold + ecnBought + ecnSold;
      ltVolume[k]! += quantity;
      ecnVolume[k]! += ecnBought + ecnSold;
      const counterparty = record.counterparty[r]!;
      if (counterparty >= 0) {
        if (counterparty >= nLp) throw new MarketRecordError(`LT counterparty ${counterparty} outside the ${nLp} LPs`);
        lpQty[k * nLp + counterparty]! += lpBought + lpSold;
      }
      const price = record.tradePrice[r]!;
      if (quantity > 0 && Number.isFinite(price)) {
        const bought = lpBought + ecnBought;
        const sold = lpSold + ecnSold;
        costSum[k]! += (price - record.mid[r]!) * (bought - sold);
        costQty[k]! += bought + sold;
      }
    }
  }
  for (let a = 0; a < E * nLp; a++) {
    if (lpSteps[a] !== T) throw new MarketRecordError(`episode ${episodes[Math.floor(a / nLp)]} has ${lpSteps[a]} of the ${T} steps of LP ${(a % nLp) + 1}`);
  }

  const series: MetricSeries[] = [];
  const lpValue = (metric: LpMetric, k: number, i: number): number => {
    const a = k * nLp + i;
    switch (metric) {
      case "marketShare":
        return ltVolume[k]! > 0 ? lpQty[a]! / ltVolume[k]! : Number.NaN;
      case "spread":
        return spread[a]! / T;
      case "skew":
        return skew[a]! / T;
      case "hedgeFraction":
        return hedge[a]! / T;
      case "meanAbsInventory":
        return absInventory[a]! / T;
      case "pnl":
        return pnl[a]!;
      case "reward":
        return reward[a]!;
    }
  };
  for (const metric of LP_METRICS) {
    for (let i = 0; i < nLp; i++) series.push({ metric, entity: { kind: "lp", index: i }, values: Float64Array.from({ length: E }, (_, k) => lpValue(metric, k, i)) });
    for (let s = 0; s < nS; s++) {
      const values = Float64Array.from({ length: E }, (_, k) => {
        let sum = 0;
        let count = 0;
        for (let i = 0; i < nLp; i++) {
          if (lpSupertype[k * nLp + i] !== s) continue;
          sum += lpValue(metric, k, i);
          count++;
        }
        // A supertype's share is its LPs' total; its other metrics are the mean over its LPs.
        return count === 0 ? Number.NaN : metric === "marketShare" ? sum : sum / count;
      });
      series.push({ metric, entity: { kind: "supertype", index: s }, values });
    }
  }
  const market = (metric: MarketMetric, values: Float64Array) => series.push({ metric, entity: { kind: "market" }, values });
  market(
    "marketShare",
    Float64Array.from({ length: E }, (_, k) => {
      let sum = 0;
      for (let i = 0; i < nLp; i++) sum += lpQty[k * nLp + i]!;
      return ltVolume[k]! > 0 ? sum / ltVolume[k]! : Number.NaN;
    })
  );
  market("ecnVolume", ecnVolume);
  market("ltVolume", ltVolume);
  market("ltCost", Float64Array.from({ length: E }, (_, k) => (costQty[k]! > 0 ? costSum[k]! / costQty[k]! : Number.NaN)));
  return { episodes, series };
};
