/**
 * Codecs of the values that flow through training-loop bodies (paper sections 4-5; the loop as a
 * DAG of stages): learners and their plain states, env descriptions, rollout batches (with a
 * self-describing Arrow table of the samples, exported as Parquet when a run keeps its rollouts:
 * `--keep rollouts`), supertype builds and the calibrators' states. Shared by the body stages in
 * stages/body/, so no body stage imports another.
 */
import * as arrow from "apache-arrow";
import type { Codec } from "../core/pipeline/codecs/codec.ts";
import { structuredCodec } from "../core/pipeline/codecs/structured.ts";
import type { RolloutBatch } from "../core/rl/rollout.ts";
import type { PpoAgentState, PpoMetrics } from "../core/rl/ppo.ts";

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;
const isArray = (value: unknown): value is unknown[] => Array.isArray(value);

/** A plain-data value of the body, stored with the structured checkpoint codec (typed arrays as tensors). */
export const plainCodec = <A>(name: string, check: (value: unknown) => boolean): Codec<A> =>
  structuredCodec<A>(`loop/${name}`, (value): value is A => check(value));

export const objectCodec = <A>(name: string): Codec<A> => plainCodec<A>(name, isObject);
export const arrayCodec = <A>(name: string): Codec<A> => plainCodec<A>(name, isArray);
/** A value that may be absent (null), e.g. the BO state of a CALSHEQ loop. */
export const nullableCodec = <A>(name: string): Codec<A | null> => plainCodec<A | null>(name, (v) => v === null || isObject(v));

/** Shared policies by class name: weights, Adam moments, KL coefficient. */
export type Policies = Readonly<Record<string, PpoAgentState>>;
export const policiesCodec = objectCodec<Policies>("policies");

/** What `ppo-update` gives back: the policies after the update and each learning class's PPO figures. */
export interface PpoUpdateResult {
  readonly policies: Policies;
  readonly metrics: Readonly<Record<string, PpoMetrics>>;
}
export const ppoUpdateResultCodec = objectCodec<PpoUpdateResult>("ppo-update");

/** One call of rollouts: a batch per class (episodes in order) and the env's per-shard extras (e.g. outcomes). */
export interface RolloutOutput {
  /** The classes' names, in batch order. */
  readonly classes: readonly string[];
  readonly batches: readonly RolloutBatch[];
  readonly extras: readonly unknown[];
}

/**
 * The samples of a rollout call as one table: a row per class, step and agent, with the class as a
 * label, the step `t` and the agent's index in the class (episode-major), reward, value, log
 * probability, advantage, return, done, and the action and observation vectors spread over columns.
 */
export const rolloutTable = (output: RolloutOutput): arrow.Table => {
  const rows = output.batches.reduce((n, b) => n + b.size, 0);
  const actionWidth = Math.max(0, ...output.batches.map((b) => b.actionDim));
  const obsWidth = Math.max(0, ...output.batches.map((b) => b.obsDim));
  const classes: string[] = [];
  const t = new Int32Array(rows);
  const agent = new Int32Array(rows);
  const floats = {
    reward: new Float32Array(rows),
    value: new Float32Array(rows),
    logProb: new Float32Array(rows),
    advantage: new Float32Array(rows),
    return: new Float32Array(rows),
    done: new Float32Array(rows)
  };
  const actions = Array.from({ length: actionWidth }, () => new Float32Array(rows).fill(Number.NaN));
  const obs = Array.from({ length: obsWidth }, () => new Float32Array(rows).fill(Number.NaN));
  let r = 0;
  output.batches.forEach((batch, c) => {
    for (let i = 0; i < batch.size; i++, r++) {
      classes.push(output.classes[c] ?? `class${c}`);
      t[r] = Math.floor(i / batch.agents);
      agent[r] = i % batch.agents;
      floats.reward[r] = batch.rewards[i]!;
      floats.value[r] = batch.values[i]!;
      floats.logProb[r] = batch.logProbs[i]!;
      floats.advantage[r] = batch.advantages[i] ?? Number.NaN;
      floats.return[r] = batch.returns[i] ?? Number.NaN;
      floats.done[r] = batch.dones[i]!;
      for (let k = 0; k < batch.actionDim; k++) actions[k]![r] = batch.actions[i * batch.actionDim + k]!;
      for (let k = 0; k < batch.obsDim; k++) obs[k]![r] = batch.obs[i * batch.obsDim + k]!;
    }
  });
  const meaning: Record<string, string> = {
    class: "agent class (shared policy) the sample belongs to",
    t: "step of the episode, 0-based",
    agent: "index of the agent within its class in this call (episode-major: episode b holds a contiguous block)",
    reward: "reward of the step",
    value: "value estimate of the sampling policy",
    logProb: "log-probability of the action under the sampling policy",
    advantage: "GAE advantage",
    return: "GAE return (advantage + value)",
    done: "1 on the episode's last step",
    ...Object.fromEntries(actions.map((_, k) => [`action_${k}`, `component ${k} of the sampled action (unclipped; the index for a discrete action)`])),
    ...Object.fromEntries(obs.map((_, k) => [`obs_${k}`, `component ${k} of the observation (scaled as the policy sees it)`]))
  };
  const columns: Record<string, arrow.Vector> = {
    class: arrow.vectorFromArray(classes, new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32(), 0) /* fixed id: same table, same bytes */),
    t: arrow.makeVector(t),
    agent: arrow.makeVector(agent),
    ...Object.fromEntries(Object.entries(floats).map(([k, v]) => [k, arrow.makeVector(v)])),
    ...Object.fromEntries(actions.map((v, k) => [`action_${k}`, arrow.makeVector(v)])),
    ...Object.fromEntries(obs.map((v, k) => [`obs_${k}`, arrow.makeVector(v)]))
  };
  const fields = Object.entries(columns).map(([name, v]) => new arrow.Field(name, v.type, false, new Map([["meaning", meaning[name] ?? ""]])));
  const schema = new arrow.Schema(fields, new Map([["otc.columns", JSON.stringify(meaning)]]));
  const data = arrow.makeData({ type: new arrow.Struct(fields), length: rows, nullCount: 0, children: Object.values(columns).map((v) => v.data[0]!) });
  return new arrow.Table([new arrow.RecordBatch(schema, data)]);
};

export const rolloutOutputCodec = objectCodec<RolloutOutput>("rollouts");
