/**
 * The one error the codecs throw (ARCHITECTURE section 4, "Artifacts"): bytes that do not decode
 * as the artifact type they claim to be, or a value the codec cannot encode. Codecs are plain
 * synchronous functions, so the error is thrown; runners wrap it into their failure channel.
 */
import { Data } from "effect";

/** A codec could not encode a value or decode bytes; `codec` names which one. */
export class CodecError extends Data.TaggedError("CodecError")<{
  readonly codec: string;
  readonly message: string;
}> {}
