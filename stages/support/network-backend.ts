/**
 * The `NetworkBackend` service: where the policy and value networks compute (paper section 5's
 * networks; core/rl/networks.ts `NetworkComputeParams`). The stages' PPO settings name a backend
 * (`ppo.backend`: onnxruntime, tfjs or auto); this service resolves the name before training
 * starts, so an explicit backend that cannot load fails at once with one sentence naming the
 * fallback, `auto` falls back to tfjs, and the backend that ran is noted for the run's provenance
 * (`networkBackend`). Layers: `native` (the real check; what the training pipelines provide for a
 * run) and `tfjsOnly` (as on a machine where onnxruntime's native library does not load; for tests
 * and for forcing the portable path).
 */
import { Context, Data, Effect, Layer } from "effect";
import { Backend } from "../../core/pipeline/backend.ts";
import { resolveNetworkBackend } from "../../core/rl/networks.ts";
import { loadOnnxRuntime, OnnxRuntimeLoadError } from "../../core/rl/onnx-runtime.ts";
import type { PpoSettings } from "../../schemas/ppo.ts";

export class NetworkBackendError extends Data.TaggedError("NetworkBackendError")<{ readonly message: string }> {}

export type NetworkBackendName = "onnxruntime" | "tfjs";

export interface NetworkBackendService {
  /** The backend a requested name runs on, or a NetworkBackendError when an explicit one cannot load. */
  readonly resolve: (requested: PpoSettings["backend"]) => Effect.Effect<NetworkBackendName, NetworkBackendError>;
}

const unavailable = (reason: string) => new NetworkBackendError({ message: new OnnxRuntimeLoadError(reason).message });

export class NetworkBackend extends Context.Tag("otc-marl/stages/NetworkBackend")<NetworkBackend, NetworkBackendService>() {
  /** Loads onnxruntime-node when asked for (or for `auto`). */
  static readonly native: Layer.Layer<NetworkBackend> = Layer.succeed(NetworkBackend, {
    resolve: (requested) =>
      requested === "tfjs"
        ? Effect.succeed("tfjs" as const)
        : requested === "auto"
          ? Effect.sync(() => resolveNetworkBackend("auto"))
          : Effect.try({
              try: () => {
                loadOnnxRuntime();
                return "onnxruntime" as const;
              },
              catch: (error) => (error instanceof OnnxRuntimeLoadError ? new NetworkBackendError({ message: error.message }) : unavailable(String(error)))
            })
  });

  /** As if onnxruntime could not load: `auto` gives tfjs, `onnxruntime` fails. */
  static readonly tfjsOnly: Layer.Layer<NetworkBackend> = Layer.succeed(NetworkBackend, {
    resolve: (requested) => (requested === "onnxruntime" ? Effect.fail(unavailable("onnxruntime is switched off in this run")) : Effect.succeed("tfjs" as const))
  });
}

/**
 * Resolves `settings.backend` with the run's NetworkBackend (the pipeline provides it), notes the
 * result for the provenance, and returns the settings with the resolved backend, so the networks
 * the stage builds run on exactly the backend that was checked.
 */
export const resolvePpoBackend = <S extends Pick<PpoSettings, "backend">>(settings: S): Effect.Effect<Omit<S, "backend"> & { backend: NetworkBackendName }, NetworkBackendError, Backend | NetworkBackend> =>
  Effect.gen(function* () {
    const name = yield* Effect.flatMap(NetworkBackend, (service) => service.resolve(settings.backend));
    const backend = yield* Backend;
    backend.noteNetwork(name);
    yield* Effect.logDebug(`network backend: ${name}${settings.backend === "auto" ? " (auto)" : ""}`);
    return { ...settings, backend: name };
  });
