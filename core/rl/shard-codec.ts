/**
 * The bytes of a rollout shard's result as it travels between a BullMQ worker and its coordinator
 * (core/rl/bullmq-rollouts.ts; ARCHITECTURE section 5). The batches are typed arrays of a few
 * hundred kilobytes per shard; `v8.serialize` copies each one twice and its deserialiser is slow
 * on them, so the batches are laid out as raw, 8-byte-aligned sections behind a JSON index and
 * decoded as views over the bytes read (no copy), in the spirit of Arrow IPC. The factory's
 * `extract` value (per-episode outcomes, also typed arrays) is laid out the same way.
 *
 * Layout: "OTCSHRD1" | u32 little-endian index length | index JSON | zero padding to 8 | sections.
 */
import type { ShardResult } from "./rollout-executor.ts";
import type { RolloutBatch } from "./rollout.ts";

const MAGIC = "OTCSHRD1";

const arrayTypes = {
  Float32Array,
  Float64Array,
  Int32Array,
  Uint32Array,
  Int16Array,
  Uint16Array,
  Int8Array,
  Uint8Array
} as const;
type ArrayTypeName = keyof typeof arrayTypes;
type Typed = InstanceType<(typeof arrayTypes)[ArrayTypeName]>;

/**
 * The index: the result as JSON in which every typed array is replaced by
 * {"$array": type, "offset", "length"} (its bytes in a section) and every number JSON cannot hold
 * (NaN, +-Infinity, -0) by {"$number": "NaN" | "Infinity" | "-Infinity" | "-0"}.
 */
interface Index {
  readonly ms: number;
  readonly batches: unknown;
  readonly extra: unknown;
  readonly hasExtra: boolean;
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;

const typeNameOf = (value: ArrayBufferView): ArrayTypeName => {
  for (const name of Object.keys(arrayTypes) as ArrayTypeName[]) if (value instanceof arrayTypes[name]) return name;
  throw new Error(`a rollout result holds a ${value.constructor.name}, which the shard codec does not carry`);
};

const specialNumber = (n: number): string | undefined =>
  Number.isNaN(n) ? "NaN" : n === Infinity ? "Infinity" : n === -Infinity ? "-Infinity" : Object.is(n, -0) ? "-0" : undefined;

/** The result's bytes: one allocation, each array copied once. */
export const encodeShardResult = (result: ShardResult): Uint8Array => {
  const sections: { offset: number; bytes: Uint8Array }[] = [];
  let end = 0;
  const lower = (value: unknown): unknown => {
    if (typeof value === "number") {
      const special = specialNumber(value);
      return special === undefined ? value : { $number: special };
    }
    if (ArrayBuffer.isView(value)) {
      const offset = end;
      sections.push({ offset, bytes: new Uint8Array(value.buffer, value.byteOffset, value.byteLength) });
      end = align8(offset + value.byteLength);
      return { $array: typeNameOf(value), offset, length: (value as Typed).length };
    }
    if (Array.isArray(value)) return value.map(lower);
    if (typeof value === "object" && value !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = lower(v);
      return out;
    }
    if (value === undefined || typeof value === "string" || typeof value === "boolean" || value === null) return value;
    throw new Error(`a rollout result holds a ${typeof value}, which the shard codec does not carry`);
  };
  const index: Index = { ms: result.ms, batches: lower(result.batches), extra: lower(result.extra), hasExtra: result.extra !== undefined };
  const json = new TextEncoder().encode(JSON.stringify(index));
  const head = align8(MAGIC.length + 4 + json.byteLength);
  const out = new Uint8Array(head + end);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.byteLength, true);
  out.set(json, MAGIC.length + 4);
  for (const section of sections) out.set(section.bytes, head + section.offset);
  return out;
};

/** The result in `bytes`, its arrays views over them (copied only if `bytes` is misaligned). */
export const decodeShardResult = (input: Uint8Array): ShardResult => {
  const bytes = input.byteOffset % 8 === 0 ? input : input.slice();
  if (bytes.byteLength < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) {
    throw new Error("not a rollout shard result (bad magic); the worker and the coordinator may run different code");
  }
  const indexLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length, true);
  const index = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + indexLength))) as Index;
  const base = bytes.byteOffset + align8(MAGIC.length + 4 + indexLength);
  const raise = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(raise);
    if (typeof value !== "object" || value === null) return value;
    const record = value as Record<string, unknown>;
    if (typeof record["$number"] === "string") return record["$number"] === "-0" ? -0 : Number(record["$number"]);
    if (typeof record["$array"] === "string") {
      const type = arrayTypes[record["$array"] as ArrayTypeName];
      return new type(bytes.buffer as ArrayBuffer, base + (record["offset"] as number), record["length"] as number);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record)) out[k] = raise(v);
    return out;
  };
  return { batches: raise(index.batches) as RolloutBatch[], extra: index.hasExtra ? raise(index.extra) : undefined, ms: index.ms };
};
