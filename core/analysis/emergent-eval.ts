/**
 * Evaluation episodes of section 5.2: the trained LP and LT shared policies play episodes
 * in which the first LP's attributes (its connectivity to flow LTs and to PnL LTs, its PnL weight
 * omega, its risk aversion gamma) are fixed to chosen values, and each episode becomes the first
 * LP's trace (core/analysis/emergent-metrics.ts). Episodes run through the rollout runner
 * (core/rl/rollout-runner.ts) with this module's env factory, so they spread over worker threads
 * and an episode's result depends only on its global index and its profile, never on the worker
 * count. Also the populations of figure 3 (the same market with 0, 1, 3 or 4 PnL LTs).
 *
 * Decisions: "0 PnL LTs" keeps the PnL LT supertype (the policies' observations have one
 * connected fraction per LT supertype) with one agent that no LP is connected to and that cannot
 * reach the ECN, so it never trades; the LPs observe a connected fraction of 0, as with no such LT.
 */
import type { OtcGameConfig } from "../otc/config.ts";
import { OtcEnv } from "../otc/env.ts";
import { ecnVariationModelOf, type OtcEcnSpec } from "../otc/rollout-env.ts";
import { constant, type LpSupertype, type LtSupertype, type Population } from "../otc/supertypes.ts";
import type { Random } from "../random/philox.ts";
import type { ShardExecutor } from "../rl/rollout-executor.ts";
import { rolloutFactoryLocation, RolloutRunner, type RolloutEnvFactory, type RolloutFactoryLocation, type ShippablePolicy } from "../rl/rollout-runner.ts";
import type { RolloutReturnsParams } from "../rl/rollout.ts";
import {
  episodeMetrics,
  flowResponse,
  holdingByInventory,
  lpTraces,
  pooledSkewFit,
  type BinSpec,
  type LpEpisodeTrace
} from "./emergent-metrics.ts";
import { meanAndStdError } from "./stats.ts";

/** The attributes of the first LP that section 5.2 varies. */
export const EMERGENT_ATTRIBUTES = ["flowConnectivity", "pnlConnectivity", "pnlWeight", "riskAversion"] as const;
export type EmergentAttribute = (typeof EMERGENT_ATTRIBUTES)[number];

export const ATTRIBUTE_LABELS: Readonly<Record<EmergentAttribute, string>> = {
  flowConnectivity: "flow LT connectivity",
  pnlConnectivity: "PnL LT connectivity",
  pnlWeight: "PnL weight omega",
  riskAversion: "risk aversion gamma"
};

export type Lp1Attributes = Readonly<Record<EmergentAttribute, number>>;

/** Raised when a population is not shaped like the section 5.2 one (flow LTs, then PnL LTs). */
export class EmergentPopulationError extends Error {
  readonly _tag = "EmergentPopulationError";
  constructor(reason: string) {
    super(`The emergent-behaviour evaluation needs the section 5.2 population (LT supertypes flow then PnL): ${reason}; use emergentBehaviourPopulation().`);
  }
}

const checkShape = (population: Population) => {
  if (population.lt.length !== 2) throw new EmergentPopulationError(`it has ${population.lt.length} LT supertypes, not 2`);
  if (population.lp.length < 1 || population.lp[0]!.count !== 1) throw new EmergentPopulationError("its first LP supertype must have exactly one agent");
};

/** The population with the first LP's attributes fixed to `values` (constants). */
export const lp1Profile = (population: Population, values: Lp1Attributes): Population => {
  checkShape(population);
  const [lp1, ...rest] = population.lp as [LpSupertype, ...LpSupertype[]];
  return {
    lt: population.lt,
    lp: [
      {
        ...lp1,
        gamma: constant(values.riskAversion),
        omega: constant(values.pnlWeight),
        connectivity: [constant(values.flowConnectivity), constant(values.pnlConnectivity)]
      },
      ...rest
    ]
  };
};

/** The section 5.2 market with `pnlLts` PnL LTs (figure 3); 0 keeps one that can never trade. */
export const withPnlLtCount = (population: Population, pnlLts: number): Population => {
  checkShape(population);
  if (!Number.isInteger(pnlLts) || pnlLts < 0) throw new EmergentPopulationError(`a PnL LT count must be a non-negative integer, got ${pnlLts}`);
  const [flow, pnl] = population.lt as [LtSupertype, LtSupertype];
  if (pnlLts > 0) return { lp: population.lp, lt: [flow, { ...pnl, count: pnlLts }] };
  return {
    lt: [flow, { ...pnl, count: 1, ecnConnected: false }],
    lp: population.lp.map((s) => ({ ...s, connectivity: [s.connectivity[0]!, constant(0)] }))
  };
};

/** What a worker needs to build an evaluation env: the game and the fitted ECN model. */
export interface EmergentEvalArgs {
  readonly config: OtcGameConfig;
  readonly ecn: OtcEcnSpec;
}

/** The LP whose behaviour is measured: the first one (supertype lp1). */
export const MEASURED_LP = 0;

/** The connected LTs of each class for `lp` in every episode of the env's last reset. */
const connectedCounts = (env: OtcEnv, lp: number): Float64Array[] =>
  Array.from({ length: env.batchSize }, (_, b) => {
    const types = env.typesOf(b);
    const profile = types.population;
    const out = new Float64Array(env.nLtSupertypes);
    for (let j = 0; j < env.nLtSupertypes; j++) {
      // The fractions are per the episode's counts, which every profile shares with the population.
      out[j] = Math.round(types.lpConnectedFraction[lp * env.nLtSupertypes + j]! * profile.lt[j]!.count);
    }
    return out;
  });

/** Evaluation envs: recording, per-episode profiles, and the first LP's traces as the extra. */
export const emergentEvalEnv: RolloutEnvFactory<EmergentEvalArgs, OtcEnv, Population | null, LpEpisodeTrace[]> = {
  create: (args, firstEpisode, episodes) =>
    new OtcEnv({ config: args.config, batchSize: episodes, ecnModel: ecnVariationModelOf(args.ecn), firstEpisodeIndex: firstEpisode, record: true }),
  prepare: (env, profiles) => profiles.forEach((profile, b) => env.setEpisodeProfile(b, profile ?? undefined)),
  extract: (env) =>
    lpTraces(env.takeRecord(), {
      lp: MEASURED_LP,
      horizon: env.horizon,
      ltClasses: env.nLtSupertypes,
      episodes: Array.from({ length: env.batchSize }, (_, b) => env.firstEpisodeIndex + b),
      connected: connectedCounts(env, MEASURED_LP)
    })
};

export const emergentEvalLocation: RolloutFactoryLocation = rolloutFactoryLocation(import.meta.url, "emergentEvalEnv", emergentEvalEnv);

// ---------------------------------------------------------------------------------------------
// The evaluation of section 5.2 as plain columns
// ---------------------------------------------------------------------------------------------

export interface EmergentEvaluationOptions {
  readonly config: OtcGameConfig;
  readonly ecn: OtcEcnSpec;
  /** The trained policies, one per class of the env (LP, LT). */
  readonly policies: readonly ShippablePolicy[];
  readonly returns: readonly RolloutReturnsParams[];
  readonly grid: Readonly<Record<EmergentAttribute, readonly number[]>>;
  readonly base: Lp1Attributes;
  readonly episodes: number;
  readonly pnlLtCounts: readonly number[];
  readonly epsBins: BinSpec;
  readonly inventoryBucket: number;
  readonly scatterPoints: number;
  readonly episodesPerShard: number;
  /** Worker threads for the grid when no executor is given (0: this thread). */
  readonly workers: number;
  /** Where the grid's shards run instead (closed when the grid is done). */
  readonly executor?: ShardExecutor;
  readonly backend?: "wasm" | "cpu";
  /** Called after each batch of episodes with the number done so far. */
  readonly progress?: (done: number, total: number) => void;
}

export type Columns = Record<string, Float64Array | string[]>;

export interface EmergentEvaluation {
  /** One row per episode: attribute, value, episode and its metrics. */
  readonly episodes: Columns;
  /** One row per (attribute, value): pooled skew regression and metric means with standard errors. */
  readonly values: Columns;
  /** F(eps) per (attribute, value, eps bin), in total and per LT class. */
  readonly flowResponse: Columns;
  /** Mean holding time per (attribute, value, inventory bucket). */
  readonly holding: Columns;
  /** A deterministic subsample of (inventory, eps_skew) points per (attribute, value). */
  readonly skewPoints: Columns;
  /** Figure 3: F(eps) per number of PnL LTs. */
  readonly pnlLtFlow: Columns;
  /** Episodes played, and the summed wall time of the rollout calls (ms; the figure 3 calls overlap). */
  readonly episodesPlayed: number;
  readonly rolloutMs: number;
}

const EPISODE_METRICS = [
  "skewIntensity",
  "hedgeFraction",
  "meanHoldingTime",
  "censoredHoldingFraction",
  "averagePrice",
  "flowWeightedPrice",
  "marketShare",
  "pnl",
  "reward",
  "meanAbsInventory"
] as const;

/** The LT class names of the section 5.2 population, in supertype order. */
const CLASS_NAMES = ["flowLt", "pnlLt"] as const;

const playAll = async (
  options: EmergentEvaluationOptions,
  config: OtcGameConfig,
  profiles: readonly (Population | null)[],
  rng: Random,
  workers: number,
  executor?: ShardExecutor
): Promise<{ traces: LpEpisodeTrace[]; ms: number }> => {
  const runner = new RolloutRunner({
    factory: emergentEvalEnv,
    location: emergentEvalLocation,
    args: { config, ecn: options.ecn },
    episodes: profiles.length,
    episodesPerShard: options.episodesPerShard,
    workers,
    ...(executor === undefined ? {} : { executor }),
    ...(options.backend === undefined ? {} : { backend: options.backend })
  });
  try {
    const started = performance.now();
    const result = await runner.collect(options.policies, rng, options.returns, profiles);
    return { traces: result.extras.flat(), ms: performance.now() - started };
  } finally {
    await runner.close();
  }
};

/**
 * Plays `episodes` episodes per value of every attribute (the others at `base`) and the figure 3
 * markets, and reduces the first LP's traces to the tables of the report.
 */
export const runEmergentEvaluation = async (options: EmergentEvaluationOptions, rng: Random): Promise<EmergentEvaluation> => {
  const population = options.config.population;
  const jobs: { attribute: EmergentAttribute; value: number }[] = [];
  for (const attribute of EMERGENT_ATTRIBUTES) for (const value of options.grid[attribute]) jobs.push({ attribute, value });
  const profiles: Population[] = [];
  for (const job of jobs) {
    const profile = lp1Profile(population, { ...options.base, [job.attribute]: job.value });
    for (let e = 0; e < options.episodes; e++) profiles.push(profile);
  }
  const total = profiles.length + options.pnlLtCounts.length * options.episodes;
  // The grid goes to the worker threads; meanwhile this thread plays the figure 3 markets, which
  // differ in shape (PnL LT count) and so need runners of their own: starting workers for each
  // would cost more than their few episodes.
  const gridRun = playAll(options, options.config, profiles, rng.split("grid"), options.workers, options.executor);
  // Awaited below; this only keeps a failure from being reported as unhandled while the markets run.
  gridRun.catch(() => undefined);
  const markets: { traces: LpEpisodeTrace[]; ms: number }[] = [];
  for (const count of options.pnlLtCounts) {
    const config = { ...options.config, population: withPnlLtCount(lp1Profile(population, options.base), count) };
    const nulls = Array.from({ length: options.episodes }, () => null);
    markets.push(await playAll(options, config, nulls, rng.split(`pnl-lts:${count}`), 0));
  }
  const grid = await gridRun;
  let rolloutMs = grid.ms;
  options.progress?.(profiles.length, total);

  const ep: Record<string, number[]> = {};
  const epAttribute: string[] = [];
  const put = (columns: Record<string, number[]>, key: string, value: number) => (columns[key] ??= []).push(value);
  const val: Record<string, number[]> = {};
  const valAttribute: string[] = [];
  const fr: Record<string, number[]> = {};
  const frAttribute: string[] = [];
  const hold: Record<string, number[]> = {};
  const holdAttribute: string[] = [];
  const pts: Record<string, number[]> = {};
  const ptsAttribute: string[] = [];

  jobs.forEach((job, k) => {
    const traces = grid.traces.slice(k * options.episodes, (k + 1) * options.episodes);
    const metrics = traces.map(episodeMetrics);
    for (const m of metrics) {
      epAttribute.push(job.attribute);
      put(ep, "value", job.value);
      put(ep, "episode", m.episode);
      for (const key of EPISODE_METRICS) put(ep, key, m[key]);
      CLASS_NAMES.forEach((name, c) => put(ep, `flowPerConnected_${name}`, m.flowPerConnected[c] ?? Number.NaN));
    }
    const fit = pooledSkewFit(traces);
    valAttribute.push(job.attribute);
    put(val, "value", job.value);
    put(val, "episodes", traces.length);
    put(val, "skewSlope", fit.slope);
    put(val, "skewIntercept", fit.intercept);
    put(val, "skewStdError", fit.slopeStdError);
    put(val, "skewCiLow", fit.ciLow);
    put(val, "skewCiHigh", fit.ciHigh);
    const summarise = (key: string, values: number[]) => {
      const s = meanAndStdError(values);
      put(val, `${key}Mean`, s.mean);
      put(val, `${key}StdError`, s.stdError);
    };
    for (const key of EPISODE_METRICS) summarise(key, metrics.map((m) => m[key]));
    CLASS_NAMES.forEach((name, c) => summarise(`flowPerConnected_${name}`, metrics.map((m) => m.flowPerConnected[c] ?? Number.NaN)));

    const response = flowResponse(traces, options.epsBins);
    response.eps.forEach((eps, b) => {
      frAttribute.push(job.attribute);
      put(fr, "value", job.value);
      put(fr, "eps", eps);
      put(fr, "flow", response.flow[b]!);
      put(fr, "count", response.count[b]!);
      CLASS_NAMES.forEach((name, c) => put(fr, `flow_${name}`, response.classFlow[c]?.[b] ?? Number.NaN));
    });
    const holding = holdingByInventory(traces, options.inventoryBucket);
    holding.inventory.forEach((q, b) => {
      holdAttribute.push(job.attribute);
      put(hold, "value", job.value);
      put(hold, "inventory", q);
      put(hold, "meanHoldingTime", holding.meanHoldingTime[b]!);
      put(hold, "count", holding.count[b]!);
    });
    const steps = traces.reduce((n, tr) => n + tr.horizon, 0);
    const stride = Math.max(1, Math.ceil(steps / options.scatterPoints));
    let i = 0;
    for (const tr of traces) {
      for (let t = 0; t < tr.horizon; t++, i++) {
        if (i % stride !== 0) continue;
        ptsAttribute.push(job.attribute);
        put(pts, "value", job.value);
        put(pts, "inventory", tr.inventoryStart[t]!);
        put(pts, "skew", tr.skew[t]!);
      }
    }
  });

  const f3: Record<string, number[]> = {};
  let played = profiles.length;
  markets.forEach((run, k) => {
    const count = options.pnlLtCounts[k]!;
    rolloutMs += run.ms;
    played += options.episodes;
    const response = flowResponse(run.traces, options.epsBins);
    response.eps.forEach((eps, b) => {
      put(f3, "pnlLts", count);
      put(f3, "eps", eps);
      put(f3, "flow", response.flow[b]!);
      put(f3, "count", response.count[b]!);
    });
  });
  options.progress?.(played, total);

  const columns = (numbers: Record<string, number[]>, strings: Record<string, string[]> = {}): Columns => {
    const out: Columns = { ...strings };
    for (const [k, v] of Object.entries(numbers)) out[k] = Float64Array.from(v);
    return out;
  };
  return {
    episodes: columns(ep, { attribute: epAttribute }),
    values: columns(val, { attribute: valAttribute }),
    flowResponse: columns(fr, { attribute: frAttribute }),
    holding: columns(hold, { attribute: holdAttribute }),
    skewPoints: columns(pts, { attribute: ptsAttribute }),
    pnlLtFlow: columns(f3),
    episodesPlayed: played,
    rolloutMs
  };
};
