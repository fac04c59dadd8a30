import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "@/server/clock";
import { createDb, type Db, type ObservedStatement } from "@/server/db";
import { authenticateApiKey, createApiKey } from "@/server/services/apiKeys";
import { freshDb, type TestDb } from "../helpers/db";
import { makeTenant } from "../helpers/factory";

/**
 * An API key's last-used time is refreshed at most once a minute, and a request that finds it
 * fresh sends no write at all (authenticateApiKey is what every REST route calls): on SQLite even a
 * guarded UPDATE that changes nothing takes the write lock, and signal pushes would queue on it.
 */
describe("API key last-used refresh", () => {
  let t: TestDb;
  let observed: Db;
  const statements: ObservedStatement[] = [];

  beforeAll(async () => {
    t = await freshDb();
    observed = createDb(t.url, { observe: (s) => statements.push(s) });
  });
  afterAll(async () => {
    await observed.$disconnect();
    await t.cleanup();
  });

  it("writes last-used on the first request, sends no write within the minute, and refreshes after it", async () => {
    const tenant = await makeTenant(t.db);
    const clock = fixedClock("2026-11-27T10:00:00.000Z");
    const { key } = await createApiKey(
      t.db,
      { tenantId: tenant.id, name: "touch", scopes: ["ingest"], actor: { type: "SYSTEM", id: "test" } },
      clock,
    );
    const touches = () => statements.filter((s) => /^\s*UPDATE\s+\S*\bApiKey\b/i.test(s.sql)).length;
    const lastUsed = async () => (await t.db.apiKey.findFirstOrThrow({ where: { tenantId: tenant.id } })).lastUsedAt?.toISOString();

    await authenticateApiKey(observed, `Bearer ${key}`, clock);
    expect(touches()).toBe(1);
    expect(await lastUsed()).toBe("2026-11-27T10:00:00.000Z");

    clock.advance(30_000);
    await authenticateApiKey(observed, `Bearer ${key}`, clock);
    await authenticateApiKey(observed, `Bearer ${key}`, clock);
    expect(touches()).toBe(1);
    expect(await lastUsed()).toBe("2026-11-27T10:00:00.000Z");

    clock.advance(31_000);
    await authenticateApiKey(observed, `Bearer ${key}`, clock);
    expect(touches()).toBe(2);
    expect(await lastUsed()).toBe("2026-11-27T10:01:01.000Z");
  });
});
