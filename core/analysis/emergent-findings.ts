/**
 * The checkable findings of section 5.2: each qualitative claim of the paper ("the more
 * risk averse, the more the hedging") becomes the slope of an episode metric on the attribute
 * value, estimated by least squares over all evaluation episodes of that attribute with
 * heteroscedasticity-robust (HC1) standard errors, since the spread of a metric changes along the
 * grid. The verdict compares the confidence interval with the claimed sign: "reproduced" when the
 * whole interval has it, "opposite" when the whole interval has the other sign, "inconclusive"
 * otherwise. A finding that does not reproduce is reported as such, with its numbers.
 */
import type { EmergentAttribute } from "./emergent-eval.ts";
import { linearFit, signVerdict, type SignVerdict } from "./stats.ts";

export interface Claim {
  readonly finding: string;
  readonly attribute: EmergentAttribute;
  /** Column of the per-episode table. */
  readonly metric: string;
  readonly claimedSign: 1 | -1;
  /** "section 5.2 headline" for the five headline findings of section 5.2; "section 5.2 text" for the other claims of its text. */
  readonly source: "section 5.2 headline" | "section 5.2 text";
}

/** Skew intensity is a negative slope: "more intense skewing" means a MORE NEGATIVE intensity. */
export const CLAIMS: readonly Claim[] = [
  { finding: "skew intensity more negative with more flow-LT connectivity", attribute: "flowConnectivity", metric: "skewIntensity", claimedSign: -1, source: "section 5.2 headline" },
  { finding: "skew intensity more negative with more risk aversion", attribute: "riskAversion", metric: "skewIntensity", claimedSign: -1, source: "section 5.2 headline" },
  { finding: "mean |inventory| decreasing in risk aversion", attribute: "riskAversion", metric: "meanAbsInventory", claimedSign: -1, source: "section 5.2 headline" },
  { finding: "hedge fraction increasing in risk aversion", attribute: "riskAversion", metric: "hedgeFraction", claimedSign: 1, source: "section 5.2 headline" },
  { finding: "PnL decreasing in risk aversion", attribute: "riskAversion", metric: "pnl", claimedSign: -1, source: "section 5.2 headline" },
  { finding: "skewing less intense with more PnL weight", attribute: "pnlWeight", metric: "skewIntensity", claimedSign: 1, source: "section 5.2 text" },
  { finding: "skewing more intense with more PnL-LT connectivity", attribute: "pnlConnectivity", metric: "skewIntensity", claimedSign: -1, source: "section 5.2 text" },
  { finding: "hedging increasing in PnL-LT connectivity", attribute: "pnlConnectivity", metric: "hedgeFraction", claimedSign: 1, source: "section 5.2 text" },
  { finding: "hedging decreasing in PnL weight", attribute: "pnlWeight", metric: "hedgeFraction", claimedSign: -1, source: "section 5.2 text" },
  { finding: "hedging decreasing in flow-LT connectivity", attribute: "flowConnectivity", metric: "hedgeFraction", claimedSign: -1, source: "section 5.2 text" },
  { finding: "pricing less competitive (higher eps_alpha) with more PnL weight", attribute: "pnlWeight", metric: "averagePrice", claimedSign: 1, source: "section 5.2 text" },
  { finding: "pricing less competitive with more PnL-LT connectivity", attribute: "pnlConnectivity", metric: "averagePrice", claimedSign: 1, source: "section 5.2 text" },
  { finding: "pricing more competitive with more flow-LT connectivity", attribute: "flowConnectivity", metric: "averagePrice", claimedSign: -1, source: "section 5.2 text" },
  { finding: "holding time increasing in PnL weight", attribute: "pnlWeight", metric: "meanHoldingTime", claimedSign: 1, source: "section 5.2 text" },
  { finding: "holding time decreasing in risk aversion", attribute: "riskAversion", metric: "meanHoldingTime", claimedSign: -1, source: "section 5.2 text" },
  { finding: "holding time decreasing in flow-LT connectivity", attribute: "flowConnectivity", metric: "meanHoldingTime", claimedSign: -1, source: "section 5.2 text" },
  { finding: "holding time increasing in PnL-LT connectivity", attribute: "pnlConnectivity", metric: "meanHoldingTime", claimedSign: 1, source: "section 5.2 text" },
  { finding: "market share decreasing in PnL weight", attribute: "pnlWeight", metric: "marketShare", claimedSign: -1, source: "section 5.2 text" },
  { finding: "PnL increasing in PnL weight", attribute: "pnlWeight", metric: "pnl", claimedSign: 1, source: "section 5.2 text" },
  { finding: "PnL decreasing in PnL-LT connectivity", attribute: "pnlConnectivity", metric: "pnl", claimedSign: -1, source: "section 5.2 text" },
  { finding: "market share decreasing in PnL-LT connectivity", attribute: "pnlConnectivity", metric: "marketShare", claimedSign: -1, source: "section 5.2 text" }
];

export interface FindingResult extends Claim {
  readonly slope: number;
  readonly ciLow: number;
  readonly ciHigh: number;
  /** Episodes with a finite metric. */
  readonly episodes: number;
  readonly verdict: SignVerdict;
}

/** Per-episode columns: `attribute` names the varied attribute of each row, `value` its value. */
export interface EpisodeColumns {
  readonly attribute: readonly string[];
  readonly value: ArrayLike<number>;
  readonly [metric: string]: ArrayLike<number> | readonly string[];
}

export const evaluateFindings = (episodes: EpisodeColumns, level = 0.95, claims: readonly Claim[] = CLAIMS): FindingResult[] =>
  claims.map((claim) => {
    const column = episodes[claim.metric] as ArrayLike<number> | undefined;
    const x: number[] = [];
    const y: number[] = [];
    if (column !== undefined) {
      for (let r = 0; r < episodes.attribute.length; r++) {
        if (episodes.attribute[r] !== claim.attribute) continue;
        x.push(episodes.value[r]!);
        y.push(column[r]!);
      }
    }
    const fit = linearFit(x, y, { kind: "hc1", level });
    return { ...claim, slope: fit.slope, ciLow: fit.ciLow, ciHigh: fit.ciHigh, episodes: fit.n, verdict: signVerdict(fit, claim.claimedSign) };
  });
