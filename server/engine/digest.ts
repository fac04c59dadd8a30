/**
 * The daily digest (SPEC §4.6): which local day a digest covers, when it is due, and what it
 * counts. Pure: the job and the page pass the clock's `now` and the user's settings in.
 *
 * Which day a digest covers: the digest sent at the user's hour on local day D covers local day
 * D-1 in full (00:00 to 24:00 in the user's zone), so its counts are final — nothing can still
 * be added to a day that has ended. "Waiting" is the exception: it is what waits now, at sending.
 *
 * When it is due: from the first instant of local day D whose local hour is at least `hourLocal`
 * (on a spring-forward day an hour that does not exist begins at the transition) for
 * SEND_WINDOW_HOURS. The window, not the exact hour, lets an hourly cron that missed a tick (or a
 * skipped DST hour) still send, and bounds retries of a failed send to that window; outside it
 * nothing is sent, so enabling the digest in the afternoon does not send yesterday's at once.
 */
import { type DigestFacts, digestConfigured } from "./alwaysOn";

export const SEND_WINDOW_HOURS = 3;

/** At most this many items per list in a digest; the counts are always exact. */
export const DIGEST_LIST_CAP = 50;

export const DIGEST_RUN_STATUSES = ["SENDING", "SENT", "FAILED"] as const;
export type DigestRunStatus = (typeof DIGEST_RUN_STATUSES)[number];

/** Policy reasons that hold back what would have run on its own (asked a person instead). */
export const HELD_REASONS = ["NOT_OPTED_IN", "BUDGET_EXHAUSTED", "KILL_SWITCH_ACTIVE"] as const;

const DATE_KEY = /^(\d{4})-(\d{2})-(\d{2})$/;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
    });
    formatters.set(tz, f);
  }
  return f;
}

/** The local calendar date and hour of an instant in a zone. */
export function localParts(at: Date, tz: string): { dateKey: string; hour: number } {
  const parts = Object.fromEntries(
    formatter(tz)
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return { dateKey: `${parts.year}-${parts.month}-${parts.day}`, hour: Number(parts.hour) };
}

export function localDateKey(at: Date, tz: string): string {
  return localParts(at, tz).dateKey;
}

/** A real calendar date written YYYY-MM-DD (2026-02-30 is not). */
export function isDateKey(s: string): boolean {
  const m = DATE_KEY.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === s;
}

export function addDays(dateKey: string, days: number): string {
  const m = DATE_KEY.exec(dateKey);
  if (!m) throw new Error(`Not a date key: ${dateKey}`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + days)).toISOString().slice(0, 10);
}

/** Order of two local (date, hour) pairs as comparable strings. */
function stamp(p: { dateKey: string; hour: number }): string {
  return `${p.dateKey}T${String(p.hour).padStart(2, "0")}`;
}

/**
 * The first instant whose local (date, hour) is at or after (dateKey, hour). No offset
 * arithmetic: a binary search over instants around the naive UTC guess (every zone's offset lies
 * within ±14 h), asking Intl for the local time — so DST gaps, repeated hours and zones whose
 * midnight does not exist on some days all come out right.
 */
export function firstInstantAtOrAfter(dateKey: string, hour: number, tz: string): Date {
  const m = DATE_KEY.exec(dateKey);
  if (!m) throw new Error(`Not a date key: ${dateKey}`);
  const target = stamp({ dateKey, hour });
  const guess = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), hour);
  let lo = guess - 15 * 3_600_000; // local time here is before the target in every zone
  let hi = guess + 15 * 3_600_000; // and at or after it here
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (stamp(localParts(new Date(mid), tz)) >= target) hi = mid;
    else lo = mid;
  }
  // Zone transitions fall on whole seconds; settle the last second exactly.
  while (hi - 1000 > lo && stamp(localParts(new Date(hi - 1000), tz)) >= target) hi -= 1000;
  return new Date(Math.floor(hi / 1000) * 1000);
}

/** The instants [start, end) of a local calendar day: 23, 24 or 25 hours long. */
export function dayWindow(dateKey: string, tz: string): { start: Date; end: Date } {
  return { start: firstInstantAtOrAfter(dateKey, 0, tz), end: firstInstantAtOrAfter(addDays(dateKey, 1), 0, tz) };
}

/** The local day a digest sent at `at` covers: the local day before. */
export function coveredDay(at: Date, tz: string): string {
  return addDays(localDateKey(at, tz), -1);
}

/** The last complete local day at `now`: what the page shows by default. */
export function lastCompleteDay(now: Date, tz: string): string {
  return coveredDay(now, tz);
}

export type DigestSchedule = Pick<DigestFacts, "hourLocal" | "timezone">;

/** When the digest of local day D goes out: the first instant of D at the user's hour. */
export function sendInstant(dateKey: string, s: DigestSchedule): Date {
  return firstInstantAtOrAfter(dateKey, s.hourLocal, s.timezone);
}

/**
 * Whether a digest is due at `now`, and for which covered day. `alreadySent` says whether that
 * day's digest has been claimed already (the DigestRun row); the job's insert-once claim is what
 * makes it hold under concurrent ticks, this only decides whether to try.
 */
export function digestDue(settings: DigestFacts, now: Date, alreadySent: (dateKey: string) => boolean = () => false) {
  if (!digestConfigured(settings)) return { due: false as const, reason: "NOT_CONFIGURED" as const };
  const today = localDateKey(now, settings.timezone);
  const at = sendInstant(today, settings);
  const t = now.getTime();
  if (t < at.getTime() || t >= at.getTime() + SEND_WINDOW_HOURS * 3_600_000) {
    return { due: false as const, reason: "NOT_THE_HOUR" as const };
  }
  const dateKey = addDays(today, -1);
  if (alreadySent(dateKey)) return { due: false as const, reason: "ALREADY_SENT" as const, dateKey };
  return { due: true as const, dateKey };
}

/** The next time a digest goes out after `now` (for the settings form), or null when disabled. */
export function nextSendAt(settings: DigestFacts, now: Date): Date | null {
  if (!digestConfigured(settings)) return null;
  const today = localDateKey(now, settings.timezone);
  const at = sendInstant(today, settings);
  return at.getTime() > now.getTime() ? at : sendInstant(addDays(today, 1), settings);
}

// ─────────────────────────────── classifying ledger entries ───────────────────────────────

type Payload = Record<string, unknown>;

/**
 * An autonomous act: the start of an execution policy let run on its own. A sweeper retry of the
 * same execution appends another EXECUTION_STARTED (`retry: true`); it is the same act.
 */
export function isAutonomousStart(p: Payload): boolean {
  return p.auto_executed === true && p.retry !== true;
}

export function isBlocked(p: Payload): boolean {
  return p.decision === "BLOCK";
}

/** What policy would have let run but held back for a person, and why (null: not held back). */
export function heldReason(p: Payload): (typeof HELD_REASONS)[number] | null {
  if (p.decision !== "REQUIRE_APPROVAL") return null;
  return (HELD_REASONS as readonly unknown[]).includes(p.reason) ? (p.reason as (typeof HELD_REASONS)[number]) : null;
}

export interface DigestCounts {
  autonomous: number;
  waiting: number;
  blocked: number;
  held: number;
  budget_used: number;
}

/**
 * One line of "why" for an intent. For what waits or was stopped, policy's explanation says why
 * (it names what a person must decide); for what ran, the proposal's own first reason says why it
 * was done (policy's explanation only says it was allowed). Either falls back to the other.
 */
export function oneLineWhy(intent: { explanation: string | null; why: string } | null, prefer: "policy" | "stated" = "policy"): string {
  const stated = intent ? firstStated(intent.why) : null;
  const policy = intent?.explanation ? firstLine(intent.explanation) : null;
  return (prefer === "policy" ? (policy ?? stated) : (stated ?? policy)) ?? "No reason recorded";
}

function firstStated(whyJson: string): string | null {
  try {
    const why: unknown = JSON.parse(whyJson);
    return Array.isArray(why) && typeof why[0] === "string" && why[0].trim() ? firstLine(why[0]) : null;
  } catch {
    return null; // an unreadable why reads as none
  }
}

function firstLine(s: string): string {
  const line = s.split(/\r?\n/, 1)[0]?.trim() ?? "";
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/** A stated reason is often a signal code (RENEWAL_WINDOW_ENTERED): shown to people as words. */
export function readableWhy(why: string): string {
  return /^[A-Z0-9_]+$/.test(why)
    ? why
        .toLowerCase()
        .replaceAll("_", " ")
        .replace(/^./, (c) => c.toUpperCase())
    : why;
}

// The digest's words and times, the same on the page and in the email (24-hour, the user's zone).

export const humanCode = (code: string) => code.toLowerCase().replaceAll("_", " ");

export const localTime = (iso: string, tz: string) =>
  new Intl.DateTimeFormat("en-US", { timeZone: tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(iso));

export const localWhen = (iso: string, tz: string) =>
  new Intl.DateTimeFormat("en-US", {
    timeZone: tz,
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(new Date(iso));
