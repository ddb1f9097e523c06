/**
 * Entry of a rollout worker thread (core/rl/rollout-runner.ts). The worker's code is TypeScript
 * source, so the thread registers tsx's loader before importing it; this file is plain JavaScript
 * because it runs before any loader exists.
 */
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.script);
