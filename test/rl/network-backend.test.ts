/**
 * The `NetworkBackend` service the stages use to pick where the networks compute: `tfjs` always
 * resolves, `onnxruntime` resolves where its native library loads (here) and otherwise fails with
 * one sentence naming the backend and the fallback, `auto` takes onnxruntime when it loads and
 * falls back to tfjs when it does not; the backend that ran is noted for the provenance. A training
 * stage builds its networks on the backend the service resolved, not on its own guess.
 */
import { describe, expect, it } from "@effect/vitest";
import { Effect, Exit, Layer, Schema } from "effect";
import { Backend, layerBackend } from "../../core/pipeline/backend.ts";
import { Rng } from "../../core/pipeline/rng.ts";
import { LtSpectrumTrainingParams } from "../../schemas/lt-spectrum.ts";
import { Random } from "../../core/random/philox.ts";
import { PpoAgent } from "../../core/rl/ppo.ts";
import { ltSpectrumSetup } from "../../stages/support/lt-spectrum.ts";
import { NetworkBackend, resolvePpoBackend } from "../../stages/support/network-backend.ts";

const withBackend = (layer: Layer.Layer<NetworkBackend>) => Layer.merge(layer, layerBackend("cpu"));

describe("NetworkBackend", () => {
  it.effect("native: every request resolves on this machine, auto to onnxruntime; the choice is noted", () =>
    Effect.gen(function* () {
      expect((yield* resolvePpoBackend({ backend: "onnxruntime" as const })).backend).toBe("onnxruntime");
      expect((yield* resolvePpoBackend({ backend: "tfjs" as const })).backend).toBe("tfjs");
      expect((yield* resolvePpoBackend({ backend: "auto" as const })).backend).toBe("onnxruntime");
      expect((yield* Backend).network()).toContain("onnxruntime");
    }).pipe(Effect.provide(withBackend(NetworkBackend.native)))
  );

  it.effect("without onnxruntime: auto falls back to tfjs, an explicit onnxruntime fails with one sentence naming the fallback", () =>
    Effect.gen(function* () {
      expect((yield* resolvePpoBackend({ backend: "auto" as const })).backend).toBe("tfjs");
      const failed = yield* Effect.exit(resolvePpoBackend({ backend: "onnxruntime" as const }));
      expect(Exit.isFailure(failed)).toBe(true);
      if (Exit.isFailure(failed)) {
        const message = JSON.stringify(failed.cause);
        expect(message).toMatch(/The onnxruntime network backend could not be loaded \(.*\); run with ppo\.backend=tfjs \(or auto\)/);
      }
    }).pipe(Effect.provide(withBackend(NetworkBackend.tfjsOnly)))
  );
});

describe("training stages", () => {
  it.effect("build their networks on the backend the service resolved, and refuse one that cannot load", () =>
    Effect.gen(function* () {
      const params = Schema.decodeUnknownSync(LtSpectrumTrainingParams)({ ppo: { backend: "auto", hidden: [8] } });
      const { learners } = yield* ltSpectrumSetup(params);
      const agents = learners.map((l) => new PpoAgent(l.obsDim, l.action, l.ppo, Random.fromSeed(1)));
      try {
        expect(agents.map((a) => a.net.backend)).toEqual(["tfjs", "tfjs"]);
        expect((yield* Backend).network()).toContain("tfjs");
      } finally {
        for (const a of agents) a.dispose();
      }
      const refused = yield* Effect.exit(ltSpectrumSetup({ ...params, ppo: { ...params.ppo, backend: "onnxruntime" } }));
      expect(Exit.isFailure(refused)).toBe(true);
    }).pipe(Effect.provide(Layer.mergeAll(withBackend(NetworkBackend.tfjsOnly), Rng.forNode(1, "lt-spectrum"))))
  );
});
