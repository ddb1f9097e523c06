/**
 * Evaluation throughput of the emergent-behaviour analysis (paper section 5.2; evaluation
 * throughput in episodes per second): episodes of T = 100 of the section 5.2 population (3 LPs, 14 learning
 * LTs, the ECN agent) played by untrained [64, 64] policies on the wasm backend with the per-step
 * record on and reduced to the first LP's trace (core/analysis/emergent-eval.ts), through
 * `RolloutRunner` in the main thread and over 2 worker threads (warm runners: thread start-up is
 * reported apart); then the cost of turning traces into the metrics; and the end-to-end
 * `runEmergentEvaluation` of a quick-like grid (4 attributes x 5 values + 4 figure 3 markets, 8
 * episodes each) including its runners' start-up. Prints one JSON object.
 */
import { cpus } from "node:os";
import { EMERGENT_ATTRIBUTES, emergentEvalEnv, emergentEvalLocation, lp1Profile, runEmergentEvaluation } from "../../core/analysis/emergent-eval.ts";
import { episodeMetrics, flowResponse, holdingByInventory, pooledSkewFit, type LpEpisodeTrace } from "../../core/analysis/emergent-metrics.ts";
import { defaultGameConfig, emergentBehaviourPopulation } from "../../core/otc/config.ts";
import { Random } from "../../core/random/philox.ts";
import { initTfBackend } from "../../core/rl/backend.ts";
import { defaultPpoParams, PpoAgent, type PpoParams } from "../../core/rl/ppo.ts";
import { RolloutRunner } from "../../core/rl/rollout-runner.ts";
import { standInGmmData } from "../otc/fixtures.ts";

const backend = await initTfBackend("wasm");
const episodes = Number(process.env.EMERGENT_BENCH_EPISODES ?? 32);
const episodesPerShard = 8;
const population = emergentBehaviourPopulation();
const config = { ...defaultGameConfig(population), horizon: 100 };
const ecn = { kind: "gmm" as const, data: standInGmmData() };
const ppo: PpoParams = {
  ...defaultPpoParams,
  network: { ...defaultPpoParams.network, policy: { ...defaultPpoParams.network.policy, hiddenWidths: [64, 64] }, value: { ...defaultPpoParams.network.value, hiddenWidths: [64, 64] } }
};
const probe = emergentEvalEnv.create({ config, ecn }, 0, 1);
const agents = probe.classes.map((c, k) => new PpoAgent(c.obsDim, c.action, ppo, Random.fromSeed(3).split(k)));
const returns = agents.map(() => ({ discount: 1, gaeLambda: 1 }));
const base = { flowConnectivity: 1, pnlConnectivity: 1, pnlWeight: 0.5, riskAversion: 0.5 };
const profiles = Array.from({ length: episodes }, (_, e) => lp1Profile(population, { ...base, riskAversion: (2 * e) / episodes }));

const played = async (workers: number) => {
  const runner = new RolloutRunner({ factory: emergentEvalEnv, location: emergentEvalLocation, args: { config, ecn }, episodes, episodesPerShard, workers, backend: "wasm" });
  const t0 = performance.now();
  await runner.collect(agents, Random.fromSeed(0), returns, profiles); // warm-up: threads, envs
  const warmupMs = performance.now() - t0;
  const t1 = performance.now();
  const result = await runner.collect(agents, Random.fromSeed(1), returns, profiles);
  const ms = performance.now() - t1;
  await runner.close();
  return { workers, episodesPerSecond: Number(((episodes / ms) * 1000).toFixed(2)), msPerEpisode: Math.round(ms / episodes), warmupMs: Math.round(warmupMs), traces: result.extras.flat() };
};

const inThread = await played(0);
const threaded = await played(2);

const traces: LpEpisodeTrace[] = inThread.traces;
const m0 = performance.now();
for (let k = 0; k < 10; k++) {
  traces.map(episodeMetrics);
  pooledSkewFit(traces);
  flowResponse(traces, { low: -1.5, high: 2.5, width: 0.1 });
  holdingByInventory(traces, 2);
}
const metricsMsPerEpisode = (performance.now() - m0) / (10 * traces.length);

const gridEpisodes = 8;
const e0 = performance.now();
const grid = await runEmergentEvaluation(
  {
    config,
    ecn,
    policies: agents,
    returns,
    grid: { flowConnectivity: [0, 0.25, 0.5, 0.75, 1], pnlConnectivity: [0, 0.25, 0.5, 0.75, 1], pnlWeight: [0, 0.25, 0.5, 0.75, 1], riskAversion: [0, 0.5, 1, 1.5, 2] },
    base,
    episodes: gridEpisodes,
    pnlLtCounts: [0, 1, 3, 4],
    epsBins: { low: -1.5, high: 2.5, width: 0.1 },
    inventoryBucket: 2,
    scatterPoints: 400,
    episodesPerShard,
    workers: 2,
    backend: "wasm"
  },
  Random.fromSeed(2)
);
const endToEndMs = performance.now() - e0;
agents.forEach((a) => a.dispose());

console.log(
  JSON.stringify(
    {
      bench: "emergent",
      backend,
      cores: cpus().length,
      horizon: 100,
      network: "64x64",
      rollouts: { episodes, episodesPerShard, mainThread: { ...inThread, traces: undefined }, twoWorkers: { ...threaded, traces: undefined } },
      metricsMsPerEpisode: Number(metricsMsPerEpisode.toFixed(3)),
      endToEnd: {
        attributes: EMERGENT_ATTRIBUTES.length,
        valuesPerAttribute: 5,
        episodesPerValue: gridEpisodes,
        episodes: grid.episodesPlayed,
        seconds: Number((endToEndMs / 1000).toFixed(1)),
        episodesPerSecond: Number(((grid.episodesPlayed / endToEndMs) * 1000).toFixed(2))
      }
    },
    null,
    2
  )
);
