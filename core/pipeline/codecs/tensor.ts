/**
 * Tensor bundle codec (ARCHITECTURE section 4, "Artifacts"): model weights and optimiser state as
 * named float32 tensors. Layout, all little-endian:
 *   bytes 0..8   header length H (uint64)
 *   bytes 8..8+H JSON header `{"tensors":[{"name","shape","offset","length"}...]}` sorted by name,
 *                padded with spaces so the data section starts at a multiple of 8
 *   then         the float32 data of each tensor at `offset` bytes into the data section.
 * Equal bundles encode to identical bytes (names sorted, no timestamps). Decoding returns views
 * into the input buffer (no copy) whenever the data lands 4-byte aligned in memory, so loading a
 * large checkpoint costs no more than reading it.
 */
import type { Codec } from "./codec.ts";
import { CodecError } from "./errors.ts";

export type TensorBundle = Record<string, { shape: readonly number[]; data: Float32Array }>;

interface HeaderEntry {
  readonly name: string;
  readonly shape: readonly number[];
  /** Byte offset into the data section. */
  readonly offset: number;
  /** Number of float32 elements. */
  readonly length: number;
}

const NAME = "tensor-bundle";
const fail = (message: string): never => {
  throw new CodecError({ codec: NAME, message });
};
const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const elementCount = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const isShape = (shape: unknown): shape is number[] =>
  Array.isArray(shape) && shape.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0);

const encode = (bundle: TensorBundle): Uint8Array => {
  const names = Object.keys(bundle).sort();
  const entries: HeaderEntry[] = [];
  let offset = 0;
  for (const name of names) {
    const { shape, data } = bundle[name]!;
    if (!isShape(shape)) fail(`Tensor "${name}" has shape ${JSON.stringify(shape)}; dimensions must be non-negative integers.`);
    if (elementCount(shape) !== data.length) {
      fail(`Tensor "${name}" has shape [${shape.join(",")}] but ${data.length} values; make the shape match the data.`);
    }
    entries.push({ name, shape: [...shape], offset, length: data.length });
    offset += data.length * 4;
  }
  let header = new TextEncoder().encode(JSON.stringify({ tensors: entries }));
  const padded = Math.ceil(header.length / 8) * 8;
  if (padded !== header.length) {
    const withPadding = new Uint8Array(padded).fill(0x20);
    withPadding.set(header);
    header = withPadding;
  }
  const dataStart = 8 + header.length;
  const out = new Uint8Array(dataStart + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  for (const entry of entries) {
    const data = bundle[entry.name]!.data;
    const at = dataStart + entry.offset;
    if (littleEndianHost) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    else for (let i = 0; i < data.length; i++) view.setFloat32(at + 4 * i, data[i]!, true);
  }
  return out;
};

const parseHeader = (text: string): HeaderEntry[] => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail("The tensor bundle header is not JSON; the bytes are not a tensor bundle or are truncated.");
  }
  const tensors = typeof parsed === "object" && parsed !== null && "tensors" in parsed ? parsed.tensors : undefined;
  if (!Array.isArray(tensors)) return fail('The tensor bundle header has no "tensors" list; the bytes are not a tensor bundle.');
  return tensors.map((t: unknown): HeaderEntry => {
    if (typeof t !== "object" || t === null) return fail("A tensor bundle header entry is not an object.");
    const { name, shape, offset, length } = t as Record<string, unknown>;
    if (typeof name !== "string" || !isShape(shape) || !Number.isSafeInteger(offset) || !Number.isSafeInteger(length)) {
      return fail(`Tensor bundle header entry ${JSON.stringify(t)} lacks a name, shape, offset or length.`);
    }
    return { name, shape, offset: offset as number, length: length as number };
  });
};

const decode = (bytes: Uint8Array): TensorBundle => {
  if (bytes.byteLength < 8) fail(`A tensor bundle needs at least 8 bytes, got ${bytes.byteLength}; the blob is truncated.`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.byteLength) fail(`Tensor bundle header claims ${headerLength} bytes but the blob has ${bytes.byteLength}; it is truncated.`);
  const entries = parseHeader(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  const dataStart = 8 + headerLength;
  const bundle: TensorBundle = {};
  for (const entry of entries) {
    if (elementCount(entry.shape) !== entry.length) fail(`Tensor "${entry.name}" has shape [${entry.shape.join(",")}] but length ${entry.length}.`);
    const at = dataStart + entry.offset;
    if (entry.offset < 0 || entry.offset % 4 !== 0 || at + entry.length * 4 > bytes.byteLength) {
      fail(`Tensor "${entry.name}" lies outside the blob (offset ${entry.offset}, ${entry.length} values); the blob is truncated or corrupt.`);
    }
    const absolute = bytes.byteOffset + at;
    let data: Float32Array;
    if (littleEndianHost && absolute % 4 === 0) data = new Float32Array(bytes.buffer, absolute, entry.length);
    else {
      data = new Float32Array(entry.length);
      for (let i = 0; i < entry.length; i++) data[i] = view.getFloat32(at + 4 * i, true);
    }
    bundle[entry.name] = { shape: entry.shape, data };
  }
  return bundle;
};

export const tensorBundleCodec: Codec<TensorBundle> = { name: NAME, extension: "tensors", encode, decode };
