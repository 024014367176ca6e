// verify-polars.mjs DATASET_ROOT — read a certstream-arrow dataset with an
// independent Arrow implementation (polars, Rust) and print a JSON summary.
//
// Each published file is read twice: as an Arrow IPC file, and from byte 8
// onward as an IPC stream (the way DuckDB's nanoarrow extension reads it).
// Needs: npm install nodejs-polars nodejs-polars-linux-x64-gnu
// (NODE_PATH may point at the node_modules holding them).
import { createRequire } from "node:module";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(join(process.env.NODE_PATH || process.cwd(), "_"));
const pl = require("nodejs-polars");

const root = process.argv[2];
if (!root) {
  console.error("usage: node verify-polars.mjs DATASET_ROOT");
  process.exit(2);
}

const summary = { files: 0, rows: 0, hours: {}, certificates: 0, distinct_certificates: 0, domains: 0, sha256: 0 };
const keys = new Set();
for (const hour of readdirSync(root).filter((d) => d.startsWith("hour=")).sort()) {
  for (const name of readdirSync(join(root, hour)).sort()) {
    if (!name.endsWith(".feather")) continue;
    const path = join(root, hour, name);
    // Pass bytes: nodejs-polars treats a path string not ending in .ipc as inline data.
    const raw = readFileSync(path);
    const df = pl.readIPC(raw);
    const asStream = pl.readIPCStream(raw.subarray(8));
    if (df.height !== asStream.height || !df.frameEqual(asStream)) {
      throw new Error(`${path}: file and stream-from-byte-8 readings differ`);
    }
    summary.files++;
    summary.rows += df.height;
    summary.hours[hour] = (summary.hours[hour] || 0) + df.height;
    const certs = df.filter(pl.col("cert_index").isNotNull());
    summary.certificates += certs.height;
    for (const r of certs.select("source_url", "cert_index").toRecords()) keys.add(`${r.source_url}|${r.cert_index}`);
    summary.domains += df.select(pl.col("domains").lst.lengths().sum()).toRecords()[0].domains ?? 0;
    const sha256 = df.getColumn("sha256");
    summary.sha256 += sha256.len() - sha256.nullCount();
  }
}
summary.distinct_certificates = keys.size;
console.log(JSON.stringify(summary));
