/**
 * The OTC env's per-step record described for other tools (paper section 2's quantities, table 1's
 * actions): for each column of `OtcStepRecord` the name it is published under, its unit and its
 * meaning, and for coded columns the label of each code. The env keeps compact numeric codes in
 * typed arrays; this is what turns them into a table that DuckDB or pandas users can read without
 * the source: `agentClass` 0/1 becomes LP/LT, a counterparty code becomes "LP 3", "ECN" or "none",
 * and the three LP action columns become eps_spread, eps_skew and eps_hedge (an LT's action is its
 * own labelled column).
 */
import { CLASS_LP, CLASS_LT, COUNTERPARTY_ECN, COUNTERPARTY_NONE, LT_BUY, LT_NONE, LT_SELL, type OtcStepRecord } from "./env.ts";

export interface RecordColumn {
  /** The published column name (camelCase, one scheme for every column). */
  readonly name: string;
  readonly unit: string;
  readonly meaning: string;
}

type Source = Exclude<keyof OtcStepRecord, "rows" | "action0" | "action1" | "action2" | "agentClass" | "counterparty">;

/** The numeric columns published as they are. */
export const NUMERIC_RECORD_COLUMNS: Readonly<Record<Source, RecordColumn>> = {
  episode: { name: "episode", unit: "index", meaning: "global episode index" },
  t: { name: "t", unit: "step", meaning: "step of the episode, 0..T-1" },
  agent: { name: "agent", unit: "index", meaning: "agent index within its class and episode" },
  supertype: { name: "supertype", unit: "index", meaning: "the agent's supertype within its class, 0-based" },
  mid: { name: "mid", unit: "ticks", meaning: "P_t, the ECN mid price at the start of the step" },
  quoteAsk: { name: "quoteAsk", unit: "ticks", meaning: "LP: ask quoted for the smallest LT size this episode" },
  quoteBid: { name: "quoteBid", unit: "ticks", meaning: "LP: bid quoted for the smallest LT size this episode" },
  ltTrades: { name: "ltTrades", unit: "count", meaning: "LP-LT trades of the agent this step" },
  ltBuyQty: { name: "ltBuyQty", unit: "lots", meaning: "LP: quantity LTs bought from it; LT: quantity it bought from LPs" },
  ltSellQty: { name: "ltSellQty", unit: "lots", meaning: "LP: quantity LTs sold to it; LT: quantity it sold to LPs" },
  ecnBuyQty: { name: "ecnBuyQty", unit: "lots", meaning: "quantity bought on the ECN (LP hedges, LT ECN trades)" },
  ecnSellQty: { name: "ecnSellQty", unit: "lots", meaning: "quantity sold on the ECN (LP hedges, LT ECN trades)" },
  decisionPrice: { name: "decisionPrice", unit: "ticks", meaning: "LT: the price it chose (best connected quote or ECN cost) when it traded" },
  tradePrice: { name: "tradePrice", unit: "ticks", meaning: "LT: average price actually paid or received" },
  inventory: { name: "inventory", unit: "lots", meaning: "inventory after the step" },
  cash: { name: "cash", unit: "ticks x lots", meaning: "cash after the step" },
  pnlInventory: { name: "pnlInventory", unit: "ticks x lots", meaning: "PnL from inventory moves (eq. 3), cumulative" },
  pnlSpread: { name: "pnlSpread", unit: "ticks x lots", meaning: "PnL from spreads earned or paid (eq. 3), cumulative" },
  reward: { name: "reward", unit: "reward", meaning: "the agent's reward for the step (eq. 4 for LPs, eq. 6 for LTs)" },
  marketShare: { name: "marketShare", unit: "fraction", meaning: "LP: m_t, its share of the step's LT volume (null without LT volume)" },
  midNext: { name: "midNext", unit: "ticks", meaning: "P_{t+1}, the mid after the step" }
};

export const AGENT_CLASS_COLUMN: RecordColumn = { name: "agentClass", unit: "label", meaning: "LP (liquidity provider) or LT (liquidity taker)" };
export const COUNTERPARTY_COLUMN: RecordColumn = { name: "counterparty", unit: "label", meaning: "LT: whom it traded with this step: an LP (by index), the ECN, or none" };
export const LP_ACTION_COLUMNS: readonly RecordColumn[] = [
  { name: "lpSpread", unit: "ticks", meaning: "LP: eps_spread applied (clipped), null for LTs" },
  { name: "lpSkew", unit: "ticks", meaning: "LP: eps_skew applied (clipped), null for LTs" },
  { name: "lpHedge", unit: "fraction", meaning: "LP: eps_hedge applied, the fraction of inventory hedged, null for LTs" }
];
export const LT_ACTION_COLUMN: RecordColumn = { name: "ltAction", unit: "label", meaning: "LT: buy, sell or no trade, null for LPs" };

export const agentClassLabel = (code: number): string => (code === CLASS_LP ? "LP" : code === CLASS_LT ? "LT" : `class ${code}`);
export const counterpartyLabel = (code: number): string => (code === COUNTERPARTY_ECN ? "ECN" : code === COUNTERPARTY_NONE ? "none" : `LP ${code}`);
export const ltActionLabel = (code: number): string => (code === LT_BUY ? "buy" : code === LT_SELL ? "sell" : code === LT_NONE ? "no trade" : `action ${code}`);

/**
 * The codes behind the labels, for reading a published table back (`stepRecordFromTable`):
 * undefined for a label this module never writes.
 */
export const agentClassCode = (label: string): number | undefined => (label === "LP" ? CLASS_LP : label === "LT" ? CLASS_LT : undefined);
export const counterpartyCode = (label: string): number | undefined => {
  if (label === "ECN") return COUNTERPARTY_ECN;
  if (label === "none") return COUNTERPARTY_NONE;
  const lp = /^LP (\d+)$/.exec(label);
  return lp === null ? undefined : Number(lp[1]);
};
export const ltActionCode = (label: string): number | undefined => (label === "buy" ? LT_BUY : label === "sell" ? LT_SELL : label === "no trade" ? LT_NONE : undefined);
