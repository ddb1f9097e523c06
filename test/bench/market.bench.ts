/**
 * Where the LTs' quantity goes in the experiment-4 market (docs/market-mechanics.md): the OTC env
 * with the experiment-4 population (10 LPs, 500 stationary LTs) on a Gaussian-mixture ECN fitted
 * to the embedded synthetic level-2 data (as `calibrate-exp4` fits it by default), B = 2 episodes
 * of T = 100 steps, every LP playing one fixed action. Prints, per action: the LT quantity decided,
 * the quantity LPs and the ECN filled, the ECN fill ratio (ECN-filled / ECN-routed), the share of
 * the ECN's LT fills the physical book's resting volume absorbed (the rest filled against the
 * extrapolated depth), the same for hedges, and m_total, m_super1 as the calibration computes
 * them. A fitted model JSON (`pnpm pipeline show calibrate-exp4 fit-ecn-gmm` gives its path) may
 * be passed as first argument instead. Usage: `pnpm bench market [model.json]`.
 */
import { experimentPopulation } from "../../core/calibration/experiments.ts";
import { readFileSync } from "node:fs";
import { fitEcnModel, gmmVariationModel, type EcnSamplerData } from "../../core/ecn/model.ts";
import { generateSyntheticL2 } from "../../core/ecn/synthetic.ts";
import { defaultGameConfig } from "../../core/otc/config.ts";
import { OtcEnv } from "../../core/otc/env.ts";
import { Random } from "../../core/random/philox.ts";

const modelPath = process.argv.slice(2).find((a) => a.endsWith(".json"));
const samplerData = (): EcnSamplerData => {
  if (modelPath !== undefined) return JSON.parse(readFileSync(modelPath, "utf8")) as EcnSamplerData;
  const rng = Random.fromSeed(1);
  const l2 = generateSyntheticL2(rng.split("l2"));
  return fitEcnModel(l2.series, { nComponents: 5, nInit: 1, volumeUnit: l2.volumeUnit, tick: l2.tick }, rng.split("fit"));
};

const model = gmmVariationModel(samplerData());
const population = experimentPopulation(4);
const config = defaultGameConfig(population);
const B = 2;

const measure = (action: readonly [number, number, number]) => {
  const env = new OtcEnv({ config, batchSize: B, ecnModel: model });
  env.reset(Random.fromSeed(7));
  const lp = new Float32Array(env.classes[env.lpClassIndex]!.count * 3);
  for (let i = 0; i < lp.length; i += 3) lp.set(action, i);
  const started = performance.now();
  for (let t = 0; t < env.horizon; t++) env.step([lp]);
  const ms = performance.now() - started;
  const s = env.marketStats();
  const outcomes = env.episodeOutcomes();
  // Episode totals, as the calibration computes its metrics (supertype quantity / all LT quantity).
  const S = outcomes.nLpSupertypes;
  const mean = (f: (e: number) => number) => Array.from({ length: B }, (_, e) => f(e)).reduce((a, x) => a + x, 0) / B;
  const share = (e: number, supertypes: number[]) =>
    supertypes.reduce((a, j) => a + outcomes.lpSupertypeLtQuantity[e * S + j]!, 0) / outcomes.totalLtQuantity[e]!;
  return {
    action,
    ltDecided: s.ltDecidedQty,
    ltLpFilled: s.ltLpQty,
    ltEcnFilled: s.ltEcnQty,
    ecnFillRatio: s.ltEcnQty / s.ltEcnQty,
    ecnShareOfLt: s.ltEcnQty / s.ltDecidedQty,
    ltEcnFromRestingBook: s.ltEcnRestingQty / s.ltEcnQty,
    ltNoVenue: s.ltNoVenueQty,
    emptySidesAtQuote: s.emptySides,
    hedgeQty: s.hedgeQty,
    hedgeFromRestingBook: s.hedgeQty > 0 ? s.hedgeRestingQty / s.hedgeQty : null,
    lpServedFraction: s.ltLpQty / s.ltDecidedQty,
    m_total: mean((e) => share(e, Array.from({ length: S }, (_, j) => j))),
    m_super1: mean((e) => share(e, [0])),
    lpMeanEpisodeReward: outcomes.lpEpisodeReward.reduce((a, x) => a + x, 0) / outcomes.lpEpisodeReward.length,
    lpMeanPnl: outcomes.lpPnl.reduce((a, x) => a + x, 0) / outcomes.lpPnl.length,
    msPerStep: ms / env.horizon
  };
};

const actions: (readonly [number, number, number])[] = [
  [0, 0, 0],
  [0, 0, 0.5],
  [-0.5, 0, 0.5],
  [-0.5, 0, 1],
  [0, 1, 0],
  [0, 1, 1],
  [-1, -0.5, 0.5],
  [2, 0, 0]
];
console.log(JSON.stringify({ model: modelPath ?? "fitted on the embedded synthetic data (seed 1)", population: "experiment 4", episodes: B, results: actions.map(measure) }, null, 1));
