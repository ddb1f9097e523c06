/**
 * Entry point of `pnpm pipeline`: the framework's CLI over this project's pipelines.
 */
import { main } from "../core/pipeline/cli.ts";
import { registry } from "./index.ts";

process.exitCode = await main(process.argv.slice(2), registry);
