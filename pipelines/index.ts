/**
 * The registry of the project's pipelines: names and one-line descriptions are here so that
 * `pipeline list` answers without loading any pipeline; each pipeline module is imported only
 * when it is run or shown.
 */
import type { PipelineEntry } from "../core/pipeline/cli.ts";

export const registry: ReadonlyArray<PipelineEntry> = [];
