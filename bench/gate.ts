import { randomUUID } from "node:crypto";
import { systemClock } from "../server/clock";
import type { Db } from "../server/db";
import type { Viewer } from "../server/repos/scope";
import { addMembership, createTenant } from "../server/repos/tenants";
import { inTransaction } from "../server/repos/tx";
import { putAllowlist, putBudget, putMode } from "../server/services/autonomyConfig";
import { submitIntent } from "../server/services/gate";
import type { BenchRow } from "./ledger";

async function rate(n: number, fn: (i: number) => Promise<unknown>) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return n / ((performance.now() - t0) / 1000);
}

/**
 * Full gate throughput — intent in → policy → budget → internal execution → ledger, one intent
 * at a time — as a ratio to a raw single-row-transaction insert loop on the same database in the
 * same run. Target on SQLite: ≥ 0.33.
 */
export async function gateBench(db: Db, label: string, n: number): Promise<BenchRow[]> {
  const { tenant, accountId, viewer } = await inTransaction(db, async (tx) => {
    const tenant = await createTenant(tx, { slug: `bench-${randomUUID().slice(0, 8)}`, name: "bench" });
    const user = await tx.user.create({ data: { email: `bench-${randomUUID()}@bench.test`, name: "bench" } });
    await addMembership(tx, tenant.id, user.id, "ADMIN");
    const account = await tx.account.create({ data: { tenantId: tenant.id, name: "Bench account", lifecycle: "CUSTOMER" } });
    const viewer: Viewer = { tenantId: tenant.id, actor: { type: "USER", id: user.id }, role: "ADMIN", userId: user.id };
    return { tenant, accountId: account.id, viewer };
  });
  await putAllowlist(db, viewer, { actionTypes: ["CREATE_INTERNAL_TASK"] }, systemClock);
  await putMode(db, viewer, { actionType: "CREATE_INTERNAL_TASK", mode: "AUTO_EXECUTE" }, systemClock);
  await putBudget(db, viewer, { accountId, maxPerDay: 1000 }, systemClock);

  // Warm both paths so neither pays first-query planning in the measured loop.
  for (let i = 0; i < 10; i++) await rawInsert(db, tenant.id, -1 - i);
  const raw = await rate(n, (i) => rawInsert(db, tenant.id, i));
  const deps = { db, clock: systemClock, connectors: { smtp: null } };
  const intent = (i: number) => ({
    accountId,
    actionType: "CREATE_INTERNAL_TASK",
    confidence: 0.9,
    riskLevel: "LOW",
    why: ["BENCH"],
    parameters: { title: `task ${i}` },
    target: {},
    blockingUnknowns: [],
    source: "API" as const,
  });
  for (let i = 0; i < 5; i++) await submitIntent(deps, viewer, intent(-i));
  let succeeded = 0;
  const gate = await rate(n, async (i) => {
    const r = await submitIntent(deps, viewer, intent(i));
    if (r.status === "SUCCEEDED") succeeded++;
  });
  if (succeeded !== n) throw new Error(`gate bench: only ${succeeded}/${n} intents auto-executed`);
  const target = label === "sqlite" ? 0.33 : null;
  const ratio = gate / raw;
  return [
    { suite: "gate", db: label, case: "raw single-row tx insert (baseline)", opsPerSec: raw, ratio: 1, note: "" },
    {
      suite: "gate",
      db: label,
      case: "full gate: intent → policy → budget → internal execution → ledger",
      opsPerSec: gate,
      ratio,
      note: target ? `target ≥ ${target} — ${ratio >= target ? "met" : "NOT met"}` : "",
    },
  ];
}

function rawInsert(db: Db, tenantId: string, i: number) {
  return inTransaction(db, (tx) =>
    tx.ledgerEntry.create({
      data: {
        tenantId,
        seq: 10_000_000 + i,
        correlationId: randomUUID(),
        type: "SIGNAL_RECEIVED",
        actorType: "SYSTEM",
        actorId: "bench",
        payload: '{"n":1}',
        createdAt: new Date(),
        prevHash: "",
        hash: "",
      },
    }),
  );
}
