"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { ShieldAlert, ShieldCheck, ShieldOff, ShieldQuestion } from "lucide-react";
import { type ReactNode, useState } from "react";
import type { AppRouter } from "@/server/api/root";
import type { Notice } from "../decisions/fields";
import { SaveNotice } from "../decisions/fields";
import { useTRPC } from "../trpc";
import { ReasonDialog } from "../ui/dialog";
import { Badge, Button, Card, cx, ErrorState, LoadingState, type Tone } from "../ui/primitives";
import { RelativeTime } from "../ui/time";

type Out = inferRouterOutputs<AppRouter>;
export type ConnectorHealth = Out["reliability"]["connectors"][number];

const STATE: Record<ConnectorHealth["state"], { label: string; tone: Tone; icon: ReactNode; says: string }> = {
  CLOSED: { label: "Closed", tone: "green", icon: <ShieldCheck className="size-4" aria-hidden />, says: "Calls go through." },
  OPEN: {
    label: "Open",
    tone: "red",
    icon: <ShieldAlert className="size-4" aria-hidden />,
    says: "Too many failures: calls fail fast until the cooldown ends.",
  },
  HALF_OPEN: {
    label: "Half-open",
    tone: "amber",
    icon: <ShieldQuestion className="size-4" aria-hidden />,
    says: "Cooldown over: one probe call decides whether it closes.",
  },
  FORCED_OPEN: {
    label: "Forced open",
    tone: "red",
    icon: <ShieldOff className="size-4" aria-hidden />,
    says: "Isolated by an admin: no call is made until someone closes it.",
  },
};

const NAMES: Record<string, string> = { internal: "Internal", webhook: "Webhook", email: "Email (SMTP)", crm: "CRM (HubSpot)" };
export const connectorLabel = (name: string) => NAMES[name] ?? name;

const ms = (v: number | null) => (v === null ? "—" : v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
const pct = (v: number | null) => (v === null ? "—" : `${(v * 100).toFixed(v < 0.1 ? 1 : 0)} %`);

/** In flight against the cap, as a meter: a full bar is backpressure (new calls wait in the queue). */
function InFlight({ c }: { c: ConnectorHealth }) {
  const cap = c.maxConcurrency;
  return (
    <div>
      <div className="flex justify-between text-xs text-slate-600">
        <span>In flight</span>
        <span className="tabular-nums text-slate-800" data-testid={`in-flight-${c.connector}`}>
          {c.inFlight} / {cap ?? "no cap"}
        </span>
      </div>
      {cap !== null && (
        <meter
          aria-label={`${connectorLabel(c.connector)} calls in flight`}
          min={0}
          max={cap}
          high={Math.max(0, cap - 0.5)}
          optimum={0}
          value={c.inFlight}
          className="mt-1 h-2 w-full"
        />
      )}
    </div>
  );
}

/** A figure against its target: red when the SLO says it is breached. */
function Figure({ label, value, target, breached }: { label: string; value: string; target: string | null; breached: boolean }) {
  return (
    <div className={cx("rounded-md border px-2 py-1.5", breached ? "border-red-300 bg-red-50" : "border-slate-200")}>
      <div className="text-xs text-slate-600">{label}</div>
      <div className={cx("text-base font-semibold tabular-nums", breached ? "text-red-800" : "text-slate-900")}>{value}</div>
      <div className="text-xs text-slate-600">{target === null ? "median" : `target ${target}`}</div>
    </div>
  );
}

function ConnectorCard({ c, canWrite, onForce }: { c: ConnectorHealth; canWrite: boolean; onForce: (open: boolean) => void }) {
  const look = STATE[c.state];
  const forced = c.state === "FORCED_OPEN";
  const closing = c.state !== "CLOSED";
  return (
    <li className="rounded-lg border border-slate-200 bg-white p-3" data-testid={`connector-health-${c.connector}`}>
      <div className="flex items-start justify-between gap-2">
        <div>
          <h3 className="font-semibold text-slate-900">{connectorLabel(c.connector)}</h3>
          <p className="text-xs text-slate-600">{look.says}</p>
        </div>
        <Badge tone={look.tone}>
          <span className="inline-flex items-center gap-1" data-testid={`breaker-state-${c.connector}`}>
            {look.icon}
            {look.label}
          </span>
        </Badge>
      </div>
      {c.alert && (
        <p className="mt-2 rounded bg-red-50 px-2 py-1 text-xs font-medium text-red-800" role="status">
          SLO alert: {c.breached.map((b) => (b === "P99" ? "p99 latency" : "error rate")).join(" and ")} over target for the last{" "}
          {Math.round(c.slo.windowSeconds / 60)} minutes.
        </p>
      )}
      <div className="mt-3 grid grid-cols-3 gap-2">
        <Figure label="p50" value={ms(c.p50Ms)} target={null} breached={false} />
        <Figure label="p99" value={ms(c.p99Ms)} target={ms(c.slo.p99Ms)} breached={c.breached.includes("P99")} />
        <Figure label="Error rate" value={pct(c.errorRate)} target={pct(c.slo.errorRate)} breached={c.breached.includes("ERROR_RATE")} />
      </div>
      <p className="mt-1 text-xs text-slate-600">
        {c.calls} {c.calls === 1 ? "call" : "calls"} in the last {Math.round(c.slo.windowSeconds / 60)} minutes
        {c.calls < c.slo.minSamples ? ` (alerts need ${c.slo.minSamples})` : ""}.
      </p>
      <div className="mt-3">
        <InFlight c={c} />
      </div>
      <dl className="mt-3 space-y-0.5 text-xs text-slate-700">
        <div>
          <dt className="inline text-slate-600">Breaker: </dt>
          <dd className="inline">
            opens after {c.breaker.failureThreshold} failures in {c.breaker.windowSeconds} s, probes after {c.breaker.cooldownSeconds} s
          </dd>
        </div>
        {c.retryAt && (
          <div>
            <dt className="inline text-slate-600">Probe: </dt>
            <dd className="inline">
              <RelativeTime value={c.retryAt} />
            </dd>
          </div>
        )}
        {forced && c.forcedReason && (
          <div>
            <dt className="inline text-slate-600">Why isolated: </dt>
            <dd className="inline">{c.forcedReason}</dd>
          </div>
        )}
        {c.lastError && (
          <div>
            <dt className="inline text-slate-600">Last error: </dt>
            <dd className="inline break-words">{c.lastError}</dd>
          </div>
        )}
      </dl>
      {canWrite && (
        <div className="mt-3">
          {/* Open, half-open or forced: the admin's move is to close it; closed: to isolate it. */}
          <Button variant={closing ? "primary" : "secondary"} onClick={() => onForce(!closing)}>
            {closing ? `Close ${connectorLabel(c.connector)} breaker` : `Isolate ${connectorLabel(c.connector)}`}
          </Button>
        </div>
      )}
    </li>
  );
}

/**
 * Each connector's breaker, backpressure and SLO (SPEC §4.7). An admin isolates a connector
 * (FORCED_OPEN) or closes a breaker with a reason kept in the ledger; auditors only read.
 */
export function ConnectorHealthPanel({ canWrite }: { canWrite: boolean }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const q = useQuery({ ...trpc.reliability.connectors.queryOptions(), refetchInterval: 10_000 });
  const [target, setTarget] = useState<{ name: ConnectorHealth["connector"]; open: boolean } | null>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const force = useMutation(
    trpc.reliability.setForcedOpen.mutationOptions({
      onSuccess: (c) => {
        setTarget(null);
        setNotice({ ok: true, text: `${connectorLabel(c.connector)}: breaker is now ${STATE[c.state].label.toLowerCase()}.` });
      },
      onSettled: () => qc.invalidateQueries({ queryKey: trpc.reliability.connectors.queryKey() }),
    }),
  );

  if (q.isPending) return <LoadingState label="Loading connector health…" />;
  if (q.isError || !q.data)
    return <ErrorState message={q.error?.message ?? "Could not load connector health"} onRetry={() => q.refetch()} />;
  return (
    <Card title="Connectors">
      <div className="px-4 py-3">
        <p className="mb-3 text-sm text-slate-600">
          Breaker state, calls in flight against the cap, and latency and errors against each connector's SLO. Shared by every instance:
          what you see here is what every worker obeys.
        </p>
        <SaveNotice notice={notice} testId="reliability-notice" />
        <ul className="grid gap-3 md:grid-cols-2 xl:grid-cols-4">
          {q.data.map((c) => (
            <ConnectorCard key={c.connector} c={c} canWrite={canWrite} onForce={(open) => setTarget({ name: c.connector, open })} />
          ))}
        </ul>
      </div>
      <ReasonDialog
        open={target !== null}
        onClose={() => setTarget(null)}
        onConfirm={(reason) => target && force.mutate({ name: target.name, forcedOpen: target.open, reason })}
        title={target?.open ? `Isolate ${connectorLabel(target.name)}?` : `Close the ${connectorLabel(target?.name ?? "")} breaker?`}
        description={
          target?.open
            ? "Every call to it fails fast (executions) or waits (pulls) until an admin closes the breaker."
            : "Calls go through again at once, with the failure count reset."
        }
        confirmLabel={target?.open ? "Isolate" : "Close breaker"}
        tone={target?.open ? "danger" : "primary"}
        pending={force.isPending}
        error={force.error?.message ?? null}
      />
    </Card>
  );
}
