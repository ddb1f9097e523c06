/**
 * What a calibration experiment of paper section 5.1 is, and the pieces every experiment shares:
 * an experiment is plain data and pure functions (one module per experiment in
 * `experiments/`, registered in `experiments.ts`): the population with the calibrated parameters
 * Lambda set (table 4), the parameters' names, state ranges and action ranges (table 3), the
 * targets (table 5) and the calibrator reward r_cal (eq. 19 in the experiment's form); this module
 * holds that shape, the builders of table 3's spaces, the episode metrics r_cal reads (market
 * shares and trade-size percentiles) and the two reward forms of section 5.1.
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

/** An experiment's number: the paper's 1-4, or the number a new experiment registers under. */
export type ExperimentId = number;

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

/**
 * The schedule of the `quick` preset (a 2-core machine in minutes rather than the paper's days),
 * measured per experiment; the pipeline's module note says what differs from the paper and why.
 */
export interface QuickSchedule {
  /** Training iterations per method (the calibration params' default when absent). */
  readonly iterations?: number;
  /** alpha_cal / alpha_shared of CALSHEQ. */
  readonly learningRateRatio: number;
  /** Iterations between BO proposals (the params' default when absent). */
  readonly boEvery?: number;
}

/**
 * The schedule of the `converged` preset: training stops on the equilibrium diagnostics
 * (core/calibration/stopping.ts) with `cap` as the most iterations per method, CALSHEQ in the
 * paper's increment form; measured per experiment.
 */
export interface ConvergedSchedule {
  /** The most training iterations per method. */
  readonly cap: number;
  /** alpha_cal / alpha_shared of CALSHEQ. */
  readonly learningRateRatio: number;
  /** Iterations between BO proposals. */
  readonly boEvery: number;
}

/** A calibration experiment, as data and pure functions. */
export interface ExperimentDefinition {
  readonly id: ExperimentId;
  /** One line for listings, e.g. "market shares and trade-size percentiles of supertype 1". */
  readonly summary: string;
  /** Total number of LP agents (table 4). */
  readonly nLp: number;
  /** Agents per LP supertype: [1, n_LP - 1]. */
  readonly lpCounts: readonly [number, number];
  /** Training budget in environment steps (table 4). */
  readonly budgetEnvSteps: number;
  readonly space: CalibrationSpace;
  readonly targets: CalibrationTargets;
  /** The population with Lambda set (in `space.names` order, already clipped to the state ranges). */
  readonly population: (lambda: ArrayLike<number>) => Population;
  /** r_cal for one episode's metrics against `targets` (the experiment's form, same kind as its own targets). */
  readonly reward: (metrics: CalibrationMetrics, targets: CalibrationTargets) => CalibrationRewardBreakdown;
  readonly quick: QuickSchedule;
  /** The `converged` preset's schedule (the pipeline's defaults when absent). */
  readonly converged?: ConvergedSchedule;
  /** The paper's figure numbers of its target fits and calibrated parameters, for the report (none for new experiments). */
  readonly figures?: { readonly targets: number; readonly parameters: number };
}

/** Raised for an unknown experiment or a Lambda / metrics of the wrong shape. */
export class CalibrationExperimentError extends Error {
  readonly _tag = "CalibrationExperimentError";
  constructor(readonly detail: string) {
    super(`Calibration experiment input is invalid: ${detail}; use a registered experiment and vectors shaped by its definition.`);
  }
}

/** Table 3: ranges of each parameter flavour. */
export const CONNECTIVITY_RANGE = [0, 1] as const;
export const GAMMA_MEAN_RANGE = [0, 5] as const;
export const GAMMA_STD_RANGE = [0, 2] as const;
export const INITIAL_CONNECTIVITY = 0.5;
export const INITIAL_GAMMA = 0.5;
export const INITIAL_GAMMA_STD = 0.5;

/** One calibrated parameter: its name, state range and Lambda_0. */
export interface CalibratedParameter {
  readonly name: string;
  readonly range: readonly [number, number];
  readonly initial: number;
}

/** The connectivities of both LP supertypes to the 10 LT supertypes (`lp<s>.connect.lt<j>`), 0.5 at the start. */
export const connectivityParameters = (): CalibratedParameter[] =>
  [1, 2].flatMap((lp) =>
    Array.from({ length: LT_SUPERTYPES }, (_, j) => ({ name: `lp${lp}.connect.lt${j + 1}`, range: CONNECTIVITY_RANGE, initial: INITIAL_CONNECTIVITY }))
  );

/** Table 3's space of `parameters`: an increment may move a parameter by the full width of its range. */
export const calibrationSpace = (parameters: readonly CalibratedParameter[]): CalibrationSpace => ({
  names: parameters.map((p) => p.name),
  lower: Float64Array.from(parameters, (p) => p.range[0]),
  upper: Float64Array.from(parameters, (p) => p.range[1]),
  actionLower: Float64Array.from(parameters, (p) => -(p.range[1] - p.range[0])),
  actionUpper: Float64Array.from(parameters, (p) => p.range[1] - p.range[0]),
  initial: Float64Array.from(parameters, (p) => p.initial)
});

/** Lambda checked (length, finite) and clipped to the space's state ranges. */
export const clippedLambda = (space: CalibrationSpace, lambda: ArrayLike<number>, experiment: ExperimentId): Float64Array => {
  if (lambda.length !== space.names.length) {
    throw new CalibrationExperimentError(`Lambda has ${lambda.length} entries, experiment ${experiment} calibrates ${space.names.length}`);
  }
  return Float64Array.from({ length: lambda.length }, (_, i) => {
    const v = lambda[i]!;
    if (!Number.isFinite(v)) throw new CalibrationExperimentError(`Lambda[${i}] (${space.names[i]}) is not finite`);
    return Math.min(space.upper[i]!, Math.max(space.lower[i]!, v));
  });
};

/** The [2][10] connectivities at the head of Lambda (supertype 1's ten, then supertype 2's). */
export const connectivityOf = (lambda: ArrayLike<number>): number[][] =>
  [0, 1].map((s) => Array.from({ length: LT_SUPERTYPES }, (_, j) => lambda[s * LT_SUPERTYPES + j]!));

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
 * r_cal of section 5.1 against `targets`:
 * - shares (experiment 4): 1 / (1 + |m*_super1 - m_super1| + max(m*_total - m_total, 0));
 * - shares and percentiles (experiments 1-3): 1 / (1 + r1 + w r2 [+ w r3]), with
 *   r1 = (max(m*_super1 - m_super1, 0) + max(m*_total - m_total, 0)) / 2 and r2, r3 the mean
 *   absolute differences between the target and observed percentiles of supertypes 1 and 2
 *   (r3 only where supertype 2 has percentile targets), w = 0.2.
 */
export const targetReward = (metrics: CalibrationMetrics, targets: CalibrationTargets): CalibrationRewardBreakdown => {
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

/** The user's overrides of the market-share targets (what-if runs), applied to an experiment's targets of either kind. */
export interface TargetOverrides {
  /** Experiments with a share target: m_super1 to reach. */
  readonly m_super1: number;
  /** m_total to reach at least. */
  readonly m_total: number;
  /** Experiments with a minimum share: the least m_super1. */
  readonly m_super1_min: number;
}

/** The share targets of `targets` as overrides (the inverse of `targetsWith`): what the params show by default. */
export const shareTargetsOf = (targets: CalibrationTargets): Partial<TargetOverrides> =>
  targets.kind === "shares" ? { m_super1: targets.shareSuper1, m_total: targets.minShareTotal } : { m_super1_min: targets.minShareSuper1, m_total: targets.minShareTotal };

export const targetsWith = (base: CalibrationTargets, overrides: TargetOverrides): CalibrationTargets =>
  base.kind === "shares"
    ? { ...base, shareSuper1: overrides.m_super1, minShareTotal: overrides.m_total }
    : { ...base, minShareSuper1: overrides.m_super1_min, minShareTotal: overrides.m_total };

/**
 * Experiments 1-3's shape (tables 3-5): both LP supertypes' connectivities calibrated (risk
 * aversions stay at 0.5), LP supertype 1 at least 15% of the flow, all LPs at least 80%, and the
 * trade-size percentiles of supertype 1 (and of supertype 2 where `percentilesSuper2` is given)
 * as targets weighted 0.2 in r_cal.
 */
export const connectivityExperiment = (
  definition: Pick<ExperimentDefinition, "id" | "summary" | "nLp" | "budgetEnvSteps" | "quick" | "figures"> & { readonly percentilesSuper2: readonly number[] | null }
): ExperimentDefinition => {
  const space = calibrationSpace(connectivityParameters());
  const { percentilesSuper2, ...rest } = definition;
  return {
    ...rest,
    lpCounts: [1, definition.nLp - 1],
    space,
    targets: {
      kind: "shares-and-percentiles",
      minShareSuper1: 0.15,
      minShareTotal: 0.8,
      percentilesSuper1: TARGET_PERCENTILES_SUPER1,
      percentilesSuper2,
      percentileWeight: 0.2
    },
    population: (lambda) =>
      calibrationPopulation({ nLp: definition.nLp, lp2RiskAversion: "shared" }, { connectivity: connectivityOf(clippedLambda(space, lambda, definition.id)) }),
    reward: targetReward
  };
};
