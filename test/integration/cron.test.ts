import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { handleCron } from "@/server/http/cron";
import { JOBS } from "@/server/jobs/registry";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant } from "../helpers/factory";

let t: TestDb;
const SECRET = "cron-secret-cron-secret-123";

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  await makeTenant(t.db);
});
afterAll(() => t.cleanup());

const callWith = (secret: string | undefined, job: string, auth?: string) =>
  handleCron(new Request(`http://127.0.0.1/api/cron/${job}`, { headers: auth ? { authorization: auth } : {} }), job, secret);
const call = (job: string, auth?: string) => callWith(SECRET, job, auth);

describe(`cron routes on ${TEST_PROVIDER}`, () => {
  it("401 with no secret or a wrong one, 200 with the right one", async () => {
    expect((await call("ledger-verify")).status).toBe(401);
    expect((await call("ledger-verify", "Bearer wrong")).status).toBe(401);
    expect((await call("ledger-verify", `Bearer ${SECRET}x`)).status).toBe(401);
    expect((await call("ledger-verify", SECRET)).status).toBe(401);
    const ok = await call("ledger-verify", `Bearer ${SECRET}`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ job: "ledger-verify", ok: true });
  });

  it("refuses everything when the server has no secret configured", async () => {
    expect((await callWith(undefined, "ledger-verify", "Bearer ")).status).toBe(503);
    expect((await callWith("", "ledger-verify", "Bearer anything")).status).toBe(503);
  });

  it("an unknown job is 404 (after auth)", async () => {
    expect((await call("nope", `Bearer ${SECRET}`)).status).toBe(404);
    expect((await call("nope")).status).toBe(401);
  });

  it("vercel.json lists every job with its schedule", () => {
    const crons = JSON.parse(fs.readFileSync("vercel.json", "utf8")).crons as { path: string; schedule: string }[];
    expect(crons).toEqual(Object.entries(JOBS).map(([name, j]) => ({ path: `/api/cron/${name}`, schedule: j.schedule })));
  });

  it("a job that fails answers 500 INTERNAL with an error id only; the log line is redacted", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    const real = (globalThis as { __autopilotDb?: unknown }).__autopilotDb;
    // Fault injection: the database the job reads fails with a driver error carrying a credential.
    const fail = () => {
      throw new Error("connect postgres://app:hunter2@db:5432/x refused");
    };
    (globalThis as { __autopilotDb?: unknown }).__autopilotDb = new Proxy(t.db, { get: () => new Proxy({}, { get: () => fail }) });
    try {
      const res = await call("ledger-verify", `Bearer ${SECRET}`);
      expect(res.status).toBe(500);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("INTERNAL");
      expect(body.error.message).toMatch(/error id err_[0-9a-f]{12}/);
      expect(body.error.message).not.toMatch(/hunter2|postgres/);
      const line = log.mock.calls.map((c) => String(c[0])).find((l) => l.includes("cron ledger-verify")) ?? "";
      expect(line).toContain("postgres://[REDACTED]@db:5432");
      expect(line).not.toContain("hunter2");
    } finally {
      (globalThis as { __autopilotDb?: unknown }).__autopilotDb = real;
      log.mockRestore();
    }
  });
});
