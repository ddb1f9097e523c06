/**
 * Stage `episode-records`: episodes played by the trained LP policy at the
 * calibrated profile, one row per agent and step: action, quotes, trades (counterparty, sizes,
 * prices), inventory, cash, PnL components, reward and market share, as an Arrow table with a
 * Parquet export for DuckDB, pandas or Polars.
 */
import * as arrow from "apache-arrow";
import { Effect, Schema } from "effect";
import { arrowTableCodec } from "../core/pipeline/codecs/arrow.ts";
import { tableToParquet } from "../core/pipeline/codecs/parquet.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { ecnModelCodec } from "../schemas/ecn-artifacts.ts";
import { ecnSimModelCodec } from "../schemas/ecn-neural-artifacts.ts";
import { trainingStateCodec } from "../schemas/calibration-artifacts.ts";
import { buildTrainer } from "./support/calibration-trainer.ts";
import { stepRecordTable } from "../schemas/step-record-table.ts";

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
      const rng = (yield* Rng).stream;
      let trainer = inputs.trained.trainer;
      if (trainer === undefined) {
        const saved = inputs.trained.saved!;
        trainer = yield* buildTrainer(inputs.model, inputs.sim, saved.params, undefined);
        trainer.setState(saved);
      }
      const live = trainer;
      const seed = (yield* Rng).seed;
      return yield* Stage.attempt("episode-records", () =>
        stepRecordTable(live.recordEpisodes(p.episodes, rng), { "otc.params": JSON.stringify(p), "otc.seed": String(seed), "otc.stage": "episode-records" })
      );
    })
});
