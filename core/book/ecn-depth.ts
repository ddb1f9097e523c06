/**
 * The long-run depth of the book the ECN agent drives on its own (paper section 2.3.1, figure 4;
 * proposition 2.3 states where the level volumes settle): the agent runs an episode on a fresh
 * order book with no other orders, and the mean volume of each of the top m levels per side is
 * measured after a burn-in, with levels read from the book as the data reads them (level i is the
 * i-th non-empty price from the best; a missing level counts as volume 0). This is the depth the
 * market actually sees, so it checks the fitted model through everything the agent adds to
 * recursion (8): the re-indexing of levels after the mid moves, emptied levels closing up,
 * extrapolated depth moving into the top m.
 */
import type { Random } from "../random/philox.ts";
import type { EcnVariationModel } from "../ecn/variation-model.ts";
import { EcnAgent } from "./ecn-agent.ts";
import { OrderBook, type Side } from "./order-book.ts";

const BUY: Side = 1;
const SELL: Side = -1;

export interface AgentDepthOptions {
  /** Steps averaged over (after the burn-in). */
  readonly steps: number;
  /** Steps dropped first (default 1000). */
  readonly burnIn?: number;
  /** Levels per side the agent maintains (default 20, at least the model's m). */
  readonly depthLevels?: number;
  /** Initial mid in ticks; the grid spans 0..2 p0Tick (default 1,000,000, far beyond any drift). */
  readonly p0Tick?: number;
}

/** Mean volume (lots) of ask levels 1..m then bid levels 1..m of the agent's book, over `steps`. */
export const simulateAgentDepth = (model: EcnVariationModel, options: AgentDepthOptions, rng: Random): Float64Array => {
  const m = model.levels;
  const p0Tick = options.p0Tick ?? 1_000_000;
  const burnIn = options.burnIn ?? 1000;
  const book = new OrderBook({ minPriceTick: 0, maxPriceTick: 2 * p0Tick });
  const agent = new EcnAgent(book, model, { p0Tick, depthLevels: Math.max(m, options.depthLevels ?? 20), originator: 0 });
  agent.startEpisode(rng);
  const prices = new Float64Array(m);
  const volumes = new Float64Array(m);
  const sum = new Float64Array(2 * m);
  for (let t = 0; t < burnIn + options.steps; t++) {
    agent.step(rng);
    if (t < burnIn) continue;
    for (const [side, offset] of [[SELL, 0], [BUY, m]] as const) {
      const n = book.topLevels(side, m, prices, volumes);
      for (let i = 0; i < n; i++) sum[offset + i] = sum[offset + i]! + volumes[i]!;
    }
  }
  return sum.map((v) => v / options.steps);
};
