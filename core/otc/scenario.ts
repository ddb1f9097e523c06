/**
 * What-if scenarios as edits of a population (paper section 1: "impact on a given LP's market
 * share of increasing risk aversion of specific competitors, or of modifying agent connectivity";
 * the supertype parameters are those of table 1). A scenario is a list of (path, value) edits; a
 * path names one number of the population:
 *
 *   lp.<supertype>.<param>[.<field>]                 param: gamma, eta, omega, mTarget, ecnConnected
 *   lp.<supertype>.connectivity.<ltSupertype>[.<field>]
 *   lt.<supertype>.<param>[.<field>]                 param: gamma, eta, omega, qA, qB, qLT, ecnConnected, count
 *   ecn.spreadScale | ecn.depthScale                 the fitted ECN model's spread and depth, scaled
 *
 * Supertypes are named as in the population (`lp1`, `lt3`) or by their 1-based position. A
 * parameter drawn from a distribution takes the field to change (`value` of a constant, `mean` or
 * `stDev` of a clipped normal, `low` or `high` of a uniform); a constant may omit it. Every path
 * has a range (probabilities in [0, 1], a risk aversion in [0, 10], ...): an unknown path or a
 * value outside its range is refused with a sentence naming the path and what is allowed, before
 * anything runs. LP counts cannot change: the comparison pairs each LP with itself.
 */
import { ECN_EDIT_RANGES, type EcnEdits } from "../ecn/edited-model.ts";
import { validatePopulation, type LpSupertype, type LtSupertype, type ParamDist, type Population } from "./supertypes.ts";

export interface ScenarioEdit {
  readonly path: string;
  readonly value: number;
}

/** Raised for a path that names nothing, or a value its path does not allow. */
export class ScenarioError extends Error {
  readonly _tag = "ScenarioError";
  constructor(
    readonly path: string,
    readonly reason: string
  ) {
    super(`Scenario path '${path}' ${reason}.`);
  }
}

type Range = { readonly low: number; readonly high: number; readonly integer?: boolean; readonly lowOpen?: boolean };

const PROBABILITY: Range = { low: 0, high: 1 };
const FLAG: Range = { low: 0, high: 1, integer: true };
/** Risk aversions: the populations clip their draws to [0, 10]. */
const RISK_AVERSION: Range = { low: 0, high: 10 };
const NORMALISER: Range = { low: 0, high: 1, lowOpen: true };
const TRADE_SIZE: Range = { low: 1, high: 1000 };
const COUNT: Range = { low: 1, high: 1000, integer: true };
const SPREAD: Range = { low: 0, high: 10 };

const LP_PARAMS: Readonly<Record<string, Range>> = { gamma: RISK_AVERSION, eta: NORMALISER, omega: PROBABILITY, mTarget: PROBABILITY };
const LT_PARAMS: Readonly<Record<string, Range>> = { gamma: RISK_AVERSION, eta: NORMALISER, omega: PROBABILITY, qA: PROBABILITY, qB: PROBABILITY, qLT: TRADE_SIZE };

const describeRange = (range: Range): string =>
  range === FLAG ? "0 or 1" : `${range.integer === true ? "an integer " : ""}in ${range.lowOpen === true ? "(" : "["}${range.low}, ${range.high}]`;

const fieldsOf = (dist: ParamDist): readonly string[] =>
  dist.kind === "constant" ? ["value"] : dist.kind === "uniform" ? ["low", "high"] : ["mean", "stDev", "low", "high"];

/** The range of one field of a distribution whose values lie in `range`. */
const fieldRange = (field: string, range: Range): Range => (field === "stDev" ? SPREAD : range);

const fieldValue = (dist: ParamDist, field: string): number => {
  switch (dist.kind) {
    case "constant":
      return dist.value;
    case "uniform":
      return field === "low" ? dist.low : dist.high;
    case "clippedNormal":
      return field === "mean" ? dist.mean : field === "stDev" ? dist.stDev : field === "low" ? dist.low : dist.high;
  }
};

const setField = (dist: ParamDist, field: string, value: number): ParamDist => {
  switch (dist.kind) {
    case "constant":
      return { kind: "constant", value };
    case "uniform":
      return field === "low" ? { ...dist, low: value } : { ...dist, high: value };
    case "clippedNormal":
      return { ...dist, [field]: value };
  }
};

const resolveSupertype = <S extends { readonly name: string }>(list: readonly S[], key: string, path: string, side: string): number => {
  const byName = list.findIndex((s) => s.name === key);
  if (byName >= 0) return byName;
  const position = /^[1-9][0-9]*$/.test(key) ? Number(key) - 1 : -1;
  if (position >= 0 && position < list.length) return position;
  throw new ScenarioError(path, `names no ${side} supertype; use one of ${list.map((s) => s.name).join(", ")} or 1-${list.length}`);
};

const checkValue = (path: string, value: number, range: Range): void => {
  const inside =
    Number.isFinite(value) &&
    (range.lowOpen === true ? value > range.low : value >= range.low) &&
    value <= range.high &&
    (range.integer !== true || Number.isInteger(value));
  if (!inside) throw new ScenarioError(path, `must be ${describeRange(range)}, got ${value}`);
};

/** Applies one edit to a distribution-valued parameter at `rest` (the path after the parameter). */
const editDist = (dist: ParamDist, rest: readonly string[], value: number, range: Range, path: string): ParamDist => {
  const fields = fieldsOf(dist);
  const field = rest[0] ?? (dist.kind === "constant" ? "value" : undefined);
  if (field === undefined || rest.length > 1 || !fields.includes(field)) {
    throw new ScenarioError(path, `needs one field of its ${dist.kind} distribution: ${fields.map((f) => `.${f}`).join(", ")}`);
  }
  const allowed = fieldRange(field, range);
  checkValue(path, value, allowed);
  return setField(dist, field, value);
};

const editLp = (s: LpSupertype, rest: readonly string[], value: number, path: string, lt: readonly LtSupertype[]): LpSupertype => {
  const [param, ...tail] = rest;
  if (param === "ecnConnected" && tail.length === 0) {
    checkValue(path, value, FLAG);
    return { ...s, ecnConnected: value === 1 };
  }
  if (param === "connectivity") {
    const [key, ...fields] = tail;
    if (key === undefined) throw new ScenarioError(path, `needs an LT supertype after connectivity: ${lt.map((t) => t.name).join(", ")} or 1-${lt.length}`);
    const j = resolveSupertype(lt, key, path, "LT");
    const connectivity = s.connectivity.map((d, k) => (k === j ? editDist(d, fields, value, PROBABILITY, path) : d));
    return { ...s, connectivity };
  }
  if (param === "count") throw new ScenarioError(path, "cannot change: a comparison pairs every LP with itself, so LP counts stay as calibrated");
  const range = param === undefined ? undefined : LP_PARAMS[param];
  if (param === undefined || range === undefined) {
    throw new ScenarioError(path, `names no LP parameter; use ${[...Object.keys(LP_PARAMS), "connectivity.<lt>", "ecnConnected"].join(", ")}`);
  }
  const key = param as keyof typeof LP_PARAMS & ("gamma" | "eta" | "omega" | "mTarget");
  return { ...s, [key]: editDist(s[key], tail, value, range, path) };
};

const editLt = (s: LtSupertype, rest: readonly string[], value: number, path: string): LtSupertype => {
  const [param, ...tail] = rest;
  if ((param === "ecnConnected" || param === "count") && tail.length === 0) {
    checkValue(path, value, param === "count" ? COUNT : FLAG);
    return param === "count" ? { ...s, count: value } : { ...s, ecnConnected: value === 1 };
  }
  const range = param === undefined ? undefined : LT_PARAMS[param];
  if (param === undefined || range === undefined) {
    throw new ScenarioError(path, `names no LT parameter; use ${[...Object.keys(LT_PARAMS), "ecnConnected", "count"].join(", ")}`);
  }
  const key = param as "gamma" | "eta" | "omega" | "qA" | "qB" | "qLT";
  return { ...s, [key]: editDist(s[key], tail, value, range, path) };
};

/**
 * The ECN edits of a scenario (paths `ecn.spreadScale`, `ecn.depthScale`: the fitted model's
 * spread and depth scaled, core/ecn/edited-model.ts), checked against their ranges, and the
 * population edits left.
 */
export const splitScenario = (edits: readonly ScenarioEdit[]): { population: ScenarioEdit[]; ecn: EcnEdits } => {
  const ecn: { spreadScale?: number; depthScale?: number } = {};
  const population: ScenarioEdit[] = [];
  for (const edit of edits) {
    const [root, name, ...rest] = edit.path.split(".");
    if (root !== "ecn") {
      population.push(edit);
      continue;
    }
    const range = name === undefined ? undefined : ECN_EDIT_RANGES[name as keyof EcnEdits];
    if (name === undefined || range === undefined || rest.length > 0) {
      throw new ScenarioError(edit.path, `names no ECN edit; use ${Object.keys(ECN_EDIT_RANGES).map((k) => `ecn.${k}`).join(" or ")}`);
    }
    checkValue(edit.path, edit.value, { ...range, lowOpen: false });
    ecn[name as keyof EcnEdits] = edit.value;
  }
  return { population, ecn };
};

/** The population with one edit applied (not yet validated as a whole). */
const applyEdit = (population: Population, edit: ScenarioEdit): Population => {
  const [side, key, ...rest] = edit.path.split(".");
  if ((side !== "lp" && side !== "lt") || key === undefined || rest.length === 0) {
    throw new ScenarioError(edit.path, "is not of the form lp.<supertype>.<param> or lt.<supertype>.<param>");
  }
  if (side === "lp") {
    const i = resolveSupertype(population.lp, key, edit.path, "LP");
    return { ...population, lp: population.lp.map((s, k) => (k === i ? editLp(s, rest, edit.value, edit.path, population.lt) : s)) };
  }
  const i = resolveSupertype(population.lt, key, edit.path, "LT");
  return { ...population, lt: population.lt.map((s, k) => (k === i ? editLt(s, rest, edit.value, edit.path) : s)) };
};

/**
 * The population with every edit applied in order, checked as a whole (e.g. q^a + q^b <= 1):
 * a combination the market cannot run is refused with the population's own sentence.
 */
export const applyScenario = (population: Population, edits: readonly ScenarioEdit[]): Population => {
  const edited = splitScenario(edits).population.reduce(applyEdit, population);
  try {
    validatePopulation(edited);
  } catch (error) {
    const paths = edits.map((e) => e.path).join(", ");
    throw new ScenarioError(paths, `makes an invalid population: ${error instanceof Error ? error.message : String(error)}`);
  }
  return edited;
};

export interface ScenarioPath {
  readonly path: string;
  readonly allowed: string;
  /** The value in the given population. */
  readonly current: number;
}

/** Every path a scenario may edit in `population`, with its allowed range and current value. */
export const scenarioPaths = (population: Population): ScenarioPath[] => {
  const out: ScenarioPath[] = [];
  const dist = (prefix: string, d: ParamDist, range: Range) => {
    for (const field of fieldsOf(d)) {
      out.push({ path: `${prefix}.${field}`, allowed: describeRange(fieldRange(field, range)), current: fieldValue(d, field) });
    }
  };
  for (const s of population.lp) {
    for (const [param, range] of Object.entries(LP_PARAMS)) dist(`lp.${s.name}.${param}`, s[param as "gamma"], range);
    population.lt.forEach((t, j) => dist(`lp.${s.name}.connectivity.${t.name}`, s.connectivity[j]!, PROBABILITY));
    out.push({ path: `lp.${s.name}.ecnConnected`, allowed: describeRange(FLAG), current: s.ecnConnected ? 1 : 0 });
  }
  for (const s of population.lt) {
    for (const [param, range] of Object.entries(LT_PARAMS)) dist(`lt.${s.name}.${param}`, s[param as "gamma"], range);
    out.push({ path: `lt.${s.name}.ecnConnected`, allowed: describeRange(FLAG), current: s.ecnConnected ? 1 : 0 });
    out.push({ path: `lt.${s.name}.count`, allowed: describeRange(COUNT), current: s.count });
  }
  for (const [name, range] of Object.entries(ECN_EDIT_RANGES)) out.push({ path: `ecn.${name}`, allowed: describeRange(range), current: 1 });
  return out;
};
