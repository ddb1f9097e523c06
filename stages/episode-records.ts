/**
 * Stage `episode-records`: episodes played by the trained LP policy at the
 * calibrated profile, one row per agent and step: action, quotes, trades (counterparty, sizes,
 * prices), inventory, cash, PnL components, reward and market share, as an Arrow table with a
 * Parquet export for DuckDB, pandas or Polars.
 */
import * as arrow from "apache-arrow";
import { Effect, Schema } from "effect";
import { recordCalibratedEpisodes } from "../core/calibration/loop.ts";
import { arrowTableCodec } from "../core/pipeline/codecs/arrow.ts";
import { tableToParquet } from "../core/pipeline/codecs/parquet.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { ecnModelCodec } from "../schemas/ecn-artifacts.ts";
import { ecnSimModelCodec } from "../schemas/ecn-neural-artifacts.ts";
import { trainingStateCodec } from "../schemas/calibration-artifacts.ts";
import { stepRecordTable } from "../schemas/step-record-table.ts";
import { calibrationEnv, ecnSpecOf } from "./support/calibration.ts";
import { learnerSpecs, liveAgent } from "./support/learners.ts";

export const episodeRecords = Stage.make({
  name: "episode-records",
  description: "per-agent, per-step records of episodes played by the calibrated market",
  source: import.meta.url,
  params: Schema.Struct({
    episodes: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1000)), { default: () => 4 }).annotations({ description: "Episodes to play." })
  }),
  inputs: { model: ecnModelCodec, sim: ecnSimModelCodec, trained: trainingStateCodec },
  output: arrowTableCodec,
  exports: [{ name: "episodes", extension: "parquet", encode: (table: arrow.Table) => tableToParquet(table) }],
  run: (inputs, p) =>
    Effect.gen(function* () {
      const { stream: rng, seed } = yield* Rng;
      const trained = inputs.trained;
      const ecn = ecnSpecOf(inputs.model, inputs.sim);
      // The LP policy as trained, on the backend it was trained on (recorded in the state's params).
      const [lp] = yield* learnerSpecs(calibrationEnv(trained.params, ecn), () => trained.params.ppo);
      const agent = yield* liveAgent(lp!, trained.lp);
      return yield* Stage.attempt("episode-records", () =>
        stepRecordTable(recordCalibratedEpisodes(trained, agent, ecn, p.episodes, rng), { "otc.params": JSON.stringify(p), "otc.seed": String(seed), "otc.stage": "episode-records" })
      );
    })
});
