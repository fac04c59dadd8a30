import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as getImportRoute } from "@/app/api/v1/accounts/import/[id]/route";
import { POST as postImport } from "@/app/api/v1/accounts/import/route";
import { createCaller } from "@/server/api/root";
import { systemClock } from "@/server/clock";
import { IMPORT_LIMITS } from "@/server/engine/importRows";
import type { ApiKeyScope } from "@/server/schemas/common";
import { createApiKey } from "@/server/services/apiKeys";
import { handleImportJob, IMPORT_ROWS, runImport } from "@/server/services/imports";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { drainQueue } from "../helpers/gate";

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const keys: Record<string, string> = {};

async function key(tenant: TestTenant, scopes: ApiKeyScope[]) {
  return (
    await createApiKey(t.db, { tenantId: tenant.id, name: scopes.join("+"), scopes, actor: { type: "SYSTEM", id: "test" } }, systemClock)
  ).key;
}

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  keys.admin = await key(a, ["admin"]);
  keys.ingest = await key(a, ["ingest"]);
  keys.read = await key(a, ["read"]);
  keys.bAdmin = await key(b, ["admin"]);
}, 60_000);
afterAll(() => t.cleanup());

function post(csv: BodyInit, opts: { key?: string; kind?: string; type?: string } = {}) {
  return postImport(
    new Request(`http://127.0.0.1/api/v1/accounts/import${opts.kind ? `?kind=${opts.kind}` : ""}`, {
      method: "POST",
      headers: { authorization: `Bearer ${opts.key ?? keys.admin}`, "content-type": opts.type ?? "text/csv" },
      body: csv,
      ...(csv instanceof ReadableStream ? { duplex: "half" } : {}),
    } as RequestInit),
  );
}

async function status(id: string, k: string = keys.admin as string) {
  const res = await getImportRoute(
    new Request(`http://127.0.0.1/api/v1/accounts/import/${id}`, { headers: { authorization: `Bearer ${k}` } }),
    {
      params: Promise.resolve({ id }),
    },
  );
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown> & { errors: { line: number; column: string; message: string }[] },
  };
}

/** POST a file and run the production queue worker until the import is done. */
async function importFile(csv: string, opts: { key?: string; kind?: string } = {}) {
  const res = await post(csv, opts);
  const body = (await res.json()) as { import_id: string; error?: unknown };
  expect(res.status, JSON.stringify(body)).toBe(202);
  await drainQueue(t.db);
  const s = await status(body.import_id, opts.key ?? keys.admin);
  expect(s.body.status).toBe("COMPLETED");
  return { ...s.body, id: body.import_id } as Record<string, unknown> & { id: string; errors: typeof s.body.errors };
}

const ledgerOf = (tenantId: string, type: string) => t.db.ledgerEntry.findMany({ where: { tenantId, type }, orderBy: { seq: "asc" } });
const accountsOf = (tenantId: string) =>
  t.db.account.findMany({ where: { tenantId, externalId: { not: null } }, orderBy: { externalId: "asc" } });

describe(`CSV import on ${TEST_PROVIDER}`, () => {
  const mixed = [
    "External_ID,Name,Owner Email,lifecycle,posture,arr,notes",
    `g1,Good One,${"OWNER"},CUSTOMER,OK,1000,"a note`,
    `spanning three`,
    `lines"`,
    "g2,Good Two,,PROSPECT,WATCH,,",
    "bad1,Bad Posture,,CUSTOMER,ON_FIRE,10,",
    "g3,Good Three,,,,,",
    "bad2,,,,,-4,",
  ].join("\r\n");

  it("imports the good rows and names each bad one by its real line and column (a multi-line field before it)", async () => {
    const csv = mixed.replace("OWNER", a.seller.email.toUpperCase());
    const res = await importFile(csv);
    expect(res).toMatchObject({ kind: "accounts", rows_total: 5, rows_done: 5, created: 3, updated: 0, error_count: 3 });
    // line 1 header, 2–4 the multi-line row, 5 g2, 6 bad1, 7 g3, 8 bad2
    expect(res.errors).toEqual([
      { line: 1, column: "notes", message: "unknown column, ignored" },
      { line: 6, column: "posture", message: expect.stringContaining("ON_FIRE") },
      { line: 8, column: "name", message: "is required" },
      { line: 8, column: "arr", message: "must not be negative" },
    ]);
    const rows = await accountsOf(a.id);
    expect(rows.map((r) => r.externalId)).toEqual(["g1", "g2", "g3"]);
    // owner_email resolves (case-insensitively) to the member
    expect(rows[0]).toMatchObject({ name: "Good One", ownerId: a.seller.id, lifecycle: "CUSTOMER", arrCents: 100_000 });
    expect(rows[1]).toMatchObject({ posture: "WATCH", ownerId: null });
    // new accounts are heat inputs
    expect(await t.db.accountHeat.count({ where: { tenantId: a.id, accountId: { in: rows.map((r) => r.id) } } })).toBe(3);
    const [entry] = await ledgerOf(a.id, "ACCOUNTS_IMPORTED");
    expect((await t.db.importJob.findUniqueOrThrow({ where: { id: res.id } })).kind).toBe("ACCOUNTS");
    expect(JSON.parse(entry?.payload ?? "{}")).toMatchObject({
      import_id: res.id,
      kind: "ACCOUNTS",
      rows_total: 5,
      created: 3,
      updated: 0,
      errors: 3,
    });
  });

  it("the same file twice is idempotent by external id: nothing created, nothing changed, no change ledgered", async () => {
    const csv = mixed.replace("OWNER", a.seller.email);
    const before = await accountsOf(a.id);
    const updatesBefore = (await ledgerOf(a.id, "ACCOUNT_UPDATED")).length;
    const again = await importFile(csv);
    expect(again).toMatchObject({ created: 0, updated: 0, error_count: 3 });
    const after = await accountsOf(a.id);
    expect(after.map((r) => [r.id, r.updatedAt.getTime()])).toEqual(before.map((r) => [r.id, r.updatedAt.getTime()]));
    expect((await ledgerOf(a.id, "ACCOUNT_UPDATED")).length).toBe(updatesBefore);
    const imported = await ledgerOf(a.id, "ACCOUNTS_IMPORTED");
    expect(imported.length).toBe(2);
    expect(JSON.parse(imported[1]?.payload ?? "{}")).toMatchObject({ created: 0, updated: 0, sha256: again.sha256 });
  });

  it("a posture or lifecycle change is ledgered ACCOUNT_UPDATED (source import) with its decision trigger and heat mark", async () => {
    const g2 = (await accountsOf(a.id)).find((r) => r.externalId === "g2");
    await t.db.accountHeat.update({
      where: { tenantId_accountId: { tenantId: a.id, accountId: g2?.id as string } },
      data: { dirtyAt: null },
    });
    const res = await importFile("external_id,name,posture,lifecycle\ng2,Good Two,AT_RISK,CUSTOMER\ng3,Good Three,,\n");
    expect(res).toMatchObject({ created: 0, updated: 1, error_count: 0 });
    const updates = (await ledgerOf(a.id, "ACCOUNT_UPDATED")).filter((e) => e.accountId === g2?.id);
    expect(updates).toHaveLength(1);
    expect(JSON.parse(updates[0]?.payload ?? "{}")).toEqual({
      source: "import",
      changed: { posture: { before: "WATCH", after: "AT_RISK" }, lifecycle: { before: "PROSPECT", after: "CUSTOMER" } },
    });
    expect(updates[0]?.actorType).toBe("API_KEY");
    const windows = await t.db.triggerWindow.findMany({ where: { tenantId: a.id, accountId: g2?.id } });
    expect(windows.map((w) => w.triggerType).sort()).toEqual(["LIFECYCLE_STATE_CHANGE", "POSTURE_CHANGE"]);
    const heat = await t.db.accountHeat.findUniqueOrThrow({
      where: { tenantId_accountId: { tenantId: a.id, accountId: g2?.id as string } },
    });
    expect(heat.dirtyAt).not.toBeNull();
  });

  it("contacts and opportunities attach to accounts by account_external_id; unknown accounts are row errors", async () => {
    const contacts = await importFile(
      ["external_id,account_external_id,name,email,title", "c1,g1,Ann,ann@x.test,CFO", "c2,nope,Bob,,", "c3,g2,Cy,not-mail,"].join("\n"),
      { kind: "contacts" },
    );
    expect(contacts).toMatchObject({ kind: "contacts", created: 1, error_count: 2 });
    expect(contacts.errors.map((e) => [e.line, e.column])).toEqual([
      [3, "account_external_id"],
      [4, "email"],
    ]);
    const opps = await importFile(
      [
        "external_id,account_external_id,name,stage,amount,close_date",
        "o1,g1,Renewal,negotiation,25000.5,2026-12-31",
        "o2,g3,Upsell,QUALIFY,,",
      ].join("\n"),
      { kind: "opportunities", key: keys.ingest },
    );
    expect(opps).toMatchObject({ created: 2, error_count: 0 });
    const [g1, , g3] = await accountsOf(a.id);
    const c1 = await t.db.contact.findFirstOrThrow({ where: { tenantId: a.id, externalId: "c1" } });
    expect(c1).toMatchObject({ accountId: g1?.id, name: "Ann", email: "ann@x.test", title: "CFO" });
    const o1 = await t.db.opportunity.findFirstOrThrow({ where: { tenantId: a.id, externalId: "o1" } });
    expect(o1).toMatchObject({
      accountId: g1?.id,
      stage: "NEGOTIATION",
      amountCents: 2_500_050,
      closeDate: new Date("2026-12-31T00:00:00Z"),
    });
    expect((await t.db.opportunity.findFirstOrThrow({ where: { tenantId: a.id, externalId: "o2" } })).accountId).toBe(g3?.id);
    // re-import with one change: the opportunity moves account and stage, nothing is created
    const again = await importFile(
      [
        "external_id,account_external_id,name,stage,amount,close_date",
        "o1,g3,Renewal,CLOSED_WON,25000.50,2026-12-31",
        "o2,g3,Upsell,QUALIFY,,",
      ].join("\n"),
      { kind: "opportunities" },
    );
    expect(again).toMatchObject({ created: 0, updated: 1 });
    expect(await t.db.opportunity.findFirstOrThrow({ where: { tenantId: a.id, externalId: "o1" } })).toMatchObject({
      accountId: g3?.id,
      stage: "CLOSED_WON",
    });
  });

  it("owner_email must be a member of this tenant (another tenant's user is a row error)", async () => {
    const res = await importFile(
      `external_id,name,owner_email\nm1,Member,${a.admin.email}\nm2,Stranger,${b.admin.email}\nm3,Nobody,no@one.test\n`,
    );
    expect(res).toMatchObject({ created: 1, error_count: 2 });
    expect(res.errors.map((e) => [e.line, e.column])).toEqual([
      [3, "owner_email"],
      [4, "owner_email"],
    ]);
    expect((await t.db.account.findFirstOrThrow({ where: { tenantId: a.id, externalId: "m1" } })).ownerId).toBe(a.admin.id);
  });

  it("progress is visible: rows_done grows chunk by chunk, and a re-run resumes without counting twice", async () => {
    const n = IMPORT_LIMITS.chunkRows * 2 + 50;
    const rows = Array.from({ length: n }, (_, i) => `p${i},Progress ${i},${i % 7 === 0 ? "NOT_A_POSTURE" : "OK"}`);
    const res = await post(["external_id,name,posture", ...rows].join("\n"));
    const { import_id: id } = (await res.json()) as { import_id: string };
    expect((await status(id)).body).toMatchObject({ status: "PENDING", rows_total: n, rows_done: 0 });
    const seen: number[] = [];
    for (;;) {
      const r = await runImport(t.db, a.id, id, systemClock, { maxChunks: 1 });
      const s = (await status(id)).body;
      seen.push(s.rows_done as number);
      if (r.status === "COMPLETED") break;
      expect(s.status).toBe("RUNNING");
    }
    expect(seen).toEqual([IMPORT_LIMITS.chunkRows, IMPORT_LIMITS.chunkRows * 2, n]);
    const bad = Math.ceil(n / 7);
    expect((await status(id)).body).toMatchObject({ status: "COMPLETED", created: n - bad, error_count: bad });
    // a duplicate delivery after completion changes nothing and ledgers nothing
    const imported = (await ledgerOf(a.id, "ACCOUNTS_IMPORTED")).length;
    expect((await runImport(t.db, a.id, id, systemClock)).status).toBe("NOTHING_TO_DO");
    expect((await ledgerOf(a.id, "ACCOUNTS_IMPORTED")).length).toBe(imported);
    expect(await t.db.account.count({ where: { tenantId: a.id, externalId: { startsWith: "p" } } })).toBe(n - bad);
  }, 60_000);

  it("a run that reaches its lease deadline queues a continuation that resumes at rows_done", async () => {
    const n = IMPORT_LIMITS.chunkRows + 20;
    const res = await post(["external_id,name", ...Array.from({ length: n }, (_, i) => `d${i},Deadline ${i}`)].join("\n"));
    const { import_id: id } = (await res.json()) as { import_id: string };
    // A lease that ends as the run starts: one chunk, then a continuation.
    const first = await handleImportJob(
      { importId: id },
      { db: t.db, clock: systemClock, job: { tenantId: a.id, attempt: 1, maxAttempts: 5, leaseUntil: new Date(Date.now() + 30_000) } },
    );
    expect(first).toMatchObject({ status: "PARTIAL", rowsDone: IMPORT_LIMITS.chunkRows });
    expect(
      await t.db.job.count({ where: { tenantId: a.id, kind: IMPORT_ROWS, dedupeKey: `import:${id}:from:${IMPORT_LIMITS.chunkRows}` } }),
    ).toBe(1);
    await drainQueue(t.db);
    expect((await status(id)).body).toMatchObject({ status: "COMPLETED", rows_done: n, created: n });
    expect(await t.db.account.count({ where: { tenantId: a.id, externalId: { startsWith: "d" } } })).toBe(n);
  });

  it("the last failed attempt marks the import FAILED with a reason that names only an error id", async () => {
    const c = await makeTenant(t.db);
    const cKey = await key(c, ["admin"]);
    const res = await post("external_id,name\nf1,Fails\n", { key: cKey });
    const { import_id: id } = (await res.json()) as { import_id: string };
    // A real database fault: the tenant's ledger head is gone, so the final ledger write throws.
    await t.db.ledgerHead.delete({ where: { tenantId: c.id } });
    const ctx = (attempt: number) => ({
      db: t.db,
      clock: systemClock,
      job: { tenantId: c.id, attempt, maxAttempts: 2, leaseUntil: new Date(Date.now() + 120_000) },
    });
    await expect(handleImportJob({ importId: id }, ctx(1))).rejects.toThrow();
    expect((await status(id, cKey)).body.status).toBe("RUNNING");
    await expect(handleImportJob({ importId: id }, ctx(2))).rejects.toThrow();
    const s = (await status(id, cKey)).body;
    expect(s.status).toBe("FAILED");
    expect(s.errors[0]?.message).toMatch(/^The import stopped after 2 attempts \(error id err_[0-9a-f]+\)$/);
    expect(JSON.stringify(s)).not.toMatch(/ledger|head|prisma/i);
  });

  it("concurrent workers on one import commit each chunk once (counts exact, no duplicate rows)", async () => {
    const n = IMPORT_LIMITS.chunkRows * 3;
    const rows = Array.from({ length: n }, (_, i) => `k${i},Concurrent ${i}`);
    const res = await post(["external_id,name", ...rows].join("\n"));
    const { import_id: id } = (await res.json()) as { import_id: string };
    const runAll = async (importId: string) => {
      const outcomes = await Promise.all(
        Array.from({ length: 6 }, () => runImport(t.db, a.id, importId, systemClock).catch((e: unknown) => e)),
      );
      // a loser waits on the chunk's lock and stops cleanly: no unique violation, no error at all
      expect(outcomes.filter((o) => o instanceof Error)).toEqual([]);
      // whoever lost a race stopped; one more run finishes whatever is left
      await runImport(t.db, a.id, importId, systemClock);
    };
    await runAll(id);
    expect((await status(id)).body).toMatchObject({ status: "COMPLETED", rows_done: n, created: n, updated: 0, error_count: 0 });
    expect(await t.db.account.count({ where: { tenantId: a.id, externalId: { startsWith: "k" } } })).toBe(n);
    expect((await ledgerOf(a.id, "ACCOUNTS_IMPORTED")).filter((e) => JSON.parse(e.payload).import_id === id)).toHaveLength(1);
    // the same rows renamed, by six concurrent workers: each account updated and ledgered exactly once
    const updatesBefore = (await ledgerOf(a.id, "ACCOUNT_UPDATED")).length;
    const renamed = await post(["external_id,name", ...Array.from({ length: n }, (_, i) => `k${i},Renamed ${i}`)].join("\n"));
    const { import_id: id2 } = (await renamed.json()) as { import_id: string };
    await runAll(id2);
    expect((await status(id2)).body).toMatchObject({ status: "COMPLETED", created: 0, updated: n });
    expect((await ledgerOf(a.id, "ACCOUNT_UPDATED")).length - updatesBefore).toBe(n);
  }, 60_000);

  it("refuses whole files it cannot import: oversized → 413, wrong type → 400, missing column → 422; nothing written", async () => {
    const jobsBefore = await t.db.importJob.count();
    const queueBefore = await t.db.job.count({ where: { kind: IMPORT_ROWS } });
    const big = `external_id,name\n${"x,y\n".repeat(Math.ceil(IMPORT_LIMITS.maxBodyBytes / 4) + 10)}`;
    const tooBig = await post(big);
    expect(tooBig.status).toBe(413);
    // a chunked upload that declares no length is cut off as well
    const enc = new TextEncoder().encode("a,b\n".repeat(256 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent++ >= 6) return c.close();
        c.enqueue(enc);
      },
    });
    expect((await post(stream)).status).toBe(413);
    const wrongType = await post("external_id,name\na,b\n", { type: "application/json" });
    expect(wrongType.status).toBe(400);
    expect(((await wrongType.json()) as { error: { field: string } }).error.field).toBe("content-type");
    const missing = await post("external_id,title\nx,y\n", { kind: "contacts" });
    expect(missing.status).toBe(422);
    expect(((await missing.json()) as { error: { field: string; message: string } }).error).toMatchObject({
      field: "account_external_id",
      message: expect.stringContaining("account_external_id, name"),
    });
    expect((await post("external_id,name\na,b\n", { kind: "widgets" })).status).toBe(400);
    expect((await post("external_id,name\na,b\u0000\n")).status).toBe(400);
    expect((await post('external_id,name\na,"open\n')).status).toBe(422);
    expect((await post("external_id,name\na,b\n", { key: keys.read })).status).toBe(403);
    expect(await t.db.importJob.count()).toBe(jobsBefore);
    expect(await t.db.job.count({ where: { kind: IMPORT_ROWS } })).toBe(queueBefore);
  });

  it("another tenant's import id → 404; an import never touches another tenant's rows with the same external id", async () => {
    const aRows = await accountsOf(a.id);
    const aG1 = aRows.find((r) => r.externalId === "g1");
    const mine = await importFile("external_id,name,posture\ng1,Tenant B's g1,DORMANT\nonly-b,B only,OK\n", { key: keys.bAdmin });
    expect(mine).toMatchObject({ created: 2, updated: 0 });
    expect((await status(mine.id, keys.admin)).status).toBe(404);
    expect((await status("no-such-import", keys.admin)).status).toBe(404);
    expect((await status(mine.id, keys.bAdmin)).status).toBe(200);
    expect(await accountsOf(a.id)).toEqual(aRows);
    expect(aG1).toMatchObject({ name: "Good One", posture: "OK" });
    expect(await t.db.account.count({ where: { tenantId: b.id, externalId: "g1", name: "Tenant B's g1" } })).toBe(1);
    // contacts in B cannot attach to A's account of the same external id
    const c = await importFile("external_id,account_external_id,name\nbc1,g2,Nope\n", { key: keys.bAdmin, kind: "contacts" });
    expect(c).toMatchObject({ created: 0, error_count: 1 });
  });
});

describe(`imports tRPC on ${TEST_PROVIDER}`, () => {
  const caller = (s: TestTenant["admin"]) => createCaller({ db: t.db, clock: systemClock, session: s.session });

  it("admins create, read and list imports; the file arrives in parts and is joined unchanged", async () => {
    const c = caller(a.admin);
    const res = await c.imports.create({ kind: "accounts", fileName: "a.csv", parts: ["external_id,na", "me\ntr1,From tRPC\n"] });
    await drainQueue(t.db);
    const got = await c.imports.get({ id: res.importId });
    expect(got).toMatchObject({ status: "COMPLETED", created: 1, fileName: "a.csv" });
    expect((await c.imports.list({ limit: 50 })).map((i) => i.id)).toContain(res.importId);
    const entry = (await ledgerOf(a.id, "ACCOUNTS_IMPORTED")).find((e) => JSON.parse(e.payload).import_id === res.importId);
    expect(entry).toMatchObject({ actorType: "USER", actorId: a.admin.id });
    // another tenant's admin cannot see it
    await expect(caller(b.admin).imports.get({ id: res.importId })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect((await caller(b.admin).imports.list({ limit: 50 })).map((i) => i.id)).not.toContain(res.importId);
  });

  it("sellers and auditors cannot use any imports procedure", async () => {
    const anId = (await caller(a.admin).imports.list({ limit: 1 }))[0]?.id as string;
    for (const who of [a.seller, a.auditor]) {
      const c = caller(who);
      for (const p of [
        c.imports.create({ kind: "accounts", parts: ["external_id,name\nsel1,Seller import\n"] }),
        c.imports.get({ id: anId }),
        c.imports.list({ limit: 5 }),
      ]) {
        const err = await p.then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(TRPCError);
        expect((err as TRPCError).code).toBe("FORBIDDEN");
      }
    }
    expect(await t.db.account.count({ where: { externalId: "sel1" } })).toBe(0);
  });
});
