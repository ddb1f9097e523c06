/**
 * Where the LTs' flow goes in a recorded market (paper section 5.1's market shares, table 5): for
 * each LT supertype, its share of all LT volume and the fractions of it traded on the ECN and with
 * each LP supertype, and each LP supertype's mean quoted spread. m_total is one minus the ECN's
 * share, so this says which LTs the ECN's share comes from and how the LPs serving them price: a
 * calibrated market that misses m_total >= 0.8 is read off it.
 */
import { CLASS_LP, CLASS_LT, COUNTERPARTY_ECN, type OtcStepRecord } from "../otc/env.ts";

export interface LtSupertypeRouting {
  /** 0-based LT supertype. */
  readonly supertype: number;
  /** Its quantity over all LTs' quantity (LPs and ECN). */
  readonly volumeShare: number;
  /** Fraction of its quantity traded on the ECN. */
  readonly ecn: number;
  /** Fraction of its quantity traded with each LP supertype (0-based). */
  readonly lp: readonly number[];
}

export interface LtFlowRouting {
  readonly episodes: number;
  /** LT supertypes that traded, ascending. */
  readonly lt: readonly LtSupertypeRouting[];
  /** Per LP supertype (0-based), the mean of quoteAsk - quoteBid over its LPs' steps (ticks). */
  readonly lpSpread: readonly number[];
}

export class FlowRoutingError extends Error {
  readonly _tag = "FlowRoutingError";
  constructor(reason: string) {
    super(`Cannot tell where the LT flow goes: ${reason}; pass a record of whole episodes with the LPs' rows.`);
  }
}

export const ltFlowRouting = (record: OtcStepRecord): LtFlowRouting => {
  // An LT's counterparty is an LP's index within its episode; its supertype is on the LP's rows.
  const lpSupertype = new Map<string, number>();
  const spreadSum: number[] = [];
  const spreadSteps: number[] = [];
  const episodes = new Set<number>();
  for (let r = 0; r < record.rows; r++) {
    episodes.add(record.episode[r]!);
    if (record.agentClass[r] !== CLASS_LP) continue;
    const s = record.supertype[r]!;
    lpSupertype.set(`${record.episode[r]}/${record.agent[r]}`, s);
    const spread = record.quoteAsk[r]! - record.quoteBid[r]!;
    if (!Number.isFinite(spread)) continue;
    spreadSum[s] = (spreadSum[s] ?? 0) + spread;
    spreadSteps[s] = (spreadSteps[s] ?? 0) + 1;
  }
  const nLpSupertypes = spreadSteps.length;
  const volume: number[] = [];
  const ecn: number[] = [];
  const withLp: number[][] = [];
  let total = 0;
  for (let r = 0; r < record.rows; r++) {
    if (record.agentClass[r] !== CLASS_LT) continue;
    const s = record.supertype[r]!;
    const lpQty = record.ltBuyQty[r]! + record.ltSellQty[r]!;
    const ecnQty = record.ecnBuyQty[r]! + record.ecnSellQty[r]!;
    volume[s] = (volume[s] ?? 0) + lpQty + ecnQty;
    ecn[s] = (ecn[s] ?? 0) + ecnQty;
    total += lpQty + ecnQty;
    const counterparty = record.counterparty[r]!;
    if (lpQty > 0) {
      if (counterparty === COUNTERPARTY_ECN || counterparty < 0) throw new FlowRoutingError(`row ${r} trades ${lpQty} lots with an LP but names none`);
      const k = lpSupertype.get(`${record.episode[r]}/${counterparty}`);
      if (k === undefined) throw new FlowRoutingError(`row ${r} trades with LP ${counterparty}, which has no rows in episode ${record.episode[r]}`);
      const row = (withLp[s] ??= new Array<number>(nLpSupertypes).fill(0));
      row[k] = row[k]! + lpQty;
    }
  }
  if (!(total > 0)) throw new FlowRoutingError("no LT traded");
  const lt: LtSupertypeRouting[] = [];
  volume.forEach((v, s) => {
    if (!(v > 0)) return;
    lt.push({ supertype: s, volumeShare: v / total, ecn: ecn[s]! / v, lp: (withLp[s] ?? new Array<number>(nLpSupertypes).fill(0)).map((q) => q / v) });
  });
  return { episodes: episodes.size, lt, lpSpread: Array.from({ length: nLpSupertypes }, (_, s) => (spreadSteps[s] ?? 0) > 0 ? spreadSum[s]! / spreadSteps[s]! : Number.NaN) };
};
