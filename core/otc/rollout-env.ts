/**
 * The OTC game as a rollout shard (see core/rl/rollout-runner.ts): how a
 * worker thread builds the env of a shard of episodes from plain data (the game config and the
 * fitted ECN model's parameters), applies each episode's supertype profile (CALSHEQ's particles,
 * section 4), and returns the episodes' outcomes. `mergeEpisodeOutcomes` joins the shards'
 * outcomes back in episode order.
 */
import { gmmVariationModel, type EcnSamplerData } from "../ecn/model.ts";
import { neuralVariationModel } from "../ecn/neural-sampler.ts";
import type { NeuralEcnModel } from "../ecn/neural-train.ts";
import { editedEcnModel, type EcnEdits } from "../ecn/edited-model.ts";
import type { EcnVariationModel } from "../ecn/variation-model.ts";
import { rolloutFactoryLocation, type RolloutEnvFactory, type RolloutFactoryLocation } from "../rl/rollout-runner.ts";
import type { OtcGameConfig } from "./config.ts";
import { OtcEnv, type OtcEpisodeOutcomes } from "./env.ts";
import type { Population } from "./supertypes.ts";

/**
 * The ECN model as data a worker can rebuild it from: the vanilla mixture, or a neural model
 * (history-dependent S_{n+1}) with the vanilla model it was trained beside (S0, alpha,
 * tick, volume unit and order sizes come from it).
 */
export type OtcEcnSpec = (
  | { readonly kind: "gmm"; readonly data: EcnSamplerData }
  | { readonly kind: "neural"; readonly neural: NeuralEcnModel; readonly vanilla: EcnSamplerData }
) & {
  /** A what-if change of the fitted model (a wider spread, a thinner book); none when absent. */
  readonly edits?: EcnEdits;
};

export const ecnVariationModelOf = (spec: OtcEcnSpec): EcnVariationModel => {
  const model = spec.kind === "gmm" ? gmmVariationModel(spec.data) : neuralVariationModel(spec.neural, spec.vanilla);
  return spec.edits === undefined ? model : editedEcnModel(model, spec.edits);
};

export interface OtcRolloutArgs {
  readonly config: OtcGameConfig;
  readonly ecn: OtcEcnSpec;
}

/** Per-episode input: the supertype profile the episode runs with (null: the config's population). */
export type OtcEpisodeProfile = Population | null;

export const otcRolloutEnv: RolloutEnvFactory<OtcRolloutArgs, OtcEnv, OtcEpisodeProfile, OtcEpisodeOutcomes> = {
  create: (args, firstEpisode, episodes) =>
    new OtcEnv({ config: args.config, batchSize: episodes, ecnModel: ecnVariationModelOf(args.ecn), firstEpisodeIndex: firstEpisode }),
  prepare: (env, profiles) => profiles.forEach((profile, b) => env.setEpisodeProfile(b, profile ?? undefined)),
  extract: (env) => env.episodeOutcomes()
};

export const otcRolloutLocation: RolloutFactoryLocation = rolloutFactoryLocation(import.meta.url, "otcRolloutEnv", otcRolloutEnv);

const concat = <T extends Float64Array | Int32Array>(parts: readonly T[], make: (n: number) => T): T => {
  const out = make(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
};

/** The outcomes of consecutive shards as those of one batch (episodes in order). */
export const mergeEpisodeOutcomes = (parts: readonly OtcEpisodeOutcomes[]): OtcEpisodeOutcomes => {
  const first = parts[0];
  if (first === undefined) throw new RangeError("mergeEpisodeOutcomes needs at least one shard");
  if (parts.length === 1) return first;
  const f64 = (pick: (o: OtcEpisodeOutcomes) => Float64Array) => concat(parts.map(pick), (n) => new Float64Array(n));
  return {
    ...first,
    episodes: parts.reduce((n, p) => n + p.episodes, 0),
    lpSupertypeLtQuantity: f64((o) => o.lpSupertypeLtQuantity),
    totalLtQuantity: f64((o) => o.totalLtQuantity),
    ecnLtQuantity: f64((o) => o.ecnLtQuantity),
    ecnRestingLtQuantity: f64((o) => o.ecnRestingLtQuantity),
    noVenueLtQuantity: f64((o) => o.noVenueLtQuantity),
    lpSupertypeTradeSizes: parts.flatMap((o) => o.lpSupertypeTradeSizes),
    lpEpisodeReward: f64((o) => o.lpEpisodeReward),
    ltEpisodeReward: f64((o) => o.ltEpisodeReward),
    lpPnl: f64((o) => o.lpPnl),
    ltPnl: f64((o) => o.ltPnl)
  };
};
