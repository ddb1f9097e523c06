/**
 * Arrow IPC codec for tables (ARCHITECTURE section 4, "Artifacts"): the store keeps tables in the
 * Arrow IPC file format because it is the fastest to write and read back (no compression, buffers
 * copied as they are) and any Arrow implementation opens it.
 */
import { tableFromIPC, tableToIPC, type Table } from "apache-arrow";
import type { Codec } from "./codec.ts";
import { CodecError } from "./errors.ts";

export const arrowTableCodec: Codec<Table> = {
  name: "arrow-ipc",
  extension: "arrow",
  encode: (table) => tableToIPC(table, "file"),
  decode: (bytes) => {
    try {
      return tableFromIPC(bytes);
    } catch (cause) {
      throw new CodecError({ codec: "arrow-ipc", message: `These bytes are not an Arrow IPC table (${String(cause)}); re-create the artifact.` });
    }
  }
};
