/**
 * Body stage `episode-rewards` (paper section 5.1, eq. 19): from the outcomes of the iteration's
 * episodes, each episode's market shares, trade-size percentiles and calibrator reward r_cal in
 * the experiment's form against its targets (overridable for what-if runs).
 */
import { Schema } from "effect";
import { experimentDefinition, targetsWith } from "../../core/calibration/experiments.ts";
import { episodeCalibration, type EpisodeCalibration } from "../../core/calibration/loop.ts";
import type { OtcEpisodeOutcomes } from "../../core/otc/env.ts";
import { mergeEpisodeOutcomes } from "../../core/otc/rollout-env.ts";
import { Stage } from "../../core/pipeline/stage.ts";
import { CalibrationParams } from "../../schemas/calibration.ts";
import { arrayCodec, objectCodec } from "../../schemas/loop-artifacts.ts";

/** The iteration's outcomes (all episodes) and the per-episode calibration figures. */
export interface EpisodeRewards {
  readonly outcomes: OtcEpisodeOutcomes;
  readonly episodes: EpisodeCalibration;
}

export const episodeRewards = Stage.make({
  name: "episode-rewards",
  description: "each episode's market shares, trade-size percentiles and calibrator reward r_cal",
  source: import.meta.url,
  params: CalibrationParams.pipe(Schema.pick("experiment", "targets")),
  inputs: { outcomes: arrayCodec<readonly OtcEpisodeOutcomes[]>("outcomes") },
  output: objectCodec<EpisodeRewards>("episode-rewards"),
  run: (inputs, p) =>
    Stage.attempt("episode-rewards", (): EpisodeRewards => {
      const outcomes = mergeEpisodeOutcomes(inputs.outcomes);
      return { outcomes, episodes: episodeCalibration(outcomes, p.experiment, targetsWith(experimentDefinition(p.experiment).targets, p.targets)) };
    })
});
