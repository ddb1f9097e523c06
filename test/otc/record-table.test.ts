/**
 * The step record as a self-describing table: DuckDB reads the Parquet export with labels for the
 * coded columns (agentClass LP/LT, counterparty LP i/ECN/none, ltAction buy/sell/no trade), integer
 * columns as integers, the LP actions under their names (null on LT rows), and the file's
 * key-value metadata giving every column's unit and meaning; the labels agree with the codes.
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { Dictionary, Int32, Table, tableFromIPC, tableToIPC, Utf8, vectorFromArray } from "apache-arrow";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tableToParquet } from "../../core/pipeline/codecs/parquet.ts";
import { defaultGameConfig, emergentBehaviourPopulation } from "../../core/otc/config.ts";
import { CLASS_LP, COUNTERPARTY_ECN, COUNTERPARTY_NONE, OtcEnv } from "../../core/otc/env.ts";
import { Random } from "../../core/random/philox.ts";
import { stepInStages } from "../../core/rl/vec-env.ts";
import { stepRecordFromTable, stepRecordTable } from "../../schemas/step-record-table.ts";
import { standInModel } from "./fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "otc-record-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const recordOf = (seed: number) => {
  const env = new OtcEnv({ config: { ...defaultGameConfig(emergentBehaviourPopulation()), horizon: 5 }, batchSize: 2, ecnModel: standInModel({ meanVolume: 8 }), record: true });
  const rng = Random.fromSeed(seed);
  env.reset(rng.split("reset"));
  const draws = rng.split("actions");
  for (let t = 0; t < 5; t++) {
    const actions = env.classes.map((c) => (c.action.kind === "discrete" ? Float32Array.from({ length: c.count }, () => draws.int(3)) : Float32Array.from({ length: c.count * 3 }, () => draws.uniformIn(0, 1))));
    stepInStages(env, (ci) => actions[ci]!, rng);
  }
  return env.takeRecord();
};

describe("stepRecordTable", () => {
  // Content addressing needs equal data to give equal bytes, whatever the process did before.
  it("serialises the same record to the same bytes after other dictionary columns were built", () => {
    const record = recordOf(5);
    const first = tableToIPC(stepRecordTable(record));
    for (let i = 0; i < 3; i++) vectorFromArray(["a", "b"], new Dictionary(new Utf8(), new Int32()));
    expect(Buffer.from(tableToIPC(stepRecordTable(record))).equals(Buffer.from(first))).toBe(true);
  });

  it("reads in DuckDB with labels, integer types and column descriptions", async () => {
    const record = recordOf(4);
    const file = join(dir, "episodes.parquet");
    writeFileSync(file, tableToParquet(stepRecordTable(record, { "otc.seed": "4" })));

    const instance = await DuckDBInstance.create(":memory:");
    const connection = await instance.connect();
    try {
      const q = async (sql: string) => (await connection.runAndReadAll(sql)).getRowsJS();
      const from = `read_parquet('${file}')`;
      const types = Object.fromEntries((await q(`select column_name, column_type from (describe select * from ${from})`)).map(([n, t]) => [n, t]));
      expect(types).toMatchObject({ episode: "INTEGER", t: "INTEGER", agent: "INTEGER", agentClass: "VARCHAR", counterparty: "VARCHAR", ltAction: "VARCHAR", lpSpread: "FLOAT", inventory: "DOUBLE" });
      expect(Object.keys(types)).not.toContain("action0");

      const classes = Object.fromEntries((await q(`select agentClass, count(*) from ${from} group by 1`)).map(([k, n]) => [k, Number(n)]));
      let lps = 0;
      for (let r = 0; r < record.rows; r++) if (record.agentClass[r] === CLASS_LP) lps++;
      expect(classes).toEqual({ LP: lps, LT: record.rows - lps });
      expect(await q(`select count(*) from ${from} where agentClass = 'LT' and lpSpread is not null`)).toEqual([[0n]]);
      expect(await q(`select count(*) from ${from} where agentClass = 'LP' and ltAction is not null`)).toEqual([[0n]]);
      const actions = (await q(`select distinct ltAction from ${from} where agentClass = 'LT' order by 1`)).map(([a]) => a);
      expect(actions.every((a) => ["buy", "sell", "no trade"].includes(String(a)))).toBe(true);

      // Counterparty labels agree with the codes, row by row.
      const labels = (await q(`select counterparty from ${from}`)).map(([c]) => c);
      for (let r = 0; r < record.rows; r++) {
        const code = record.counterparty[r]!;
        const expected = record.agentClass[r] === CLASS_LP ? null : code === COUNTERPARTY_ECN ? "ECN" : code === COUNTERPARTY_NONE ? "none" : `LP ${code}`;
        expect(labels[r]).toBe(expected);
      }

      const metadata = Object.fromEntries((await q(`select decode(key), decode(value) from parquet_kv_metadata('${file}')`)).map(([k, v]) => [k, v]));
      const columns = JSON.parse(String(metadata["otc.columns"])) as Record<string, { unit: string; meaning: string }>;
      expect(Object.keys(columns).sort()).toEqual(Object.keys(types).sort());
      expect(columns["inventory"]).toEqual({ unit: "lots", meaning: "inventory after the step" });
      expect(metadata["otc.seed"]).toBe("4");
    } finally {
      connection.closeSync();
    }
  });
});

describe("stepRecordFromTable", () => {
  it("reads back exactly the record the table was written from, through Arrow IPC", () => {
    const record = recordOf(6);
    const table = tableFromIPC(tableToIPC(stepRecordTable(record)));
    expect(stepRecordFromTable(table)).toEqual(record);
  });

  it("refuses a table without a record's columns, or with a label it never writes", () => {
    const record = recordOf(7);
    const table = stepRecordTable(record);
    expect(() => stepRecordFromTable(table.select(["episode", "t"]))).toThrow(/it has no column "agent/);
    const labels = Array.from({ length: record.rows }, (_, r) => (r === 3 ? "LP x" : "ECN"));
    const forged = table.select(table.schema.fields.map((f) => f.name).filter((n) => n !== "counterparty")).assign(new Table({ counterparty: vectorFromArray(labels, new Dictionary(new Utf8(), new Int32())) }));
    expect(() => stepRecordFromTable(forged)).toThrow(/row 3 of "counterparty" holds "LP x"/);
  });
});
