import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { POST as approveRest } from "@/app/api/v1/intents/[id]/approve/route";
import { POST as postIntent } from "@/app/api/v1/intents/route";
import { GET as listLedgerRest } from "@/app/api/v1/ledger/route";
import { POST as postSignal } from "@/app/api/v1/signals/route";
import { createCaller } from "@/server/api/root";
import type { SessionLike } from "@/server/auth/viewer";
import { systemClock } from "@/server/clock";
import type { Db } from "@/server/db";
import { restRoute } from "@/server/http/rest";
import { appendLedger } from "@/server/repos/ledger";
import { inTransaction } from "@/server/repos/tx";
import { createApiKey } from "@/server/services/apiKeys";
import { listConnectors, setWebhook } from "@/server/services/connectors";
import { verifyLedger } from "@/server/services/ledger";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { b64, manyKeys, nested, nestedText } from "../helpers/zodArbitrary";

let t: TestDb;
let a: TestTenant;
const keys: Record<string, string> = {};
/** intents on seller's and seller2's accounts, waiting for a person */
const intents: { seller: string; seller2: string } = { seller: "", seller2: "" };

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  for (const scope of ["admin", "read"] as const) {
    keys[scope] = (
      await createApiKey(t.db, { tenantId: a.id, name: scope, scopes: [scope], actor: { type: "SYSTEM", id: "t" } }, systemClock)
    ).key;
  }
  for (const owner of ["seller", "seller2"] as const) {
    const res = await postIntent(
      req("/api/v1/intents", keys.admin, {
        account_id: a.accounts[owner][0],
        action_type: "SEND_EMAIL",
        confidence: 0.9,
        risk_level: "MEDIUM",
        why: ["USAGE_DROP"],
        parameters: { subject: "hello" },
      }),
    );
    intents[owner] = ((await res.json()) as { action_intent_id: string }).action_intent_id;
  }
});
afterAll(() => t.cleanup());

function req(path: string, key: string | undefined, body?: unknown, init: { raw?: BodyInit; headers?: Record<string, string> } = {}) {
  return new Request(`http://127.0.0.1${path}`, {
    method: body === undefined && init.raw === undefined ? "GET" : "POST",
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), "content-type": "application/json", ...init.headers },
    body: init.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    ...(init.raw instanceof ReadableStream ? { duplex: "half" } : {}),
  } as RequestInit);
}
const as = (s: SessionLike | null) => createCaller({ db: t.db, clock: systemClock, session: s });
const head = async () => (await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: a.id } })).seq;
type ErrBody = { error: { code: string; message: string; field?: string } };

const signal = (evidence: unknown) => ({ account_id: a.accounts.admin[0], signal_type: "NO_ENGAGEMENT_PRESENT", evidence });

describe(`input limits at the boundary (${TEST_PROVIDER})`, () => {
  it("a body over the byte cap → 413 on body, declared or streamed, before it is parsed; nothing written", async () => {
    const before = await head();
    const big = JSON.stringify(signal({ blob: "x".repeat(2 * 1024 * 1024) }));
    const declared = await postSignal(
      req("/api/v1/signals", keys.admin, undefined, { raw: big, headers: { "content-length": String(big.length) } }),
    );
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as ErrBody).error).toMatchObject({ code: "PAYLOAD_TOO_LARGE", field: "body" });
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        pulled++;
        if (pulled > 50) return c.close();
        c.enqueue(new Uint8Array(1024 * 1024).fill(32));
      },
    });
    const streamed = await postSignal(req("/api/v1/signals", keys.admin, undefined, { raw: stream }));
    expect(streamed.status).toBe(413);
    expect(pulled).toBeLessThan(5); // stopped reading at the cap, not after 50 MB
    expect(await head()).toBe(before);
  });

  it("nesting past 32 levels → 400 naming the field; 32 levels are accepted", async () => {
    // The body is level 1 and evidence level 2, so nested(31) reaches exactly 32 levels.
    const ok = await postSignal(req("/api/v1/signals", keys.admin, signal(nested(31))));
    expect(ok.status).toBe(202);
    const before = await head();
    for (const depth of [32, 2000, 2500]) {
      const res = await postSignal(req("/api/v1/signals", keys.admin, signal(nested(depth))));
      expect(res.status).toBe(400);
      const e = ((await res.json()) as ErrBody).error;
      expect(e.code).toBe("BAD_REQUEST");
      expect(e.field).toMatch(/^evidence(\.a)+$/);
      expect(e.message).toMatch(/nested deeper than 32 levels/);
    }
    for (const depth of [2500, 100_000])
      expect((await postSignal(req("/api/v1/signals", keys.admin, undefined, { raw: nestedText(depth) }))).status).toBe(400);
    expect(await head()).toBe(before);
  });

  it("too many keys in one object or in total → 400 naming the field; nothing written", async () => {
    const before = await head();
    const perObject = await postSignal(req("/api/v1/signals", keys.admin, signal(manyKeys(501))));
    expect(((await perObject.json()) as ErrBody).error).toMatchObject({ code: "BAD_REQUEST", field: "evidence" });
    const total = await postSignal(req("/api/v1/signals", keys.admin, signal({ list: Array.from({ length: 25_000 }, () => 1) })));
    expect(((await total.json()) as ErrBody).error).toMatchObject({ code: "BAD_REQUEST", field: "body" });
    expect(await head()).toBe(before);
  });

  it("`constructor` / `toString` / `__proto__` keys in edited_parameters → 400 on that field (REST and tRPC); the intent stays pending", async () => {
    const before = await head();
    for (const k of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      const res = await approveRest(req(`/x`, keys.admin, undefined, { raw: `{"actor":"ops","edited_parameters":{"${k}":"x"}}` }), {
        params: Promise.resolve({ id: intents.seller }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrBody).error.field).toBe(`edited_parameters.${k}`);
      await expect(
        as(a.admin.session).work.approve({ id: intents.seller, editedParameters: JSON.parse(`{"${k}":"x"}`) }),
      ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    }
    expect((await t.db.actionIntent.findUniqueOrThrow({ where: { id: intents.seller } })).status).toBe("PENDING_APPROVAL");
    expect(await head()).toBe(before);
  });

  it("a NUL character in any string (PostgreSQL cannot store it) → 400 naming the field, REST and tRPC", async () => {
    const res = await postSignal(req("/api/v1/signals", keys.admin, { ...signal({ ok: 1 }), dedupe_key: "a\u0000b" }));
    expect(((await res.json()) as ErrBody).error).toMatchObject({ code: "BAD_REQUEST", field: "dedupe_key" });
    const q = await listLedgerRest(req("/api/v1/ledger?correlation_id=a%00b", keys.read));
    expect(((await q.json()) as ErrBody).error).toMatchObject({ code: "BAD_REQUEST", field: "correlation_id" });
    await expect(as(a.admin.session).autonomy.budget({ accountId: "x\u0000" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("a crafted cursor ({s:1e20}, a bad date, a wrong type) → 400 on cursor, REST and tRPC", async () => {
    for (const cursor of [b64({ s: 1e20 }), b64({ s: -1 }), b64({ s: "1" }), b64({ s: 1, x: 2 })]) {
      const res = await listLedgerRest(req(`/api/v1/ledger?cursor=${cursor}`, keys.read));
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrBody).error.field).toBe("cursor");
      await expect(as(a.admin.session).ledger.list({ limit: 5, cursor })).rejects.toMatchObject({
        code: "BAD_REQUEST",
        cause: { field: "cursor" },
      });
    }
    await expect(as(a.admin.session).accounts.list({ limit: 5, cursor: b64({ t: "not a date", i: "x" }) })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(as(a.seller.session).work.inbox({ limit: 5, cursor: b64({ t: "not a date", i: "x" }) })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(as(a.admin.session).decisions.jobs({ limit: 5, cursor: b64({ c: 1e20, i: "x" }) })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
  });
});

describe(`one bad stored row never breaks a list (${TEST_PROVIDER})`, () => {
  it("a ledger row nested 3,000 levels deep (written before the limits existed) leaves the explorer and account activity readable", async () => {
    const account = a.accounts.admin[1] as string;
    await inTransaction(t.db, (tx) =>
      appendLedger(
        tx,
        {
          tenantId: a.id,
          accountId: account,
          type: "SIGNAL_RECEIVED",
          actor: { type: "SYSTEM", id: "legacy" },
          payload: { signal_type: "USAGE_TREND_CHANGE", evidence: nested(3000) as Record<string, unknown> },
        },
        new Date(),
      ),
    );
    const list = await as(a.admin.session).ledger.list({ limit: 10 });
    // What the tRPC HTTP handler does with the answer: superjson, then JSON.
    expect(() => JSON.stringify(superjson.serialize(list))).not.toThrow();
    expect(JSON.stringify(list.items[0]?.payload)).toContain("nested too deep to show");
    const activity = await as(a.admin.session).accounts.activity({ id: account });
    expect(() => JSON.stringify(superjson.serialize(activity))).not.toThrow();
    expect((await listLedgerRest(req("/api/v1/ledger?limit=10", keys.read))).status).toBe(200);
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
  });
});

describe(`unexpected errors answer an error id, never the raw message (${TEST_PROVIDER})`, () => {
  const secretish = "Invalid `prisma.account.findMany()` invocation: SELECT * FROM Account WHERE password='hunter2'";

  it("REST: 500 INTERNAL with an id; the log line has the id and is redacted", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    const route = restRoute(["read"], async () => {
      throw new Error(secretish);
    });
    const res = await route(req("/x", keys.read));
    expect(res.status).toBe(500);
    const body = ((await res.json()) as ErrBody).error;
    expect(body.code).toBe("INTERNAL");
    expect(body.message).toMatch(/error id err_[0-9a-f]{12}/);
    expect(body.message).not.toMatch(/prisma|hunter2|SELECT/);
    const id = /err_[0-9a-f]{12}/.exec(body.message)?.[0] as string;
    const lines = log.mock.calls.map((c) => String(c[0])).filter((l) => l.includes(id));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("prisma.account.findMany");
    expect(lines[0]).not.toContain("hunter2");
    log.mockRestore();
  });

  it("tRPC: INTERNAL_SERVER_ERROR carries only the generic message with an id, logged once, redacted", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    // Fault injection: the database fails under the procedure.
    const failing = new Proxy(t.db, {
      get(target, prop, receiver) {
        if (prop === "account")
          return new Proxy(target.account, {
            get: (acc, p) =>
              p === "findMany"
                ? () => {
                    throw new Error(secretish);
                  }
                : Reflect.get(acc, p),
          });
        return Reflect.get(target, prop, receiver);
      },
    }) as Db;
    const err = await createCaller({ db: failing, clock: systemClock, session: a.admin.session })
      .accounts.list({ limit: 5 })
      .then(
        () => ({ code: "OK", message: "", cause: undefined as unknown }),
        (e: { code: string; message: string; cause?: unknown }) => e,
      );
    expect(err).toMatchObject({ code: "INTERNAL_SERVER_ERROR" });
    expect(err.message).toMatch(/error id err_[0-9a-f]{12}/);
    expect(`${err.message} ${String(err.cause ?? "")}`).not.toMatch(/prisma|hunter2|SELECT/);
    const id = /err_[0-9a-f]{12}/.exec(err.message)?.[0] as string;
    const lines = log.mock.calls.map((c) => String(c[0])).filter((l) => l.includes(id));
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain("hunter2");
    log.mockRestore();
  });
});

describe(`a seller reads only their own accounts, on every account-scoped procedure (${TEST_PROVIDER})`, () => {
  const cases: [string, (c: ReturnType<typeof as>, account: string, intent: string) => Promise<unknown>][] = [
    ["autonomy.budget", (c, acc) => c.autonomy.budget({ accountId: acc })],
    ["accounts.get", (c, acc) => c.accounts.get({ id: acc })],
    ["accounts.activity", (c, acc) => c.accounts.activity({ id: acc })],
    ["work.artifacts", (c, acc) => c.work.artifacts({ accountId: acc })],
    ["work.intent", (c, _acc, intent) => c.work.intent({ id: intent })],
    ["work.explanation", (c, _acc, intent) => c.work.explanation({ actionIntentId: intent })],
  ];

  it.each(cases)("%s: another seller's account → NOT_FOUND; their own and an admin's view → answered", async (_name, call) => {
    const seller = as(a.seller.session);
    await expect(call(seller, a.accounts.seller2[0] as string, intents.seller2)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(call(seller, a.accounts.seller[0] as string, intents.seller)).resolves.toBeDefined();
    await expect(call(as(a.admin.session), a.accounts.seller2[0] as string, intents.seller2)).resolves.toBeDefined();
  });

  it("work.approve / work.reject on another seller's intent → NOT_FOUND and nothing decided", async () => {
    const seller = as(a.seller.session);
    await expect(seller.work.approve({ id: intents.seller2 })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(seller.work.reject({ id: intents.seller2, reason: "not mine" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    const many = await seller.work.reviewMany({ kind: "reject", ids: [intents.seller2], reason: "not mine" });
    expect(many).toEqual([{ id: intents.seller2, ok: false, error: "Intent not found" }]);
    expect((await t.db.actionIntent.findUniqueOrThrow({ where: { id: intents.seller2 } })).status).toBe("PENDING_APPROVAL");
  });
});

describe(`secret-bearing webhook URLs (${TEST_PROVIDER})`, () => {
  it("are kept whole only in the connector row; the ledger, the listing and the answer show host + fingerprint", async () => {
    const url = "https://hooks.slack.com/services/T0SECRET/B0SECRET/XYZtokenXYZtoken123";
    const res = await setWebhook(t.db, a.admin.viewer, { url, enabled: true }, systemClock);
    expect(res.url).toMatch(/^https:\/\/hooks\.slack\.com\/… \(sha256:[0-9a-f]{8}\)$/);
    const row = await t.db.connectorConfig.findFirstOrThrow({ where: { tenantId: a.id, kind: "WEBHOOK" } });
    expect(JSON.parse(row.config).url).toBe(url);
    const entry = await t.db.ledgerEntry.findFirstOrThrow({ where: { tenantId: a.id, type: "CONFIG_CHANGED" }, orderBy: { seq: "desc" } });
    expect(entry.payload).not.toMatch(/SECRET|XYZtoken/);
    expect(entry.payload).toContain("hooks.slack.com");
    const readable = await (await listLedgerRest(req("/api/v1/ledger?type=CONFIG_CHANGED&limit=50", keys.read))).text();
    expect(readable).not.toMatch(/SECRET|XYZtoken/);
    const listed = await listConnectors(t.db, a.admin.viewer, false);
    expect(JSON.stringify(listed)).not.toMatch(/SECRET|XYZtoken/);
    // Changing it again: the "before" side is redacted too.
    await setWebhook(t.db, a.admin.viewer, { url: "https://crm.example.test/hook?token=abc123def", enabled: true }, systemClock);
    const second = await t.db.ledgerEntry.findFirstOrThrow({ where: { tenantId: a.id, type: "CONFIG_CHANGED" }, orderBy: { seq: "desc" } });
    expect(second.payload).not.toMatch(/SECRET|XYZtoken|abc123def/);
  });
});
