/**
 * Stages never import other stages (ARCHITECTURE section 6), so a stage's code fingerprint covers
 * its own code and what it runs, never another stage's: editing one pipeline's report cannot
 * re-run another pipeline's training loop. Artifact codecs and params shared by several stages
 * live in schemas/, domain logic in core/, and set-up that needs both the framework and the domain
 * in stages/support/, which imports no stage module either. A static check over the imports of
 * every file in stages/, type-only imports included.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fingerprintModule, localSpecifiers, resolveLocal } from "../../core/pipeline/fingerprint.ts";
import { repo } from "./cli.ts";

const tsFiles = (dir: string): string[] => {
  try {
    return readdirSync(dir).filter((f) => f.endsWith(".ts")).sort().map((f) => join(dir, f));
  } catch {
    return [];
  }
};

/**
 * "stages/a.ts imports stages/b.ts" for every import of a stage module by a file under stages/, and
 * of a loop-body module (stages/body/) by a support module: a loop imports the body stages it runs
 * (their code is part of what it computes), and body modules may compose one another, but the
 * set-up other stages share never pulls a body's code into their fingerprints.
 */
const stageImportViolations = (root: string): string[] => {
  const stageModules = new Set(tsFiles(join(root, "stages")));
  const bodyModules = new Set(tsFiles(join(root, "stages", "body")));
  const rel = (path: string) => relative(root, path).split(sep).join("/");
  const violations: string[] = [];
  for (const file of [...stageModules, ...bodyModules, ...tsFiles(join(root, "stages", "support"))]) {
    for (const specifier of localSpecifiers(readFileSync(file, "utf8"))) {
      const target = resolveLocal(file, specifier);
      const forbidden = stageModules.has(target ?? "") || (bodyModules.has(target ?? "") && !stageModules.has(file) && !bodyModules.has(file));
      if (target !== undefined && target !== file && forbidden) violations.push(`${rel(file)} imports ${rel(target)}`);
    }
  }
  return violations;
};

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("stage modules", () => {
  it("import no other stage module", () => {
    expect(tsFiles(join(repo, "stages")).length).toBeGreaterThan(5);
    expect(stageImportViolations(repo)).toEqual([]);
  });

  it("the check finds a stage importing another, also through a type-only import or a support module", () => {
    const root = mkdtempSync(join(tmpdir(), "stage-imports-"));
    dirs.push(root);
    const files: Record<string, string> = {
      "stages/a.ts": 'export const a = 1;\n',
      "stages/b.ts": 'import { a } from "./a.ts";\nexport const b = a;\n',
      "stages/c.ts": 'import type { A } from "./a";\nimport { s } from "./support/s.ts";\nexport const c = s;\n',
      "stages/support/s.ts": 'import { b } from "../b.ts";\nexport const s = b;\n',
      "schemas/x.ts": "export const x = 1;\n",
      "stages/d.ts": 'import { x } from "../schemas/x.ts";\nexport const d = x;\n',
      "stages/body/e.ts": 'export const e = 1;\n',
      "stages/body/f.ts": 'import { e } from "./e.ts";\nexport const f = e;\n',
      "stages/g.ts": 'import { e } from "./body/e.ts";\nexport const g = e;\n',
      "stages/support/h.ts": 'import { f } from "../body/f.ts";\nexport const h = f;\n'
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    // A loop stage (g) may import a body module and body modules one another (f); support (h) may not.
    expect(stageImportViolations(root).sort()).toEqual(["stages/b.ts imports stages/a.ts", "stages/c.ts imports stages/a.ts", "stages/support/h.ts imports stages/body/f.ts", "stages/support/s.ts imports stages/b.ts"]);
  });

  it("so the training loops' fingerprints cover no report or other pipeline's stage code", () => {
    const stagesIn = (module: string) => fingerprintModule(join(repo, module)).files.filter((f) => f.startsWith("stages/"));
    expect(stagesIn("stages/calibration.ts")).toEqual([
      "stages/body/bo-propose.ts",
      "stages/body/build-supertypes.ts",
      "stages/body/calibrator-update.ts",
      "stages/body/episode-rewards.ts",
      "stages/body/exploitability-check.ts",
      "stages/body/ppo-update.ts",
      "stages/body/rollouts.ts",
      "stages/calibration.ts",
      "stages/support/calibration.ts",
      "stages/support/learners.ts",
      "stages/support/network-backend.ts",
      "stages/support/rollout-executor.ts"
    ]);
    expect(stagesIn("stages/calibration-report.ts")).toEqual(["stages/calibration-report.ts"]);
    // The shared-policy loops run the same body stages as the calibration loops.
    expect(stagesIn("stages/lt-spectrum.ts")).toEqual([
      "stages/body/ppo-update.ts",
      "stages/body/rollouts.ts",
      "stages/body/shared-iteration.ts",
      "stages/lt-spectrum.ts",
      "stages/support/learners.ts",
      "stages/support/lt-spectrum.ts",
      "stages/support/network-backend.ts",
      "stages/support/rollout-executor.ts",
      "stages/support/shared-training.ts"
    ]);
  });
});
