/**
 * Rollouts over worker threads (core/rl/rollout-runner.ts): the worker count is an
 * execution setting, so the same seed gives bit-identical batches and outcomes with 0, 1 or 3
 * worker threads; episodes draw from their own streams, so cutting B episodes into shards of any
 * size gives the same samples as one env of all B (on the cpu backend, whose matmul rows do not
 * depend on the batch); a training run with workers equals one without; a worker that cannot find
 * its env factory fails the call with a clear error instead of hanging.
 */
import { experimentPopulation } from "../../core/calibration/experiments.ts";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultGameConfig, emergentBehaviourPopulation } from "../../core/otc/config.ts";
import { mergeEpisodeOutcomes, otcRolloutEnv, otcRolloutLocation, type OtcRolloutArgs } from "../../core/otc/rollout-env.ts";
import { Random } from "../../core/random/philox.ts";
import { PpoAgent } from "../../core/rl/ppo.ts";
import { RolloutRunner, type RolloutResult } from "../../core/rl/rollout-runner.ts";
import type { OtcEpisodeOutcomes } from "../../core/otc/env.ts";
import { standInGmmData } from "../otc/fixtures.ts";
import { tinyOtcPpo } from "./toy-envs.ts";
import { tinyCalibration, trainedState } from "../pipelines/loops.ts";
import { RolloutExecutor } from "../../stages/support/rollout-executor.ts";

const tinyPpo = tinyOtcPpo(16);

const args: OtcRolloutArgs = { config: { ...defaultGameConfig(experimentPopulation(4)), horizon: 12 }, ecn: { kind: "gmm", data: standInGmmData() } };
const episodes = 5;

const runner = (episodesPerShard: number, workers: number) =>
  new RolloutRunner({ factory: otcRolloutEnv, location: otcRolloutLocation, args, episodes, episodesPerShard, workers, backend: "cpu" });

const flatten = (result: RolloutResult<OtcEpisodeOutcomes>) => {
  const outcomes = mergeEpisodeOutcomes(result.extras);
  return {
    batches: result.batches.map((b) => ({ ...b })),
    outcomes: { ...outcomes, lpSupertypeTradeSizes: outcomes.lpSupertypeTradeSizes.map((e) => e.map((a) => Array.from(a))) }
  };
};

describe("RolloutRunner", { timeout: 120_000 }, () => {
  const runners: RolloutRunner<OtcRolloutArgs, never, never, never>[] = [];
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });
  afterAll(async () => {
    for (const r of runners) await r.close();
  });

  it("gives bit-identical batches and outcomes with 0, 1 and 3 worker threads, and with any shard size", async () => {
    const results = [];
    const configs: [number, number][] = [
      [2, 0],
      [2, 1],
      [2, 3],
      [5, 0],
      [1, 0]
    ];
    const rng = Random.fromSeed(3).split("rollouts");
    for (const [perShard, workers] of configs) {
      const r = runner(perShard, workers);
      const agent = new PpoAgent(r.classes[0]!.obsDim, r.classes[0]!.action, tinyPpo, Random.fromSeed(1));
      expect(r.classes[0]!.count).toBe(episodes * 10);
      results.push(flatten(await r.collect([agent], rng, tinyPpo)));
      // A second call re-uses the workers and their envs: still the same numbers.
      results.push(flatten(await r.collect([agent], rng.split(2), tinyPpo)));
      await r.close();
      agent.dispose();
    }
    const reference = results[0]!;
    expect(reference.batches[0]!.size).toBe(episodes * 10 * 12);
    expect(reference.outcomes.episodes).toBe(episodes);
    for (let i = 2; i < results.length; i += 2) {
      expect(results[i]).toEqual(reference);
      expect(results[i + 1]).toEqual(results[1]);
    }
    expect(results[1]).not.toEqual(reference);
  });

  it("with learning LTs (a Stackelberg step: LTs observe this step's LP quotes) the results still do not depend on workers or shards", async () => {
    const stackelberg: OtcRolloutArgs = { config: { ...defaultGameConfig(emergentBehaviourPopulation()), horizon: 8 }, ecn: args.ecn };
    const results = [];
    for (const [perShard, workers] of [
      [2, 0],
      [2, 2],
      [1, 0]
    ] as const) {
      const r = new RolloutRunner({ factory: otcRolloutEnv, location: otcRolloutLocation, args: stackelberg, episodes: 4, episodesPerShard: perShard, workers, backend: "cpu" });
      expect(r.classes.map((c) => c.name)).toEqual(["lp", "lt"]);
      const agents = r.classes.map((c, i) => new PpoAgent(c.obsDim, c.action, tinyPpo, Random.fromSeed(10 + i)));
      results.push(flatten(await r.collect(agents, Random.fromSeed(5).split("rollouts"), tinyPpo)));
      await r.close();
      for (const a of agents) a.dispose();
    }
    expect(results[0]!.batches[1]!.size).toBe(4 * 14 * 8);
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });

  it("a calibration run with two worker threads ends with the same weights and rows as one without", async () => {
    const run = (workers: number) =>
      trainedState("calsheq", tinyCalibration({ episodes: 4, horizon: 8, episodesPerShard: 2, workers }), 3, { executor: RolloutExecutor.live });
    const inThread = await run(0);
    const threaded = await run(2);
    expect(threaded.rows).toEqual(inThread.rows);
    for (const [name, w] of Object.entries(inThread.lp.weights)) expect(Array.from(threaded.lp.weights[name]!.data), name).toEqual(Array.from(w.data));
    expect(inThread.rows[0]!["rewards/lp_super1"]).toBeDefined();
  });

  it("fails the call with a clear error when a worker cannot load its env factory", async () => {
    const broken = new RolloutRunner({
      factory: otcRolloutEnv,
      location: { module: otcRolloutLocation.module, exportName: "noSuchFactory" },
      args,
      episodes: 2,
      episodesPerShard: 1,
      workers: 1,
      backend: "cpu"
    });
    const agent = new PpoAgent(broken.classes[0]!.obsDim, broken.classes[0]!.action, tinyPpo, Random.fromSeed(1));
    await expect(broken.collect([agent], Random.fromSeed(1), tinyPpo)).rejects.toThrow(/noSuchFactory/);
    await broken.close();
    agent.dispose();
  });
});
