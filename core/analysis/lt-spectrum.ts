/**
 * Figure 2's LT spectrum (paper section 3.1, eq. 6): the fixed mid path and its ECN driver, the
 * population (learning LTs, no LP connected), the env as a rollout factory (plain-data args, so a
 * worker could rebuild it), and the evaluation of a trained policy at a fixed omega. Plain
 * functions over the game's public API rather than core/otc code, so this experiment does not
 * touch the shared game; `train-lt-spectrum` and `lt-spectrum-report` use them.
 */
import { BUY, SELL, type OrderBook } from "../book/order-book.ts";
import type { EcnVariationModel } from "../ecn/variation-model.ts";
import { defaultGameConfig } from "../otc/config.ts";
import { LT_BUY, LT_SELL, OtcEnv, type EcnDriver, type EcnDriverFactory } from "../otc/env.ts";
import { constant, uniform, type ParamDist, type Population } from "../otc/supertypes.ts";
import { Random } from "../random/philox.ts";
import type { PpoAgent } from "../rl/ppo.ts";
import { rolloutFactoryLocation, type RolloutEnvFactory, type RolloutFactoryLocation } from "../rl/rollout-runner.ts";

export type MidPathSpec =
  | { readonly kind: "sine"; readonly amplitudeTicks: number; readonly cycles: number }
  | { readonly kind: "walk"; readonly stepTicks: number; readonly seed: number };

/** The mid (in ticks) at steps 0..horizon: deterministic, the same for every episode. */
export const fixedMidPath = (spec: MidPathSpec, horizon: number, p0Tick: number): Float64Array => {
  const path = new Float64Array(horizon + 1);
  if (spec.kind === "sine") {
    for (let t = 0; t <= horizon; t++) path[t] = p0Tick + spec.amplitudeTicks * Math.sin((2 * Math.PI * spec.cycles * t) / horizon);
  } else {
    const rng = Random.fromSeed(spec.seed).split("mid-path");
    path[0] = p0Tick;
    for (let t = 1; t <= horizon; t++) path[t] = path[t - 1]! + spec.stepTicks * rng.normal();
  }
  return path;
};

/**
 * An ECN driver that, at every step, clears the book and rebuilds it symmetrically around the
 * fixed path: best bid floor(path[t]), best ask one spread above, `levels` levels of `volume` lots
 * per side. Orders sent during a step are wiped by the next rebuild, so the mid never depends on
 * the agents. Steps past the end of the path repeat its last point.
 */
export const fixedPathEcnFactory =
  (path: Float64Array, options: { spreadTicks: number; levels: number; volume: number }): EcnDriverFactory =>
  (book: OrderBook, _model, driverOptions): EcnDriver => {
    let t = 0;
    const build = () => {
      book.clear();
      const bestBid = Math.floor(path[Math.min(t, path.length - 1)]!);
      const bestAsk = bestBid + options.spreadTicks;
      for (let k = 0; k < options.levels; k++) {
        book.submitLimit(SELL, bestAsk + k, options.volume, driverOptions.originator);
        book.submitLimit(BUY, bestBid - k, options.volume, driverOptions.originator);
      }
    };
    return {
      startEpisode: () => {
        t = 0;
        build();
      },
      step: () => {
        t++;
        build();
      }
    };
  };

/** Raised if anything asks the fixed-path stand-in model for ECN variations. */
export class FixedPathModelError extends Error {
  readonly _tag = "FixedPathModelError";
  constructor() {
    super("The fixed-path ECN has no variation model; build the env with fixedPathEcnFactory as its ecnFactory.");
  }
}

/** What the env needs from a model when the fixed-path driver replaces the ECN agent. */
export const fixedPathModel = (levels: number): EcnVariationModel => ({
  levels,
  alpha: 0.2,
  tick: 0.01,
  volumeUnit: 100,
  orderSizes: Float64Array.from([1]),
  forEpisode: () => {
    throw new FixedPathModelError();
  }
});

export interface LtSpectrumSetup {
  readonly horizon: number;
  readonly episodes: number;
  /** Learning LTs per episode (independent: the book is rebuilt every step). */
  readonly ltsPerEpisode: number;
  readonly qA: number;
  readonly qB: number;
  readonly eta: number;
  readonly path: MidPathSpec;
  readonly spreadTicks: number;
}

/**
 * One learning LT supertype (omega from `omega`, targets q^a, q^b, size 1, gamma 0) and one LP
 * that no LT is connected to and that cannot reach the ECN: the LT trades only on the ECN.
 */
export const ltSpectrumPopulation = (setup: LtSpectrumSetup, omega: ParamDist): Population => ({
  lp: [{ name: "lp", count: 1, gamma: constant(0), eta: constant(1), omega: constant(1), mTarget: constant(1), connectivity: [constant(0)], ecnConnected: false }],
  lt: [
    {
      name: "lt",
      count: setup.ltsPerEpisode,
      gamma: constant(0),
      eta: constant(setup.eta),
      omega,
      qA: constant(setup.qA),
      qB: constant(setup.qB),
      qLT: constant(1),
      ecnConnected: true,
      stationary: false
    }
  ]
});

const LEVELS = 5;

export const ltSpectrumEnv = (setup: LtSpectrumSetup, omega: ParamDist, episodes = setup.episodes, firstEpisodeIndex = 0): { env: OtcEnv; path: Float64Array } => {
  const config = { ...defaultGameConfig(ltSpectrumPopulation(setup, omega)), horizon: setup.horizon };
  const path = fixedMidPath(setup.path, setup.horizon, config.ecn.p0Tick);
  const env = new OtcEnv({
    config,
    batchSize: episodes,
    firstEpisodeIndex,
    ecnModel: fixedPathModel(LEVELS),
    ecnFactory: fixedPathEcnFactory(path, { spreadTicks: setup.spreadTicks, levels: LEVELS, volume: 10_000 })
  });
  return { env, path };
};

export interface OmegaEvaluation {
  readonly omega: number;
  /** Mean over LTs and episodes of the fraction of steps with a sell (q^a hat) / a buy (q^b hat). */
  readonly sellFraction: number;
  readonly buyFraction: number;
  /** Standard errors of the fractions over LT-episodes. */
  readonly sellFractionStdError: number;
  readonly buyFractionStdError: number;
  /** Mean final PnL (inventory + spread, ticks x lots) and its standard error. */
  readonly meanPnl: number;
  readonly pnlStdError: number;
  readonly meanReward: number;
  /** The mid at the start of each step (ticks) and one LT's actions (LT_BUY, LT_SELL, none). */
  readonly mid: Float64Array;
  readonly exampleActions: Int32Array;
  /** Per step, the fraction of LT-episodes buying / selling. */
  readonly buyRate: Float64Array;
  readonly sellRate: Float64Array;
}

const meanAndError = (x: Float64Array): [number, number] => {
  let m = 0;
  for (const v of x) m += v;
  m /= x.length;
  let s = 0;
  for (const v of x) s += (v - m) ** 2;
  return [m, x.length > 1 ? Math.sqrt(s / (x.length - 1) / x.length) : 0];
};

/**
 * Runs `episodes` episodes with omega fixed to `omega` and the trained LT policy (sampled actions,
 * as in training; `greedy` takes the most likely action instead); the LP acts with `lpAgent`.
 */
export const evaluateAtOmega = (
  setup: LtSpectrumSetup,
  omega: number,
  agents: { lp: PpoAgent; lt: PpoAgent },
  episodes: number,
  rng: Random,
  greedy = false
): OmegaEvaluation => {
  const { env } = ltSpectrumEnv(setup, constant(omega), episodes);
  const T = setup.horizon;
  const lpSpec = env.classes[env.lpClassIndex]!;
  const ltSpec = env.classes[env.ltClassIndex]!;
  const lpObs = new Float32Array(lpSpec.count * lpSpec.obsDim);
  const ltObs = new Float32Array(ltSpec.count * ltSpec.obsDim);
  const n = ltSpec.count;
  const buys = new Float64Array(n);
  const sells = new Float64Array(n);
  const buyRate = new Float64Array(T);
  const sellRate = new Float64Array(T);
  const mid = new Float64Array(T);
  const exampleActions = new Int32Array(T);
  const rewardSums = new Float64Array(n);
  const rewards = new Float32Array(n);
  env.reset(rng.split("reset"));
  const actionRng = rng.split("actions");
  const scratchLogProb = new Float32Array(Math.max(lpSpec.count, n));
  for (let t = 0; t < T; t++) {
    mid[t] = env.midOf(0);
    env.observe(env.lpClassIndex, lpObs);
    const lpOut = agents.lp.net.evaluate(lpObs, lpSpec.count);
    const lpPolicy = agents.lp.net.policy;
    const lpParams = new Float32Array(lpSpec.count * lpPolicy.paramDim);
    for (let i = 0; i < lpSpec.count; i++) for (let k = 0; k < lpPolicy.paramDim; k++) lpParams[i * lpPolicy.paramDim + k] = lpOut[i * (lpPolicy.paramDim + 1) + k]!;
    const lpActions = new Float32Array(lpSpec.count * lpPolicy.actionDim);
    lpPolicy.sample(lpParams, lpSpec.count, actionRng, lpActions, scratchLogProb);
    // Stackelberg step: the LTs observe after the LPs' quotes of this step exist.
    const byClass: Float32Array[] = [];
    byClass[env.lpClassIndex] = lpActions;
    env.applyStage(0, byClass);
    env.observe(env.ltClassIndex, ltObs);
    const ltOut = agents.lt.net.evaluate(ltObs, n);
    const ltPolicy = agents.lt.net.policy;
    const width = ltPolicy.paramDim + 1;
    const ltParams = new Float32Array(n * ltPolicy.paramDim);
    for (let i = 0; i < n; i++) for (let k = 0; k < ltPolicy.paramDim; k++) ltParams[i * ltPolicy.paramDim + k] = ltOut[i * width + k]!;
    const ltActions = new Float32Array(n);
    if (greedy) ltPolicy.mode(ltParams, n, ltActions);
    else ltPolicy.sample(ltParams, n, actionRng, ltActions, scratchLogProb);
    for (let i = 0; i < n; i++) {
      if (ltActions[i] === LT_BUY) {
        buys[i]! += 1;
        buyRate[t]! += 1 / n;
      } else if (ltActions[i] === LT_SELL) {
        sells[i]! += 1;
        sellRate[t]! += 1 / n;
      }
    }
    exampleActions[t] = ltActions[0]!;
    const actions = [lpActions, ltActions];
    env.step(env.lpClassIndex === 0 ? actions : [ltActions, lpActions]);
    env.rewards(env.ltClassIndex, rewards);
    for (let i = 0; i < n; i++) rewardSums[i]! += rewards[i]!;
  }
  const outcomes = env.episodeOutcomes();
  const [sellFraction, sellFractionStdError] = meanAndError(sells.map((s) => s / T));
  const [buyFraction, buyFractionStdError] = meanAndError(buys.map((b) => b / T));
  const [meanPnl, pnlStdError] = meanAndError(outcomes.ltPnl);
  const [meanReward] = meanAndError(rewardSums);
  return { omega, sellFraction, buyFraction, sellFractionStdError, buyFractionStdError, meanPnl, pnlStdError, meanReward, mid, exampleActions, buyRate, sellRate };
};

/** The env of the LT spectrum as a rollout factory: omega ~ U[0, 1] every episode (the training distribution). */
export const ltSpectrumRolloutEnv: RolloutEnvFactory<{ readonly setup: LtSpectrumSetup }, OtcEnv> = {
  create: (args, firstEpisode, episodes) => ltSpectrumEnv(args.setup, uniform(0, 1), episodes, firstEpisode).env
};

export const ltSpectrumRolloutLocation: RolloutFactoryLocation = rolloutFactoryLocation(import.meta.url, "ltSpectrumRolloutEnv", ltSpectrumRolloutEnv);
