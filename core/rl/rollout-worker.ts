/**
 * The body of a rollout worker thread (see rollout-executor.ts): it imports the
 * env factory named by the setup it is sent, keeps one env per shard it is given, rebuilds the
 * policies from the weights sent before a job, and answers each job with the shard's batches (their
 * buffers transferred, not copied). Messages are handled strictly in arrival order, so the setup
 * and weights a job uses are always those sent just before it. A new setup drops the envs and
 * policies of the previous one.
 */
import { parentPort } from "node:worker_threads";
import { Random } from "../random/philox.ts";
import { initTfBackend } from "./backend.ts";
import { ActorCritic } from "./networks.ts";
import { collectRollouts, type RolloutPolicy } from "./rollout.ts";
import type { FromWorker, ToWorker, WorkerPolicySpec } from "./rollout-executor.ts";
import type { RolloutEnvFactory } from "./rollout-runner.ts";
import type { MultiClassVecEnv } from "./vec-env.ts";

const port = parentPort;
if (port === null) throw new Error("rollout-worker.ts runs only as a worker thread; use RolloutRunner or RolloutThreadPool.");

let factory: RolloutEnvFactory<unknown, MultiClassVecEnv, unknown, unknown> | undefined;
let factoryArgs: unknown;
const envs = new Map<number, MultiClassVecEnv>();
let policies: { spec: string; policy: RolloutPolicy }[] = [];
/** Why the worker cannot run jobs (a failed init or weight update), told to every job that follows. */
let fatal: string | undefined;

const shapeOf = (p: WorkerPolicySpec): string =>
  JSON.stringify({ obsDim: p.obsDim, action: p.action.kind === "continuous" ? { ...p.action, low: [...p.action.low], high: [...p.action.high] } : p.action, network: p.network });

const setPolicies = (specs: readonly WorkerPolicySpec[]): void => {
  const next = specs.map((spec, c) => {
    const shape = shapeOf(spec);
    const kept = policies[c];
    if (kept !== undefined && kept.spec === shape) {
      kept.policy.net.setWeights(spec.weights);
      return kept;
    }
    kept?.policy.net.dispose();
    // The initial draw is overwritten by the weights at once; it only has to be well-formed.
    const net = new ActorCritic(spec.obsDim, spec.action, spec.network, Random.fromSeed(0));
    net.setWeights(spec.weights);
    return { spec: shape, policy: { obsDim: spec.obsDim, net } };
  });
  for (let c = next.length; c < policies.length; c++) policies[c]!.policy.net.dispose();
  policies = next;
};

const buffersOf = (batches: FromWorker & { type: "result" }): ArrayBuffer[] => {
  const seen = new Set<ArrayBuffer>();
  for (const b of batches.batches) {
    for (const value of Object.values(b)) {
      if (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength) {
        seen.add(value.buffer);
      }
    }
  }
  return [...seen];
};

const handle = async (message: ToWorker): Promise<void> => {
  switch (message.type) {
    case "init": {
      const { setup } = message;
      factory = undefined;
      envs.clear();
      for (const p of policies) p.policy.net.dispose();
      policies = [];
      fatal = undefined;
      await initTfBackend(setup.backend);
      const module = (await import(setup.location.module)) as Record<string, unknown>;
      const found = module[setup.location.exportName];
      if (typeof found !== "object" || found === null || typeof (found as { create?: unknown }).create !== "function") {
        throw new Error(`${setup.location.module} has no rollout env factory "${setup.location.exportName}"`);
      }
      factory = found as RolloutEnvFactory<unknown, MultiClassVecEnv, unknown, unknown>;
      factoryArgs = setup.args;
      return;
    }
    case "policies":
      setPolicies(message.policies);
      return;
    case "job": {
      const { id, job } = message;
      try {
        if (fatal !== undefined) throw new Error(fatal);
        if (factory === undefined) throw new Error("the worker got a job before its env factory");
        let env = envs.get(job.shard);
        if (env === undefined) {
          env = factory.create(factoryArgs, job.firstEpisode, job.episodes);
          envs.set(job.shard, env);
        }
        if (job.inputs !== null) factory.prepare?.(env, job.inputs);
        const started = performance.now();
        const batches = collectRollouts(env, policies.map((p) => p.policy), Random.fromKey(job.rngKey[0], job.rngKey[1]), job.returns);
        const extra = factory.extract?.(env);
        const result: FromWorker = { type: "result", id, batches, extra, ms: performance.now() - started };
        port.postMessage(result, buffersOf(result));
      } catch (error) {
        const reply: FromWorker = { type: "error", id, message: error instanceof Error ? `${error.message}\n${error.stack ?? ""}` : String(error) };
        port.postMessage(reply);
      }
      return;
    }
  }
};

// One message at a time, in order: an init or a policy update finishes before the next job starts.
let queue: Promise<void> = Promise.resolve();
port.on("message", (message: ToWorker) => {
  queue = queue
    .then(() => handle(message))
    .catch((error: unknown) => {
      // Jobs answer their own errors; only an init or a weight update gets here, and then no job can run.
      fatal = `the worker could not ${message.type === "init" ? "start" : "load the policies"}: ${error instanceof Error ? error.message : String(error)}`;
    });
});
