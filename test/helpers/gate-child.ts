/**
 * A second app instance for test/integration/config-freshness.test.ts: its own Prisma client and
 * its own (warm) gate configuration cache. `tsx test/helpers/gate-child.ts` with DATABASE_URL.
 * Line protocol on stdin, one JSON answer per line on stdout:
 *   {"op":"submit","key":"apk_…","accountId":"…","actionType":"…"} → POST /api/v1/intents (the real route handler)
 *   {"op":"mode","tenantId":"…","actionType":"…","mode":"AUTO_EXECUTE"|null} → putMode (what PUT /api/v1/autonomy/config calls)
 *   {"op":"killswitch","tenantId":"…","enabled":true} → putKillSwitch (TENANT scope)
 */
import { createInterface } from "node:readline";
import { POST as intentsPost } from "@/app/api/v1/intents/route";
import { systemClock } from "@/server/clock";
import { createDb } from "@/server/db";
import type { Viewer } from "@/server/repos/scope";
import { putKillSwitch, putMode } from "@/server/services/autonomyConfig";

const db = createDb(process.env.DATABASE_URL as string);
(globalThis as { __autopilotDb?: unknown }).__autopilotDb = db;
const operator = (tenantId: string): Viewer => ({ tenantId, actor: { type: "SYSTEM", id: "instance-2" }, role: null, userId: null });

type Msg =
  | { op: "submit"; key: string; accountId: string; actionType: string }
  | { op: "mode"; tenantId: string; actionType: string; mode: "AUTO_EXECUTE" | "APPROVAL_REQUIRED" | "PROPOSE_ONLY" | "DISABLED" | null }
  | { op: "killswitch"; tenantId: string; enabled: boolean };

async function handle(m: Msg): Promise<unknown> {
  if (m.op === "submit") {
    const res = await intentsPost(
      new Request("http://127.0.0.1/api/v1/intents", {
        method: "POST",
        headers: { authorization: `Bearer ${m.key}`, "content-type": "application/json" },
        body: JSON.stringify({
          account_id: m.accountId,
          action_type: m.actionType,
          confidence: 0.95,
          risk_level: "LOW",
          why: ["RENEWAL_WINDOW_ENTERED"],
          parameters: { title: "from instance 2" },
        }),
      }),
    );
    return { http: res.status, ...((await res.json()) as object) };
  }
  if (m.op === "mode") {
    await putMode(db, operator(m.tenantId), { actionType: m.actionType, mode: m.mode }, systemClock);
    return { ok: true };
  }
  await putKillSwitch(db, operator(m.tenantId), { scope: "TENANT", enabled: m.enabled, reason: "from instance 2" }, systemClock);
  return { ok: true };
}

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  handle(JSON.parse(line) as Msg)
    .then((out) => process.stdout.write(`${JSON.stringify(out)}\n`))
    .catch((err: unknown) => process.stdout.write(`${JSON.stringify({ error: err instanceof Error ? err.name : "Error" })}\n`));
});
rl.on("close", () => {
  void db.$disconnect().then(() => process.exit(0));
});
process.stderr.write("ready\n");
