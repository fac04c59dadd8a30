import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { OPERATIONS, openApiDocument } from "@/server/http/openapi";

/** Every REST v1 route file and exported method, as `METHOD /api/v1/...` with `{id}` params. */
function routes(dir = "app/api/v1"): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...routes(full));
    else if (entry.name === "route.ts") {
      // app/api/v1/intents/[id]/approve/route.ts → /api/v1/intents/{id}/approve
      const url = `/${path.dirname(full).replace(/^app\//, "")}`.replace(/\[(\w+)\]/g, "{$1}");
      const src = fs.readFileSync(full, "utf8");
      for (const m of src.matchAll(/export (?:const|async function|function) (GET|POST|PUT|DELETE|PATCH)\b/g)) out.push(`${m[1]} ${url}`);
    }
  }
  return out;
}

describe("OpenAPI document", () => {
  it("documents exactly the REST v1 routes that exist", () => {
    const served = routes()
      .filter((r) => !r.endsWith("/openapi.json"))
      .sort();
    const documented = OPERATIONS.map((o) => `${o.method.toUpperCase()} ${o.path}`).sort();
    expect(served.length).toBeGreaterThanOrEqual(19);
    expect(documented).toEqual(served);
  });

  it("is generated from the request schemas", () => {
    const doc = openApiDocument("test") as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          { requestBody?: { content: { "application/json": { schema: { properties: Record<string, unknown>; required: string[] } } } } }
        >
      >;
    };
    expect(doc.openapi).toBe("3.1.0");
    const intents = doc.paths["/api/v1/intents"]?.post?.requestBody?.content["application/json"].schema;
    expect(intents?.required).toEqual(expect.arrayContaining(["account_id", "action_type", "confidence", "risk_level", "why"]));
    expect(Object.keys(intents?.properties ?? {})).toContain("idempotency_key");
    const signals = doc.paths["/api/v1/signals"]?.post?.requestBody?.content["application/json"].schema;
    expect(signals?.properties.signal_type).toMatchObject({ enum: expect.arrayContaining(["USAGE_TREND_CHANGE"]) });
  });
});
