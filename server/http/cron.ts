import { createHash, timingSafeEqual } from "node:crypto";
import { systemClock } from "../clock";
import { getDb } from "../db";
import { internalMessage, reportUnexpected } from "../errors";
import { isJobName, JOBS } from "../jobs/registry";
import { jobDepsFromEnv } from "./deps";
import { errorResponse } from "./rest";

/** Constant-time on equal-length digests, so neither content nor length of the secret leaks. */
function sameSecret(presented: string, expected: string) {
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * `GET /api/cron/<job>` for Vercel Cron or any scheduler: `Authorization: Bearer $CRON_SECRET`.
 * No secret configured → refuse everything (never "open when unset"); the secret is read from the
 * header only, never from the query string.
 */
export async function handleCron(req: Request, job: string, secret: string | undefined) {
  if (!secret) return errorResponse(503, "CRON_DISABLED", "CRON_SECRET is not configured on this server");
  const header = req.headers.get("authorization") ?? "";
  const presented = header.startsWith("Bearer ") ? header.slice(7) : "";
  if (!presented || !sameSecret(presented, secret)) return errorResponse(401, "UNAUTHORIZED", "Missing or wrong cron secret");
  if (!isJobName(job)) return errorResponse(404, "NOT_FOUND", `Unknown job "${job.slice(0, 64)}"`, "job");
  try {
    const result = await JOBS[job].run(jobDepsFromEnv(getDb(), systemClock, `cron:${process.pid}`));
    return Response.json({ job, ...result });
  } catch (err) {
    // A failing job is our fault (5xx), but the caller sees only an error id; the log has the rest, redacted.
    return errorResponse(500, "INTERNAL", internalMessage(reportUnexpected(`cron ${job}`, err)));
  }
}
