/**
 * The content-addressed artifact store (ARCHITECTURE section 3, "Cache key and store"). Layout
 * under the root directory:
 *   blobs/<first 2 hex>/<sha256>  immutable artifact bytes, named by their hash
 *   actions/<key>.json            manifests: cache key -> output blobs, data version, provenance
 *   locks/<key>.lock              per-key exclusive locks (pid + host of the holder)
 *   tmp/                          files being written; renamed into place when complete
 *   stat-cache.json               (size, mtime) -> hash of input files, so large inputs are hashed once
 * Every write goes to a uniquely named file in tmp/, is fsynced and renamed into place, so a crash
 * (even SIGKILL) leaves either the old state or the new one, never a partial file under blobs/ or
 * actions/. A manifest is the commit point: it is written last, after all its blobs exist, and on
 * read every blob it references is checked against its hash; a missing or corrupt entry is a cache
 * miss with a warning (the corrupt blob is removed so the re-run writes it afresh). Per-key locks
 * let several processes share one store without running the same key twice. Nothing is created on
 * disk until something is written.
 *
 * Two faces: `FsArtifactStore`, a plain Promise-based class, and the Effect service `ArtifactStore`
 * (`ArtifactStore.layerFs(root)`) that wraps it with tagged errors and `Effect.logWarning`.
 */
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, utimes } from "node:fs/promises";
import { createHash, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { Context, Data, Effect, Either, Layer, ParseResult, Schema } from "effect";
import { sha256Hex } from "./hash.ts";

// ---------------------------------------------------------------------------------------------
// Manifest

const Sha256 = Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/));
const StringRecord = Schema.Record({ key: Schema.String, value: Schema.String });

/**
 * The provenance of an artifact. Runners may add fields (seed, iteration, ...): they are kept
 * as they are, hence the index signature.
 */
const Provenance = Schema.Struct(
  {
    params: Schema.Unknown,
    inputs: StringRecord,
    codeFingerprint: Schema.String,
    runtime: StringRecord,
    startedAt: Schema.String,
    endedAt: Schema.String,
    backend: Schema.optional(Schema.String)
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
);

export const ManifestSchema = Schema.Struct({
  version: Schema.Literal(1),
  key: Schema.String,
  pipeline: Schema.String,
  node: Schema.String,
  stage: Schema.String,
  outputs: Schema.Record({
    key: Schema.String,
    value: Schema.Struct({ blob: Sha256, codec: Schema.String, bytes: Schema.Number })
  }),
  /** SHA-256 over the output blob hashes: equal outputs, equal data version. */
  dataVersion: Schema.String,
  /** Extra encodings of the output for other tools (e.g. "table.parquet" -> blob hash). */
  exports: Schema.optional(Schema.Record({ key: Schema.String, value: Sha256 })),
  provenance: Provenance
});
export type Manifest = typeof ManifestSchema.Type;

/** Data version of a set of outputs: SHA-256 over their blob hashes in output-name order. */
export const dataVersionOf = (outputs: Manifest["outputs"]): string =>
  sha256Hex(
    Object.keys(outputs)
      .sort()
      .map((name) => `${name}\0${outputs[name]!.blob}\n`)
      .join("")
  );

/** Every blob a manifest references (outputs and exports). */
export const manifestBlobs = (manifest: Manifest): string[] => [
  ...Object.values(manifest.outputs).map((o) => o.blob),
  ...Object.values(manifest.exports ?? {})
];

const decodeManifest = Schema.decodeUnknownEither(Schema.parseJson(ManifestSchema));
const encodeManifest = Schema.encodeSync(ManifestSchema);

// ---------------------------------------------------------------------------------------------
// Errors

export class BlobMissing extends Data.TaggedError("BlobMissing")<{ readonly hash: string; readonly message: string }> {}
export class BlobCorrupt extends Data.TaggedError("BlobCorrupt")<{ readonly hash: string; readonly actual: string; readonly message: string }> {}
export class InvalidStoreKey extends Data.TaggedError("InvalidStoreKey")<{ readonly key: string; readonly message: string }> {}
export class LockTimeout extends Data.TaggedError("LockTimeout")<{ readonly key: string; readonly holder: string; readonly message: string }> {}
export class StoreIoError extends Data.TaggedError("StoreIoError")<{ readonly path: string; readonly message: string }> {}

export type StoreError = BlobMissing | BlobCorrupt | InvalidStoreKey | LockTimeout | StoreIoError;
const STORE_ERROR_TAGS = new Set(["BlobMissing", "BlobCorrupt", "InvalidStoreKey", "LockTimeout", "StoreIoError"]);
const isStoreError = (e: unknown): e is StoreError =>
  typeof e === "object" && e !== null && "_tag" in e && typeof e._tag === "string" && STORE_ERROR_TAGS.has(e._tag);

const errnoCode = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined;

const asStoreError = (e: unknown, path: string): StoreError =>
  isStoreError(e) ? e : new StoreIoError({ path, message: `Artifact store I/O failed on ${path} (${String(e)}); check the disk and permissions of the store directory.` });

// ---------------------------------------------------------------------------------------------
// The store

export interface GcResult {
  readonly removedBlobs: number;
  readonly freedBytes: number;
}

export interface GcOptions {
  /** Keep unreferenced blobs modified less than this many ms ago (a concurrent run may be about to reference them). Default 0. */
  readonly graceMs?: number;
}

export interface FsArtifactStoreOptions {
  /** Called with one sentence per problem found while reading (corrupt or missing entries). Default: console.warn. */
  readonly onWarning?: (message: string) => void;
  /** Initial lock polling interval in ms (doubles up to 8x while waiting). Default 25. */
  readonly lockPollMs?: number;
  /** Give up waiting for a lock after this many ms with `LockTimeout`. Default: wait as long as the holder lives. */
  readonly lockTimeoutMs?: number;
}

export interface LockHandle {
  readonly key: string;
  /** Removes the lock file if it is still ours; never throws. */
  release(): Promise<void>;
}

interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly nonce: string;
  readonly since: string;
}

interface StatCacheEntry {
  readonly size: number;
  readonly mtimeMs: number;
  readonly hash: string;
}

const SAFE_KEY = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;
const HOST = hostname();
let tmpCounter = 0;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolveSleep) => {
    const timer = setTimeout(resolveSleep, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolveSleep();
    }, { once: true });
  });

/** Whether a process with this pid exists on this host (EPERM: it exists but is not ours). */
const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === "EPERM";
  }
};

export class FsArtifactStore {
  readonly root: string;
  private readonly onWarning: (message: string) => void;
  private readonly lockPollMs: number;
  private readonly lockTimeoutMs: number | undefined;
  /** hash -> "size:mtimeMs:ino" of a blob file this process has already verified. */
  private readonly verified = new Map<string, string>();
  private statCache: Map<string, StatCacheEntry> | undefined;

  constructor(root = "artifacts", options: FsArtifactStoreOptions = {}) {
    this.root = resolve(root);
    this.onWarning = options.onWarning ?? ((message) => console.warn(message));
    this.lockPollMs = options.lockPollMs ?? 25;
    this.lockTimeoutMs = options.lockTimeoutMs;
  }

  blobPath(hash: string): string {
    return join(this.root, "blobs", hash.slice(0, 2), hash);
  }

  manifestPath(key: string): string {
    return join(this.root, "actions", `${checkKey(key)}.json`);
  }

  private lockPath(key: string): string {
    return join(this.root, "locks", `${checkKey(key)}.lock`);
  }

  /** A fresh path in tmp/ naming the writer (pid, host) so leftovers of dead writers can be recognised. */
  private async tmpPath(): Promise<string> {
    const dir = join(this.root, "tmp");
    await mkdir(dir, { recursive: true });
    return join(dir, `${process.pid}.${HOST.replace(/[^A-Za-z0-9-]/g, "_")}.${++tmpCounter}.${randomBytes(6).toString("hex")}`);
  }

  /** Writes bytes to `target` atomically: unique tmp file, fsync, rename. */
  private async writeAtomic(target: string, bytes: Uint8Array, syncDir = false): Promise<void> {
    const tmp = await this.tmpPath();
    const handle = await open(tmp, "wx");
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      const dir = resolve(target, "..");
      await mkdir(dir, { recursive: true });
      await rename(tmp, target);
      if (syncDir) {
        // The rename is durable only once the directory entry is on disk.
        const dirHandle = await open(dir, "r");
        try {
          await dirHandle.sync();
        } catch {
          // Some filesystems refuse fsync on directories; the rename is still atomic.
        } finally {
          await dirHandle.close();
        }
      }
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /** Stores bytes under their SHA-256 and returns it. Idempotent: an existing intact blob is kept (and touched, for gc's grace period). */
  async putBlob(bytes: Uint8Array): Promise<string> {
    const hash = sha256Hex(bytes);
    const path = this.blobPath(hash);
    try {
      const existing = await stat(path);
      if (existing.size === bytes.byteLength) {
        const now = new Date();
        await utimes(path, now, now).catch(() => undefined);
        return hash;
      }
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw asStoreError(e, path);
    }
    try {
      await this.writeAtomic(path, bytes);
    } catch (e) {
      throw asStoreError(e, path);
    }
    return hash;
  }

  /** The bytes of a blob, verified against its hash. Rejects with `BlobMissing` or `BlobCorrupt` (and removes the corrupt file). */
  async getBlob(hash: string): Promise<Uint8Array> {
    if (!/^[0-9a-f]{64}$/.test(hash)) {
      throw new BlobMissing({ hash, message: `"${hash}" is not a SHA-256 blob hash; pass the hash putBlob returned.` });
    }
    const path = this.blobPath(hash);
    let buffer: Buffer;
    try {
      buffer = await readFile(path);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") {
        throw new BlobMissing({ hash, message: `Blob ${hash} is missing from the store; re-run the stage that produces it.` });
      }
      throw asStoreError(e, path);
    }
    const actual = sha256Hex(buffer);
    if (actual !== hash) {
      await rm(path, { force: true });
      this.verified.delete(hash);
      throw new BlobCorrupt({ hash, actual, message: `Blob ${hash} is corrupt (its content hashes to ${actual}); it was removed, re-run the stage that produces it.` });
    }
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  /** Checks a blob exists and matches its hash, hashing the file only if this process has not verified it at its current size and mtime. */
  private async verifyBlob(hash: string): Promise<string | undefined> {
    const path = this.blobPath(hash);
    let info;
    try {
      info = await stat(path);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return `blob ${hash} is missing`;
      throw e;
    }
    const signature = `${info.size}:${info.mtimeMs}:${info.ino}`;
    if (this.verified.get(hash) === signature) return undefined;
    // Verified in an earlier run and untouched since (same size and mtime): trust the stat cache, as
    // DVC does, so a cached re-run does not re-read every artifact. Any write changes the mtime.
    const absolute = resolve(path);
    const known = (await this.loadStatCache()).get(absolute);
    if (known !== undefined && known.hash === hash && known.size === info.size && known.mtimeMs === info.mtimeMs) {
      this.verified.set(hash, signature);
      return undefined;
    }
    const actual = await hashStream(path);
    if (actual !== hash) {
      await rm(path, { force: true });
      this.verified.delete(hash);
      return `blob ${hash} is corrupt (content hashes to ${actual.slice(0, 12)}...) and was removed`;
    }
    this.verified.set(hash, signature);
    const entry = { size: info.size, mtimeMs: info.mtimeMs, hash };
    this.statCache?.set(absolute, entry);
    await this.saveStatCacheEntry(absolute, entry);
    return undefined;
  }

  /**
   * The manifest of a key after checking it and every blob it references, or `undefined` with the
   * reason. Used by `readManifest`; exposed so the Effect service can log the reason its own way.
   */
  async inspectManifest(key: string): Promise<{ readonly manifest?: Manifest; readonly problem?: string }> {
    const path = this.manifestPath(key);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return {};
      throw asStoreError(e, path);
    }
    const decoded = decodeManifest(text);
    if (Either.isLeft(decoded)) {
      return { problem: `Cache entry ${key} has an unreadable manifest (${ParseResult.TreeFormatter.formatErrorSync(decoded.left).split("\n")[0]}); treating it as a miss and recomputing.` };
    }
    const manifest = decoded.right;
    if (manifest.key !== key) return { problem: `Cache entry ${key} holds the manifest of key ${manifest.key}; treating it as a miss and recomputing.` };
    for (const hash of manifestBlobs(manifest)) {
      let problem: string | undefined;
      try {
        problem = await this.verifyBlob(hash);
      } catch (e) {
        throw asStoreError(e, this.blobPath(hash));
      }
      if (problem !== undefined) return { problem: `Cache entry ${key} (${manifest.pipeline}/${manifest.node}): ${problem}; treating it as a miss and recomputing.` };
    }
    return { manifest };
  }

  /** The manifest of a key; `undefined` when absent, and also (with a warning) when unreadable or any blob it references is missing or corrupt. */
  async readManifest(key: string): Promise<Manifest | undefined> {
    const { manifest, problem } = await this.inspectManifest(key);
    if (problem !== undefined) this.onWarning(problem);
    return manifest;
  }

  /** Commits a manifest atomically. Its blobs must already be stored (rejects with `BlobMissing` otherwise), so a manifest never points at nothing. */
  async writeManifest(manifest: Manifest): Promise<void> {
    const path = this.manifestPath(manifest.key);
    for (const hash of manifestBlobs(manifest)) {
      try {
        await stat(this.blobPath(hash));
      } catch {
        throw new BlobMissing({ hash, message: `Manifest ${manifest.key} references blob ${hash}, which is not in the store; putBlob every output before writeManifest.` });
      }
    }
    const text = `${JSON.stringify(encodeManifest(manifest), null, 2)}\n`;
    try {
      await this.writeAtomic(path, new TextEncoder().encode(text), true);
    } catch (e) {
      throw asStoreError(e, path);
    }
  }

  /** Every readable manifest (blobs not verified; unreadable files are reported through onWarning and skipped). */
  async listManifests(): Promise<Manifest[]> {
    const dir = join(this.root, "actions");
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith(".json")).sort();
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return [];
      throw asStoreError(e, dir);
    }
    const manifests: Manifest[] = [];
    for (const name of names) {
      const path = join(dir, name);
      const text = await readFile(path, "utf8").catch(() => undefined);
      if (text === undefined) continue; // deleted meanwhile
      const decoded = decodeManifest(text);
      if (Either.isRight(decoded)) manifests.push(decoded.right);
      else this.onWarning(`Skipping unreadable manifest ${path}; delete it or run the pipeline again to replace it.`);
    }
    return manifests;
  }

  /** Forgets a cache entry (its blobs stay until gc). Returns whether there was one. */
  async deleteManifest(key: string): Promise<boolean> {
    const path = this.manifestPath(key);
    try {
      await unlink(path);
      return true;
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return false;
      throw asStoreError(e, path);
    }
  }

  /** Removes blobs no manifest references, and tmp/ leftovers of writers that are no longer running. */
  async gc(options: GcOptions = {}): Promise<GcResult> {
    const graceMs = options.graceMs ?? 0;
    const referenced = new Set<string>();
    for (const manifest of await this.listManifests()) for (const hash of manifestBlobs(manifest)) referenced.add(hash);
    let removedBlobs = 0;
    let freedBytes = 0;
    const blobsDir = join(this.root, "blobs");
    const now = Date.now();
    for (const prefix of await readdir(blobsDir).catch(() => [] as string[])) {
      const dir = join(blobsDir, prefix);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (referenced.has(name)) continue;
        const path = join(dir, name);
        const info = await stat(path).catch(() => undefined);
        if (info === undefined || now - info.mtimeMs < graceMs) continue;
        await rm(path, { force: true });
        this.verified.delete(name);
        removedBlobs++;
        freedBytes += info.size;
      }
    }
    await this.cleanTmp();
    return { removedBlobs, freedBytes };
  }

  /**
   * Removes tmp/ files left by writers that died mid-write (their pid no longer runs on this host),
   * and any tmp file older than a day. Returns how many were removed. Such leftovers are never read:
   * only files renamed out of tmp/ count.
   */
  async cleanTmp(): Promise<number> {
    const dir = join(this.root, "tmp");
    const host = HOST.replace(/[^A-Za-z0-9-]/g, "_");
    let removed = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const [pidText, writerHost] = name.split(".");
      const pid = Number(pidText);
      const path = join(dir, name);
      let dead = writerHost === host && Number.isInteger(pid) && pid !== process.pid && !processAlive(pid);
      if (!dead) {
        const info = await stat(path).catch(() => undefined);
        dead = info !== undefined && Date.now() - info.mtimeMs > 86_400_000;
      }
      if (dead) {
        await rm(path, { force: true });
        removed++;
      }
    }
    return removed;
  }

  // -------------------------------------------------------------------------------------------
  // Locks

  /**
   * Takes the exclusive lock of a key, waiting (polling) while another live process or fiber
   * holds it. A lock left by a dead process on this host is stale and taken over. Rejects with
   * `LockTimeout` after `lockTimeoutMs` if set; stops waiting (rejecting) when `signal` aborts.
   */
  async acquireLock(key: string, signal?: AbortSignal): Promise<LockHandle> {
    const path = this.lockPath(key);
    await mkdir(join(this.root, "locks"), { recursive: true });
    const owner: LockOwner = { pid: process.pid, host: HOST, nonce: randomBytes(12).toString("hex"), since: new Date().toISOString() };
    const started = Date.now();
    let wait = this.lockPollMs;
    for (;;) {
      if (signal?.aborted) throw new LockTimeout({ key, holder: "", message: `Stopped waiting for the lock of ${key} because the run was interrupted.` });
      try {
        const handle = await open(path, "wx");
        try {
          await handle.writeFile(JSON.stringify(owner));
          await handle.sync();
        } finally {
          await handle.close();
        }
        const lock: LockHandle = { key, release: () => this.releaseLock(path, owner.nonce) };
        // If the caller gave up (interruption) as we got the lock, it will never release it: do it here.
        if (signal?.aborted) {
          await lock.release();
          throw new LockTimeout({ key, holder: "", message: `Stopped waiting for the lock of ${key} because the run was interrupted.` });
        }
        signal?.addEventListener("abort", () => void lock.release(), { once: true });
        return lock;
      } catch (e) {
        if (errnoCode(e) !== "EEXIST") throw asStoreError(e, path);
      }
      const holder = await readOwner(path);
      if (holder !== undefined && holder.host === HOST && !processAlive(holder.pid)) {
        await this.takeOverStale(path, holder);
        continue;
      }
      if (this.lockTimeoutMs !== undefined && Date.now() - started > this.lockTimeoutMs) {
        const who = holder ? `pid ${holder.pid} on ${holder.host} since ${holder.since}` : "an unknown process";
        throw new LockTimeout({ key, holder: who, message: `Timed out waiting for the lock of ${key}, held by ${who}; if that process is gone, delete ${path}.` });
      }
      await sleep(wait, signal);
      wait = Math.min(wait * 2, this.lockPollMs * 8);
    }
  }

  /**
   * Removes a stale lock without racing other waiters: under a short-lived takeover lock, the
   * lock file is removed only if it still names the dead holder (another waiter may already have
   * replaced it with its own live lock).
   */
  private async takeOverStale(path: string, stale: LockOwner): Promise<void> {
    const guard = `${path}.takeover`;
    let guardHandle;
    try {
      guardHandle = await open(guard, "wx");
    } catch (e) {
      if (errnoCode(e) !== "EEXIST") throw asStoreError(e, guard);
      // Someone else is taking over; a guard older than 10 s was left by a process that died in this tiny window.
      const info = await stat(guard).catch(() => undefined);
      if (info !== undefined && Date.now() - info.mtimeMs > 10_000) await rm(guard, { force: true });
      await sleep(this.lockPollMs);
      return;
    }
    try {
      const current = await readOwner(path);
      if (current !== undefined && current.nonce === stale.nonce) await rm(path, { force: true });
    } finally {
      await guardHandle.close();
      await rm(guard, { force: true });
    }
  }

  private async releaseLock(path: string, nonce: string): Promise<void> {
    try {
      const current = await readOwner(path);
      if (current?.nonce === nonce) await unlink(path);
    } catch {
      // Already gone: nothing to release.
    }
  }

  /** Runs `fn` holding the key's lock; the lock is released however `fn` ends. */
  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const lock = await this.acquireLock(key);
    try {
      return await fn();
    } finally {
      await lock.release();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Input files

  /**
   * SHA-256 of a file, cached by (size, mtimeMs) in `<root>/stat-cache.json` so unchanged large
   * inputs are not re-read across runs. A file modified while being hashed is not cached.
   */
  async hashFile(path: string): Promise<string> {
    const absolute = resolve(path);
    const before = await stat(absolute).catch((e: unknown) => {
      throw asStoreError(e, absolute);
    });
    const cache = await this.loadStatCache();
    const cached = cache.get(absolute);
    if (cached !== undefined && cached.size === before.size && cached.mtimeMs === before.mtimeMs) return cached.hash;
    const hash = await hashStream(absolute).catch((e: unknown) => {
      throw asStoreError(e, absolute);
    });
    const after = await stat(absolute).catch(() => undefined);
    if (after !== undefined && after.size === before.size && after.mtimeMs === before.mtimeMs) {
      const entry = { size: before.size, mtimeMs: before.mtimeMs, hash };
      cache.set(absolute, entry);
      await this.saveStatCacheEntry(absolute, entry);
    }
    return hash;
  }

  private get statCachePath(): string {
    return join(this.root, "stat-cache.json");
  }

  private async readStatCacheFile(): Promise<Map<string, StatCacheEntry>> {
    const map = new Map<string, StatCacheEntry>();
    try {
      const parsed: unknown = JSON.parse(await readFile(this.statCachePath, "utf8"));
      if (typeof parsed === "object" && parsed !== null) {
        for (const [path, value] of Object.entries(parsed)) {
          const v = value as Partial<StatCacheEntry> | null;
          if (v && typeof v.size === "number" && typeof v.mtimeMs === "number" && typeof v.hash === "string") {
            map.set(path, { size: v.size, mtimeMs: v.mtimeMs, hash: v.hash });
          }
        }
      }
    } catch {
      // Missing or damaged cache: start empty, it is only an accelerator.
    }
    return map;
  }

  private async loadStatCache(): Promise<Map<string, StatCacheEntry>> {
    this.statCache ??= await this.readStatCacheFile();
    return this.statCache;
  }

  /** Merges one entry into the cache file (re-read first, so entries other processes added survive). */
  private async saveStatCacheEntry(path: string, entry: StatCacheEntry): Promise<void> {
    const onDisk = await this.readStatCacheFile();
    onDisk.set(path, entry);
    const object = Object.fromEntries([...onDisk].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    await this.writeAtomic(this.statCachePath, new TextEncoder().encode(JSON.stringify(object, null, 1)));
  }
}

const checkKey = (key: string): string => {
  if (!SAFE_KEY.test(key)) {
    throw new InvalidStoreKey({ key, message: `"${key}" cannot name a store entry; use letters, digits, "-", "_" and "." (a cache key from cacheKey() always works).` });
  }
  return key;
};

const readOwner = async (path: string): Promise<LockOwner | undefined> => {
  try {
    const parsed = JSON.parse(await readFile(path, "utf8")) as Partial<LockOwner>;
    if (typeof parsed.pid === "number" && typeof parsed.host === "string" && typeof parsed.nonce === "string") {
      return { pid: parsed.pid, host: parsed.host, nonce: parsed.nonce, since: String(parsed.since) };
    }
  } catch {
    // Missing (just released) or being written (created, not yet filled): treat as unknown holder.
  }
  return undefined;
};

const hashStream = (path: string): Promise<string> =>
  new Promise((resolveHash, reject) => {
    const hash = createHash("sha256");
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolveHash(hash.digest("hex")));
  });

// ---------------------------------------------------------------------------------------------
// Effect service

export interface ArtifactStoreService {
  readonly root: string;
  readonly putBlob: (bytes: Uint8Array) => Effect.Effect<string, StoreError>;
  readonly getBlob: (hash: string) => Effect.Effect<Uint8Array, BlobMissing | BlobCorrupt | StoreError>;
  /** Missing -> undefined; unreadable or referencing a missing/corrupt blob -> undefined plus `Effect.logWarning`. */
  readonly readManifest: (key: string) => Effect.Effect<Manifest | undefined, StoreError>;
  readonly writeManifest: (manifest: Manifest) => Effect.Effect<void, StoreError>;
  /** Runs `effect` holding the key's exclusive lock (across processes); released on success, failure or interruption. */
  readonly withLock: <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StoreError, R>;
  readonly listManifests: () => Effect.Effect<readonly Manifest[], StoreError>;
  readonly deleteManifest: (key: string) => Effect.Effect<boolean, StoreError>;
  readonly gc: (options?: GcOptions) => Effect.Effect<GcResult, StoreError>;
  readonly hashFile: (path: string) => Effect.Effect<string, StoreError>;
}

const fromPromise = <A>(path: string, run: (signal: AbortSignal) => Promise<A>): Effect.Effect<A, StoreError> =>
  Effect.tryPromise({ try: run, catch: (e) => asStoreError(e, path) });

/** Wraps a store instance as the Effect service; warnings go to `Effect.logWarning`. */
export const makeArtifactStoreService = (store: FsArtifactStore): ArtifactStoreService => {
  const root = store.root;
  const warnAll = (messages: readonly string[]) => Effect.forEach(messages, (m) => Effect.logWarning(m), { discard: true });
  return {
    root,
    putBlob: (bytes) => fromPromise(root, () => store.putBlob(bytes)),
    getBlob: (hash) => fromPromise(root, () => store.getBlob(hash)),
    readManifest: (key) =>
      Effect.gen(function* () {
        const { manifest, problem } = yield* fromPromise(root, () => store.inspectManifest(key));
        if (problem !== undefined) yield* Effect.logWarning(problem);
        return manifest;
      }),
    writeManifest: (manifest) => fromPromise(root, () => store.writeManifest(manifest)),
    withLock: (key, effect) =>
      Effect.acquireUseRelease(
        // Interruptible while waiting, so a cancelled run does not block until the holder finishes.
        Effect.interruptible(fromPromise(root, (signal) => store.acquireLock(key, signal))),
        () => effect,
        (lock) => Effect.promise(() => lock.release())
      ),
    listManifests: () =>
      Effect.gen(function* () {
        const warnings: string[] = [];
        const scoped = new FsArtifactStore(root, { onWarning: (m) => warnings.push(m) });
        const manifests = yield* fromPromise(root, () => scoped.listManifests());
        yield* warnAll(warnings);
        return manifests;
      }),
    deleteManifest: (key) => fromPromise(root, () => store.deleteManifest(key)),
    gc: (options) => fromPromise(root, () => store.gc(options)),
    hashFile: (path) => fromPromise(path, () => store.hashFile(path))
  };
};

/** The artifact store as an Effect service. */
export class ArtifactStore extends Context.Tag("otc-marl/pipeline/ArtifactStore")<ArtifactStore, ArtifactStoreService>() {
  /** A store on the local filesystem under `root` (created lazily, on first write). */
  static layerFs(root: string, options: Omit<FsArtifactStoreOptions, "onWarning"> = {}): Layer.Layer<ArtifactStore> {
    return Layer.sync(ArtifactStore, () => makeArtifactStoreService(new FsArtifactStore(root, { ...options, onWarning: () => undefined })));
  }
}
