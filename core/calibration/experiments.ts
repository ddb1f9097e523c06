/**
 * The calibration experiments 1-4 of paper section 5.1 (tables 3, 4 and 5) as plain
 * data and pure functions: for each experiment the population (500 stationary LTs in 10
 * supertypes with q_LT = i; one LP of supertype 1 and n_LP - 1 of supertype 2), the calibrated
 * parameter vector Lambda with its names, state ranges and action ranges (table 3), the targets
 * (table 5), the calibrator reward r_cal (the experiment-specific forms of eq. 19 given in section
 * 5.1), and the episode metrics it needs (market shares and trade-size percentiles).
 *
 * Conventions (where the paper is silent):
 * - Percentiles are the empirical ones with linear interpolation between order statistics, as
 *   numpy's default (`method="linear"`): for sorted x_0..x_{n-1}, position h = (n - 1) q,
 *   value x_floor(h) + (h - floor(h)) (x_floor(h)+1 - x_floor(h)).
 * - A supertype whose LPs received no trade in an episode gets percentiles 0 (every target is
 *   then missed by its full size, the largest penalty a size-based reward can express); an episode
 *   without LT volume has market shares 0.
 * - Market shares use episode totals: quantity traded by the supertype's LPs with LTs
 *   over the total quantity all LTs traded, with LPs and on the ECN.
 * - Lambda starts at connectivity 0.5 and risk aversion 0.5 (mean 0.5, stDev 0.5 for supertype
 *   2 in experiment 4), the defaults of `calibrationPopulation` in core/otc/config.ts.
 */
import { calibrationPopulation } from "../otc/config.ts";
import type { Population } from "../otc/supertypes.ts";

export type ExperimentId = 1 | 2 | 3 | 4;
export const EXPERIMENT_IDS: readonly ExperimentId[] = [1, 2, 3, 4];

/** Number of LT supertypes and agents per LT supertype in every calibration experiment. */
export const LT_SUPERTYPES = 10;
export const LTS_PER_SUPERTYPE = 50;

/** Target percentiles 10%..90% of the trade sizes received by each LP supertype (table 5). */
export const TARGET_PERCENTILES_SUPER1: readonly number[] = [8, 8, 8, 9, 9, 9, 10, 10, 10];
export const TARGET_PERCENTILES_SUPER2: readonly number[] = [2, 3, 3, 4, 5, 5, 6, 6, 7];

/** The calibrated parameters: names, state ranges (clip bounds), action ranges and start. */
export interface CalibrationSpace {
  readonly names: readonly string[];
  readonly lower: Float64Array;
  readonly upper: Float64Array;
  /** Table 3's bounds of one increment dLambda_i (the full width of the state range). */
  readonly actionLower: Float64Array;
  readonly actionUpper: Float64Array;
  /** Lambda_0. */
  readonly initial: Float64Array;
}

/** Table 5, as data. */
export type CalibrationTargets =
  | {
      readonly kind: "shares-and-percentiles";
      /** m_super1 >= this. */
      readonly minShareSuper1: number;
      /** m_total >= this. */
      readonly minShareTotal: number;
      /** Percentile targets 10%..90% of supertype 1 (always) and supertype 2 (experiments 2, 3). */
      readonly percentilesSuper1: readonly number[];
      readonly percentilesSuper2: readonly number[] | null;
      /** Weight of each percentile term in r_cal. */
      readonly percentileWeight: number;
    }
  | {
      readonly kind: "shares";
      /** m_super1 = this. */
      readonly shareSuper1: number;
      readonly minShareTotal: number;
    };

export interface ExperimentDefinition {
  readonly id: ExperimentId;
  /** Total number of LP agents (table 4). */
  readonly nLp: number;
  /** Agents per LP supertype: [1, n_LP - 1]. */
  readonly lpCounts: readonly [number, number];
  /** Training budget in environment steps (table 4). */
  readonly budgetEnvSteps: number;
  readonly space: CalibrationSpace;
  readonly targets: CalibrationTargets;
}

/** Raised for an unknown experiment or a Lambda / metrics of the wrong shape. */
export class CalibrationExperimentError extends Error {
  readonly _tag = "CalibrationExperimentError";
  constructor(readonly detail: string) {
    super(`Calibration experiment input is invalid: ${detail}; use experiment 1-4 and vectors shaped by experimentDefinition(id).`);
  }
}

const assertExperiment = (id: number): ExperimentId => {
  if (id !== 1 && id !== 2 && id !== 3 && id !== 4) throw new CalibrationExperimentError(`experiment ${id} does not exist`);
  return id;
};

/** Table 3: ranges of each parameter flavour. */
const CONNECTIVITY_RANGE = [0, 1] as const;
const GAMMA_MEAN_RANGE = [0, 5] as const;
const GAMMA_STD_RANGE = [0, 2] as const;
const INITIAL_CONNECTIVITY = 0.5;
const INITIAL_GAMMA = 0.5;
const INITIAL_GAMMA_STD = 0.5;

const buildSpace = (id: ExperimentId): CalibrationSpace => {
  const names: string[] = [];
  const ranges: (readonly [number, number])[] = [];
  const initial: number[] = [];
  for (const lp of [1, 2]) {
    for (let j = 1; j <= LT_SUPERTYPES; j++) {
      names.push(`lp${lp}.connect.lt${j}`);
      ranges.push(CONNECTIVITY_RANGE);
      initial.push(INITIAL_CONNECTIVITY);
    }
  }
  if (id === 4) {
    // Supertype 1's risk aversion is a single value; table 3 gives it the Gaussian-mean range.
    names.push("lp1.gamma", "lp2.gamma.mean", "lp2.gamma.std");
    ranges.push(GAMMA_MEAN_RANGE, GAMMA_MEAN_RANGE, GAMMA_STD_RANGE);
    initial.push(INITIAL_GAMMA, INITIAL_GAMMA, INITIAL_GAMMA_STD);
  }
  return {
    names,
    lower: Float64Array.from(ranges, (r) => r[0]),
    upper: Float64Array.from(ranges, (r) => r[1]),
    actionLower: Float64Array.from(ranges, (r) => -(r[1] - r[0])),
    actionUpper: Float64Array.from(ranges, (r) => r[1] - r[0]),
    initial: Float64Array.from(initial)
  };
};

/** Tables 3, 4 and 5 for experiment `id`. */
export const experimentDefinition = (id: ExperimentId): ExperimentDefinition => {
  const exp = assertExperiment(id);
  const nLp = exp <= 2 ? 5 : 10;
  const targets: CalibrationTargets =
    exp === 4
      ? { kind: "shares", shareSuper1: 0.25, minShareTotal: 0.8 }
      : {
          kind: "shares-and-percentiles",
          minShareSuper1: 0.15,
          minShareTotal: 0.8,
          percentilesSuper1: TARGET_PERCENTILES_SUPER1,
          percentilesSuper2: exp === 1 ? null : TARGET_PERCENTILES_SUPER2,
          percentileWeight: 0.2
        };
  return {
    id: exp,
    nLp,
    lpCounts: [1, nLp - 1],
    budgetEnvSteps: exp <= 2 ? 40_000_000 : 20_000_000,
    space: buildSpace(exp),
    targets
  };
};

/**
 * The population of experiment `id` with the calibrated parameters set from `lambda` (in the
 * order of `experimentDefinition(id).space.names`); values are clipped to their state ranges.
 */
export const experimentPopulation = (id: ExperimentId, lambda: ArrayLike<number>): Population => {
  const { space } = experimentDefinition(id);
  if (lambda.length !== space.names.length) {
    throw new CalibrationExperimentError(`Lambda has ${lambda.length} entries, experiment ${id} calibrates ${space.names.length}`);
  }
  const value = (i: number): number => {
    const v = lambda[i]!;
    if (!Number.isFinite(v)) throw new CalibrationExperimentError(`Lambda[${i}] (${space.names[i]}) is not finite`);
    return Math.min(space.upper[i]!, Math.max(space.lower[i]!, v));
  };
  const connectivity = [0, 1].map((s) => Array.from({ length: LT_SUPERTYPES }, (_, j) => value(s * LT_SUPERTYPES + j)));
  const base = 2 * LT_SUPERTYPES;
  return id === 4
    ? calibrationPopulation(4, { connectivity, gamma1: value(base), gamma2Mean: value(base + 1), gamma2StDev: value(base + 2) })
    : calibrationPopulation(id, { connectivity });
};

/** The episode quantities r_cal depends on. */
export interface CalibrationMetrics {
  /** Market share of LP supertype 1 over the episode. */
  m_super1: number;
  /** Market share of all LPs (<= 1; the rest went to the ECN). */
  m_total: number;
  /** Percentiles 10%..90% of the sizes of the trades supertype 1's LPs received from LTs. */
  vhat_super1: Float64Array;
  /** The same for supertype 2. */
  vhat_super2: Float64Array;
}

/**
 * The (10p)th percentiles, p = 1..9, of `sizes` with linear interpolation between order
 * statistics (numpy's default). Returns zeros for an empty sample (see the module note).
 */
export const percentiles10to90 = (sizes: ArrayLike<number>): Float64Array => percentilesOfSorted(Float64Array.from(sizes).sort());

/** `percentiles10to90` of a sample already in ascending order (no copy, no sort). */
const percentilesOfSorted = (sorted: ArrayLike<number>): Float64Array => {
  const out = new Float64Array(9);
  const n = sorted.length;
  if (n === 0) return out;
  for (let p = 1; p <= 9; p++) {
    const h = (n - 1) * (p / 10);
    const lo = Math.floor(h);
    const hi = Math.min(n - 1, lo + 1);
    out[p - 1] = sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
  }
  return out;
};

/** Per-episode trade data: one entry per LP-LT trade. */
export interface EpisodeTrades {
  /** LP supertype index (0 = supertype 1, 1 = supertype 2) of the LP in each trade; entries < 0 (e.g. ECN trades) are ignored. */
  lpSupertypeOfTrade: ArrayLike<number>;
  /** Absolute size (lots) of each trade. */
  tradeSize: ArrayLike<number>;
  /** Total quantity all LTs traded in the episode, with LPs and on the ECN. */
  ltTotalQuantity: number;
}

/** m_super1, m_total and the percentiles of received trade sizes per LP supertype, from an episode's trades. */
export const calibrationMetricsFromTrades = (trades: EpisodeTrades): CalibrationMetrics => {
  const n = trades.tradeSize.length;
  if (trades.lpSupertypeOfTrade.length !== n) {
    throw new CalibrationExperimentError(`${trades.lpSupertypeOfTrade.length} supertype entries for ${n} trades`);
  }
  const sizes: [number[], number[]] = [[], []];
  let quantitySuper1 = 0;
  let quantityAll = 0;
  for (let k = 0; k < n; k++) {
    const s = trades.lpSupertypeOfTrade[k]!;
    if (s < 0) continue;
    const q = Math.abs(trades.tradeSize[k]!);
    quantityAll += q;
    if (s === 0) quantitySuper1 += q;
    if (s === 0 || s === 1) sizes[s].push(q);
  }
  const total = trades.ltTotalQuantity;
  if (total > 0 && quantityAll > total * (1 + 1e-9)) {
    throw new CalibrationExperimentError(`LP trades sum to ${quantityAll} lots, more than the LTs' total ${total}`);
  }
  return {
    m_super1: total > 0 ? quantitySuper1 / total : 0,
    m_total: total > 0 ? quantityAll / total : 0,
    vhat_super1: percentiles10to90(sizes[0]),
    vhat_super2: percentiles10to90(sizes[1])
  };
};

/** Whether the values are >= 0 and in ascending order (then they are their own sorted absolute values). */
const isSortedNonNegative = (values: ArrayLike<number>): boolean => {
  if (values.length > 0 && !(values[0]! >= 0)) return false;
  for (let k = 1; k < values.length; k++) if (!(values[k - 1]! <= values[k]!)) return false;
  return true;
};

/**
 * The same metrics as `calibrationMetricsFromTrades`, from the sizes of the trades each LP
 * supertype received (`sizesBySupertype[s]`, one entry per trade, as the env's episode outcomes
 * give them in ascending order): no per-trade arrays are built and sorted samples are not sorted
 * again, which matters at hundreds of thousands of trades per iteration. The sums run in the same
 * order as there, so the results are identical.
 */
export const calibrationMetricsFromSupertypeSizes = (sizesBySupertype: readonly ArrayLike<number>[], ltTotalQuantity: number): CalibrationMetrics => {
  let quantitySuper1 = 0;
  let quantityAll = 0;
  sizesBySupertype.forEach((sizes, s) => {
    for (let k = 0; k < sizes.length; k++) {
      const q = Math.abs(sizes[k]!);
      quantityAll += q;
      if (s === 0) quantitySuper1 += q;
    }
  });
  if (ltTotalQuantity > 0 && quantityAll > ltTotalQuantity * (1 + 1e-9)) {
    throw new CalibrationExperimentError(`LP trades sum to ${quantityAll} lots, more than the LTs' total ${ltTotalQuantity}`);
  }
  const percentiles = (sizes: ArrayLike<number> | undefined): Float64Array => {
    if (sizes === undefined) return new Float64Array(9);
    if (isSortedNonNegative(sizes)) return percentilesOfSorted(sizes);
    const absolute = new Float64Array(sizes.length);
    for (let k = 0; k < sizes.length; k++) absolute[k] = Math.abs(sizes[k]!);
    return percentilesOfSorted(absolute.sort());
  };
  return {
    m_super1: ltTotalQuantity > 0 ? quantitySuper1 / ltTotalQuantity : 0,
    m_total: ltTotalQuantity > 0 ? quantityAll / ltTotalQuantity : 0,
    vhat_super1: percentiles(sizesBySupertype[0]),
    vhat_super2: percentiles(sizesBySupertype[1])
  };
};

/** The terms of r_cal, for plots of each target against its value. */
export interface CalibrationRewardBreakdown {
  reward: number;
  /** r(1): market-share term. */
  shares: number;
  /** r(2): mean absolute percentile error of supertype 1 (NaN where not a target). */
  percentilesSuper1: number;
  /** r(3): the same for supertype 2 (NaN where not a target). */
  percentilesSuper2: number;
}

const meanAbsoluteError = (target: readonly number[], observed: Float64Array): number => {
  if (observed.length !== target.length) throw new CalibrationExperimentError(`percentile vector has ${observed.length} entries, expected ${target.length}`);
  let s = 0;
  for (let p = 0; p < target.length; p++) s += Math.abs(target[p]! - observed[p]!);
  return s / target.length;
};

/**
 * r_cal of section 5.1:
 * - exp 1: 1 / (1 + r1 + 0.2 r2);  exp 2, 3: 1 / (1 + r1 + 0.2 r2 + 0.2 r3), with
 *   r1 = (max(0.15 - m_super1, 0) + max(0.8 - m_total, 0)) / 2 and r2, r3 the mean absolute
 *   differences between the target and observed percentiles of supertypes 1 and 2;
 * - exp 4: 1 / (1 + |0.25 - m_super1| + max(0.8 - m_total, 0)).
 */
export const calibrationRewardBreakdown = (
  id: ExperimentId,
  metrics: CalibrationMetrics,
  /** Targets other than table 5's, for what-if runs (e.g. m_super1 = 0.4); same form as the experiment's. */
  targets: CalibrationTargets = experimentDefinition(id).targets
): CalibrationRewardBreakdown => {
  if (!Number.isFinite(metrics.m_super1) || !Number.isFinite(metrics.m_total)) {
    throw new CalibrationExperimentError("market shares must be finite");
  }
  if (targets.kind === "shares") {
    const shares = Math.abs(targets.shareSuper1 - metrics.m_super1) + Math.max(targets.minShareTotal - metrics.m_total, 0);
    return { reward: 1 / (1 + shares), shares, percentilesSuper1: Number.NaN, percentilesSuper2: Number.NaN };
  }
  const shares = (Math.max(targets.minShareSuper1 - metrics.m_super1, 0) + Math.max(targets.minShareTotal - metrics.m_total, 0)) / 2;
  const r2 = meanAbsoluteError(targets.percentilesSuper1, metrics.vhat_super1);
  const r3 = targets.percentilesSuper2 === null ? Number.NaN : meanAbsoluteError(targets.percentilesSuper2, metrics.vhat_super2);
  const w = targets.percentileWeight;
  const loss = shares + w * r2 + (Number.isNaN(r3) ? 0 : w * r3);
  return { reward: 1 / (1 + loss), shares, percentilesSuper1: r2, percentilesSuper2: r3 };
};

/** r_cal of experiment `id` for one episode's metrics (in (0, 1], 1 = every target met). */
export const calibrationReward = (id: ExperimentId, metrics: CalibrationMetrics): number =>
  calibrationRewardBreakdown(id, metrics).reward;
