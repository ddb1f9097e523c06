/**
 * Shared-policy training (`train-shared`: core/rl/shared-loop.ts composed as the body rollouts ->
 * ppo-update): the loop state is plain data, so a loop started from a checkpoint's bytes after 2
 * iterations, with a fresh workspace, continues bit-identically to 4 straight iterations; the
 * per-supertype rewards average back to the class mean (each agent belongs to one supertype);
 * a class left out of `learning` keeps its weights.
 */
import * as tf from "@tensorflow/tfjs";
import { Schema } from "effect";
import { beforeAll, describe, expect, it } from "vitest";
import { emergentBehaviourPopulation } from "../../core/otc/config.ts";
import type { SharedLoopState } from "../../core/rl/shared-loop.ts";
import { SharedTrainingParams, sharedLoopStateCodec } from "../../schemas/shared-training.ts";
import { trainShared } from "../../stages/shared.ts";
import { stateAfter, standInInputs } from "../pipelines/loops.ts";

const episodes = 2;
const horizon = 6;
const paramsWith = (learning: string[]) =>
  Schema.decodeUnknownSync(SharedTrainingParams)({
    population: "emergent",
    episodes,
    horizon,
    episodesPerShard: 2,
    rollouts: { workers: 0 },
    learning,
    lp: { hidden: [8], sgdPasses: 2, minibatchSize: 64, learningRate: 1e-3, backend: "tfjs" },
    lt: { hidden: [8], sgdPasses: 2, minibatchSize: 64, learningRate: 1e-3, backend: "tfjs" }
  });
const inputs = { model: standInInputs.model };
const train = (iterations: number, learning = ["lp", "lt"], start?: { iteration: number; state: SharedLoopState }) =>
  stateAfter(trainShared, inputs, paramsWith(learning), iterations, start !== undefined ? { start } : {});

describe("shared-policy training loop", { timeout: 60_000 }, () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });

  it("resumes bit-identically from a checkpoint taken after 2 of 4 iterations", async () => {
    const straight = await train(4);
    const checkpoint = sharedLoopStateCodec.decode(sharedLoopStateCodec.encode(await train(2)));
    const resumed = await train(4, ["lp", "lt"], { iteration: 2, state: checkpoint });
    expect(resumed.rows).toEqual(straight.rows);
    expect(resumed.iteration).toBe(4);
    expect(Buffer.from(sharedLoopStateCodec.encode(resumed)).equals(Buffer.from(sharedLoopStateCodec.encode(straight)))).toBe(true);
  });

  it("reports CleanRL metrics per class, counts steps, and supertype rewards average to the class mean", async () => {
    const row = (await train(1)).rows[0]!;
    const population = emergentBehaviourPopulation();
    const lps = population.lp.reduce((n, s) => n + s.count, 0);
    const learningLts = population.lt.filter((s) => !s.stationary).reduce((n, s) => n + s.count, 0);
    expect(row["env_steps"]).toBe(episodes * horizon);
    expect(row["agent_steps"]).toBe(episodes * horizon * (lps + learningLts));
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
  });

  it("leaves the weights of a class outside `learning` untouched", async () => {
    const before = (await train(0, ["lt"])).agents["lp"]!.weights;
    const after = await train(2, ["lt"]);
    for (const [name, w] of Object.entries(before)) expect(Array.from(after.agents["lp"]!.weights[name]!.data), name).toEqual(Array.from(w.data));
    expect(after.rows[1]!["lt/losses/policy_loss"]).toBeDefined();
    expect(after.rows[1]!["lp/losses/policy_loss"]).toBeUndefined();
  });
});
