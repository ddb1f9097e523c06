/**
 * Helpers for the pipeline tests that drive the real CLI in a child process: run an entry script
 * against one store, read `--json` stage events, and turn `k=v` overrides into `--set` flags.
 * Asynchronous spawns, so the test worker's event loop stays responsive during long runs.
 */
import { spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A runner of `node --import tsx <entry> ...args --store <store>` (entry relative to the repo). */
export const cliRunner =
  (entry: string, store: string) =>
  (args: string[]): Promise<CliResult> =>
    new Promise((done) => {
      const child = spawn(process.execPath, ["--import", "tsx", join(repo, entry), ...args, "--store", store], {
        cwd: repo,
        env: { ...process.env, CI: "1" }
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) => done({ code, stdout, stderr }));
    });

/** Node -> "status" or "status:REASON" from the `--json` events of a run or explain. */
export const statuses = (stdout: string): Record<string, string> =>
  Object.fromEntries(
    stdout
      .split("\n")
      .filter((l) => l.startsWith('{"stage"'))
      .map((l) => JSON.parse(l) as { node: string; status: string; reason: string | null })
      .map((e) => [e.node, e.reason ? `${e.status}:${e.reason}` : e.status])
  );

/** `--set` flags for the given `path=value` overrides. */
export const setFlags = (assignments: readonly string[]): string[] => assignments.flatMap((s) => ["--set", s]);

/**
 * Like `cliRunner`, but through the project's launcher (scripts/pipeline.mjs), whose esbuild bundle
 * starts several times faster than tsx: for tests that make many short calls.
 */
export const launcherRunner =
  (entry: string, store: string) =>
  (args: string[]): Promise<CliResult> =>
    new Promise((done) => {
      const child = spawn(process.execPath, [join(repo, "scripts/pipeline.mjs"), ...args, "--store", store], {
        cwd: repo,
        // The entry's folder counts as sources, so editing a fixture rebuilds the bundle.
        env: { ...process.env, CI: "1", PIPELINE_ENTRY: join(repo, entry), PIPELINE_SOURCE_ROOT: dirname(join(repo, entry)) }
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) => done({ code, stdout, stderr }));
    });
