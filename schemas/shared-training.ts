/**
 * Shared-policy training as data (paper sections 2.2.1, 3.1, 5): the params of a shared-policy
 * loop (population, schedule, B and T, rollout sharding, the PPO of each learning class), the game
 * configuration they choose, the loop state's codec (plain data, core/rl/shared-loop.ts), and the
 * exploitability summary. Shared by `train-shared`, its diagnostics, the emergent-behaviour game training and the
 * LT-spectrum loop.
 */
import { defaultStoppingSettings, StoppingSettings } from "./stopping.ts";
import { Schema } from "effect";
import { experimentIds, experimentPopulation } from "../core/calibration/experiments.ts";
import { defaultGameConfig, emergentBehaviourPopulation } from "../core/otc/config.ts";
import { constant, type Population } from "../core/otc/supertypes.ts";
import type { SharedIterationRow, SharedLoopState } from "../core/rl/shared-loop.ts";
import { structuredCodec } from "../core/pipeline/codecs/structured.ts";
import { PpoSettings } from "./ppo.ts";
import { defaultRolloutSettings, EpisodesPerShard, RolloutSettings } from "./rollouts.ts";

const PositiveInt = Schema.Int.pipe(Schema.positive());
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative());
const opt = <A, I>(schema: Schema.Schema<A, I>, value: A) => Schema.optionalWith(schema, { default: () => value });
const PpoSettingsSchema = PpoSettings;
const defaultSettings = (): PpoSettings => PpoSettingsSchema.make({});

const isSharedLoopState = (value: unknown): value is SharedLoopState => {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v["iteration"] === "number" && typeof v["envSteps"] === "number" && Array.isArray(v["rows"]) && typeof v["agents"] === "object";
};

/** The loop state in memory and in checkpoints: plain data (core/rl/shared-loop.ts). */
export const sharedLoopStateCodec = { ...structuredCodec("shared-trainer", isSharedLoopState), name: "shared-training-state" };

export const rowsOfShared = (state: SharedLoopState): readonly SharedIterationRow[] => state.rows;

export const SharedTrainingParams = Schema.Struct({
  population: opt(Schema.String.pipe(Schema.filter((choice) => populationChoices().includes(choice) || `one of ${populationChoices().join(", ")}`)), "emergent").annotations({ description: "Population: the emergent-behaviour setup of section 5.2 or a calibration experiment's (section 5.1)." }),
  iterations: opt(NonNegativeInt, 50).annotations({ description: "Training iterations N of the shared LP and LT policies." }),
  checkpointEvery: opt(PositiveInt, 10).annotations({ description: "Checkpoint every K iterations." }),
  episodes: opt(PositiveInt, 8).annotations({ description: "B, episodes per iteration [60]." }),
  horizon: opt(PositiveInt, 100).annotations({ description: "T, steps per episode [100]." }),
  episodesPerShard: opt(EpisodesPerShard, 4).annotations({ description: "Episodes per rollout shard (the unit of work of a worker thread)." }),
  rollouts: opt(RolloutSettings, defaultRolloutSettings()).annotations({ description: "Rollout execution (worker threads); never changes results, so not in the cache key." }),
  learning: opt(Schema.mutable(Schema.Array(Schema.Literal("lp", "lt"))), ["lp", "lt"] as Array<"lp" | "lt">).annotations({ description: "Classes whose policy is trained." }),
  lp: opt(PpoSettingsSchema, defaultSettings()),
  lt: opt(PpoSettingsSchema, defaultSettings()),
  lpEta: opt(Schema.NullOr(Schema.Number.pipe(Schema.positive())), null).annotations({
    description: "eta, the PnL normaliser of every LP's reward (eq. 4): the weight of PnL against the market-share term; null keeps the population's (1e-4)."
  }),
  stopping: opt(StoppingSettings, defaultStoppingSettings).annotations({
    description: "When training stops: after `iterations`, or once each learning class's mean reward is flat and one LP fine-tuned against the policies gains nothing beyond noise (paper section 3.1), `iterations` being the cap."
  })
});
export type SharedTrainingParams = typeof SharedTrainingParams.Type;

/** The populations a shared training can run on: "emergent" and "calibration-exp<id>" of every registered experiment. */
const calibrationChoices = () => new Map<string, number>(experimentIds().map((id) => [`calibration-exp${id}`, id]));
const populationChoices = () => ["emergent", ...calibrationChoices().keys()];

export const sharedPopulation = (choice: SharedTrainingParams["population"]): Population => {
  if (choice === "emergent") return emergentBehaviourPopulation();
  const experiment = calibrationChoices().get(choice);
  if (experiment === undefined) throw new Error(`Unknown population "${choice}"; use one of ${populationChoices().join(", ")}.`);
  return experimentPopulation(experiment);
};

/** The population with every LP's eta set when `lpEta` is given. */
const withLpEta = (population: Population, lpEta: number | null): Population =>
  lpEta === null ? population : { ...population, lp: population.lp.map((supertype) => ({ ...supertype, eta: constant(lpEta) })) };

export const sharedGameConfig = (p: SharedTrainingParams) => ({ ...defaultGameConfig(withLpEta(sharedPopulation(p.population), p.lpEta)), horizon: p.horizon });

/** What `exploitability` measures and `shared-report` shows: the gain of one agent fine-tuned against the frozen shared policy. */
export const ExploitabilitySummary = Schema.Struct({
  agentClass: Schema.String,
  agent: Schema.Number,
  gain: Schema.Number,
  gainStdError: Schema.Number,
  baselineReward: Schema.Number,
  deviatorReward: Schema.Number,
  episodes: Schema.Number,
  fineTuneRewards: Schema.mutable(Schema.Array(Schema.Number))
});
export type ExploitabilitySummary = typeof ExploitabilitySummary.Type;
