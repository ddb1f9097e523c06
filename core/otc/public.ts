/**
 * The OTC market for use from TypeScript (paper section 2): the PettingZoo-style parallel
 * environment, an ECN model to play it on, and the populations of the paper's experiments, so a
 * researcher can plug in an agent of their own without the pipelines. Imported as `otc-marl/env`.
 */
export { OtcParallelEnv, ParallelEnvError, syntheticEcn, type AgentAction, type AgentInfo, type OtcParallelEnvOptions, type Space, type StepResult } from "./parallel-env.ts";
export { calibrationPopulation, defaultGameConfig, emergentBehaviourPopulation, stationaryLtSupertypes, type OtcGameConfig } from "./config.ts";
export { clippedNormal, constant, uniform, type LpSupertype, type LtSupertype, type ParamDist, type Population } from "./supertypes.ts";
export type { OtcEcnSpec } from "./rollout-env.ts";
/** The populations of the calibration experiments (section 5.1), e.g. `experimentPopulation(4)` at its starting profile. */
export { experimentPopulation, experimentIds } from "../calibration/experiments.ts";
