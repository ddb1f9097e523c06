/**
 * The re-equilibration loop's stopping decision (paper section 3.1: at an equilibrium the reward
 * curves have settled and no single agent gains by deviating): the deviation test is due only at
 * a check where every supertype's reward curve is flat; a deviator gaining beyond noise keeps the
 * loop training; a gain within noise stops it as converged; the cap stops it whatever the curves.
 */
import { describe, expect, it } from "vitest";
import { advanceReequilibration, reequilibrationDeviationDue, reequilibrationFinished, type ReequilibrationState } from "../../core/calibration/reequilibration.ts";
import type { PpoAgentState } from "../../core/rl/ppo.ts";

const rule = { window: 5, minIterations: 5, maxIterations: 12, every: 5, driftTolerance: 0, exploitabilityStdErrors: 2 };
const lp = {} as PpoAgentState;
const start: ReequilibrationState = {
  market: { params: {} as ReequilibrationState["market"]["params"], profile: new Float64Array(0), edits: [], ecn: {} },
  warmStart: true,
  iteration: 0,
  envSteps: 0,
  lp,
  rows: [],
  checks: [],
  decision: "continue"
};

/** Rows whose supertype rewards follow `reward(i)` (plus an alternating wobble, so a level curve has a slope interval around 0). */
const run = (state: ReequilibrationState, iterations: number, reward: (i: number) => number, gainAt?: (i: number) => { gain: number; gainStdError: number } | null) => {
  let s = state;
  for (let k = 0; k < iterations; k++) {
    const i = s.iteration + 1;
    const row = { "rewards/lp_super1": reward(i) + 0.1 * (-1) ** i, "rewards/lp_super2": reward(i) * 0.5 - 0.1 * (-1) ** i };
    s = advanceReequilibration(s, row, lp, i * 100, rule, gainAt?.(i) ?? null);
  }
  return s;
};

describe("re-equilibration stopping", () => {
  it("runs the deviation test only at a check where every curve is flat", () => {
    const flat = run(start, 4, () => 1);
    expect(reequilibrationDeviationDue(flat, { "rewards/lp_super1": 1, "rewards/lp_super2": 0.5 }, rule)).toBe(true);
    const rising = run(start, 4, (i) => i);
    expect(reequilibrationDeviationDue(rising, { "rewards/lp_super1": 5, "rewards/lp_super2": 2.5 }, rule)).toBe(false);
    const early = run(start, 2, () => 1);
    expect(reequilibrationDeviationDue(early, { "rewards/lp_super1": 1, "rewards/lp_super2": 0.5 }, rule)).toBe(false);
  });

  it("keeps training while one deviator gains beyond noise, and stops when the gain is within noise", () => {
    const exploitable = run(start, 5, () => 1, (i) => (i === 5 ? { gain: 1, gainStdError: 0.1 } : null));
    expect(exploitable.decision).toBe("continue");
    expect(reequilibrationFinished(exploitable)).toBe(false);
    expect(exploitable.checks.at(-1)?.exploitability?.withinNoise).toBe(false);
    const settled = run(exploitable, 5, () => 1, (i) => (i === 10 ? { gain: 0.1, gainStdError: 0.1 } : null));
    expect(settled.decision).toBe("converged");
    expect(settled.iteration).toBe(10);
    expect(reequilibrationFinished(settled)).toBe(true);
  });

  it("stops at the cap when the curves never settle", () => {
    const capped = run(start, 12, (i) => i * i);
    expect(capped.decision).toBe("cap");
    expect(capped.iteration).toBe(12);
  });
});
