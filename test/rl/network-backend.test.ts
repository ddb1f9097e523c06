/**
 * The `NetworkBackend` service the stages use to pick where the networks compute: `tfjs` always
 * resolves, `onnxruntime` resolves where its native library loads (here) and otherwise fails with
 * one sentence naming the backend and the fallback, `auto` takes onnxruntime when it loads and
 * falls back to tfjs when it does not; the backend that ran is noted for the provenance.
 */
import { describe, expect, it } from "@effect/vitest";
import { Effect, Exit, Layer } from "effect";
import { Backend, layerBackend } from "../../core/pipeline/backend.ts";
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
