/**
 * The content-addressed artifact store (ARCHITECTURE section 3, "Cache key and store"). Layout
 * under the root directory:
 *   blobs/<first 2 hex>/<sha256>  immutable artifact bytes, named by their hash
 *   actions/<key>.json            manifests: cache key -> output blobs, data version, provenance
 *   locks/<key>.lock              per-key exclusive locks (pid + host of the holder; its mtime is a heartbeat)
 *   leases/<pid>.<host>.<n>.json  blobs a live run has written but may not have committed yet (mtime: heartbeat)
 *   tmp/                          files being written; renamed into place when complete
 *   stat-cache.json               (size, mtime[, ctime]) -> hash of input files and verified blobs
 * Every write goes to a uniquely named file in tmp/, is fsynced and renamed into place, so a crash
 * (even SIGKILL) leaves either the old state or the new one, never a partial file under blobs/ or
 * actions/. A manifest is the commit point: it is written last, after all its blobs exist, and on
 * read every blob it references is checked against its hash; a missing or corrupt entry is a cache
 * miss with a warning (the corrupt blob is removed so the re-run writes it afresh). Per-key locks
 * let several processes share one store without running the same key twice; a lock whose holder is
 * dead, or whose heartbeat stopped (any host), is taken over. Garbage collection keeps a blob that a
 * manifest or a live run's lease references, or that is younger than a grace period, so it never
 * pulls a blob from under a run in flight. Nothing is created on disk until something is written,
 * and a store that cannot be written (read-only mount) still serves fully cached runs.
 *
 * Two faces: `FsArtifactStore`, a plain Promise-based class, and the Effect service `ArtifactStore`
 * (`ArtifactStore.layerFs(root)`) that wraps it with tagged errors and `Effect.logWarning`.
 */
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, utimes } from "node:fs/promises";
import { createHash, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { Cause, Context, Data, Effect, Either, Exit, Layer, Option, ParseResult, Runtime, Schema } from "effect";
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

/** Default grace period of gc: an unreferenced blob younger than this may be about to be committed. */
export const DEFAULT_GC_GRACE_MS = 10 * 60_000;

export interface GcOptions {
  /** Keep unreferenced blobs modified less than this many ms ago (a concurrent run may be about to reference them). Default 10 minutes. */
  readonly graceMs?: number;
}

/** What `verify` found: every blob hashed, every manifest checked for missing or corrupt blobs. */
export interface VerifyResult {
  readonly blobs: number;
  readonly bytes: number;
  readonly corruptBlobs: readonly string[];
  /** Keys of manifests that reference a corrupt or missing blob. */
  readonly brokenEntries: readonly string[];
  /** Whether the corrupt blobs and broken entries were removed. */
  readonly repaired: boolean;
}

/** How much checking a manifest read does. */
export type ManifestCheck =
  /** Check every blob (hashing unless the stat cache vouches for it); remove corrupt blobs, so a re-run writes them afresh. */
  | "repair"
  /** Decode the manifest only: the caller verifies the bytes it reads. Never modifies the store. */
  | "none";

export interface FsArtifactStoreOptions {
  /** Called with one sentence per problem found while reading (corrupt or missing entries). Default: console.warn. */
  readonly onWarning?: (message: string) => void;
  /** Initial lock polling interval in ms (doubles up to 8x while waiting). Default 25. */
  readonly lockPollMs?: number;
  /** Give up waiting for a lock after this many ms with `LockTimeout`. Default: wait as long as the holder lives. */
  readonly lockTimeoutMs?: number;
  /** How often a held lock's heartbeat (its mtime) is refreshed. Default 10 s. */
  readonly lockHeartbeatMs?: number;
  /** A lock whose heartbeat is older than this is taken over, whatever host holds it. Default 2 minutes. */
  readonly lockStaleMs?: number;
  /** Called once per lock wait with one sentence naming the holder. Default: onWarning. */
  readonly onWait?: (message: string) => void;
  /**
   * Record every blob this instance writes in a lease file, refreshed while the instance lives, so
   * a concurrent gc keeps them until `close()`. Default false (runs turn it on).
   */
  readonly lease?: boolean;
  /** How often the lease's heartbeat is refreshed. Default 10 s. */
  readonly leaseHeartbeatMs?: number;
  /** A lease whose heartbeat is older than this belongs to a dead run (on another host) and is ignored. Default 10 minutes. */
  readonly leaseStaleMs?: number;
  /**
   * Write stat-cache entries as they are learnt (default true). When false they are kept in memory
   * until `flushStatCache()`, so a run that fails on bad input leaves the store untouched.
   */
  readonly autoFlushStatCache?: boolean;
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
  /** What the holder is doing (e.g. the node it runs), for the waiter's message. */
  readonly label?: string;
}

interface StatCacheEntry {
  readonly size: number;
  readonly mtimeMs: number;
  readonly hash: string;
  /** Blobs only: a rewrite in place with a restored mtime still changes the ctime. */
  readonly ctimeMs?: number;
}

interface LeaseState {
  readonly path: string;
  readonly blobs: Set<string>;
  readonly timer: ReturnType<typeof setInterval>;
  written: Promise<void>;
}

const SAFE_KEY = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;
const HOST = hostname();
let tmpCounter = 0;

/** Sleeps `ms`, cut short when `signal` aborts; the abort listener is removed either way (no leak across polls). */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolveSleep) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolveSleep();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolveSleep();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

const WRITE_REFUSED = new Set(["EROFS", "EACCES", "EPERM", "ENOSPC", "EDQUOT"]);

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
  private readonly lockHeartbeatMs: number;
  private readonly lockStaleMs: number;
  private readonly onWait: (message: string) => void;
  private readonly useLease: boolean;
  private readonly leaseHeartbeatMs: number;
  private readonly leaseStaleMs: number;
  private readonly autoFlushStatCache: boolean;
  /** hash -> "size:mtimeMs:ctimeMs:ino" of a blob file this process has already verified. */
  private readonly verified = new Map<string, string>();
  private statCache: Map<string, StatCacheEntry> | undefined;
  /** Stat-cache entries learnt but not yet written (autoFlushStatCache false, or a write that failed). */
  private readonly pendingStat = new Map<string, StatCacheEntry>();
  private lease: LeaseState | undefined;
  private leaseOpening: Promise<LeaseState> | undefined;

  constructor(root = "artifacts", options: FsArtifactStoreOptions = {}) {
    this.root = resolve(root);
    this.onWarning = options.onWarning ?? ((message) => console.warn(message));
    this.lockPollMs = options.lockPollMs ?? 25;
    this.lockTimeoutMs = options.lockTimeoutMs;
    this.lockHeartbeatMs = options.lockHeartbeatMs ?? 10_000;
    this.lockStaleMs = options.lockStaleMs ?? 120_000;
    this.onWait = options.onWait ?? this.onWarning;
    this.useLease = options.lease ?? false;
    this.leaseHeartbeatMs = options.leaseHeartbeatMs ?? 10_000;
    this.leaseStaleMs = options.leaseStaleMs ?? 600_000;
    this.autoFlushStatCache = options.autoFlushStatCache ?? true;
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

  /** Writes bytes to `target` atomically: unique tmp file, fsync, rename. A failed write (ENOSPC...) leaves no tmp file behind. */
  private async writeAtomic(target: string, bytes: Uint8Array, syncDir = false): Promise<void> {
    const tmp = await this.tmpPath();
    const handle = await open(tmp, "wx");
    try {
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
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
    // Leased before it exists, so a gc that lists it afterwards also sees the lease.
    await this.leaseBlob(hash);
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

  /**
   * The bytes of a blob, verified against its hash (always hashed, never trusted from the stat
   * cache). Rejects with `BlobMissing` or `BlobCorrupt`; a corrupt file is removed unless
   * `keepCorrupt` (read-only callers such as `show` leave the repair to `verify --repair`).
   */
  async getBlob(hash: string, options: { readonly keepCorrupt?: boolean } = {}): Promise<Uint8Array> {
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
      this.verified.delete(hash);
      if (options.keepCorrupt) {
        throw new BlobCorrupt({ hash, actual, message: `Blob ${hash} is corrupt (its content hashes to ${actual}); run pipeline verify --repair to drop it, then run the pipeline again to recompute it.` });
      }
      await rm(path, { force: true });
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
    const signature = `${info.size}:${info.mtimeMs}:${info.ctimeMs}:${info.ino}`;
    if (this.verified.get(hash) === signature) return undefined;
    // Verified in an earlier run and untouched since: trust the stat cache, as DVC does, so a cached
    // re-run does not re-read every artifact. The ctime is part of the test because a rewrite in
    // place can restore the size and mtime (touch -r) but not the ctime. Bytes a running stage
    // reads go through getBlob, which always hashes.
    const absolute = resolve(path);
    const known = (await this.loadStatCache()).get(absolute);
    if (known !== undefined && known.hash === hash && known.size === info.size && known.mtimeMs === info.mtimeMs && known.ctimeMs === info.ctimeMs) {
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
    await this.rememberStat(absolute, { size: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs, hash });
    return undefined;
  }

  /**
   * The manifest of a key after checking it and every blob it references, or `undefined` with the
   * reason. Used by `readManifest`; exposed so the Effect service can log the reason its own way.
   */
  async inspectManifest(key: string, check: ManifestCheck = "repair"): Promise<{ readonly manifest?: Manifest; readonly problem?: string }> {
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
    if (check === "none") return { manifest };
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

  /**
   * Removes blobs that no manifest and no live run's lease references and that are older than the
   * grace period, expired leases, and tmp/ leftovers of writers that are no longer running. The
   * order is what makes it safe next to running runs, even with no grace period: a run leases a
   * blob before writing (or re-touching) it and removes its lease only after committing the
   * manifests, so gc lists the blobs first, then reads the leases, then the manifests; and it skips
   * a blob touched since it was listed.
   */
  async gc(options: GcOptions = {}): Promise<GcResult> {
    const graceMs = options.graceMs ?? DEFAULT_GC_GRACE_MS;
    const blobsDir = join(this.root, "blobs");
    const listed: Array<{ readonly name: string; readonly path: string; readonly mtimeMs: number; readonly size: number }> = [];
    for (const prefix of await readdir(blobsDir).catch(() => [] as string[])) {
      const dir = join(blobsDir, prefix);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const path = join(dir, name);
        const info = await stat(path).catch(() => undefined);
        if (info !== undefined) listed.push({ name, path, mtimeMs: info.mtimeMs, size: info.size });
      }
    }
    const referenced = await this.liveLeasedBlobs(true);
    for (const manifest of await this.listManifests()) for (const hash of manifestBlobs(manifest)) referenced.add(hash);
    let removedBlobs = 0;
    let freedBytes = 0;
    const now = Date.now();
    for (const blob of listed) {
      if (referenced.has(blob.name) || now - blob.mtimeMs < graceMs) continue;
      // Touched since listed: a run re-used it (putBlob of identical bytes) after the leases were read.
      const info = await stat(blob.path).catch(() => undefined);
      if (info === undefined || info.mtimeMs !== blob.mtimeMs) continue;
      await rm(blob.path, { force: true });
      this.verified.delete(blob.name);
      removedBlobs++;
      freedBytes += blob.size;
    }
    await this.cleanTmp();
    return { removedBlobs, freedBytes };
  }

  /**
   * Hashes every blob and checks every manifest's blobs exist. With `repair`, removes corrupt blobs
   * and the manifests referencing a corrupt or missing blob (and, for the loop index, nothing else:
   * a checkpoint whose manifest is gone is a miss), so the next run recomputes them.
   */
  async verify(options: { readonly repair?: boolean } = {}): Promise<VerifyResult> {
    const blobsDir = join(this.root, "blobs");
    const corrupt: string[] = [];
    const present = new Set<string>();
    let blobs = 0;
    let bytes = 0;
    for (const prefix of (await readdir(blobsDir).catch(() => [] as string[])).sort()) {
      const dir = join(blobsDir, prefix);
      for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) {
        const path = join(dir, name);
        const actual = await hashStream(path).catch(() => undefined);
        if (actual === undefined) continue; // removed meanwhile
        blobs++;
        bytes += (await stat(path).catch(() => ({ size: 0 }))).size;
        if (actual === name) present.add(name);
        else corrupt.push(name);
      }
    }
    const broken: string[] = [];
    for (const manifest of await this.listManifests()) {
      if (manifestBlobs(manifest).some((hash) => !present.has(hash))) broken.push(manifest.key);
    }
    if (options.repair) {
      for (const key of broken) await this.deleteManifest(key);
      for (const hash of corrupt) {
        await rm(this.blobPath(hash), { force: true });
        this.verified.delete(hash);
      }
    }
    return { blobs, bytes, corruptBlobs: corrupt, brokenEntries: broken, repaired: options.repair === true && corrupt.length + broken.length > 0 };
  }

  /** Blobs referenced by leases of live runs; with `prune`, removes the leases of dead runs. */
  private async liveLeasedBlobs(prune: boolean): Promise<Set<string>> {
    const dir = join(this.root, "leases");
    const blobs = new Set<string>();
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!name.endsWith(".json")) continue;
      const path = join(dir, name);
      const info = await stat(path).catch(() => undefined);
      if (info === undefined) continue;
      let lease: { pid?: unknown; host?: unknown; blobs?: unknown } | undefined;
      try {
        lease = JSON.parse(await readFile(path, "utf8")) as typeof lease;
      } catch {
        lease = undefined;
      }
      const sameHost = lease?.host === HOST && typeof lease.pid === "number";
      // On this host the pid says whether the run lives (a run busy computing may miss heartbeats);
      // elsewhere only the heartbeat can.
      const live = sameHost ? lease!.pid === process.pid || processAlive(lease!.pid as number) : Date.now() - info.mtimeMs < this.leaseStaleMs;
      if (live) {
        if (Array.isArray(lease?.blobs)) for (const hash of lease.blobs) if (typeof hash === "string") blobs.add(hash);
      } else if (prune) {
        await rm(path, { force: true });
      }
    }
    return blobs;
  }

  /** Adds a blob to this instance's lease (created on the first blob), when leases are on. */
  private async leaseBlob(hash: string): Promise<void> {
    if (!this.useLease) return;
    this.leaseOpening ??= (async () => {
      const dir = join(this.root, "leases");
      await mkdir(dir, { recursive: true });
      const path = join(dir, `${process.pid}.${HOST.replace(/[^A-Za-z0-9-]/g, "_")}.${randomBytes(6).toString("hex")}.json`);
      const timer = setInterval(() => {
        const now = new Date();
        void utimes(path, now, now).catch(() => undefined);
      }, this.leaseHeartbeatMs);
      timer.unref();
      this.lease = { path, blobs: new Set(), timer, written: Promise.resolve() };
      return this.lease;
    })();
    const lease = await this.leaseOpening.catch((e: unknown) => {
      this.leaseOpening = undefined;
      throw asStoreError(e, join(this.root, "leases"));
    });
    if (lease.blobs.has(hash)) return;
    lease.blobs.add(hash);
    // Writes are chained so the last one on disk holds every blob added so far.
    const write = lease.written.then(() =>
      this.writeAtomic(lease.path, new TextEncoder().encode(JSON.stringify({ pid: process.pid, host: HOST, blobs: [...lease.blobs] })))
    );
    lease.written = write.catch(() => undefined);
    await write.catch((e: unknown) => {
      throw asStoreError(e, lease.path);
    });
  }

  /** Ends this instance's lease (its blobs are then protected only by manifests and gc's grace period) and flushes the stat cache. */
  async close(options: { readonly flushStatCache?: boolean } = {}): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    this.leaseOpening = undefined;
    if (lease !== undefined) {
      clearInterval(lease.timer);
      await lease.written;
      await rm(lease.path, { force: true }).catch(() => undefined);
    }
    if (options.flushStatCache ?? true) await this.flushStatCache();
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
  async acquireLock(key: string, signal?: AbortSignal, label?: string, onWait: (message: string) => void = this.onWait): Promise<LockHandle> {
    const path = this.lockPath(key);
    await mkdir(join(this.root, "locks"), { recursive: true });
    const owner: LockOwner = { pid: process.pid, host: HOST, nonce: randomBytes(12).toString("hex"), since: new Date().toISOString(), ...(label ? { label } : {}) };
    const started = Date.now();
    let wait = this.lockPollMs;
    let announced = false;
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
        // The heartbeat: a holder that stops refreshing the lock's mtime (dead, or on a host that
        // vanished) is taken over once it is older than lockStaleMs.
        const heartbeat = setInterval(() => {
          const now = new Date();
          void utimes(path, now, now).catch(() => undefined);
        }, this.lockHeartbeatMs);
        heartbeat.unref();
        const lock: LockHandle = {
          key,
          release: () => {
            clearInterval(heartbeat);
            return this.releaseLock(path, owner.nonce);
          }
        };
        // If the caller gave up (interruption) as we got the lock, it will never release it: do it here.
        if (signal?.aborted) {
          await lock.release();
          throw new LockTimeout({ key, holder: "", message: `Stopped waiting for the lock of ${key} because the run was interrupted.` });
        }
        // Aborted after this returns but before the caller registered the release: release here.
        signal?.addEventListener("abort", () => void lock.release(), { once: true });
        return lock;
      } catch (e) {
        if (errnoCode(e) !== "EEXIST") throw asStoreError(e, path);
      }
      const holder = await readOwner(path);
      const beat = await stat(path).catch(() => undefined);
      const silentMs = beat === undefined ? 0 : Date.now() - beat.mtimeMs;
      if ((holder !== undefined && holder.host === HOST && !processAlive(holder.pid)) || silentMs > this.lockStaleMs) {
        await this.takeOverStale(path, holder, beat?.mtimeMs, onWait);
        continue;
      }
      const who = holder ? `pid ${holder.pid} on ${holder.host}${holder.label ? ` (${holder.label})` : ""} since ${holder.since}` : "an unknown process";
      if (this.lockTimeoutMs !== undefined && Date.now() - started > this.lockTimeoutMs) {
        throw new LockTimeout({ key, holder: who, message: `Timed out waiting for the lock of ${key}, held by ${who}; if that process is gone, delete ${path}.` });
      }
      if (!announced && holder !== undefined) {
        announced = true;
        onWait(`Waiting for ${label ?? `the lock of ${key.slice(0, 12)}`}: it is being computed by ${who}; its lock is taken over if its heartbeat stops for ${Math.round(this.lockStaleMs / 1000)} s.`);
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
  private async takeOverStale(path: string, stale: LockOwner | undefined, staleMtimeMs: number | undefined, notify: (message: string) => void): Promise<void> {
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
      // Still the same stale lock (same holder, no heartbeat since)? Another waiter may already have replaced it.
      const current = await readOwner(path);
      const info = await stat(path).catch(() => undefined);
      const same = stale !== undefined ? current?.nonce === stale.nonce : current === undefined && info?.mtimeMs === staleMtimeMs;
      if (same && info !== undefined) {
        const silent = Math.round((Date.now() - info.mtimeMs) / 1000);
        const why = stale !== undefined && stale.host === HOST && !processAlive(stale.pid) ? "its process has exited" : `no heartbeat for ${silent} s`;
        notify(`Taking over the lock ${path}${stale ? ` of pid ${stale.pid} on ${stale.host}` : ""}: ${why}.`);
        await rm(path, { force: true });
      }
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
  async withLock<T>(key: string, fn: () => Promise<T>, label?: string): Promise<T> {
    const lock = await this.acquireLock(key, undefined, label);
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
      await this.rememberStat(absolute, { size: before.size, mtimeMs: before.mtimeMs, hash });
    }
    return hash;
  }

  /** Learns a stat-cache entry: in memory at once, on disk now or at the next flush. */
  private async rememberStat(path: string, entry: StatCacheEntry): Promise<void> {
    (await this.loadStatCache()).set(path, entry);
    this.pendingStat.set(path, entry);
    if (this.autoFlushStatCache) await this.flushStatCache();
  }

  /**
   * Writes the pending stat-cache entries. Best effort: the cache only saves re-hashing, so a store
   * that cannot be written (read-only mount, full disk) keeps them in memory and carries on.
   */
  async flushStatCache(): Promise<void> {
    if (this.pendingStat.size === 0) return;
    const onDisk = await this.readStatCacheFile();
    for (const [path, entry] of this.pendingStat) onDisk.set(path, entry);
    const object = Object.fromEntries([...onDisk].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    try {
      await this.writeAtomic(this.statCachePath, new TextEncoder().encode(JSON.stringify(object, null, 1)));
      this.pendingStat.clear();
    } catch (e) {
      if (!WRITE_REFUSED.has(errnoCode(e) ?? "")) throw asStoreError(e, this.statCachePath);
    }
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
            map.set(path, { size: v.size, mtimeMs: v.mtimeMs, hash: v.hash, ...(typeof v.ctimeMs === "number" ? { ctimeMs: v.ctimeMs } : {}) });
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
      return { pid: parsed.pid, host: parsed.host, nonce: parsed.nonce, since: String(parsed.since), ...(typeof parsed.label === "string" ? { label: parsed.label } : {}) };
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
  /** Always hashes; `keepCorrupt` leaves a corrupt blob in place (for read-only callers). */
  readonly getBlob: (hash: string, options?: { readonly keepCorrupt?: boolean }) => Effect.Effect<Uint8Array, BlobMissing | BlobCorrupt | StoreError>;
  /** Missing -> undefined; unreadable or referencing a missing/corrupt blob -> undefined plus `Effect.logWarning`. */
  readonly readManifest: (key: string, check?: ManifestCheck) => Effect.Effect<Manifest | undefined, StoreError>;
  readonly writeManifest: (manifest: Manifest) => Effect.Effect<void, StoreError>;
  /**
   * Runs `effect` holding the key's exclusive lock (across processes); released on success,
   * failure or interruption. `label` names the work for whoever waits (logged once, at info level).
   */
  readonly withLock: <A, E, R>(key: string, effect: Effect.Effect<A, E, R>, label?: string) => Effect.Effect<A, E | StoreError, R>;
  readonly listManifests: () => Effect.Effect<readonly Manifest[], StoreError>;
  readonly deleteManifest: (key: string) => Effect.Effect<boolean, StoreError>;
  readonly gc: (options?: GcOptions) => Effect.Effect<GcResult, StoreError>;
  readonly verify: (options?: { readonly repair?: boolean }) => Effect.Effect<VerifyResult, StoreError>;
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
    getBlob: (hash, options) => fromPromise(root, () => store.getBlob(hash, options)),
    readManifest: (key, check) =>
      Effect.gen(function* () {
        const { manifest, problem } = yield* fromPromise(root, () => store.inspectManifest(key, check));
        if (problem !== undefined) yield* Effect.logWarning(problem);
        return manifest;
      }),
    writeManifest: (manifest) => fromPromise(root, () => store.writeManifest(manifest)),
    withLock: (key, effect, label) =>
      Effect.acquireUseRelease(
        // Interruptible while waiting, so a cancelled run does not block until the holder finishes.
        Effect.flatMap(Effect.runtime<never>(), (runtime) => {
          const log = (message: string) => Runtime.runFork(runtime)(Effect.logInfo(message));
          return Effect.interruptible(fromPromise(root, (signal) => store.acquireLock(key, signal, label, log)));
        }),
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
    verify: (options) => fromPromise(root, () => store.verify(options)),
    hashFile: (path) => fromPromise(path, () => store.hashFile(path))
  };
};

/** The artifact store as an Effect service. */
export class ArtifactStore extends Context.Tag("otc-marl/pipeline/ArtifactStore")<ArtifactStore, ArtifactStoreService>() {
  /**
   * A store on the local filesystem under `root` (created lazily, on first write). The blobs the
   * program writes are leased until the layer is released; stat-cache entries are written then,
   * unless the program failed on bad usage (so such a run leaves the store as it was).
   */
  static layerFs(root: string, options: Omit<FsArtifactStoreOptions, "onWarning" | "lease" | "autoFlushStatCache"> = {}): Layer.Layer<ArtifactStore> {
    return Layer.scoped(
      ArtifactStore,
      Effect.acquireRelease(
        Effect.sync(() => new FsArtifactStore(root, { ...options, onWarning: () => undefined, lease: true, autoFlushStatCache: false })),
        (store, exit) => {
          const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none();
          const usage = Option.isSome(failure) && (failure.value as { _tag?: unknown } | null)?._tag === "UsageError";
          return Effect.promise(() => store.close({ flushStatCache: !usage }).catch(() => undefined));
        }
      ).pipe(Effect.map(makeArtifactStoreService))
    );
  }
}
