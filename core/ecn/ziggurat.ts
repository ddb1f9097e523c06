/**
 * Fast standard normal draws for sampling the ECN model (sampling from the fitted
 * mixtures is part of the model, and the ECN agent draws one S vector per step of every episode).
 * Doornik's ziggurat ("An improved ziggurat method to generate normal random samples", 2005) with
 * 128 layers, fed by one 32-bit word of the run's `Random` per attempt: the low 7 bits choose the
 * layer and the high 25 bits give the signed uniform, so the two never share bits (the flaw of the
 * original Marsaglia-Tsang RNOR). About 1.03 words per normal against 2 for Box-Muller, and no
 * log/sin/cos on the fast path.
 */
import type { Random } from "../random/philox.ts";

const LAYERS = 128;
const R = 3.442619855899;
const V = 9.91256303526217e-3;

const X = new Float64Array(LAYERS + 1);
const RATIO = new Float64Array(LAYERS);
{
  let f = Math.exp(-0.5 * R * R);
  X[0] = V / f;
  X[1] = R;
  X[LAYERS] = 0;
  for (let i = 2; i < LAYERS; i++) {
    X[i] = Math.sqrt(-2 * Math.log(V / X[i - 1]! + f));
    f = Math.exp(-0.5 * X[i]! * X[i]!);
  }
  for (let i = 0; i < LAYERS; i++) RATIO[i] = X[i + 1]! / X[i]!;
}

const TWO_POW_M24 = 1 / 16777216;

/** One standard normal draw. */
export const zigguratNormal = (rng: Random): number => {
  for (;;) {
    const word = rng.nextUint32();
    const layer = word & 127;
    // Signed uniform in (-1, 1) from the top 25 bits, never exactly 0 or +-1.
    const u = ((word >>> 7) + 0.5) * TWO_POW_M24 - 1;
    if (Math.abs(u) < RATIO[layer]!) return u * X[layer]!;
    if (layer === 0) {
      // Tail beyond R (Marsaglia 1964).
      let x: number;
      let y: number;
      do {
        x = Math.log(rng.uniformPositive()) / R;
        y = Math.log(rng.uniformPositive());
      } while (-2 * y < x * x);
      return u < 0 ? x - R : R - x;
    }
    const x0 = u * X[layer]!;
    const f0 = Math.exp(-0.5 * (X[layer]! * X[layer]! - x0 * x0));
    const f1 = Math.exp(-0.5 * (X[layer + 1]! * X[layer + 1]! - x0 * x0));
    if (f1 + rng.uniform() * (f0 - f1) < 1) return x0;
  }
};
