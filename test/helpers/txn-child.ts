/**
 * A second (and third) process writing to the test database for
 * test/integration/db-multiprocess.test.ts: `tsx test/helpers/txn-child.ts` with DATABASE_URL,
 * TENANT_ID, LABEL and COUNT. It runs COUNT read-then-write transactions through the app's own
 * `inTransaction` (count the tenant's accounts, yield, insert one), then prints one JSON line:
 * { ok, failed, errors } — errors by class name and SQLite/driver code only.
 */
import { setTimeout as delay } from "node:timers/promises";
import { createDb } from "@/server/db";
import { inTransaction } from "@/server/repos/tx";

const db = createDb(process.env.DATABASE_URL as string);
const tenantId = process.env.TENANT_ID as string;
const label = process.env.LABEL as string;
const count = Number(process.env.COUNT);
let ok = 0;
let failed = 0;
const errors: Record<string, number> = {};
for (let i = 0; i < count; i++) {
  try {
    await inTransaction(db, async (tx) => {
      const n = await tx.account.count({ where: { tenantId } });
      // Let the other process commit between this read and the write below.
      await delay(1);
      await tx.account.create({ data: { tenantId, name: `${label}-${i}-${n}` } });
    });
    ok++;
  } catch (err) {
    failed++;
    const e = err as { name?: string; code?: string; message?: string };
    const key = `${e.name ?? "Error"} ${e.code ?? ""} ${/timed out|locked|busy/i.exec(e.message ?? "")?.[0] ?? ""}`.trim();
    errors[key] = (errors[key] ?? 0) + 1;
  }
}
console.log(JSON.stringify({ ok, failed, errors }));
await db.$disconnect();
