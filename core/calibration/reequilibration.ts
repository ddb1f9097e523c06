/**
 * Re-equilibration of a calibrated market after a what-if change (paper section 1: "study ...
 * specific what-if scenarios and equilibrium properties, such as impact on a given LP's market
 * share of increasing risk aversion of specific competitors, or of modifying agent connectivity";
 * section 4: the calibrated equilibrium). The calibrated profile Lambda is frozen at the mean of
 * what the calibrator ended on (CALSHEQ's particles, or BO's point), the scenario's edits are
 * applied to the population it gives, and the LP shared policy keeps learning from where
 * calibration left it (warm start: weights and Adam moments) or from fresh weights (the from-scratch
 * reference), until its supertypes' reward curves are flat by the stopping rule of
 * core/analysis/convergence.ts and one LP fine-tuned against the others gains nothing beyond
 * noise (section 3.1's exploitability, estimated only once the curves are flat), or the cap is
 * reached. The state is plain data; an iteration is rollouts -> ppo-update -> exploitability
 * (when due) -> the iteration's figures (stages/whatif.ts).
 */
import { deviationTestDue, type CheckSummary, type ConvergenceDecision, type ConvergenceRule, type ExploitabilityEstimate } from "../analysis/convergence.ts";
import { advanceStopping } from "../analysis/stopping.ts";
import { defaultGameConfig, type OtcGameConfig } from "../otc/config.ts";
import { OtcEnv } from "../otc/env.ts";
import { ecnVariationModelOf, type OtcEcnSpec } from "../otc/rollout-env.ts";
import type { EcnEdits } from "../ecn/edited-model.ts";
import { applyScenario, splitScenario, type ScenarioEdit } from "../otc/scenario.ts";
import type { Random } from "../random/philox.ts";
import { estimateExploitability, type ExploitabilityResult } from "../rl/exploitability.ts";
import type { PpoAgent, PpoAgentState } from "../rl/ppo.ts";
import { experimentDefinition, experimentPopulation } from "./experiments.ts";
import { meanProfile, type CalibrationLoopState, type CalibrationTrainingParams, type IterationRow } from "./loop.ts";

/** The frozen market a re-equilibration plays: the calibrated profile and the scenario's edits. */
export interface FrozenMarket {
  readonly params: CalibrationTrainingParams;
  /** Lambda*, the calibrated profile (frozen). */
  readonly profile: Float64Array;
  readonly edits: readonly ScenarioEdit[];
  /** The scenario's changes of the ECN model (from the `ecn.*` edits). */
  readonly ecn: EcnEdits;
}

export interface ReequilibrationState {
  readonly market: FrozenMarket;
  /** True when the policy started from the calibrated weights, false when from fresh ones. */
  readonly warmStart: boolean;
  readonly iteration: number;
  readonly envSteps: number;
  readonly lp: PpoAgentState;
  readonly rows: readonly IterationRow[];
  readonly checks: readonly CheckSummary[];
  /** "continue" until the rule decides; then "converged" or "cap", and the loop stops. */
  readonly decision: ConvergenceDecision;
}

/** The market frozen at a calibrated state's mean profile, with `edits` (checked against its population). */
export const frozenMarket = (calibrated: CalibrationLoopState, edits: readonly ScenarioEdit[]): FrozenMarket => {
  const profile = meanProfile(calibrated, experimentDefinition(calibrated.params.experiment).space.names.length);
  // Refuses an unknown path or a value out of range with a sentence naming the path.
  applyScenario(experimentPopulation(calibrated.params.experiment, profile), edits);
  return { params: calibrated.params, profile, edits, ecn: splitScenario(edits).ecn };
};

/** The ECN model a frozen market is played on: the fitted one, with the scenario's changes. */
export const frozenEcn = (market: FrozenMarket, fitted: OtcEcnSpec): OtcEcnSpec => (Object.keys(market.ecn).length === 0 ? fitted : { ...fitted, edits: market.ecn });

/** The game a frozen market is played in. */
export const frozenGame = (market: FrozenMarket): OtcGameConfig => ({
  ...defaultGameConfig(applyScenario(experimentPopulation(market.params.experiment, market.profile), market.edits)),
  horizon: market.params.horizon
});

export const initialReequilibration = (market: FrozenMarket, lp: PpoAgentState, warmStart: boolean): ReequilibrationState => ({
  market,
  warmStart,
  iteration: 0,
  envSteps: 0,
  lp,
  rows: [],
  checks: [],
  decision: "continue"
});

/** The curves the stopping rule watches: each LP supertype's mean episode reward, per iteration. */
export const rewardCurves = (rows: readonly IterationRow[]): Record<string, Float64Array> => {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r).filter((k) => /^rewards\/lp_super\d+$/.test(k))))].sort();
  return Object.fromEntries(names.map((name) => [name, Float64Array.from(rows, (r) => r[name] ?? Number.NaN)]));
};

/**
 * Whether the deviation test is due after this iteration's row: a check is due and every reward
 * curve is flat.
 */
export const reequilibrationDeviationDue = (state: ReequilibrationState, row: IterationRow, rule: ConvergenceRule): boolean =>
  deviationTestDue(rewardCurves([...state.rows, row]), state.iteration + 1, rule);

export interface DeviationOptions {
  /** The deviating LP's index among an episode's LPs. */
  readonly agent: number;
  /** F: PPO iterations of the deviator against the frozen policy. */
  readonly fineTuneIterations: number;
  /** Batches of episodes on which the deviator and the policy are compared (same seeds). */
  readonly evaluationBatches: number;
  /** Episodes per batch. */
  readonly episodes: number;
}

/**
 * The gain of one LP fine-tuned against the frozen shared policy in the frozen market (paper
 * section 3.1: at a shared equilibrium no single agent gains by deviating). `lp` is not modified.
 */
export const deviationGain = (market: FrozenMarket, ecn: OtcEcnSpec, lp: PpoAgent, options: DeviationOptions, rng: Random): ExploitabilityResult => {
  const env = new OtcEnv({ config: frozenGame(market), batchSize: options.episodes, ecnModel: ecnVariationModelOf(frozenEcn(market, ecn)) });
  return estimateExploitability(
    env,
    [lp],
    {
      classIndex: 0,
      agentIndex: options.agent,
      agentsPerEpisode: env.nLp,
      fineTuneIterations: options.fineTuneIterations,
      evaluationBatches: options.evaluationBatches,
      ppo: market.params.ppo
    },
    rng
  );
};

/**
 * The state after one more iteration's row, with the stopping rule applied when a check is due
 * (`exploitability`: the deviation test's result when it ran this iteration).
 */
export const advanceReequilibration = (
  state: ReequilibrationState,
  row: IterationRow,
  lp: PpoAgentState,
  envSteps: number,
  rule: ConvergenceRule,
  exploitability: ExploitabilityEstimate | null = null
): ReequilibrationState => {
  const iteration = state.iteration + 1;
  const rows = [...state.rows, row];
  // The loop's own rule, cap included: a "cap" decision ends a re-equilibration.
  const { checks, decision } = advanceStopping({ rule: "converged", checks: state.checks, decision: state.decision }, () => rewardCurves(rows), iteration, rule, exploitability);
  return { ...state, iteration, envSteps, lp, rows, checks, decision };
};

/** Whether the loop has stopped (converged, or at the cap). */
export const reequilibrationFinished = (state: ReequilibrationState): boolean => state.decision !== "continue";
