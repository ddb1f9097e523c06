/**
 * JSON codec for small structured artifacts (ARCHITECTURE section 4, "Artifacts"): summaries,
 * fitted parameters, loop state that is not a tensor. The value is encoded through its Effect
 * Schema and written as canonical JSON, so equal values give byte-identical blobs (and so equal
 * data versions); decoding validates the bytes against the same Schema.
 */
import { Either, ParseResult, Schema } from "effect";
import { canonicalJson } from "../canonical.ts";
import type { Codec } from "./codec.ts";
import { CodecError } from "./errors.ts";

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

// `any` for the encoded side only: the codec never looks at it beyond writing it as JSON.
export const jsonCodec = <A>(schema: Schema.Schema<A, any>): Codec<A> => {
  const encodeEither = Schema.encodeEither(schema);
  const decodeEither = Schema.decodeUnknownEither(schema);
  const name = "json";
  return {
    name,
    extension: "json",
    encode: (value) => {
      const encoded = encodeEither(value);
      if (Either.isLeft(encoded)) {
        throw new CodecError({ codec: name, message: `Value does not match its schema, so it cannot be stored: ${ParseResult.TreeFormatter.formatErrorSync(encoded.left)}` });
      }
      try {
        return utf8Encoder.encode(canonicalJson(encoded.right));
      } catch (cause) {
        throw new CodecError({ codec: name, message: `Value cannot be written as JSON (${(cause as Error).message})` });
      }
    },
    decode: (bytes) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(utf8Decoder.decode(bytes));
      } catch (cause) {
        throw new CodecError({ codec: name, message: `Stored bytes are not UTF-8 JSON (${String(cause)}); re-create the artifact.` });
      }
      const decoded = decodeEither(parsed);
      if (Either.isLeft(decoded)) {
        throw new CodecError({
          codec: name,
          message: `Stored JSON does not match the schema (was it written by another version of the stage?): ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`
        });
      }
      return decoded.right;
    }
  };
};
