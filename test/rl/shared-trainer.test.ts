/**
 * The shared-policy trainer (core/rl/shared-trainer.ts): an iteration is a pure function of
 * (state, params, iteration stream), so a fresh trainer restored after 2 iterations (directly or
 * through the checkpoint codec) continues bit-identically to 4 straight iterations; the
 * per-supertype rewards average back to the class mean (each agent belongs to one supertype);
 * a class left out of `learning` keeps its weights.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultGameConfig, emergentBehaviourPopulation } from "../../core/otc/config.ts";
import { OtcEnv } from "../../core/otc/env.ts";
import { Random } from "../../core/random/philox.ts";
import { localRollouts } from "../../core/rl/rollout-runner.ts";
import { otcSupertypeLabels, SharedTrainer } from "../../core/rl/shared-trainer.ts";
import { sharedLoopStateCodec } from "../../schemas/shared-training.ts";
import { standInModel } from "../otc/fixtures.ts";
import { tinyOtcPpo } from "./toy-envs.ts";

const tinyPpo = tinyOtcPpo(8);

const episodes = 2;
const envOf = () => new OtcEnv({ config: { ...defaultGameConfig(emergentBehaviourPopulation()), horizon: 6 }, batchSize: episodes, ecnModel: standInModel() });
const makeTrainer = (seed: number, learning: string[] = ["lp", "lt"], env = envOf()) => {
  return new SharedTrainer(localRollouts(env), { ppo: {}, defaultPpo: tinyPpo, learning, episodes, labels: otcSupertypeLabels(env) }, Random.fromSeed(seed));
};

const root = Random.fromSeed(11).split("iterations");

describe("SharedTrainer", { timeout: 60_000 }, () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });

  it("resumes bit-identically from a state taken after 2 of 4 iterations", async () => {
    const straight = makeTrainer(1);
    for (let k = 1; k <= 4; k++) await straight.iterate(root.split(k));

    const first = makeTrainer(1);
    for (let k = 1; k <= 2; k++) await first.iterate(root.split(k));
    const bytes = sharedLoopStateCodec.encode({ trainer: first });
    // A fresh trainer with a different initialisation: everything must come from the checkpoint.
    const resumed = makeTrainer(999);
    resumed.setState(sharedLoopStateCodec.decode(bytes).saved!);
    for (let k = 3; k <= 4; k++) await resumed.iterate(root.split(k));

    const a = straight.getState();
    const b = resumed.getState();
    expect(b.rows).toEqual(a.rows);
    expect(b.iteration).toBe(4);
    for (const name of ["lp", "lt"]) {
      for (const [key, w] of Object.entries(a.agents[name]!.weights)) expect(Array.from(b.agents[name]!.weights[key]!.data), key).toEqual(Array.from(w.data));
      expect(b.agents[name]!.klCoeff).toBe(a.agents[name]!.klCoeff);
    }
    for (const t of [straight, first, resumed]) await t.dispose();
  });

  it("reports CleanRL metrics per class, counts steps, and supertype rewards average to the class mean", async () => {
    const env = envOf();
    const trainer = makeTrainer(2, ["lp", "lt"], env);
    const row = await trainer.iterate(root.split(1));
    const population = emergentBehaviourPopulation();
    expect(row["env_steps"]).toBe(episodes * env.horizon);
    expect(row["agent_steps"]).toBe(episodes * env.horizon * (env.nLp + env.learningLts.length));
    for (const c of ["lp", "lt"]) {
      for (const k of ["charts/episode_reward_mean", "losses/policy_loss", "losses/value_loss", "losses/kl"]) expect(Number.isFinite(row[`${c}/${k}`]), `${c}/${k}`).toBe(true);
    }
    // Each agent is in exactly one supertype: the count-weighted mean of supertype means is the class mean.
    const check = (cls: "lp" | "lt", supertypes: readonly { name: string; count: number }[]) => {
      const total = supertypes.reduce((s, x) => s + x.count, 0);
      const weighted = supertypes.reduce((s, x) => s + (row[`rewards/${cls}_${x.name}`]! * x.count) / total, 0);
      expect(weighted).toBeCloseTo(row[`${cls}/charts/episode_reward_mean`]!, 10);
    };
    check("lp", population.lp);
    check("lt", population.lt);
    await trainer.dispose();
  });

  it("leaves the weights of a class outside `learning` untouched", async () => {
    const trainer = makeTrainer(3, ["lt"]);
    const before = trainer.agent("lp").getState().weights;
    const ltBefore = trainer.agent("lt").getState().weights;
    await trainer.iterate(root.split(1));
    const after = trainer.agent("lp").getState().weights;
    for (const [key, w] of Object.entries(before)) expect(Array.from(after[key]!.data)).toEqual(Array.from(w.data));
    const ltAfter = trainer.agent("lt").getState().weights;
    expect(Object.entries(ltBefore).some(([key, w]) => w.data.some((v, i) => v !== ltAfter[key]!.data[i]))).toBe(true);
    expect(trainer.history[0]!["lp/losses/policy_loss"]).toBeUndefined();
    await trainer.dispose();
  });
});
