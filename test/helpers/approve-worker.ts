/**
 * A process that approves one intent the way the inbox does — `approveIntent`, the service REST
 * (`POST /api/v1/intents/:id/approve`) and tRPC call — and so runs its execution through the real
 * connector. test/integration/execution-sweep.test.ts SIGKILLs it while the connector call is in
 * flight. `tsx test/helpers/approve-worker.ts` with DATABASE_URL, VIEWER (JSON), INTENT_ID and,
 * for SEND_EMAIL, SMTP_PORT.
 */
import { systemClock } from "@/server/clock";
import { createDb } from "@/server/db";
import type { Viewer } from "@/server/repos/scope";
import { approveIntent } from "@/server/services/reviews";

// Detached from the test runner's process group: never outlive a test run that died abruptly.
setTimeout(() => process.exit(3), Number(process.env.MAX_LIFETIME_MS ?? 60_000)).unref();

const db = createDb(process.env.DATABASE_URL as string);
const viewer = JSON.parse(process.env.VIEWER as string) as Viewer;
const smtpPort = process.env.SMTP_PORT ? Number(process.env.SMTP_PORT) : null;
const connectors = {
  smtp: smtpPort ? { host: "127.0.0.1", port: smtpPort, secure: false, ignoreTLS: true, from: "Autopilot <autopilot@test.example>" } : null,
};

approveIntent({ db, clock: systemClock, connectors }, viewer, process.env.INTENT_ID as string, {}).then(
  (v) => {
    // Only reached if the test failed to kill us during the call.
    process.stdout.write(`DONE ${v.status}\n`);
    process.exit(0);
  },
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
