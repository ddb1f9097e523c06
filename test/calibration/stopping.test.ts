/**
 * The stopping rule of calibration runs (paper section 3.1: stop at an equilibrium no single LP
 * gains by leaving; section 5.1: the LP rewards and the calibrator's reward have settled). The
 * properties: a fixed count never checks; under `converged` a run stops only at a due check where
 * every LP supertype's reward and the calibrator's reward are flat and the deviation gain is
 * within noise; a trend in any of them, including r_cal alone, keeps it going; the deviation test
 * is asked for only when it can decide.
 */
import { describe, expect, it } from "vitest";
import type { ConvergenceRule } from "../../core/analysis/convergence.ts";
import type { IterationRow } from "../../core/calibration/loop.ts";
import { advanceCalibrationStopping as advanceStopping, calibrationCurves, calibrationDeviationDue, initialStopping, stoppedOnDiagnostics } from "../../core/calibration/stopping.ts";

const rule: ConvergenceRule = { window: 10, minIterations: 20, maxIterations: Number.MAX_SAFE_INTEGER, every: 5, driftTolerance: 0, exploitabilityStdErrors: 2 };

// A symmetric zig-zag around a level: its fitted slope over any even window is ~0, so it is flat.
const zigzag = (level: number, k: number) => level + (k % 2 === 0 ? 0.3 : -0.3);

const rows = (n: number, row: (k: number) => IterationRow): IterationRow[] => Array.from({ length: n }, (_, k) => row(k));

const settled = (k: number): IterationRow => ({ "rewards/lp_super1": zigzag(2, k), "rewards/lp_super2": zigzag(0.5, k), "calibration/reward": zigzag(0.9, k), "targets/m_super1": 0.25 });

describe("calibration stopping", () => {
  it("watches each LP supertype's reward and the calibrator's reward, nothing else", () => {
    expect(Object.keys(calibrationCurves(rows(3, settled)))).toEqual(["calibration/reward", "rewards/lp_super1", "rewards/lp_super2"]);
  });

  it("a fixed count never checks and never stops", () => {
    const progress = initialStopping("fixed");
    const history = rows(40, settled);
    expect(calibrationDeviationDue(progress, history, rule)).toBe(false);
    expect(advanceStopping(progress, history, rule, { gain: 0, gainStdError: 1 })).toBe(progress);
  });

  it("stops at a due check once every curve is flat and the deviator gains nothing beyond noise", () => {
    const progress = initialStopping("converged");
    const history = rows(20, settled);
    expect(calibrationDeviationDue(progress, history, rule)).toBe(true);
    const after = advanceStopping(progress, history, rule, { gain: 0.1, gainStdError: 0.1 });
    expect(after.decision).toBe("converged");
    expect(stoppedOnDiagnostics(after)).toBe(true);
    expect(after.checks[0]!.curves.every((c) => c.flat)).toBe(true);
    expect(after.checks[0]!.exploitability).toEqual({ gain: 0.1, gainStdError: 0.1, withinNoise: true });
  });

  it("does not stop between checks or before minIterations", () => {
    const progress = initialStopping("converged");
    expect(calibrationDeviationDue(progress, rows(21, settled), rule)).toBe(false);
    expect(advanceStopping(progress, rows(21, settled), rule, null)).toBe(progress);
    expect(calibrationDeviationDue(progress, rows(15, settled), rule)).toBe(false);
    expect(advanceStopping(progress, rows(15, settled), rule, null).decision).toBe("continue");
  });

  it("keeps going while a deviating LP gains more than noise", () => {
    const after = advanceStopping(initialStopping("converged"), rows(20, settled), rule, { gain: 1, gainStdError: 0.1 });
    expect(after.decision).toBe("continue");
    expect(stoppedOnDiagnostics(after)).toBe(false);
  });

  it("keeps going while the calibrator's reward still climbs, even with the LP rewards flat", () => {
    const climbing = rows(20, (k) => ({ ...settled(k), "calibration/reward": 0.5 + 0.02 * k }));
    expect(calibrationDeviationDue(initialStopping("converged"), climbing, rule)).toBe(false);
    const after = advanceStopping(initialStopping("converged"), climbing, rule, null);
    expect(after.decision).toBe("continue");
    expect(after.checks[0]!.curves.find((c) => c.name === "calibration/reward")!.flat).toBe(false);
  });

  it("keeps going while an LP supertype's reward still trends", () => {
    const learning = rows(20, (k) => ({ ...settled(k), "rewards/lp_super2": -3 + 0.2 * k }));
    expect(calibrationDeviationDue(initialStopping("converged"), learning, rule)).toBe(false);
    expect(advanceStopping(initialStopping("converged"), learning, rule, null).decision).toBe("continue");
  });
});
