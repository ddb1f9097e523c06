/**
 * Export files: each node's output (and its extra encodings such as Parquet or HTML) copied out of
 * the content-addressed store under `exports/<pipeline>/<node>/`, where other tools can open them.
 * `run` writes them when a node finishes, hit or ran, so `show` only reads. A small record written last beside the files names the cache key they were copied
 * from: `show` presents the files as current only when that key is the node's latest result, so
 * files left by an older run, or by an interrupted copy, are never passed off as current. HTML
 * pages get a provenance header of the run that wrote them (run id, preset, overrides, seed, data
 * files, commit, time): it is in the exported copy only, so the stored result stays a pure function
 * of its inputs.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Effect, Either, Schema } from "effect";
import { ArtifactStore, type Manifest } from "./store.ts";

const RECORD = ".export.json";

const ExportRecord = Schema.Struct({
  key: Schema.String,
  files: Schema.Record({ key: Schema.String, value: Schema.String }),
  /** The run that wrote them (its provenance header is in the HTML files). */
  run: Schema.optional(Schema.String)
});
type ExportRecord = typeof ExportRecord.Type;

export const exportDir = (storeRoot: string, pipeline: string, node: string): string => join(storeRoot, "exports", pipeline, node);

/** Name -> file name of every file a manifest exports: `value.<ext>` and the stage's exports. */
const exportNames = (manifest: Manifest, valueExtension: string): Record<string, { file: string; blob: string }> => ({
  value: { file: `value.${valueExtension}`, blob: manifest.outputs["value"]!.blob },
  ...Object.fromEntries(Object.entries(manifest.exports ?? {}).map(([name, blob]) => [name, { file: name, blob }]))
});

const readRecord = async (dir: string): Promise<ExportRecord | undefined> => {
  try {
    const decoded = Schema.decodeUnknownEither(ExportRecord)(JSON.parse(await readFile(join(dir, RECORD), "utf8")));
    return Either.isRight(decoded) ? decoded.right : undefined;
  } catch {
    return undefined;
  }
};

const allExist = async (dir: string, files: Record<string, string>): Promise<boolean> => {
  for (const file of Object.values(files)) {
    try {
      await stat(join(dir, file));
    } catch {
      return false;
    }
  }
  return true;
};

/** A file operation whose failure keeps the system's message (e.g. ENOSPC, EACCES and the path). */
const io = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (e) => (e instanceof Error ? e : new Error(String(e))) });

/**
 * Copies a node's result to its export directory unless the files there already come from this
 * key. Each file is written under a private name and renamed; the record goes last. Files of an
 * earlier result that this one does not export are removed.
 */
/** A run's provenance for the HTML and Markdown exports: a header at the top of each page's body, a quote above each document. */
export interface ExportProvenance {
  readonly run: string;
  readonly html: string;
  readonly markdown: string;
}

const withHeader = (bytes: Uint8Array, header: string): Uint8Array => {
  const page = new TextDecoder().decode(bytes);
  const body = /<body[^>]*>/i.exec(page);
  const at = body === null ? 0 : body.index + body[0].length;
  return new TextEncoder().encode(page.slice(0, at) + header + page.slice(at));
};

export const writeExports = (storeRoot: string, pipeline: string, node: string, manifest: Manifest, valueExtension: string, provenance?: ExportProvenance) =>
  Effect.gen(function* () {
    const store = yield* ArtifactStore;
    const dir = exportDir(storeRoot, pipeline, node);
    const wanted = exportNames(manifest, valueExtension);
    const files = Object.fromEntries(Object.entries(wanted).map(([name, { file }]) => [name, file]));
    const previous = yield* Effect.promise(() => readRecord(dir));
    const htmlFiles = Object.values(files).some((f) => f.endsWith(".html") || f.endsWith(".md"));
    // Pages carry the header of the run that wrote them, so a new run rewrites them even for a cached result.
    const sameRun = provenance === undefined || !htmlFiles || previous?.run === provenance.run;
    if (previous?.key === manifest.key && sameRun && (yield* Effect.promise(() => allExist(dir, files)))) return;
    yield* io(() => rm(join(dir, RECORD), { force: true }).then(() => mkdir(dir, { recursive: true })));
    const tag = `${process.pid}.${Math.random().toString(36).slice(2)}`;
    for (const { file, blob } of Object.values(wanted)) {
      const stored = yield* store.getBlob(blob);
      const bytes =
        provenance === undefined
          ? stored
          : file.endsWith(".html")
            ? withHeader(stored, provenance.html)
            : file.endsWith(".md")
              ? new TextEncoder().encode(`${provenance.markdown}\n\n${new TextDecoder().decode(stored)}`)
              : stored;
      const tmp = join(dir, `.${file}.${tag}.tmp`);
      yield* io(() => writeFile(tmp, bytes).then(() => rename(tmp, join(dir, file))));
    }
    const keep = new Set(Object.values(files));
    const present = yield* io(() => readdir(dir));
    for (const name of present) {
      if (!keep.has(name) && name !== RECORD && !name.endsWith(".tmp")) yield* io(() => rm(join(dir, name), { force: true }));
    }
    const record: ExportRecord = { key: manifest.key, files, ...(provenance !== undefined ? { run: provenance.run } : {}) };
    const tmp = join(dir, `${RECORD}.${tag}.tmp`);
    yield* io(() => writeFile(tmp, JSON.stringify(record)).then(() => rename(tmp, join(dir, RECORD))));
  });

/**
 * The export files of a node's result, read only: name -> path when they were written from
 * `manifest` and are all present, otherwise undefined (the latest run did not write them).
 */
export const readExports = async (storeRoot: string, pipeline: string, node: string, manifest: Manifest): Promise<Record<string, string> | undefined> => {
  const dir = exportDir(storeRoot, pipeline, node);
  const record = await readRecord(dir);
  if (record === undefined || record.key !== manifest.key || !(await allExist(dir, record.files))) return undefined;
  return Object.fromEntries(Object.entries(record.files).map(([name, file]) => [name, join(dir, file)]));
};
