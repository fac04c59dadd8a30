"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { CircleCheck, CircleDashed, CircleSlash, Gauge, KeyRound, RefreshCw, Save, TriangleAlert } from "lucide-react";
import dynamic from "next/dynamic";
import { useId, useState } from "react";
import { useForm } from "react-hook-form";
import { z } from "zod";
import { DEFAULT_BREAKER } from "@/server/engine/breaker";
import { DEFAULT_SLO } from "@/server/engine/slo";
import { ConnectorPutInput, ConnectorToken } from "@/server/schemas/connectors";
import { inputClass, type Notice, SaveNotice } from "../decisions/fields";
import { useTRPC } from "../trpc";
import { ReasonDialog } from "../ui/dialog";
import { Badge, Button, Card, cx, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import type { RouterOutputs } from "../work/types";

// Recharts is ~115 KB gzip: it loads after the page, only where a chart is drawn.
const PullUnitsChart = dynamic(() => import("../perception/PullUnitsChart").then((m) => m.PullUnitsChart), {
  ssr: false,
  loading: () => <LoadingState label="Loading chart…" />,
});

/** A connector as the settings service returns it (one definition: server/services/connectors.ts). */
type Connector = RouterOutputs["connectors"]["list"][number];

const LABEL: Record<Connector["name"], string> = {
  internal: "Internal",
  webhook: "Webhook",
  email: "Email (SMTP)",
  crm: "CRM (HubSpot)",
};

function Status({ c }: { c: Connector }) {
  if (c.enabled)
    return (
      <Badge tone="green">
        <CircleCheck className="size-3.5" aria-hidden /> Enabled
      </Badge>
    );
  return c.configured ? (
    <Badge tone="amber">
      <CircleSlash className="size-3.5" aria-hidden /> Disabled
    </Badge>
  ) : (
    <Badge tone="slate">
      <CircleDashed className="size-3.5" aria-hidden /> Not configured
    </Badge>
  );
}

function Row({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div className="flex justify-between gap-3 py-1">
      <dt className="text-slate-600">{label}</dt>
      <dd className="text-right text-slate-900">{children}</dd>
    </div>
  );
}

const pct = (rate: number) => `${Math.round(rate * 1000) / 10} %`;
const minutes = (seconds: number) => (seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`);

function Settings({ c }: { c: Connector }) {
  return (
    <dl className="divide-y divide-slate-100 px-4 py-2 text-sm">
      {(c.name === "crm" || c.name === "webhook") && (
        <>
          <Row label={c.name === "crm" ? "Base URL" : "URL"}>{c.baseUrl ?? <span className="text-slate-500">—</span>}</Row>
          <Row label={c.name === "crm" ? "Token" : "Signing secret"}>
            {c.tokenSet ? (
              <span className="inline-flex items-center gap-1">
                <KeyRound className="size-3.5" aria-hidden /> Set (write-only)
              </span>
            ) : (
              <span className="text-slate-500">Not set</span>
            )}
          </Row>
        </>
      )}
      <Row label="Rate limit">
        {c.rateLimitPerMinute ? `${c.rateLimitPerMinute} / min` : <span className="text-slate-500">Default</span>}
      </Row>
      <Row label="Max concurrency">{c.maxConcurrency ?? <span className="text-slate-500">Default</span>}</Row>
      <Row label="Circuit breaker">
        {c.breaker ? (
          <span>
            {c.breaker.failure_threshold} failures / {c.breaker.window_seconds}s, cool down {c.breaker.cooldown_seconds}s
          </span>
        ) : (
          // Unset is not "off": the wrapper then enforces the default breaker.
          <span className="text-slate-500">
            Default: {DEFAULT_BREAKER.failureThreshold} failures / {DEFAULT_BREAKER.windowSeconds}s, cool down{" "}
            {DEFAULT_BREAKER.cooldownSeconds}s
          </span>
        )}
      </Row>
      <Row label="SLO target">
        {c.slo ? (
          <span>
            p99 ≤ {c.slo.p99_ms} ms, errors ≤ {pct(c.slo.error_rate)} over {minutes(c.slo.window_seconds)}
          </span>
        ) : (
          // Unset is the default target the reliability page alerts against.
          <span className="text-slate-600">
            Default: p99 ≤ {DEFAULT_SLO.p99Ms} ms, errors ≤ {pct(DEFAULT_SLO.errorRate)} over {minutes(DEFAULT_SLO.windowSeconds)}
          </span>
        )}
      </Row>
      <Row label="Last changed">{c.updatedAt ? <RelativeTime value={c.updatedAt} /> : <span className="text-slate-500">Never</span>}</Row>
    </dl>
  );
}

const COUNT_KEYS = ["companies", "contacts", "deals", "created", "updated", "signals", "requests"] as const;

function SyncState({ c }: { c: Connector }) {
  const s = c.sync;
  if (!s?.lastSyncAt)
    return (
      <p className="px-4 py-3 text-sm text-slate-600">
        No sync yet. Enable the connector and press “Sync now”, or wait for the crm-sync job.
      </p>
    );
  const ok = s.lastStatus === "OK";
  const blocked = s.blockedUntil && new Date(s.blockedUntil).getTime() > Date.now();
  return (
    <div className="space-y-2 px-4 py-3 text-sm">
      <div className="flex flex-wrap items-center gap-2">
        <span className="text-slate-600">Last sync</span>
        <RelativeTime value={s.lastSyncAt} />
        <Badge tone={ok ? "green" : s.lastStatus === "THROTTLED" ? "amber" : "red"}>
          {ok ? <CircleCheck className="size-3.5" aria-hidden /> : <TriangleAlert className="size-3.5" aria-hidden />}
          {s.lastStatus ?? "—"}
        </Badge>
        {typeof s.counts.mode === "string" && <span className="text-slate-600">{s.counts.mode.toLowerCase()}</span>}
      </div>
      {s.lastError && (
        <p role="note" className="rounded bg-red-50 px-2 py-1 text-red-800 ring-1 ring-red-200">
          {s.lastError}
        </p>
      )}
      <table className="w-full text-left text-sm">
        <caption className="sr-only">Counts of the last CRM sync</caption>
        <thead className="text-xs uppercase tracking-wide text-slate-600">
          <tr>
            {COUNT_KEYS.map((k) => (
              <th key={k} scope="col" className="py-1 pr-2 font-medium">
                {k}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          <tr className="tabular-nums text-slate-900">
            {COUNT_KEYS.map((k) => (
              <td key={k} className="py-1 pr-2">
                {typeof s.counts[k] === "number" ? String(s.counts[k]) : "—"}
              </td>
            ))}
          </tr>
        </tbody>
      </table>
      <p className="flex flex-wrap items-center gap-2 text-slate-700">
        <Gauge className="size-4" aria-hidden /> Throttles hit: <span className="tabular-nums font-medium">{s.throttles}</span>
        {s.lastThrottleAt && (
          <span className="text-slate-600">
            (last <RelativeTime value={s.lastThrottleAt} />)
          </span>
        )}
        {blocked && s.blockedUntil && (
          <Badge tone="amber">
            Waiting for the CRM until <RelativeTime value={s.blockedUntil} />
          </Badge>
        )}
      </p>
    </div>
  );
}

/**
 * The CRM form validates with the server's own rules (token shape, limits). The token is
 * write-only: blank keeps the stored one. A blank base URL keeps the stored URL; a blank limit
 * means the default.
 */
const CrmFormSchema = z.object({
  enabled: z.boolean(),
  baseUrl: z.union([z.literal(""), z.url({ protocol: /^https?$/, error: "Enter an http(s) URL, e.g. https://api.hubapi.com" }).max(2000)]),
  token: z.union([z.literal(""), ConnectorToken]),
  rateLimitPerMinute: ConnectorPutInput.shape.rateLimitPerMinute.unwrap(),
  maxConcurrency: ConnectorPutInput.shape.maxConcurrency.unwrap(),
});
type CrmFormIn = z.input<typeof CrmFormSchema>;
type CrmFormOut = z.output<typeof CrmFormSchema>;

const toCrmForm = (c: Connector): CrmFormIn => ({
  enabled: c.enabled,
  baseUrl: "",
  token: "",
  rateLimitPerMinute: c.rateLimitPerMinute ?? null,
  maxConcurrency: c.maxConcurrency ?? null,
});
const nullableWhole = { setValueAs: (v: unknown) => (v === "" || v === null ? null : Number(v)) } as const;
const unlimited = (n: number | null | undefined) => n ?? Number.POSITIVE_INFINITY;

/** The CRM connector's form. Enabling it or raising its limits widens what autopilot does: confirmed with a reason. */
function CrmForm({ c }: { c: Connector }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const id = useId();
  const [confirming, setConfirming] = useState<CrmFormOut | null>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const form = useForm<CrmFormIn, unknown, CrmFormOut>({
    resolver: zodResolver(CrmFormSchema),
    mode: "onChange",
    values: toCrmForm(c),
    resetOptions: { keepDirtyValues: true },
  });
  const { errors, isValid } = form.formState;
  const put = useMutation(
    trpc.connectors.put.mutationOptions({
      onSettled: () => qc.invalidateQueries({ queryKey: trpc.connectors.list.queryKey() }),
    }),
  );
  const widens = (v: CrmFormOut) =>
    (v.enabled && !c.enabled) ||
    unlimited(v.rateLimitPerMinute) > unlimited(c.rateLimitPerMinute) ||
    unlimited(v.maxConcurrency) > unlimited(c.maxConcurrency);
  const send = (v: CrmFormOut, reason?: string) =>
    put.mutate(
      {
        name: "crm",
        enabled: v.enabled,
        ...(v.baseUrl ? { baseUrl: v.baseUrl } : {}),
        ...(v.token ? { token: v.token } : {}),
        rateLimitPerMinute: v.rateLimitPerMinute,
        maxConcurrency: v.maxConcurrency,
        ...(reason ? { reason } : {}),
      },
      {
        onSuccess: (next) => {
          setConfirming(null);
          setNotice({ ok: true, text: "CRM connector settings saved." });
          // The token and URL fields go back to blank ("keep"); nothing typed is ever shown again.
          form.reset(toCrmForm({ ...c, ...next }));
        },
        onError: (e) => {
          if (!confirming) setNotice({ ok: false, text: `Not saved: ${e.message}` });
        },
      },
    );
  const onSubmit = form.handleSubmit((v) => {
    setNotice(null);
    put.reset();
    if (widens(v)) setConfirming(v);
    else send(v);
  });
  const enabling = form.watch("enabled") && !c.enabled;
  const field = cx(inputClass, "w-full py-1.5");
  const described = (key: keyof CrmFormIn, hint: string) => (errors[key] ? `${id}-${key}-err` : hint);
  const fieldError = (name: keyof CrmFormIn) =>
    errors[name]?.message ? (
      <span id={`${id}-${name}-err`} className="mt-0.5 block text-xs text-red-700">
        {errors[name]?.message}
      </span>
    ) : null;
  // A blank limit is the connector's default; anything else must be a whole number the schema accepts.
  const limitField = (name: "rateLimitPerMinute" | "maxConcurrency", label: string) => (
    <label className="block">
      <span className="mb-1 block font-medium text-slate-700">{label}</span>
      <input
        className={field}
        type="number"
        min={1}
        {...form.register(name, nullableWhole)}
        placeholder="Default"
        aria-invalid={errors[name] ? true : undefined}
        aria-describedby={errors[name] ? `${id}-${name}-err` : undefined}
      />
      {fieldError(name)}
    </label>
  );
  return (
    <>
      <form
        onSubmit={onSubmit}
        noValidate
        className="space-y-3 border-t border-slate-200 px-4 py-3 text-sm"
        aria-label="CRM connector settings"
      >
        <label className="flex items-center gap-2">
          <input type="checkbox" {...form.register("enabled")} />
          <span className="font-medium text-slate-800">
            Enabled — approved CRM writes go to HubSpot, and the crm-sync job pulls changes
          </span>
        </label>
        <div className="grid gap-3 sm:grid-cols-2">
          <label className="block">
            <span className="mb-1 block font-medium text-slate-700">Base URL</span>
            <input
              className={field}
              {...form.register("baseUrl")}
              placeholder={c.baseUrl ?? "https://api.hubapi.com"}
              inputMode="url"
              aria-invalid={errors.baseUrl ? true : undefined}
              aria-describedby={described("baseUrl", `${id}-url`)}
            />
            {!errors.baseUrl && (
              <span id={`${id}-url`} className="mt-0.5 block text-xs text-slate-600">
                Leave empty to keep {c.baseUrl ?? "it unset"}.
              </span>
            )}
            {fieldError("baseUrl")}
          </label>
          <label className="block">
            <span className="mb-1 block font-medium text-slate-700">Private-app token</span>
            <input
              className={field}
              type="password"
              autoComplete="off"
              {...form.register("token")}
              placeholder={c.tokenSet ? "•••••• set — type to replace" : "pat-…"}
              aria-invalid={errors.token ? true : undefined}
              aria-describedby={described("token", `${id}-tok`)}
            />
            {!errors.token && (
              <span id={`${id}-tok`} className="mt-0.5 block text-xs text-slate-600">
                Write-only: stored encrypted, never shown again.
              </span>
            )}
            {fieldError("token")}
          </label>
          {limitField("rateLimitPerMinute", "Rate limit (requests / minute)")}
          {limitField("maxConcurrency", "Max concurrency")}
        </div>
        <div className="flex flex-wrap items-center gap-3">
          <Button type="submit" variant="primary" disabled={put.isPending || !isValid}>
            <Save className="size-4" aria-hidden /> Save CRM settings
          </Button>
          <SaveNotice notice={notice} testId="crm-notice" />
        </div>
      </form>
      {/* Outside the form: the dialog has its own form, and forms must not nest. */}
      <ReasonDialog
        open={confirming !== null}
        onClose={() => setConfirming(null)}
        title="Widen the CRM connector?"
        description={
          enabling
            ? "Once enabled, approved account and opportunity changes are written to HubSpot, and the crm-sync job imports and updates accounts."
            : "Raising the limits lets autopilot send more requests to the CRM."
        }
        confirmLabel="Save and widen"
        pending={put.isPending}
        error={put.error?.message}
        placeholder="e.g. pilot with the EMEA team"
        onConfirm={(reason) => confirming && send(confirming, reason)}
      />
    </>
  );
}

function SyncNow() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const sync = useMutation(
    trpc.connectors.syncNow.mutationOptions({ onSettled: () => qc.invalidateQueries({ queryKey: trpc.connectors.list.queryKey() }) }),
  );
  return (
    <div className="flex items-center gap-2">
      <span aria-live="polite" className="text-xs text-slate-600">
        {sync.isSuccess && (sync.data.ok ? "Synced." : `Sync ended: ${sync.data.status}`)}
        {sync.isError && <span className="text-red-700">{sync.error.message}</span>}
      </span>
      <Button onClick={() => sync.mutate()} disabled={sync.isPending}>
        <RefreshCw className={sync.isPending ? "size-4 animate-spin" : "size-4"} aria-hidden /> {sync.isPending ? "Syncing…" : "Sync now"}
      </Button>
    </div>
  );
}

/** Connectors admin (SPEC §4.2, §4.4, §5.1 connectors): settings, the CRM's last sync and throttles. */
/** Today's pull units by connector (the perception scheduler's budget use) and the throttles hit. */
function PullUnitsToday() {
  const trpc = useTRPC();
  const q = useQuery(trpc.perception.today.queryOptions());
  const d = q.data;
  return (
    <Card title="Today's pull units by connector">
      {q.isPending ? (
        <LoadingState label="Loading today's pulls…" />
      ) : q.isError || !d ? (
        <ErrorState message={q.error?.message ?? "Could not load today's pulls"} onRetry={() => q.refetch()} />
      ) : (
        <div className="space-y-2 px-4 py-3 text-sm">
          <p className="text-slate-700">
            <span className="tabular-nums">{d.usedToday}</span> of <span className="tabular-nums">{d.unitsPerDay}</span> units used (UTC day{" "}
            {d.dateKey}) · <span className="tabular-nums">{d.throttles.total}</span> pull throttle
            {d.throttles.total === 1 ? "" : "s"} hit today ({d.throttles.rateLimited} rate limited, {d.throttles.budgetExhausted} over
            budget)
          </p>
          <PullUnitsChart data={d.byConnector} unitsPerDay={d.unitsPerDay} height={40 + 34 * Math.max(1, d.byConnector.length)} />
        </div>
      )}
    </Card>
  );
}

export function ConnectorsAdmin({ canEdit }: { canEdit: boolean }) {
  const trpc = useTRPC();
  const list = useQuery(trpc.connectors.list.queryOptions());
  if (list.isPending) return <LoadingState label="Loading connectors…" />;
  if (list.isError) return <ErrorState message={list.error.message} onRetry={() => list.refetch()} />;
  const rows = list.data;
  if (rows.length === 0) return <ErrorState message="No connectors are known to this server." />;
  const crm = rows.find((c) => c.name === "crm");
  return (
    <div className="space-y-4">
      {crm && (
        <Card
          title={
            <span className="flex items-center gap-2">
              {LABEL.crm} <Status c={crm} />
            </span>
          }
          actions={canEdit && crm.enabled ? <SyncNow /> : null}
        >
          <p className="px-4 pt-2 text-sm text-slate-600">{crm.detail}</p>
          <div className="grid gap-0 lg:grid-cols-2">
            <Settings c={crm} />
            <div className="border-slate-100 lg:border-l">
              <h3 className="px-4 pt-3 text-sm font-semibold text-slate-800">Sync</h3>
              <SyncState c={crm} />
            </div>
          </div>
          {canEdit && <CrmForm c={crm} />}
        </Card>
      )}
      <PullUnitsToday />
      <div className="grid items-start gap-4 lg:grid-cols-3">
        {rows
          .filter((c) => c.name !== "crm")
          .map((c) => (
            <Card
              key={c.name}
              title={
                <span className="flex items-center gap-2">
                  {LABEL[c.name]} <Status c={c} />
                </span>
              }
            >
              <p className="px-4 pt-2 text-sm text-slate-600">{c.detail}</p>
              <Settings c={c} />
            </Card>
          ))}
      </div>
    </div>
  );
}
