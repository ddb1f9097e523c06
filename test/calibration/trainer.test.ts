/**
 * The calibration training loop (core/calibration/trainer.ts): an iteration is a pure function of
 * (state, params, iteration stream), so a trainer restored from a checkpoint continues exactly as
 * an uninterrupted one (what makes the checkpointed loop resume bit-identically); the rows carry
 * the per-iteration figures of section 5.1 with market shares in [0, 1]; BO proposes a new profile every M iterations.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultBayesOptParams } from "../../core/calibration/bayes-opt.ts";
import { defaultCalsheqParams } from "../../core/calibration/calsheq.ts";
import { experimentDefinition } from "../../core/calibration/experiments.ts";
import { CalibrationTrainer, type CalibrationMethod, type CalibrationTrainingParams } from "../../core/calibration/trainer.ts";
import { Random } from "../../core/random/philox.ts";
import { defaultPpoParams } from "../../core/rl/ppo.ts";
import { standInGmmData } from "../otc/fixtures.ts";

const tiny = (method: CalibrationMethod): CalibrationTrainingParams => {
  const net = (p: typeof defaultPpoParams.network.policy) => ({ ...p, hiddenWidths: [8] });
  const ppo = {
    ...defaultPpoParams,
    sgdPasses: 2,
    minibatchSize: 64,
    learningRate: 1e-3,
    network: { ...defaultPpoParams.network, policy: net(defaultPpoParams.network.policy), value: net(defaultPpoParams.network.value) }
  };
  const cal = defaultCalsheqParams.ppo;
  return {
    experiment: 4,
    method,
    episodes: 3,
    horizon: 8,
    episodesPerShard: 2,
    ppo,
    calsheq: {
      ...defaultCalsheqParams,
      ppo: { ...cal, sgdPasses: 2, minibatchSize: 3, network: { ...cal.network, policy: net(cal.network.policy), value: net(cal.network.value) } }
    },
    boEvery: 2,
    bo: { ...defaultBayesOptParams, initialPoints: 1, randomCandidates: 64, refineStarts: 1 },
    targets: experimentDefinition(4).targets
  };
};

const standInEcn = { kind: "gmm", data: standInGmmData() } as const;

const weightsOf = (trainer: CalibrationTrainer) => trainer.getState().lp.weights;

describe("calibration trainer", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });

  for (const method of ["calsheq", "bo"] as const) {
    it(`${method}: a trainer restored from a checkpoint continues bit-identically`, async () => {
      const model = standInEcn;
      const streams = Random.fromSeed(5);
      const straight = new CalibrationTrainer(tiny(method), model, streams.split("init"));
      for (let k = 1; k <= 4; k++) await straight.iterate(streams.split(k));

      const first = new CalibrationTrainer(tiny(method), model, streams.split("init"));
      for (let k = 1; k <= 2; k++) await first.iterate(streams.split(k));
      const checkpoint = first.getState();
      await first.dispose();
      // A fresh trainer (other random init) takes the checkpoint and runs the last two iterations.
      const resumed = new CalibrationTrainer(tiny(method), model, Random.fromSeed(99));
      resumed.setState(checkpoint);
      for (let k = 3; k <= 4; k++) await resumed.iterate(streams.split(k));

      expect(resumed.history).toEqual(straight.history);
      const a = weightsOf(straight);
      const b = weightsOf(resumed);
      expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
      for (const name of Object.keys(a)) expect(Array.from(b[name]!.data)).toEqual(Array.from(a[name]!.data));
      await straight.dispose();
      await resumed.dispose();
    });
  }

  it("records market shares in [0, 1] with m_super1 <= m_total, and rewards in (0, 1]", async () => {
    const trainer = new CalibrationTrainer(tiny("calsheq"), standInEcn, Random.fromSeed(6));
    const row = await trainer.iterate(Random.fromSeed(7));
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
    // Experiment 4's reward at these shares, from its definition directly (per-episode mean >= reward at the mean, Jensen).
    expect(row["env_steps"]).toBe(3 * 8);
    await trainer.dispose();
  });

  it("bo: every episode of an iteration runs with one profile, which changes every M iterations", async () => {
    const trainer = new CalibrationTrainer(tiny("bo"), standInEcn, Random.fromSeed(8));
    const rows = [];
    for (const k of [1, 2, 3]) rows.push(await trainer.iterate(Random.fromSeed(100 + k)));
    const names = experimentDefinition(4).space.names;
    for (const row of rows) for (const name of names) expect(row[`params/${name}/std`]).toBeLessThan(1e-12);
    const profile = (row: Record<string, number>) => names.map((n) => row[`params/${n}/mean`]);
    expect(profile(rows[1]!)).toEqual(profile(rows[0]!));
    expect(profile(rows[2]!)).not.toEqual(profile(rows[1]!));
    await trainer.dispose();
  });
});
