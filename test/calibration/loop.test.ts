/**
 * The calibration training loops (`train-calsheq`, `train-bo`: core/calibration/loop.ts composed
 * as a body of stages): the loop state is plain data, so a loop started from a checkpoint's bytes,
 * with a fresh workspace (no live object of the first run), continues exactly as an uninterrupted
 * one (what makes the checkpointed loop resume bit-identically); the rows carry the per-iteration
 * figures of section 5.1 with market shares in [0, 1]; BO proposes a new profile every M iterations.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { experimentDefinition } from "../../core/calibration/experiments.ts";
import type { CalibrationLoopState } from "../../core/calibration/loop.ts";
import { trainingStateCodec } from "../../schemas/calibration-artifacts.ts";
import { tinyCalibration, trainedState } from "../pipelines/loops.ts";

const params = tinyCalibration({ episodes: 3, horizon: 8, episodesPerShard: 2 });

const train = (method: "calsheq" | "bo", iterations: number, start?: { iteration: number; state: CalibrationLoopState }) =>
  trainedState(method, params, iterations, start !== undefined ? { start } : {});

describe("calibration loops", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });

  for (const method of ["calsheq", "bo"] as const) {
    it(`${method}: a loop resumed from a checkpoint's bytes continues bit-identically`, async () => {
      const straight = await train(method, 4);
      const checkpoint = trainingStateCodec.decode(trainingStateCodec.encode(await train(method, 2)));
      const resumed = await train(method, 4, { iteration: 2, state: checkpoint });
      expect(resumed.rows).toEqual(straight.rows);
      expect(Buffer.from(trainingStateCodec.encode(resumed)).equals(Buffer.from(trainingStateCodec.encode(straight)))).toBe(true);
      // Training happened: the weights moved from their initial values.
      const initial = (await train(method, 0)).lp.weights;
      const name = Object.keys(initial)[0]!;
      expect(Array.from(straight.lp.weights[name]!.data)).not.toEqual(Array.from(initial[name]!.data));
    });
  }

  it("records market shares in [0, 1] with m_super1 <= m_total, and rewards in (0, 1]", async () => {
    const row = (await train("calsheq", 1)).rows[0]!;
    const m1 = row["targets/m_super1"]!;
    const mt = row["targets/m_total"]!;
    expect(m1).toBeGreaterThanOrEqual(0);
    expect(mt).toBeLessThanOrEqual(1);
    expect(m1).toBeLessThanOrEqual(mt + 1e-12);
    // Every LT trade decided fills with an LP or on the ECN: the ECN's share is the rest of m_total.
    expect(row["market/ecn_share"]! + mt).toBeCloseTo(1, 12);
    expect(row["market/ecn_from_resting_book"]).toBeGreaterThanOrEqual(0);
    expect(row["market/ecn_from_resting_book"]).toBeLessThanOrEqual(1);
    expect(row["calibration/reward"]).toBeGreaterThan(0);
    expect(row["calibration/reward"]).toBeLessThanOrEqual(1);
    expect(row["env_steps"]).toBe(3 * 8);
  });

  it("bo: every episode of an iteration runs with one profile, which changes every M iterations", async () => {
    const rows = (await train("bo", 3)).rows;
    const names = experimentDefinition(4).space.names;
    for (const row of rows) for (const name of names) expect(row[`params/${name}/std`]).toBeLessThan(1e-12);
    const profile = (row: Record<string, number>) => names.map((n) => row[`params/${n}/mean`]);
    expect(profile(rows[1]!)).toEqual(profile(rows[0]!));
    expect(profile(rows[2]!)).not.toEqual(profile(rows[1]!));
  });
});
