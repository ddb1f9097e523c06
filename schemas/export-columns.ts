/**
 * What the columns of the exported tables mean (described-table.ts applies them when a table is
 * exported as Parquet; the stored artifacts are unchanged): the level-2 snapshots of the ECN data
 * (paper section 2.3), the shared-policy training rows (section 3.1, CleanRL's namespaces), the
 * LT spectrum of figure 2, and the section 5.2 evaluation tables and findings.
 */
import type { ColumnMeaning, ColumnRule } from "./described-table.ts";

const m = (unit: string, meaning: string): ColumnMeaning => ({ unit, meaning });
/** A count or index (exported as an integer). */
const count = (unit: string, meaning: string): ColumnMeaning => ({ unit, meaning, integer: true });

const SIDE: Readonly<Record<string, string>> = { ask_px: "ask price", ask_sz: "ask size", bid_px: "bid price", bid_sz: "bid size" };

export const SNAPSHOT_COLUMNS: readonly ColumnRule[] = [
  ["t", m("s", "time of the snapshot from the start of the window")],
  [/(ask_px|bid_px)_(\d+)/, (x) => m("price units", `${SIDE[x[1]!]} at level ${x[2]} (1 = best)`)],
  [/(ask_sz|bid_sz)_(\d+)/, (x) => m("raw volume", `${SIDE[x[1]!]} at level ${x[2]} (1 = best)`)]
];

/** Families of a training row (the last path segment is the figure's name, CleanRL's style). */
const trainingFamily = (prefix: string): readonly ColumnRule[] => [
  [new RegExp(`${prefix}charts/episode_reward_mean`), m("reward", "mean episode reward of the class's agents in the iteration")],
  [new RegExp(`${prefix}charts/kl_coeff`), m("", "adaptive KL penalty coefficient after the update")],
  [new RegExp(`${prefix}losses/(\\w+)`), (x) => m("", `PPO ${x[x.length - 1]!.replace(/_/g, " ")} over the update's minibatches`)],
  [new RegExp(`${prefix}rewards/(\\w+)`), (x) => m("reward", `mean episode reward of ${x[x.length - 1]!.replace(/_/g, " ")}`)],
  [new RegExp(`${prefix}charts/(\\w+)`), (x) => m("", `training figure ${x[x.length - 1]!.replace(/_/g, " ")}`)]
];

export const SHARED_TRAINING_COLUMNS: readonly ColumnRule[] = [
  ["iteration", count("iteration", "training iteration (1-based)")],
  ["env_steps", count("steps", "environment steps so far (episodes x horizon)")],
  ["agent_steps", m("agent steps", "agent steps so far (environment steps x agents)")],
  ...trainingFamily("(\\w+)/"),
  [/(\w+)\/(.+)/, (x) => m("", `${x[2]!.replace(/[/_]/g, " ")} of class ${x[1]}`)]
];

export const LT_SPECTRUM_COLUMNS: readonly ColumnRule[] = [
  ["omega", m("", "the LT's PnL weight omega the shared policy is evaluated at (figure 2)")],
  ["sellFraction", m("fraction", "fraction of steps on which the LT sells")],
  ["buyFraction", m("fraction", "fraction of steps on which the LT buys")],
  ["meanPnl", m("price units x lots", "mean episode PnL of the LT")],
  ["pnlStdError", m("price units x lots", "standard error of the mean episode PnL")],
  ["meanReward", m("reward", "mean episode reward of the LT")]
];

const EPISODE_METRIC_MEANINGS: Readonly<Record<string, ColumnMeaning>> = {
  skewIntensity: m("price units / lot", "slope of the LP's skew against its inventory over the episode (section 5.2)"),
  hedgeFraction: m("fraction", "mean hedge fraction of the LP's inventory per step"),
  meanHoldingTime: m("steps", "mean time a unit of inventory is held"),
  censoredHoldingFraction: m("fraction", "share of holding periods still open at the end of the episode"),
  averagePrice: m("spread units", "mean eps_alpha over steps and sides (eq. 26)"),
  flowWeightedPrice: m("spread units", "eps_alpha weighted by the flow of each step and side"),
  marketShare: m("fraction", "the LP's share of the LT quantity traded"),
  pnl: m("price units x lots", "the LP's episode PnL"),
  reward: m("reward", "the LP's episode reward"),
  meanAbsInventory: m("lots", "mean absolute inventory of the LP over the episode")
};

const ATTRIBUTE_COLUMNS: readonly ColumnRule[] = [
  ["attribute", m("", "the first LP's attribute varied (section 5.2)")],
  ["value", m("attribute", "the attribute's value in this row")]
];

const metricRule = (suffix: string, describe: (meaning: ColumnMeaning) => ColumnMeaning): ColumnRule => [
  new RegExp(`(${Object.keys(EPISODE_METRIC_MEANINGS).join("|")})${suffix}`),
  (x) => describe(EPISODE_METRIC_MEANINGS[x[1]!]!)
];

export const EMERGENT_COLUMNS: readonly ColumnRule[] = [
  ...ATTRIBUTE_COLUMNS,
  ["episode", count("episode", "global episode index")],
  ["episodes", count("episodes", "episodes pooled in this row")],
  ["pnlLts", count("LTs", "number of PnL-driven LTs in the figure 3 market")],
  ["eps", m("spread units", "centre of the eps bin: the LP's price relative to the ECN's (eq. 26)")],
  ["flow", m("lots per step", "LT flow the LP received at this price, all LT classes")],
  [/flow_(\w+)/, (x) => m("lots per step", `LT flow the LP received at this price from LT class ${x[1]}`)],
  [/flowPerConnected_(\w+)/, (x) => m("lots per step per LT", `quantity per step per connected LT of class ${x[1]}`)],
  ["count", count("observations", "steps (or holding periods) in this bin")],
  ["inventory", m("lots", "the LP's inventory (bucket centre, or the value at the step)")],
  ["skew", m("price units", "the LP's skew at the step")],
  ["skewSlope", m("price units / lot", "pooled slope of skew against inventory")],
  ["skewIntercept", m("price units", "pooled intercept of skew against inventory")],
  ["skewStdError", m("price units / lot", "standard error of the pooled skew slope")],
  ["skewCiLow", m("price units / lot", "lower end of the skew slope's 95% interval")],
  ["skewCiHigh", m("price units / lot", "upper end of the skew slope's 95% interval")],
  metricRule("Mean", (x) => m(x.unit, `mean over episodes of: ${x.meaning}`)),
  metricRule("StdError", (x) => m(x.unit, `standard error of the mean of: ${x.meaning}`)),
  metricRule("", (x) => x)
];

export const FINDINGS_COLUMNS: readonly ColumnRule[] = [
  ["finding", m("", "the claim of section 5.2 tested")],
  ["source", m("", "where the paper states it")],
  ["attribute", m("", "the LP attribute the claim is about")],
  ["metric", m("", "the measured metric")],
  ["claimedSign", count("", "the sign of the effect the paper claims (+1, -1)")],
  ["slope", m("metric / attribute", "measured slope of the metric against the attribute")],
  ["ciLow", m("metric / attribute", "lower end of the slope's confidence interval")],
  ["ciHigh", m("metric / attribute", "upper end of the slope's confidence interval")],
  ["episodes", count("episodes", "episodes the slope was fitted on")],
  ["verdict", m("", "reproduced, opposite or inconclusive")]
];
