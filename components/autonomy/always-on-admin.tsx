"use client";

import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { useTRPC } from "../trpc";
import { Dialog } from "../ui/dialog";
import { Badge, Button, Card, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { MissingReasons, Switch } from "./always-on-reasons";

/**
 * Always-on autonomy for the workspace (SPEC §4.6): the admin's consent, with a confirmation
 * because it lets decision runs act with nobody watching, and every account's state with what it
 * still lacks.
 */
export function AlwaysOnAdmin() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const list = useInfiniteQuery(
    trpc.alwaysOn.list.infiniteQueryOptions({ limit: 25 }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
  );
  const [confirm, setConfirm] = useState<boolean | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const setTenant = useMutation(
    trpc.alwaysOn.setTenant.mutationOptions({
      onSuccess: (res) => {
        setDone(`Always-on autonomy is ${res.tenant.enabled ? "switched on" : "switched off"} for the workspace.`);
        setConfirm(null);
      },
      onSettled: () => qc.invalidateQueries({ queryKey: trpc.alwaysOn.pathKey() }),
    }),
  );

  const enabled = list.data?.pages[0]?.tenant.enabled ?? false;
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <div id="always-on" className="scroll-mt-4">
      <Card
        title="Always-on autonomy"
        actions={
          list.isSuccess && (
            <div className="flex items-center gap-2">
              <span className="text-sm text-slate-700">{enabled ? "On for the workspace" : "Off for the workspace"}</span>
              <Switch checked={enabled} label="Always-on autonomy for the workspace" onChange={(next) => setConfirm(next)} />
            </div>
          )
        }
      >
        <div className="space-y-3 px-4 py-3">
          <p className="max-w-3xl text-sm text-slate-700">
            With always-on, what scheduled and triggered decision runs propose runs on its own when policy allows it — with nobody watching.
            It needs the workspace&apos;s consent (here), each account&apos;s (its owner&apos;s or an admin&apos;s) and a daily digest for
            the account&apos;s owner. Until all three hold, those proposals wait in the inbox as “not opted in”. Intents sent by an external
            engine over the API keep plain policy.
          </p>
          {done && (
            <p role="status" className="text-sm text-emerald-800">
              {done}
            </p>
          )}
          {list.isPending ? (
            <LoadingState label="Loading always-on state…" />
          ) : list.isError ? (
            <ErrorState message={list.error.message} onRetry={() => list.refetch()} />
          ) : items.length === 0 ? (
            <EmptyState title="No accounts yet" />
          ) : (
            <table className="w-full text-left text-sm">
              <caption className="sr-only">Always-on state per account</caption>
              <thead className="border-b border-slate-200 text-xs uppercase tracking-wide text-slate-600">
                <tr>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    Account
                  </th>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    Owner
                  </th>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    State
                  </th>
                  <th scope="col" className="py-2 font-medium">
                    What is missing
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {items.map((i) => (
                  <tr key={i.accountId} className="align-top">
                    <td className="py-2 pr-3">
                      <Link href={`/accounts/${i.accountId}`} className="font-medium text-slate-900 hover:underline">
                        {i.accountName}
                      </Link>
                    </td>
                    <td className="py-2 pr-3 text-slate-700">{i.owner?.name ?? "Unassigned"}</td>
                    <td className="whitespace-nowrap py-2 pr-3">
                      {i.active ? (
                        <Badge tone="green">Always-on</Badge>
                      ) : i.optedIn ? (
                        <Badge tone="amber">Opted in, not active</Badge>
                      ) : (
                        <Badge>Not opted in</Badge>
                      )}
                    </td>
                    <td className="py-2">
                      {i.missing.length === 0 ? (
                        <span className="text-slate-600">Nothing</span>
                      ) : (
                        <MissingReasons missing={i.missing} isAdmin ownerName={i.owner?.name} />
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {list.hasNextPage && (
            <Button onClick={() => list.fetchNextPage()} disabled={list.isFetchingNextPage}>
              Load more accounts
            </Button>
          )}
        </div>
      </Card>
      <Dialog
        open={confirm !== null}
        onClose={() => setConfirm(null)}
        size="sm"
        title={confirm ? "Switch always-on on for the workspace?" : "Switch always-on off for the workspace?"}
        description={
          confirm
            ? "Decision runs' proposals that policy allows will then run with nobody watching on every account that has also opted in and whose owner has a daily digest."
            : "Every decision run's proposal will wait in the inbox again until the workspace switches always-on back on."
        }
        footer={
          <>
            {setTenant.isError && (
              <p role="alert" className="mr-auto text-sm text-red-700">
                {setTenant.error.message}
              </p>
            )}
            <Button onClick={() => setConfirm(null)}>Cancel</Button>
            <Button
              variant={confirm ? "primary" : "danger"}
              disabled={setTenant.isPending}
              onClick={() => confirm !== null && setTenant.mutate({ enabled: confirm })}
            >
              {confirm ? "Switch on" : "Switch off"}
            </Button>
          </>
        }
      >
        <p className="text-sm text-slate-700">The change applies to the next decision and is kept in the ledger with your name.</p>
      </Dialog>
    </div>
  );
}
