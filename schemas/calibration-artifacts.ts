/**
 * The artifact of the calibration training loops (paper section 4, algorithm 1): the loop state
 * of `train-calsheq` and `train-bo`, plain data (core/calibration/loop.ts) in memory and in
 * checkpoints, with the readers the report needs. The codec lives here, not in the training
 * stage, so the report's fingerprint does not cover the training code.
 */
import type { CalibrationTargets, ExperimentId } from "../core/calibration/experiments.ts";
import type { CalibrationLoopState, IterationRow } from "../core/calibration/loop.ts";
import { structuredCodec } from "../core/pipeline/codecs/structured.ts";

const isLoopState = (value: unknown): value is CalibrationLoopState => {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v["iteration"] === "number" && typeof v["envSteps"] === "number" && Array.isArray(v["rows"]) && typeof v["lp"] === "object";
};

const stateCodec = structuredCodec("calibration-trainer", isLoopState);

export const trainingStateCodec = { ...stateCodec, name: "calibration-training-state" };

/** The rows of a loop state. */
export const rowsOf = (state: CalibrationLoopState): readonly IterationRow[] => state.rows;

/** The experiment and targets a loop state was trained for. */
export const setupOf = (state: CalibrationLoopState): { experiment: ExperimentId; targets: CalibrationTargets } => ({ experiment: state.experiment, targets: state.targets });
