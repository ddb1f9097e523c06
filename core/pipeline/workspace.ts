/**
 * The `Workspace` service: live objects a node materialises from plain data and keeps while it runs
 * (ARCHITECTURE section 6: loop state is plain data, resources are scoped). A training loop's state
 * is plain data (weights, optimiser moments, calibrator state, history), but turning weights into
 * networks on a compute backend or a population into simulation envs costs more than an iteration's
 * bookkeeping should; the body stages ask the workspace for the live form of their inputs and get
 * the one they built last time when it was built from the same values (compared by identity, so a
 * stage handed other data builds afresh: results never depend on what was kept). The runner gives
 * every node execution a workspace of its own and disposes of everything in it when the node's run
 * ends, successfully or not.
 */
import { Context, Effect } from "effect";

interface Entry {
  readonly deps: readonly unknown[];
  readonly value: unknown;
  readonly dispose: (value: never) => Effect.Effect<void>;
}

export interface WorkspaceService {
  /**
   * The live object under `key`, built by `build` unless the one kept there was built from the same
   * `deps` (each compared by identity); a replaced object is disposed of first.
   */
  readonly use: <A, E, R>(key: string, deps: readonly unknown[], build: Effect.Effect<A, E, R>, dispose?: (value: A) => Effect.Effect<void>) => Effect.Effect<A, E, R>;
  /** Disposes of everything kept (the runner calls it when the node's run ends). */
  readonly close: Effect.Effect<void>;
}

export class Workspace extends Context.Tag("pipeline/Workspace")<Workspace, WorkspaceService>() {}

const sameDeps = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** A fresh, empty workspace. */
export const makeWorkspace = (): WorkspaceService => {
  const entries = new Map<string, Entry>();
  const drop = (key: string) =>
    Effect.suspend(() => {
      const entry = entries.get(key);
      entries.delete(key);
      return entry === undefined ? Effect.void : entry.dispose(entry.value as never);
    });
  return {
    use: <A, E, R>(key: string, deps: readonly unknown[], build: Effect.Effect<A, E, R>, dispose: (value: A) => Effect.Effect<void> = () => Effect.void) =>
      Effect.suspend(() => {
        const kept = entries.get(key);
        if (kept !== undefined && sameDeps(kept.deps, deps)) return Effect.succeed(kept.value as A);
        return drop(key).pipe(
          Effect.zipRight(build),
          Effect.tap((value) => Effect.sync(() => entries.set(key, { deps: [...deps], value, dispose: dispose as (value: never) => Effect.Effect<void> })))
        );
      }),
    close: Effect.suspend(() => Effect.forEach([...entries.keys()].reverse(), drop, { discard: true }))
  };
};
