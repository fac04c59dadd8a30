import type { AddressInfo } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as digestGet } from "@/app/api/v1/digest/route";
import { GET as settingsGet, PUT as settingsPut } from "@/app/api/v1/digest/settings/route";
import { GET as ledgerGet } from "@/app/api/v1/ledger/route";
import { createCaller } from "@/server/api/root";
import { fixedClock, systemClock } from "@/server/clock";
import type { SmtpConfig } from "@/server/connectors/email";
import { secretKeyFrom } from "@/server/connectors/secretBox";
import { dayWindow } from "@/server/engine/digest";
import { linkKeyFrom, verifyLink } from "@/server/engine/links";
import { createApiKey } from "@/server/services/apiKeys";
import { putBudget, putMode } from "@/server/services/autonomyConfig";
import { composeDigest } from "@/server/services/digest/compose";
import { renderDigestEmail } from "@/server/services/digest/email";
import { runDigestTick } from "@/server/services/digest/send";
import { saveDigestSettings } from "@/server/services/digest/settings";
import { submitIntent } from "@/server/services/gate";
import { freshDb, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { autonomous, clock as configClock, intent } from "../helpers/gate";

/**
 * The daily digest end to end on a real database and a real SMTP server: the covered day is
 * Sunday 2026-03-08 in New York — the day clocks spring forward, 23 hours long — with acts just
 * outside it on both sides; the job sends once per day under repeated and concurrent ticks; the
 * email's counts are the ledger's, counted independently through the ledger API.
 */

const DAY = "2026-03-08";
const TZ = "America/New_York";
const secretKey = secretKeyFrom("digest-test-secret");

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
let smtp: SMTPServer;
let cfg: SmtpConfig;
const mails: ParsedMail[] = [];
let refuse = false;
const keys = { read: "", admin: "", bAdmin: "" };

const connectors = () => ({ smtp: cfg, secretKey, publicUrl: "http://app.test" });
const gateAt = (iso: string) => ({ db: t.db, clock: fixedClock(iso), connectors: { smtp: null } });
const req = (path: string, key: string, init: RequestInit = {}) =>
  new Request(`http://127.0.0.1${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...(init.headers ?? {}) },
  });
const mailsTo = (addr: string) => mails.filter((m) => (Array.isArray(m.to) ? m.to : [m.to]).some((x) => x?.text.includes(addr)));

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  const mk = async (tenantId: string, scopes: ("read" | "admin")[]) =>
    (await createApiKey(t.db, { tenantId, name: scopes.join("+"), scopes, actor: { type: "SYSTEM", id: "test" } }, systemClock)).key;
  keys.read = await mk(a.id, ["read"]);
  keys.admin = await mk(a.id, ["admin"]);
  keys.bAdmin = await mk(b.id, ["admin"]);

  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onRcptTo(address, _session, cb) {
      if (refuse) return cb(Object.assign(new Error("Mailbox busy, try later"), { responseCode: 452 }));
      cb();
    },
    onData(stream, _session, cb) {
      simpleParser(stream)
        .then((m) => {
          mails.push(m);
          cb();
        })
        .catch(cb);
    },
  });
  const port = await new Promise<number>((resolve) => {
    const srv = smtp.listen(0, "127.0.0.1", () => resolve((srv.address() as AddressInfo).port));
  });
  cfg = { host: "127.0.0.1", port, from: "Autopilot <autopilot@example.com>", ignoreTLS: true };

  // Autonomy: internal tasks run on their own (10 a day); FLAG_FOR_REVIEW is allowlisted but
  // disabled (policy BLOCKs it); the seller's third account has a budget of 0 (held back).
  await autonomous(t.db, a.admin.viewer, "CREATE_INTERNAL_TASK", { maxPerDay: 10 });
  await autonomous(t.db, a.admin.viewer, "FLAG_FOR_REVIEW", { maxPerDay: 10 });
  await putMode(t.db, a.admin.viewer, { actionType: "FLAG_FOR_REVIEW", mode: "DISABLED" }, configClock);
  await putBudget(t.db, a.admin.viewer, { accountId: a.accounts.seller[2], maxPerDay: 0 }, configClock);

  const [s0, s1, s2] = a.accounts.seller as [string, string, string];
  const other = a.accounts.seller2[0] as string;
  const sub = (iso: string, accountId: string, patch: Parameters<typeof intent>[1] = {}) =>
    submitIntent(gateAt(iso), a.admin.viewer, intent(accountId, patch));
  // 23:30 EST on Saturday: the day before.
  expect((await sub("2026-03-08T04:30:00Z", s0)).decision).toBe("AUTO_EXECUTE");
  // Inside Sunday (05:00Z → 04:00Z next day).
  expect((await sub("2026-03-08T06:00:00Z", s0, { why: ["FIRST_OF_THE_DAY"] })).decision).toBe("AUTO_EXECUTE");
  expect((await sub("2026-03-08T15:00:00Z", s1)).decision).toBe("AUTO_EXECUTE");
  expect((await sub("2026-03-08T15:05:00Z", s0, { actionType: "FLAG_FOR_REVIEW", parameters: { reason: "check" } })).decision).toBe(
    "BLOCK",
  );
  expect((await sub("2026-03-08T15:10:00Z", s1, { riskLevel: "HIGH" })).decision).toBe("REQUIRE_APPROVAL");
  expect((await sub("2026-03-08T16:00:00Z", other)).decision).toBe("AUTO_EXECUTE"); // another seller's account
  expect((await sub("2026-03-09T03:30:00Z", s0)).decision).toBe("AUTO_EXECUTE"); // 23:30 EDT Sunday
  const held = await sub("2026-03-09T03:40:00Z", s2);
  expect(held).toMatchObject({ decision: "REQUIRE_APPROVAL", reason: "BUDGET_EXHAUSTED" });
  // 00:30 EDT Monday: the day after.
  expect((await sub("2026-03-09T04:30:00Z", s1)).decision).toBe("AUTO_EXECUTE");
}, 120_000);

afterAll(async () => {
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
  await t.cleanup();
});

/** The day's ledger counted independently: every page of GET /api/v1/ledger for the local day. */
async function ledgerDay(type: string) {
  const { start, end } = dayWindow(DAY, TZ);
  const out: { account_id: string | null; payload: Record<string, unknown> }[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ type, from: start.toISOString(), to: end.toISOString(), limit: "100", ...(cursor ? { cursor } : {}) });
    const res = await ledgerGet(req(`/api/v1/ledger?${q}`, keys.read));
    expect(res.status).toBe(200);
    const page = (await res.json()) as { items: typeof out; next_cursor: string | null };
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  const mine = new Set(a.accounts.seller);
  return out.filter((e) => e.account_id !== null && mine.has(e.account_id));
}

async function independentCounts() {
  const [starts, policy, budget] = await Promise.all([
    ledgerDay("EXECUTION_STARTED"),
    ledgerDay("POLICY_EVALUATED"),
    ledgerDay("BUDGET_CONSUMED"),
  ]);
  const waiting = await t.db.actionIntent.count({
    where: { tenantId: a.id, status: "PENDING_APPROVAL", accountId: { in: a.accounts.seller } },
  });
  return {
    autonomous: starts.filter((e) => e.payload.auto_executed === true && e.payload.retry !== true).length,
    blocked: policy.filter((e) => e.payload.decision === "BLOCK").length,
    held: policy.filter((e) => e.payload.decision === "REQUIRE_APPROVAL" && e.payload.reason === "BUDGET_EXHAUSTED").length,
    budget_used: budget.length,
    waiting,
  };
}

describe("composition", () => {
  it("counts the seller's local day exactly as the ledger does, DST day included, and nothing outside it", async () => {
    const d = await composeDigest(t.db, { tenantId: a.id, userId: a.seller.id, date: DAY, timezone: TZ }, new Date("2026-03-09T12:10:00Z"));
    const expected = { autonomous: 3, blocked: 1, held: 1, budget_used: 3, waiting: 2 };
    expect(await independentCounts()).toEqual(expected);
    expect(d.counts).toEqual(expected);
    expect(d.window).toEqual({ start: "2026-03-08T05:00:00.000Z", end: "2026-03-09T04:00:00.000Z" });
    expect(d.autonomous.map((x) => x.at)).toEqual(["2026-03-08T06:00:00.000Z", "2026-03-08T15:00:00.000Z", "2026-03-09T03:30:00.000Z"]);
    expect(d.autonomous.every((x) => x.why.length > 0 && x.execution_id)).toBe(true);
    expect(d.blocked[0]).toMatchObject({ action_type: "FLAG_FOR_REVIEW", reason: "ACTION_TYPE_DISABLED" });
    expect(d.held[0]).toMatchObject({ reason: "BUDGET_EXHAUSTED", account_id: a.accounts.seller[2] });
    // Waiting items carry their expiry under the tenant's approval TTL (default 72 h).
    const high = d.waiting.find((w) => w.account_id === a.accounts.seller[1]);
    expect(high?.expires_at).toBe("2026-03-11T15:10:00.000Z");
    // Budget per account: used that day against the cap (the seller's third account has none).
    expect(d.budget.map((x) => [x.account_id, x.used, x.cap])).toEqual(
      expect.arrayContaining([
        [a.accounts.seller[0], 2, 10],
        [a.accounts.seller[1], 1, 10],
        [a.accounts.seller[2], 0, 0],
      ]),
    );
    expect(d.truncated).toBe(false);
  });

  it("the same instants belong to other days in another zone", async () => {
    const utc = await composeDigest(t.db, { tenantId: a.id, userId: a.seller.id, date: DAY, timezone: "UTC" }, new Date());
    // 04:30Z, 06:00Z, 15:00Z, 03:30Z(+1) → 3 on 2026-03-08 UTC (04:30, 06:00, 15:00)
    expect(utc.counts.autonomous).toBe(3);
    expect(utc.autonomous.map((x) => x.at)[0]).toBe("2026-03-08T04:30:00.000Z");
  });
});

describe("the digest job and its email", () => {
  it("sends nothing at the wrong local hour", async () => {
    await saveDigestSettings(
      t.db,
      a.seller.viewer,
      undefined,
      { enabled: true, email: "seller-digest@example.com", hour_local: 8, timezone: TZ },
      configClock,
    );
    // 07:30 EDT Monday.
    const out = await runDigestTick({ db: t.db, clock: fixedClock("2026-03-09T11:30:00Z"), connectors: connectors() });
    expect(out).toMatchObject({ due: 0, sent: 0 });
    expect(mails).toHaveLength(0);
    expect(await t.db.digestRun.count({ where: { tenantId: a.id } })).toBe(0);
  });

  it("at the local hour sends one email however many ticks run, concurrently or again", async () => {
    const at = fixedClock("2026-03-09T12:10:00Z"); // 08:10 EDT Monday → covers Sunday
    const ticks = await Promise.all([1, 2, 3].map(() => runDigestTick({ db: t.db, clock: at, connectors: connectors() })));
    expect(ticks.reduce((s, x) => s + x.sent, 0)).toBe(1);
    const again = await runDigestTick({ db: t.db, clock: fixedClock("2026-03-09T12:40:00Z"), connectors: connectors() });
    expect(again.sent).toBe(0);

    const got = mailsTo("seller-digest@example.com");
    expect(got).toHaveLength(1);
    const runs = await t.db.digestRun.findMany({ where: { tenantId: a.id, userId: a.seller.id } });
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ dateKey: DAY, status: "SENT", error: null });
    const ledger = await t.db.ledgerEntry.findMany({ where: { tenantId: a.id, type: "DIGEST_SENT" } });
    expect(ledger).toHaveLength(1);

    const expected = await independentCounts();
    const payload = JSON.parse(ledger[0]?.payload ?? "{}");
    expect(payload).toMatchObject({ digest_run_id: runs[0]?.id, user_id: a.seller.id, date: DAY, timezone: TZ, delivered: true });
    expect(payload.counts).toEqual(expected);
    expect(JSON.parse(runs[0]?.counts ?? "{}")).toEqual(expected);
    // The Message-ID recorded is the one the recipient's copy carries.
    expect(payload.message_id).toBe(got[0]?.messageId);
    expect(runs[0]?.messageId).toBe(got[0]?.messageId);

    const mail = got[0] as ParsedMail;
    expect(mail.subject).toBe(
      `Autopilot digest for ${DAY}: ${expected.autonomous} autonomous, ${expected.waiting} waiting, ${expected.blocked} blocked`,
    );
    expect(mail.html).toContain("<html");
    expect(mail.html).toContain(`Waiting for your input (<!-- -->${expected.waiting}<!-- -->)`);
    // The plain-text part renders headings in capitals.
    expect(mail.text).toContain(`WAITING FOR YOUR INPUT (${expected.waiting})`);
    expect(mail.text).toContain(`WHAT AUTOPILOT DID ON ITS OWN (${expected.autonomous})`);
    expect(mail.text).toContain(
      `Autonomous acts: ${expected.autonomous} · Waiting for you: ${expected.waiting} · Blocked: ${expected.blocked}`,
    );
    expect(mail.text).toContain("Why: First of the day");

    // One well-formed one-time approve and reject link per waiting intent, for this seller, signed.
    const html = mail.html as string;
    const approve = [...html.matchAll(/href="(http:\/\/app\.test\/approve\/([^"?]+)\?decision=approve)"/g)];
    const reject = [...html.matchAll(/href="http:\/\/app\.test\/approve\/([^"?]+)\?decision=reject"/g)];
    expect(approve).toHaveLength(expected.waiting);
    expect(reject.map((m) => m[1])).toEqual(approve.map((m) => m[2]));
    expect(mail.text).toContain(approve[0]?.[1]);
    const pending = await t.db.actionIntent.findMany({
      where: { tenantId: a.id, status: "PENDING_APPROVAL", accountId: { in: a.accounts.seller } },
    });
    for (const m of approve) {
      const id = verifyLink(linkKeyFrom(secretKey), "approval", m[2] as string);
      expect(id).not.toBeNull();
      const link = await t.db.approvalLink.findUnique({ where: { id: id as string } });
      expect(link).toMatchObject({ tenantId: a.id, purpose: "DIGEST", recipientUserId: a.seller.id, usedAt: null });
      expect(pending.map((p) => p.id)).toContain(link?.intentId);
    }
  });

  it("a failed send is FAILED and ledgered without secrets, then retried by the next tick in the window", async () => {
    await saveDigestSettings(
      t.db,
      a.seller2.viewer,
      undefined,
      { enabled: true, email: "seller2-digest@example.com", hour_local: 12, timezone: "UTC" },
      configClock,
    );
    refuse = true;
    const first = await runDigestTick({
      db: t.db,
      clock: fixedClock("2026-03-09T12:15:00Z"),
      connectors: { ...connectors(), smtp: { ...cfg, user: "u", pass: "hunter2-secret" } },
    });
    expect(first).toMatchObject({ sent: 0, failed: 1, ok: false });
    const failed = await t.db.digestRun.findFirstOrThrow({ where: { tenantId: a.id, userId: a.seller2.id } });
    expect(failed.status).toBe("FAILED");
    expect(failed.error).toMatch(/SMTP delivery/);
    const failedLedger = await t.db.ledgerEntry.findMany({ where: { tenantId: a.id, type: "DIGEST_SENT" }, orderBy: { seq: "asc" } });
    expect(JSON.parse(failedLedger.at(-1)?.payload ?? "{}")).toMatchObject({ user_id: a.seller2.id, delivered: false });
    expect(JSON.stringify(failedLedger) + failed.error).not.toContain("hunter2-secret");

    refuse = false;
    const retry = await runDigestTick({ db: t.db, clock: fixedClock("2026-03-09T13:05:00Z"), connectors: connectors() });
    expect(retry).toMatchObject({ sent: 1, failed: 0 });
    expect(mailsTo("seller2-digest@example.com")).toHaveLength(1);
    expect(await t.db.digestRun.findFirstOrThrow({ where: { id: failed.id } })).toMatchObject({ status: "SENT", error: null });
    // Seller's already-sent digest was not sent again by these ticks.
    expect(mailsTo("seller-digest@example.com")).toHaveLength(1);
  });

  it("without a signing key the email carries no links and says so", async () => {
    const d = await composeDigest(t.db, { tenantId: a.id, userId: a.seller.id, date: DAY, timezone: TZ }, new Date("2026-03-09T12:10:00Z"));
    const mail = await renderDigestEmail({
      digest: d,
      recipientName: "Sam",
      links: null,
      inboxUrl: "http://app.test/inbox",
      digestUrl: "http://app.test/digest",
    });
    expect(mail.text).toContain("approve and reject links are not available");
    expect(mail.html).not.toContain("/approve/");
  });
});

describe("who may read and write", () => {
  it("a seller reads their own digest, not another seller's; an admin reads anyone's", async () => {
    const seller = createCaller({ db: t.db, clock: systemClock, session: a.seller.session });
    const own = await seller.digest.get({ date: DAY });
    expect(own.user_id).toBe(a.seller.id);
    expect(own.timezone).toBe(TZ);
    await expect(seller.digest.get({ date: DAY, userId: a.seller2.id })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(seller.digest.settings({ userId: a.seller2.id })).rejects.toMatchObject({ code: "NOT_FOUND" });
    const admin = createCaller({ db: t.db, clock: systemClock, session: a.admin.session });
    expect((await admin.digest.get({ date: DAY, userId: a.seller.id })).counts).toEqual(own.counts);
    // Another tenant's user is not found, even for an admin.
    await expect(admin.digest.get({ date: DAY, userId: b.seller.id })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("REST: the digest by user_id; another tenant's user is 404; a bad date or a missing user_id names the field", async () => {
    const ok = await digestGet(req(`/api/v1/digest?date=${DAY}&user_id=${a.seller.id}`, keys.read));
    expect(ok.status).toBe(200);
    const body = await ok.json();
    expect(body).toMatchObject({ date: DAY, user_id: a.seller.id, counts: await independentCounts() });
    expect(Object.keys(body)).toEqual(expect.arrayContaining(["autonomous", "waiting", "blocked", "budget", "counts"]));
    expect((await digestGet(req(`/api/v1/digest?date=${DAY}&user_id=${b.seller.id}`, keys.read))).status).toBe(404);
    expect((await digestGet(req(`/api/v1/digest?date=${DAY}&user_id=${a.seller.id}`, keys.bAdmin))).status).toBe(404);
    const badDate = await digestGet(req(`/api/v1/digest?date=2026-02-30&user_id=${a.seller.id}`, keys.read));
    expect(badDate.status).toBe(400);
    expect((await badDate.json()).error.field).toBe("date");
    const noUser = await digestGet(req(`/api/v1/digest?date=${DAY}`, keys.read));
    expect(noUser.status).toBe(400);
    expect((await noUser.json()).error.field).toBe("user_id");
  });

  it("REST settings: admin sets any member's; validation names the field; a read key or another tenant's user is refused", async () => {
    const put = (body: unknown, key = keys.admin) =>
      settingsPut(req("/api/v1/digest/settings", key, { method: "PUT", body: JSON.stringify(body) }));
    for (const [body, field] of [
      [{ user_id: a.auditor.id, hour_local: 24 }, "hour_local"],
      [{ user_id: a.auditor.id, hour_local: 1.5 }, "hour_local"],
      [{ user_id: a.auditor.id, timezone: "Mars/Olympus" }, "timezone"],
      [{ user_id: a.auditor.id, email: "not-an-address" }, "email"],
      [{ user_id: a.auditor.id, enabled: true, email: "" }, "email"],
      [{ hour_local: 8 }, "user_id"],
    ] as const) {
      const res = await put(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await res.json()).error.field).toBe(field);
    }
    expect((await put({ user_id: a.auditor.id, enabled: false }, keys.read)).status).toBe(403);
    expect((await put({ user_id: b.seller.id, enabled: false })).status).toBe(404);
    expect(await t.db.digestSettings.count({ where: { userId: { in: [a.auditor.id, b.seller.id] } } })).toBe(0);

    const version = (await t.db.tenant.findUniqueOrThrow({ where: { id: a.id } })).configVersion;
    const res = await put({ user_id: a.auditor.id, enabled: true, email: "aud@example.com", hour_local: 7, timezone: "Europe/Berlin" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      user_id: a.auditor.id,
      enabled: true,
      hour_local: 7,
      timezone: "Europe/Berlin",
      configured: true,
    });
    // The gate's configuration version moved (withConfigWrite) and the change is ledgered with before/after.
    expect((await t.db.tenant.findUniqueOrThrow({ where: { id: a.id } })).configVersion).toBe(version + 1);
    const entry = await t.db.ledgerEntry.findFirstOrThrow({ where: { tenantId: a.id, type: "CONFIG_CHANGED" }, orderBy: { seq: "desc" } });
    expect(JSON.parse(entry.payload)).toMatchObject({
      change: "digest_settings",
      user_id: a.auditor.id,
      before: null,
      after: { enabled: true, email: "aud@example.com", hour_local: 7, timezone: "Europe/Berlin" },
    });
    const got = await settingsGet(req(`/api/v1/digest/settings?user_id=${a.auditor.id}`, keys.read));
    expect(await got.json()).toMatchObject({ email: "aud@example.com", next_send_at: expect.any(String) });
  });

  it("tRPC settings: a user sets their own; a seller cannot set another's; an admin can", async () => {
    const seller = createCaller({ db: t.db, clock: systemClock, session: a.seller.session });
    expect(await seller.digest.saveSettings({ hour_local: 9 })).toMatchObject({ user_id: a.seller.id, hour_local: 9, timezone: TZ });
    await expect(seller.digest.saveSettings({ userId: a.seller2.id, enabled: false })).rejects.toMatchObject({ code: "NOT_FOUND" });
    const admin = createCaller({ db: t.db, clock: systemClock, session: a.admin.session });
    expect(await admin.digest.saveSettings({ userId: a.seller2.id, hour_local: 6 })).toMatchObject({
      user_id: a.seller2.id,
      hour_local: 6,
    });
    await expect(admin.digest.saveSettings({ userId: b.seller.id, enabled: false })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(seller.digest.saveSettings({ timezone: "Nowhere/Land" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });
});
