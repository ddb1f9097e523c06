/**
 * The paper's checkable claims against what our runs measured (paper sections 2.3 table 2, 3.1
 * figure 2, 5.1 figures 7, 8, 25-32 and table 5, 5.2 figures 3, 9-24): each claim as the paper
 * states it, our measurement with its uncertainty, and a verdict. Calibration claims read the last
 * `tailFraction` of each method's iterations (means with the standard error of the mean, the
 * iterations treated as independent, which understates it when they are autocorrelated); the
 * section 5.2 findings come with their regression intervals; table 2 and figure 2 with the
 * report's own checks. Plain data in, plain data out: the reproduction report renders it.
 */
import { experimentDefinition } from "../calibration/experiments.ts";
import { meanAndStdError } from "./stats.ts";

export type Verdict = "reproduced" | "not reproduced" | "opposite" | "inconclusive" | "not run";

export interface Claim {
  /** Where the paper shows it: "table 5, experiment 4", "figure 7", ... */
  readonly source: string;
  /** The claim, as the paper states it (shortened). */
  readonly paper: string;
  /** Our measurement, with its uncertainty. */
  readonly ours: string;
  readonly verdict: Verdict;
}

/** One calibration method's run: its last iterations' rows, how it ended, how far its parameters jumped. */
export interface MethodRun {
  /** As the report names it: "CALSHEQ", "CALSHEQ_no_state", "BO". */
  readonly name: string;
  readonly iterations: number;
  readonly stoppedBy: string;
  /** The rows of the last `tailFraction` of its iterations. */
  readonly tail: ReadonlyArray<Readonly<Record<string, number>>>;
  /** Largest per-iteration change of any calibrated parameter's mean, in units of its range. */
  readonly maxParamMeanStep: number;
}

export interface CalibrationEvidence {
  readonly experiment: number;
  readonly calsheq: MethodRun;
  readonly bo: MethodRun;
  /** CALSHEQ in its other form, when it ran beside. */
  readonly beside?: MethodRun;
}

const f = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");
const stat = (run: MethodRun, field: string) => meanAndStdError(run.tail.map((r) => r[field] ?? Number.NaN));
const pm = (s: { mean: number; stdError: number }, digits = 3) => `${f(s.mean, digits)} +- ${f(1.96 * s.stdError, digits)}`;
const ran = (run: MethodRun) => `${run.name}, last ${run.tail.length} of ${run.iterations} iterations, stopped by ${run.stoppedBy}`;

/** A difference of two independent means with its 95% interval (normal approximation). */
const difference = (a: { mean: number; stdError: number }, b: { mean: number; stdError: number }) => {
  const d = a.mean - b.mean;
  const h = 1.96 * Math.sqrt(a.stdError ** 2 + b.stdError ** 2);
  return { d, low: d - h, high: d + h };
};

const signed = (low: number, high: number, claimed: 1 | -1): Verdict => {
  if (!Number.isFinite(low) || !Number.isFinite(high)) return "inconclusive";
  if (claimed > 0 ? low > 0 : high < 0) return "reproduced";
  if (claimed > 0 ? high < 0 : low > 0) return "opposite";
  return "inconclusive";
};

/** Table 5's targets met by CALSHEQ: experiment 4 within 0.02 of m_super1 = 0.25 with m_total >= 0.8; 1-3 the share floors and percentiles within 0.5 lots on average. */
const targetsClaim = (e: CalibrationEvidence): Claim => {
  const { targets } = experimentDefinition(e.experiment);
  const run = e.calsheq;
  const m1 = stat(run, "targets/m_super1");
  const mt = stat(run, "targets/m_total");
  if (targets.kind === "shares") {
    const met = Math.abs(m1.mean - targets.shareSuper1) <= 0.02 && mt.mean >= targets.minShareTotal;
    return {
      source: `table 5, experiment ${e.experiment} (figure 28)`,
      paper: `CALSHEQ brings LP supertype 1's market share to ${targets.shareSuper1} and all LPs' to at least ${targets.minShareTotal} (checked: within 0.02 of the share)`,
      ours: `m_super1 ${pm(m1)}, m_total ${pm(mt)} (${ran(run)})`,
      verdict: met ? "reproduced" : "not reproduced"
    };
  }
  const errors: Array<[number, number]> = [[1, 0], ...(targets.percentilesSuper2 === null ? [] : [[2, 0] as [number, number]])];
  const levels = (s: number) => (s === 1 ? targets.percentilesSuper1 : targets.percentilesSuper2!);
  const mape = errors.map(([s]) => {
    const target = levels(s);
    const err = target.reduce((sum, t, k) => sum + Math.abs(stat(run, `targets/vhat_super${s}_p${k + 1}`).mean - t), 0) / target.length;
    return [s, err] as const;
  });
  const met = m1.mean >= targets.minShareSuper1 && mt.mean >= targets.minShareTotal && mape.every(([, err]) => err <= 0.5);
  return {
    source: `table 5, experiment ${e.experiment} (figure ${e.experiment === 1 ? 8 : e.experiment === 2 ? 26 : 27})`,
    paper: `CALSHEQ meets m_super1 >= ${targets.minShareSuper1}, m_total >= ${targets.minShareTotal} and the trade-size percentiles of ${mape.length === 1 ? "supertype 1" : "supertypes 1 and 2"} (checked: mean absolute error at most 0.5 lots)`,
    ours: `m_super1 ${pm(m1)}, m_total ${pm(mt)}, percentile error ${mape.map(([s, err]) => `supertype ${s} ${f(err, 2)} lots`).join(", ")} (${ran(run)})`,
    verdict: met ? "reproduced" : "not reproduced"
  };
};

/** Section 5.1: LP rewards never converge below 0 (an LP can always quote uncompetitively and earn 0). */
const rewardsClaim = (e: CalibrationEvidence): Claim => {
  const r1 = stat(e.calsheq, "rewards/lp_super1");
  const r2 = stat(e.calsheq, "rewards/lp_super2");
  // Not reproduced when a supertype's interval lies below 0; reproduced when both means are at least 0.
  const below = [r1, r2].some((r) => r.mean + 1.96 * r.stdError < 0);
  const verdict: Verdict = below ? "not reproduced" : [r1, r2].every((r) => r.mean >= 0) ? "reproduced" : "inconclusive";
  return {
    source: `figure 7, experiment ${e.experiment}`,
    paper: "with CALSHEQ the LP supertypes' rewards converge to non-negative values",
    ours: `supertype 1 ${pm(r1, 2)}, supertype 2 ${pm(r2, 2)} (${ran(e.calsheq)})`,
    verdict
  };
};

/** Figure 7 (i): CALSHEQ achieves better calibrator rewards than BO in less time. */
const betterThanBoClaim = (e: CalibrationEvidence): Claim => {
  const a = stat(e.calsheq, "calibration/reward");
  const b = stat(e.bo, "calibration/reward");
  const diff = difference(a, b);
  return {
    source: `figure 7, experiment ${e.experiment}`,
    paper: "CALSHEQ's calibrator reward ends higher than BO's",
    ours: `r_cal ${pm(a)} (${e.calsheq.name}, ${e.calsheq.iterations} iterations) against ${pm(b)} (BO, ${e.bo.iterations}); difference ${f(diff.d)} [${f(diff.low)}, ${f(diff.high)}]`,
    verdict: signed(diff.low, diff.high, 1)
  };
};

/** Figures 29-32: CALSHEQ moves the parameters smoothly, BO jumps. */
const smoothnessClaim = (e: CalibrationEvidence): Claim => ({
  source: `figure ${28 + e.experiment}, experiment ${e.experiment}`,
  paper: "CALSHEQ varies the supertype parameters smoothly, contrary to BO",
  ours: `largest per-iteration move of a parameter mean: ${f(e.calsheq.maxParamMeanStep)} of its range (${e.calsheq.name}) against ${f(e.bo.maxParamMeanStep)} (BO)`,
  verdict: e.calsheq.maxParamMeanStep < e.bo.maxParamMeanStep ? "reproduced" : "not reproduced"
});

/** Figure 7 (ii), experiment 4: BO's supertype-1 reward converges to a negative value. */
const boNegativeClaim = (e: CalibrationEvidence): Claim => {
  const r = stat(e.bo, "rewards/lp_super1");
  return {
    source: "figure 7, experiment 4",
    paper: "with BO, LP supertype 1's reward converges to a negative value (agents cannot adapt to BO's large moves)",
    ours: `BO's supertype 1 reward ${pm(r, 2)} (${ran(e.bo)})`,
    verdict: signed(r.mean - 1.96 * r.stdError, r.mean + 1.96 * r.stdError, -1)
  };
};

/** The no-state ablation beside algorithm 1: reported, not a claim of the paper's experiments. */
const besideClaim = (e: CalibrationEvidence, beside: MethodRun): Claim => {
  const a = stat(e.calsheq, "calibration/reward");
  const b = stat(beside, "calibration/reward");
  return {
    source: `experiment ${e.experiment}, ablation`,
    paper: "(not a paper claim) the CALSHEQ form not used above, on the same seed and rule",
    ours: `${beside.name}: r_cal ${pm(b)}, m_super1 ${pm(stat(beside, "targets/m_super1"))}, m_total ${pm(stat(beside, "targets/m_total"))}, ${beside.iterations} iterations, stopped by ${beside.stoppedBy}; ${e.calsheq.name}: r_cal ${pm(a)}`,
    verdict: "not run"
  };
};

/** The calibration claims of one experiment. */
export const calibrationClaims = (e: CalibrationEvidence): Claim[] => [
  targetsClaim(e),
  rewardsClaim(e),
  betterThanBoClaim(e),
  ...(e.experiment === 4 ? [boNegativeClaim(e)] : []),
  smoothnessClaim(e),
  ...(e.beside === undefined ? [] : [besideClaim(e, e.beside)])
];

/** Table 2: the test log-likelihoods of the vanilla, neural-fixed and neural-shared ECN models. */
export const tableTwoClaim = (scores: { readonly data: string; readonly rows: ReadonlyArray<{ readonly model: string; readonly standardised: { readonly test: number } }>; readonly paperOrderingOnTest: boolean }): Claim => ({
  source: "table 2",
  paper: "on test data the neural ECN models score higher log-likelihoods than the vanilla mixture, the shared-correlation one highest",
  ours: `${scores.rows.map((r) => `${r.model} ${f(r.standardised.test)}`).join(", ")} (standardised test log-likelihood per sample; ${scores.data})`,
  verdict: scores.paperOrderingOnTest ? "reproduced" : "not reproduced"
});

/** Figure 2: one LT policy spans flow-like (omega = 0) to PnL-driven (omega = 1) behaviour. */
export const figureTwoClaim = (summary: {
  readonly qA: number;
  readonly qB: number;
  readonly omegas: ReadonlyArray<{ readonly omega: number; readonly sellFraction: number; readonly buyFraction: number; readonly meanPnl: number; readonly pnlStdError: number }>;
  readonly omega0OnTargets: boolean | null;
  readonly omega1PnlPositive: boolean | null;
}): Claim => {
  const zero = summary.omegas.find((o) => o.omega === 0);
  const one = summary.omegas.find((o) => o.omega === 1);
  return {
    source: "figure 2",
    paper: `at omega = 0 the LT policy sells ${summary.qA} and buys ${summary.qB} of the time; at omega = 1 it buys low and sells high (positive PnL)`,
    ours: `omega = 0: sells ${f(zero?.sellFraction ?? Number.NaN, 2)}, buys ${f(zero?.buyFraction ?? Number.NaN, 2)}; omega = 1: PnL ${one === undefined ? "n/a" : pm({ mean: one.meanPnl, stdError: one.pnlStdError }, 1)}`,
    verdict: summary.omega0OnTargets === null || summary.omega1PnlPositive === null ? "not run" : summary.omega0OnTargets && summary.omega1PnlPositive ? "reproduced" : "not reproduced"
  };
};

/** Section 5.2: each finding's measured slope against the attribute, with its interval. */
export const emergentClaims = (
  findings: ReadonlyArray<{ readonly finding: string; readonly source: string; readonly slope: number | null; readonly ciLow: number | null; readonly ciHigh: number | null; readonly episodes: number; readonly verdict: "reproduced" | "opposite" | "inconclusive" }>
): Claim[] =>
  findings.map((x) => ({
    source: x.source === "section 5.2 headline" ? "section 5.2 (headline, figures 9-24)" : "section 5.2 (text, figures 9-24)",
    paper: x.finding,
    ours: `slope ${f(x.slope ?? Number.NaN, 4)} [${f(x.ciLow ?? Number.NaN, 4)}, ${f(x.ciHigh ?? Number.NaN, 4)}] per unit of the attribute (${x.episodes} episodes)`,
    verdict: x.verdict
  }));

/**
 * Figure 6 (section 3.2): the Hamiltonian weight omega_A of the games' links, from the last value
 * each game logged (single values: no interval). 1v1 PnL LP vs PnL LT: balanced, omega_A ~ 0.6
 * (checked within 0.15); adding a second LP moves the competition between the LPs: the LP-LT
 * weight falls below its 1v1 value and the LP-LP weight exceeds it; a flow-driven LT: omega_A ~ 1,
 * above the PnL 1v1's.
 */
export const figureSixClaims = (lastOmegaA: Readonly<Record<string, number | null>>): Claim[] => {
  const w = (key: string) => lastOmegaA[key] ?? Number.NaN;
  const pnl = w("pnl-1v1/lp1-lt");
  const lpLt = w("pnl-2v1/lp1-lt");
  const lpLp = w("pnl-2v1/lp1-lp2");
  const flow = w("flow-1v1/lp1-lt");
  const known = (...xs: number[]) => xs.every(Number.isFinite);
  const judged = (ok: boolean, ...xs: number[]): Verdict => (!known(...xs) ? "not run" : ok ? "reproduced" : "not reproduced");
  return [
    {
      source: "figure 6 (left)",
      paper: "1v1, PnL-driven LP and LT: the link is balanced, omega_A ~ 0.6 (checked: within 0.15)",
      ours: `omega_A ${f(pnl)} (last logged value)`,
      verdict: judged(Math.abs(pnl - 0.6) <= 0.15, pnl)
    },
    {
      source: "figure 6 (left)",
      paper: "2v1: the LP-LT weight falls (to ~0.2) and the LP-LP weight rises (to ~0.6): competition moves between the LPs",
      ours: `2v1 LP-LT ${f(lpLt)} against 1v1 ${f(pnl)}; 2v1 LP-LP ${f(lpLp)} (last logged values)`,
      verdict: judged(lpLt < pnl && lpLp > lpLt, pnl, lpLt, lpLp)
    },
    {
      source: "figure 6 (right)",
      paper: "1v1 with a flow-driven LT: almost no potential component, omega_A ~ 1, above the PnL 1v1's",
      ours: `omega_A ${f(flow)} against ${f(pnl)} for the PnL 1v1 (last logged values)`,
      verdict: judged(flow > pnl, flow, pnl)
    }
  ];
};

/** The curvature c of the count-weighted least-squares fit flow = a + b eps + c eps^2 (NaN with fewer than 3 bins). */
export const curvature = (eps: readonly number[], flow: readonly number[], weight: readonly number[]): number => {
  // Normal equations of the weighted quadratic fit, solved by Cramer's rule.
  const m = [0, 0, 0, 0, 0];
  const v = [0, 0, 0];
  let bins = 0;
  eps.forEach((x, i) => {
    const w = weight[i]!;
    if (!(w > 0) || !Number.isFinite(flow[i]!)) return;
    bins++;
    for (let k = 0; k < 5; k++) m[k]! += w * x ** k;
    for (let k = 0; k < 3; k++) v[k]! += w * flow[i]! * x ** k;
  });
  if (bins < 3) return Number.NaN;
  const det3 = (a: number[][]) =>
    a[0]![0]! * (a[1]![1]! * a[2]![2]! - a[1]![2]! * a[2]![1]!) - a[0]![1]! * (a[1]![0]! * a[2]![2]! - a[1]![2]! * a[2]![0]!) + a[0]![2]! * (a[1]![0]! * a[2]![1]! - a[1]![1]! * a[2]![0]!);
  const A = [
    [m[0]!, m[1]!, m[2]!],
    [m[1]!, m[2]!, m[3]!],
    [m[2]!, m[3]!, m[4]!]
  ];
  const d = det3(A);
  if (!(Math.abs(d) > 0)) return Number.NaN;
  return det3(A.map((row, r) => [row[0]!, row[1]!, v[r]!])) / d;
};

/**
 * Figure 3: PnL-driven LTs make the LP's flow response curve F(eps) convex, the more of them the
 * more: the curvature of a quadratic fit (weighted by each eps bin's count) with the most PnL LTs
 * is positive and above the curvature with none. Single fits: no interval.
 */
export const figureThreeClaim = (points: ReadonlyArray<{ readonly pnlLts: number; readonly eps: number; readonly flow: number; readonly count: number }>): Claim => {
  const counts = [...new Set(points.map((p) => p.pnlLts))].sort((a, b) => a - b);
  const c = counts.map((n) => {
    const mine = points.filter((p) => p.pnlLts === n);
    return curvature(mine.map((p) => p.eps), mine.map((p) => p.flow), mine.map((p) => p.count));
  });
  const first = c[0] ?? Number.NaN;
  const last = c[c.length - 1] ?? Number.NaN;
  return {
    source: "figure 3",
    paper: "PnL-driven LTs introduce convexity in the LP's flow response curve F(eps), more with more of them",
    ours: `curvature of F(eps) (count-weighted quadratic fit) with ${counts.map((n, i) => `${n} PnL LTs ${f(c[i]!, 4)}`).join(", ")}`,
    verdict: !(Number.isFinite(first) && Number.isFinite(last)) || counts.length < 2 ? "not run" : last > 0 && last > first ? "reproduced" : "not reproduced"
  };
};

/** How many claims got each verdict. */
export const verdictCounts = (claims: readonly Claim[]): Record<Verdict, number> => {
  const counts: Record<Verdict, number> = { reproduced: 0, "not reproduced": 0, opposite: 0, inconclusive: 0, "not run": 0 };
  for (const c of claims) counts[c.verdict]++;
  return counts;
};
