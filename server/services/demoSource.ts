import type { Clock } from "../clock";
import type { Db } from "../db";
import { demoAccountIds } from "../repos/seed";
import { findTenantBySlug } from "../repos/tenants";
import { DEMO_SIGNALS, prng } from "./seed";
import { ingestSignal, type SignalInput } from "./signals";

/**
 * The built-in demo source (SPEC §4.4): a pull connector for the `demo` tenant that produces
 * realistic account activity on a schedule, through the same intake as a CRM push — so the
 * triggers, cost gate, synthesis and autonomy gate visibly work out of the box. Each tick is
 * seeded by its minute, so a repeated tick is deduped rather than doubled.
 */
export async function runDemoSourceTick(db: Db, clock: Clock, opts: { signalsPerTick?: number } = {}) {
  const tenant = await findTenantBySlug(db, "demo");
  if (!tenant) return { ok: true, signals: 0, note: "no demo tenant" };
  const now = clock.now();
  const minute = Math.floor(now.getTime() / 60_000);
  const r = prng(minute);
  const accounts = await demoAccountIds(db, tenant.id);
  const viewer = { tenantId: tenant.id, actor: { type: "SYSTEM" as const, id: "demo-source" }, role: null, userId: null };
  let created = 0;
  for (let i = 0; i < (opts.signalsPerTick ?? 2) && accounts.length > 0; i++) {
    const account = r.pick(accounts);
    const sig = r.pick(DEMO_SIGNALS);
    const input: SignalInput = {
      accountId: account.id,
      signalType: sig.type,
      severity: sig.severity,
      evidence: { ...sig.evidence(r), source: "demo" },
      dedupeKey: `demo:${minute}:${i}`,
      source: "demo-source",
    };
    const res = await ingestSignal(db, viewer, input, clock);
    if (!res.duplicate) created += 1;
  }
  return { ok: true, signals: created };
}
