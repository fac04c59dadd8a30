import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as streamGet, PUT as streamPut } from "@/app/api/v1/audit/stream/route";
import { createCaller } from "@/server/api/root";
import { fixedClock, systemClock } from "@/server/clock";
import { verifyWebhookSignature } from "@/server/connectors/webhook";
import { STREAM_BACKOFF_CAP_MS } from "@/server/engine/auditStream";
import { appendLedgerBatch } from "@/server/repos/ledger";
import { inTransaction } from "@/server/repos/tx";
import { createApiKey } from "@/server/services/apiKeys";
import { runAuditStreamTick } from "@/server/services/auditStream";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

/**
 * The SIEM log stream (SPEC §4.8, §5.1 `GET/PUT /api/v1/audit/stream`) against real HTTP
 * receivers on 127.0.0.1: one that fails (500) for a while and hangs once still ends with every
 * seq of its tenant, in order, every request signed with a fresh timestamp, nothing of the other
 * tenant, lag 0; concurrent ticks never deliver out of order or in parallel.
 */

interface Received {
  at: number;
  tenant: string;
  seqs: number[];
  ids: string[];
  acked: boolean;
  signatureOk: boolean;
}

class Receiver {
  readonly requests: Received[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** runs once a request is recorded, before it is answered */
  onRequest: (() => Promise<void>) | null = null;
  private readonly hung: http.ServerResponse[] = [];
  private server: http.Server;
  url = "";
  secret = "";
  constructor(
    private readonly clock: { now(): Date },
    /** what the n-th request (0-based) gets */
    private readonly behaviour: (n: number) => "fail" | "hang" | "ok",
  ) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const body = JSON.parse(raw) as { tenant: string; entries: { seq: number; id: string }[] };
        const mode = this.behaviour(this.requests.length);
        const rec: Received = {
          at: this.clock.now().getTime(),
          tenant: body.tenant,
          seqs: body.entries.map((e) => e.seq),
          ids: body.entries.map((e) => e.id),
          acked: mode === "ok",
          signatureOk: verifyWebhookSignature(
            this.secret,
            req.headers["x-autopilot-signature"],
            req.headers["x-autopilot-timestamp"],
            raw,
            Math.floor(this.clock.now().getTime() / 1000),
            300,
          ),
        };
        this.requests.push(rec);
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        const done = () => this.inFlight--;
        if (mode === "hang") {
          this.hung.push(res);
          res.on("close", done);
          return;
        }
        const hook = this.onRequest ?? (async () => {});
        // A short pause so that overlapping deliveries, if there were any, would be seen in flight together.
        setTimeout(async () => {
          await hook();
          done();
          res.writeHead(mode === "ok" ? 200 : 500, { "content-type": "text/plain" }).end(mode === "ok" ? "ok" : "receiver down");
        }, 5);
      });
    });
  }
  async start() {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/ingest?source=autopilot`;
  }
  async stop() {
    for (const res of this.hung) res.destroy();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
  /** The seqs of acknowledged requests, in the order they arrived. */
  ackedSeqs() {
    return this.requests.filter((r) => r.acked).flatMap((r) => r.seqs);
  }
}

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const keys: Record<string, string> = {};
const clock = fixedClock(new Date());
const FAILS = 3;
let ra: Receiver;
let rb: Receiver;

async function api(handler: (req: Request) => Promise<Response>, key: string, method: string, body?: unknown) {
  return handler(
    new Request("http://127.0.0.1/api/v1/audit/stream", {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}

async function addEntries(tenant: TestTenant, n: number) {
  for (let i = 0; i < n; i += 400) {
    const batch = Array.from({ length: Math.min(400, n - i) }, (_, j) => ({
      type: "CONFIG_CHANGED" as const,
      actor: { type: "SYSTEM" as const, id: "stream-test" },
      payload: { change: `filler ${i + j}` },
    }));
    await inTransaction(t.db, (tx) => appendLedgerBatch(tx, tenant.id, batch, clock.now()));
  }
}

const headOf = async (tenant: TestTenant) => (await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: tenant.id } })).seq;
const seqRange = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  for (const [tenant, scope] of [
    [a, "admin"],
    [a, "read"],
    [b, "admin"],
  ] as const) {
    keys[`${tenant.slug}:${scope}`] = (
      await createApiKey(t.db, { tenantId: tenant.id, name: scope, scopes: [scope], actor: { type: "SYSTEM", id: "test" } }, systemClock)
    ).key;
  }
  // Tenant A's receiver: FAILS × 500, then one request that never answers, then it acknowledges.
  ra = new Receiver(clock, (n) => (n < FAILS ? "fail" : n === FAILS ? "hang" : "ok"));
  rb = new Receiver(clock, () => "ok");
  await ra.start();
  await rb.start();
}, 60_000);

afterAll(async () => {
  await ra?.stop();
  await rb?.stop();
  await t?.cleanup();
});

describe(`audit stream on ${TEST_PROVIDER}`, () => {
  it("PUT validates the URL and scope, writing nothing on bad input", async () => {
    const head = await headOf(a);
    for (const url of ["ftp://siem.example/x", "not a url", `https://siem.example/${"x".repeat(2100)}`, "https://user:pw@siem.example/"]) {
      const res = await api(streamPut, keys[`${a.slug}:admin`] as string, "PUT", { url, enabled: true });
      expect(res.status, url.slice(0, 40)).toBe(400);
      expect(((await res.json()) as { error: { field: string } }).error.field).toBe("url");
    }
    // No URL and no stream yet: the URL is required.
    const missing = await api(streamPut, keys[`${a.slug}:admin`] as string, "PUT", { enabled: true });
    expect(missing.status).toBe(400);
    expect((await api(streamPut, keys[`${a.slug}:admin`] as string, "PUT", { url: ra.url, enabled: "yes" })).status).toBe(400);
    expect((await api(streamPut, keys[`${a.slug}:read`] as string, "PUT", { url: ra.url, enabled: true })).status).toBe(403);
    expect((await api(streamGet, keys[`${a.slug}:read`] as string, "GET")).status).toBe(403);
    expect(await t.db.auditStream.count()).toBe(0);
    expect(await headOf(a)).toBe(head);
  });

  it("PUT shows the secret once; GET shows cursor, head, lag; the ledger has the origin only", async () => {
    const res = await api(streamPut, keys[`${a.slug}:admin`] as string, "PUT", { url: ra.url, enabled: true });
    expect(res.status).toBe(200);
    const created = (await res.json()) as Record<string, unknown>;
    expect(created.secret).toMatch(/^whsec_/);
    ra.secret = created.secret as string;
    expect(created).toMatchObject({ enabled: true, cursor_seq: 0, configured: true });
    expect(String(created.url)).not.toContain("source=autopilot");

    const again = (await (await api(streamPut, keys[`${a.slug}:admin`] as string, "PUT", { enabled: true })).json()) as Record<
      string,
      unknown
    >;
    expect(again.secret).toBeNull();
    const got = (await (await api(streamGet, keys[`${a.slug}:admin`] as string, "GET")).json()) as Record<string, unknown>;
    expect(got).not.toHaveProperty("secret");
    expect(got.head_seq).toBe(await headOf(a));
    expect(got.lag).toBe(got.head_seq);
    expect(Object.keys(got)).toEqual(
      expect.arrayContaining(["url", "enabled", "cursor_seq", "head_seq", "lag", "last_error", "last_delivered_at", "next_attempt_at"]),
    );

    const entries = await t.db.ledgerEntry.findMany({ where: { tenantId: a.id, type: "AUDIT_STREAM_CHANGED" }, orderBy: { seq: "asc" } });
    expect(entries.map((e) => JSON.parse(e.payload))).toEqual([
      { origin: new URL(ra.url).origin, enabled: true, secret_rotated: true },
      { origin: new URL(ra.url).origin, enabled: true, secret_rotated: false },
    ]);
    for (const e of entries) expect(e.payload).not.toContain(ra.secret);

    // Tenant B: its own stream to its own receiver; A's key never sees it.
    const rbRes = (await (await api(streamPut, keys[`${b.slug}:admin`] as string, "PUT", { url: rb.url, enabled: true })).json()) as {
      secret: string;
    };
    rb.secret = rbRes.secret;
    const seenByB = (await (await api(streamGet, keys[`${b.slug}:admin`] as string, "GET")).json()) as { url: string; cursor_seq: number };
    expect(seenByB.url).toContain(new URL(rb.url).host);
  });

  it("a receiver that fails and hangs still ends with every seq, in order, signed, nothing of the other tenant, lag 0", async () => {
    await addEntries(a, 1200);
    await addEntries(b, 300);
    const headA = await headOf(a);
    const headB = await headOf(b);
    let ticks = 0;
    for (; ticks < 30; ticks++) {
      await runAuditStreamTick({ db: t.db, clock, timeoutMs: 400 });
      const s = await createCaller({ db: t.db, clock, session: a.admin.session }).auditStream.get();
      if (s.configured && s.lag === 0) break;
      // A failure while still lagging is recorded, secret-free, with a backoff in the future.
      if (s.configured && s.lastError) {
        expect(s.lastError).not.toContain(ra.secret);
        expect(s.lastError).not.toContain("source=autopilot");
        expect(s.nextAttemptAt?.getTime()).toBeGreaterThan(clock.now().getTime());
      }
      clock.advance(STREAM_BACKOFF_CAP_MS + 1000);
    }
    expect(ticks).toBeLessThan(30);
    expect(ra.requests.filter((r) => !r.acked).length).toBe(FAILS + 1);

    // Every request: signed with a fresh timestamp, tenant A only, ascending consecutive seqs.
    const aIds = new Set((await t.db.ledgerEntry.findMany({ where: { tenantId: a.id }, select: { id: true } })).map((e) => e.id));
    for (const r of ra.requests) {
      expect(r.signatureOk).toBe(true);
      expect(r.tenant).toBe(a.slug);
      for (const id of r.ids) expect(aIds.has(id)).toBe(true);
      expect(r.seqs).toEqual(r.seqs.map((_, i) => (r.seqs[0] as number) + i));
      expect(r.seqs.length).toBeLessThanOrEqual(500);
    }
    expect(ra.ackedSeqs()).toEqual(seqRange(headA));
    // B's receiver got B's chain, exactly.
    expect(rb.requests.every((r) => r.tenant === b.slug && r.signatureOk)).toBe(true);
    expect(rb.ackedSeqs()).toEqual(seqRange(headB));

    const end = await createCaller({ db: t.db, clock, session: a.admin.session }).auditStream.get();
    expect(end).toMatchObject({ configured: true, lag: 0, cursorSeq: headA, lastError: null, attempts: 0, nextAttemptAt: null });
  });

  it("concurrent ticks deliver in order, one request at a time", async () => {
    const before = ra.requests.length;
    ra.maxInFlight = 0;
    await addEntries(a, 1700);
    const head = await headOf(a);
    await Promise.all(Array.from({ length: 5 }, () => runAuditStreamTick({ db: t.db, clock, timeoutMs: 5_000 })));
    // Whatever the losers of the claim did, one more tick (sequential) finishes the rest.
    await runAuditStreamTick({ db: t.db, clock, timeoutMs: 5_000 });
    expect(ra.maxInFlight).toBe(1);
    expect(ra.requests.slice(before).every((r) => r.acked)).toBe(true);
    expect(ra.ackedSeqs()).toEqual(seqRange(head));
    const s = await createCaller({ db: t.db, clock, session: a.admin.session }).auditStream.get();
    expect(s.configured && s.lag).toBe(0);
  });

  it("send now skips a backoff; a disabled stream sends nothing; another tenant's admin cannot see or send A's", async () => {
    const adminA = createCaller({ db: t.db, clock, session: a.admin.session });
    // Force a backoff far in the future, as after failures.
    await t.db.auditStream.update({
      where: { tenantId: a.id },
      data: { nextAttemptAt: new Date(clock.now().getTime() + 600_000), lastError: "HTTP 500", attempts: 4 },
    });
    await addEntries(a, 3);
    expect((await runAuditStreamTick({ db: t.db, clock })).streams.find((s) => s.tenant === a.slug)).toBeUndefined();
    const sent = await adminA.auditStream.sendNow();
    expect(sent).toMatchObject({ claimed: true, sent: 3, error: null });
    expect(ra.ackedSeqs()).toEqual(seqRange(await headOf(a)));

    await adminA.auditStream.put({ enabled: false });
    const n = ra.requests.length;
    await addEntries(a, 2);
    await runAuditStreamTick({ db: t.db, clock });
    await adminA.auditStream.sendNow();
    expect(ra.requests.length).toBe(n);

    // B's admin sends B's stream only; A's stays where it was.
    const aCursor = (await t.db.auditStream.findUniqueOrThrow({ where: { tenantId: a.id } })).cursorSeq;
    const rbBefore = rb.requests.length;
    await addEntries(b, 2);
    await createCaller({ db: t.db, clock, session: b.admin.session }).auditStream.sendNow();
    expect(rb.requests.length).toBe(rbBefore + 1);
    expect((await t.db.auditStream.findUniqueOrThrow({ where: { tenantId: a.id } })).cursorSeq).toBe(aCursor);
    await expect(createCaller({ db: t.db, clock, session: a.seller.session }).auditStream.get()).rejects.toThrow();
  });

  it("rotate_secret shows a new secret once and deliveries are signed with it", async () => {
    const adminA = createCaller({ db: t.db, clock, session: a.admin.session });
    const rotated = await adminA.auditStream.put({ enabled: true, rotate_secret: true });
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(ra.secret);
    ra.secret = rotated.secret as string;
    const n = ra.requests.length;
    await adminA.auditStream.sendNow();
    expect(ra.requests.length).toBeGreaterThan(n);
    expect(ra.requests.slice(n).every((r) => r.signatureOk && r.acked)).toBe(true);
    expect(ra.ackedSeqs()).toEqual(seqRange(await headOf(a)));
  });

  it("a configuration change while a batch is in flight stops the worker; the batch is sent again under the new secret", async () => {
    const adminA = createCaller({ db: t.db, clock, session: a.admin.session });
    await addEntries(a, 4);
    const head = await headOf(a);
    let rotatedSecret = "";
    ra.onRequest = async () => {
      ra.onRequest = null;
      rotatedSecret = (await adminA.auditStream.put({ enabled: true, rotate_secret: true })).secret as string;
    };
    const n = ra.requests.length;
    const first = await runAuditStreamTick({ db: t.db, clock });
    expect(first.streams.find((s) => s.tenant === a.slug)?.sent).toBe(0);
    const row = await t.db.auditStream.findUniqueOrThrow({ where: { tenantId: a.id } });
    expect(row.cursorSeq).toBeLessThan(head);
    expect(row.nextAttemptAt).toBeNull();
    ra.secret = rotatedSecret;
    await runAuditStreamTick({ db: t.db, clock });
    const again = ra.requests.slice(n);
    expect(again).toHaveLength(2);
    // The same batch again, plus the PUT's own AUDIT_STREAM_CHANGED entry.
    expect(again[1]?.seqs).toEqual([...(again[0]?.seqs ?? []), head + 1]);
    expect(again[1]?.signatureOk).toBe(true);
    expect((await t.db.auditStream.findUniqueOrThrow({ where: { tenantId: a.id } })).cursorSeq).toBe(await headOf(a));
  });
});
