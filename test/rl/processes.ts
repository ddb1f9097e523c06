/**
 * Child-process helpers shared by the BullMQ rollout tests and benchmark: a free TCP port, waiting
 * for a line a process prints, its exit, and a throwaway `redis-server` on a port of its own.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";

/** Whether `redis-server` is installed. */
export const hasRedisServer = (): boolean => spawnSync("redis-server", ["--version"]).status === 0;

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no free port"))));
    });
  });

/** Resolves once `child` has printed something matching `pattern` (stdout or stderr). */
export const waitForOutput = (child: ChildProcess, pattern: RegExp, what: string, ms = 60_000): Promise<void> =>
  new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`${what} did not print ${pattern} within ${ms} ms; it printed: ${seen}`)), ms);
    const look = (d: Buffer) => {
      seen += d.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", look);
    child.stderr?.on("data", look);
  });

/** The exit code (null when a signal ended it), once the process has exited. */
export const exitOf = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once("exit", (code) => resolve(code)));

/** A `redis-server` without persistence on 127.0.0.1:`port`, ready to accept connections. */
export const startRedisServer = async (port: number): Promise<ChildProcess> => {
  const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "pipe"] });
  await waitForOutput(redis, /Ready to accept connections/, "redis-server");
  return redis;
};
