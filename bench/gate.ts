import { randomUUID } from "node:crypto";
import { systemClock } from "../server/clock";
import type { Db } from "../server/db";
import type { Viewer } from "../server/repos/scope";
import { addMembership, createTenant } from "../server/repos/tenants";
import { inTransaction } from "../server/repos/tx";
import { putAllowlist, putBudget, putMode } from "../server/services/autonomyConfig";
import { submitIntent } from "../server/services/gate";
import { atLeast, type BenchRow } from "./ledger";
import { driverInsertRate } from "./raw";

async function rate(n: number, fn: (i: number) => Promise<unknown>) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return n / ((performance.now() - t0) / 1000);
}

/** `n` calls from `callers` concurrent callers, each starting its next call when one returns. */
async function concurrentRate(n: number, callers: number, fn: (i: number) => Promise<unknown>) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < n) await fn(next++);
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

/** Concurrent submitters in the group-commit row: what a busy API or several decision runs look like. */
const CALLERS = 64;
/** The per-account daily cap is at most 1000 (BudgetCap), so the concurrent row spreads over accounts. */
const PER_ACCOUNT = 900;

/**
 * Full gate throughput — intent in → policy → budget → internal execution → ledger — one intent
 * at a time, and from 64 concurrent submitters whose intents the gate admits in groups (group
 * commit: one transaction and multi-row writes per group). The bar is on the concurrent row,
 * against two baselines measured in the same run on the same database:
 *  - the physical limit (issue 13): the plain driver, no ORM — on SQLite better-sqlite3 committing
 *    one single-row transaction at a time on the app's own file and settings (WAL, the default
 *    synchronous FULL the app uses); on PostgreSQL 8 connections doing autocommit single-row
 *    inserts concurrently. Bars: ≥ 0.5 of it on SQLite, ≥ 1.0 on PostgreSQL.
 *  - the ORM level: a Prisma interactive transaction around one insert (what any gate write pays).
 */
export async function gateBench(db: Db, label: string, url: string, n: number): Promise<BenchRow[]> {
  const { tenant, accountId, viewer } = await inTransaction(db, async (tx) => {
    const tenant = await createTenant(tx, { slug: `bench-${randomUUID().slice(0, 8)}`, name: "bench" });
    const user = await tx.user.create({ data: { email: `bench-${randomUUID()}@bench.test`, name: "bench" } });
    await addMembership(tx, tenant.id, user.id, "ADMIN");
    const account = await tx.account.create({ data: { tenantId: tenant.id, name: "Bench account", lifecycle: "CUSTOMER" } });
    const viewer: Viewer = { tenantId: tenant.id, actor: { type: "USER", id: user.id }, role: "ADMIN", userId: user.id };
    return { tenant, accountId: account.id, viewer };
  });
  const grouped = Math.max(n * 4, 2000);
  const groupAccounts = await inTransaction(db, (tx) =>
    Promise.all(
      Array.from({ length: Math.ceil(grouped / PER_ACCOUNT) }, (_, k) =>
        tx.account.create({ data: { tenantId: tenant.id, name: `Bench account ${k}`, lifecycle: "CUSTOMER" } }),
      ),
    ),
  );
  await putAllowlist(db, viewer, { actionTypes: ["CREATE_INTERNAL_TASK"] }, systemClock);
  await putMode(db, viewer, { actionType: "CREATE_INTERNAL_TASK", mode: "AUTO_EXECUTE" }, systemClock);
  for (const id of [accountId, ...groupAccounts.map((a) => a.id)])
    await putBudget(db, viewer, { accountId: id, maxPerDay: 1000 }, systemClock);

  // Warm both paths so neither pays first-query planning in the measured loop.
  for (let i = 0; i < 10; i++) await ormInsert(db, tenant.id, -1 - i);
  const orm = await rate(n, (i) => ormInsert(db, tenant.id, i));
  const driver = await driverRate(label, url, tenant.id, Math.max(n, 2000));
  const deps = { db, clock: systemClock, connectors: { smtp: null } };
  const intent = (i: number, onAccount = accountId) => ({
    accountId: onAccount,
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
  succeeded = 0;
  const together = await concurrentRate(grouped, CALLERS, async (i) => {
    const r = await submitIntent(deps, viewer, intent(i, (groupAccounts[Math.floor(i / PER_ACCOUNT)] as { id: string }).id));
    if (r.status === "SUCCEEDED") succeeded++;
  });
  if (succeeded !== grouped) throw new Error(`gate bench: only ${succeeded}/${grouped} concurrent intents auto-executed`);
  const bar = label === "sqlite" ? 0.5 : 1.0;
  return [
    {
      suite: "gate",
      db: label,
      case:
        label === "sqlite"
          ? "driver: better-sqlite3 single-row transactions, one at a time (physical limit)"
          : "driver: pg, 8 connections of autocommit single-row inserts (physical limit)",
      opsPerSec: driver,
      ratio: 1,
      note: "",
    },
    {
      suite: "gate",
      db: label,
      case: "ORM: Prisma interactive transaction, one insert",
      opsPerSec: orm,
      ratio: orm / driver,
      note: "ratio to the driver",
    },
    {
      suite: "gate",
      db: label,
      case: "full gate: intent → policy → budget → internal execution → ledger, one at a time",
      opsPerSec: gate,
      ratio: gate / driver,
      note: `ratio to the driver; ${(gate / orm).toFixed(2)} of the ORM baseline; no company to group with`,
    },
    {
      suite: "gate",
      db: label,
      case: `full gate, ${CALLERS} concurrent submitters (group commit)`,
      opsPerSec: together,
      ratio: together / driver,
      note: `ratio to the driver; ${(together / orm).toFixed(2)} of the ORM baseline`,
      target: atLeast(together / driver, bar),
    },
  ];
}

/** The plain driver's single-row commit rate on this database (see gateBench). */
function driverRate(label: string, url: string, tenantId: string, n: number): Promise<number> {
  const columns = ["id", "tenantId", "seq", "correlationId", "type", "actorType", "actorId", "payload", "createdAt", "prevHash", "hash"];
  return driverInsertRate(label, url, "LedgerEntry", columns, n, (i, date) => [
    `drv-${randomUUID()}`,
    tenantId,
    20_000_000 + i,
    randomUUID(),
    "SIGNAL_RECEIVED",
    "SYSTEM",
    "bench",
    '{"n":1}',
    date,
    "",
    "",
  ]);
}

function ormInsert(db: Db, tenantId: string, i: number) {
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
