/**
 * Composite codec: one artifact made of named parts, each with its own codec (for example a
 * training checkpoint = a tensor bundle of weights + JSON loop state + an Arrow table of metrics).
 * Layout: uint32 little-endian length of a JSON index `[{"name","codec","length"}...]` in part
 * order, the index, then each part's bytes. Part order is the declaration order, so equal values
 * encode to identical bytes.
 */
import type { Codec } from "./codec.ts";
import { CodecError } from "./errors.ts";

type Parts<A> = { readonly [K in keyof A]: Codec<A[K]> };

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export const compositeCodec = <A extends Record<string, unknown>>(name: string, parts: Parts<A>): Codec<A> => {
  const names = Object.keys(parts) as Array<keyof A & string>;
  const fail = (message: string): never => {
    throw new CodecError({ codec: name, message });
  };
  return {
    name,
    extension: "bin",
    encode: (value) => {
      const encoded = names.map((part) => parts[part].encode(value[part]));
      const index = utf8.encode(JSON.stringify(names.map((part, i) => ({ name: part, codec: parts[part].name, length: encoded[i]!.byteLength }))));
      const total = 4 + index.byteLength + encoded.reduce((s, b) => s + b.byteLength, 0);
      const out = new Uint8Array(total);
      new DataView(out.buffer).setUint32(0, index.byteLength, true);
      out.set(index, 4);
      let offset = 4 + index.byteLength;
      for (const bytes of encoded) {
        out.set(bytes, offset);
        offset += bytes.byteLength;
      }
      return out;
    },
    decode: (bytes) => {
      if (bytes.byteLength < 4) fail("the artifact is truncated; re-create it.");
      const indexLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
      if (4 + indexLength > bytes.byteLength) fail("the artifact's index is truncated; re-create it.");
      let index: Array<{ name: string; codec: string; length: number }>;
      try {
        index = JSON.parse(fromUtf8.decode(bytes.subarray(4, 4 + indexLength))) as typeof index;
      } catch {
        return fail("the artifact's index is not JSON; re-create it.");
      }
      if (!Array.isArray(index) || index.length !== names.length || index.some((e, i) => e.name !== names[i])) {
        fail(`the artifact holds parts ${JSON.stringify(index?.map?.((e) => e.name))}, expected ${JSON.stringify(names)}; re-create it.`);
      }
      const value: Record<string, unknown> = {};
      let offset = 4 + indexLength;
      for (const [i, part] of names.entries()) {
        const length = index[i]!.length;
        if (offset + length > bytes.byteLength) fail(`part "${part}" is truncated; re-create the artifact.`);
        // Copy each part so codecs that need aligned buffers (tensor bundles) get them.
        value[part] = parts[part].decode(bytes.slice(offset, offset + length));
        offset += length;
      }
      return value as A;
    }
  };
};
