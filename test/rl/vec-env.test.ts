/**
 * The sequential (Stackelberg) step of `MultiClassVecEnv` (core/rl/vec-env.ts): with `stages`, a
 * follower class observes after the leader's actions of the same step are applied, in rollouts
 * too; without, every class acts at once; malformed stages are refused.
 */
import { describe, expect, it } from "vitest";
import { Random } from "../../core/random/philox.ts";
import { collectRollouts } from "../../core/rl/rollout.ts";
import { moveStages, stepInStages, type AgentClassSpec, type MultiClassVecEnv } from "../../core/rl/vec-env.ts";
import { PpoAgent } from "../../core/rl/ppo.ts";
import { tinyOtcPpo } from "./toy-envs.ts";

/** Class 0 (leader) acts; class 1 (follower) observes the leader's applied action of this step, or -1 before it. */
class LeaderFollower implements MultiClassVecEnv {
  readonly classes: AgentClassSpec[] = [
    { name: "leader", count: 1, obsDim: 1, action: { kind: "continuous", dim: 1, low: Float32Array.of(-10), high: Float32Array.of(10) } },
    { name: "follower", count: 1, obsDim: 1, action: { kind: "discrete", n: 2 } }
  ];
  readonly horizon = 4;
  t = 0;
  applied = -1;
  readonly seen: number[] = [];
  constructor(readonly stages: number[][] | undefined) {}
  reset(): void {
    this.t = 0;
    this.applied = -1;
  }
  observe(c: number, out: Float32Array): void {
    out[0] = c === 0 ? this.t : this.applied;
    if (c === 1) this.seen.push(this.applied);
  }
  applyStage(_stage: number, actions: readonly (Float32Array | undefined)[]): void {
    this.applied = actions[0]![0]!;
  }
  step(actions: readonly Float32Array[]): void {
    if (this.applied === -1) this.applied = actions[0]![0]!;
    this.t++;
    this.applied = -1;
  }
  rewards(_c: number, out: Float32Array): void {
    out[0] = 0;
  }
}

describe("stepInStages", () => {
  it("a follower observes the leader's action of the same step; without stages it cannot", () => {
    const staged = new LeaderFollower([[0], [1]]);
    const simultaneous = new LeaderFollower(undefined);
    for (const env of [staged, simultaneous]) {
      env.reset();
      for (let t = 0; t < 3; t++) {
        stepInStages(
          env,
          (c) => {
            env.observe(c, new Float32Array(1));
            return c === 0 ? Float32Array.of(5 + t) : Float32Array.of(0);
          },
          Random.fromSeed(1)
        );
      }
    }
    expect(staged.seen).toEqual([5, 6, 7]);
    expect(simultaneous.seen).toEqual([-1, -1, -1]);
  });

  it("collectRollouts plays the stages: the follower's recorded observation is the leader's sampled action", () => {
    const env = new LeaderFollower([[0], [1]]);
    const ppo = tinyOtcPpo(4);
    const agents = env.classes.map((c, i) => new PpoAgent(c.obsDim, c.action, ppo, Random.fromSeed(i)));
    const [leader, follower] = collectRollouts(env, agents, Random.fromSeed(2), ppo);
    for (let t = 0; t < env.horizon; t++) expect(follower!.obs[t]).toBeCloseTo(leader!.actions[t]!, 5);
    for (const a of agents) a.dispose();
  });

  it("refuses stages that do not list every class exactly once", () => {
    expect(() => moveStages(new LeaderFollower([[0], [0]]))).toThrow(/exactly once/);
    expect(() => moveStages(new LeaderFollower([[1]]))).toThrow(/exactly once/);
    expect(moveStages(new LeaderFollower(undefined))).toEqual([[0, 1]]);
  });
});
