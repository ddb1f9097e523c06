/**
 * Evaluating a what-if scenario against its baseline on common random numbers (paper section 1:
 * "study ... specific what-if scenarios and equilibrium properties, such as impact on a given LP's
 * market share of increasing risk aversion of specific competitors, or of modifying agent
 * connectivity"). Each market (a game config and its trained policies) plays the same episodes:
 * the same global episode indices and the same random stream, so every draw the change does not
 * touch (LT types, the ECN's path, the policies' action noise) is shared between the two. Episodes
 * run through the rollout runner with this module's env factory, so they spread over worker threads
 * and never depend on the worker count; each shard reduces its step record to per-episode market
 * metrics (market-metrics.ts) before it leaves the worker. The comparison is then one paired
 * difference with its confidence interval per (metric, entity) (paired.ts).
 */
import type { OtcGameConfig } from "../otc/config.ts";
import { OtcEnv } from "../otc/env.ts";
import { ecnVariationModelOf, type OtcEcnSpec } from "../otc/rollout-env.ts";
import type { Population } from "../otc/supertypes.ts";
import type { Random } from "../random/philox.ts";
import type { ShardExecutor } from "../rl/rollout-executor.ts";
import { rolloutFactoryLocation, RolloutRunner, type RolloutEnvFactory, type RolloutFactoryLocation, type ShippablePolicy } from "../rl/rollout-runner.ts";
import type { RolloutReturnsParams } from "../rl/rollout.ts";
import { entityLabel, marketEpisodeMetrics, METRIC_MEANINGS, type MarketEpisodeMetrics, type MetricSeries } from "./market-metrics.ts";
import { pairedDifference, type PairedDifference } from "./paired.ts";

export interface MarketEvalArgs {
  readonly config: OtcGameConfig;
  readonly ecn: OtcEcnSpec;
}

/** Evaluation envs: recording, optional per-episode profiles, the shard's market metrics as the extra. */
export const marketEvalEnv: RolloutEnvFactory<MarketEvalArgs, OtcEnv, Population | null, MarketEpisodeMetrics> = {
  create: (args, firstEpisode, episodes) =>
    new OtcEnv({ config: args.config, batchSize: episodes, ecnModel: ecnVariationModelOf(args.ecn), firstEpisodeIndex: firstEpisode, record: true }),
  prepare: (env, profiles) => profiles.forEach((profile, b) => env.setEpisodeProfile(b, profile ?? undefined)),
  extract: (env) => marketEpisodeMetrics(env.takeRecord(), { nLp: env.nLp, nLpSupertypes: env.nLpSupertypes, horizon: env.horizon })
};

export const marketEvalLocation: RolloutFactoryLocation = rolloutFactoryLocation(import.meta.url, "marketEvalEnv", marketEvalEnv);

/** One market to evaluate: its game and the policies of its classes (LP, LT). */
export interface EvaluatedMarket {
  readonly config: OtcGameConfig;
  /** The market's own ECN model when it differs from the options' (a what-if change of the ECN). */
  readonly ecn?: OtcEcnSpec;
  readonly policies: readonly ShippablePolicy[];
}

export interface MarketEvaluationOptions {
  readonly ecn: OtcEcnSpec;
  readonly returns: readonly RolloutReturnsParams[];
  readonly episodes: number;
  readonly episodesPerShard: number;
  /** Worker threads when no executor is given (0: this thread). Never changes results. */
  readonly workers: number;
  readonly executor?: ShardExecutor;
  readonly backend?: "wasm" | "cpu";
}

export class MarketComparisonError extends Error {
  readonly _tag = "MarketComparisonError";
  constructor(reason: string) {
    super(`The two markets cannot be compared episode by episode: ${reason}; a scenario may change parameters, not the number of LPs or supertypes.`);
  }
}

/** Concatenates shard metrics (in episode order) into one table. */
const mergeShards = (shards: readonly MarketEpisodeMetrics[]): MarketEpisodeMetrics => {
  const first = shards[0];
  if (first === undefined) return { episodes: new Int32Array(0), series: [] };
  const episodes = Int32Array.from(shards.flatMap((s) => Array.from(s.episodes)));
  const series = first.series.map((template, k): MetricSeries => {
    const values = new Float64Array(episodes.length);
    let offset = 0;
    for (const shard of shards) {
      const part = shard.series[k]!.values;
      values.set(part, offset);
      offset += part.length;
    }
    return { metric: template.metric, entity: template.entity, values };
  });
  return { episodes, series };
};

/**
 * Plays `options.episodes` episodes of `market` with the policies acting on `rng`'s streams and
 * returns their market metrics. Two calls with the same rng share every draw episode by episode.
 */
export const evaluateMarket = async (market: EvaluatedMarket, options: MarketEvaluationOptions, rng: Random): Promise<MarketEpisodeMetrics> => {
  const runner = new RolloutRunner({
    factory: marketEvalEnv,
    location: marketEvalLocation,
    args: { config: market.config, ecn: market.ecn ?? options.ecn },
    episodes: options.episodes,
    episodesPerShard: options.episodesPerShard,
    workers: options.workers,
    ...(options.executor === undefined ? {} : { executor: options.executor }),
    ...(options.backend === undefined ? {} : { backend: options.backend })
  });
  try {
    const result = await runner.collect(market.policies, rng, options.returns);
    return mergeShards(result.extras);
  } finally {
    await runner.close();
  }
};

export interface MetricComparison {
  readonly metric: MetricSeries["metric"];
  /** "LP 3", "supertype 1" or "market". */
  readonly entity: string;
  readonly meaning: string;
  readonly difference: PairedDifference;
}

/** The paired difference scenario - baseline of every (metric, entity) the two tables share. */
export const compareMarkets = (baseline: MarketEpisodeMetrics, scenario: MarketEpisodeMetrics, level = 0.95): MetricComparison[] => {
  if (baseline.episodes.length !== scenario.episodes.length || baseline.episodes.some((e, k) => scenario.episodes[k] !== e)) {
    throw new MarketComparisonError("they were not played on the same episodes");
  }
  if (baseline.series.length !== scenario.series.length) throw new MarketComparisonError(`the baseline has ${baseline.series.length} metric series and the scenario ${scenario.series.length}`);
  return baseline.series.map((b, k) => {
    const s = scenario.series[k]!;
    const entity = entityLabel(b.entity);
    if (s.metric !== b.metric || entityLabel(s.entity) !== entity) throw new MarketComparisonError(`series ${k} is ${b.metric} of ${entity} in the baseline, ${s.metric} of ${entityLabel(s.entity)} in the scenario`);
    return { metric: b.metric, entity, meaning: METRIC_MEANINGS[b.metric], difference: pairedDifference(b.values, s.values, level) };
  });
};
