/**
 * The artifact of the calibration training loops (paper section 4, algorithm 1): the loop state
 * of `train-calsheq` and `train-bo`, the live trainer between iterations and its plain
 * `TrainerState` in checkpoints, with the readers the report needs. The codec lives here, not in
 * the training stage, so the report's fingerprint does not cover the training code.
 */
import type { CalibrationTargets, ExperimentId } from "../core/calibration/experiments.ts";
import type { CalibrationTrainer, TrainerState } from "../core/calibration/trainer.ts";
import { structuredCodec } from "../core/pipeline/codecs/structured.ts";

/** Between iterations the live trainer; after a checkpoint is read back, its plain state. */
export interface TrainingLoopState {
  readonly trainer?: CalibrationTrainer;
  readonly saved?: TrainerState;
}

const isTrainerState = (value: unknown): value is TrainerState => {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v["iteration"] === "number" && typeof v["envSteps"] === "number" && Array.isArray(v["rows"]) && typeof v["lp"] === "object";
};

const trainerStateCodec = structuredCodec("calibration-trainer", isTrainerState);

export const trainingStateCodec = {
  name: "calibration-training-state",
  extension: "ckpt",
  encode: (state: TrainingLoopState): Uint8Array => trainerStateCodec.encode(state.trainer?.getState() ?? state.saved!),
  decode: (bytes: Uint8Array): TrainingLoopState => ({ saved: trainerStateCodec.decode(bytes) })
};

/** The plain rows of a loop state, whichever form it is in. */
export const rowsOf = (state: TrainingLoopState) => state.trainer?.history ?? state.saved?.rows ?? [];

/** The experiment and targets a loop state was trained for. */
export const setupOf = (state: TrainingLoopState): { experiment: ExperimentId; targets: CalibrationTargets } => {
  if (state.trainer !== undefined) return { experiment: state.trainer.params.experiment, targets: state.trainer.params.targets };
  return { experiment: state.saved!.experiment, targets: state.saved!.targets };
};
