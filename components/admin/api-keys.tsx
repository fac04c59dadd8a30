"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Copy, KeyRound } from "lucide-react";
import { useMemo, useState } from "react";
import { useTRPC } from "../trpc";
import { DataTable, dataColumns } from "../ui/data-table";
import { Badge, Button, Card, EmptyState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import type { RouterOutputs } from "../work/types";

const SCOPES = [
  { id: "read", hint: "read accounts, ledger, explanations" },
  { id: "ingest", hint: "push signals and intents" },
  { id: "approve", hint: "approve or reject intents" },
  { id: "admin", hint: "everything, including configuration" },
] as const;
type Scope = (typeof SCOPES)[number]["id"];

type ApiKey = RouterOutputs["apiKeys"]["list"][number];
const col = dataColumns<ApiKey>();

export function ApiKeys() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const keys = useQuery(trpc.apiKeys.list.queryOptions());
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(["read"]);
  const [shown, setShown] = useState<string | null>(null);
  const invalidate = () => qc.invalidateQueries({ queryKey: trpc.apiKeys.list.queryKey() });
  const create = useMutation(
    trpc.apiKeys.create.mutationOptions({
      onSuccess: (res) => {
        setShown(res.key);
        setName("");
        invalidate();
      },
    }),
  );
  const revoke = useMutation(trpc.apiKeys.revoke.mutationOptions({ onSuccess: invalidate }));
  const columns = useMemo(
    () =>
      col.columns([
        col.accessor("name", { header: "Name", meta: { className: "font-medium", search: true } }),
        col.display({
          id: "key",
          header: "Key",
          cell: (c) => `apk_${c.row.original.prefix}_…`,
          meta: { className: "font-mono text-xs text-slate-600" },
        }),
        col.accessor((k) => k.scopes.join(" "), {
          id: "scopes",
          header: "Scopes",
          enableSorting: false,
          cell: (c) => (
            <div className="flex flex-wrap gap-1">
              {c.row.original.scopes.map((s) => (
                <Badge key={s} tone={s === "admin" ? "amber" : "slate"}>
                  {s}
                </Badge>
              ))}
            </div>
          ),
          meta: { search: true },
        }),
        col.accessor((k) => new Date(k.createdAt).getTime(), {
          id: "created",
          header: "Created",
          cell: (c) => <RelativeTime value={c.row.original.createdAt} />,
        }),
        col.accessor((k) => (k.lastUsedAt ? new Date(k.lastUsedAt).getTime() : 0), {
          id: "lastUsed",
          header: "Last used",
          cell: (c) => {
            const at = c.row.original.lastUsedAt;
            return at ? <RelativeTime value={at} /> : <span className="text-slate-600">never</span>;
          },
        }),
        col.accessor((k) => (k.revokedAt ? "revoked" : "active"), {
          id: "status",
          header: "Status",
          cell: (c) => <Badge tone={c.getValue() === "revoked" ? "red" : "green"}>{c.getValue()}</Badge>,
        }),
        col.display({
          id: "actions",
          header: () => <span className="sr-only">Actions</span>,
          cell: (c) => {
            const k = c.row.original;
            if (k.revokedAt) return null;
            return (
              <Button
                variant="danger"
                disabled={revoke.isPending}
                onClick={() => {
                  if (window.confirm(`Revoke "${k.name}"? Systems using it stop working at once.`)) revoke.mutate({ id: k.id });
                }}
              >
                Revoke
              </Button>
            );
          },
          meta: { className: "text-right" },
        }),
      ]),
    [revoke.isPending, revoke.mutate],
  );

  return (
    <div className="space-y-4">
      <Card title="Create a key">
        <form
          className="flex flex-wrap items-end gap-3 px-4 py-3"
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate({ name, scopes });
          }}
        >
          <label className="block">
            <span className="mb-1 block font-medium text-slate-700">Name</span>
            <input
              value={name}
              onChange={(e) => setName(e.target.value)}
              required
              maxLength={80}
              placeholder="e.g. HubSpot sync"
              className="w-56 rounded-md border border-slate-300 px-2 py-1.5"
            />
          </label>
          <fieldset className="flex flex-wrap gap-3">
            <legend className="mb-1 font-medium text-slate-700">Scopes</legend>
            {SCOPES.map((s) => (
              <label key={s.id} className="flex items-center gap-1.5" title={s.hint}>
                <input
                  type="checkbox"
                  checked={scopes.includes(s.id)}
                  onChange={(e) => setScopes(e.target.checked ? [...scopes, s.id] : scopes.filter((x) => x !== s.id))}
                />
                {s.id}
              </label>
            ))}
          </fieldset>
          <Button type="submit" variant="primary" disabled={create.isPending || !name.trim() || scopes.length === 0}>
            <KeyRound className="size-4" aria-hidden /> Create key
          </Button>
          {create.isError && <p className="w-full text-red-700">{create.error.message}</p>}
        </form>
        {shown && (
          <div role="status" className="mx-4 mb-3 rounded-md border border-amber-300 bg-amber-50 p-3">
            <p className="font-medium text-amber-900">Copy this key now — it is shown only once.</p>
            <div className="mt-2 flex items-center gap-2">
              <code
                data-testid="new-api-key"
                className="flex-1 break-all rounded bg-white px-2 py-1 font-mono text-xs ring-1 ring-amber-200"
              >
                {shown}
              </code>
              <Button onClick={() => navigator.clipboard?.writeText(shown)} aria-label="Copy key">
                <Copy className="size-4" aria-hidden /> Copy
              </Button>
              <Button variant="ghost" onClick={() => setShown(null)}>
                Done
              </Button>
            </div>
          </div>
        )}
      </Card>

      <Card title="Keys">
        <DataTable
          caption="API keys"
          columns={columns}
          data={keys.data}
          getRowId={(k) => k.id}
          loading={keys.isPending}
          error={keys.isError ? { message: keys.error.message, onRetry: () => keys.refetch() } : null}
          empty={<EmptyState title="No API keys yet" hint="Create one for each system that pushes signals or reads the ledger." />}
          filter={{ label: "Filter keys", placeholder: "Name or scope" }}
        />
      </Card>
    </div>
  );
}
