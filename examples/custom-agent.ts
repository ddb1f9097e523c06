/**
 * A hand-written liquidity provider in the OTC market of the paper's experiment 4 (10 LPs, 500
 * stationary LTs), through the PettingZoo-style parallel API: no training, no pipeline. Every LP
 * runs one of two rules on the same episodes (same seeds): a naive one that quotes a fixed spread
 * and never hedges, and an inventory-aware one that skews its quotes against its inventory and
 * hedges part of it on the ECN. Prints each rule's mean episode reward and mean |inventory|.
 *
 *   pnpm example            (or: pnpm tsx examples/custom-agent.ts [episodes])
 */
import { OtcParallelEnv, experimentPopulation, defaultGameConfig, syntheticEcn, type AgentAction } from "otc-marl/env";

const episodes = Number(process.argv[2] ?? 3);
const env = new OtcParallelEnv({ config: { ...defaultGameConfig(experimentPopulation(4)), horizon: 100 }, ecn: syntheticEcn() });
const labels = env.observationSpace("lp_0").kind === "box" ? env.observationSpace("lp_0").labels : [];
const inventoryAt = labels.indexOf("inventory");

type Rule = (observation: Float32Array) => number[];
const rules: Record<string, Rule> = {
  naive: () => [0.5, 0, 0],
  // Skew the quotes so that the side that reduces the inventory is the cheaper one, and hedge half of it.
  "inventory-aware": (observation) => {
    const inventory = observation[inventoryAt]!;
    return [0.5, -Math.max(-1, Math.min(1, 2 * inventory)), Math.abs(inventory) > 0.05 ? 0.5 : 0];
  }
};

for (const [name, rule] of Object.entries(rules)) {
  let reward = 0;
  let absInventory = 0;
  let samples = 0;
  for (let e = 0; e < episodes; e++) {
    let { observations } = env.reset(e);
    while (env.agents.length > 0) {
      const actions: Record<string, AgentAction> = {};
      for (const agent of env.agents) actions[agent] = rule(observations[agent]!);
      const result = env.step(actions);
      for (const agent of Object.keys(result.rewards)) {
        reward += result.rewards[agent]!;
        absInventory += Math.abs(result.observations[agent]![inventoryAt]!);
        samples++;
      }
      observations = result.observations;
    }
  }
  const lps = env.possibleAgents.length;
  console.log(`${name.padEnd(16)} mean episode reward per LP ${(reward / (episodes * lps)).toFixed(3)}, mean |inventory| ${(absInventory / samples).toFixed(4)} (observation scale)`);
}
