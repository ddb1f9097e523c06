/**
 * The services training pipelines provide their stages for a run (ARCHITECTURE section 6): the
 * rollout executors (worker threads or BullMQ, as each stage's `rollouts` params ask; closed when
 * the run ends or fails) and the network backend (onnxruntime where it loads, tfjs otherwise).
 * Tests replace them through the run request (`resources`). Not a stage.
 */
import { Layer } from "effect";
import type { ArtifactStore } from "../../core/pipeline/store.ts";
import { NetworkBackend } from "./network-backend.ts";
import { RolloutExecutor } from "./rollout-executor.ts";

export type TrainingServices = RolloutExecutor | NetworkBackend;

export const trainingResources: Layer.Layer<TrainingServices, never, ArtifactStore> = Layer.mergeAll(RolloutExecutor.live, NetworkBackend.native);
