/**
 * Code fingerprints (ARCHITECTURE sections 3 and 6): a stage's key must change when the code it
 * runs changes (its module or a module it imports for values), and only then: not for comments,
 * formatting, types or modules reached only through type imports.
 */
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  compiledForm,
  describeCodeChange,
  fingerprintModule,
  FINGERPRINT_SCHEME,
  formatCodeChange,
  localSpecifiers,
  resetFingerprintMemo,
  runtimeFingerprint
} from "../../core/pipeline/fingerprint.ts";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/**
 * A small project: src/stage.ts imports helpers in several syntaxes, value and type-only;
 * src/unused.ts is imported by nobody.
 */
const makeProject = (): string => {
  const root = mkdtempSync(join(tmpdir(), "fingerprint-"));
  dirs.push(root);
  const files: Record<string, string> = {
    "package.json": "{}",
    "src/stage.ts": [
      'import { helper } from "./helper.ts";',
      'import type { Shape } from "../lib/types.js";',
      'import { type Only, type Types } from "./type-specifiers.ts";',
      'export type { Exported } from "./type-export.ts";',
      'export * from "./reexported";',
      'export { named } from "./named.ts";',
      'import "./side-effect.ts";',
      'const lazy = () => import("./lazy.ts");',
      'import { Effect } from "effect";',
      '// import { nope } from "./unused.ts";',
      "/* import './unused.ts' */",
      "export const run = (s: Shape, t?: Only | Types) => helper(s) / 2 / lazy.length + (t === undefined ? 0 : 1);"
    ].join("\n"),
    "src/helper.ts": 'import { deep } from "../lib/deep/index.ts";\nexport const helper = (x: unknown) => deep(x);\n',
    "lib/types.ts": "export type Shape = number;\n",
    "src/type-specifiers.ts": "export type Only = 1;\nexport type Types = 2;\n",
    "src/type-export.ts": "export interface Exported { readonly x: number }\n",
    "src/reexported/index.ts": 'import { run } from "../stage.ts";\nexport const again = () => run(1);\n',
    "src/named.ts": "export const named = 4;\n",
    "src/side-effect.ts": "globalThis.toString();\n",
    "src/lazy.ts": "export const lazy = 3;\n",
    "lib/deep/index.ts": 'import { helper } from "../../src/helper.ts";\nexport const deep = (x: unknown) => Number(x);\nexport const back = () => helper(0);\n',
    "src/unused.ts": "export const nope = 0;\n"
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
};

const VALUE_FILES = ["lib/deep/index.ts", "src/helper.ts", "src/lazy.ts", "src/named.ts", "src/reexported/index.ts", "src/side-effect.ts", "src/stage.ts"];

const editFile = (root: string, file: string, edit: (text: string) => string) => writeFileSync(join(root, file), edit(readFileSync(join(root, file), "utf8")));

describe("fingerprintModule", () => {
  it("covers the module and, transitively, every local module it imports for values, relative to the project root", () => {
    const root = makeProject();
    const fp = fingerprintModule(join(root, "src/stage.ts"));
    // Not lib/types.ts (import type), src/type-specifiers.ts (only type specifiers), src/type-export.ts (export type).
    expect(fp.files).toEqual(VALUE_FILES);
    expect(fp.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(fp.entry).toBe("src/stage.ts");
    expect(Object.keys(fp.fileHashes)).toEqual(VALUE_FILES);
    expect(fp.imports["src/stage.ts"]).toEqual(["src/helper.ts", "src/lazy.ts", "src/named.ts", "src/reexported/index.ts", "src/side-effect.ts"]);
    // A file: URL (import.meta.url of the stage module) names the same module.
    expect(fingerprintModule(pathToFileURL(join(root, "src/stage.ts")).href)).toEqual(fp);
  });

  it("changes when the code of any module it reaches changes, not when an unreached one does", () => {
    const root = makeProject();
    const entry = join(root, "src/stage.ts");
    const first = fingerprintModule(entry).hash;
    appendFileSync(join(root, "src/unused.ts"), "export const more = 1;\n");
    appendFileSync(join(root, "lib/types.ts"), "export const notAType = 1;\n");
    expect(fingerprintModule(entry).hash).toBe(first);
    const seen = new Set([first]);
    for (const file of VALUE_FILES) {
      appendFileSync(join(root, file), "\nexport const edited = 1;\n");
      const hash = fingerprintModule(entry).hash;
      expect(seen.has(hash), `editing the code of ${file} must change the fingerprint`).toBe(false);
      seen.add(hash);
    }
  });

  it("does not change for comments, formatting, types or type-only imports", () => {
    const root = makeProject();
    const entry = join(root, "src/stage.ts");
    const first = fingerprintModule(entry);
    for (const file of VALUE_FILES) appendFileSync(join(root, file), "\n// a comment\n/** a doc comment */\n");
    editFile(root, "src/helper.ts", (t) => `/**\n * The helper module.\n */\n${t.replace("(x: unknown) => deep(x)", "(\n  x: unknown\n) =>\n    deep( x )")}`);
    editFile(root, "src/stage.ts", (t) => t.replace("(s: Shape, t?: Only | Types)", "(s: Shape | string, t?: Only)").replace("import type { Shape }", "import type { Shape, Other }"));
    editFile(root, "lib/types.ts", (t) => `${t}export type Other = string;\n`);
    editFile(root, "src/type-specifiers.ts", (t) => t.replace("= 1", "= 3"));
    // Windows line endings and a byte-order mark are formatting too.
    editFile(root, "src/lazy.ts", (t) => `\uFEFF${t.replaceAll("\n", "\r\n")}`);
    const after = fingerprintModule(entry);
    expect(after.files).toEqual(first.files);
    expect(after.hash).toBe(first.hash);
  });

  it("keeps identifiers: renaming a binding is a code change", () => {
    const root = makeProject();
    const entry = join(root, "src/lazy.ts");
    const first = fingerprintModule(entry).hash;
    editFile(root, "src/lazy.ts", (t) => t.replace("lazy = 3", "lazier = 3"));
    expect(fingerprintModule(entry).hash).not.toBe(first);
  });

  it("terminates on import cycles and is the same from a copy of the project elsewhere", () => {
    const root = makeProject();
    // helper -> deep -> helper and stage -> reexported -> stage are cycles.
    const fp = fingerprintModule(join(root, "src/helper.ts"));
    expect(fp.files).toEqual(["lib/deep/index.ts", "src/helper.ts"]);
    const copy = mkdtempSync(join(tmpdir(), "fingerprint-copy-"));
    dirs.push(copy);
    cpSync(root, copy, { recursive: true });
    expect(fingerprintModule(join(copy, "src/stage.ts")).hash).toBe(fingerprintModule(join(root, "src/stage.ts")).hash);
  });

  it("depends on file paths as well as contents", () => {
    const root = makeProject();
    // Identical content at two paths (a module with no imports): the relative path enters the hash.
    cpSync(join(root, "src/lazy.ts"), join(root, "lib/lazy.ts"));
    const a = fingerprintModule(join(root, "src/lazy.ts"));
    const b = fingerprintModule(join(root, "lib/lazy.ts"));
    expect(a.files).toEqual(["src/lazy.ts"]);
    expect(b.files).toEqual(["lib/lazy.ts"]);
    expect(a.hash).not.toBe(b.hash);
  });

  it("falls back to the raw bytes and every import for a module esbuild cannot parse", () => {
    const root = makeProject();
    writeFileSync(join(root, "src/broken.ts"), 'import type { Shape } from "../lib/types.ts";\nexport const broken = (;\n');
    const first = fingerprintModule(join(root, "src/broken.ts"));
    expect(first.files).toEqual(["lib/types.ts", "src/broken.ts"]);
    appendFileSync(join(root, "src/broken.ts"), "// even a comment counts here\n");
    expect(fingerprintModule(join(root, "src/broken.ts")).hash).not.toBe(first.hash);
  });

  it("is the same in a new process with or without the disk cache of compiled forms, and sees edits made since", () => {
    const root = makeProject();
    const entry = join(root, "src/stage.ts");
    const first = fingerprintModule(entry);
    resetFingerprintMemo();
    expect(fingerprintModule(entry)).toEqual(first);
    resetFingerprintMemo({ diskCache: false });
    expect(fingerprintModule(entry)).toEqual(first);
    resetFingerprintMemo();
    appendFileSync(join(root, "src/lazy.ts"), "export const added = 1;\n");
    expect(fingerprintModule(entry).hash).not.toBe(first.hash);
  });

  it("does not follow bare package imports", () => {
    const fp = fingerprintModule(join(repo, "core/pipeline/canonical.ts"));
    expect(fp.files).toEqual(["core/pipeline/canonical.ts", "core/pipeline/hash.ts"]);
  });

  it("fails clearly for a module that does not exist", () => {
    expect(() => fingerprintModule(join(tmpdir(), "no-such-module-here.ts"))).toThrow(/does not exist/);
  });
});

describe("compiledForm", () => {
  it("is the module without types, comments and formatting, identifiers and literals kept", () => {
    const source = [
      "/** Doc. */",
      'import type { A } from "./a.ts";',
      'import { b, type C } from "./b.ts";',
      "// why",
      "export const f = (x: A, y: C): number => {",
      "  return b(x,   y) + 1; /* inline */",
      "};",
      "const s = `line 1",
      "line 2 // not a comment`;",
      "export interface I { readonly x: number }"
    ].join("\n");
    expect(compiledForm(source, "m.ts")).toBe('import{b}from"./b.ts";const f=(x,y)=>{return b(x,y)+1};const s=`line 1\nline 2 // not a comment`;export{f};\n');
    expect(FINGERPRINT_SCHEME).toMatch(/^esbuild-\d+\.\d+\.\d+-/);
  });
});

describe("describeCodeChange", () => {
  it("names the changed module nearest the stage module and the import path to it", () => {
    const root = makeProject();
    const entry = join(root, "src/stage.ts");
    const before = fingerprintModule(entry);
    expect(describeCodeChange({ fileHashes: before.fileHashes, scheme: before.scheme }, before)).toBeUndefined();

    appendFileSync(join(root, "lib/deep/index.ts"), "\nexport const edited = 1;\n");
    const deep = describeCodeChange({ fileHashes: before.fileHashes, scheme: before.scheme }, fingerprintModule(entry));
    expect(deep).toEqual({ file: "lib/deep/index.ts", via: ["src/stage.ts", "src/helper.ts", "lib/deep/index.ts"], kind: "changed" });
    expect(formatCodeChange(deep!)).toBe("lib/deep/index.ts via src/stage.ts -> src/helper.ts -> lib/deep/index.ts");

    // Two changed modules: the one fewer imports away is named.
    appendFileSync(join(root, "src/helper.ts"), "\nexport const edited = 1;\n");
    expect(describeCodeChange({ fileHashes: before.fileHashes }, fingerprintModule(entry))?.file).toBe("src/helper.ts");

    // The stage module itself: just its name.
    const mid = fingerprintModule(entry);
    appendFileSync(join(root, "src/stage.ts"), "\nexport const edited = 1;\n");
    const self = describeCodeChange({ fileHashes: mid.fileHashes }, fingerprintModule(entry))!;
    expect(formatCodeChange(self)).toBe("src/stage.ts");
  });

  it("says when a module is newly imported or no longer imported, and when the scheme changed", () => {
    const root = makeProject();
    const entry = join(root, "src/helper.ts");
    const before = fingerprintModule(entry);
    editFile(root, "src/helper.ts", (t) => `import { lazy } from "./lazy.ts";\n${t}export const uses = lazy;\n`);
    const added = fingerprintModule(entry);
    // helper.ts itself changed (its import), and it is nearer than lazy.ts.
    expect(describeCodeChange({ fileHashes: before.fileHashes }, added)?.file).toBe("src/helper.ts");
    // With helper.ts unchanged in the record, the new module is what is named.
    expect(describeCodeChange({ fileHashes: { ...before.fileHashes, "src/helper.ts": added.fileHashes["src/helper.ts"]! } }, added)).toEqual({
      file: "src/lazy.ts",
      via: ["src/helper.ts", "src/lazy.ts"],
      kind: "added"
    });
    expect(describeCodeChange({ fileHashes: { ...before.fileHashes, "src/gone.ts": "0" } }, before)).toEqual({ file: "src/gone.ts", via: [], kind: "removed" });
    expect(describeCodeChange({ fileHashes: before.fileHashes, scheme: "esbuild-0.0.0-other" }, before)?.kind).toBe("scheme");
  });
});

describe("localSpecifiers", () => {
  it("reads static, re-export, side-effect and dynamic imports, ignoring comments, regexes and packages", () => {
    const source = [
      'import a, { b } from "./a.ts";',
      "import {",
      "  c,",
      "} from '../c.js';",
      'export { d } from "./d";',
      'export * as e from "./e/index.ts";',
      'import "./f.ts";',
      'const g = await import( "./g.ts" );',
      'const re = /["\\/]from "\\.\\/not-a-module"/g;',
      'const ratio = 1 / 2; import { h } from "./h.ts"; // from "./comment.ts"',
      '/* export * from "./block.ts"; */',
      'import { Effect } from "effect";',
      'import x from "node:fs";'
    ].join("\n");
    expect(localSpecifiers(source).sort()).toEqual(["../c.js", "./a.ts", "./d", "./e/index.ts", "./f.ts", "./g.ts", "./h.ts"]);
  });
});

describe("runtimeFingerprint", () => {
  it("names the node major version and the installed versions of result-changing packages", () => {
    const runtime = runtimeFingerprint();
    expect(runtime["node"]).toBe(process.version.slice(1).split(".")[0]);
    for (const name of ["effect", "apache-arrow", "parquet-wasm", "@tensorflow/tfjs", "onnxruntime-node"]) {
      const pkg = JSON.parse(readFileSync(join(repo, "node_modules", name, "package.json"), "utf8")) as { version: string };
      expect(runtime[name], name).toBe(pkg.version);
    }
  });
});
