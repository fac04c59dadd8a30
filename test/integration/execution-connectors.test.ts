import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyWebhookSignature } from "@/server/connectors/webhook";
import { setWebhook } from "@/server/services/connectors";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { approveAndRun, clock, deps, intent, submitIntent } from "../helpers/gate";

let t: TestDb;
let a: TestTenant;
let http: Server;
let smtp: SMTPServer;
let httpBase: string;
let smtpPort: number;
let secret: string;
let failNext = false;
const deliveries: { verified: boolean; key: string | undefined; body: Record<string, unknown> }[] = [];
const mails: { to: string; subject: string; text: string; key: string }[] = [];

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
  http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const verified = verifyWebhookSignature(
        secret,
        req.headers["x-autopilot-signature"],
        req.headers["x-autopilot-timestamp"],
        raw,
        Math.floor(Date.now() / 1000),
      );
      deliveries.push({ verified, key: req.headers["idempotency-key"] as string | undefined, body: JSON.parse(raw) });
      res.statusCode = failNext ? 500 : 200;
      failNext = false;
      res.end("ok");
    });
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  httpBase = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    onData(stream, _session, cb) {
      simpleParser(stream).then((m) => {
        mails.push({
          to: m.to && !Array.isArray(m.to) ? m.to.text : "",
          subject: m.subject ?? "",
          text: m.text ?? "",
          key: String(m.headers.get("x-autopilot-idempotency-key") ?? ""),
        });
        cb();
      }, cb);
    },
  });
  await new Promise<void>((r) => smtp.listen(0, "127.0.0.1", r));
  smtpPort = (smtp.server.address() as AddressInfo).port;
  const res = await setWebhook(t.db, a.admin.viewer, { url: `${httpBase}/hooks/crm`, enabled: true }, clock);
  secret = res.secret as string;
});
afterAll(async () => {
  await new Promise((r) => http.close(r));
  await new Promise((r) => smtp.close(() => r(null)));
  await t.cleanup();
});

const smtpDeps = () =>
  deps(t.db, { smtp: { host: "127.0.0.1", port: smtpPort, secure: false, ignoreTLS: true, from: "Autopilot <autopilot@test.example>" } });

describe(`execution through real connectors on ${TEST_PROVIDER}`, () => {
  it("an approved outreach request is delivered once to the webhook, signed, with the idempotency key", async () => {
    const account = a.accounts.seller[0] as string;
    const r = await submitIntent(
      deps(t.db),
      a.admin.viewer,
      intent(account, { actionType: "REQUEST_RENEWAL_MEETING", riskLevel: "HIGH", parameters: { contact: "cfo@x.example" } }),
    );
    expect(r).toMatchObject({ status: "PENDING_APPROVAL", reason: "ACTION_TYPE_NOT_ALLOWLISTED" });
    const first = await approveAndRun(deps(t.db), a.seller.viewer, r.actionIntentId, {});
    // A repeated delivery of the approval is a CONFLICT and starts nothing.
    await expect(approveAndRun(deps(t.db), a.seller.viewer, r.actionIntentId, {})).rejects.toMatchObject({ code: "CONFLICT" });
    expect(first.status).toBe("SUCCEEDED");
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ verified: true, key: `${first.executionId}:webhook` });
    expect(deliveries[0]?.body).toMatchObject({
      action_type: "REQUEST_RENEWAL_MEETING",
      account_id: account,
      parameters: { contact: "cfo@x.example" },
    });
    const everything = JSON.stringify([await t.db.ledgerEntry.findMany({ where: { tenantId: a.id } }), await t.db.toolCall.findMany()]);
    expect(everything).not.toContain(secret);
  });

  it("a failing receiver makes the execution FAILED with an EXECUTION_FAILED outcome, ledgered", async () => {
    failNext = true;
    const r = await submitIntent(
      deps(t.db),
      a.admin.viewer,
      intent(a.accounts.seller[1] as string, { actionType: "REQUEST_DISCOVERY_CALL", riskLevel: "HIGH" }),
    );
    const v = await approveAndRun(deps(t.db), a.seller.viewer, r.actionIntentId, {});
    expect(v.status).toBe("FAILED");
    expect(
      await t.db.outcome.findFirstOrThrow({ where: { intentId: r.actionIntentId, label: { startsWith: "EXECUTION" } } }),
    ).toMatchObject({ label: "EXECUTION_FAILED" });
    expect(await t.db.ledgerEntry.count({ where: { tenantId: a.id, type: "EXECUTION_FAILED" } })).toBe(1);
  });

  it("SEND_EMAIL, once approved, goes out over SMTP exactly once", async () => {
    const r = await submitIntent(
      smtpDeps(),
      a.admin.viewer,
      intent(a.accounts.seller[2] as string, {
        actionType: "SEND_EMAIL",
        riskLevel: "HIGH",
        parameters: { to: "cfo@acme.example", subject: "Renewal options", body: "Two options attached." },
      }),
    );
    const v = await approveAndRun(smtpDeps(), a.seller.viewer, r.actionIntentId, {});
    await expect(approveAndRun(smtpDeps(), a.seller.viewer, r.actionIntentId, {})).rejects.toMatchObject({ code: "CONFLICT" });
    expect(v.status).toBe("SUCCEEDED");
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ to: "cfo@acme.example", subject: "Renewal options", key: `${v.executionId}:email` });
    expect(mails[0]?.text).toContain("Two options attached.");
  });

  it("SEND_EMAIL without an SMTP server configured fails with a clear reason, not a crash", async () => {
    const r = await submitIntent(
      deps(t.db),
      a.admin.viewer,
      intent(a.accounts.seller[2] as string, {
        actionType: "SEND_EMAIL",
        riskLevel: "HIGH",
        parameters: { to: "x@y.example", subject: "s", body: "b" },
      }),
    );
    const v = await approveAndRun(deps(t.db), a.seller.viewer, r.actionIntentId, {});
    expect(v.status).toBe("FAILED");
    expect((await t.db.execution.findUniqueOrThrow({ where: { id: v.executionId as string } })).error).toContain("SMTP");
  });
});
