/**
 * Code fingerprints (ARCHITECTURE section 3, "Cache key and store"): a stage's cache key includes
 * the SHA-256 of its module's source and, transitively, of every local module it imports, so
 * editing a stage or a helper it uses invalidates exactly the stages that depend on it. Only
 * relative specifiers (`./`, `../`) are followed; packages enter the key through
 * `runtimeFingerprint()` (their versions), not their sources. The import scanner is a small lexer
 * rather than a TypeScript parse: it skips comments and regex literals and reads static
 * `import ... from`, `export ... from`, side-effect `import "x"` and dynamic `import("x")` with a
 * string literal. An unusual construct can only make it follow too many files, never too few
 * among the forms above, which errs towards re-running.
 */
import { readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { sha256Hex } from "./hash.ts";

export interface ModuleFingerprint {
  /** SHA-256 over the (relative path, content hash) pairs of `files`. */
  readonly hash: string;
  /** The module and every local module it reaches, as paths relative to the root, sorted. */
  readonly files: readonly string[];
}

interface FileEntry {
  readonly mtimeMs: number;
  readonly size: number;
  readonly contentHash: string;
  /** Absolute paths of the local modules this file imports (resolved, existing when scanned). */
  readonly imports: readonly string[];
}

/** Per-process memo: path -> what we learnt from the file when it had this mtime and size. */
const fileMemo = new Map<string, FileEntry>();

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

/** Relative module specifiers a source file imports, in order of appearance, deduplicated. */
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

const scanFile = (path: string): FileEntry | undefined => {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return undefined;
  }
  const memo = fileMemo.get(path);
  if (memo !== undefined && memo.mtimeMs === stat.mtimeMs && memo.size === stat.size) return memo;
  const bytes = readFileSync(path);
  const imports: string[] = [];
  if (SCANNED_EXTENSIONS.test(path)) {
    for (const specifier of localSpecifiers(bytes.toString("utf8"))) {
      const target = resolveLocal(path, specifier);
      if (target !== undefined) imports.push(target);
    }
  }
  const entry: FileEntry = { mtimeMs: stat.mtimeMs, size: stat.size, contentHash: sha256Hex(bytes), imports };
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

/**
 * Fingerprint of a module and every local module it imports, transitively (cycles are fine).
 * `modulePath` is an absolute path or a `file:` URL such as `import.meta.url`. Paths in the hash
 * are relative to `root` (default: the nearest directory with a package.json) so moving the
 * checkout does not change fingerprints. Throws if the module itself does not exist.
 */
export const fingerprintModule = (modulePath: string, root?: string): ModuleFingerprint => {
  const entryPath = modulePath.startsWith("file:") ? fileURLToPath(modulePath) : resolve(modulePath);
  const rootDir = root ?? findRoot(entryPath);
  const contents = new Map<string, string>();
  const stack = [entryPath];
  while (stack.length > 0) {
    const path = stack.pop()!;
    if (contents.has(path)) continue;
    const entry = scanFile(path);
    if (entry === undefined) {
      if (path === entryPath) throw new Error(`Cannot fingerprint ${entryPath}: the file does not exist; pass the stage module's absolute path or import.meta.url.`);
      continue;
    }
    contents.set(path, entry.contentHash);
    for (const target of entry.imports) if (!contents.has(target)) stack.push(target);
  }
  const rows = [...contents].map(([path, contentHash]) => [relative(rootDir, path).split(sep).join("/"), contentHash] as const);
  rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { hash: sha256Hex(rows.map(([path, hash]) => `${path}\0${hash}\n`).join("")), files: rows.map(([path]) => path) };
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
