/**
 * Body stage `calibrator-update` (paper section 4, algorithm 1, CALSHEQ): the calibrator's policy
 * takes a PPO step on the B transitions whose episodes earned the rewards r_cal (two-timescale:
 * its learning rate a ratio of the shared policy's), then moves the particles: the profiles
 * Lambda' of the next iteration's episodes.
 */
import { Effect } from "effect";
import type { CalsheqState } from "../../core/calibration/calsheq.ts";
import type { CalibratorStep } from "../../core/calibration/loop.ts";
import { Rng } from "../../core/pipeline/rng.ts";
import { Stage } from "../../core/pipeline/stage.ts";
import { CalibrationParams } from "../../schemas/calibration.ts";
import { objectCodec, plainCodec } from "../../schemas/loop-artifacts.ts";
import { liveCalsheq, resolvedTrainingParams } from "../support/calibration.ts";
import { Workspace } from "../../core/pipeline/workspace.ts";

export interface CalibratorUpdate {
  readonly calsheq: CalsheqState;
  readonly step: CalibratorStep;
}

export const calibratorUpdate = Stage.make({
  name: "calibrator-update",
  description: "CALSHEQ: a PPO step of the calibrator on the episodes' rewards r_cal, then the particles move",
  source: import.meta.url,
  params: CalibrationParams,
  inputs: { calsheq: objectCodec<CalsheqState>("calsheq"), rewards: plainCodec<Float64Array>("rewards", (v) => v instanceof Float64Array) },
  output: objectCodec<CalibratorUpdate>("calibrator-update"),
  run: (inputs, p) =>
    Effect.gen(function* () {
      // The calibrator's network on the backend the run resolved; built once per run of the loop.
      const workspace = yield* Workspace;
      const training = yield* workspace.use("calibrator:params", [p], resolvedTrainingParams(p, "calsheq"));
      const live = yield* liveCalsheq(training, inputs.calsheq);
      const rng = (yield* Rng).stream;
      const update = yield* Stage.attempt("calibrator-update", () => live.calibrator.update(inputs.rewards, rng));
      return { calsheq: live.snapshot(), step: { loss: update.ppo["losses/policy_loss"], meanAbsoluteStep: update.meanAbsoluteStep } } satisfies CalibratorUpdate;
    })
});
