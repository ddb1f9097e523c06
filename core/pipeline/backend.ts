/**
 * The `Backend` service: selects the tensor backend for stages that train or run networks
 * (ARCHITECTURE section 2). Native `@tensorflow/tfjs-node` when it loads (it is an optional
 * dependency whose install needs a download, so usually absent), else WebAssembly, else plain
 * JavaScript; the choice is logged and recorded in provenance because float results may differ
 * across backends. tfjs is imported lazily, only by stages that ask for it, so cached runs and
 * stages without networks never pay its start-up cost.
 */
import { createRequire } from "node:module";
import { dirname, join, sep } from "node:path";
import { Context, Data, Effect, Layer } from "effect";

export type BackendName = "tensorflow" | "wasm" | "cpu";

export class BackendError extends Data.TaggedError("BackendError")<{ readonly message: string }> {}

export interface BackendService {
  /** Loads tfjs and selects the backend once; later calls return the same name. */
  readonly ensure: Effect.Effect<BackendName, BackendError>;
  /** The selected backend, or undefined when no stage has needed one yet. */
  readonly current: () => BackendName | undefined;
  /** Notes the backend a stage's networks run on besides tfjs (e.g. onnxruntime), for the provenance. */
  readonly noteNetwork: (name: string) => void;
  /** The network backends noted so far in this process (comma-separated), or undefined. */
  readonly network: () => string | undefined;
}

export class Backend extends Context.Tag("pipeline/Backend")<Backend, BackendService>() {}

let selected: BackendName | undefined;
const networks = new Set<string>();
let selecting: Promise<BackendName> | undefined;

const requireHere = createRequire(import.meta.url);

/**
 * Selects the backend: `preference` "auto" tries native, then wasm, then cpu; a named backend is
 * used or the selection fails. Exported for tests and for worker threads, which must select the
 * same backend as their parent.
 */
export const selectBackend = (preference: "auto" | BackendName = "auto"): Promise<BackendName> => {
  if (selected !== undefined && (preference === "auto" || preference === selected)) return Promise.resolve(selected);
  if (selecting === undefined) {
    selecting = (async () => {
      const tf = await import("@tensorflow/tfjs");
      // Production mode silences tfjs's console advice and skips debug-only checks.
      tf.enableProdMode();
      const tryNative = async (): Promise<boolean> => {
        try {
          await import("@tensorflow/tfjs-node");
          return await tf.setBackend("tensorflow");
        } catch {
          return false;
        }
      };
      const tryWasm = async (): Promise<boolean> => {
        try {
          const wasm = await import("@tensorflow/tfjs-backend-wasm");
          // A file-path prefix: in Node the binaries are read from the package's dist/ folder, not fetched.
          const dist = join(dirname(requireHere.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist");
          wasm.setWasmPaths(dist + sep);
          return await tf.setBackend("wasm");
        } catch {
          return false;
        }
      };
      const order: BackendName[] = preference === "auto" ? ["tensorflow", "wasm", "cpu"] : [preference];
      for (const name of order) {
        const ok = name === "tensorflow" ? await tryNative() : name === "wasm" ? await tryWasm() : await tf.setBackend("cpu");
        if (ok) {
          await tf.ready();
          selected = name;
          return name;
        }
      }
      throw new Error(`the tensor backend "${preference}" could not be loaded`);
    })();
    selecting.catch(() => {
      selecting = undefined;
    });
  }
  return selecting;
};

export const layerBackend = (preference: "auto" | BackendName = "auto"): Layer.Layer<Backend> =>
  Layer.succeed(Backend, {
    ensure: Effect.tryPromise({
      try: () => selectBackend(preference),
      catch: (e) =>
        new BackendError({
          message: `No tensor backend could be loaded (${e instanceof Error ? e.message : String(e)}); reinstall with \`pnpm install\` or pass --backend cpu.`
        })
    }).pipe(Effect.tap((name) => Effect.logDebug(`tensor backend: ${name}`))),
    current: () => selected,
    noteNetwork: (name) => void networks.add(name),
    network: () => (networks.size > 0 ? [...networks].sort().join(",") : undefined)
  });
