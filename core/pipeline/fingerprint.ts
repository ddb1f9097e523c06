/**
 * Code fingerprints (ARCHITECTURE sections 3 and 6): a stage's cache key includes a hash of what
 * its code really is, so editing a stage or a module it runs re-runs exactly the stages that run
 * it, and nothing else does. Each module is compiled with esbuild (the compiler tsx runs the code
 * with): types and type-only imports are erased and comments and formatting removed
 * (`minifyWhitespace`, identifiers kept), and the module's hash is the SHA-256 of that output, so
 * a comment, a type annotation or a reformat is not a code change. The local modules a stage
 * depends on are read from the compiled output too, which holds exactly the imports that run:
 * `import type`, `export type` and imports whose specifiers are all types are gone, re-exports
 * (`export ... from`, `export *`), side-effect imports and dynamic `import("x")` with a string
 * literal stay. Only relative specifiers (`./`, `../`) are followed; packages enter the key through
 * `runtimeFingerprint()` (their versions), not their sources. The esbuild version is part of the
 * scheme: its output for a given source is the same on every platform and Node version. A file
 * esbuild cannot parse is hashed as raw bytes and scanned with a comment-skipping lexer that
 * follows every import, which errs towards re-running. The per-file hashes are kept so a re-run
 * can name the first changed file and the import path that reached it (`describeCodeChange`).
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { transformSync, version as esbuildVersion, type Loader } from "esbuild";
import { sha256Hex } from "./hash.ts";

/** Names how module hashes are computed: hashes made under another scheme are not comparable. */
export const FINGERPRINT_SCHEME = `esbuild-${esbuildVersion}-minify-whitespace-v1`;

export interface ModuleFingerprint {
  /** SHA-256 over the scheme and the (relative path, module hash) pairs of `files`. */
  readonly hash: string;
  /** The module and every local module it reaches through value imports, relative to the root, sorted. */
  readonly files: readonly string[];
  /** Relative path -> hash of the module's compiled form (raw bytes for files that are not code). */
  readonly fileHashes: Readonly<Record<string, string>>;
  /** Relative path -> the local modules it imports (relative paths, sorted): the graph `describeCodeChange` walks. */
  readonly imports: Readonly<Record<string, readonly string[]>>;
  /** The module itself, relative to the root. */
  readonly entry: string;
  readonly scheme: string;
}

interface FileEntry {
  readonly mtimeMs: number;
  readonly size: number;
  /** Hash of the compiled module (or of the raw bytes). */
  readonly contentHash: string;
  /** Absolute paths of the local modules this file imports (resolved, existing when scanned). */
  readonly imports: readonly string[];
}

/** Per-process memo: path -> what we learnt from the file when it had this mtime and size. */
const fileMemo = new Map<string, FileEntry>();
interface Compiled {
  readonly hash: string;
  readonly specifiers: readonly string[];
}
/** Per-process memo: extension + raw content hash -> compiled hash and specifiers (a touched but unchanged file is not recompiled). */
const compileMemo = new Map<string, Compiled>();

/**
 * The compile memo persisted between processes (every `pipeline` command is a new process, and
 * compiling is most of a cold fingerprint's cost): one JSON file per scheme in the framework
 * project's node_modules/.cache, used only if that node_modules exists. Keyed by content hash, so
 * an entry can only be stale if the file is tampered with; an unreadable file is ignored.
 */
const DISK_CACHE_LIMIT = 8192;
let diskCache: { readonly path: string; dirty: boolean } | undefined | null;

const diskCachePath = (): string | undefined => {
  const modules = fileURLToPath(new URL("../../node_modules/", import.meta.url));
  try {
    if (!statSync(modules).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  return join(modules, ".cache", "otc-fingerprint", `${FINGERPRINT_SCHEME}.json`);
};

const isCompiledRow = (row: unknown): row is [string, string, string[]] =>
  Array.isArray(row) && row.length === 3 && typeof row[0] === "string" && typeof row[1] === "string" && Array.isArray(row[2]) && row[2].every((x) => typeof x === "string");

const loadDiskCache = (): void => {
  if (diskCache !== undefined) return;
  const path = diskCachePath();
  diskCache = path === undefined ? null : { path, dirty: false };
  if (path === undefined) return;
  try {
    const rows: unknown = JSON.parse(readFileSync(path, "utf8"));
    if (!Array.isArray(rows) || !rows.every(isCompiledRow)) return;
    for (const [key, hash, specifiers] of rows) if (!compileMemo.has(key)) compileMemo.set(key, { hash, specifiers });
  } catch {
    // Absent or unreadable: start empty.
  }
};

const saveDiskCache = (): void => {
  if (diskCache === undefined || diskCache === null || !diskCache.dirty) return;
  diskCache.dirty = false;
  const rows = [...compileMemo].slice(-DISK_CACHE_LIMIT).map(([key, c]) => [key, c.hash, c.specifiers]);
  try {
    mkdirSync(dirname(diskCache.path), { recursive: true });
    const tmp = `${diskCache.path}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, JSON.stringify(rows));
    renameSync(tmp, diskCache.path);
  } catch {
    // A read-only checkout: fingerprints are the same, only slower.
  }
};

/**
 * Forgets what this process has learnt (files, compiled forms), as a new process would; with
 * `diskCache: false` the persisted compile memo is not read or written either. For benchmarks.
 */
export const resetFingerprintMemo = (options: { readonly diskCache?: boolean } = {}): void => {
  fileMemo.clear();
  compileMemo.clear();
  diskCache = options.diskCache === false ? null : undefined;
};

const LOADERS: Record<string, Loader> = { ts: "ts", mts: "ts", cts: "ts", tsx: "tsx", js: "js", mjs: "js", cjs: "js", jsx: "jsx" };
const SCANNED_EXTENSIONS = /\.(ts|tsx|mts|cts|js|mjs|cjs|jsx)$/;
/** Characters after which a `/` starts a regex literal rather than a division. */
const REGEX_PRECEDERS = new Set([..."(,=:[!&|?{};+-*%<>~^"]);
const REGEX_KEYWORDS = /(?:^|[^\w$])(return|typeof|instanceof|in|of|new|delete|void|throw|case|do|else|yield|await)$/;

/**
 * The source with comments and regex literals blanked out (string and template literals kept, as
 * import specifiers live in them); a regex literal becomes the operand placeholder "0".
 */
export const stripComments = (source: string): string => {
  const out: string[] = [];
  const n = source.length;
  /**
   * The last few code characters emitted, runs of whitespace (and blanked comments) folded into
   * one space: enough to tell a regex literal (after an operator or keyword) from a division
   * (after an operand). Only computed when a "/" is met, so the scan stays linear.
   */
  const recentCode = (): string => {
    let text = "";
    for (let k = out.length - 1; k >= 0 && text.length < 16; k--) {
      const chunk = out[k]!;
      text = (chunk.trim() === "" ? (text.startsWith(" ") ? "" : " ") : chunk.trim()) + text;
    }
    return text.trim();
  };
  let i = 0;
  while (i < n) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      i = end === -1 ? n : end;
      continue;
    }
    if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? n : end + 2;
      out.push(source.slice(i, stop).replace(/[^\n]/g, " "));
      i = stop;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < n && source[j] !== c) {
        if (source[j] === "\\") j++;
        else if (c !== "`" && source[j] === "\n") break;
        j++;
      }
      out.push(source.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    if (c === "/") {
      const before = recentCode();
      const prev = before[before.length - 1] ?? "";
      if (prev === "" || REGEX_PRECEDERS.has(prev) || REGEX_KEYWORDS.test(before)) {
        let j = i + 1;
        let inClass = false;
        while (j < n && source[j] !== "\n") {
          const d = source[j]!;
          if (d === "\\") j++;
          else if (d === "[") inClass = true;
          else if (d === "]") inClass = false;
          else if (d === "/" && !inClass) break;
          j++;
        }
        // An operand placeholder: a "/" after a regex literal is a division.
        out.push("0");
        i = j + 1;
        continue;
      }
    }
    // Copy a run of ordinary characters in one chunk.
    let j = i + 1;
    while (j < n && !"/\"'`".includes(source[j]!)) j++;
    out.push(source.slice(i, j));
    i = j;
  }
  return out.join("");
};

const SPECIFIER_PATTERNS = [
  /\bfrom\s*(["'])([^"'\n]+)\1/g,
  /\bimport\s*(["'])([^"'\n]+)\1/g,
  /\bimport\s*\(\s*(["'`])([^"'`\n$]+)\1\s*\)/g
];

/**
 * Relative module specifiers a source file names in any import or re-export (type-only ones
 * included), in order of appearance, deduplicated. The fallback for files esbuild cannot compile,
 * and the scanner of compiled output, where only value imports are left.
 */
export const localSpecifiers = (source: string): string[] => {
  const code = stripComments(source);
  const found = new Set<string>();
  for (const pattern of SPECIFIER_PATTERNS) {
    for (const match of code.matchAll(pattern)) {
      const specifier = match[2]!;
      if (specifier.startsWith("./") || specifier.startsWith("../")) found.add(specifier);
    }
  }
  return [...found];
};

const isFile = (path: string): boolean => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/** Resolves a relative specifier like TypeScript's Bundler resolution does for our layout. */
export const resolveLocal = (fromFile: string, specifier: string): string | undefined => {
  const base = resolve(dirname(fromFile), specifier);
  const candidates = [base];
  if (/\.(js|mjs|cjs|jsx)$/.test(base)) candidates.push(base.replace(/\.(m|c)?jsx?$/, (ext) => ext.replace("js", "ts")));
  candidates.push(`${base}.ts`, `${base}.tsx`, join(base, "index.ts"), join(base, "index.tsx"));
  return candidates.find(isFile);
};

/**
 * The module's compiled form: TypeScript erased, comments and formatting removed, identifiers
 * and everything else kept. Undefined when esbuild cannot parse it.
 */
export const compiledForm = (source: string, path: string): string | undefined => {
  const extension = /\.([a-z]+)$/.exec(path)?.[1] ?? "ts";
  try {
    return transformSync(source, {
      loader: LOADERS[extension] ?? "ts",
      format: "esm",
      target: "esnext",
      minifyWhitespace: true,
      legalComments: "none",
      charset: "utf8",
      // Fixed here rather than read from a tsconfig: a project setting must not change hashes.
      tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: false, preserveValueImports: false, useDefineForClassFields: true } }
    }).code;
  } catch {
    return undefined;
  }
};

const analyse = (bytes: Buffer, path: string): Compiled => {
  const rawHash = sha256Hex(bytes);
  if (!SCANNED_EXTENSIONS.test(path)) return { hash: rawHash, specifiers: [] };
  loadDiskCache();
  const key = `${path.slice(path.lastIndexOf("."))}:${rawHash}`;
  const memo = compileMemo.get(key);
  if (memo !== undefined) {
    // Most recently used last: the disk cache keeps the newest entries when it is trimmed.
    compileMemo.delete(key);
    compileMemo.set(key, memo);
    return memo;
  }
  const source = bytes.toString("utf8");
  const compiled = compiledForm(source, path);
  const result =
    compiled === undefined
      ? { hash: sha256Hex(`raw\0${rawHash}`), specifiers: localSpecifiers(source) }
      : { hash: sha256Hex(`compiled\0${compiled}`), specifiers: localSpecifiers(compiled) };
  compileMemo.set(key, result);
  if (diskCache) diskCache.dirty = true;
  return result;
};

const scanFile = (path: string): FileEntry | undefined => {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return undefined;
  }
  const memo = fileMemo.get(path);
  if (memo !== undefined && memo.mtimeMs === stat.mtimeMs && memo.size === stat.size) return memo;
  const { hash, specifiers } = analyse(readFileSync(path), path);
  const imports: string[] = [];
  for (const specifier of specifiers) {
    const target = resolveLocal(path, specifier);
    if (target !== undefined) imports.push(target);
  }
  const entry: FileEntry = { mtimeMs: stat.mtimeMs, size: stat.size, contentHash: hash, imports };
  fileMemo.set(path, entry);
  return entry;
};

/** The nearest ancestor directory holding a package.json (the project root), else the module's directory. */
const findRoot = (file: string): string => {
  let dir = dirname(file);
  for (;;) {
    if (isFile(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return dirname(file);
    dir = parent;
  }
};

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Fingerprint of a module and every local module it imports for its values, transitively (cycles
 * are fine). `modulePath` is an absolute path or a `file:` URL such as `import.meta.url`. Paths
 * are relative to `root` (default: the nearest directory with a package.json) so moving the
 * checkout does not change fingerprints. Throws if the module itself does not exist.
 */
export const fingerprintModule = (modulePath: string, root?: string): ModuleFingerprint => {
  const entryPath = modulePath.startsWith("file:") ? fileURLToPath(modulePath) : resolve(modulePath);
  const rootDir = root ?? findRoot(entryPath);
  const rel = (path: string) => relative(rootDir, path).split(sep).join("/");
  const entries = new Map<string, FileEntry>();
  const stack = [entryPath];
  while (stack.length > 0) {
    const path = stack.pop()!;
    if (entries.has(path)) continue;
    const entry = scanFile(path);
    if (entry === undefined) {
      if (path === entryPath) throw new Error(`Cannot fingerprint ${entryPath}: the file does not exist; pass the stage module's absolute path or import.meta.url.`);
      continue;
    }
    entries.set(path, entry);
    for (const target of entry.imports) if (!entries.has(target)) stack.push(target);
  }
  const rows = [...entries].map(([path, entry]) => [rel(path), entry] as const);
  rows.sort((a, b) => byString(a[0], b[0]));
  const fileHashes: Record<string, string> = {};
  const imports: Record<string, string[]> = {};
  for (const [path, entry] of rows) {
    fileHashes[path] = entry.contentHash;
    imports[path] = [...new Set(entry.imports.filter((t) => entries.has(t)).map(rel))].sort(byString);
  }
  saveDiskCache();
  const hash = sha256Hex(`${FINGERPRINT_SCHEME}\n${rows.map(([path, entry]) => `${path}\0${entry.contentHash}\n`).join("")}`);
  return { hash, files: rows.map(([path]) => path), fileHashes, imports, entry: rel(entryPath), scheme: FINGERPRINT_SCHEME };
};

/** The first changed module of a fingerprint and the import path from the stage module to it. */
export interface CodeChange {
  /** The changed (or new) module, relative to the root; for `kind: "removed"`, the module no longer reached. */
  readonly file: string;
  /** The stage module, then each module imported on the way, ending with `file` (just `file` when it is the stage module; empty when removed). */
  readonly via: readonly string[];
  readonly kind: "changed" | "added" | "removed" | "scheme";
}

/**
 * Compares a fingerprint with a previous run's per-file hashes: the changed module nearest to the
 * stage module (fewest imports away, then by path) and the shortest import path to it. Undefined
 * when no module differs. Under another fingerprint scheme every hash differs, which is said as
 * such (`kind: "scheme"`, the stage module) rather than blamed on one file.
 */
export const describeCodeChange = (
  previous: { readonly fileHashes: Readonly<Record<string, string>>; readonly scheme?: string | undefined },
  current: ModuleFingerprint
): CodeChange | undefined => {
  if (previous.scheme !== undefined && previous.scheme !== current.scheme) return { file: current.entry, via: [current.entry], kind: "scheme" };
  const parent = new Map<string, string | undefined>([[current.entry, undefined]]);
  const queue = [current.entry];
  for (let i = 0; i < queue.length; i++) {
    const file = queue[i]!;
    const before = previous.fileHashes[file];
    if (before !== current.fileHashes[file]) {
      const via: string[] = [];
      for (let at: string | undefined = file; at !== undefined; at = parent.get(at)) via.unshift(at);
      return { file, via, kind: before === undefined ? "added" : "changed" };
    }
    for (const next of current.imports[file] ?? []) {
      if (!parent.has(next)) {
        parent.set(next, file);
        queue.push(next);
      }
    }
  }
  const gone = Object.keys(previous.fileHashes).filter((f) => current.fileHashes[f] === undefined).sort(byString)[0];
  return gone === undefined ? undefined : { file: gone, via: [], kind: "removed" };
};

/** One line for a code change: "core/otc/env.ts via stages/calibration.ts -> core/calibration/loop.ts -> core/otc/env.ts". */
export const formatCodeChange = (change: CodeChange): string => {
  if (change.kind === "scheme") return "the code fingerprint scheme changed (every module is re-hashed)";
  if (change.kind === "removed") return `${change.file} no longer imported`;
  const what = change.kind === "added" ? `${change.file} (newly imported)` : change.file;
  return change.via.length > 1 ? `${what} via ${change.via.join(" -> ")}` : what;
};

const RUNTIME_PACKAGES = ["effect", "apache-arrow", "parquet-wasm", "@tensorflow/tfjs", "onnxruntime-node"] as const;
let runtimeMemo: Record<string, string> | undefined;

const packageVersion = (name: string, fromDir: string): string => {
  let dir = fromDir;
  for (;;) {
    const candidate = join(dir, "node_modules", name, "package.json");
    if (isFile(candidate)) {
      try {
        const parsed: unknown = JSON.parse(readFileSync(candidate, "utf8"));
        if (typeof parsed === "object" && parsed !== null && "version" in parsed && typeof parsed.version === "string") return parsed.version;
      } catch {
        return "unreadable";
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return "absent";
    dir = parent;
  }
};

/**
 * Versions that can change results without any change to our sources: the Node major version and
 * the installed versions of effect, apache-arrow, parquet-wasm, @tensorflow/tfjs and onnxruntime-node ("absent" if
 * not installed). Read once per process.
 */
export const runtimeFingerprint = (): Record<string, string> => {
  if (runtimeMemo === undefined) {
    const here = dirname(fileURLToPath(import.meta.url));
    const versions: Record<string, string> = { node: process.versions.node.split(".")[0]! };
    for (const name of RUNTIME_PACKAGES) versions[name] = packageVersion(name, here);
    runtimeMemo = versions;
  }
  return { ...runtimeMemo };
};
