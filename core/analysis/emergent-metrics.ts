/**
 * The behaviour metrics of section 5.2 (figures 9-18, 21-24 and 3) computed from the OTC
 * env's per-step record for one LP (the first one, whose supertype the experiment varies). One
 * episode becomes an `LpEpisodeTrace` (its actions, inventory path and flows per step), and the
 * metrics are plain functions of traces:
 * - skew intensity: the OLS slope of eps_skew on the inventory q_t the LP saw when it quoted;
 *   pooled over episodes its standard error is cluster-robust by episode, because an episode's
 *   steps share one inventory path and are not independent draws;
 * - hedge fraction: the mean eps_hedge action over the episode's steps;
 * - inventory holding time (section 5.2): for q_t != 0, the first tau >= 1 with q_{t+tau} of the
 *   opposite sign or zero ("the first time the inventory goes back to zero"); a holding that has
 *   not ended at T is censored at T - t (a lower bound: dropping it would bias long holdings out);
 * - average price eps_alpha (eq. 26): eps_ask = eps_spread / 2 + eps_skew, eps_bid = eps_spread / 2
 *   - eps_skew averaged over steps and sides (so the skews cancel), and its flow-weighted version;
 * - flow per LT class normalised per connected agent: quantity traded with the LP per step and per
 *   LT of that class connected to it in the episode (NaN when none is);
 * - the flow response curve F(eps) of eq. (27) on bins of eps_alpha (the actions are continuous, so
 *   "eps_alpha = eps" becomes "eps_alpha in the bin of eps"), in total and per LT class normalised
 *   per connected agent;
 * - market share (episode totals), final PnL (inventory + spread), mean |inventory|.
 */
import { CLASS_LP, CLASS_LT, type OtcStepRecord } from "../otc/env.ts";
import { linearFit, meanAndStdError, type LinearFit } from "./stats.ts";

/** One episode of one LP, step by step (t = 0..T-1). */
export interface LpEpisodeTrace {
  /** Global episode index. */
  readonly episode: number;
  readonly horizon: number;
  /** Inventory at the start of step t (what the LP observed when it chose its action). */
  readonly inventoryStart: Float64Array;
  /** Inventory after step t. */
  readonly inventoryEnd: Float64Array;
  /** The applied (clipped) actions. */
  readonly spread: Float64Array;
  readonly skew: Float64Array;
  readonly hedge: Float64Array;
  /** Quantity LTs bought from the LP (it sold at its ask) and sold to it (at its bid), per step. */
  readonly flowAsk: Float64Array;
  readonly flowBid: Float64Array;
  /** Same per LT class: [classes * T], class-major. */
  readonly classFlowAsk: Float64Array;
  readonly classFlowBid: Float64Array;
  /** LTs of each class connected to the LP in this episode. */
  readonly connected: Float64Array;
  /** Total quantity all LTs traded in the episode (with LPs and the ECN). */
  readonly ltVolume: number;
  /** Final PnL (inventory + spread) and the sum of the LP's rewards. */
  readonly pnl: number;
  readonly reward: number;
}

/** Raised when a record does not hold a complete episode of the requested LP. */
export class TraceError extends Error {
  readonly _tag = "TraceError";
  constructor(reason: string) {
    super(`Cannot build the LP trace: ${reason}; record whole episodes (OtcEnv with record: true) before extracting.`);
  }
}

export interface TraceOptions {
  /** LP index within the episode (0: the first LP). */
  readonly lp: number;
  readonly horizon: number;
  /** Number of LT supertypes (the "classes" of the flow metrics). */
  readonly ltClasses: number;
  /** Global episode indices to extract, in output order. */
  readonly episodes: readonly number[];
  /** LTs of each class connected to the LP, per requested episode ([ltClasses] each). */
  readonly connected: readonly Float64Array[];
}

/** Builds the traces of `lp` for the requested episodes from one pass over a step record. */
export const lpTraces = (record: OtcStepRecord, options: TraceOptions): LpEpisodeTrace[] => {
  const { lp, horizon: T, ltClasses: C } = options;
  const slot = new Map<number, number>();
  options.episodes.forEach((e, k) => slot.set(e, k));
  const n = options.episodes.length;
  const make = () => Array.from({ length: n }, () => new Float64Array(T));
  const inventoryEnd = make();
  const spread = make();
  const skew = make();
  const hedge = make();
  const flowAsk = make();
  const flowBid = make();
  const classFlowAsk = Array.from({ length: n }, () => new Float64Array(C * T));
  const classFlowBid = Array.from({ length: n }, () => new Float64Array(C * T));
  const seen = Array.from({ length: n }, () => new Uint8Array(T));
  const ltVolume = new Float64Array(n);
  const pnl = new Float64Array(n).fill(Number.NaN);
  const reward = new Float64Array(n);
  for (let r = 0; r < record.rows; r++) {
    const k = slot.get(record.episode[r]!);
    if (k === undefined) continue;
    const t = record.t[r]!;
    if (t < 0 || t >= T) throw new TraceError(`step ${t} outside the horizon ${T}`);
    if (record.agentClass[r] === CLASS_LP) {
      if (record.agent[r] !== lp) continue;
      seen[k]![t] = 1;
      spread[k]![t] = record.action0[r]!;
      skew[k]![t] = record.action1[r]!;
      hedge[k]![t] = record.action2[r]!;
      flowAsk[k]![t] = record.ltBuyQty[r]!;
      flowBid[k]![t] = record.ltSellQty[r]!;
      inventoryEnd[k]![t] = record.inventory[r]!;
      reward[k]! += record.reward[r]!;
      if (t === T - 1) pnl[k] = record.pnlInventory[r]! + record.pnlSpread[r]!;
    } else if (record.agentClass[r] === CLASS_LT) {
      ltVolume[k]! += record.ltBuyQty[r]! + record.ltSellQty[r]! + record.ecnBuyQty[r]! + record.ecnSellQty[r]!;
      if (record.counterparty[r] !== lp) continue;
      const c = record.supertype[r]!;
      if (c < 0 || c >= C) throw new TraceError(`LT supertype ${c} outside the ${C} classes`);
      classFlowAsk[k]![c * T + t]! += record.ltBuyQty[r]!;
      classFlowBid[k]![c * T + t]! += record.ltSellQty[r]!;
    }
  }
  return options.episodes.map((episode, k) => {
    if (seen[k]!.some((s) => s === 0)) throw new TraceError(`episode ${episode} lacks some steps of LP ${lp}`);
    const end = inventoryEnd[k]!;
    const start = new Float64Array(T);
    for (let t = 1; t < T; t++) start[t] = end[t - 1]!;
    return {
      episode,
      horizon: T,
      inventoryStart: start,
      inventoryEnd: end,
      spread: spread[k]!,
      skew: skew[k]!,
      hedge: hedge[k]!,
      flowAsk: flowAsk[k]!,
      flowBid: flowBid[k]!,
      classFlowAsk: classFlowAsk[k]!,
      classFlowBid: classFlowBid[k]!,
      connected: options.connected[k] ?? new Float64Array(C),
      ltVolume: ltVolume[k]!,
      pnl: pnl[k]!,
      reward: reward[k]!
    };
  });
};

/** The inventory path q_0..q_T of a trace (q_0 the start of the first step). */
export const inventoryPath = (trace: LpEpisodeTrace): Float64Array => {
  const T = trace.horizon;
  const path = new Float64Array(T + 1);
  path[0] = trace.inventoryStart[0]!;
  path.set(trace.inventoryEnd, 1);
  return path;
};

/**
 * Holding time of every q_t, t = 0..T-1, of a path q_0..q_T: the first tau >= 1 with
 * q_{t+tau} * q_t <= 0, or T - t (censored) when there is none; NaN where q_t = 0.
 */
export const holdingTimes = (path: ArrayLike<number>): { times: Float64Array; censored: Uint8Array } => {
  const T = path.length - 1;
  const times = new Float64Array(Math.max(0, T)).fill(Number.NaN);
  const censored = new Uint8Array(Math.max(0, T));
  // Scanning backwards, the next index where the sign is <= 0 / >= 0 is known in O(1) per step.
  let nextNonPositive = -1;
  let nextNonNegative = -1;
  for (let t = T; t >= 0; t--) {
    const q = path[t]!;
    if (t < T && q !== 0) {
      const end = q > 0 ? nextNonPositive : nextNonNegative;
      if (end < 0) {
        times[t] = T - t;
        censored[t] = 1;
      } else times[t] = end - t;
    }
    if (q <= 0) nextNonPositive = t;
    if (q >= 0) nextNonNegative = t;
  }
  return { times, censored };
};

export interface EpisodeMetrics {
  readonly episode: number;
  readonly skewIntensity: number;
  readonly hedgeFraction: number;
  readonly meanHoldingTime: number;
  readonly censoredHoldingFraction: number;
  /** Mean eps_alpha over steps and sides (eq. 26). */
  readonly averagePrice: number;
  /** eps_alpha averaged with the flow of each step and side as weights (NaN without flow). */
  readonly flowWeightedPrice: number;
  /** Per LT class: quantity per step per connected LT of the class (NaN when none is connected). */
  readonly flowPerConnected: Float64Array;
  readonly marketShare: number;
  readonly pnl: number;
  readonly reward: number;
  readonly meanAbsInventory: number;
}

export const episodeMetrics = (trace: LpEpisodeTrace): EpisodeMetrics => {
  const T = trace.horizon;
  const skewFit = linearFit(trace.inventoryStart, trace.skew);
  let hedge = 0;
  let price = 0;
  let weighted = 0;
  let flow = 0;
  let absInventory = 0;
  for (let t = 0; t < T; t++) {
    hedge += trace.hedge[t]!;
    const half = trace.spread[t]! / 2;
    price += half;
    const ask = half + trace.skew[t]!;
    const bid = half - trace.skew[t]!;
    weighted += trace.flowAsk[t]! * ask + trace.flowBid[t]! * bid;
    flow += trace.flowAsk[t]! + trace.flowBid[t]!;
    absInventory += Math.abs(trace.inventoryEnd[t]!);
  }
  const { times, censored } = holdingTimes(inventoryPath(trace));
  const holding = meanAndStdError(times);
  let censoredCount = 0;
  for (const c of censored) censoredCount += c;
  const C = trace.connected.length;
  const flowPerConnected = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let sum = 0;
    for (let t = 0; t < T; t++) sum += trace.classFlowAsk[c * T + t]! + trace.classFlowBid[c * T + t]!;
    flowPerConnected[c] = trace.connected[c]! > 0 ? sum / (trace.connected[c]! * T) : Number.NaN;
  }
  return {
    episode: trace.episode,
    // No inventory change means no slope to measure: NaN, dropped by the aggregates.
    skewIntensity: skewFit.slope,
    hedgeFraction: hedge / T,
    meanHoldingTime: holding.mean,
    censoredHoldingFraction: holding.n > 0 ? censoredCount / holding.n : Number.NaN,
    averagePrice: price / T,
    flowWeightedPrice: flow > 0 ? weighted / flow : Number.NaN,
    flowPerConnected,
    marketShare: trace.ltVolume > 0 ? flow / trace.ltVolume : Number.NaN,
    pnl: trace.pnl,
    reward: trace.reward,
    meanAbsInventory: absInventory / T
  };
};

/** The pooled skew-vs-inventory regression of several episodes (one cloud of figure 10/21-23). */
export const pooledSkewFit = (traces: readonly LpEpisodeTrace[]): LinearFit => {
  const n = traces.reduce((s, tr) => s + tr.horizon, 0);
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const g = new Float64Array(n);
  let o = 0;
  for (const tr of traces) {
    x.set(tr.inventoryStart, o);
    y.set(tr.skew, o);
    g.fill(tr.episode, o, o + tr.horizon);
    o += tr.horizon;
  }
  return linearFit(x, y, { kind: "cluster", clusters: g });
};

export interface BinSpec {
  readonly low: number;
  readonly high: number;
  readonly width: number;
}

const binCount = (bins: BinSpec) => Math.max(1, Math.ceil((bins.high - bins.low) / bins.width - 1e-9));
const binOf = (value: number, bins: BinSpec, count: number): number => {
  const k = Math.floor((value - bins.low) / bins.width);
  return k < 0 ? 0 : k >= count ? count - 1 : k;
};

export interface FlowResponse {
  /** Bin centres of eps_alpha. */
  readonly eps: Float64Array;
  /** F(eps) of eq. (27): mean flow per (step, side) with eps_alpha in the bin (NaN for empty bins). */
  readonly flow: Float64Array;
  /** Per LT class, normalised per connected LT of the class: [classes][bins]. */
  readonly classFlow: readonly Float64Array[];
  /** (step, side) observations per bin. */
  readonly count: Float64Array;
}

/**
 * The flow response curve of eq. (27) over a set of episodes: every step gives two points
 * (eps_ask, ask flow) and (eps_bid, bid flow); eps outside the bins go to the edge bins.
 */
export const flowResponse = (traces: readonly LpEpisodeTrace[], bins: BinSpec): FlowResponse => {
  const nb = binCount(bins);
  const C = traces[0]?.connected.length ?? 0;
  const sum = new Float64Array(nb);
  const count = new Float64Array(nb);
  const classSum = Array.from({ length: C }, () => new Float64Array(nb));
  const classCount = Array.from({ length: C }, () => new Float64Array(nb));
  for (const tr of traces) {
    const T = tr.horizon;
    for (let t = 0; t < T; t++) {
      const half = tr.spread[t]! / 2;
      for (const [eps, f, side] of [
        [half + tr.skew[t]!, tr.flowAsk[t]!, 0],
        [half - tr.skew[t]!, tr.flowBid[t]!, 1]
      ] as const) {
        const k = binOf(eps, bins, nb);
        sum[k]! += f;
        count[k]! += 1;
        for (let c = 0; c < C; c++) {
          const n = tr.connected[c]!;
          if (!(n > 0)) continue;
          classSum[c]![k]! += (side === 0 ? tr.classFlowAsk[c * T + t]! : tr.classFlowBid[c * T + t]!) / n;
          classCount[c]![k]! += 1;
        }
      }
    }
  }
  return {
    eps: Float64Array.from({ length: nb }, (_, k) => bins.low + (k + 0.5) * bins.width),
    flow: Float64Array.from(sum, (s, k) => (count[k]! > 0 ? s / count[k]! : Number.NaN)),
    classFlow: classSum.map((s, c) => Float64Array.from(s, (v, k) => (classCount[c]![k]! > 0 ? v / classCount[c]![k]! : Number.NaN))),
    count
  };
};

export interface HoldingByInventory {
  /** Bucket centres of q_t. */
  readonly inventory: Float64Array;
  readonly meanHoldingTime: Float64Array;
  readonly count: Float64Array;
}

/** Mean holding time per bucket of inventory q_t (figure 14); empty buckets are left out. */
export const holdingByInventory = (traces: readonly LpEpisodeTrace[], bucketWidth: number): HoldingByInventory => {
  const sums = new Map<number, [number, number]>();
  for (const tr of traces) {
    const path = inventoryPath(tr);
    const { times } = holdingTimes(path);
    for (let t = 0; t < times.length; t++) {
      const tau = times[t]!;
      if (!Number.isFinite(tau)) continue;
      // + 0 turns -0 into 0, so the bucket around zero has one key.
      const k = Math.round(path[t]! / bucketWidth) + 0;
      const s = sums.get(k) ?? [0, 0];
      s[0] += tau;
      s[1] += 1;
      sums.set(k, s);
    }
  }
  const keys = [...sums.keys()].sort((a, b) => a - b);
  return {
    inventory: Float64Array.from(keys, (k) => k * bucketWidth),
    meanHoldingTime: Float64Array.from(keys, (k) => sums.get(k)![0] / sums.get(k)![1]),
    count: Float64Array.from(keys, (k) => sums.get(k)![1])
  };
};
