import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter, createCaller } from "@/server/api/root";
import type { SessionLike } from "@/server/auth/viewer";
import { systemClock } from "@/server/clock";
import { INPUT_LIMITS } from "@/server/http/limits";
import { OPERATIONS } from "@/server/http/openapi";
import type { ApiKeyScope } from "@/server/schemas/common";
import { createApiKey } from "@/server/services/apiKeys";
import { verifyLedger } from "@/server/services/ledger";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { b64, fuzzInput, HOSTILE_CURSORS, manyKeys, nested, nestedText } from "../helpers/zodArbitrary";

/**
 * The edge under hostile input: every REST endpoint (the OpenAPI list, which a test already keeps
 * complete) and every tRPC procedure (enumerated from appRouter), for every key scope and role,
 * with inputs generated from their zod schemas plus the cases a probe found: ~2,000 / ~2,500
 * levels of nesting, a 50 MB body, huge key counts, `__proto__` / `constructor` keys, crafted
 * cursors, wrong types, unicode, nulls. Nothing may answer 5xx / INTERNAL_SERVER_ERROR, and the
 * ledger explorer must still read and verify afterwards.
 */

const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 10);

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const keys: Record<string, string> = {};
const ids: string[] = [];

const ROUTES = import.meta.glob("/app/api/v1/**/route.ts");

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  for (const scope of ["admin", "ingest", "read", "approve"] as ApiKeyScope[]) {
    keys[scope] = (
      await createApiKey(t.db, { tenantId: a.id, name: scope, scopes: [scope], actor: { type: "SYSTEM", id: "fuzz" } }, systemClock)
    ).key;
  }
  keys.other = (
    await createApiKey(t.db, { tenantId: b.id, name: "other", scopes: ["admin"], actor: { type: "SYSTEM", id: "fuzz" } }, systemClock)
  ).key;
  // Intents waiting for a person, so approve / reject / edit paths run for real.
  const intents = (await import("@/app/api/v1/intents/route")).POST;
  for (const acc of [...a.accounts.seller, ...a.accounts.admin]) {
    const res = await intents(
      rest("/api/v1/intents", {
        key: keys.admin,
        method: "POST",
        body: JSON.stringify({
          account_id: acc,
          action_type: "SEND_EMAIL",
          confidence: 0.9,
          risk_level: "MEDIUM",
          why: ["USAGE_DROP"],
          parameters: { subject: "hi" },
        }),
      }),
    );
    expect(res.status).toBeLessThan(300);
    ids.push(((await res.json()) as { action_intent_id: string }).action_intent_id);
  }
  ids.push(...a.accounts.seller, ...a.accounts.seller2, ...a.accounts.admin, b.accounts.seller[0] as string);
}, 60_000);
afterAll(() => t.cleanup());

function rest(path: string, init: { key?: string; method?: string; body?: BodyInit; headers?: Record<string, string> } = {}) {
  return new Request(`http://127.0.0.1${path}`, {
    method: init.method ?? "GET",
    headers: { ...(init.key ? { authorization: `Bearer ${init.key}` } : {}), "content-type": "application/json", ...init.headers },
    body: init.body,
    ...(init.body instanceof ReadableStream ? { duplex: "half" } : {}),
  } as RequestInit);
}

/** A 50 MB body, produced lazily in 1 MiB chunks — the server must stop reading long before the end. */
function fiftyMegabytes(): ReadableStream<Uint8Array> {
  const chunk = new TextEncoder().encode(`[${"1,".repeat(512 * 1024 - 1)}1]`.slice(0, 1024 * 1024));
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= 50) return controller.close();
      sent++;
      controller.enqueue(chunk);
    },
  });
}

/** Put real ids (this tenant's, another seller's, another tenant's) where the input names one. */
function withRealIds(v: unknown, pick: number): unknown {
  if (!v || typeof v !== "object" || Array.isArray(v)) return v;
  const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
  const id = ids[pick % ids.length];
  for (const k of ["id", "account_id", "accountId", "action_intent_id", "actionIntentId", "execution_id", "executionId"]) {
    if (k in out && pick % 3 !== 0) out[k] = id;
  }
  if (Array.isArray(out.ids) && pick % 2 === 0) out.ids = ids.slice(0, 1 + (pick % 4));
  return out;
}

const HOSTILE_BODIES: [string, () => BodyInit][] = [
  ["2,000 levels of nesting", () => JSON.stringify({ evidence: nested(2000), parameters: nested(2000) })],
  ["2,500 levels of nesting", () => nestedText(2500)],
  ["a huge key count", () => JSON.stringify(manyKeys(5000))],
  ["a huge key count past the byte cap", () => JSON.stringify(manyKeys(100_000))],
  ["__proto__ / constructor keys", () => '{"__proto__":{"admin":true},"constructor":{"prototype":{}},"toString":"x"}'],
  [
    "constructor keys where objects are free-form",
    () =>
      '{"actor":"fuzz","edited_parameters":{"constructor":"x","toString":"y","__proto__":{"z":1}},"evidence":{"constructor":1},"parameters":{"valueOf":2}}',
  ],
  ["a 50 MB body", fiftyMegabytes],
  ["not JSON", () => "{nope"],
  ["null", () => "null"],
  ["unicode with a stray field", () => JSON.stringify({ actor: "𝕏💥\u202e\u0000", reason: "\ud800", stray_field: "ž" })],
];

async function expectNot5xx(res: Response, what: string) {
  if (res.status >= 500) throw new Error(`${what} → ${res.status}: ${(await res.text()).slice(0, 300)}`);
  if (res.status >= 400) {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    expect(body.error, what).toMatchObject({ code: expect.any(String), message: expect.any(String) });
  }
}

describe(`fuzz: every REST endpoint on ${TEST_PROVIDER}`, () => {
  const ops = OPERATIONS.map((op) => {
    const file = `/app${op.path.replace(/\{(\w+)\}/g, "[$1]")}/route.ts`;
    const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
    return { ...op, file, params };
  });

  it("covers every route module export (an endpoint not in the list fails here)", async () => {
    const covered = new Set(ops.map((o) => `${o.file} ${o.method.toUpperCase()}`));
    for (const [file, load] of Object.entries(ROUTES)) {
      const mod = (await load()) as Record<string, unknown>;
      for (const m of ["GET", "POST", "PUT", "PATCH", "DELETE"]) {
        if (typeof mod[m] === "function" && !file.endsWith("openapi.json/route.ts"))
          expect(covered, `${m} ${file}`).toContain(`${file} ${m}`);
      }
    }
  });

  async function call(op: (typeof ops)[number], init: Parameters<typeof rest>[1], query = "", idValue = "x") {
    const load = ROUTES[op.file];
    if (!load) throw new Error(`no route module for ${op.path}`);
    const handler = ((await load()) as Record<string, unknown>)[op.method.toUpperCase()] as (
      req: Request,
      ctx: unknown,
    ) => Promise<Response>;
    const params = Object.fromEntries(op.params.map((p) => [p, idValue]));
    // A raw-body op (the CSV import) gets its own media type, so hostile bodies reach its parser.
    const headers = op.rawBody ? { "content-type": op.rawBody.contentType, ...init?.headers } : init?.headers;
    return handler(rest(`${op.path}${query}`, { ...init, headers, method: op.method.toUpperCase() }), { params: Promise.resolve(params) });
  }

  it("hostile bodies, cursors, query values and path ids → 4xx for every key, never 5xx, nothing written", async () => {
    const headBefore = await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: a.id } });
    for (const op of ops) {
      // The admin key passes every scope check; the op's own scope and another tenant's admin key
      // take the other paths. A missing key is refused before anything is read.
      await expectNot5xx(
        await call(op, { body: op.method === "get" ? undefined : nestedText(2500) }, "", ids[0]),
        `${op.path} without a key`,
      );
      for (const key of new Set([keys.admin, keys[op.scopes[0] as string], keys.other])) {
        if (op.method !== "get") {
          for (const [label, body] of HOSTILE_BODIES) {
            const res = await call(op, { key, body: body() }, "", ids[0]);
            await expectNot5xx(res, `${op.method} ${op.path} with ${label}`);
            if (key === keys.admin && res.status === 413) expect(label).toMatch(/50 MB|byte cap/);
          }
        }
        if (op.method === "get")
          for (const cursor of HOSTILE_CURSORS) {
            const res = await call(op, { key }, `?cursor=${encodeURIComponent(cursor)}&limit=5`, ids[0]);
            await expectNot5xx(res, `${op.method} ${op.path} with cursor ${cursor.slice(0, 40)}`);
          }
        for (const q of [`account_id=${"a".repeat(INPUT_LIMITS.maxQueryValueLength + 1)}`, "limit=1e20", "from=%00", "type=__proto__"]) {
          await expectNot5xx(await call(op, { key }, `?${q}`), `${op.method} ${op.path}?${q.slice(0, 40)}`);
        }
        for (const id of ["", "x".repeat(5000), "__proto__", "../../etc", "%00"]) {
          if (op.params.length)
            await expectNot5xx(
              await call(op, { key, body: op.method === "get" ? undefined : "{}" }, "", id),
              `${op.method} ${op.path} id=${id.slice(0, 20)}`,
            );
        }
      }
    }
    // Only hostile input was sent: none of it may have reached the ledger.
    expect((await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: a.id } })).seq).toBe(headBefore.seq);
  }, 120_000);

  it("bodies and queries generated from each endpoint's zod schema → never 5xx", async () => {
    for (const op of ops) {
      await fc.assert(
        fc.asyncProperty(
          fuzzInput(op.body),
          fuzzInput(op.query),
          fc.nat(),
          // Mostly the admin key, so generated input gets past the scope check and reaches the services.
          fc.constantFrom("admin", "admin", "admin", "ingest", "read", "approve", "other"),
          async (body, query, pick, who) => {
            const q = withRealIds(query, pick);
            const qs =
              q && typeof q === "object" && !Array.isArray(q)
                ? `?${new URLSearchParams(Object.entries(q).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])).toString()}`
                : "";
            const res = await call(
              op,
              { key: keys[who], body: op.method === "get" ? undefined : JSON.stringify(withRealIds(body, pick) ?? null) },
              qs,
              ids[pick % ids.length],
            );
            await expectNot5xx(res, `${op.method} ${op.path}`);
          },
        ),
        { numRuns: NUM_RUNS * 3 },
      );
    }
  }, 120_000);
});

type Caller = ReturnType<typeof createCaller>;
type Proc = { _def: { type: "query" | "mutation" | "subscription"; inputs: unknown[] } };

function procedureAt(caller: Caller, path: string) {
  return path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], caller) as (input?: unknown) => Promise<unknown>;
}

describe(`fuzz: every tRPC procedure on ${TEST_PROVIDER}`, () => {
  const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, Proc>);
  const sessions = (): [string, SessionLike | null][] => [
    ["admin", a.admin.session],
    ["seller", a.seller.session],
    ["auditor", a.auditor.session],
    ["signed out", null],
  ];

  async function expectNoInternal(p: Promise<unknown>, what: string) {
    try {
      await p;
    } catch (err) {
      const e = err as { code?: string; message?: string; name?: string };
      if (e.name !== "TRPCError") throw new Error(`${what}: threw a non-tRPC error ${e.name}: ${e.message}`);
      if (e.code === "INTERNAL_SERVER_ERROR") throw new Error(`${what}: INTERNAL_SERVER_ERROR ${e.message}`);
    }
  }

  it("hostile inputs → a typed error, never INTERNAL_SERVER_ERROR, for every procedure and role", async () => {
    const hostile: [string, unknown][] = [
      ["2,000 levels", { id: ids[0], accountId: ids[0], evidence: nested(2000), editedParameters: nested(2000) }],
      ["2,500 levels", nested(2500)],
      ["huge key count", manyKeys(5000)],
      ["__proto__ keys", JSON.parse('{"__proto__":{"x":1},"constructor":"c","id":"x"}')],
      [
        "constructor in free-form objects",
        { id: ids[0], editedParameters: JSON.parse('{"constructor":"x","toString":"y","__proto__":{"z":1}}') },
      ],
      ["crafted cursor", { cursor: b64({ s: 1e20 }), limit: 5 }],
      ["crafted date cursor", { cursor: b64({ t: "nope", i: "x" }), limit: 5 }],
      ["crafted job cursor", { cursor: b64({ c: 1e20, i: "x" }), limit: 5 }],
      ["wrong types", { id: 5, accountId: [], limit: "ten", cursor: {} }],
      ["null", null],
      ["unicode", { id: "𝕏💥\u202e", reason: "\ud800\u0000" }],
    ];
    const seen = new Set<string>();
    for (const [role, session] of sessions()) {
      const caller = createCaller({ db: t.db, clock: systemClock, session });
      for (const [path] of procedures) {
        seen.add(path);
        for (const [label, input] of hostile) await expectNoInternal(procedureAt(caller, path)(input), `${role} ${path} with ${label}`);
      }
    }
    expect([...seen].sort()).toEqual(procedures.map(([p]) => p).sort());
  }, 120_000);

  it("inputs generated from each procedure's zod schema → never INTERNAL_SERVER_ERROR", async () => {
    for (const [path, proc] of procedures) {
      const schema = proc._def.inputs[0] as Parameters<typeof fuzzInput>[0];
      await fc.assert(
        fc.asyncProperty(fuzzInput(schema), fc.nat(), fc.constantFrom(0, 1, 2, 3), async (input, pick, who) => {
          const [role, session] = sessions()[who] as [string, SessionLike | null];
          const caller = createCaller({ db: t.db, clock: systemClock, session });
          await expectNoInternal(procedureAt(caller, path)(withRealIds(input, pick)), `${role} ${path}`);
        }),
        { numRuns: NUM_RUNS },
      );
    }
  }, 120_000);

  it("afterwards the ledger explorer still answers and both chains verify", async () => {
    const admin = createCaller({ db: t.db, clock: systemClock, session: a.admin.session });
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await admin.ledger.list({ limit: 100, cursor });
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor && pages < 50);
    const { GET } = (await import("@/app/api/v1/ledger/route")) as { GET: (r: Request) => Promise<Response> };
    expect((await GET(rest("/api/v1/ledger?limit=200", { key: keys.read }))).status).toBe(200);
    for (const acc of a.accounts.admin) expect((await admin.accounts.activity({ id: acc })).items).toBeDefined();
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
    expect(await verifyLedger(t.db, b.id)).toMatchObject({ ok: true });
  }, 60_000);
});
