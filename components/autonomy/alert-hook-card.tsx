"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { CircleHelp, RotateCw } from "lucide-react";
import { useId, useState } from "react";
import { useTRPC } from "../trpc";
import { Dialog } from "../ui/dialog";
import { Popover } from "../ui/popover";
import { Button, Card, ErrorState, LoadingState } from "../ui/primitives";
import { SecretBox } from "../ui/secret-box";
import { RelativeTime } from "../ui/time";
import { useToast } from "../ui/toast";

type Scope = "TENANT" | "ACTION_TYPE" | "CONNECTOR";

/**
 * The alert hook (SPEC §4.6): a signed URL a monitoring tool (Alertmanager, Grafana, anything
 * that can POST to a Slack webhook) calls to turn one kill switch on, with the alert's text as the
 * reason. The URL is a credential: shown once, right after creating or rotating it.
 */
export function AlertHookCard({
  connectors,
  types,
}: {
  connectors: { key: string; label: string }[];
  types: { name: string; label: string }[];
}) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const toast = useToast();
  const status = useQuery(trpc.hooks.alertHook.queryOptions());
  // What the admin picked; until they pick, the picker shows the hook's current switch.
  const [picked, setPicked] = useState<{ scope: Scope; key: string } | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [shown, setShown] = useState<{ url: string } | null>(null);
  const ids = { scope: useId(), key: useId() };
  const rotate = useMutation(
    trpc.hooks.rotate.mutationOptions({
      onSuccess: (res) => {
        setShown({ url: res.url });
        setPicked(null);
        setConfirming(false);
        toast({ title: status.data?.exists ? "Alert hook rotated: the previous URL no longer works." : "Alert hook created." });
      },
      onSettled: () => qc.invalidateQueries({ queryKey: trpc.hooks.alertHook.queryKey() }),
    }),
  );

  if (status.isPending) return <LoadingState label="Loading the alert hook…" />;
  if (status.isError) return <ErrorState message={status.error.message} onRetry={() => status.refetch()} />;
  const hook = status.data;
  const { scope, key } = picked ?? (hook.exists ? { scope: hook.scope, key: hook.key ?? "" } : { scope: "TENANT" as Scope, key: "" });
  const keyOptions =
    scope === "CONNECTOR"
      ? connectors.map((c) => ({ value: c.key, label: c.label }))
      : types.map((t) => ({ value: t.name, label: t.label }));
  const ready = scope === "TENANT" || key !== "";
  const targetLabel = (s: string, k: string | null) =>
    s === "TENANT"
      ? "All autopilot actions"
      : s === "CONNECTOR"
        ? (connectors.find((c) => c.key === k)?.label ?? k ?? "")
        : (types.find((t) => t.name === k)?.label ?? k ?? "");

  return (
    <Card
      title="Alert hook"
      actions={
        <Popover
          title="What an alert may send"
          hint="Accepted alert formats"
          trigger={
            <Button variant="ghost" className="px-1.5! py-1!" aria-label="What an alert may send">
              <CircleHelp className="size-4" aria-hidden />
            </Button>
          }
        >
          <p className="mb-1 text-slate-700">POST to the URL with any of these bodies; the first text found is the reason:</p>
          <ul className="list-disc space-y-0.5 pl-5 text-slate-700">
            <li>plain text</li>
            <li>
              JSON with <code>text</code> (Slack-style)
            </li>
            <li>
              Alertmanager: <code>commonAnnotations.summary</code> or <code>alerts[0].annotations.summary</code>
            </li>
            <li>
              Grafana: <code>title</code> and <code>message</code>
            </li>
          </ul>
          <p className="mt-1 text-xs text-slate-600">
            One line, at most 500 characters, secrets redacted. No text: the switch still turns on.
          </p>
        </Popover>
      }
    >
      <div className="space-y-3 px-4 py-3" data-testid="alert-hook">
        <p className="text-slate-700">
          A monitoring tool POSTs an alert to this URL and the chosen kill switch turns on, with the alert's text as the reason. A switch
          that is already on stays as it is.
        </p>
        {hook.exists ? (
          <p className="text-slate-700" data-testid="alert-hook-status">
            Turns on: <span className="font-medium text-slate-900">{targetLabel(hook.scope, hook.key)}</span>. Created{" "}
            <RelativeTime value={hook.createdAt} />; last used {hook.lastUsedAt ? <RelativeTime value={hook.lastUsedAt} /> : "never"}.
          </p>
        ) : (
          <p className="text-slate-600" data-testid="alert-hook-status">
            No alert hook yet.
          </p>
        )}

        <div className="flex flex-wrap items-end gap-3">
          <div>
            <label htmlFor={ids.scope} className="mb-1 block font-medium text-slate-700">
              Switch to turn on
            </label>
            <select
              id={ids.scope}
              value={scope}
              onChange={(e) => setPicked({ scope: e.target.value as Scope, key: "" })}
              className="rounded-md border border-slate-300 bg-white px-2 py-1.5"
            >
              <option value="TENANT">All autopilot actions</option>
              <option value="CONNECTOR">One connector</option>
              <option value="ACTION_TYPE">One action type</option>
            </select>
          </div>
          {scope !== "TENANT" && (
            <div>
              <label htmlFor={ids.key} className="mb-1 block font-medium text-slate-700">
                {scope === "CONNECTOR" ? "Connector" : "Action type"}
              </label>
              <select
                id={ids.key}
                value={key}
                onChange={(e) => setPicked({ scope, key: e.target.value })}
                className="rounded-md border border-slate-300 bg-white px-2 py-1.5"
              >
                <option value="">Choose…</option>
                {keyOptions.map((o) => (
                  <option key={o.value} value={o.value}>
                    {o.label}
                  </option>
                ))}
              </select>
            </div>
          )}
          <Button
            disabled={!ready}
            onClick={() => {
              rotate.reset();
              setConfirming(true);
            }}
          >
            <RotateCw className="size-4" aria-hidden />
            {hook.exists ? "Rotate hook…" : "Create hook…"}
          </Button>
        </div>

        {shown && (
          // Keyed by the URL: a rotation shows a fresh box ("Copy", not "Copied").
          <SecretBox
            key={shown.url}
            label="The hook URL — shown once. Copy it into your monitoring tool now."
            what="hook URL"
            value={shown.url}
            testId="alert-hook-url"
          />
        )}
      </div>

      <Dialog
        open={confirming}
        onClose={() => setConfirming(false)}
        size="sm"
        title={hook.exists ? "Rotate the alert hook?" : "Create the alert hook?"}
        description={
          hook.exists
            ? "A new URL replaces the current one, which stops working at once: update every monitoring tool that calls it."
            : "The URL is shown once, right after you confirm."
        }
        footer={
          <>
            <Button variant="ghost" onClick={() => setConfirming(false)} disabled={rotate.isPending}>
              Cancel
            </Button>
            <Button
              variant="primary"
              disabled={rotate.isPending}
              onClick={() => rotate.mutate({ scope, ...(scope !== "TENANT" ? { key } : {}) })}
            >
              {rotate.isPending ? "Working…" : hook.exists ? "Rotate hook" : "Create hook"}
            </Button>
          </>
        }
      >
        <p className="text-slate-700">
          Alerts will turn on: <span className="font-medium text-slate-900">{targetLabel(scope, key || null)}</span>.
        </p>
        {rotate.error && (
          <p role="alert" className="mt-3 rounded-md bg-red-50 px-3 py-2 text-red-800 ring-1 ring-red-200">
            {rotate.error.message}
          </p>
        )}
      </Dialog>
    </Card>
  );
}
