/**
 * Effect Schemas of the OTC game's experiment configs (paper section 2.1 and table 1,
 * 2.5 and 4.2): decodes a JSON-like config into the plain `OtcGameConfig` of core/otc, filling
 * defaults, and rejects bad values with errors that name the field (a probability outside [0, 1],
 * an empty supertype, a negative stDev, q^a + q^b > 1, a connectivity vector of the wrong length).
 * A supertype parameter is written as a number (a constant) or as
 * `{ kind: "constant" | "uniform" | "clippedNormal", ... }`.
 */
import { Either, ParseResult, Schema } from "effect";
import {
  DEFAULT_ECN,
  DEFAULT_ETA,
  DEFAULT_OBSERVATION_SCALES,
  type OtcGameConfig
} from "../core/otc/config.ts";
import type { LpSupertype, LtSupertype, ParamDist } from "../core/otc/supertypes.ts";

const Finite = Schema.Number.pipe(Schema.finite());

const ConstantParam = Schema.Struct({ kind: Schema.Literal("constant"), value: Finite });
const UniformParam = Schema.Struct({ kind: Schema.Literal("uniform"), low: Finite, high: Finite }).pipe(
  Schema.filter((u) => (u.low <= u.high ? undefined : { path: ["high"], message: `uniform range needs low <= high, got [${u.low}, ${u.high}]` }))
);
const ClippedNormalParam = Schema.Struct({
  kind: Schema.Literal("clippedNormal"),
  mean: Finite,
  stDev: Finite.pipe(Schema.filter((s) => s >= 0 || `stDev must be >= 0, got ${s}`)),
  low: Finite,
  high: Finite
}).pipe(
  Schema.filter((n) => (n.low <= n.high ? undefined : { path: ["high"], message: `clipping bounds need low <= high, got [${n.low}, ${n.high}]` }))
);
/** A bare number is a constant. */
const NumberAsConstant = Schema.transform(Finite, Schema.typeSchema(ConstantParam), {
  strict: true,
  decode: (value) => ({ kind: "constant" as const, value }),
  encode: (c) => c.value
});

/** A supertype parameter: constant, uniform range or clipped normal. */
export const ParamDistSchema = Schema.Union(NumberAsConstant, ConstantParam, UniformParam, ClippedNormalParam);

const rangeOf = (d: ParamDist): [number, number] =>
  d.kind === "constant" ? [d.value, d.value] : [d.low, d.high];

const inRange = (lo: number, hi: number, what: string) => (d: ParamDist) => {
  const [a, b] = rangeOf(d);
  return a >= lo && b <= hi ? undefined : `${what} must lie in [${lo}, ${hi}], got values in [${a}, ${b}]`;
};

/** A parameter whose every possible value is a probability. */
export const ProbabilitySchema = ParamDistSchema.pipe(Schema.filter(inRange(0, 1, "a probability")));
const PositiveParam = ParamDistSchema.pipe(
  Schema.filter((d) => (rangeOf(d)[0] > 0 ? undefined : `must be > 0 for every draw, got a lower bound of ${rangeOf(d)[0]}`))
);
const NonNegativeParam = ParamDistSchema.pipe(
  Schema.filter((d) => (rangeOf(d)[0] >= 0 ? undefined : `must be >= 0 for every draw, got a lower bound of ${rangeOf(d)[0]}`))
);
const Count = Schema.Number.pipe(
  Schema.filter((n) => (Number.isInteger(n) && n >= 1) || `a supertype needs at least one agent (an integer count >= 1), got ${n}`)
);

const constantDefault = (value: number) => () => ({ kind: "constant" as const, value });

export const LpSupertypeSchema = Schema.Struct({
  name: Schema.String,
  count: Count,
  gamma: Schema.optionalWith(NonNegativeParam, { default: constantDefault(0) }),
  eta: Schema.optionalWith(PositiveParam, { default: constantDefault(DEFAULT_ETA) }),
  omega: Schema.optionalWith(ProbabilitySchema, { default: constantDefault(1) }),
  mTarget: Schema.optionalWith(ProbabilitySchema, { default: constantDefault(1) }),
  connectivity: Schema.Array(ProbabilitySchema),
  ecnConnected: Schema.optionalWith(Schema.Boolean, { default: () => true })
});

export const LtSupertypeSchema = Schema.Struct({
  name: Schema.String,
  count: Count,
  gamma: Schema.optionalWith(NonNegativeParam, { default: constantDefault(0) }),
  eta: Schema.optionalWith(PositiveParam, { default: constantDefault(DEFAULT_ETA) }),
  omega: Schema.optionalWith(ProbabilitySchema, { default: constantDefault(0) }),
  qA: Schema.optionalWith(ProbabilitySchema, { default: constantDefault(0.5) }),
  qB: Schema.optionalWith(ProbabilitySchema, { default: constantDefault(0.5) }),
  qLT: PositiveParam,
  ecnConnected: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  stationary: Schema.optionalWith(Schema.Boolean, { default: () => false })
}).pipe(
  Schema.filter((s) => {
    const sum = rangeOf(s.qA)[1] + rangeOf(s.qB)[1];
    return sum <= 1 ? undefined : { path: ["qB"], message: `q^a + q^b must be <= 1 for every draw (eq. 6), got up to ${sum}` };
  })
);

export const PopulationSchema = Schema.Struct({
  lp: Schema.Array(LpSupertypeSchema).pipe(Schema.filter((a) => a.length > 0 || "at least one LP supertype is needed")),
  lt: Schema.Array(LtSupertypeSchema).pipe(Schema.filter((a) => a.length > 0 || "at least one LT supertype is needed"))
}).pipe(
  Schema.filter((p) => {
    const issues: Array<{ path: ReadonlyArray<PropertyKey>; message: string }> = [];
    p.lp.forEach((s, i) => {
      if (s.connectivity.length !== p.lt.length) {
        issues.push({
          path: ["lp", i, "connectivity"],
          message: `needs one probability per LT supertype (${p.lt.length}), got ${s.connectivity.length}`
        });
      }
    });
    const nLp = p.lp.reduce((a, s) => a + s.count, 0);
    if (nLp > 31) issues.push({ path: ["lp"], message: `at most 31 LP agents are supported, got ${nLp}` });
    return issues.length === 0 ? undefined : issues;
  })
);

const PositiveNumber = Finite.pipe(Schema.filter((x) => x > 0 || `must be > 0, got ${x}`));
const PositiveInt = Schema.Number.pipe(Schema.filter((x) => (Number.isInteger(x) && x >= 1) || `must be an integer >= 1, got ${x}`));

export const EcnSettingsSchema = Schema.Struct({
  p0Tick: Schema.optionalWith(PositiveNumber, { default: () => DEFAULT_ECN.p0Tick }),
  depthLevels: Schema.optionalWith(PositiveInt, { default: () => DEFAULT_ECN.depthLevels }),
  priceRangeTicks: Schema.optionalWith(PositiveInt, { default: () => DEFAULT_ECN.priceRangeTicks })
});

export const ObservationScalesSchema = Schema.Struct({
  priceTicks: Schema.optionalWith(PositiveNumber, { default: () => DEFAULT_OBSERVATION_SCALES.priceTicks }),
  inventoryLots: Schema.optionalWith(PositiveNumber, { default: () => DEFAULT_OBSERVATION_SCALES.inventoryLots }),
  volumeLots: Schema.optionalWith(PositiveNumber, { default: () => DEFAULT_OBSERVATION_SCALES.volumeLots }),
  costTicks: Schema.optionalWith(PositiveNumber, { default: () => DEFAULT_OBSERVATION_SCALES.costTicks }),
  sizeLots: Schema.optionalWith(PositiveNumber, { default: () => DEFAULT_OBSERVATION_SCALES.sizeLots })
});

/** The whole OTC game config; every field but the population has the paper's default. */
export const OtcGameConfigSchema = Schema.Struct({
  population: PopulationSchema,
  horizon: Schema.optionalWith(PositiveInt, { default: () => 100 }),
  lpGridBp: Schema.optionalWith(PositiveNumber, { default: () => 0.1 }),
  spreadMax: Schema.optionalWith(Finite.pipe(Schema.filter((x) => x >= -1 || `E must be >= -1, got ${x}`)), { default: () => 2 }),
  skewMax: Schema.optionalWith(Finite.pipe(Schema.filter((x) => x >= 0 || `S must be >= 0, got ${x}`)), { default: () => 1 }),
  hedgeCostFractions: Schema.optionalWith(Schema.Array(Finite.pipe(Schema.filter((x) => (x >= 0 && x <= 1) || `a hedge fraction must lie in [0, 1], got ${x}`))), {
    default: () => [0.25, 0.5, 0.75, 1]
  }),
  ecn: Schema.optionalWith(EcnSettingsSchema, { default: () => ({ ...DEFAULT_ECN }) }),
  observation: Schema.optionalWith(ObservationScalesSchema, { default: () => ({ ...DEFAULT_OBSERVATION_SCALES }) })
});

export type OtcGameConfigEncoded = Schema.Schema.Encoded<typeof OtcGameConfigSchema>;

/** A config that does not decode; `issues` lists each bad field as `path: message`. */
export class OtcConfigError extends Error {
  readonly _tag = "OtcConfigError";
  constructor(readonly issues: readonly string[]) {
    super(`Invalid OTC game config (${issues.join("; ")}); fix these fields in the experiment config.`);
  }
}

const toGameConfig = (decoded: Schema.Schema.Type<typeof OtcGameConfigSchema>): OtcGameConfig => ({
  ...decoded,
  population: {
    lp: decoded.population.lp.map((s): LpSupertype => ({ ...s, connectivity: [...s.connectivity] })),
    lt: decoded.population.lt.map((s): LtSupertype => ({ ...s }))
  }
});

/** Decodes an experiment config, or explains every bad field. */
export const decodeOtcGameConfig = (input: unknown): Either.Either<OtcGameConfig, OtcConfigError> => {
  const result = Schema.decodeUnknownEither(OtcGameConfigSchema, { errors: "all" })(input);
  return Either.mapBoth(result, {
    onLeft: (error) => {
      const issues = ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({ path: issue.path.join("."), message: issue.message }));
      // A union reports every member's mismatch; keep only the most specific issues.
      const specific = issues.filter((a) => !issues.some((b) => b.path.startsWith(a.path + ".") && b.path.length > a.path.length));
      return new OtcConfigError(specific.map((issue) => `${issue.path || "(root)"}: ${issue.message}`));
    },
    onRight: toGameConfig
  });
};
