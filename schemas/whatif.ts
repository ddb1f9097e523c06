/**
 * Params and artifacts of the `what-if` pipeline (paper section 1's what-if questions, asked of
 * the calibrated market of section 4). A scenario is a tree of edits whose leaves are numbers:
 * `--set whatif.scenarios.riskier.lp.lp2.gamma.mean=4` gives the scenario `riskier` the edit
 * `lp.lp2.gamma.mean = 4` (paths as core/otc/scenario.ts names them). The re-equilibration's
 * stopping rule, its training batch and the evaluation's episode count are groups shared by every
 * scenario. The state of a re-equilibration loop and a scenario's comparison are plain data.
 */
import { Schema } from "effect";
import type { ReequilibrationState } from "../core/calibration/reequilibration.ts";
import type { MetricComparison } from "../core/analysis/whatif-eval.ts";
import type { ScenarioEdit } from "../core/otc/scenario.ts";
import { structuredCodec } from "../core/pipeline/codecs/structured.ts";
import { defaultRolloutSettings, EpisodesPerShard, RolloutSettings } from "./rollouts.ts";

/** A required field with its one-line meaning (on the field, so `pipeline params` shows it beside the type). */
const described = <A, I>(schema: Schema.Schema<A, I>, description: string) => Schema.propertySignature(schema).annotations({ description });

export interface ScenarioTree {
  readonly [key: string]: number | ScenarioTree;
}

export const ScenarioTree: Schema.Schema<ScenarioTree> = Schema.Record({
  key: Schema.String,
  value: Schema.Union(Schema.Number, Schema.suspend((): Schema.Schema<ScenarioTree> => ScenarioTree))
}).annotations({ description: "The scenario's edits: a tree whose leaf paths name population parameters (lp.lp2.gamma.mean = 4); {} changes nothing." });

/** A scenario tree's edits in path order. */
export const scenarioEdits = (tree: ScenarioTree, prefix = ""): ScenarioEdit[] =>
  Object.keys(tree)
    .sort()
    .flatMap((key) => {
      const value = tree[key]!;
      const path = prefix === "" ? key : `${prefix}.${key}`;
      return typeof value === "number" ? [{ path, value }] : scenarioEdits(value, path);
    });

export const ReequilibrationRule = Schema.Struct({
  window: described(Schema.Int.pipe(Schema.greaterThanOrEqualTo(3)), "Iterations the reward slopes are fitted on (the most recent ones)."),
  minIterations: described(Schema.Int.pipe(Schema.positive()), "No stop before this many iterations (at least the window)."),
  maxIterations: described(Schema.Int.pipe(Schema.positive()), "The cap: training stops here whatever the slopes say."),
  every: described(Schema.Int.pipe(Schema.positive()), "A check (and a checkpoint) every this many iterations."),
  driftTolerance: described(Schema.Number.pipe(Schema.nonNegative()), "A reward change over the window below which a curve counts as flat even if its slope is significant."),
  exploitability: Schema.Struct({
    agent: described(Schema.Int.pipe(Schema.nonNegative()), "The deviating LP's index among an episode's LPs (0: supertype 1's first)."),
    fineTuneIterations: described(Schema.Int.pipe(Schema.nonNegative()), "F: PPO iterations of the deviator against the frozen policy once the curves are flat; 0 leaves the test out."),
    evaluationBatches: described(Schema.Int.pipe(Schema.positive()), "Batches of B episodes on which the deviator and the policy are compared (same seeds)."),
    stdErrors: described(Schema.Number.pipe(Schema.positive()), "The deviator's gain must lie within this many standard errors of 0.")
  })
}).pipe(
  Schema.filter((r) => r.minIterations >= r.window || `minIterations (${r.minIterations}) must be at least the window (${r.window})`),
  Schema.filter((r) => r.maxIterations >= r.minIterations || `maxIterations (${r.maxIterations}) must be at least minIterations (${r.minIterations})`)
);
export type ReequilibrationRule = typeof ReequilibrationRule.Type;

export const ReequilibrationTraining = Schema.Struct({
  episodes: described(Schema.Int.pipe(Schema.positive()), "B: episodes per re-equilibration iteration."),
  episodesPerShard: described(EpisodesPerShard, "Episodes per rollout shard (fixes the shard layout, and so the results)."),
  rollouts: Schema.optionalWith(RolloutSettings, { default: defaultRolloutSettings }).annotations({ description: "Where shards run; never changes results." })
});

/** What a re-equilibration node reads: the shared rule and batch, and its own scenario. */
export const ReequilibrateParams = Schema.Struct({
  rule: ReequilibrationRule,
  training: ReequilibrationTraining,
  scenario: described(ScenarioTree, "The scenario's edits: a tree whose leaf paths name population parameters (lp.lp2.gamma.mean = 4); {} changes nothing.")
});
export type ReequilibrateParams = typeof ReequilibrateParams.Type;

export const WhatIfEvaluationParams = Schema.Struct({
  episodes: described(Schema.Int.pipe(Schema.greaterThanOrEqualTo(2)), "Episodes each market plays for the comparison (the same episodes for both)."),
  episodesPerShard: described(EpisodesPerShard, "Episodes per evaluation shard."),
  level: described(Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThan(1)), "Confidence level of the intervals."),
  rollouts: Schema.optionalWith(RolloutSettings, { default: defaultRolloutSettings }).annotations({ description: "Where shards run; never changes results." })
});
export type WhatIfEvaluationParams = typeof WhatIfEvaluationParams.Type;

const isReequilibration = (value: unknown): value is ReequilibrationState =>
  typeof value === "object" && value !== null && "market" in value && "rows" in value && "decision" in value && "lp" in value;

export const reequilibrationStateCodec = { ...structuredCodec("reequilibration", isReequilibration), name: "reequilibration-state" };

/** How one loop of a scenario ended. */
export interface LoopOutcome {
  readonly iterations: number;
  readonly decision: string;
  readonly warmStart: boolean;
  /** The last deviation test: the fine-tuned LP's gain over the policy and its standard error. */
  readonly exploitability: { readonly gain: number; readonly gainStdError: number; readonly withinNoise: boolean } | null;
  /** Mean LP supertype rewards per iteration (the curves the rule watched). */
  readonly curves: Readonly<Record<string, readonly number[]>>;
}

/** A scenario against the baseline, episode by episode on common random numbers. */
export interface ScenarioComparison {
  readonly scenario: string;
  readonly edits: readonly ScenarioEdit[];
  readonly episodes: number;
  readonly level: number;
  readonly comparisons: readonly MetricComparison[];
  /** Per-episode values of the distributions the report draws (inventory and PnL per LP supertype), both markets. */
  readonly distributions: ReadonlyArray<{ readonly metric: string; readonly entity: string; readonly baseline: readonly number[]; readonly scenario: readonly number[] }>;
  readonly baseline: LoopOutcome;
  readonly reequilibrated: LoopOutcome;
}

const isComparison = (value: unknown): value is ScenarioComparison =>
  typeof value === "object" && value !== null && "comparisons" in value && "scenario" in value;

export const scenarioComparisonCodec = { ...structuredCodec("scenario-comparison", isComparison), name: "scenario-comparison" };
