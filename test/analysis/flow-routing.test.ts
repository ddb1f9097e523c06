/**
 * Where the LT flow goes, from first principles: every LT's quantity is traded either on the ECN
 * or with an LP, so each LT supertype's ECN fraction and LP-supertype fractions add to 1 and the
 * supertypes' volume shares add to 1; an LT can only trade with an LP it is connected to, so a
 * supertype connected to no LP trades only on the ECN and one connected to LP supertype 1 alone
 * never trades with supertype 2. Played on experiment 1's market (5 LPs, 500 LTs) with random LP
 * quotes, at a profile that gives LP supertype 1 LT supertypes 8-10 alone and leaves supertype 1
 * unconnected.
 */
import { describe, expect, it } from "vitest";
import { FlowRoutingError, ltFlowRouting } from "../../core/analysis/flow-routing.ts";
import { servedByFirstLpAlone } from "../../core/analysis/reproduction.ts";
import { experimentDefinition, experimentPopulation } from "../../core/calibration/experiments.ts";
import { defaultGameConfig } from "../../core/otc/config.ts";
import { OtcEnv } from "../../core/otc/env.ts";
import { Random } from "../../core/random/philox.ts";
import { stepInStages } from "../../core/rl/vec-env.ts";
import { standInModel } from "../otc/fixtures.ts";

/** LP supertype 1 connected to LT supertypes 8-10 only, supertype 2 to LT supertypes 2-7. */
const profile = () => {
  const { names } = experimentDefinition(1).space;
  return names.map((name) => {
    const m = /^lp(\d)\.connect\.lt(\d+)$/.exec(name);
    if (m === null) throw new Error(`unexpected parameter ${name}`);
    const [lp, lt] = [Number(m[1]), Number(m[2])];
    return lp === 1 ? (lt >= 8 ? 1 : 0) : lt >= 2 && lt <= 7 ? 1 : 0;
  });
};

const record = (seed: number) => {
  const env = new OtcEnv({ config: { ...defaultGameConfig(experimentPopulation(1, profile())), horizon: 20 }, batchSize: 2, ecnModel: standInModel({ meanVolume: 8 }), record: true });
  const rng = Random.fromSeed(seed);
  env.reset(rng.split("reset"));
  const draws = rng.split("actions");
  for (let t = 0; t < 20; t++) {
    const actions = env.classes.map((c) => (c.action.kind === "discrete" ? Float32Array.from({ length: c.count }, () => draws.int(3)) : Float32Array.from({ length: c.count * 3 }, () => draws.uniformIn(-1, 0.5))));
    stepInStages(env, (ci) => actions[ci]!, rng);
  }
  return env.takeRecord();
};

describe("ltFlowRouting", () => {
  it("splits each LT supertype's flow between the ECN and the LP supertypes it is connected to", () => {
    for (const seed of [1, 2]) {
      const flow = ltFlowRouting(record(seed));
      expect(flow.episodes).toBe(2);
      expect(flow.lt.reduce((a, r) => a + r.volumeShare, 0)).toBeCloseTo(1, 12);
      for (const r of flow.lt) {
        expect(r.ecn + r.lp.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
        if (r.supertype === 0) expect(r.ecn).toBe(1);
        if (r.supertype >= 7) expect(r.lp[1]).toBe(0);
        if (r.supertype >= 1 && r.supertype <= 6) expect(r.lp[0]).toBe(0);
      }
      // The LPs trade: the connected supertypes send them flow, and supertype 1 serves 8-10 alone.
      expect(flow.lt.filter((r) => r.supertype >= 7).every((r) => r.lp[0]! > 0)).toBe(true);
      expect(servedByFirstLpAlone(flow)).toEqual([7, 8, 9]);
      expect(flow.lpSpread.every((s) => s > 0)).toBe(true);
    }
  });

  it("refuses a record in which no LT traded", () => {
    const r = record(3);
    const silent = { ...r, ltBuyQty: new Float64Array(r.rows), ltSellQty: new Float64Array(r.rows), ecnBuyQty: new Float64Array(r.rows), ecnSellQty: new Float64Array(r.rows) };
    expect(() => ltFlowRouting(silent)).toThrow(FlowRoutingError);
  });
});
