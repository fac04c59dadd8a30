import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ConnectorCall, ConnectorResult } from "@/server/connectors/types";
import { deliverWebhook, signWebhook, verifyWebhookSignature } from "@/server/connectors/webhook";

const SECRET = "whsec_test_9f2c1d7e4b";

interface Delivery {
  path: string;
  verified: boolean;
  idempotencyKey: string | undefined;
  body: Record<string, unknown>;
}

const deliveries: Delivery[] = [];
const results: ConnectorResult[] = [];
let server: Server;
let base: string;
let closedPortUrl: string;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

async function receiver(req: IncomingMessage, res: ServerResponse) {
  const path = req.url ?? "/";
  if (path === "/hang") return; // accept the request and never answer
  const raw = await readBody(req);
  const verified = verifyWebhookSignature(
    SECRET,
    req.headers["x-autopilot-signature"],
    req.headers["x-autopilot-timestamp"],
    raw,
    Math.floor(Date.now() / 1000),
  );
  const key = req.headers["idempotency-key"];
  deliveries.push({ path, verified, idempotencyKey: typeof key === "string" ? key : undefined, body: JSON.parse(raw) });
  if (!verified) {
    res.writeHead(401).end("bad signature");
  } else if (path === "/fail500") {
    res.writeHead(500).end("upstream exploded");
  } else if (path === "/bad400") {
    res.writeHead(400).end("unknown action");
  } else if (path === "/busy429") {
    res.writeHead(429).end("slow down");
  } else if (path === "/echo-secret") {
    res.writeHead(200).end(`oops ${SECRET}`);
  } else {
    res.writeHead(200, { "content-type": "application/json" }).end(`{"received":true,"pad":"${"x".repeat(1000)}"}`);
  }
}

function listen(s: Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, "127.0.0.1", () => resolve((s.address() as AddressInfo).port)));
}

function call(overrides: Partial<ConnectorCall> = {}): ConnectorCall {
  return {
    tenantId: "ten_1",
    accountId: "acc_1",
    executionId: "exe_1",
    actionType: "REQUEST_RENEWAL_MEETING",
    parameters: { duration_minutes: 30, note: "Renewal is 60 days out" },
    target: { contact_email: "cfo@example.com" },
    idempotencyKey: "exe_1:webhook:1",
    correlationId: "cor_1",
    ...overrides,
  };
}

async function deliver(path: string, cfg: { secret?: string; timeoutMs?: number; url?: string } = {}, c = call()) {
  const result = await deliverWebhook(c, { url: cfg.url ?? `${base}${path}`, secret: cfg.secret ?? SECRET, timeoutMs: cfg.timeoutMs });
  results.push(result);
  return result;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    receiver(req, res).catch(() => res.writeHead(500).end());
  });
  base = `http://127.0.0.1:${await listen(server)}`;

  const closed = createServer();
  const port = await listen(closed);
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  closedPortUrl = `http://127.0.0.1:${port}/hook`;
});

beforeEach(() => {
  deliveries.length = 0;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  for (const r of results) expect(JSON.stringify(r)).not.toContain(SECRET);
});

describe("signWebhook / verifyWebhookSignature", () => {
  const body = '{"a":1}';
  const ts = 1_767_225_600;

  it("accepts its own signature within the tolerance", () => {
    const sig = signWebhook(SECRET, ts, body);
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(SECRET, sig, String(ts), body, ts + 299)).toBe(true);
    expect(verifyWebhookSignature(SECRET, sig, String(ts), Buffer.from(body), ts)).toBe(true);
  });

  it("rejects a stale timestamp, a tampered body, a moved timestamp, a wrong secret and junk headers", () => {
    const sig = signWebhook(SECRET, ts, body);
    expect(verifyWebhookSignature(SECRET, sig, String(ts), body, ts + 301)).toBe(false);
    expect(verifyWebhookSignature(SECRET, sig, String(ts), '{"a":2}', ts)).toBe(false);
    expect(verifyWebhookSignature(SECRET, sig, String(ts + 1), body, ts)).toBe(false);
    expect(verifyWebhookSignature("other", sig, String(ts), body, ts)).toBe(false);
    expect(verifyWebhookSignature(SECRET, sig.slice(0, -2), String(ts), body, ts)).toBe(false);
    expect(verifyWebhookSignature(SECRET, undefined, String(ts), body, ts)).toBe(false);
    expect(verifyWebhookSignature(SECRET, [sig], String(ts), body, ts)).toBe(false);
    expect(verifyWebhookSignature(SECRET, sig, "soon", body, ts)).toBe(false);
  });
});

describe("deliverWebhook against a real HTTP receiver", () => {
  it("delivers a signed snake_case payload with the idempotency key", async () => {
    const sentAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    const result = await deliverWebhook(call(), { url: `${base}/hook`, secret: SECRET }, fetch, () => sentAt);
    results.push(result);

    expect(result).toEqual({ ok: true, response: { status: 200, body: expect.any(String) } });
    if (!result.ok) throw new Error("unreachable");
    expect(String(result.response.body)).toHaveLength(500);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ verified: true, idempotencyKey: "exe_1:webhook:1" });
    expect(deliveries[0]?.body).toEqual({
      event: "action.execute",
      action_type: "REQUEST_RENEWAL_MEETING",
      tenant_id: "ten_1",
      account_id: "acc_1",
      execution_id: "exe_1",
      correlation_id: "cor_1",
      parameters: { duration_minutes: 30, note: "Renewal is 60 days out" },
      target: { contact_email: "cfo@example.com" },
      sent_at: sentAt.toISOString(),
    });
  });

  it("sends the same idempotency key on a retried delivery, so the receiver can drop the duplicate", async () => {
    await deliver("/hook");
    await deliver("/hook");
    expect(deliveries.map((d) => d.idempotencyKey)).toEqual(["exe_1:webhook:1", "exe_1:webhook:1"]);
  });

  it("fails verification at the receiver when signed with the wrong secret (401 → not retryable)", async () => {
    const result = await deliver("/hook", { secret: "not-the-secret" });
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]?.verified).toBe(false);
    expect(result).toMatchObject({ ok: false, retryable: false });
    if (result.ok) throw new Error("unreachable");
    expect(result.error).toContain("401");
    expect(result.error).not.toContain("not-the-secret");
  });

  it("treats 500 and 429 as retryable and 400 as permanent", async () => {
    const r500 = await deliver("/fail500");
    expect(r500).toMatchObject({ ok: false, retryable: true });
    if (r500.ok) throw new Error("unreachable");
    expect(r500.error).toMatch(/HTTP 500: upstream exploded/);

    expect(await deliver("/busy429")).toMatchObject({ ok: false, retryable: true });
    expect(await deliver("/bad400")).toMatchObject({ ok: false, retryable: false });
  });

  it("gives up on a receiver that never answers within timeoutMs, retryably", async () => {
    const started = Date.now();
    const result = await deliver("/hang", { timeoutMs: 300 });
    const elapsed = Date.now() - started;
    expect(result).toMatchObject({ ok: false, retryable: true });
    if (result.ok) throw new Error("unreachable");
    expect(result.error).toMatch(/timed out after 300 ms/);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3_000);
  });

  it("reports a closed port as retryable", async () => {
    const result = await deliver("", { url: closedPortUrl });
    expect(result).toMatchObject({ ok: false, retryable: true });
    if (result.ok) throw new Error("unreachable");
    expect(result.error).toMatch(/ECONNREFUSED|fetch failed/);
  });

  it("rejects non-http URLs without sending anything", async () => {
    for (const url of ["ftp://127.0.0.1/hook", "file:///etc/passwd", "javascript:alert(1)", "not a url"]) {
      expect(await deliver("", { url })).toMatchObject({ ok: false, retryable: false });
    }
    expect(deliveries).toHaveLength(0);
  });

  it("never echoes URL credentials or the secret in errors or responses", async () => {
    const withCreds = closedPortUrl.replace("http://", "http://hook-user:hunter2pass@");
    const failed = await deliver("", { url: withCreds });
    expect(failed).toMatchObject({ ok: false, retryable: true });
    expect(JSON.stringify(failed)).not.toContain("hunter2pass");

    const echoed = await deliver("/echo-secret");
    expect(echoed.ok).toBe(true);
    expect(JSON.stringify(echoed)).not.toContain(SECRET);
  });

  it("rejects an idempotency key that could inject headers", async () => {
    const result = await deliver("/hook", {}, call({ idempotencyKey: "k1\r\nx-evil: 1" }));
    expect(result).toMatchObject({ ok: false, retryable: false });
    expect(deliveries).toHaveLength(0);
  });
});
