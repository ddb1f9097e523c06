/**
 * Calibration experiment 2 of paper section 5.1 (tables 3-5): 5 LPs (one of supertype 1,
 * 4 of supertype 2) and 500 stationary LTs; Lambda is both LP supertypes' connectivities to the
 * 10 LT supertypes (20 parameters; risk aversions stay at 0.5); the targets are LP supertype 1 at
 * least 15% of the flow, all LPs at least 80%, and the 10%-90% percentiles of the trade sizes
 * each LP supertype receives (table 5), with r_cal = 1 / (1 + r1 + 0.2 r2 + 0.2 r3).
 */
import { connectivityExperiment, TARGET_PERCENTILES_SUPER2, type ExperimentDefinition } from "../experiment.ts";

export const experiment2: ExperimentDefinition = connectivityExperiment({
  id: 2,
  summary: "market shares and both LP supertypes' trade-size percentiles (5 LPs)",
  nLp: 5,
  budgetEnvSteps: 40_000_000,
  percentilesSuper2: TARGET_PERCENTILES_SUPER2,
  quick: { learningRateRatio: 3 },
  figures: { targets: 26, parameters: 30 }
});
