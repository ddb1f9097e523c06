/**
 * The artifact of a report stage that publishes one HTML page, its per-iteration table and a JSON
 * summary (calibration, LT spectrum, shared training, what-if): one composite codec shape for all
 * of them, the summary decoded with its Schema when read back.
 */
import type * as arrow from "apache-arrow";
import type { Schema } from "effect";
import { arrowTableCodec } from "../core/pipeline/codecs/arrow.ts";
import { compositeCodec } from "../core/pipeline/codecs/composite.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { textCodec } from "../core/pipeline/codecs/text.ts";

export type TableReport<S> = { html: string; table: arrow.Table; summary: S };

/** The codec of a `TableReport` named `name`, whose summary `summary` checks. */
export const tableReportCodec = <S, I>(name: string, summary: Schema.Schema<S, I>) =>
  compositeCodec<TableReport<S>>(name, { html: textCodec("html"), table: arrowTableCodec, summary: jsonCodec(summary) });
