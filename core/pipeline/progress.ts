/**
 * The `Progress` service: how long-running stages report progress (ARCHITECTURE section 3). On a
 * terminal it draws a live bar on stderr; elsewhere (CI, pipes, `--json`) it prints a plain line
 * at most every few seconds, so logs stay readable. Stages only call `task(label, total)` and
 * `advance`; they never know which sink is in use.
 */
import { Context, Effect, Layer } from "effect";

export interface ProgressTask {
  /** Moves the task forward by `steps` and replaces its status text (e.g. "steps/s 21000"). */
  advance(steps: number, status?: string): void;
  /** Marks the task finished and prints its final line. */
  done(status?: string): void;
}

export interface ProgressService {
  task(label: string, total: number): ProgressTask;
}

export class Progress extends Context.Tag("pipeline/Progress")<Progress, ProgressService>() {}

const formatSeconds = (s: number): string =>
  s < 60 ? `${s.toFixed(0)}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s` : `${(s / 3600).toFixed(1)}h`;

export interface ProgressOptions {
  readonly interactive: boolean;
  /** Minimum interval between plain lines, in milliseconds. */
  readonly lineIntervalMs?: number;
  readonly write?: (text: string) => void;
}

export const makeProgress = (options: ProgressOptions): ProgressService => {
  const write = options.write ?? ((text: string) => void process.stderr.write(text));
  const interval = options.lineIntervalMs ?? 5000;
  /** The line of every unfinished task, in start order: nodes running side by side share the live line. */
  const live = new Map<number, { readonly full: string; readonly head: string }>();
  let nextId = 0;
  const drawLive = () => {
    if (live.size === 0) return;
    // One task shows its bar and status; several show each one's progress side by side.
    const text = live.size === 1 ? [...live.values()][0]!.full : [...live.values()].map((t) => t.head).join("  |  ");
    write(`\r\x1b[2K${text.slice(0, Math.max(20, (process.stderr.columns ?? 160) - 1))}`);
  };
  return {
    task(label, total) {
      const id = nextId++;
      const started = performance.now();
      let current = 0;
      let lastPrint = 0;
      let status = "";
      const render = (final: boolean) => {
        const elapsed = (performance.now() - started) / 1000;
        const fraction = total > 0 ? Math.min(1, current / total) : 0;
        const eta = fraction > 0 && !final ? ` eta ${formatSeconds((elapsed / fraction) * (1 - fraction))}` : "";
        const head = `${label} ${current}/${total} (${(fraction * 100).toFixed(0)}%) ${formatSeconds(elapsed)}${eta}`;
        if (options.interactive) {
          const width = 24;
          const filled = Math.round(fraction * width);
          const bar = "#".repeat(filled) + "-".repeat(width - filled);
          const full = `[${bar}] ${head}${status ? " " + status : ""}`;
          if (final) {
            live.delete(id);
            write(`\r\x1b[2K${full}\n`);
          } else live.set(id, { full, head });
          drawLive();
        } else {
          write(`${head}${status ? " " + status : ""}\n`);
        }
      };
      return {
        advance(steps, text) {
          current += steps;
          if (text !== undefined) status = text;
          const now = performance.now();
          if (options.interactive ? now - lastPrint > 100 : now - lastPrint > interval) {
            lastPrint = now;
            render(false);
          }
        },
        done(text) {
          if (text !== undefined) status = text;
          render(true);
        }
      };
    }
  };
};

/** A live bar on a TTY, plain lines otherwise; silent when `quiet`. */
export const layerProgress = (quiet = false): Layer.Layer<Progress> =>
  Layer.succeed(
    Progress,
    quiet
      ? { task: () => ({ advance: () => undefined, done: () => undefined }) }
      : makeProgress({ interactive: Boolean(process.stderr.isTTY) && !process.env.CI })
  );

/** Runs `f` with a progress task and closes it whatever happens. */
export const withTask = <A, E, R>(
  label: string,
  total: number,
  f: (task: ProgressTask) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R | Progress> =>
  Effect.flatMap(Progress, (progress) => {
    const task = progress.task(label, total);
    return Effect.ensuring(f(task), Effect.sync(() => task.done()));
  });
