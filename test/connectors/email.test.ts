import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { messageIdFor, type SmtpConfig, sendEmail, sendMail, smtpConfigFromUrl } from "@/server/connectors/email";
import type { ConnectorCall } from "@/server/connectors/types";

const received: ParsedMail[] = [];
let smtp: SMTPServer;
let cfg: SmtpConfig;
let closedPort: number;

function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode });
}

function call(parameters: Record<string, unknown>, overrides: Partial<ConnectorCall> = {}): ConnectorCall {
  return {
    tenantId: "ten_1",
    accountId: "acc_1",
    executionId: "exe_1",
    actionType: "SEND_EMAIL",
    parameters,
    target: {},
    idempotencyKey: "exe_1.email.1",
    correlationId: "cor_1",
    ...overrides,
  };
}

const valid = { to: "Jane Buyer <jane@example.com>", subject: "Renewal next steps", body: "Hi Jane,\n\nShall we meet next week?\n\nSam" };

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onRcptTo(address, _session, cb) {
      if (address.address.startsWith("nobody@")) return cb(smtpError("No such user", 550));
      if (address.address.startsWith("full@")) return cb(smtpError("Mailbox full, try later", 452));
      cb();
    },
    onData(stream, _session, cb) {
      simpleParser(stream)
        .then((mail) => {
          received.push(mail);
          cb();
        })
        .catch(cb);
    },
  });
  const port = await new Promise<number>((resolve) => {
    const srv = smtp.listen(0, "127.0.0.1", () => resolve((srv.address() as AddressInfo).port));
  });
  cfg = { host: "127.0.0.1", port, from: "Autopilot <autopilot@example.com>", ignoreTLS: true };

  const probe = createServer();
  closedPort = await new Promise<number>((resolve) => probe.listen(0, "127.0.0.1", () => resolve((probe.address() as AddressInfo).port)));
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

beforeEach(() => {
  received.length = 0;
});

afterAll(async () => {
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

describe("sendEmail against a real SMTP server", () => {
  it("delivers To, Subject, text, a deterministic Message-ID and the idempotency header", async () => {
    const result = await sendEmail(call({ ...valid, cc: ["ops@example.com"], reply_to: "sam@seller.example" }), cfg);

    expect(result).toEqual({
      ok: true,
      response: { message_id: "<exe_1.email.1@autopilot.local>", accepted: ["jane@example.com", "ops@example.com"], rejected: [] },
    });
    expect(received).toHaveLength(1);
    const mail = received[0];
    expect(mail?.to).toMatchObject({ value: [{ address: "jane@example.com", name: "Jane Buyer" }] });
    expect(mail?.cc).toMatchObject({ value: [{ address: "ops@example.com" }] });
    expect(mail?.replyTo?.value[0]?.address).toBe("sam@seller.example");
    expect(mail?.from?.value[0]?.address).toBe("autopilot@example.com");
    expect(mail?.subject).toBe("Renewal next steps");
    expect(mail?.text?.trim()).toBe(valid.body);
    expect(mail?.messageId).toBe("<exe_1.email.1@autopilot.local>");
    expect(mail?.headers.get("x-autopilot-idempotency-key")).toBe("exe_1.email.1");
  });

  it("gives a retried delivery the same Message-ID", async () => {
    await sendEmail(call(valid), cfg);
    await sendEmail(call(valid), cfg);
    expect(received.map((m) => m.messageId)).toEqual(["<exe_1.email.1@autopilot.local>", "<exe_1.email.1@autopilot.local>"]);
  });

  it("hashes an idempotency key that is not valid inside a Message-ID, deterministically", async () => {
    const key = "exe_1:email:1";
    const result = await sendEmail(call(valid, { idempotencyKey: key }), cfg);
    expect(result.ok).toBe(true);
    expect(messageIdFor(key)).toMatch(/^<sha256-[0-9a-f]{64}@autopilot\.local>$/);
    expect(received[0]?.messageId).toBe(messageIdFor(key));
    expect(received[0]?.headers.get("x-autopilot-idempotency-key")).toBe(key);
  });

  it("rejects missing or invalid parameters without retrying, naming the parameter", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ subject: "s", body: "b" }, '"to"'],
      [{ ...valid, to: "not-an-address" }, '"to"'],
      [{ ...valid, to: [] }, '"to"'],
      [{ ...valid, to: ["ok@example.com", 42] }, '"to"'],
      [{ ...valid, subject: "" }, '"subject"'],
      [{ ...valid, subject: "Hi\r\nBcc: victim@example.com" }, '"subject"'],
      [{ ...valid, body: undefined }, '"body"'],
      [{ ...valid, cc: "bad@" }, '"cc"'],
      [{ ...valid, reply_to: 7 }, '"reply_to"'],
    ];
    for (const [params, name] of cases) {
      const result = await sendEmail(call(params), cfg);
      expect(result).toMatchObject({ ok: false, retryable: false });
      if (result.ok) throw new Error("unreachable");
      expect(result.error).toContain(name);
    }
    expect(received).toHaveLength(0);
  });

  it("does not split a quoted display name containing a comma into two recipients", async () => {
    const result = await sendEmail(call({ ...valid, to: '"Doe, Jane" <jane@example.com>' }), cfg);
    expect(result).toMatchObject({ ok: true, response: { accepted: ["jane@example.com"] } });
    expect(received[0]?.to).toMatchObject({ value: [{ address: "jane@example.com", name: "Doe, Jane" }] });
  });

  it("classifies recipient rejections: 5xx permanent, 4xx retryable, partial acceptance ok", async () => {
    expect(await sendEmail(call({ ...valid, to: "nobody@example.com" }), cfg)).toMatchObject({ ok: false, retryable: false });
    expect(await sendEmail(call({ ...valid, to: "full@example.com" }), cfg)).toMatchObject({ ok: false, retryable: true });
    const partial = await sendEmail(call({ ...valid, to: ["jane@example.com", "nobody@example.com"] }), cfg);
    expect(partial).toMatchObject({ ok: true, response: { accepted: ["jane@example.com"], rejected: ["nobody@example.com"] } });
  });

  it("reports a closed port as retryable", async () => {
    const started = Date.now();
    const result = await sendEmail(call(valid), { ...cfg, port: closedPort });
    expect(result).toMatchObject({ ok: false, retryable: true });
    if (result.ok) throw new Error("unreachable");
    expect(result.error).toMatch(/ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("never puts the SMTP password in an error", async () => {
    const result = await sendEmail(call(valid), { ...cfg, port: closedPort, user: "mailer", pass: "p4ss-w0rd-xyz" });
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).not.toContain("p4ss-w0rd-xyz");
  });
});

describe("sendMail (system mail such as the digest)", () => {
  it("sends text and html", async () => {
    const result = await sendMail(cfg, {
      to: ["seller@example.com"],
      subject: "Your daily digest",
      text: "3 approvals waiting",
      html: "<p>3 approvals waiting</p>",
    });
    expect(result).toMatchObject({ ok: true, response: { accepted: ["seller@example.com"] } });
    expect(received[0]?.subject).toBe("Your daily digest");
    expect(received[0]?.html).toContain("<p>3 approvals waiting</p>");
  });

  it("rejects an invalid recipient", async () => {
    expect(await sendMail(cfg, { to: "nope", subject: "s", text: "t" })).toMatchObject({ ok: false, retryable: false });
  });
});

describe("smtpConfigFromUrl", () => {
  const from = "Autopilot <autopilot@example.com>";

  it("parses smtp:// and smtps:// with credentials, ports and defaults", () => {
    expect(smtpConfigFromUrl("smtp://mailer:s%40cret@mail.example.com:2525", from)).toEqual({
      host: "mail.example.com",
      port: 2525,
      secure: false,
      user: "mailer",
      pass: "s@cret",
      from,
    });
    expect(smtpConfigFromUrl("smtps://mail.example.com", from)).toEqual({ host: "mail.example.com", port: 465, secure: true, from });
    expect(smtpConfigFromUrl("smtp://mail.example.com", from).port).toBe(587);
    expect(smtpConfigFromUrl("smtp://127.0.0.1:1025?ignoreTLS=true", from)).toMatchObject({ port: 1025, ignoreTLS: true, secure: false });
    expect(smtpConfigFromUrl("smtp://[::1]:25", from).host).toBe("::1");
  });

  it("fails clearly without ever repeating the password", () => {
    const bad = [
      "http://mailer:topsecret77@mail.example.com",
      "smtp://mailer:topsecret77@mail.example.com:99999",
      "smtp://mailer:topsecret77@mail.example.com:abc",
      "smtp://:topsecret77@mail.example.com",
      "smtp://mailer:topsecret77%zz@mail.example.com",
      "smtps://mailer:topsecret77@mail.example.com?ignoreTLS=true",
      "topsecret77",
    ];
    for (const url of bad) {
      let message = "";
      try {
        smtpConfigFromUrl(url, from);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, url).toMatch(/^Invalid SMTP URL: /);
      expect(message).not.toContain("topsecret77");
    }
    expect(() => smtpConfigFromUrl("smtp://mail.example.com", "not an address")).toThrow(/sender/);
  });
});
