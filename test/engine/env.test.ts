import { describe, expect, it } from "vitest";
import { parseEnv } from "@/server/env";

describe("CONNECTOR_MAX_CONCURRENCY", () => {
  it("reads per-connector caps shared by every tenant", () => {
    expect(parseEnv({ CONNECTOR_MAX_CONCURRENCY: "crm=20, webhook = 50" }).CONNECTOR_MAX_CONCURRENCY).toEqual({ crm: 20, webhook: 50 });
    expect(parseEnv({}).CONNECTOR_MAX_CONCURRENCY).toBeUndefined();
  });

  it.each(["crm=0", "ftp=3", "crm=20,", "crm", "crm=99999", "crm=2.5"])("refuses %j, naming the variable", (value) => {
    expect(() => parseEnv({ CONNECTOR_MAX_CONCURRENCY: value })).toThrow(/CONNECTOR_MAX_CONCURRENCY/);
  });
});
