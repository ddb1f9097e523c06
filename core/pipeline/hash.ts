/**
 * SHA-256 in lowercase hex, the one hash of the pipeline framework (ARCHITECTURE section 3, "Cache
 * key and store"): cache keys, code fingerprints, blob addresses and data versions all use it, so
 * a value hashed anywhere can be compared with one hashed anywhere else.
 */
import { createHash } from "node:crypto";

/** Hex SHA-256 of raw bytes, or of a string's UTF-8 encoding. */
export const sha256Hex = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex");
