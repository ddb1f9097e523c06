/**
 * Loading onnxruntime-node and running sessions synchronously (the network compute of paper
 * section 5 on a native multi-threaded backend). The package's public `InferenceSession.run` is
 * asynchronous, but only because it defers the native call with setImmediate; the native binding
 * it wraps is synchronous. The rollout and PPO loops are synchronous code shared with the tfjs
 * backend, so sessions here call the binding directly: one native call per `run`, no promise per
 * minibatch step. The binding is loaded lazily, so code that never selects onnxruntime never
 * loads the native library.
 */
import { createRequire } from "node:module";

/** Raised when onnxruntime-node cannot be loaded on this machine. */
export class OnnxRuntimeLoadError extends Error {
  readonly _tag = "OnnxRuntimeLoadError";
  constructor(readonly reason: string) {
    super(`The onnxruntime network backend could not be loaded (${reason}); run with ppo.backend=tfjs (or auto) or reinstall onnxruntime-node with pnpm install.`);
  }
}

interface NativeTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}
interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: Record<string, unknown>): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, null>, options: Record<string, unknown>): Record<string, NativeTensor>;
  dispose(): void;
}
interface OrtModules {
  Session: new () => NativeSession;
  Tensor: new (type: "float32", data: Float32Array, dims: readonly number[]) => unknown;
}

let loaded: OrtModules | undefined;
let loadFailure: string | undefined;

/** Loads the native binding once; throws OnnxRuntimeLoadError when it is missing or broken. */
export const loadOnnxRuntime = (): OrtModules => {
  if (loaded !== undefined) return loaded;
  if (loadFailure !== undefined) throw new OnnxRuntimeLoadError(loadFailure);
  try {
    if (process.env.OTC_DISABLE_ONNXRUNTIME === "1") throw new Error("disabled by OTC_DISABLE_ONNXRUNTIME=1");
    const require = createRequire(import.meta.url);
    const bindingModule = require("onnxruntime-node/dist/binding.js") as { binding: { InferenceSession: new () => NativeSession }; initOrt: () => void };
    const common = require("onnxruntime-node") as { Tensor: OrtModules["Tensor"] };
    bindingModule.initOrt();
    loaded = { Session: bindingModule.binding.InferenceSession, Tensor: common.Tensor };
    return loaded;
  } catch (error) {
    loadFailure = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    throw new OnnxRuntimeLoadError(loadFailure);
  }
};

/** Whether onnxruntime-node loads here (for `auto` selection). */
export const onnxRuntimeAvailable = (): boolean => {
  try {
    loadOnnxRuntime();
    return true;
  } catch {
    return false;
  }
};

export interface OnnxSessionOptions {
  /** Threads of one operator (matmuls); 1 runs everything on the calling thread. */
  intraOpThreads: number;
}

/** A loaded model with a synchronous `run` on named float32 inputs. */
export class OnnxSession {
  private readonly session: NativeSession;
  private readonly ort: OrtModules;
  private readonly fetches: Record<string, null>;
  private readonly tensors = new WeakMap<Float32Array, { readonly dims: readonly number[]; readonly tensor: unknown }>();

  constructor(model: Uint8Array, readonly outputNames: readonly string[], options: OnnxSessionOptions) {
    this.ort = loadOnnxRuntime();
    this.session = new this.ort.Session();
    this.session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, {
      executionProviders: [{ name: "cpu" }],
      intraOpNumThreads: options.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
      // Thread-pool workers spinning between the tiny ops of a minibatch step steal the CPU the
      // other workers of a shared machine need; measured no slower with spinning off.
      extra: { session: { intra_op: { allow_spinning: "0" } } }
    });
    this.fetches = Object.fromEntries(outputNames.map((n) => [n, null]));
  }

  /**
   * Runs the model; inputs are [data, dims] pairs; returns the outputs' data by name. Outputs
   * named in `into` are written into the given arrays (which must not be inputs of the same run)
   * instead of fresh ones: a training step's weight-sized outputs then allocate nothing, which
   * keeps the garbage collector out of the SGD loop.
   */
  run(inputs: Record<string, readonly [Float32Array, readonly number[]]>, into: Record<string, readonly [Float32Array, readonly number[]]> = {}): Record<string, Float32Array> {
    const feeds: Record<string, unknown> = {};
    for (const name in inputs) feeds[name] = this.tensorOf(inputs[name]!);
    let fetches = this.fetches;
    let preallocated = false;
    for (const name in into) {
      if (!preallocated) fetches = { ...this.fetches };
      preallocated = true;
      (fetches as Record<string, unknown>)[name] = this.tensorOf(into[name]!);
    }
    const out = this.session.run(feeds, fetches, {});
    const result: Record<string, Float32Array> = {};
    for (const name of this.outputNames) result[name] = into[name]?.[0] ?? out[name]!.data;
    return result;
  }

  /**
   * The tensor wrapping `data` with shape `dims`, made once per array and shape: a tensor only
   * refers to its array, so arrays a caller reuses across runs (weights, Adam moments, minibatch
   * buffers, scalars it rewrites in place) are wrapped once, not on every run.
   */
  private tensorOf([data, dims]: readonly [Float32Array, readonly number[]]): unknown {
    const cached = this.tensors.get(data);
    if (cached !== undefined && cached.dims.length === dims.length && cached.dims.every((d, k) => d === dims[k])) return cached.tensor;
    const tensor = new this.ort.Tensor("float32", data, dims);
    this.tensors.set(data, { dims: [...dims], tensor });
    return tensor;
  }

  dispose(): void {
    this.session.dispose();
  }
}
