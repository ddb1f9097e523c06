/**
 * Throughput of the OTC env: episode-steps per second (one episode advancing one step
 * = 1) on one core, B = 60, random LP actions, with the real ECN agent on a stand-in ECN model.
 * Populations: experiment 4 (10 LPs, 500 stationary LTs in 10 supertypes) and section 5.2 (3 LPs,
 * 14 learning LTs). Also reports the share of time spent in observe and the ECN agent alone.
 * Rates are per CPU second of this process (the machine is shared), wall-clock rates beside them.
 * Goal: >= 20,000 episode-steps/s for experiment 4. Prints one JSON object.
 */
import { experimentPopulation } from "../../core/calibration/experiments.ts";
import { Random } from "../../core/random/philox.ts";
import { defaultGameConfig, emergentBehaviourPopulation } from "../../core/otc/config.ts";
import { OtcEnv } from "../../core/otc/env.ts";
import { stepInStages } from "../../core/rl/vec-env.ts";
import { OrderBook } from "../../core/book/order-book.ts";
import { EcnAgent } from "../../core/book/ecn-agent.ts";
import type { Population } from "../../core/otc/supertypes.ts";
import { standInModel } from "../otc/fixtures.ts";

const B = 60;
const model = standInModel();

const measure = (population: Population, batches: number, withObserve: boolean) => {
  const config = defaultGameConfig(population);
  const env = new OtcEnv({ config, batchSize: B, ecnModel: model });
  const rng = Random.fromSeed(1);
  const actionRng = rng.split("actions");
  const actions = env.classes.map((c) => new Float32Array(c.count * (c.action.kind === "continuous" ? c.action.dim : 1)));
  const obs = env.classes.map((c) => new Float32Array(c.count * c.obsDim));
  const fill = () => {
    env.classes.forEach((c, ci) => {
      const a = actions[ci]!;
      if (c.action.kind === "continuous") {
        for (let r = 0; r < c.count; r++) {
          for (let d = 0; d < c.action.dim; d++) a[r * c.action.dim + d] = actionRng.uniformIn(c.action.low[d]!, c.action.high[d]!);
        }
      } else {
        for (let r = 0; r < c.count; r++) a[r] = actionRng.int(c.action.n);
      }
    });
  };
  // Warm-up batch, then timed batches.
  let steps = 0;
  let start = 0;
  let cpuStart = process.cpuUsage();
  for (let batch = 0; batch <= batches; batch++) {
    if (batch === 1) {
      start = performance.now();
      cpuStart = process.cpuUsage();
      steps = 0;
    }
    env.reset(rng.split(batch));
    for (let t = 0; t < env.horizon; t++) {
      fill();
      // LPs observe and act, then learning LTs observe this step's quotes (the Stackelberg order).
      if (withObserve) {
        stepInStages(env, (ci) => {
          env.observe(ci, obs[ci]!);
          return actions[ci]!;
        }, rng);
      } else env.step(actions, rng);
      steps += B;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    episodeStepsPerCpuSecond: Math.round(steps / cpuSeconds),
    episodeStepsPerWallSecond: Math.round(steps / seconds),
    cpuSeconds: Number(cpuSeconds.toFixed(3))
  };
};

/** The ECN agent alone on the same model: steps per second of one book (the env's floor). */
const measureEcnAlone = (steps: number) => {
  const book = new OrderBook({ minPriceTick: 5000, maxPriceTick: 15000 });
  const agent = new EcnAgent(book, model, { p0Tick: 10_000, depthLevels: 30, originator: 0 });
  const rng = Random.fromSeed(2);
  agent.startEpisode(rng);
  const cpuStart = process.cpuUsage();
  for (let s = 0; s < steps; s++) {
    if (s % 100 === 0) agent.startEpisode(rng);
    else agent.step(rng);
  }
  const cpu = process.cpuUsage(cpuStart);
  return Math.round(steps / ((cpu.user + cpu.system) / 1e6));
};

const exp4 = experimentPopulation(4);
const result = {
  bench: "otc-env",
  batchSize: B,
  horizon: 100,
  exp4_stepOnly: measure(exp4, 5, false),
  exp4_withObserve: measure(exp4, 5, true),
  sec52_withObserve: measure(emergentBehaviourPopulation(), 10, true),
  ecnAgentAloneStepsPerCpuSecond: measureEcnAlone(30_000),
  goalEpisodeStepsPerSecond: 20_000
};
console.log(JSON.stringify(result));
