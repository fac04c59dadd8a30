"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Copy, KeyRound } from "lucide-react";
import { useState } from "react";
import { useTRPC } from "../trpc";
import { Badge, Button, Card, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";

const SCOPES = [
  { id: "read", hint: "read accounts, ledger, explanations" },
  { id: "ingest", hint: "push signals and intents" },
  { id: "approve", hint: "approve or reject intents" },
  { id: "admin", hint: "everything, including configuration" },
] as const;
type Scope = (typeof SCOPES)[number]["id"];

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
        {keys.isPending ? (
          <LoadingState />
        ) : keys.isError ? (
          <ErrorState message={keys.error.message} onRetry={() => keys.refetch()} />
        ) : keys.data.length === 0 ? (
          <EmptyState title="No API keys yet" hint="Create one for each system that pushes signals or reads the ledger." />
        ) : (
          <table className="w-full text-left">
            <thead className="border-b border-slate-200 bg-slate-50 text-xs uppercase tracking-wide text-slate-500">
              <tr>
                <th className="px-4 py-2 font-medium">Name</th>
                <th className="px-4 py-2 font-medium">Key</th>
                <th className="px-4 py-2 font-medium">Scopes</th>
                <th className="px-4 py-2 font-medium">Created</th>
                <th className="px-4 py-2 font-medium">Last used</th>
                <th className="px-4 py-2 font-medium">Status</th>
                <th className="px-4 py-2" />
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {keys.data.map((k) => (
                <tr key={k.id}>
                  <td className="px-4 py-2 font-medium">{k.name}</td>
                  <td className="px-4 py-2 font-mono text-xs text-slate-600">apk_{k.prefix}_…</td>
                  <td className="px-4 py-2">
                    <div className="flex flex-wrap gap-1">
                      {k.scopes.map((s) => (
                        <Badge key={s} tone={s === "admin" ? "amber" : "slate"}>
                          {s}
                        </Badge>
                      ))}
                    </div>
                  </td>
                  <td className="px-4 py-2">
                    <RelativeTime value={k.createdAt} />
                  </td>
                  <td className="px-4 py-2">
                    {k.lastUsedAt ? <RelativeTime value={k.lastUsedAt} /> : <span className="text-slate-500">never</span>}
                  </td>
                  <td className="px-4 py-2">{k.revokedAt ? <Badge tone="red">revoked</Badge> : <Badge tone="green">active</Badge>}</td>
                  <td className="px-4 py-2 text-right">
                    {!k.revokedAt && (
                      <Button
                        variant="danger"
                        disabled={revoke.isPending}
                        onClick={() => {
                          if (window.confirm(`Revoke "${k.name}"? Systems using it stop working at once.`)) revoke.mutate({ id: k.id });
                        }}
                      >
                        Revoke
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </div>
  );
}
