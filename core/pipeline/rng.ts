/**
 * The `Rng` service: the run's seeded, splittable random streams (ARCHITECTURE section 5). The
 * runner provides every stage execution with a stream derived from the run seed and the node's
 * name, so a stage's draws depend only on (seed, node), never on scheduling. The generator is
 * Philox4x32-10 (`core/random/philox.ts`, checked against the Random123 known-answer vectors).
 */
import { Context, Layer } from "effect";
import { Random } from "../random/philox.ts";

export interface RngService {
  /** The stage's own stream; split it further (`stream.split(episode)`) for independent parts. */
  readonly stream: Random;
  /** The run seed the stream was derived from (recorded in provenance). */
  readonly seed: number;
}

/** The stream of node `node` in a run seeded with `seed`. */
export const nodeStream = (seed: number, node: string): Random => Random.fromSeed(seed).split(`node:${node}`);

export class Rng extends Context.Tag("pipeline/Rng")<Rng, RngService>() {
  /** The stream of node `node` in a run seeded with `seed`. */
  static forNode(seed: number, node: string): Layer.Layer<Rng> {
    return Layer.succeed(Rng, { stream: nodeStream(seed, node), seed });
  }
}

export { Random };
