/**
 * Small JSON files beside the store's blobs (node records, loop indexes, run records, curves):
 * written atomically (a temporary file renamed over the target, so a reader never sees half a
 * file) and read through a Schema, a file that is missing, unreadable or malformed reading as
 * absent, as a corrupt cache entry is a miss.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { Either, Schema } from "effect";

export const writeJsonAtomic = async (path: string, value: unknown): Promise<void> => {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, JSON.stringify(value));
  await rename(tmp, path);
};

export const readJson = async <A, I>(path: string, schema: Schema.Schema<A, I>): Promise<A | undefined> => {
  try {
    const text = await readFile(path, "utf8");
    const decoded = Schema.decodeUnknownEither(schema)(JSON.parse(text));
    return Either.isRight(decoded) ? decoded.right : undefined;
  } catch {
    return undefined;
  }
};
