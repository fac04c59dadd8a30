"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { CircleCheck, Lock, OctagonPause, Play, Terminal } from "lucide-react";
import { useState } from "react";
import { useTRPC } from "../trpc";
import { ReasonDialog } from "../ui/dialog";
import { Badge, Button, Card, cx, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import { useToast } from "../ui/toast";
import { useRegistry } from "../work/labels";
import { AlertHookCard } from "./alert-hook-card";

type Switch = { scope: string; key: string | null; enabled: boolean; reason: string; updatedAt: Date; updatedBy?: string | null };
type Target = { scope: "TENANT" | "ACTION_TYPE" | "CONNECTOR"; key?: string; label: string; enabled: boolean };

const CONNECTORS = [
  { key: "internal", label: "Internal connector", hint: "Notes, tasks, flags, meeting briefs and email drafts inside the app" },
  { key: "webhook", label: "Webhook connector", hint: "Signed POSTs to your CRM middleware, Slack or Zapier" },
  { key: "email", label: "Email connector", hint: "Emails sent over SMTP" },
  { key: "crm", label: "CRM connector", hint: "CRM writes and pulls (HubSpot): account fields, deals, scheduled reads" },
  { key: "demo", label: "Demo source", hint: "The built-in demo activity pulls (demo tenant only)" },
];

function State({ on }: { on: boolean }) {
  return on ? (
    <Badge tone="red">
      <OctagonPause className="size-3.5" aria-hidden /> On — paused
    </Badge>
  ) : (
    <Badge tone="green">
      <CircleCheck className="size-3.5" aria-hidden /> Off — running
    </Badge>
  );
}

function LastChange({ sw }: { sw: Switch | undefined }) {
  if (!sw) return null;
  return (
    <span className="block text-xs text-slate-500">
      {sw.enabled ? "Turned on" : "Turned off"} <RelativeTime value={sw.updatedAt} /> — “{sw.reason}”
    </span>
  );
}

/**
 * Kill switches (SPEC §4.6): effective at once — no autonomous execution starts while one is on.
 * Every toggle needs a reason and is ledgered; GLOBAL belongs to the operator's CLI.
 */
export function KillSwitches() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const reg = useRegistry();
  const list = useQuery(trpc.autonomy.killSwitches.queryOptions());
  const [target, setTarget] = useState<Target | null>(null);
  const toast = useToast();
  const toggle = useMutation(
    trpc.autonomy.setKillSwitch.mutationOptions({
      onSuccess: (res) => {
        toast({ title: `${target?.label ?? res.scope} kill switch turned ${res.enabled ? "on" : "off"}.` });
        setTarget(null);
      },
      onSettled: () =>
        Promise.all([
          qc.invalidateQueries({ queryKey: trpc.autonomy.killSwitches.queryKey() }),
          qc.invalidateQueries({ queryKey: trpc.work.activeKillSwitches.queryKey() }),
        ]),
    }),
  );

  if (list.isPending || reg.query.isPending) return <LoadingState label="Loading kill switches…" />;
  if (list.isError) return <ErrorState message={list.error.message} onRetry={() => list.refetch()} />;
  const rows = list.data as Switch[];
  const find = (scope: string, key: string | null) => rows.find((r) => r.scope === scope && (r.key ?? null) === key);
  const global = find("GLOBAL", null);
  const tenant = find("TENANT", null);

  function row(t: Omit<Target, "enabled">, hint: string | null, sw: Switch | undefined) {
    const on = !!sw?.enabled;
    return (
      <li
        key={`${t.scope}:${t.key ?? ""}`}
        className={cx("flex flex-wrap items-center gap-x-4 gap-y-1 px-4 py-2.5", on && "bg-red-50/60")}
        data-testid={`switch-${t.scope}-${t.key ?? ""}`}
      >
        <div className="min-w-0 flex-1">
          <div className="font-medium text-slate-900">{t.label}</div>
          {hint && <div className="text-xs text-slate-500">{hint}</div>}
          <LastChange sw={sw} />
        </div>
        <State on={on} />
        <Button
          className={cx("w-32 justify-center whitespace-nowrap", !on && "border-red-200! text-red-700! hover:bg-red-50!")}
          onClick={() => {
            toggle.reset();
            setTarget({ ...t, enabled: on });
          }}
          aria-label={`${on ? "Turn off" : "Turn on"} kill switch: ${t.label}`}
        >
          {on ? <Play className="size-4" aria-hidden /> : <OctagonPause className="size-4" aria-hidden />}
          {on ? "Turn off…" : "Turn on…"}
        </Button>
      </li>
    );
  }

  return (
    <div className="space-y-4">
      <div className="grid items-start gap-4 xl:grid-cols-2">
        <div className="space-y-4">
          <Card title="Whole workspace">
            <ul>
              {row(
                { scope: "TENANT", label: "All autopilot actions" },
                "Stops every autonomous action in this workspace. Proposals still reach the inbox.",
                tenant,
              )}
            </ul>
          </Card>
          <AlertHookCard connectors={CONNECTORS} types={reg.types} />
          <Card title="Connectors">
            <ul className="divide-y divide-slate-100">
              {CONNECTORS.map((c) => row({ scope: "CONNECTOR", key: c.key, label: c.label }, c.hint, find("CONNECTOR", c.key)))}
            </ul>
          </Card>
          <Card title="Global">
            <div className="flex flex-wrap items-center gap-x-4 gap-y-1 px-4 py-2.5" data-testid="switch-GLOBAL-">
              <div className="min-w-0 flex-1">
                <div className="flex items-center gap-1.5 font-medium text-slate-900">
                  <Lock className="size-3.5 text-slate-500" aria-hidden /> Every workspace on this installation
                </div>
                <p className="text-xs text-slate-500">
                  <Terminal className="mr-1 inline size-3 align-[-2px]" aria-hidden />
                  Operator-only, from the server:{" "}
                  <code className="rounded bg-slate-100 px-1 font-mono text-slate-700 whitespace-nowrap">npm run cli -- killswitch</code>.
                  Read-only here.
                </p>
                {global && <LastChange sw={global} />}
              </div>
              <State on={!!global?.enabled} />
            </div>
          </Card>
        </div>
        <Card title="Action types">
          <ul className="divide-y divide-slate-100">
            {reg.types.map((t) => row({ scope: "ACTION_TYPE", key: t.name, label: t.label }, t.name, find("ACTION_TYPE", t.name)))}
          </ul>
        </Card>
      </div>

      <ReasonDialog
        open={!!target}
        onClose={() => setTarget(null)}
        title={target?.enabled ? `Resume autopilot: ${target.label}?` : `Pause autopilot: ${target?.label ?? ""}?`}
        description={
          target?.enabled
            ? "Autonomous actions covered by this switch can start again as soon as you confirm."
            : "Takes effect at once: no autonomous action covered by this switch starts while it is on. A banner shows on every page."
        }
        confirmLabel={target?.enabled ? "Turn off kill switch" : "Turn on kill switch"}
        tone={target?.enabled ? "primary" : "danger"}
        minLength={3}
        pending={toggle.isPending}
        error={toggle.error?.message}
        placeholder={target?.enabled ? "e.g. incident resolved" : "e.g. investigating duplicate emails"}
        onConfirm={(reason) =>
          target && toggle.mutate({ scope: target.scope, ...(target.key ? { key: target.key } : {}), enabled: !target.enabled, reason })
        }
      />
    </div>
  );
}
