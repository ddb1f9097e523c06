/**
 * Structured-state codec for training checkpoints: any tree of plain objects, arrays, numbers,
 * strings, booleans and nulls whose large numeric leaves are typed arrays. Float32Array leaves
 * (network weights, optimiser moments) go into a tensor bundle named by their path in the tree;
 * Float64Array and Int32Array leaves are written as JSON arrays (shortest round-trip numbers, so
 * bit-exact); everything else is canonical JSON. Equal states encode to identical bytes, and a
 * decoded state resumes training bit-identically.
 */
import { canonicalJson } from "../canonical.ts";
import type { Codec } from "./codec.ts";
import { CodecError } from "./errors.ts";
import { tensorBundleCodec, type TensorBundle } from "./tensor.ts";

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const split = (value: unknown, path: string, tensors: TensorBundle): Json => {
  if (value instanceof Float32Array) {
    tensors[path] = { shape: [value.length], data: value };
    return { $f32: path };
  }
  if (value instanceof Float64Array) return { $f64: Array.from(value) };
  if (value instanceof Int32Array) return { $i32: Array.from(value) };
  if (Array.isArray(value)) return value.map((v, i) => split(v, `${path}/${i}`, tensors));
  if (value !== null && typeof value === "object") {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = split(v, `${path}/${k}`, tensors);
    return out;
  }
  if (typeof value === "number" || typeof value === "string" || typeof value === "boolean" || value === null) return value;
  throw new CodecError({ codec: "structured", message: `Cannot store a ${typeof value} at ${path || "/"} in a checkpoint.` });
};

const join = (value: Json, tensors: TensorBundle): unknown => {
  if (Array.isArray(value)) return value.map((v) => join(v, tensors));
  if (value !== null && typeof value === "object") {
    if (typeof value["$f32"] === "string") {
      const tensor = tensors[value["$f32"]];
      if (tensor === undefined) throw new CodecError({ codec: "structured", message: `Tensor ${value["$f32"]} is missing from the checkpoint; re-create it.` });
      return tensor.data;
    }
    if (Array.isArray(value["$f64"])) return Float64Array.from(value["$f64"] as number[]);
    if (Array.isArray(value["$i32"])) return Int32Array.from(value["$i32"] as number[]);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = join(v, tensors);
    return out;
  }
  return value;
};

/**
 * `check` validates the decoded tree (a type guard or a Schema-based check): a checkpoint from an
 * incompatible version is a decoding error, which the store treats as a miss.
 */
export const structuredCodec = <A>(name: string, check: (value: unknown) => value is A): Codec<A> => ({
  name: `structured/${name}`,
  extension: "ckpt",
  encode: (value) => {
    const tensors: TensorBundle = {};
    const tree = split(value, "", tensors);
    const json = utf8.encode(canonicalJson(tree));
    const bundle = tensorBundleCodec.encode(tensors);
    const out = new Uint8Array(8 + json.byteLength + bundle.byteLength);
    const view = new DataView(out.buffer);
    view.setUint32(0, json.byteLength, true);
    view.setUint32(4, bundle.byteLength, true);
    out.set(json, 8);
    out.set(bundle, 8 + json.byteLength);
    return out;
  },
  decode: (bytes) => {
    if (bytes.byteLength < 8) throw new CodecError({ codec: name, message: "The checkpoint is truncated; re-create it." });
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const jsonLength = view.getUint32(0, true);
    const bundleLength = view.getUint32(4, true);
    if (8 + jsonLength + bundleLength !== bytes.byteLength) throw new CodecError({ codec: name, message: "The checkpoint's length does not match its header; re-create it." });
    const tree = JSON.parse(fromUtf8.decode(bytes.subarray(8, 8 + jsonLength))) as Json;
    const tensors = tensorBundleCodec.decode(bytes.slice(8 + jsonLength));
    const value = join(tree, tensors);
    if (!check(value)) throw new CodecError({ codec: name, message: "The checkpoint does not have the expected shape (written by another version?); it will be recomputed." });
    return value;
  }
});
