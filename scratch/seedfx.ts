import { applyMigrations } from "@/server/db/migrate";
import { createDb } from "@/server/db";
import { inTransaction } from "@/server/repos/tx";
import { createTenant } from "@/server/repos/tenants";
import { systemClock } from "@/server/clock";
import { requestExport } from "@/server/services/audit/export";
import { writeFixtures } from "@/server/services/fixtures";
async function main() {
const url = process.argv[2]!; const n = Number(process.argv[3]);
await applyMigrations(url);
const db = createDb(url);
const tenant = await inTransaction(db, (tx) => createTenant(tx, { slug: "fx", name: "s" }));
await writeFixtures(db, systemClock, { tenantSlug: "fx", accounts: 20, ledgerRows: n });
for (let i = 0; i < 2; i++) await requestExport(db, { tenantId: tenant.id, actor: { type: "SYSTEM", id: "x" }, role: null, userId: null }, { from: new Date(Date.now() - 31 * 86400000), to: new Date(Date.now() + 86400000), format: "csv" }, systemClock);
await db.$disconnect();
}
main();
