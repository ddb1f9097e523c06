/**
 * A codec turns an artifact value into bytes and back (ARCHITECTURE section 4). Stage outputs and
 * loop checkpoints are stored as blobs through codecs; `extension` names the file type when an
 * artifact is exported for other tools (Arrow IPC, Parquet, JSON, tensor bundles).
 */
export interface Codec<A> {
  readonly name: string;
  readonly extension: string;
  encode(value: A): Uint8Array;
  decode(bytes: Uint8Array): A;
}
