/**
 * Calibration experiment 1 of paper section 5.1 (tables 3-5): 5 LPs (one of supertype 1,
 * 4 of supertype 2) and 500 stationary LTs; Lambda is both LP supertypes' connectivities to the
 * 10 LT supertypes (20 parameters; risk aversions stay at 0.5); the targets are LP supertype 1 at
 * least 15% of the flow, all LPs at least 80%, and the 10%-90% percentiles of the trade sizes
 * supertype 1's LPs receive (table 5), with r_cal = 1 / (1 + r1 + 0.2 r2).
 */
import { connectivityExperiment, type ExperimentDefinition } from "../experiment.ts";

export const experiment1: ExperimentDefinition = connectivityExperiment({
  id: 1,
  summary: "market shares and the trade-size percentiles of LP supertype 1 (5 LPs)",
  nLp: 5,
  budgetEnvSteps: 40_000_000,
  percentilesSuper2: null,
  quick: { learningRateRatio: 3 },
  figures: { targets: 8, parameters: 29 }
});
