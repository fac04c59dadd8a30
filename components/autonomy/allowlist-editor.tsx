"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { CircleCheck, Lock, Save } from "lucide-react";
import { useState } from "react";
import { useTRPC } from "../trpc";
import { ReasonDialog } from "../ui/dialog";
import { Button, Card, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { neverAutonomousReason, RiskBadge, useRegistry } from "../work/labels";
import type { PickedAccount } from "./account-picker";

/**
 * Which action types autopilot may ever run on its own (gate step 2). Types the registry marks
 * never-autonomous are shown disabled with the reason, because the server refuses them anyway.
 */
export function AllowlistEditor({ account }: { account: PickedAccount }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const reg = useRegistry();
  const input = account ? { accountId: account.id } : {};
  const list = useQuery(trpc.autonomy.allowlist.queryOptions(input));
  const tenantList = useQuery({ ...trpc.autonomy.allowlist.queryOptions({}), enabled: !!account });
  const [draft, setDraft] = useState<string[] | null>(null);
  const [confirm, setConfirm] = useState<string[] | null>(null);
  const [saved, setSaved] = useState(false);
  const save = useMutation(
    trpc.autonomy.setAllowlist.mutationOptions({
      onSuccess: (types) => {
        setDraft(null);
        setConfirm(null);
        setSaved(true);
        qc.setQueryData(trpc.autonomy.allowlist.queryKey(input), types);
        qc.invalidateQueries({ queryKey: trpc.autonomy.allowlist.pathKey() });
      },
    }),
  );

  const current = draft ?? list.data ?? [];
  const inherited = new Set(account ? (tenantList.data ?? []) : []);
  const dirty = draft !== null && JSON.stringify([...draft].sort()) !== JSON.stringify([...(list.data ?? [])].sort());
  const added = draft ? draft.filter((t) => !(list.data ?? []).includes(t)) : [];

  function submit() {
    if (!draft) return;
    if (added.length > 0) setConfirm(added);
    else save.mutate({ ...input, actionTypes: draft });
  }

  return (
    <Card
      title={account ? `Allowlist — ${account.name}` : "Allowlist — whole workspace"}
      actions={
        <>
          {saved && !dirty && (
            <span role="status" className="flex items-center gap-1 text-xs text-emerald-800">
              <CircleCheck className="size-3.5" aria-hidden /> Saved
            </span>
          )}
          <Button variant="primary" disabled={!dirty || save.isPending} onClick={submit}>
            <Save className="size-4" aria-hidden /> {save.isPending ? "Saving…" : "Save allowlist"}
          </Button>
        </>
      }
    >
      <p className="px-4 pt-3 text-slate-600">
        {account
          ? "Adds to the workspace allowlist for this account only. Types allowed workspace-wide are shown as such."
          : "Types autopilot may run on its own in every account (mode and budget still apply)."}
      </p>
      {list.isPending || reg.query.isPending ? (
        <LoadingState label="Loading allowlist…" />
      ) : list.isError ? (
        <ErrorState message={list.error.message} onRetry={() => list.refetch()} />
      ) : reg.types.length === 0 ? (
        <EmptyState title="No action types registered" />
      ) : (
        <fieldset className="px-4 py-3">
          <legend className="sr-only">Allowed action types</legend>
          <ul className="grid gap-x-6 gap-y-2 md:grid-cols-2 xl:grid-cols-3">
            {reg.types.map((t) => {
              const never = neverAutonomousReason(t);
              const viaTenant = inherited.has(t.name);
              const id = `allow-${t.name}`;
              return (
                <li key={t.name} className="flex items-start gap-2">
                  <input
                    id={id}
                    type="checkbox"
                    className="mt-1"
                    disabled={!!never || viaTenant || save.isPending}
                    checked={viaTenant || current.includes(t.name)}
                    onChange={(e) => {
                      setSaved(false);
                      setDraft(e.target.checked ? [...current, t.name] : current.filter((x) => x !== t.name));
                    }}
                    aria-describedby={never || viaTenant ? `${id}-why` : undefined}
                  />
                  <label htmlFor={id} className={never ? "text-slate-500" : "text-slate-800"}>
                    <span className="font-medium">{t.label}</span> <RiskBadge risk={t.risk} />
                    {(never || viaTenant) && (
                      <span id={`${id}-why`} className="flex items-center gap-1 text-xs text-slate-500">
                        {never ? (
                          <>
                            <Lock className="size-3" aria-hidden /> {never}
                          </>
                        ) : (
                          "Allowed workspace-wide"
                        )}
                      </span>
                    )}
                  </label>
                </li>
              );
            })}
          </ul>
          {save.isError && (
            <p role="alert" className="mt-2 text-red-700">
              {save.error.message}
            </p>
          )}
        </fieldset>
      )}
      <ReasonDialog
        open={!!confirm}
        onClose={() => setConfirm(null)}
        title="Allow autopilot to run these on its own?"
        description={confirm ? confirm.map((t) => reg.label(t)).join(", ") : undefined}
        confirmLabel="Save allowlist"
        minLength={3}
        pending={save.isPending}
        error={save.error?.message}
        reasonLabel="Why widen autonomy here?"
        hint="The change and this reason are ledgered with your name, before and after."
        onConfirm={(reason) => draft && save.mutate({ ...input, actionTypes: draft, reason })}
      />
    </Card>
  );
}
