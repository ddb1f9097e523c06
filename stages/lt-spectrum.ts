/**
 * Figure 2 of the paper (section 3.1, eq. 6; SPEC 2.3, 3): the spectrum of actions of ONE shared
 * LT policy conditioned on its PnL weight omega. Learning LTs trade on an ECN whose mid follows a
 * FIXED path (the same deterministic curve every episode: the book is rebuilt symmetrically around
 * it each step, so LT orders never move it); no LP is connected. The policy is trained with omega
 * drawn uniformly in [0, 1] every episode and quantity targets q^a = 0.25 (sells), q^b = 0.75
 * (buys), then evaluated at fixed omegas: at omega = 0 it should hit the targets, at omega = 1 it
 * should buy low and sell high. Stages: the loop `train-lt-spectrum` (checkpointed like
 * train-calsheq, over core/rl/shared-trainer.ts) and `lt-spectrum-report` (evaluation, one
 * price-path panel per omega with buy/sell markers, and the realised fractions and PnL).
 *
 * The ECN driver, the population and the evaluation are plain functions here (not in core/otc) so
 * that this experiment does not touch the shared game code; they use only its public API.
 */
import * as arrow from "apache-arrow";
import { Effect, Schema } from "effect";
import { BUY, SELL, type OrderBook } from "../core/book/order-book.ts";
import type { EcnVariationModel } from "../core/ecn/variation-model.ts";
import { htmlReport, renderSvg, type VegaLiteSpec } from "../core/analysis/report.ts";
import { defaultGameConfig } from "../core/otc/config.ts";
import { LT_BUY, LT_SELL, OtcEnv, type EcnDriver, type EcnDriverFactory } from "../core/otc/env.ts";
import { constant, uniform, type ParamDist, type Population } from "../core/otc/supertypes.ts";
import { Random } from "../core/random/philox.ts";
import type { PpoAgent } from "../core/rl/ppo.ts";
import { localRollouts } from "../core/rl/rollout-runner.ts";
import { otcSupertypeLabels, SharedTrainer, type SharedTrainerOptions } from "../core/rl/shared-trainer.ts";
import { arrowTableCodec } from "../core/pipeline/codecs/arrow.ts";
import { compositeCodec } from "../core/pipeline/codecs/composite.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { tableToParquet } from "../core/pipeline/codecs/parquet.ts";
import { textCodec } from "../core/pipeline/codecs/text.ts";
import { Backend } from "../core/pipeline/backend.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { PpoSettingsSchema, ppoParamsFrom, rowsOfShared, sharedLoopStateCodec, sharedLoopStep, type SharedLoopState } from "./shared.ts";

// ---------------------------------------------------------------------------------------------
// Domain: fixed mid path, ECN driver, population, evaluation
// ---------------------------------------------------------------------------------------------

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

export const ltSpectrumEnv = (setup: LtSpectrumSetup, omega: ParamDist, episodes = setup.episodes): { env: OtcEnv; path: Float64Array } => {
  const config = { ...defaultGameConfig(ltSpectrumPopulation(setup, omega)), horizon: setup.horizon };
  const path = fixedMidPath(setup.path, setup.horizon, config.ecn.p0Tick);
  const env = new OtcEnv({
    config,
    batchSize: episodes,
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

/** The trainer of the LT spectrum: only the LT class learns (the LP is disconnected). */
export const ltSpectrumTrainer = (setup: LtSpectrumSetup, ppo: SharedTrainerOptions["defaultPpo"], lpPpo: SharedTrainerOptions["defaultPpo"], rng: Random) => {
  const { env } = ltSpectrumEnv(setup, uniform(0, 1));
  // The scripted mid-price path is a function, not data a worker could rebuild: rollouts stay in this thread.
  return new SharedTrainer(localRollouts(env), { ppo: { lt: ppo, lp: lpPpo }, defaultPpo: ppo, learning: ["lt"], episodes: setup.episodes, labels: otcSupertypeLabels(env) }, rng);
};

// ---------------------------------------------------------------------------------------------
// Stages
// ---------------------------------------------------------------------------------------------

const PositiveInt = Schema.Int.pipe(Schema.positive());
const Fraction = Schema.Number.pipe(Schema.between(0, 1));
const opt = <A, I>(schema: Schema.Schema<A, I>, value: A) => Schema.optionalWith(schema, { default: () => value });

export const LtSpectrumTrainingParams = Schema.Struct({
  iterations: opt(Schema.Int.pipe(Schema.nonNegative()), 150),
  checkpointEvery: opt(PositiveInt, 25),
  /** B, episodes per iteration. */
  episodes: opt(PositiveInt, 16),
  /** T, steps per episode (the paper's 100). */
  horizon: opt(PositiveInt, 100),
  /** Learning LTs per episode (independent samples of the same game: the ECN ignores them). */
  ltsPerEpisode: opt(PositiveInt, 8),
  /** Target fraction of steps with a sell (q^a) and with a buy (q^b): figure 2's 25% / 75%. */
  qA: opt(Fraction, 0.25),
  qB: opt(Fraction, 0.75),
  /** PnL normaliser eta: the best PnL on the default path (~1,200 ticks x lots) times eta is ~0.5, the scale of the target term. */
  eta: opt(Schema.Number.pipe(Schema.positive()), 4e-4),
  /** The fixed mid path: a sine (amplitude, cycles over the episode) or a seeded random walk. */
  path: opt(
    Schema.Struct({
      kind: opt(Schema.Literal("sine", "walk"), "sine"),
      amplitudeTicks: opt(Schema.Number.pipe(Schema.positive()), 20),
      cycles: opt(Schema.Number.pipe(Schema.positive()), 2),
      stepTicks: opt(Schema.Number.pipe(Schema.positive()), 3),
      seed: opt(Schema.Int.pipe(Schema.nonNegative()), 7)
    }),
    { kind: "sine" as const, amplitudeTicks: 20, cycles: 2, stepTicks: 3, seed: 7 }
  ),
  /** ECN spread in ticks (the book is rebuilt around the path with this spread). */
  spreadTicks: opt(PositiveInt, 1),
  ppo: opt(PpoSettingsSchema, PpoSettingsSchema.make({ entropyCoeff: 0.01 }))
});
export type LtSpectrumTrainingParams = typeof LtSpectrumTrainingParams.Type;

export const setupFrom = (p: LtSpectrumTrainingParams): LtSpectrumSetup => ({
  horizon: p.horizon,
  episodes: p.episodes,
  ltsPerEpisode: p.ltsPerEpisode,
  qA: p.qA,
  qB: p.qB,
  eta: p.eta,
  path: p.path.kind === "sine" ? { kind: "sine", amplitudeTicks: p.path.amplitudeTicks, cycles: p.path.cycles } : { kind: "walk", stepTicks: p.path.stepTicks, seed: p.path.seed },
  spreadTicks: p.spreadTicks
});

/** The disconnected LP never matters; a tiny frozen network keeps its per-step cost negligible. */
const lpPpo = () => ppoParamsFrom(PpoSettingsSchema.make({ hidden: [4] }));

const freshLtTrainer = (p: LtSpectrumTrainingParams) =>
  Effect.gen(function* () {
    yield* (yield* Backend).ensure;
    const rng = (yield* Rng).stream;
    return ltSpectrumTrainer(setupFrom(p), ppoParamsFrom(p.ppo), lpPpo(), rng.split("init"));
  });

export const trainLtSpectrum = Stage.loop({
  name: "train-lt-spectrum",
  description: "LT shared policy on a fixed mid path, omega ~ U[0, 1] (figure 2)",
  source: import.meta.url,
  params: LtSpectrumTrainingParams,
  scheduleParams: ["iterations", "checkpointEvery"],
  iterations: (p) => p.iterations,
  checkpointEvery: (p) => p.checkpointEvery,
  inputs: {},
  state: sharedLoopStateCodec,
  init: (_inputs, p) => Effect.map(freshLtTrainer(p), (trainer): SharedLoopState => ({ trainer })),
  step: (state, _inputs, p, context) =>
    Effect.gen(function* () {
      let trainer = state.trainer;
      if (trainer === undefined) {
        trainer = yield* freshLtTrainer(p);
        trainer.setState(state.saved!);
      }
      return yield* sharedLoopStep("train-lt-spectrum", trainer, context.iteration, context.status, (row) => `lt reward ${row["lt/charts/episode_reward_mean"]?.toFixed(3)} entropy ${row["lt/losses/entropy"]?.toFixed(3)}`);
    })
});

export const LtSpectrumReportParams = Schema.Struct({
  /** PnL weights at which the trained policy is evaluated (figure 2: 0, 0.25, 0.75, 1). */
  omegas: opt(Schema.mutable(Schema.Array(Fraction)), [0, 0.25, 0.75, 1]),
  /** Episodes per omega (each with `ltsPerEpisode` LTs). */
  evaluationEpisodes: opt(PositiveInt, 32),
  /** Act by the most likely action instead of sampling. */
  greedy: opt(Schema.Boolean, false),
  /** Acceptance: at omega = 0 each realised fraction within this of its target (issue 6: 0.03). */
  fractionTolerance: opt(Fraction, 0.03)
});

const OmegaRow = Schema.Struct({
  omega: Schema.Number,
  sellFraction: Schema.Number,
  buyFraction: Schema.Number,
  sellFractionStdError: Schema.Number,
  buyFractionStdError: Schema.Number,
  meanPnl: Schema.Number,
  pnlStdError: Schema.Number,
  meanReward: Schema.Number
});
export const LtSpectrumSummary = Schema.Struct({
  iterations: Schema.Number,
  qA: Schema.Number,
  qB: Schema.Number,
  greedy: Schema.Boolean,
  omegas: Schema.mutable(Schema.Array(OmegaRow)),
  /** Issue 6 acceptance: omega = 0 within tolerance of both targets; omega = 1 mean PnL > 0 (null when not evaluated). */
  omega0OnTargets: Schema.NullOr(Schema.Boolean),
  omega1PnlPositive: Schema.NullOr(Schema.Boolean)
});
export type LtSpectrumSummary = typeof LtSpectrumSummary.Type;

export type LtSpectrumReport = { html: string; table: arrow.Table; summary: LtSpectrumSummary };
export const ltSpectrumReportCodec = compositeCodec<LtSpectrumReport>("lt-spectrum-report", {
  html: textCodec("html"),
  table: arrowTableCodec,
  summary: jsonCodec(LtSpectrumSummary)
});

const pricePanel = (ev: OmegaEvaluation, qA: number, qB: number): VegaLiteSpec => {
  const price = Array.from(ev.mid, (p, t) => ({ t, price: p }));
  const marks = Array.from(ev.exampleActions, (a, t) => ({ t, price: ev.mid[t]!, action: a === LT_BUY ? "buy" : a === LT_SELL ? "sell" : "none" })).filter((m) => m.action !== "none");
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `omega = ${ev.omega.toFixed(2)}: sells ${(ev.sellFraction * 100).toFixed(1)}% (q^a ${(qA * 100).toFixed(0)}%), buys ${(ev.buyFraction * 100).toFixed(1)}% (q^b ${(qB * 100).toFixed(0)}%), PnL ${ev.meanPnl.toFixed(0)}`,
    width: 420,
    height: 200,
    layer: [
      { data: { values: price }, mark: { type: "line", color: "steelblue" }, encoding: { x: { field: "t", type: "quantitative", title: "time step" }, y: { field: "price", type: "quantitative", title: "mid (ticks)", scale: { zero: false } } } },
      {
        data: { values: marks },
        mark: { type: "point", filled: true, size: 30 },
        encoding: {
          x: { field: "t", type: "quantitative" },
          y: { field: "price", type: "quantitative" },
          color: { field: "action", type: "nominal", scale: { domain: ["buy", "sell"], range: ["green", "darkorange"] } }
        }
      }
    ]
  } as VegaLiteSpec;
};

const ratePanel = (ev: OmegaEvaluation): VegaLiteSpec => {
  const values = Array.from(ev.buyRate, (b, t) => [
    { t, rate: b, action: "buy" },
    { t, rate: ev.sellRate[t]!, action: "sell" }
  ]).flat();
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `omega = ${ev.omega.toFixed(2)}: fraction of LTs buying / selling at each step`,
    width: 420,
    height: 120,
    data: { values },
    mark: "line",
    encoding: {
      x: { field: "t", type: "quantitative", title: "time step" },
      y: { field: "rate", type: "quantitative", title: "fraction of LTs", scale: { domain: [0, 1] } },
      color: { field: "action", type: "nominal", scale: { domain: ["buy", "sell"], range: ["green", "darkorange"] } }
    }
  } as VegaLiteSpec;
};

export const ltSpectrumReport = Stage.make({
  name: "lt-spectrum-report",
  description: "realised sell/buy fractions and PnL per omega, price paths with buy/sell markers (figure 2)",
  source: import.meta.url,
  /** Read at the root of the pipeline params: the training setup is needed to rebuild the env. */
  params: Schema.Struct({ seed: Schema.Number, training: LtSpectrumTrainingParams, report: LtSpectrumReportParams }),
  inputs: { trained: sharedLoopStateCodec },
  output: ltSpectrumReportCodec,
  exports: [
    { name: "report", extension: "html", encode: (value: LtSpectrumReport) => new TextEncoder().encode(value.html) },
    { name: "omegas", extension: "parquet", encode: (value: LtSpectrumReport) => tableToParquet(value.table) },
    { name: "summary", extension: "json", encode: (value: LtSpectrumReport) => new TextEncoder().encode(JSON.stringify(value.summary, null, 2)) }
  ],
  run: (inputs, params) =>
    Effect.gen(function* () {
      const p = params.training;
      const r = params.report;
      const trainer = yield* freshLtTrainer(p);
      trainer.setState(inputs.trained.trainer?.getState() ?? inputs.trained.saved!);
      const rng = (yield* Rng).stream.split("evaluation");
      const setup = setupFrom(p);
      const evaluations = yield* Stage.attempt("lt-spectrum-report", () => {
        try {
          return r.omegas.map((w, k) => evaluateAtOmega(setup, w, { lp: trainer.agent("lp"), lt: trainer.agent("lt") }, r.evaluationEpisodes, rng.split(k), r.greedy));
        } finally {
          trainer.dispose();
        }
      });
      const rows = evaluations.map(({ omega, sellFraction, buyFraction, sellFractionStdError, buyFractionStdError, meanPnl, pnlStdError, meanReward }) => ({
        omega,
        sellFraction,
        buyFraction,
        sellFractionStdError,
        buyFractionStdError,
        meanPnl,
        pnlStdError,
        meanReward
      }));
      const at = (w: number) => rows.find((row) => row.omega === w);
      const zero = at(0);
      const one = at(1);
      const summary: LtSpectrumSummary = {
        iterations: rowsOfShared(inputs.trained).length,
        qA: p.qA,
        qB: p.qB,
        greedy: r.greedy,
        omegas: rows,
        omega0OnTargets: zero ? Math.abs(zero.sellFraction - p.qA) <= r.fractionTolerance && Math.abs(zero.buyFraction - p.qB) <= r.fractionTolerance : null,
        omega1PnlPositive: one ? one.meanPnl > 0 : null
      };
      const svgs: string[] = [];
      for (const ev of evaluations) svgs.push(yield* Effect.promise(() => renderSvg(pricePanel(ev, p.qA, p.qB))));
      const rateSvgs: string[] = [];
      for (const ev of evaluations) rateSvgs.push(yield* Effect.promise(() => renderSvg(ratePanel(ev))));
      const trainingRows = rowsOfShared(inputs.trained);
      const curve = {
        $schema: "https://vega.github.io/schema/vega-lite/v6.json",
        title: "LT mean episode reward over training (omega ~ U[0, 1])",
        width: 420,
        height: 160,
        data: { values: trainingRows.map((row) => ({ iteration: row["iteration"], reward: row["lt/charts/episode_reward_mean"] })) },
        mark: "line",
        encoding: { x: { field: "iteration", type: "quantitative" }, y: { field: "reward", type: "quantitative", scale: { zero: false } } }
      } as VegaLiteSpec;
      const curveSvg = yield* Effect.promise(() => renderSvg(curve));
      const html = htmlReport(
        "Figure 2: spectrum of the shared LT policy's actions over the PnL weight omega",
        `One shared LT policy trained with omega ~ U[0, 1] on a fixed mid path (${p.path.kind}), targets q^a = ${p.qA} (sells), q^b = ${p.qB} (buys), T = ${p.horizon}, ${summary.iterations} iterations of ${p.episodes} x ${p.ltsPerEpisode} LT episodes. Evaluation: ${r.evaluationEpisodes * p.ltsPerEpisode} LT episodes per omega, ${r.greedy ? "greedy" : "sampled"} actions. Markers: one LT's buys (green) and sells (orange).`,
        [
          {
            heading: "Realised fractions and PnL",
            table: {
              columns: ["omega", "sell fraction", "(se)", "buy fraction", "(se)", "mean PnL (ticks x lots)", "(se)", "mean reward"],
              rows: rows.map((row) => [row.omega, row.sellFraction, row.sellFractionStdError, row.buyFraction, row.buyFractionStdError, row.meanPnl, row.pnlStdError, row.meanReward])
            },
            text: `Acceptance (issue 6): omega = 0 within ${(r.fractionTolerance * 100).toFixed(0)} points of both targets: ${summary.omega0OnTargets}; omega = 1 mean PnL positive: ${summary.omega1PnlPositive}.`
          },
          { heading: "Price path with buy/sell actions (figure 2 panels)", svgs },
          { heading: "Buy and sell rates across LTs", svgs: rateSvgs },
          { heading: "Training", svgs: [curveSvg] }
        ]
      );
      const table = arrow.tableFromArrays({
        omega: Float64Array.from(rows, (x) => x.omega),
        sellFraction: Float64Array.from(rows, (x) => x.sellFraction),
        buyFraction: Float64Array.from(rows, (x) => x.buyFraction),
        meanPnl: Float64Array.from(rows, (x) => x.meanPnl),
        pnlStdError: Float64Array.from(rows, (x) => x.pnlStdError),
        meanReward: Float64Array.from(rows, (x) => x.meanReward)
      });
      return { html, table, summary };
    })
});
