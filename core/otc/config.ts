/**
 * Configuration of the OTC game (paper sections 2.2.2 and 5): the population of
 * supertypes, the horizon, the LP price grid and action bounds, the ECN settings, and the scales
 * that normalise observations. Also the populations of the paper's experiments: the shape of the
 * calibration experiments of section 5.1 and the emergent-behaviour setup of section 5.2.
 *
 * Decisions where the paper is silent (written down here so that configs can override them):
 * - LP risk aversion in experiments 1-3 is not calibrated and not stated; it is 0.5 (the base value
 *   of section 5.2). In experiment 4 supertype 2's clipped normal is clipped to [0, 10] so that
 *   every (mean, stDev) of table 3 is representable without piling mass on a bound.
 * - Stationary LTs have omega = 0, q^a = q^b = 0.5 (section 5.1 says this is the case they
 *   correspond to), gamma = 0 and eta = 1; none of these affects their behaviour.
 * - In the section 5.2 setup the flow LTs (omega = 0) have q^a = q^b = 0.5, trade size 1, and the
 *   base PnL weight of LP supertype 2 is 0.5.
 * - Default eta (the PnL normaliser of eqs. 4 and 6) is 1e-4 per tick x lot: in the experiment-4
 *   population on a stand-in ECN (40 lots per level), an LP quoting at the ECN cost, skewing
 *   against its inventory and hedging half of it makes PnL of order 10^4 ticks x lots per
 *   episode, so its episode reward is O(1). Rescale it with the ECN's liquidity.
 */
import { constant, uniform, clippedNormal, type LpSupertype, type LtSupertype, type ParamDist, type Population } from "./supertypes.ts";

export interface EcnSettings {
  /** P0: the ECN's initial mid-price in ticks (the LP grid is 0.1 bp of it). */
  readonly p0Tick: number;
  /** Number of price levels per side the ECN agent keeps in the book (beyond m, extrapolated). */
  readonly depthLevels: number;
  /** The book's grid spans p0Tick +- priceRangeTicks. */
  readonly priceRangeTicks: number;
}

/** Divisors applied to observations ("documented scales"). */
export interface ObservationScales {
  /** (P_t - P0) is divided by this many ticks. */
  readonly priceTicks: number;
  /** Inventories are divided by this many lots. */
  readonly inventoryLots: number;
  /** ECN level volumes are divided by this many lots. */
  readonly volumeLots: number;
  /** Per-lot trading and hedging costs (ticks) are divided by this. */
  readonly costTicks: number;
  /** LT trade sizes q_LT are divided by this many lots. */
  readonly sizeLots: number;
}

export interface OtcGameConfig {
  readonly population: Population;
  /** T, steps per episode. */
  readonly horizon: number;
  /** LP price grid xi_LP in basis points of P0 (0.1 in the paper). */
  readonly lpGridBp: number;
  /** Upper bound E of eps_spread (lower bound is -1). */
  readonly spreadMax: number;
  /** Bound S of |eps_skew|. */
  readonly skewMax: number;
  /** The fractions eps of the inventory whose hedging cost LPs observe (table 1). */
  readonly hedgeCostFractions: readonly number[];
  readonly ecn: EcnSettings;
  readonly observation: ObservationScales;
}

export const DEFAULT_ECN: EcnSettings = { p0Tick: 10_000, depthLevels: 30, priceRangeTicks: 5_000 };
export const DEFAULT_OBSERVATION_SCALES: ObservationScales = {
  priceTicks: 10,
  inventoryLots: 100,
  volumeLots: 100,
  costTicks: 5,
  sizeLots: 10
};
export const DEFAULT_ETA = 1e-4;

export const defaultGameConfig = (population: Population): OtcGameConfig => ({
  population,
  horizon: 100,
  lpGridBp: 0.1,
  spreadMax: 2,
  skewMax: 1,
  hedgeCostFractions: [0.25, 0.5, 0.75, 1],
  ecn: DEFAULT_ECN,
  observation: DEFAULT_OBSERVATION_SCALES
});

/** The 10 stationary LT supertypes of section 5.1: supertype i has q_LT = i, 50 agents each by default. */
export const stationaryLtSupertypes = (agentsPerSupertype = 50, supertypes = 10): LtSupertype[] =>
  Array.from({ length: supertypes }, (_, i) => ({
    name: `lt${i + 1}`,
    count: agentsPerSupertype,
    gamma: constant(0),
    eta: constant(1),
    omega: constant(0),
    qA: constant(0.5),
    qB: constant(0.5),
    qLT: constant(i + 1),
    ecnConnected: true,
    stationary: true
  }));

export interface CalibrationStart {
  /** Initial connectivity probability per LT supertype, per LP supertype ([2][10]); 0.5 by default. */
  readonly connectivity?: readonly (readonly number[])[];
  /** Supertype-1 risk aversion (and supertype 2's when it is shared). */
  readonly gamma1?: number;
  /** Supertype-2 risk-aversion mean and stDev (when it is a clipped normal). */
  readonly gamma2Mean?: number;
  readonly gamma2StDev?: number;
}

/** The shape of a calibration population: how many LPs, and how LP supertype 2's risk aversion is set. */
export interface CalibrationPopulationShape {
  /** n_LP: one LP of supertype 1 and n_LP - 1 of supertype 2 (table 4: 5 or 10). */
  readonly nLp: number;
  /** "shared": supertype 2 has supertype 1's constant gamma; "clipped-normal": its own N(mean, stDev) clipped to [0, 10]. */
  readonly lp2RiskAversion: "shared" | "clipped-normal";
}

/**
 * A population of the calibration experiments of section 5.1 (table 4): 500 stationary LTs
 * in 10 supertypes; LP supertype 1 with one agent and supertype 2 with n_LP - 1, omega = 1,
 * m_target = 1. `start` sets the calibrated parameters. Each experiment's module
 * (core/calibration/experiments/) gives its shape.
 */
export const calibrationPopulation = (shape: CalibrationPopulationShape, start: CalibrationStart = {}): Population => {
  const lt = stationaryLtSupertypes();
  const connectivity = (s: number): ParamDist[] =>
    lt.map((_, j) => constant(start.connectivity?.[s]?.[j] ?? 0.5));
  const gamma1 = start.gamma1 ?? 0.5;
  const lpBase = { eta: constant(DEFAULT_ETA), omega: constant(1), mTarget: constant(1), ecnConnected: true };
  const gamma2: ParamDist =
    shape.lp2RiskAversion === "clipped-normal" ? clippedNormal(start.gamma2Mean ?? 0.5, start.gamma2StDev ?? 0.5, 0, 10) : constant(gamma1);
  const lp: LpSupertype[] = [
    { name: "lp1", count: 1, gamma: constant(gamma1), connectivity: connectivity(0), ...lpBase },
    { name: "lp2", count: shape.nLp - 1, gamma: gamma2, connectivity: connectivity(1), ...lpBase }
  ];
  return { lp, lt };
};

/**
 * The emergent-behaviour population of section 5.2: LP supertype 1 (one agent) samples
 * its connectivity to flow and PnL LTs and its PnL weight uniformly in [0, 1] and its risk
 * aversion in [0, 2]; LP supertype 2 has two agents with gamma = 0.5; 12 flow LTs (omega = 0) and
 * 2 PnL LTs (omega = 1), learning; everybody connected to the ECN.
 */
export const emergentBehaviourPopulation = (): Population => {
  const ltBase = {
    gamma: constant(0),
    eta: constant(DEFAULT_ETA),
    qA: constant(0.5),
    qB: constant(0.5),
    qLT: constant(1),
    ecnConnected: true,
    stationary: false
  };
  const lt: LtSupertype[] = [
    { name: "flow", count: 12, omega: constant(0), ...ltBase },
    { name: "pnl", count: 2, omega: constant(1), ...ltBase }
  ];
  const lp: LpSupertype[] = [
    {
      name: "lp1",
      count: 1,
      gamma: uniform(0, 2),
      eta: constant(DEFAULT_ETA),
      omega: uniform(0, 1),
      mTarget: constant(1),
      connectivity: [uniform(0, 1), uniform(0, 1)],
      ecnConnected: true
    },
    {
      name: "lp2",
      count: 2,
      gamma: constant(0.5),
      eta: constant(DEFAULT_ETA),
      omega: constant(0.5),
      mTarget: constant(1),
      connectivity: [constant(1), constant(1)],
      ecnConnected: true
    }
  ];
  return { lp, lt };
};
