/**
 * Operator CLI: `npm run cli -- <command>`.
 *   seed                                              create the demo tenants (no-op if present)
 *   apikey create --tenant <slug> --scopes <list> --name <n> [--signed true]   prints the key once, alone on the last line
 *   apikey list --tenant <slug>
 *   ledger verify [--tenant <slug>]                   exit 0 when intact, else 1 naming the first bad entry
 *   ledger verify --tenant <slug> --digest <file>     also prove the chain extends a saved signed digest (TRUNCATED / REWRITTEN tails)
 *   fixtures --tenant <slug> [--accounts N] [--ledger-rows N]   bulk realistic accounts and ledger stories (a valid chain), with a progress bar
 *   tick <job>                                        run one scheduler job now
 *   killswitch --scope GLOBAL|TENANT|ACTION_TYPE|CONNECTOR [--tenant <slug>] [--key <k>] --enabled true|false --reason <text>
 *   webhook set --tenant <slug> --url <url> [--rotate true]   configure the signed webhook connector (prints a new secret once)
 *   crm sync --tenant <slug>                          one CRM (HubSpot) pull now; prints counts, exit 1 on failure
 *   learning calibrate --tenant <slug> [--seed <n>]   one calibration now, printing its progress; exit 1 if it fails
 *   learning publish-global --tenant <slug> --weights <id> --reason <text>   that tenant's version (past its shadow gate) becomes the GLOBAL ACTIVE ranking
 *   learning rollback-global --reason <text>          the GLOBAL ACTIVE ranking goes back to the version before it (or the rules)
 */

import fs from "node:fs";
import cliProgress from "cli-progress";
import { systemClock } from "../server/clock";
import { getDb } from "../server/db";
import { applyMigrations } from "../server/db/migrate";
import { digestKeysFrom } from "../server/engine/ledgerDigest";
import { env } from "../server/env";
import { AppError } from "../server/errors";
import { connectorDepsFromEnv, connectorSecretKeyFromEnv, jobDepsFromEnv } from "../server/http/deps";
import { isJobName, JOBS } from "../server/jobs/registry";
import { findTenantBySlug, listTenants } from "../server/repos/tenants";
import { KillSwitchScope } from "../server/schemas/autonomy";
import { ApiKeyScope } from "../server/schemas/common";
import { createApiKey, listTenantApiKeys } from "../server/services/apiKeys";
import { putKillSwitch } from "../server/services/autonomyConfig";
import { flushAllCallSamples } from "../server/services/callSamples";
import { setWebhook } from "../server/services/connectors";
import { syncCrm } from "../server/services/crmSync";
import { writeFixtures } from "../server/services/fixtures";
import { runWorkerTick } from "../server/services/jobQueue";
import {
  CALIBRATE,
  type CalibrationProgress,
  calibrationStatus,
  handleCalibrationJob,
  requestCalibration,
} from "../server/services/learning/calibrate";
import { publishGlobal, rollbackGlobal } from "../server/services/learning/global";
import { verifyLedger } from "../server/services/ledger";
import { parseDigest, verifyAgainstDigest } from "../server/services/ledgerDigest";
import { settleSlotReleases } from "../server/services/resilience";
import { seedDemo } from "../server/services/seed";

class UsageError extends Error {}

function flags(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (!a.startsWith("--")) throw new UsageError(`unexpected argument: ${a}`);
    const v = args[i + 1];
    if (v === undefined || v.startsWith("--")) throw new UsageError(`${a} needs a value`);
    out[a.slice(2)] = v;
    i++;
  }
  return out;
}

async function tenantOrFail(slug: string | undefined) {
  if (!slug) throw new UsageError("--tenant <slug> is required");
  const t = await findTenantBySlug(getDb(), slug);
  if (!t) throw new UsageError(`no tenant with slug "${slug}"`);
  return t;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  const db = getDb();
  await applyMigrations(env().DATABASE_URL);
  switch (cmd) {
    case "seed": {
      const res = await seedDemo(db, { password: env().DEMO_PASSWORD, clock: systemClock });
      console.log(res.created ? "Seeded demo data." : "Demo data already present; nothing to do.");
      for (const t of res.tenants) {
        console.log(`  tenant ${t.slug}: ${t.accounts} accounts`);
        for (const u of t.users) console.log(`    ${u.role.padEnd(8)} ${u.email}`);
      }
      console.log(`  password for every demo user: ${env().DEMO_PASSWORD}`);
      return 0;
    }
    case "apikey": {
      const f = flags(rest);
      const tenant = await tenantOrFail(f.tenant);
      if (sub === "create") {
        if (!f.name) throw new UsageError("--name <name> is required");
        if (!f.scopes) throw new UsageError("--scopes <list> is required (comma-separated: admin,ingest,read,approve)");
        const scopes = f.scopes.split(",").map((s) => s.trim());
        for (const s of scopes) {
          if (!ApiKeyScope.safeParse(s).success) throw new UsageError(`unknown scope "${s}" (admin, ingest, read, approve)`);
        }
        const created = await createApiKey(
          db,
          {
            tenantId: tenant.id,
            name: f.name,
            scopes: scopes as ApiKeyScope[],
            actor: { type: "SYSTEM", id: "cli" },
            signed: f.signed === "true",
          },
          systemClock,
        );
        const { key, record } = created;
        console.log(`Created API key "${record.name}" (${record.id}) for tenant ${tenant.slug} with scopes ${record.scopes.join(",")}.`);
        const { signingSecret } = created;
        if (signingSecret) console.log(`Signed pushes required: send X-Signature: sha256=HMAC-SHA256(${signingSecret}, body).`);
        console.log("Store it now; it is not shown again:");
        console.log(key);
        return 0;
      }
      if (sub === "list") {
        const viewer = { tenantId: tenant.id, actor: { type: "SYSTEM" as const, id: "cli" }, role: null, userId: null };
        for (const k of await listTenantApiKeys(db, viewer)) {
          console.log(`${k.id}  ${k.name}  apk_${k.prefix}_…  ${k.scopes.join(",")}  ${k.revokedAt ? "revoked" : "active"}`);
        }
        return 0;
      }
      throw new UsageError("apikey create|list");
    }
    case "ledger": {
      if (sub !== "verify") throw new UsageError("ledger verify [--tenant <slug>] [--digest <file>]");
      const f = flags(rest);
      if (f.digest) {
        const tenant = await tenantOrFail(f.tenant);
        let json: unknown;
        try {
          json = JSON.parse(fs.readFileSync(f.digest, "utf8"));
        } catch {
          throw new UsageError(`--digest ${f.digest}: not a readable JSON file`);
        }
        const digest = parseDigest(json);
        const secret = connectorSecretKeyFromEnv();
        if (!secret) throw new UsageError("no signing key: set CONNECTOR_SECRET_KEY or BETTER_AUTH_SECRET as on the server");
        const v = await verifyAgainstDigest(db, tenant.id, digest, digestKeysFrom(secret).publicKey);
        if (!v.ok) {
          console.error(`tenant ${tenant.slug}: ${v.problem}: ${v.detail}`);
          return 1;
        }
        console.log(
          `tenant ${tenant.slug}: OK — ${v.chain.entries} entries, head #${v.headSeq} extends digest #${digest.seq} (${digest.created_at}, key ${digest.key_id})`,
        );
        return 0;
      }
      const tenants = f.tenant ? [await tenantOrFail(f.tenant)] : await listTenants(db);
      let ok = true;
      for (const t of tenants) {
        const v = await verifyLedger(db, t.id);
        if (v.ok) {
          console.log(`tenant ${t.slug}: OK — ${v.entries} entries, head ${v.headHash.slice(0, 16)}…`);
        } else {
          ok = false;
          console.error(`tenant ${t.slug}: BROKEN — ${v.problem} at entry #${v.at.seq}${v.at.id ? ` (id ${v.at.id})` : ""}: ${v.detail}`);
        }
      }
      return ok ? 0 : 1;
    }
    case "fixtures": {
      const f = flags([sub ?? "", ...rest].filter(Boolean));
      const tenant = await tenantOrFail(f.tenant);
      const count = (name: string) => {
        const v = f[name];
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!(Number.isInteger(n) && n >= 0 && n <= 10_000_000)) throw new UsageError(`--${name} must be an integer from 0 to 10000000`);
        return n;
      };
      const accounts = count("accounts");
      const ledgerRows = count("ledger-rows");
      if (!accounts && !ledgerRows)
        throw new UsageError("fixtures --tenant <slug> [--accounts N] [--ledger-rows N] (at least one above 0)");
      // The bar goes to stderr so stdout stays the one summary line scripts read.
      const bar = new cliProgress.SingleBar(
        { stream: process.stderr, format: "{phase} [{bar}] {percentage}% | {value}/{total} | {duration}s", hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      let phase: string | null = null;
      const started = Date.now();
      const res = await writeFixtures(db, systemClock, {
        tenantSlug: tenant.slug,
        accounts,
        ledgerRows,
        onProgress: (p) => {
          if (phase !== p.phase) {
            if (phase) bar.stop();
            phase = p.phase;
            bar.start(p.total, 0, { phase: p.phase.padEnd(8) });
          }
          bar.update(p.done, { phase: p.phase.padEnd(8) });
        },
      });
      if (phase) bar.stop();
      console.log(
        `Fixtures for ${tenant.slug}: ${res.accounts} accounts, ${res.ledgerRows} ledger rows (head #${res.headSeq}) in ${((Date.now() - started) / 1000).toFixed(1)}s`,
      );
      return 0;
    }
    case "tick": {
      if (!sub || !isJobName(sub)) throw new UsageError(`tick <job>; jobs: ${Object.keys(JOBS).join(", ")}`);
      const res = await JOBS[sub].run(jobDepsFromEnv(db, systemClock, `cli:${process.pid}`));
      console.log(JSON.stringify(res, null, 2));
      return res.ok ? 0 : 1;
    }
    case "killswitch": {
      const f = flags([sub ?? "", ...rest].filter(Boolean));
      const scope = KillSwitchScope.safeParse(f.scope);
      if (!scope.success) throw new UsageError("--scope GLOBAL|TENANT|ACTION_TYPE|CONNECTOR is required");
      if (f.enabled !== "true" && f.enabled !== "false") throw new UsageError("--enabled true|false is required");
      if (!f.reason || f.reason.length < 3) throw new UsageError("--reason <text> (3+ characters) is required");
      // GLOBAL is operator-only: it is set here, on the machine, never through a tenant's API.
      const tenant = scope.data === "GLOBAL" ? ((await listTenants(db))[0] ?? null) : await tenantOrFail(f.tenant);
      if (!tenant) throw new UsageError("no tenants yet");
      const operator = { tenantId: tenant.id, actor: { type: "SYSTEM" as const, id: "cli-operator" }, role: null, userId: null };
      const res = await putKillSwitch(
        db,
        operator,
        { scope: scope.data, key: f.key, enabled: f.enabled === "true", reason: f.reason },
        systemClock,
        {
          operator: true,
        },
      );
      console.log(
        `${res.scope}${res.key ? ` ${res.key}` : ""} kill switch ${res.enabled ? "ON" : "off"}${scope.data === "GLOBAL" ? " for every tenant" : ` for ${tenant.slug}`}: ${res.reason}`,
      );
      return 0;
    }
    case "webhook": {
      if (sub !== "set") throw new UsageError("webhook set --tenant <slug> --url <url> [--rotate true]");
      const f = flags(rest);
      const tenant = await tenantOrFail(f.tenant);
      if (!f.url) throw new UsageError("--url <url> is required");
      const operator = { tenantId: tenant.id, actor: { type: "SYSTEM" as const, id: "cli-operator" }, role: null, userId: null };
      const res = await setWebhook(db, operator, { url: f.url, enabled: true, rotateSecret: f.rotate === "true" }, systemClock);
      console.log(`Webhook connector for ${tenant.slug} → ${res.url}`);
      if (res.secret) {
        console.log("Signing secret (shown once; verify X-Autopilot-Signature with it):");
        console.log(res.secret);
      }
      return 0;
    }
    case "crm": {
      if (sub !== "sync") throw new UsageError("crm sync --tenant <slug>");
      const tenant = await tenantOrFail(flags(rest).tenant);
      const res = await syncCrm({ db, clock: systemClock, connectors: connectorDepsFromEnv() }, tenant.id);
      const c = res.counts;
      console.log(
        `CRM sync for ${tenant.slug}: ${res.status}${res.mode ? ` (${res.mode.toLowerCase()})` : ""} — companies ${c.companies}, contacts ${c.contacts}, deals ${c.deals}, created ${c.created}, updated ${c.updated}, signals ${c.signals}, requests ${c.requests}`,
      );
      if (res.error) console.error(res.error);
      return res.ok ? 0 : 1;
    }
    case "learning": {
      // The GLOBAL ranking is operator-only, like the GLOBAL kill switch: moved here, never through a tenant's API.
      const operatorActor = { type: "SYSTEM" as const, id: "cli-operator" };
      if (sub === "publish-global") {
        const f = flags(rest);
        const tenant = await tenantOrFail(f.tenant);
        if (!f.weights) throw new UsageError("--weights <id> is required (a version listed for that tenant)");
        if (!f.reason || f.reason.length < 3) throw new UsageError("--reason <text> (3+ characters) is required");
        const res = await publishGlobal(db, systemClock, operatorActor, tenant.id, f.weights, f.reason);
        const s = res.shadow;
        console.log(
          `GLOBAL version ${res.version} (${res.weights_id}) is ACTIVE: ${tenant.slug} version ${res.published_from.version}, ${s.metric} ${s.value} vs ${s.baseline_value} on ${s.sample} proposals; ledgered for ${res.tenants} tenants`,
        );
        return 0;
      }
      if (sub === "rollback-global") {
        const f = flags(rest);
        if (!f.reason || f.reason.length < 3) throw new UsageError("--reason <text> (3+ characters) is required");
        const res = await rollbackGlobal(db, systemClock, operatorActor, f.reason);
        console.log(
          `GLOBAL version ${res.version} (${res.weights_id}) rolled back; ${res.restored_id ? `GLOBAL version ${res.restored_version} (${res.restored_id}) is ACTIVE` : "no GLOBAL version is ACTIVE (tenants without their own rank by the rules)"}; ledgered for ${res.tenants} tenants`,
        );
        return 0;
      }
      if (sub !== "calibrate")
        throw new UsageError(
          "learning calibrate --tenant <slug> [--seed <n>] | publish-global --tenant <slug> --weights <id> --reason <r> | rollback-global --reason <r>",
        );
      const f = flags(rest);
      const tenant = await tenantOrFail(f.tenant);
      const seed = f.seed === undefined ? undefined : Number(f.seed);
      if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed <= 2_147_483_647))
        throw new UsageError("--seed must be an integer from 0 to 2147483647");
      const operator = { tenantId: tenant.id, actor: { type: "SYSTEM" as const, id: "cli-operator" }, role: null, userId: null };
      const { jobId } = await requestCalibration(db, systemClock, operator, { seed });
      console.log(`Calibration ${jobId} for ${tenant.slug}`);
      // Run through the queue (its lease keeps any other worker off this run), printing progress.
      const onProgress = (p: CalibrationProgress) =>
        console.log(`  ${p.phase.padEnd(11)} ${(p.progress * 100).toFixed(1).padStart(5)}%  rows ${p.rowsDone}/${p.rowsTotal}`);
      let run = await calibrationStatus(db, operator, jobId);
      for (let tick = 0; tick < 10 && (run.status === "QUEUED" || run.status === "RUNNING"); tick++) {
        await runWorkerTick(
          db,
          { [CALIBRATE]: (payload, ctx) => handleCalibrationJob(payload, ctx, { onProgress }) },
          { owner: `cli:${process.pid}`, leaseSeconds: 600, maxJobs: 1, clock: systemClock },
        );
        run = await calibrationStatus(db, operator, jobId);
      }
      if (run.status === "COMPLETED") console.log(`COMPLETED: candidate ${run.weightsId} (${run.rowsDone} intents read)`);
      else console.error(`${run.status}: ${run.error ?? "not finished; a worker will pick it up"}`);
      return run.status === "COMPLETED" ? 0 : 1;
    }
    default:
      throw new UsageError(
        "commands: seed | apikey create|list | ledger verify | fixtures | tick <job> | killswitch | webhook set | crm sync | learning calibrate|publish-global|rollback-global",
      );
  }
}

main(process.argv.slice(2))
  .then(async (code) => {
    // `cli tick` and `crm sync` call connectors: their slot releases and buffered call samples go out first.
    await settleSlotReleases();
    await flushAllCallSamples();
    await getDb().$disconnect();
    process.exit(code);
  })
  .catch(async (err) => {
    // Our own errors (usage, AppError) carry messages written for people; anything else may carry
    // a query or a connection string, so only its class is printed.
    const message =
      err instanceof UsageError
        ? `usage: ${err.message}`
        : err instanceof AppError
          ? `error: ${err.message}${err.field ? ` (${err.field})` : ""}`
          : `error: unexpected ${err instanceof Error ? err.name : "failure"}`;
    console.error(message);
    await settleSlotReleases();
    await flushAllCallSamples();
    await getDb().$disconnect();
    process.exit(2);
  });
