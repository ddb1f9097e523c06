/**
 * Agent supertypes and types of the OTC game (paper section 2.1 and table 1). A
 * supertype is a vector of parameter distributions; at the start of every episode each agent's
 * type is drawn from its supertype and stays fixed for the episode. Connectivity between LPs and
 * LTs is held by the LP supertypes (one probability per LT supertype, itself a parameter that may
 * be random, as in section 5.2); each (LP, LT) pair is an independent Bernoulli draw per episode.
 * A type also carries the empirical fraction of connected counterparties of each counterparty
 * supertype, which the agents observe. Plain TypeScript on typed arrays: the population of an
 * episode is written into preallocated structure-of-arrays buffers (`PopulationTypes`) so that the
 * vectorised environment can redraw types every episode without allocating.
 *
 * Decisions where the paper is silent: LT trade sizes q_LT are rounded to the nearest integer lot
 * (at least 1), because the ECN book trades whole lots; clipped normals are clipped (not
 * truncated), i.e. draws outside the bounds are set to the nearest bound, which is what the paper's
 * "clipped normal random variable" says.
 */
import type { Random } from "../random/philox.ts";

/** A supertype parameter: a constant, a uniform range, or a normal clipped to [low, high]. */
export type ParamDist =
  | { readonly kind: "constant"; readonly value: number }
  | { readonly kind: "uniform"; readonly low: number; readonly high: number }
  | {
      readonly kind: "clippedNormal";
      readonly mean: number;
      readonly stDev: number;
      readonly low: number;
      readonly high: number;
    };

export const constant = (value: number): ParamDist => ({ kind: "constant", value });
export const uniform = (low: number, high: number): ParamDist => ({ kind: "uniform", low, high });
export const clippedNormal = (mean: number, stDev: number, low: number, high: number): ParamDist => ({
  kind: "clippedNormal",
  mean,
  stDev,
  low,
  high
});

/** One draw of a supertype parameter. */
export const sampleParam = (dist: ParamDist, rng: Random): number => {
  switch (dist.kind) {
    case "constant":
      return dist.value;
    case "uniform":
      return dist.low === dist.high ? dist.low : rng.uniformIn(dist.low, dist.high);
    case "clippedNormal": {
      const x = dist.stDev === 0 ? dist.mean : dist.mean + dist.stDev * rng.normal();
      return x < dist.low ? dist.low : x > dist.high ? dist.high : x;
    }
  }
};

/** Smallest and largest value a parameter can take (used for validation). */
export const paramRange = (dist: ParamDist): readonly [number, number] => {
  switch (dist.kind) {
    case "constant":
      return [dist.value, dist.value];
    case "uniform":
      return [dist.low, dist.high];
    case "clippedNormal":
      return [dist.low, dist.high];
  }
};

/** A liquidity-provider supertype (table 1, LP column). */
export interface LpSupertype {
  readonly name: string;
  /** Number of LP agents of this supertype in every episode. */
  readonly count: number;
  /** Risk aversion gamma of eq. (4). */
  readonly gamma: ParamDist;
  /** PnL normaliser eta of eq. (4). */
  readonly eta: ParamDist;
  /** PnL weight omega of eq. (4). */
  readonly omega: ParamDist;
  /** Market-share target m_target of eq. (4) (1 in the paper). */
  readonly mTarget: ParamDist;
  /** Per LT supertype j, the probability p_j that an LP of this supertype is connected to an LT of supertype j. */
  readonly connectivity: readonly ParamDist[];
  /** Whether LPs of this supertype can hedge on the ECN. */
  readonly ecnConnected: boolean;
}

/** A liquidity-taker supertype (table 1, LT column). */
export interface LtSupertype {
  readonly name: string;
  readonly count: number;
  readonly gamma: ParamDist;
  readonly eta: ParamDist;
  readonly omega: ParamDist;
  /** Target fraction of steps with a sell (q^a of eq. 6). */
  readonly qA: ParamDist;
  /** Target fraction of steps with a buy (q^b of eq. 6). */
  readonly qB: ParamDist;
  /** Trade size q_LT in lots (rounded to an integer >= 1). */
  readonly qLT: ParamDist;
  /** Whether LTs of this supertype can trade on the ECN. */
  readonly ecnConnected: boolean;
  /** Stationary LTs (section 5.1) buy or sell q_LT with probability 1/2 each step and do not learn. */
  readonly stationary: boolean;
}

export interface Population {
  readonly lp: readonly LpSupertype[];
  readonly lt: readonly LtSupertype[];
}

/** Raised when a population is inconsistent (e.g. a connectivity vector of the wrong length). */
export class PopulationError extends Error {
  readonly _tag = "PopulationError";
  constructor(readonly field: string, readonly reason: string) {
    super(`Invalid OTC population at ${field}: ${reason}; fix the experiment config.`);
  }
}

/**
 * Checks the structural and range constraints of a population (the Effect Schema in
 * schemas/otc.ts checks the same with field paths; this guard protects direct callers).
 */
export const validatePopulation = (population: Population): void => {
  const checkProbability = (dist: ParamDist, field: string) => {
    const [lo, hi] = paramRange(dist);
    if (!(lo >= 0 && hi <= 1)) throw new PopulationError(field, `a probability must lie in [0, 1], got range [${lo}, ${hi}]`);
  };
  const checkDist = (dist: ParamDist, field: string) => {
    if (dist.kind === "uniform" && !(dist.low <= dist.high)) throw new PopulationError(field, "uniform low must be <= high");
    if (dist.kind === "clippedNormal") {
      if (!(dist.stDev >= 0)) throw new PopulationError(field, "stDev must be >= 0");
      if (!(dist.low <= dist.high)) throw new PopulationError(field, "clipped-normal low must be <= high");
    }
  };
  if (population.lp.length === 0) throw new PopulationError("lp", "at least one LP supertype is needed");
  if (population.lt.length === 0) throw new PopulationError("lt", "at least one LT supertype is needed");
  population.lp.forEach((s, i) => {
    const at = `lp[${i}]`;
    if (!Number.isInteger(s.count) || s.count < 1) throw new PopulationError(`${at}.count`, "a supertype needs at least one agent");
    if (s.connectivity.length !== population.lt.length) {
      throw new PopulationError(`${at}.connectivity`, `needs one probability per LT supertype (${population.lt.length}), got ${s.connectivity.length}`);
    }
    for (const key of ["gamma", "eta", "omega", "mTarget"] as const) checkDist(s[key], `${at}.${key}`);
    checkProbability(s.omega, `${at}.omega`);
    if (!(paramRange(s.eta)[0] > 0)) throw new PopulationError(`${at}.eta`, "the PnL normaliser eta must be > 0");
    s.connectivity.forEach((d, j) => {
      checkDist(d, `${at}.connectivity[${j}]`);
      checkProbability(d, `${at}.connectivity[${j}]`);
    });
  });
  population.lt.forEach((s, i) => {
    const at = `lt[${i}]`;
    if (!Number.isInteger(s.count) || s.count < 1) throw new PopulationError(`${at}.count`, "a supertype needs at least one agent");
    for (const key of ["gamma", "eta", "omega", "qA", "qB", "qLT"] as const) checkDist(s[key], `${at}.${key}`);
    checkProbability(s.omega, `${at}.omega`);
    if (!(paramRange(s.eta)[0] > 0)) throw new PopulationError(`${at}.eta`, "the PnL normaliser eta must be > 0");
    checkProbability(s.qA, `${at}.qA`);
    checkProbability(s.qB, `${at}.qB`);
    if (paramRange(s.qA)[1] + paramRange(s.qB)[1] > 1) throw new PopulationError(`${at}`, "q^a + q^b must be <= 1 for every possible draw");
    if (!(paramRange(s.qLT)[0] > 0)) throw new PopulationError(`${at}.qLT`, "trade sizes must be positive");
  });
  const nLp = population.lp.reduce((a, s) => a + s.count, 0);
  if (nLp > 31) throw new PopulationError("lp", `at most 31 LP agents are supported (connectivity is a 31-bit mask), got ${nLp}`);
};

/**
 * The types of one episode, structure of arrays. LPs are numbered supertype by supertype in the
 * order of `Population.lp`, LTs likewise.
 */
export class PopulationTypes {
  readonly nLp: number;
  readonly nLt: number;
  readonly nLpSupertypes: number;
  readonly nLtSupertypes: number;
  /** Supertype index of each agent (fixed by the population's counts). */
  readonly lpSupertype: Int32Array;
  readonly ltSupertype: Int32Array;
  readonly lpGamma: Float64Array;
  readonly lpEta: Float64Array;
  readonly lpOmega: Float64Array;
  readonly lpMTarget: Float64Array;
  readonly lpEcnConnected: Uint8Array;
  /** nLp x nLtSupertypes: fraction of the LTs of each supertype this LP is connected to. */
  readonly lpConnectedFraction: Float64Array;
  readonly ltGamma: Float64Array;
  readonly ltEta: Float64Array;
  readonly ltOmega: Float64Array;
  readonly ltQA: Float64Array;
  readonly ltQB: Float64Array;
  readonly ltSize: Float64Array;
  readonly ltEcnConnected: Uint8Array;
  readonly ltStationary: Uint8Array;
  /** nLt x nLpSupertypes: fraction of the LPs of each supertype this LT is connected to. */
  readonly ltConnectedFraction: Float64Array;
  /** nLt: bit i set when the LT is connected to LP i (nLp <= 31). */
  readonly ltLpMask: Int32Array;
  /** The connectivity probability drawn for each (LP, LT supertype) pair this episode: nLp x nLtSupertypes. */
  readonly lpConnectivityProbability: Float64Array;

  constructor(readonly population: Population) {
    validatePopulation(population);
    this.nLpSupertypes = population.lp.length;
    this.nLtSupertypes = population.lt.length;
    this.nLp = population.lp.reduce((a, s) => a + s.count, 0);
    this.nLt = population.lt.reduce((a, s) => a + s.count, 0);
    const nLp = this.nLp;
    const nLt = this.nLt;
    this.lpSupertype = new Int32Array(nLp);
    this.ltSupertype = new Int32Array(nLt);
    let k = 0;
    population.lp.forEach((s, i) => {
      for (let c = 0; c < s.count; c++) this.lpSupertype[k++] = i;
    });
    k = 0;
    population.lt.forEach((s, i) => {
      for (let c = 0; c < s.count; c++) this.ltSupertype[k++] = i;
    });
    this.lpGamma = new Float64Array(nLp);
    this.lpEta = new Float64Array(nLp);
    this.lpOmega = new Float64Array(nLp);
    this.lpMTarget = new Float64Array(nLp);
    this.lpEcnConnected = new Uint8Array(nLp);
    this.lpConnectedFraction = new Float64Array(nLp * this.nLtSupertypes);
    this.lpConnectivityProbability = new Float64Array(nLp * this.nLtSupertypes);
    this.ltGamma = new Float64Array(nLt);
    this.ltEta = new Float64Array(nLt);
    this.ltOmega = new Float64Array(nLt);
    this.ltQA = new Float64Array(nLt);
    this.ltQB = new Float64Array(nLt);
    this.ltSize = new Float64Array(nLt);
    this.ltEcnConnected = new Uint8Array(nLt);
    this.ltStationary = new Uint8Array(nLt);
    this.ltConnectedFraction = new Float64Array(nLt * this.nLpSupertypes);
    this.ltLpMask = new Int32Array(nLt);
  }

  /** Whether LP `lp` is connected to LT `lt` this episode. */
  connected(lp: number, lt: number): boolean {
    return ((this.ltLpMask[lt]! >>> lp) & 1) === 1;
  }

  /**
   * Draws every agent's type and the connectivity graph from `profile` (defaults to the
   * population the buffers were built for; a calibration particle may pass its own profile with
   * the same supertype counts).
   */
  sample(rng: Random, profile: Population = this.population): void {
    if (profile !== this.population) {
      assertSameShape(this.population, profile);
      validatePopulation(profile);
    }
    const nLtS = this.nLtSupertypes;
    const nLpS = this.nLpSupertypes;
    const ltCountPerSupertype = profile.lt.map((s) => s.count);
    const lpCountPerSupertype = profile.lp.map((s) => s.count);
    for (let i = 0; i < this.nLp; i++) {
      const s = profile.lp[this.lpSupertype[i]!]!;
      this.lpGamma[i] = sampleParam(s.gamma, rng);
      this.lpEta[i] = sampleParam(s.eta, rng);
      this.lpOmega[i] = sampleParam(s.omega, rng);
      this.lpMTarget[i] = sampleParam(s.mTarget, rng);
      this.lpEcnConnected[i] = s.ecnConnected ? 1 : 0;
      for (let j = 0; j < nLtS; j++) this.lpConnectivityProbability[i * nLtS + j] = sampleParam(s.connectivity[j]!, rng);
    }
    for (let k = 0; k < this.nLt; k++) {
      const s = profile.lt[this.ltSupertype[k]!]!;
      this.ltGamma[k] = sampleParam(s.gamma, rng);
      this.ltEta[k] = sampleParam(s.eta, rng);
      this.ltOmega[k] = sampleParam(s.omega, rng);
      this.ltQA[k] = sampleParam(s.qA, rng);
      this.ltQB[k] = sampleParam(s.qB, rng);
      this.ltSize[k] = Math.max(1, Math.round(sampleParam(s.qLT, rng)));
      this.ltEcnConnected[k] = s.ecnConnected ? 1 : 0;
      this.ltStationary[k] = s.stationary ? 1 : 0;
    }
    // Connectivity: one Bernoulli per (LP, LT) pair, LP-major so the draw order is fixed. One
    // 32-bit draw per pair (p resolved to 2^-32; p = 0 and p = 1 exact) keeps resets cheap.
    this.ltLpMask.fill(0);
    this.lpConnectedFraction.fill(0);
    this.ltConnectedFraction.fill(0);
    for (let i = 0; i < this.nLp; i++) {
      const bit = 1 << i;
      const lpS = this.lpSupertype[i]!;
      for (let k = 0; k < this.nLt; k++) {
        const ltS = this.ltSupertype[k]!;
        if (rng.nextUint32() < this.lpConnectivityProbability[i * nLtS + ltS]! * 4294967296) {
          this.ltLpMask[k] = this.ltLpMask[k]! | bit;
          this.lpConnectedFraction[i * nLtS + ltS]! += 1;
          this.ltConnectedFraction[k * nLpS + lpS]! += 1;
        }
      }
    }
    for (let i = 0; i < this.nLp; i++) {
      for (let j = 0; j < nLtS; j++) this.lpConnectedFraction[i * nLtS + j]! /= ltCountPerSupertype[j]!;
    }
    for (let k = 0; k < this.nLt; k++) {
      for (let j = 0; j < nLpS; j++) this.ltConnectedFraction[k * nLpS + j]! /= lpCountPerSupertype[j]!;
    }
  }
}

/** Raised when a per-episode profile does not have the shape (supertypes, counts) of the env's population. */
export class ProfileShapeError extends Error {
  readonly _tag = "ProfileShapeError";
  constructor(readonly reason: string) {
    super(`A per-episode supertype profile must keep the env's supertypes and counts (${reason}); change only parameter values.`);
  }
}

const assertSameShape = (base: Population, profile: Population): void => {
  if (base.lp.length !== profile.lp.length || base.lt.length !== profile.lt.length) {
    throw new ProfileShapeError("different numbers of supertypes");
  }
  base.lp.forEach((s, i) => {
    const p = profile.lp[i]!;
    if (p.count !== s.count) throw new ProfileShapeError(`lp[${i}].count ${p.count} != ${s.count}`);
    if (p.connectivity.length !== s.connectivity.length) throw new ProfileShapeError(`lp[${i}].connectivity length`);
  });
  base.lt.forEach((s, i) => {
    const p = profile.lt[i]!;
    if (p.count !== s.count) throw new ProfileShapeError(`lt[${i}].count ${p.count} != ${s.count}`);
    if (p.stationary !== s.stationary) throw new ProfileShapeError(`lt[${i}].stationary`);
  });
};
