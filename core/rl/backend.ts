/**
 * Tensor backend selection for the learning code (ARCHITECTURE section 2, "select
 * the backend at start-up"). tfjs-node is not available here, so the choice is between the
 * WebAssembly backend (XNNPACK matmuls with SIMD, several times faster than plain JS) and the
 * pure-JS cpu backend (slow but always there, and what the gradient checks use). In Node the wasm
 * binaries are loaded from the package's own `dist/` folder by file path, so nothing is fetched.
 * Both backends are deterministic single-threaded, which the bit-exact resume of PPO relies on.
 * This picks tfjs's own backend; whether the PPO networks run on tfjs at all or on onnxruntime is
 * chosen per network (`NetworkComputeParams` in networks.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import path from "node:path";

export type TfBackendName = "wasm" | "cpu";

/** Raised when not even the cpu backend can be initialised (a broken tfjs install). */
export class TfBackendError extends Error {
  readonly _tag = "TfBackendError";
  constructor(readonly tried: readonly string[], readonly reason: string) {
    super(`No tfjs backend could be initialised (tried ${tried.join(", ")}: ${reason}); reinstall @tensorflow/tfjs with pnpm install.`);
  }
}

let wasmPathsSet = false;

/** Points the wasm backend at `node_modules/@tensorflow/tfjs-backend-wasm/dist/` (a file path prefix ending in a separator). */
const configureWasmPaths = (): void => {
  if (wasmPathsSet) return;
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve("@tensorflow/tfjs-backend-wasm/package.json");
  setWasmPaths(path.join(path.dirname(packageJson), "dist") + path.sep);
  wasmPathsSet = true;
};

/**
 * Makes `preferred` (default "wasm") the active tfjs backend, falling back to "cpu" when it cannot
 * start, and returns the name of the backend now active. Idempotent: calling it again with the
 * active backend is cheap.
 */
export const initTfBackend = async (preferred: TfBackendName = "wasm"): Promise<string> => {
  // Production mode silences tfjs's console advice (install tfjs-node) and skips debug-only checks.
  tf.enableProdMode();
  const order: TfBackendName[] = preferred === "wasm" ? ["wasm", "cpu"] : ["cpu"];
  const failures: string[] = [];
  for (const name of order) {
    if (tf.getBackend() === name) return name;
    try {
      if (name === "wasm") configureWasmPaths();
      const ok = await tf.setBackend(name);
      if (ok) {
        await tf.ready();
        return tf.getBackend();
      }
      failures.push(`${name}: setBackend returned false`);
    } catch (error) {
      failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new TfBackendError(order, failures.join("; "));
};
