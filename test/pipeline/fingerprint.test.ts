/**
 * Code fingerprints (ARCHITECTURE section 3): a stage's key must change when its module or any
 * local module it imports changes, and only then.
 */
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { fingerprintModule, localSpecifiers, runtimeFingerprint } from "../../core/pipeline/fingerprint.ts";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A small project: src/stage.ts imports helpers in several syntaxes; src/unused.ts is imported by nobody. */
const makeProject = (): string => {
  const root = mkdtempSync(join(tmpdir(), "fingerprint-"));
  dirs.push(root);
  const files: Record<string, string> = {
    "package.json": "{}",
    "src/stage.ts": [
      'import { helper } from "./helper.ts";',
      'import type { Shape } from "../lib/types.js";',
      'export * from "./reexported";',
      'import "./side-effect.ts";',
      'const lazy = () => import("./lazy.ts");',
      'import { Effect } from "effect";',
      '// import { nope } from "./unused.ts";',
      "/* import './unused.ts' */",
      "export const run = (s: Shape) => helper(s) / 2 / lazy.length;"
    ].join("\n"),
    "src/helper.ts": 'import { deep } from "../lib/deep/index.ts";\nexport const helper = (x: unknown) => deep(x);\n',
    "lib/types.ts": "export type Shape = number;\n",
    "src/reexported/index.ts": 'export const again = 1;\nimport { run } from "../stage.ts";\n',
    "src/side-effect.ts": "globalThis.toString();\n",
    "src/lazy.ts": "export const lazy = 3;\n",
    "lib/deep/index.ts": 'import { helper } from "../../src/helper.ts";\nexport const deep = (x: unknown) => Number(x);\n',
    "src/unused.ts": "export const nope = 0;\n"
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
};

describe("fingerprintModule", () => {
  it("covers the module and, transitively, every local module it imports, relative to the project root", () => {
    const root = makeProject();
    const fp = fingerprintModule(join(root, "src/stage.ts"));
    expect(fp.files).toEqual(
      ["lib/deep/index.ts", "lib/types.ts", "src/helper.ts", "src/lazy.ts", "src/reexported/index.ts", "src/side-effect.ts", "src/stage.ts"]
    );
    expect(fp.hash).toMatch(/^[0-9a-f]{64}$/);
    // A file: URL (import.meta.url of the stage module) names the same module.
    expect(fingerprintModule(pathToFileURL(join(root, "src/stage.ts")).href)).toEqual(fp);
  });

  it("changes when any imported module is edited, not when an unimported one is", () => {
    const root = makeProject();
    const entry = join(root, "src/stage.ts");
    const first = fingerprintModule(entry).hash;
    appendFileSync(join(root, "src/unused.ts"), "export const more = 1;\n");
    expect(fingerprintModule(entry).hash).toBe(first);
    const seen = new Set([first]);
    for (const file of ["src/stage.ts", "lib/deep/index.ts", "lib/types.ts", "src/lazy.ts", "src/reexported/index.ts", "src/side-effect.ts"]) {
      appendFileSync(join(root, file), "// edited\n");
      const hash = fingerprintModule(entry).hash;
      expect(seen.has(hash), `editing ${file} must change the fingerprint`).toBe(false);
      seen.add(hash);
    }
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

  it("does not follow bare package imports", () => {
    const fp = fingerprintModule(join(repo, "core/pipeline/canonical.ts"));
    expect(fp.files).toEqual(["core/pipeline/canonical.ts", "core/pipeline/hash.ts"]);
  });

  it("fails clearly for a module that does not exist", () => {
    expect(() => fingerprintModule(join(tmpdir(), "no-such-module-here.ts"))).toThrow(/does not exist/);
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
