/**
 * UTF-8 text codec for human-facing artifacts (HTML reports, Markdown, CSV), stored as written and
 * exported with their own extension so a browser or editor opens them directly.
 */
import type { Codec } from "./codec.ts";
import { CodecError } from "./errors.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export const textCodec = (extension: string): Codec<string> => ({
  name: `text/${extension}`,
  extension,
  encode: (text) => encoder.encode(text),
  decode: (bytes) => {
    try {
      return decoder.decode(bytes);
    } catch {
      throw new CodecError({ codec: `text/${extension}`, message: "Stored bytes are not UTF-8 text; re-create the artifact." });
    }
  }
});
