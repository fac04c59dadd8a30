"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { CircleCheck, CircleX, Lock, RefreshCw } from "lucide-react";
import { Fragment, useState } from "react";
import { resolveMode } from "@/server/engine/autonomy";
import { useTRPC } from "../trpc";
import { ReasonDialog } from "../ui/dialog";
import { Badge, Card, cx, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { MODE_LABEL, neverAutonomousReason, RiskBadge, useRegistry } from "../work/labels";
import { errorCode } from "../work/types";
import type { PickedAccount } from "./account-picker";

const CLASS_LABEL: Record<string, string> = {
  research: "Research",
  internal: "Internal work",
  crm_write: "CRM writes",
  outreach: "Outreach (contacts customers)",
  commercial: "Commercial",
};
const SHORT_SOURCE: Record<string, string> = {
  ACCOUNT_TYPE: "account override",
  TENANT_TYPE: "workspace, this type",
  ACCOUNT_DEFAULT: "account default",
  TENANT_DEFAULT: "workspace default",
  GLOBAL_DEFAULT: "global default",
};
const CLASS_ORDER = ["research", "internal", "crm_write", "outreach", "commercial"];

type ModeRow = { accountKey: string; actionType: string; mode: string; updatedAt: Date };
type Scope = { accountId?: string; actionType?: string };
type Pending = { scope: Scope; row: ModeRow | undefined; mode: string | null; what: string };
type Notice = { tone: "ok" | "error" | "warn"; text: string };

/**
 * The effective mode, by the engine's own precedence (SPEC §4.1) — the very function the gate
 * uses, so the matrix can never disagree with what autopilot does. Without an account, a key no
 * account has stands in so only the workspace levels match.
 */
function resolve(rows: ModeRow[], accountId: string | null, actionType: string) {
  return resolveMode(rows, accountId ?? "\u0000", actionType);
}

/**
 * The autonomy matrix: one row per action type, grouped by class. The workspace column sets the
 * tenant mode per type; with an account picked, a second column sets that account's overrides.
 * Every write carries the row's `updatedAt` so a concurrent change is a CONFLICT, not an overwrite.
 */
export function ModeMatrix({ account }: { account: PickedAccount }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const reg = useRegistry();
  const modes = useQuery(trpc.autonomy.modes.queryOptions({}));
  const [confirm, setConfirm] = useState<Pending | null>(null);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [saving, setSaving] = useState<string | null>(null);
  const setMode = useMutation(trpc.autonomy.setMode.mutationOptions());

  const rows = (modes.data ?? []) as ModeRow[];
  const find = (accountKey: string, actionType: string) => rows.find((r) => r.accountKey === accountKey && r.actionType === actionType);
  const key = (s: Scope) => `${s.accountId ?? ""}:${s.actionType ?? ""}`;

  function commit(p: Pending, reason?: string) {
    setNotice(null);
    setSaving(key(p.scope));
    setMode.mutate(
      {
        ...p.scope,
        mode: p.mode as (typeof reg.modes)[number] | null,
        ...(p.row && p.mode !== null ? { ifMatch: p.row.updatedAt } : {}),
        ...(reason ? { reason } : {}),
      },
      {
        onSuccess: () => {
          setConfirm(null);
          setNotice({ tone: "ok", text: `Saved: ${p.what} → ${p.mode ? MODE_LABEL[p.mode] : "inherit"}.` });
        },
        onError: (e) => {
          setConfirm(null);
          if (errorCode(e) === "CONFLICT")
            setNotice({
              tone: "warn",
              text: `Someone changed this; reloaded. ${p.what} now shows the latest setting — check it and try again.`,
            });
          else setNotice({ tone: "error", text: `Could not save ${p.what}: ${e.message}` });
        },
        onSettled: () => {
          setSaving(null);
          qc.invalidateQueries({ queryKey: trpc.autonomy.modes.queryKey() });
        },
      },
    );
  }

  function change(scope: Scope, next: string, what: string) {
    const row = find(scope.accountId ?? "", scope.actionType ?? "");
    const p: Pending = { scope, row, mode: next === "" ? null : next, what };
    if (p.mode === "AUTO_EXECUTE") setConfirm(p);
    else commit(p);
  }

  const groups = CLASS_ORDER.map((c) => ({ c, types: reg.types.filter((t) => t.class === c) })).filter((g) => g.types.length > 0);
  const accountId = account?.id ?? null;
  const cols = account ? 5 : 4;

  // A plain function, not a component: a component declared here would remount (and drop focus) on every render.
  const sel = ({ scope, label, allowAuto, inherits }: { scope: Scope; label: string; allowAuto: boolean; inherits: string }) => (
    <ModeSelect
      row={find(scope.accountId ?? "", scope.actionType ?? "")}
      label={label}
      allowAuto={allowAuto}
      inherits={inherits}
      modes={reg.modes}
      saving={saving === key(scope)}
      disabled={saving !== null}
      onChange={(v) => change(scope, v, label.replace(/^Mode: /, ""))}
    />
  );

  return (
    <Card
      title="Autonomy modes"
      actions={
        <span className="text-xs text-slate-500">
          First match wins: account + type → workspace + type → account default → workspace default → Approval required
        </span>
      }
    >
      <div aria-live="polite">
        {notice && (
          <p
            role={notice.tone === "ok" ? "status" : "alert"}
            data-testid="mode-notice"
            className={cx(
              "mx-4 mt-3 flex items-center gap-2 rounded-md px-3 py-2 ring-1",
              notice.tone === "ok" && "bg-emerald-50 text-emerald-900 ring-emerald-200",
              notice.tone === "warn" && "bg-amber-50 text-amber-900 ring-amber-200",
              notice.tone === "error" && "bg-red-50 text-red-900 ring-red-200",
            )}
          >
            {notice.tone === "ok" ? (
              <CircleCheck className="size-4 shrink-0" aria-hidden />
            ) : (
              <CircleX className="size-4 shrink-0" aria-hidden />
            )}
            {notice.text}
          </p>
        )}
      </div>
      {modes.isPending || reg.query.isPending ? (
        <LoadingState label="Loading modes…" />
      ) : modes.isError ? (
        <ErrorState message={modes.error.message} onRetry={() => modes.refetch()} />
      ) : groups.length === 0 ? (
        <EmptyState title="No action types registered" />
      ) : (
        <div className="overflow-x-auto">
          <table className="w-full text-left" data-testid="mode-matrix">
            <thead className="border-b border-slate-200 bg-slate-50 text-xs uppercase tracking-wide text-slate-500">
              <tr>
                <th className="px-4 py-2 font-medium">Action type</th>
                <th className="px-4 py-2 font-medium">Limit</th>
                <th className="px-4 py-2 font-medium">Workspace mode</th>
                {account && <th className="px-4 py-2 font-medium">Override for {account.name}</th>}
                <th className="px-4 py-2 font-medium">Effective{account ? ` for ${account.name}` : ""}</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              <tr className="bg-slate-50/60">
                <td className="px-4 py-2">
                  <div className="font-medium">All action types</div>
                  <div className="text-xs text-slate-500">Default when a type has no setting of its own</div>
                </td>
                <td className="px-4 py-2 text-xs text-slate-500">—</td>
                <td className="px-4 py-2">
                  {sel({ scope: {}, label: "Mode: workspace default", allowAuto: true, inherits: "APPROVAL_REQUIRED" })}
                </td>
                {account && (
                  <td className="px-4 py-2">
                    {sel({
                      scope: { accountId: account.id },
                      label: `Mode: ${account.name} default`,
                      allowAuto: true,
                      inherits: resolve(rows, null, "").mode,
                    })}
                  </td>
                )}
                <td className="px-4 py-2">
                  <Effective {...resolve(rows, accountId, "")} />
                </td>
              </tr>
              {groups.map((g) => (
                <Fragment key={g.c}>
                  <tr>
                    <th
                      colSpan={cols}
                      scope="colgroup"
                      className="bg-white px-4 pt-3 pb-1 text-xs font-semibold uppercase tracking-wide text-slate-500"
                    >
                      {CLASS_LABEL[g.c] ?? g.c}
                    </th>
                  </tr>
                  {g.types.map((t) => {
                    const never = neverAutonomousReason(t);
                    const eff = resolve(rows, accountId, t.name);
                    return (
                      <tr key={t.name} className="hover:bg-slate-50">
                        <td className="px-4 py-2">
                          <div className="font-medium">{t.label}</div>
                          <div className="font-mono text-[11px] text-slate-500">{t.name}</div>
                        </td>
                        <td className="px-4 py-2">
                          <div className="flex flex-wrap items-center gap-1">
                            <RiskBadge risk={t.risk} />
                            {never && (
                              <Badge tone="slate" title={never}>
                                <Lock className="size-3" aria-hidden /> Never autonomous
                              </Badge>
                            )}
                          </div>
                        </td>
                        <td className="px-4 py-2">
                          {sel({
                            scope: { actionType: t.name },
                            label: `Mode: ${t.label} (workspace)`,
                            allowAuto: t.mayAutoExecute,
                            inherits: resolve(rows, null, "").mode,
                          })}
                        </td>
                        {account && (
                          <td className="px-4 py-2">
                            {sel({
                              scope: { accountId: account.id, actionType: t.name },
                              label: `Mode: ${t.label} (${account.name})`,
                              allowAuto: t.mayAutoExecute,
                              inherits: resolve(
                                rows.filter((r) => !(r.accountKey === account.id && r.actionType === t.name)),
                                account.id,
                                t.name,
                              ).mode,
                            })}
                          </td>
                        )}
                        <td className="px-4 py-2">
                          <Effective {...eff} never={!!never} />
                        </td>
                      </tr>
                    );
                  })}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <ReasonDialog
        open={!!confirm}
        onClose={() => setConfirm(null)}
        title="Let autopilot act on its own?"
        description={confirm ? `${confirm.what} → Auto-execute.` : undefined}
        confirmLabel="Allow auto-execute"
        minLength={3}
        pending={setMode.isPending}
        reasonLabel="Why widen autonomy here?"
        placeholder="e.g. internal notes have been accurate for a month"
        hint="The change and this reason are ledgered with your name, before and after."
        onConfirm={(reason) => confirm && commit(confirm, reason)}
      >
        <p className="text-slate-700">
          Autopilot will run these actions without asking, as long as they are on the allowlist, within today's budget, pass policy and no
          kill switch is on.
        </p>
      </ReasonDialog>
    </Card>
  );
}

function ModeSelect({
  row,
  label,
  allowAuto,
  inherits,
  modes,
  saving,
  disabled,
  onChange,
}: {
  row: ModeRow | undefined;
  label: string;
  allowAuto: boolean;
  inherits: string;
  modes: readonly string[];
  saving: boolean;
  disabled: boolean;
  onChange: (mode: string) => void;
}) {
  return (
    <div className="flex items-center gap-1.5">
      <select
        aria-label={label}
        title={row ? undefined : `Inherits: ${MODE_LABEL[inherits] ?? inherits}`}
        value={row?.mode ?? ""}
        disabled={disabled}
        onChange={(e) => onChange(e.target.value)}
        className={cx(
          "w-44 rounded-md border px-2 py-1",
          row ? "border-brand-500 bg-brand-50/50 font-medium text-slate-900" : "border-slate-300 text-slate-600",
        )}
      >
        <option value="">Inherit</option>
        {modes.map((m) => (
          <option key={m} value={m} disabled={m === "AUTO_EXECUTE" && !allowAuto}>
            {MODE_LABEL[m] ?? m}
            {m === "AUTO_EXECUTE" && !allowAuto ? " — never for this type" : ""}
          </option>
        ))}
      </select>
      {saving && <RefreshCw className="size-3.5 animate-spin text-slate-500" aria-label="Saving" />}
    </div>
  );
}

function Effective({ mode, source, never }: { mode: string; source: string; never?: boolean }) {
  return (
    <div>
      <span
        className={cx(
          "font-medium",
          mode === "AUTO_EXECUTE" ? "text-brand-700" : mode === "DISABLED" ? "text-slate-500" : "text-slate-800",
        )}
      >
        {MODE_LABEL[mode] ?? mode}
      </span>
      <div className="text-xs whitespace-nowrap text-slate-500">
        via {SHORT_SOURCE[source] ?? source}
        {never && mode === "AUTO_EXECUTE" ? " · still asks a person" : ""}
      </div>
    </div>
  );
}
