/**
 * Generalised advantage estimation and the adaptive KL rule, checked against their definitions
 * (Schulman et al. 2016, eqs. 11-16; RLlib's KL coefficient update), not against the recursion
 * the implementation uses.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { adaptKlCoeff, computeGae, defaultPpoParams } from "../../core/rl/ppo.ts";

const f32 = (x: number) => Math.fround(x);

/** A_t = sum_{l >= 0} (discount lambda)^l delta_{t+l}, stopping after the step that ends the episode. */
const advantageByDefinition = (
  rewards: number[],
  values: number[],
  dones: number[],
  lastValue: number,
  discount: number,
  lambda: number,
  t: number
): number => {
  const steps = rewards.length;
  let sum = 0;
  let weight = 1;
  for (let u = t; u < steps; u++) {
    const nextValue = u + 1 < steps ? values[u + 1]! : lastValue;
    const delta = rewards[u]! + (dones[u] ? 0 : discount * nextValue) - values[u]!;
    sum += weight * delta;
    if (dones[u]) break;
    weight *= discount * lambda;
  }
  return sum;
};

const trajectories = fc.record({
  steps: fc.integer({ min: 1, max: 12 }),
  agents: fc.integer({ min: 1, max: 4 }),
  seedValues: fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 4 * 12 * 4, maxLength: 4 * 12 * 4 }),
  doneBits: fc.array(fc.boolean(), { minLength: 48, maxLength: 48 }),
  discount: fc.double({ min: 0, max: 1, noNaN: true }),
  lambda: fc.double({ min: 0, max: 1, noNaN: true })
});

describe("computeGae", () => {
  it("equals the discounted sum of TD errors up to each episode end, for any rewards, values, dones, discount and lambda", () => {
    fc.assert(
      fc.property(trajectories, ({ steps, agents, seedValues, doneBits, discount, lambda }) => {
        const n = steps * agents;
        const rewards = Float32Array.from({ length: n }, (_, k) => seedValues[k]!);
        const values = Float32Array.from({ length: n }, (_, k) => seedValues[n + k]!);
        const dones = Float32Array.from({ length: n }, (_, k) => (doneBits[k] ? 1 : 0));
        const lastValues = Float32Array.from({ length: agents }, (_, i) => seedValues[2 * n + i]!);
        const { advantages, returns } = computeGae({ rewards, values, dones, lastValues, steps, agents, discount, lambda });
        for (let i = 0; i < agents; i++) {
          const series = (a: Float32Array) => Array.from({ length: steps }, (_, t) => a[t * agents + i]!);
          for (let t = 0; t < steps; t++) {
            const expected = advantageByDefinition(series(rewards), series(values), series(dones), lastValues[i]!, discount, lambda, t);
            const k = t * agents + i;
            expect(advantages[k]!).toBeCloseTo(f32(expected), 3);
            expect(returns[k]!).toBeCloseTo(f32(expected + values[k]!), 3);
          }
        }
      }),
      { numRuns: 200 }
    );
  });

  it("with discount 1 and lambda 1 (the paper's setting) the returns are the rewards-to-go, whatever the values", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 40, maxLength: 40 }),
        (steps, numbers) => {
          const rewards = Float32Array.from({ length: steps }, (_, t) => numbers[t]!);
          const values = Float32Array.from({ length: steps }, (_, t) => numbers[20 + t]!);
          const dones = new Float32Array(steps);
          dones[steps - 1] = 1;
          const { returns, advantages } = computeGae({ rewards, values, dones, lastValues: Float32Array.of(123), steps, agents: 1, discount: 1, lambda: 1 });
          let toGo = 0;
          for (let t = steps - 1; t >= 0; t--) {
            toGo += rewards[t]!;
            expect(returns[t]!).toBeCloseTo(toGo, 4);
            expect(advantages[t]!).toBeCloseTo(toGo - values[t]!, 4);
          }
        }
      )
    );
  });

  it("with lambda 0 the advantage is the one-step TD error", () => {
    const rewards = Float32Array.of(1, 2, 3);
    const values = Float32Array.of(0.5, -1, 2);
    const dones = Float32Array.of(0, 0, 0);
    const { advantages } = computeGae({ rewards, values, dones, lastValues: Float32Array.of(4), steps: 3, agents: 1, discount: 0.9, lambda: 0 });
    expect(advantages[0]!).toBeCloseTo(1 + 0.9 * -1 - 0.5, 6);
    expect(advantages[1]!).toBeCloseTo(2 + 0.9 * 2 - -1, 6);
    expect(advantages[2]!).toBeCloseTo(3 + 0.9 * 4 - 2, 6);
  });
});

describe("adaptKlCoeff (RLlib's rule)", () => {
  it("multiplies by 1.5 above 2 x target, by 0.5 below target / 2, and keeps the coefficient in between", () => {
    const p = defaultPpoParams;
    fc.assert(
      fc.property(fc.double({ min: 1e-6, max: 10, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (coeff, kl) => {
        const next = adaptKlCoeff(coeff, kl, p);
        if (kl > 2 * p.klTarget) expect(next).toBeCloseTo(coeff * 1.5, 12);
        else if (kl < p.klTarget / 2) expect(next).toBeCloseTo(coeff * 0.5, 12);
        else expect(next).toBe(coeff);
      })
    );
    expect(p.klCoeffInitial).toBe(0.2);
    expect(p.klTarget).toBe(0.01);
  });
});
