/**
 * The registry of calibration experiments (paper section 5.1): every experiment is one module of
 * plain data and pure functions (`experiments/exp1.ts` .. `exp4.ts`, the paper's tables 3-5) and is
 * listed here once; pipelines, params and reports look experiments up by number, so a new
 * experiment is one new module plus its line below (or, for a test or a notebook, one
 * `registerExperiment` call). Also re-exports the shared pieces of `experiment.ts`.
 */
import type { Population } from "../otc/supertypes.ts";
import {
  CalibrationExperimentError,
  type CalibrationMetrics,
  type CalibrationRewardBreakdown,
  type CalibrationTargets,
  type ExperimentDefinition,
  type ExperimentId
} from "./experiment.ts";
import { experiment1 } from "./experiments/exp1.ts";
import { experiment2 } from "./experiments/exp2.ts";
import { experiment3 } from "./experiments/exp3.ts";
import { experiment4 } from "./experiments/exp4.ts";

export * from "./experiment.ts";

const registry = new Map<ExperimentId, ExperimentDefinition>();

/**
 * Adds an experiment (a positive integer id not yet taken); its pipeline is `calibrate-exp<id>`.
 * The built-in experiments are registered when this module loads.
 */
export const registerExperiment = (definition: ExperimentDefinition): ExperimentDefinition => {
  const { id } = definition;
  if (!Number.isSafeInteger(id) || id < 1) throw new CalibrationExperimentError(`experiment ids are positive integers, got ${id}`);
  const taken = registry.get(id);
  if (taken !== undefined && taken !== definition) throw new CalibrationExperimentError(`experiment ${id} is registered already`);
  if (definition.lpCounts[0] + definition.lpCounts[1] !== definition.nLp) {
    throw new CalibrationExperimentError(`experiment ${id}: lpCounts must add up to nLp = ${definition.nLp}`);
  }
  registry.set(id, definition);
  return definition;
};

for (const definition of [experiment1, experiment2, experiment3, experiment4]) registerExperiment(definition);

/** The registered experiments' ids, ascending. */
export const experimentIds = (): ExperimentId[] => [...registry.keys()].sort((a, b) => a - b);

export const isExperiment = (id: unknown): id is ExperimentId => typeof id === "number" && registry.has(id);

/** The definition of experiment `id` (tables 3, 4 and 5 for the paper's). */
export const experimentDefinition = (id: ExperimentId): ExperimentDefinition => {
  const definition = registry.get(id);
  if (definition === undefined) throw new CalibrationExperimentError(`experiment ${id} does not exist (registered: ${experimentIds().join(", ")})`);
  return definition;
};

/**
 * The population of experiment `id` with the calibrated parameters set from `lambda` (in the
 * order of its `space.names`, Lambda_0 by default); values are clipped to their state ranges.
 */
export const experimentPopulation = (id: ExperimentId, lambda?: ArrayLike<number>): Population => {
  const definition = experimentDefinition(id);
  return definition.population(lambda ?? definition.space.initial);
};

/** The terms of r_cal of experiment `id` for one episode's metrics (targets other than its own for what-if runs). */
export const calibrationRewardBreakdown = (
  id: ExperimentId,
  metrics: CalibrationMetrics,
  targets: CalibrationTargets = experimentDefinition(id).targets
): CalibrationRewardBreakdown => experimentDefinition(id).reward(metrics, targets);

/** r_cal of experiment `id` for one episode's metrics (in (0, 1], 1 = every target met). */
export const calibrationReward = (id: ExperimentId, metrics: CalibrationMetrics): number => calibrationRewardBreakdown(id, metrics).reward;
