/**
 * Body stage `build-supertypes` (paper section 4, algorithm 1: each episode b runs with its own
 * profile Lambda^b): the supertype profile of every episode of the iteration, from the
 * calibrator's state (CALSHEQ's B particles, or BO's current point for all), and the population
 * each episode is played with (the experiment's population at that profile, clipped to its ranges).
 */
import { Schema } from "effect";
import type { BoLoopState } from "../../core/calibration/loop.ts";
import { episodePopulations, episodeProfiles } from "../../core/calibration/loop.ts";
import type { CalsheqState } from "../../core/calibration/calsheq.ts";
import type { Population } from "../../core/otc/supertypes.ts";
import { Stage } from "../../core/pipeline/stage.ts";
import { nullableCodec, objectCodec } from "../../schemas/loop-artifacts.ts";

/** The profiles Lambda^b (one per episode) and the populations they give. */
export interface SupertypeBuild {
  readonly profiles: readonly Float64Array[];
  readonly populations: readonly Population[];
}

export const buildSupertypes = Stage.make({
  name: "build-supertypes",
  description: "each episode's supertype profile Lambda^b from the calibrator, and the population it gives",
  source: import.meta.url,
  params: Schema.Struct({
    experiment: Schema.Int.annotations({ description: "The calibration experiment whose population the profiles set." }),
    episodes: Schema.Int.pipe(Schema.positive()).annotations({ description: "B: episodes (= CALSHEQ particles)." })
  }),
  inputs: { calsheq: nullableCodec<CalsheqState>("calsheq"), bo: nullableCodec<BoLoopState>("bo") },
  output: objectCodec<SupertypeBuild>("supertypes"),
  run: (inputs, p) =>
    Stage.attempt("build-supertypes", (): SupertypeBuild => {
      const profiles = episodeProfiles(inputs.calsheq, inputs.bo, p.episodes);
      return { profiles, populations: episodePopulations(p.experiment, profiles) };
    })
});
