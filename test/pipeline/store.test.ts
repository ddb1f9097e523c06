/**
 * The artifact store (ARCHITECTURE section 3, "Cache key and store"): atomic writes that survive
 * SIGKILL, hash-checked reads that turn corruption into a warned miss, per-key locks shared by
 * processes, garbage collection of unreferenced blobs, and the input-file stat cache.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { getEventListeners } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createHash } from "node:crypto";
import { Effect, Exit, Fiber, Logger, Option } from "effect";
import { afterAll, describe, expect, it } from "vitest";
import { ArtifactStore, dataVersionOf, FsArtifactStore, type Manifest } from "../../core/pipeline/store.ts";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const storeModule = pathToFileURL(join(repo, "core/pipeline/store.ts")).href;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = (label: string) => {
  const dir = mkdtempSync(join(tmpdir(), `store-${label}-`));
  dirs.push(dir);
  return dir;
};
const sha = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");
const text = (s: string) => new TextEncoder().encode(s);

const manifestFor = (key: string, blob: string, bytes: number, exports?: Record<string, string>): Manifest => {
  const outputs = { value: { blob, codec: "raw", bytes } };
  return {
    version: 1,
    key,
    pipeline: "demo",
    node: `node-${key}`,
    stage: "stage",
    outputs,
    dataVersion: dataVersionOf(outputs),
    ...(exports ? { exports } : {}),
    provenance: {
      params: { alpha: 0.5, list: [1, 2] },
      inputs: { upstream: sha("upstream") },
      codeFingerprint: sha("code"),
      runtime: { node: "20" },
      startedAt: "2024-01-01T00:00:00.000Z",
      endedAt: "2024-01-01T00:00:01.000Z",
      backend: "cpu",
      seed: 42
    }
  };
};

const rejection = async (promise: Promise<unknown>): Promise<{ _tag?: string; message?: string }> => {
  try {
    await promise;
  } catch (e) {
    return e as { _tag?: string; message?: string };
  }
  throw new Error("expected the promise to reject");
};

/** Every file under blobs/ must be named by the hash of its content. */
const expectAllBlobsIntact = (root: string) => {
  const blobs = join(root, "blobs");
  if (!existsSync(blobs)) return;
  for (const prefix of readdirSync(blobs)) {
    for (const name of readdirSync(join(blobs, prefix))) {
      expect(name.startsWith(prefix)).toBe(true);
      expect(sha(readFileSync(join(blobs, prefix, name))), `blob ${name}`).toBe(name);
    }
  }
};

describe("FsArtifactStore blobs and manifests", () => {
  it("stores blobs by content hash, idempotently, and reads them back", async () => {
    const root = tempDir("blobs");
    const store = new FsArtifactStore(root);
    const bytes = text("hello artifacts");
    const hash = await store.putBlob(bytes);
    expect(hash).toBe(sha(bytes));
    expect(existsSync(join(root, "blobs", hash.slice(0, 2), hash))).toBe(true);
    expect(await store.putBlob(bytes)).toBe(hash);
    expect(await store.getBlob(hash)).toEqual(bytes);
    expect(readdirSync(join(root, "tmp"))).toEqual([]);
  });

  it("creates nothing on disk until something is written", async () => {
    const root = join(tempDir("lazy"), "store");
    const store = new FsArtifactStore(root);
    expect(await store.readManifest(sha("k"))).toBeUndefined();
    expect(await store.listManifests()).toEqual([]);
    expect((await rejection(store.getBlob(sha("x"))))._tag).toBe("BlobMissing");
    expect(await store.gc()).toEqual({ removedBlobs: 0, freedBytes: 0 });
    expect(existsSync(root)).toBe(false);
  });

  it("round-trips manifests, keeping extra provenance fields", async () => {
    const root = tempDir("manifest");
    const store = new FsArtifactStore(root);
    const bytes = text("output");
    const blob = await store.putBlob(bytes);
    const exported = await store.putBlob(text("parquet bytes"));
    const manifest = manifestFor(sha("key1"), blob, bytes.byteLength, { "value.parquet": exported });
    await store.writeManifest(manifest);
    expect(await store.readManifest(manifest.key)).toEqual(manifest);
    expect(await store.listManifests()).toEqual([manifest]);
    expect(await store.deleteManifest(manifest.key)).toBe(true);
    expect(await store.deleteManifest(manifest.key)).toBe(false);
    expect(await store.readManifest(manifest.key)).toBeUndefined();
  });

  it("refuses to write a manifest before its blobs, and rejects unsafe keys", async () => {
    const root = tempDir("order");
    const store = new FsArtifactStore(root);
    const manifest = manifestFor(sha("k"), sha("never stored"), 3);
    expect((await rejection(store.writeManifest(manifest)))._tag).toBe("BlobMissing");
    expect(existsSync(join(root, "actions", `${manifest.key}.json`))).toBe(false);
    expect((await rejection(store.readManifest("../escape")))._tag).toBe("InvalidStoreKey");
  });

  it("detects a flipped byte: getBlob fails with BlobCorrupt, readManifest warns and misses, a re-put repairs it", async () => {
    const root = tempDir("corrupt");
    const warnings: string[] = [];
    const store = new FsArtifactStore(root, { onWarning: (m) => warnings.push(m) });
    const bytes = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
    const blob = await store.putBlob(bytes);
    const manifest = manifestFor(sha("k"), blob, bytes.byteLength);
    await store.writeManifest(manifest);
    expect(await store.readManifest(manifest.key)).toEqual(manifest);

    const path = join(root, "blobs", blob.slice(0, 2), blob);
    const flipped = readFileSync(path);
    flipped[100] = flipped[100]! ^ 0x01;
    writeFileSync(path, flipped);
    expect(await store.readManifest(manifest.key)).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/corrupt/);

    writeFileSync(path, flipped);
    const error = await rejection(store.getBlob(blob));
    expect(error._tag).toBe("BlobCorrupt");
    expect(error.message).toMatch(/corrupt/);

    // The corrupt file was removed, so storing the output again writes it afresh.
    await store.putBlob(bytes);
    expect(await store.getBlob(blob)).toEqual(bytes);
    expect(await store.readManifest(manifest.key)).toEqual(manifest);
  });

  it("treats a missing blob or an unparsable manifest as a miss with a warning", async () => {
    const root = tempDir("missing");
    const warnings: string[] = [];
    const store = new FsArtifactStore(root, { onWarning: (m) => warnings.push(m) });
    const blob = await store.putBlob(text("a"));
    const manifest = manifestFor(sha("m"), blob, 1);
    await store.writeManifest(manifest);
    rmSync(join(root, "blobs", blob.slice(0, 2), blob));
    expect(await store.readManifest(manifest.key)).toBeUndefined();
    expect(warnings.at(-1)).toMatch(/missing/);

    const broken = sha("broken");
    writeFileSync(join(root, "actions", `${broken}.json`), '{"version": 1, "key": ');
    expect(await store.readManifest(broken)).toBeUndefined();
    writeFileSync(join(root, "actions", `${broken}.json`), JSON.stringify({ ...manifest, key: broken, version: 2 }));
    expect(await store.readManifest(broken)).toBeUndefined();
    expect(warnings).toHaveLength(3);
  });
});

describe("ArtifactStore service", () => {
  it("logs warnings through Effect.logWarning and maps failures to tagged errors", async () => {
    const root = tempDir("service");
    const logged: string[] = [];
    const logger = Logger.make(({ logLevel, message }) => {
      logged.push(`${logLevel.label}: ${Array.isArray(message) ? message.join(" ") : String(message)}`);
    });
    const program = Effect.gen(function* () {
      const store = yield* ArtifactStore;
      const bytes = text("service bytes");
      const blob = yield* store.putBlob(bytes);
      const manifest = manifestFor(sha("svc"), blob, bytes.byteLength);
      yield* store.writeManifest(manifest);
      const hit = yield* store.readManifest(manifest.key);
      writeFileSync(join(root, "blobs", blob.slice(0, 2), blob), "tampered");
      const miss = yield* store.readManifest(manifest.key);
      const missing = yield* Effect.either(store.getBlob(blob));
      return { hit, miss, missing, manifest };
    }).pipe(Effect.provide(ArtifactStore.layerFs(root)), Effect.provide(Logger.replace(Logger.defaultLogger, logger)));
    const { hit, miss, missing, manifest } = await Effect.runPromise(program);
    expect(hit).toEqual(manifest);
    expect(miss).toBeUndefined();
    expect(missing._tag === "Left" && missing.left._tag).toBe("BlobMissing");
    expect(logged.filter((l) => l.startsWith("WARN")).join("\n")).toMatch(/corrupt/);
  });

  it("withLock serialises fibers on one key, releases on failure and when interrupted while waiting", async () => {
    const root = tempDir("service-lock");
    const events: string[] = [];
    const critical = (name: string) =>
      Effect.gen(function* () {
        events.push(`start ${name}`);
        yield* Effect.sleep("60 millis");
        events.push(`end ${name}`);
      });
    const program = Effect.gen(function* () {
      const store = yield* ArtifactStore;
      yield* Effect.all([store.withLock("k", critical("a")), store.withLock("k", critical("b"))], { concurrency: "unbounded" });
      const failed = yield* Effect.exit(store.withLock("k", Effect.fail("boom" as const)));
      // Interrupt a fiber waiting for a held lock; the holder then finishes and the lock is free again.
      const holder = yield* Effect.fork(store.withLock("k", Effect.sleep("400 millis")));
      yield* Effect.sleep("20 millis");
      const waiter = yield* Effect.fork(store.withLock("k", Effect.sync(() => events.push("waiter ran"))));
      yield* Effect.sleep("20 millis");
      yield* Fiber.interrupt(waiter);
      // Interrupting the waiter did not wait for the holder to finish.
      const holderDoneAtInterrupt = Option.isSome(yield* Fiber.poll(holder));
      yield* Fiber.join(holder);
      const after = yield* store.withLock("k", Effect.succeed("free")).pipe(Effect.timeout("2 seconds"));
      return { failed, after, holderDoneAtInterrupt };
    }).pipe(Effect.provide(ArtifactStore.layerFs(root)));
    const { failed, after, holderDoneAtInterrupt } = await Effect.runPromise(program);
    expect(holderDoneAtInterrupt).toBe(false);
    expect(events.slice(0, 4)).toEqual(events[0] === "start a" ? ["start a", "end a", "start b", "end b"] : ["start b", "end b", "start a", "end a"]);
    expect(events).not.toContain("waiter ran");
    expect(Exit.isFailure(failed)).toBe(true);
    expect(after).toBe("free");
    expect(readdirSync(join(root, "locks"))).toEqual([]);
  });
});

/** Runs a TypeScript script in a fresh Node process (tsx), from the repo so `--import tsx` resolves. */
const spawnScript = (script: string, args: string[]): ChildProcess =>
  spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: repo, stdio: ["ignore", "ignore", "pipe"] });

const exitOf = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on("exit", (code, signal) => done({ code, signal })));

/** Deterministic non-constant bytes, built fast (a 1 MiB block repeated): the child rebuilds the same. */
const patternBytes = (size: number): Uint8Array => {
  const block = new Uint8Array(1 << 20);
  for (let i = 0; i < block.length; i++) block[i] = (i * 31 + (i >>> 13)) & 0xff;
  const out = new Uint8Array(size);
  for (let at = 0; at < size; at += block.length) out.set(block.subarray(0, Math.min(block.length, size - at)), at);
  return out;
};
const patternSource = patternBytes.toString();

describe("crash safety", () => {
  it("leaves no readable partial artifact when the writer is SIGKILLed mid-write, and cleans its tmp leftovers", async () => {
    const dir = tempDir("crash");
    const script = join(dir, "writer.mts"); // .mts: an ES module even outside a "type": "module" package
    const size = 64 * 1024 * 1024;
    writeFileSync(
      script,
      [
        `import { FsArtifactStore, dataVersionOf } from ${JSON.stringify(storeModule)};`,
        "const [root, sizeText] = process.argv.slice(2);",
        "const store = new FsArtifactStore(root!);",
        `const patternBytes = ${patternSource};`,
        "const bytes = patternBytes(Number(sizeText));",
        "const blob = await store.putBlob(bytes);",
        "const outputs = { value: { blob, codec: 'raw', bytes: bytes.byteLength } };",
        "await store.writeManifest({ version: 1, key: 'crash-key', pipeline: 'p', node: 'n', stage: 's', outputs, dataVersion: dataVersionOf(outputs),",
        "  provenance: { params: {}, inputs: {}, codeFingerprint: 'c', runtime: {}, startedAt: '', endedAt: '' } });"
      ].join("\n")
    );
    const expected = patternBytes(size);
    const expectedHash = sha(expected);

    let killedMidWrite = false;
    let root = "";
    let childErrors = "";
    for (let attempt = 0; attempt < 3 && !killedMidWrite; attempt++) {
      root = join(dir, `store-${attempt}`);
      const child = spawnScript(script, [root, String(size)]);
      child.stderr?.on("data", (d: Buffer) => (childErrors += d.toString()));
      const exited = exitOf(child);
      let done = false;
      void exited.then(() => (done = true));
      const tmp = join(root, "tmp");
      while (!done) {
        const partial = existsSync(tmp) ? readdirSync(tmp).map((n) => statSync(join(tmp, n), { throwIfNoEntry: false })?.size ?? 0).find((s) => s > 0 && s < size) : undefined;
        if (partial !== undefined) {
          child.kill("SIGKILL");
          killedMidWrite = true;
          break;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      const { signal } = await exited;
      if (killedMidWrite) expect(signal).toBe("SIGKILL");
    }
    expect(killedMidWrite, `the writer finished before it could be killed mid-write ${childErrors}`).toBe(true);

    const warnings: string[] = [];
    const store = new FsArtifactStore(root, { onWarning: (m) => warnings.push(m) });
    expect(existsSync(join(root, "blobs", expectedHash.slice(0, 2), expectedHash))).toBe(false);
    expectAllBlobsIntact(root);
    expect(await store.readManifest("crash-key")).toBeUndefined();
    expect(await store.listManifests()).toEqual([]);
    expect((await rejection(store.getBlob(expectedHash)))._tag).toBe("BlobMissing");
    expect(readdirSync(join(root, "tmp")).length).toBeGreaterThan(0);
    expect(await store.cleanTmp()).toBeGreaterThan(0);
    expect(readdirSync(join(root, "tmp"))).toEqual([]);
    expect(warnings).toEqual([]);
    // The store still works: the write succeeds when retried.
    expect(await store.putBlob(expected)).toBe(expectedHash);
    expectAllBlobsIntact(root);
  });
});

describe("locks", () => {
  it("makes two processes contending for one key run the critical section one after the other", async () => {
    const dir = tempDir("lock");
    const script = join(dir, "worker.mts");
    const log = join(dir, "log.txt");
    const go = join(dir, "go");
    writeFileSync(
      script,
      [
        'import { appendFileSync, existsSync } from "node:fs";',
        `import { FsArtifactStore } from ${JSON.stringify(storeModule)};`,
        "const [root, log, go, name] = process.argv.slice(2) as [string, string, string, string];",
        "const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));",
        "appendFileSync(log, `ready ${name}\\n`);",
        "while (!existsSync(go)) await sleep(5);",
        "const store = new FsArtifactStore(root, { lockPollMs: 10 });",
        "await store.withLock('shared-key', async () => {",
        "  appendFileSync(log, `start ${name}\\n`);",
        "  await sleep(300);",
        "  appendFileSync(log, `end ${name}\\n`);",
        "});"
      ].join("\n")
    );
    writeFileSync(log, "");
    const root = join(dir, "store");
    const children = ["A", "B"].map((name) => spawnScript(script, [root, log, go, name]));
    let exited = 0;
    const exits = children.map((child) => exitOf(child).then((r) => (exited++, r)));
    const stderr: string[] = [];
    children.forEach((child) => child.stderr?.on("data", (d: Buffer) => stderr.push(d.toString())));
    while (exited === 0 && readFileSync(log, "utf8").split("\n").filter((l) => l.startsWith("ready")).length < 2) await new Promise((r) => setTimeout(r, 10));
    expect(exited, stderr.join("")).toBe(0);
    writeFileSync(go, "");
    const results = await Promise.all(exits);
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    const lines = readFileSync(log, "utf8").trim().split("\n").filter((l) => !l.startsWith("ready"));
    expect(lines).toHaveLength(4);
    const first = lines[0]!.split(" ")[1]!;
    const second = first === "A" ? "B" : "A";
    expect(lines).toEqual([`start ${first}`, `end ${first}`, `start ${second}`, `end ${second}`]);
    expect(readdirSync(join(root, "locks"))).toEqual([]);
  });

  it("takes over a lock whose holder process is dead, but waits for a live one", async () => {
    const root = tempDir("stale");
    mkdirSync(join(root, "locks"), { recursive: true });
    const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
    const lockFile = join(root, "locks", "k.lock");
    writeFileSync(lockFile, JSON.stringify({ pid: dead, host: hostname(), nonce: "dead-holder", since: "then" }));
    const store = new FsArtifactStore(root, { lockPollMs: 5, lockTimeoutMs: 3000 });
    expect(await store.withLock("k", async () => JSON.parse(readFileSync(lockFile, "utf8")).pid as number)).toBe(process.pid);
    expect(existsSync(lockFile)).toBe(false);

    // A live holder (this process, as another store instance would be) is never taken over.
    const impatient = new FsArtifactStore(root, { lockPollMs: 5, lockTimeoutMs: 150 });
    const held = await store.acquireLock("k");
    const error = await rejection(impatient.withLock("k", async () => "should not run"));
    expect(error._tag).toBe("LockTimeout");
    await held.release();
    expect(await impatient.withLock("k", async () => "ran")).toBe("ran");
  });
});

describe("gc", () => {
  it("removes exactly the blobs no manifest references", async () => {
    const root = tempDir("gc");
    const store = new FsArtifactStore(root);
    const payloads = ["output of m1", "export of m1", "output of m2", "orphan", "another orphan, longer"].map(text);
    const [out1, exp1, out2, orphan1, orphan2] = await Promise.all(payloads.map((p) => store.putBlob(p)));
    await store.writeManifest(manifestFor(sha("m1"), out1!, payloads[0]!.byteLength, { "value.parquet": exp1! }));
    const m2 = manifestFor(sha("m2"), out2!, payloads[2]!.byteLength);
    await store.writeManifest(m2);
    await store.deleteManifest(m2.key);

    const result = await store.gc({ graceMs: 0 });
    expect(result.removedBlobs).toBe(3);
    expect(result.freedBytes).toBe(payloads[2]!.byteLength + payloads[3]!.byteLength + payloads[4]!.byteLength);
    for (const gone of [out2!, orphan1!, orphan2!]) expect((await rejection(store.getBlob(gone)))._tag).toBe("BlobMissing");
    expect(await store.getBlob(out1!)).toEqual(payloads[0]);
    expect(await store.getBlob(exp1!)).toEqual(payloads[1]);
    expect(await store.readManifest(sha("m1"))).toBeDefined();
    expect(await store.gc({ graceMs: 0 })).toEqual({ removedBlobs: 0, freedBytes: 0 });
    // The default grace period keeps a blob just written that nothing references yet.
    const young = await store.putBlob(text("young orphan"));
    expect((await store.gc()).removedBlobs).toBe(0);
    expect(await store.getBlob(young)).toEqual(text("young orphan"));
  });

  it("keeps the blobs a live run has leased but not yet committed, and drops the leases of dead runs", async () => {
    const root = tempDir("gc-lease");
    const run = new FsArtifactStore(root, { lease: true });
    const collector = new FsArtifactStore(root);
    const bytes = text("written, manifest not yet");
    const blob = await run.putBlob(bytes);
    expect((await collector.gc({ graceMs: 0 })).removedBlobs).toBe(0);
    // The run commits after the gc: its blob is still there.
    await run.writeManifest(manifestFor(sha("leased"), blob, bytes.byteLength));
    const orphan = await run.putBlob(text("leased, never committed"));
    await run.close();
    expect(readdirSync(join(root, "leases"))).toEqual([]);
    expect((await collector.gc({ graceMs: 0 })).removedBlobs).toBe(1);
    expect((await rejection(collector.getBlob(orphan)))._tag).toBe("BlobMissing");

    // A lease left by a process that died (SIGKILL: no close) protects nothing and is removed.
    const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
    writeFileSync(join(root, "leases", `${dead}.${hostname()}.x.json`), JSON.stringify({ pid: dead, host: hostname(), blobs: [orphan] }));
    const stray = await collector.putBlob(text("stray"));
    writeFileSync(join(root, "leases", `1.elsewhere.y.json`), JSON.stringify({ pid: 1, host: "elsewhere", blobs: [stray] }));
    expect((await collector.gc({ graceMs: 0 })).removedBlobs).toBe(0); // the other host's lease is fresh
    const past = new Date(Date.now() - 3_600_000);
    utimesSync(join(root, "leases", `1.elsewhere.y.json`), past, past);
    expect((await collector.gc({ graceMs: 0 })).removedBlobs).toBe(1);
    expect(readdirSync(join(root, "leases"))).toEqual([]);
  });

  it("keeps recently written unreferenced blobs within the grace period", async () => {
    const root = tempDir("gc-grace");
    const store = new FsArtifactStore(root);
    const fresh = await store.putBlob(text("fresh"));
    const old = await store.putBlob(text("old"));
    const past = new Date(Date.now() - 3_600_000);
    utimesSync(join(root, "blobs", old.slice(0, 2), old), past, past);
    expect((await store.gc({ graceMs: 60_000 })).removedBlobs).toBe(1);
    expect(await store.getBlob(fresh)).toEqual(text("fresh"));
  });
});

describe("lock waits", () => {
  it("adds no abort listener per poll, and announces the wait once, naming the holder", async () => {
    const root = tempDir("wait");
    const notices: string[] = [];
    const holder = new FsArtifactStore(root);
    const waiter = new FsArtifactStore(root, { lockPollMs: 1, onWait: (m) => notices.push(m) });
    const held = await holder.acquireLock("k", undefined, "node \"x\" of demo");
    const controller = new AbortController();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    const waiting = waiter.acquireLock("k", controller.signal);
    // Many polls (1-8 ms apart) while the lock stays held.
    await new Promise((r) => setTimeout(r, 400));
    expect(getEventListeners(controller.signal, "abort").length).toBeLessThanOrEqual(1);
    await held.release();
    const lock = await waiting;
    await lock.release();
    process.off("warning", onWarning);
    expect(warnings).not.toContain("MaxListenersExceededWarning");
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(new RegExp(`pid ${process.pid} on .+ \\(node "x" of demo\\)`));
  });

  it("takes over a lock of another host whose heartbeat stopped, never one whose heartbeat is fresh", async () => {
    const root = tempDir("heartbeat");
    mkdirSync(join(root, "locks"), { recursive: true });
    const lockFile = join(root, "locks", "k.lock");
    writeFileSync(lockFile, JSON.stringify({ pid: 1, host: "another-host", nonce: "theirs", since: "then" }));
    const impatient = new FsArtifactStore(root, { lockPollMs: 5, lockTimeoutMs: 200, lockStaleMs: 60_000, onWait: () => undefined, onWarning: () => undefined });
    expect((await rejection(impatient.withLock("k", async () => "ran"))).message).toMatch(/pid 1 on another-host/);
    const past = new Date(Date.now() - 120_000);
    utimesSync(lockFile, past, past);
    expect(await impatient.withLock("k", async () => "ran")).toBe("ran");
    expect(existsSync(lockFile)).toBe(false);

    // A holder refreshes its heartbeat, so a long critical section is not taken over.
    const beating = new FsArtifactStore(root, { lockHeartbeatMs: 20, lockStaleMs: 150 });
    const contender = new FsArtifactStore(root, { lockPollMs: 5, lockStaleMs: 150, onWait: () => undefined });
    const order: string[] = [];
    await Promise.all([
      beating.withLock("k", async () => {
        order.push("a start");
        await new Promise((r) => setTimeout(r, 500));
        order.push("a end");
      }),
      new Promise((r) => setTimeout(r, 30)).then(() => contender.withLock("k", async () => order.push("b")))
    ]);
    expect(order).toEqual(["a start", "a end", "b"]);
  });
});

describe("writes that fail", () => {
  it("a program that fails on bad usage leaves a fresh store untouched; one that succeeds records the stat cache", async () => {
    const dir = tempDir("usage");
    const input = join(dir, "input.csv");
    writeFileSync(input, "a,b\n1,2\n");
    const program = (fail: boolean) =>
      Effect.gen(function* () {
        const store = yield* ArtifactStore;
        yield* store.hashFile(input);
        if (fail) yield* Effect.fail({ _tag: "UsageError" as const, message: "bad param" });
      });
    const failed = await Effect.runPromiseExit(program(true).pipe(Effect.provide(ArtifactStore.layerFs(join(dir, "bad")))));
    expect(Exit.isFailure(failed)).toBe(true);
    expect(existsSync(join(dir, "bad"))).toBe(false);
    await Effect.runPromise(program(false).pipe(Effect.provide(ArtifactStore.layerFs(join(dir, "good")))));
    expect(readdirSync(join(dir, "good")).sort()).toEqual(["stat-cache.json", "tmp"]);
    expect(readdirSync(join(dir, "good", "tmp"))).toEqual([]);
  });

  // A tiny tmpfs gives a real ENOSPC (root only; the mount is undone at the end).
  const tinyFs = (() => {
    if (process.platform !== "linux" || process.getuid?.() !== 0) return undefined;
    const dir = mkdtempSync(join(tmpdir(), "store-enospc-"));
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", dir]).status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      return undefined;
    }
    return dir;
  })();
  afterAll(() => {
    if (tinyFs !== undefined) {
      spawnSync("umount", [tinyFs]);
      rmSync(tinyFs, { recursive: true, force: true });
    }
  });

  it.skipIf(tinyFs === undefined)("a write that runs out of space fails with one sentence and leaves no partial file in tmp/", async () => {
    const store = new FsArtifactStore(join(tinyFs!, "store"));
    const small = await store.putBlob(text("fits"));
    const error = await rejection(store.putBlob(patternBytes(1 << 20)));
    expect(error._tag).toBe("StoreIoError");
    expect(error.message).toMatch(/ENOSPC/);
    expect(readdirSync(join(tinyFs!, "store", "tmp"))).toEqual([]);
    expect(await store.getBlob(small)).toEqual(text("fits"));
  });
});

describe("verify", () => {
  it("hashes every blob; with repair drops corrupt blobs and the entries referencing them", async () => {
    const root = tempDir("verify");
    const store = new FsArtifactStore(root, { onWarning: () => undefined });
    const good = text("good bytes");
    const bad = text("bytes to be damaged");
    const goodBlob = await store.putBlob(good);
    const badBlob = await store.putBlob(bad);
    await store.writeManifest(manifestFor(sha("good"), goodBlob, good.byteLength));
    await store.writeManifest(manifestFor(sha("bad"), badBlob, bad.byteLength));
    writeFileSync(join(root, "blobs", badBlob.slice(0, 2), badBlob), "bytes to be DAMAGED");
    const report = await store.verify();
    expect(report).toMatchObject({ blobs: 2, corruptBlobs: [badBlob], brokenEntries: [sha("bad")], repaired: false });
    expect(existsSync(join(root, "blobs", badBlob.slice(0, 2), badBlob))).toBe(true);
    expect((await store.verify({ repair: true })).repaired).toBe(true);
    expect(await store.verify()).toMatchObject({ blobs: 1, corruptBlobs: [], brokenEntries: [] });
    expect(await store.readManifest(sha("good"))).toBeDefined();
    expect(await store.readManifest(sha("bad"))).toBeUndefined();
  });
});

describe("hashFile", () => {
  it("hashes input files and does not re-read a file whose size and mtime are unchanged", async () => {
    const dir = tempDir("hashfile");
    const root = join(dir, "store");
    const input = join(dir, "input.csv");
    writeFileSync(input, "a,b\n1,2\n");
    // A whole-second mtime, so that it can be restored exactly below.
    const mtime = new Date(Math.floor(Date.now() / 1000) * 1000 - 10_000);
    utimesSync(input, mtime, mtime);
    const store = new FsArtifactStore(root);
    expect(await store.hashFile(input)).toBe(sha("a,b\n1,2\n"));
    expect(existsSync(join(root, "stat-cache.json"))).toBe(true);

    // Same size, mtime restored: the cached hash is returned, proving the file was not read again,
    // also by a fresh store (another process) reading stat-cache.json.
    writeFileSync(input, "a,b\n3,4\n");
    utimesSync(input, mtime, mtime);
    expect(await store.hashFile(input)).toBe(sha("a,b\n1,2\n"));
    expect(await new FsArtifactStore(root).hashFile(input)).toBe(sha("a,b\n1,2\n"));

    // A new mtime is noticed.
    const later = new Date(mtime.getTime() + 5000);
    utimesSync(input, later, later);
    expect(await store.hashFile(input)).toBe(sha("a,b\n3,4\n"));
    expect(await new FsArtifactStore(root).hashFile(input)).toBe(sha("a,b\n3,4\n"));
    expect((await rejection(store.hashFile(join(dir, "absent.csv"))))._tag).toBe("StoreIoError");
  });
});
