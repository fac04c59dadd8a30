"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "../trpc";
import { Badge, Card, ErrorState, LoadingState } from "../ui/primitives";
import { MissingReasons, Switch } from "./always-on-reasons";

/**
 * The account's always-on opt-in (SPEC §4.6), on its page: its owning seller (sellers only ever see
 * their own accounts) or an admin switches it; switching on is refused while the workspace has not
 * opted in or the owner has no digest, and the card says which and where to fix it.
 */
export function AlwaysOnAccountCard({ accountId, ownerName }: { accountId: string; ownerName: string | null }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const me = useQuery(trpc.me.whoami.queryOptions());
  const status = useQuery(trpc.alwaysOn.status.queryOptions({ accountId }));
  const [done, setDone] = useState<string | null>(null);
  const set = useMutation(
    trpc.alwaysOn.setAccount.mutationOptions({
      onSuccess: (res) => setDone(res.optedIn ? "This account is opted in to always-on autonomy." : "This account is opted out."),
      onSettled: () => qc.invalidateQueries({ queryKey: trpc.alwaysOn.pathKey() }),
    }),
  );

  if (status.isPending || me.isPending) return <LoadingState label="Loading always-on…" />;
  if (status.isError) return <ErrorState message={status.error.message} onRetry={() => status.refetch()} />;
  const s = status.data;
  const role = me.data?.role;
  const canToggle = role === "ADMIN" || role === "SELLER";
  // Switching on is refused while another condition is missing; switching off always works.
  const blocked = !s.optedIn && s.missing.some((m) => m !== "ACCOUNT_NOT_OPTED_IN");

  return (
    <Card
      title="Always-on autonomy"
      actions={
        s.active ? <Badge tone="green">Active</Badge> : s.optedIn ? <Badge tone="amber">Opted in, not active</Badge> : <Badge>Off</Badge>
      }
    >
      <div className="space-y-3 px-4 py-3">
        <p className="text-sm text-slate-700">
          When active, what decision runs propose for this account runs on its own when policy allows it, and the owner reads about it in
          the daily digest.
        </p>
        {canToggle && (
          <div className="flex items-center justify-between gap-3">
            <span className="text-sm font-medium text-slate-800">Opt this account in</span>
            <Switch
              checked={s.optedIn}
              label="Opt this account in to always-on autonomy"
              disabled={set.isPending || blocked}
              onChange={(enabled) => {
                setDone(null);
                set.mutate({ accountId, enabled });
              }}
            />
          </div>
        )}
        {s.missing.length > 0 && (
          <div className="space-y-1">
            <p className="text-sm font-medium text-slate-800">{blocked ? "Before you can opt in:" : "Not active yet:"}</p>
            <MissingReasons missing={s.missing} isAdmin={role === "ADMIN"} ownerName={ownerName} skipAccount={canToggle} />
          </div>
        )}
        {set.isError && (
          <p role="alert" className="text-sm text-red-700">
            {set.error.message}
          </p>
        )}
        {done && (
          <p role="status" className="text-sm text-emerald-800">
            {done}
          </p>
        )}
      </div>
    </Card>
  );
}
