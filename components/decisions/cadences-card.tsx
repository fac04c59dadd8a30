"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Cron } from "croner";
import { CalendarClock, CircleCheck, Pencil } from "lucide-react";
import Link from "next/link";
import { useId, useMemo, useState } from "react";
import type { Ritual } from "@/server/engine/triggers";
import { useTRPC } from "../trpc";
import { AccountSelect, type Picked } from "../ui/account-select";
import { Badge, Button, Card, cx, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import { inputClass } from "./fields";
import { errorInfo, shortId, TRIGGER_LABEL, triggerLabel } from "./labels";
import type { Cadences } from "./types";
import { useSyncedForm } from "./use-settings";

type Row = { ritual: string; cron: string; timezone: string; enabled: boolean; lastSlot: Date | null; configured: boolean };
type Form = { cron: string; timezone: string; enabled: boolean };

const RITUAL_HINT: Record<string, string> = {
  TIME_RITUAL_DAILY_BRIEF: "Every account",
  TIME_RITUAL_WEEKLY_REVIEW: "Every account",
  TIME_RITUAL_RENEWAL_RUNWAY: "Customers only",
};

const TIMEZONES = (() => {
  try {
    return ["UTC", ...Intl.supportedValuesOf("timeZone").filter((z) => z !== "UTC")];
  } catch {
    return ["UTC"];
  }
})();

/** The server reports a bad time zone as a cron error, so catch it here, next to the right field. */
function isTimeZone(tz: string) {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz.trim() });
    return tz.trim() !== "";
  } catch {
    return false;
  }
}

const toForm = (r: Row): Form => ({ cron: r.cron, timezone: r.timezone, enabled: r.enabled });

/** When the schedule next comes due from now, or null when the expression does not parse here. */
function nextSlot(cron: string, timezone: string): Date | null {
  try {
    return new Cron(cron, { timezone, paused: true }).nextRun() ?? null;
  } catch {
    return null;
  }
}

function CadenceRow({ row, account, listId }: { row: Row; account: Picked; listId: string }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const { form, setForm, dirty } = useSyncedForm(row, toForm);
  const [error, setError] = useState<{ field: string | null; message: string } | null>(null);
  const [saved, setSaved] = useState(false);
  const id = useId();
  const save = useMutation(trpc.decisions.setCadence.mutationOptions());
  const name = `${triggerLabel(row.ritual)}${account ? ` (${account.name})` : ""}`;
  const next = useMemo(() => (form?.enabled ? nextSlot(form.cron, form.timezone) : null), [form?.enabled, form?.cron, form?.timezone]);
  if (!form) return null;

  const tooShort = form.cron.trim().length < 9;
  const cronError = error?.field === "cron" ? error.message : null;
  const tzError = !isTimeZone(form.timezone)
    ? "Not a known time zone — use an IANA name such as Europe/Berlin"
    : error?.field === "timezone"
      ? error.message
      : null;
  const rowError = error && !cronError && !tzError ? error.message : null;

  function submit() {
    if (!form) return;
    setError(null);
    setSaved(false);
    save.mutate(
      {
        ...(account ? { accountId: account.id } : {}),
        ritual: row.ritual as Ritual,
        cron: form.cron.trim(),
        timezone: form.timezone.trim(),
        enabled: form.enabled,
      },
      {
        onSuccess: () => {
          setSaved(true);
          qc.invalidateQueries({ queryKey: trpc.decisions.cadences.queryKey() });
        },
        onError: (e) => setError(errorInfo(e)),
      },
    );
  }

  const edit = (patch: Partial<Form>) => {
    setSaved(false);
    setForm({ ...form, ...patch });
  };

  return (
    <tr className="align-top" data-testid={`cadence-${row.ritual}${account ? `-${account.id}` : ""}`}>
      <td className="py-2 pr-3 pl-4">
        <div className="font-medium text-slate-800">{triggerLabel(row.ritual)}</div>
        <div className="text-xs text-slate-500">
          {account ? "This account only" : (RITUAL_HINT[row.ritual] ?? TRIGGER_LABEL[row.ritual]?.hint)}
        </div>
      </td>
      <td className="py-2 pr-3">
        <input
          aria-label={`Schedule for ${name}`}
          value={form.cron}
          onChange={(e) => {
            edit({ cron: e.target.value });
            if (error?.field === "cron") setError(null);
          }}
          spellCheck={false}
          aria-invalid={cronError || (dirty && tooShort) ? true : undefined}
          aria-describedby={`${id}-cron`}
          className={cx(inputClass, "w-40 font-mono text-xs")}
        />
        <div id={`${id}-cron`} className="mt-0.5 max-w-64 text-xs">
          {cronError ? (
            <span className="text-red-700" role="alert">
              {cronError}
            </span>
          ) : dirty && tooShort ? (
            <span className="text-red-700">Five fields: minute hour day month weekday</span>
          ) : next ? (
            <span className="text-slate-500">
              Next <RelativeTime value={next} />
            </span>
          ) : (
            <span className="text-slate-500">{form.enabled ? "minute hour day month weekday" : "Off — never runs"}</span>
          )}
        </div>
      </td>
      <td className="py-2 pr-3">
        <input
          aria-label={`Time zone for ${name}`}
          list={listId}
          value={form.timezone}
          onChange={(e) => {
            edit({ timezone: e.target.value });
            if (error?.field === "timezone") setError(null);
          }}
          aria-invalid={tzError ? true : undefined}
          aria-describedby={tzError ? `${id}-tz` : undefined}
          className={cx(inputClass, "w-44")}
        />
        {tzError && (
          <div id={`${id}-tz`} role={error?.field === "timezone" ? "alert" : undefined} className="mt-0.5 text-xs text-red-700">
            {tzError}
          </div>
        )}
      </td>
      <td className="py-2 pr-3">
        <label className="inline-flex items-center gap-1.5 pt-1">
          <input
            type="checkbox"
            checked={form.enabled}
            onChange={(e) => edit({ enabled: e.target.checked })}
            aria-label={`Enabled: ${name}`}
          />
          <span className={form.enabled ? "font-medium text-emerald-800" : "text-slate-500"}>{form.enabled ? "On" : "Off"}</span>
        </label>
      </td>
      <td className="py-2 pr-3 pt-2.5 text-slate-600">
        {row.lastSlot ? <RelativeTime value={row.lastSlot} /> : <span className="text-slate-500">never</span>}
        {!row.configured && <div className="text-xs text-slate-500">default, not saved</div>}
      </td>
      <td className="py-2 pr-4 text-right">
        <div className="flex items-center justify-end gap-2">
          <span aria-live="polite" className="text-xs">
            {saved && !dirty && (
              <span className="inline-flex items-center gap-1 text-emerald-800">
                <CircleCheck className="size-3.5" aria-hidden /> Saved
              </span>
            )}
          </span>
          <Button
            onClick={submit}
            disabled={save.isPending || (!dirty && row.configured) || tooShort || !isTimeZone(form.timezone)}
            aria-label={`Save ${name} schedule`}
          >
            {save.isPending ? "Saving…" : "Save"}
          </Button>
        </div>
        {rowError && (
          <p role="alert" className="mt-1 text-left text-xs text-red-700">
            {rowError}
          </p>
        )}
      </td>
    </tr>
  );
}

function CadenceTable({ rows, account, caption }: { rows: Row[]; account: Picked; caption: string }) {
  const listId = useId();
  return (
    <div className="overflow-x-auto">
      <datalist id={listId}>
        {TIMEZONES.map((z) => (
          <option key={z} value={z} />
        ))}
      </datalist>
      {/* Fixed columns, so the workspace table and an account's table line up one above the other. */}
      <table className="w-full min-w-[56rem] table-fixed text-left">
        <caption className="sr-only">{caption}</caption>
        <colgroup>
          <col className="w-48" />
          <col className="w-72" />
          <col className="w-56" />
          <col className="w-24" />
          <col />
          <col className="w-40" />
        </colgroup>
        <thead className="border-b border-slate-200 bg-slate-50 text-xs uppercase tracking-wide text-slate-500">
          <tr>
            <th className="py-2 pr-3 pl-4 font-medium">Ritual</th>
            <th className="py-2 pr-3 font-medium">Schedule (cron)</th>
            <th className="py-2 pr-3 font-medium">Time zone</th>
            <th className="py-2 pr-3 font-medium">Enabled</th>
            <th className="py-2 pr-3 font-medium">Last slot</th>
            <th className="py-2 pr-4">
              <span className="sr-only">Save</span>
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {rows.map((r) => (
            <CadenceRow key={`${account?.id ?? ""}:${r.ritual}`} row={r} account={account} listId={listId} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Rows for one account: its overrides where it has them, otherwise the workspace schedule, off. */
function accountRows(data: Cadences, accountId: string): Row[] {
  return data.tenant.map((t) => {
    const o = data.accounts.find((a) => a.accountId === accountId && a.ritual === t.ritual);
    return o
      ? { ritual: t.ritual, cron: o.cron, timezone: o.timezone, enabled: o.enabled, lastSlot: o.lastSlot, configured: true }
      : { ritual: t.ritual, cron: t.cron, timezone: t.timezone, enabled: false, lastSlot: null, configured: false };
  });
}

/** Time rituals (SPEC §4.3): per-workspace cron cadences, plus optional per-account schedules. */
export function CadencesCard() {
  const trpc = useTRPC();
  const q = useQuery(trpc.decisions.cadences.queryOptions());
  const [account, setAccount] = useState<Picked>(null);

  return (
    <Card
      title={
        <span className="flex items-center gap-2">
          <CalendarClock className="size-4 text-slate-500" aria-hidden /> Ritual cadences
        </span>
      }
    >
      {q.isPending ? (
        <LoadingState label="Loading cadences…" />
      ) : q.isError ? (
        <ErrorState message={q.error.message} onRetry={() => q.refetch()} />
      ) : (
        <>
          <p className="px-4 pt-3 pb-2 text-slate-600">
            Rituals open a decision window on a schedule, in the time zone given. A new or re-enabled schedule starts from now — missed
            slots are never back-filled, and a scheduler that was down runs a ritual once, not once per missed slot.
          </p>
          <CadenceTable rows={q.data.tenant} account={null} caption="Workspace ritual schedules" />

          <div className="mt-2 border-t border-slate-200 px-4 py-3">
            <h3 className="font-medium text-slate-800">Per-account schedule</h3>
            <p className="mb-2 text-xs text-slate-500">
              A schedule for one account (e.g. a weekly review on Fridays for a key customer). It replaces the workspace schedule for that
              account; turning it off opts the account out of that ritual.
            </p>
            <AccountSelect value={account} onChange={setAccount} label="Account" />
          </div>
          {account && (
            <div className="border-t border-slate-100">
              <CadenceTable rows={accountRows(q.data, account.id)} account={account} caption={`Ritual schedules for ${account.name}`} />
            </div>
          )}
          <div className="border-t border-slate-200 px-4 py-3">
            <h3 className="mb-1 font-medium text-slate-800">Saved account schedules</h3>
            {q.data.accounts.length === 0 ? (
              <p className="text-slate-500">None yet — pick an account above to add one.</p>
            ) : (
              <ul className="divide-y divide-slate-100">
                {q.data.accounts.map((a) => (
                  <li key={`${a.accountId}:${a.ritual}`} className="flex flex-wrap items-center gap-x-3 gap-y-1 py-1.5">
                    <Link
                      href={`/accounts/${a.accountId}`}
                      className="font-mono text-xs text-brand-700 hover:underline"
                      title={a.accountId}
                    >
                      {shortId(a.accountId, 10)}
                    </Link>
                    <span className="font-medium text-slate-800">{triggerLabel(a.ritual)}</span>
                    <code className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs">{a.cron}</code>
                    <span className="text-xs text-slate-500">{a.timezone}</span>
                    {a.enabled ? <Badge tone="green">On</Badge> : <Badge>Off</Badge>}
                    <span className="text-xs text-slate-500">last slot {a.lastSlot ? <RelativeTime value={a.lastSlot} /> : "never"}</span>
                    <Button
                      variant="ghost"
                      className="ml-auto"
                      onClick={() => setAccount({ id: a.accountId, name: shortId(a.accountId, 10) })}
                      aria-label={`Edit ${triggerLabel(a.ritual)} schedule of account ${a.accountId}`}
                    >
                      <Pencil className="size-3.5" aria-hidden /> Edit
                    </Button>
                  </li>
                ))}
              </ul>
            )}
          </div>
        </>
      )}
    </Card>
  );
}
