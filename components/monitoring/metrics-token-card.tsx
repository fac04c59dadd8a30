"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { RotateCw } from "lucide-react";
import { useState } from "react";
import { useTRPC } from "../trpc";
import { Dialog } from "../ui/dialog";
import { Button, Card, ErrorState, LoadingState } from "../ui/primitives";
import { SecretBox } from "../ui/secret-box";
import { RelativeTime } from "../ui/time";

/**
 * The Prometheus scrape token for `GET /api/metrics`: a bearer credential for this workspace's
 * numbers only. Only its hash is stored; it is shown once, right after creating or rotating it.
 */
export function MetricsTokenCard({ metricsUrl }: { metricsUrl: string }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const q = useQuery(trpc.metrics.token.queryOptions());
  const [confirming, setConfirming] = useState(false);
  const [shown, setShown] = useState<string | null>(null);
  const rotate = useMutation(
    trpc.metrics.rotateToken.mutationOptions({
      onSuccess: (res) => {
        setShown(res.token);
        setConfirming(false);
      },
      onSettled: () => qc.invalidateQueries({ queryKey: trpc.metrics.token.queryKey() }),
    }),
  );

  if (q.isPending) return <LoadingState label="Loading the metrics token…" />;
  if (q.isError) return <ErrorState message={q.error.message} onRetry={() => q.refetch()} />;
  const token = q.data;

  return (
    <Card
      title="Prometheus metrics"
      actions={
        <Button
          onClick={() => {
            rotate.reset();
            setConfirming(true);
          }}
        >
          <RotateCw className="size-4" aria-hidden /> {token.exists ? "Rotate token…" : "Create token…"}
        </Button>
      }
    >
      <div className="space-y-3 px-4 py-3" data-testid="metrics-token">
        <p className="text-slate-700">
          Scrape <code className="break-all">{metricsUrl}</code> with <code>Authorization: Bearer &lt;token&gt;</code> (or an admin API
          key): connector latency histograms, executions by outcome and approval source, decision runs by verdict, job queue depth and age,
          budget use. Numbers are read from the database at scrape time, so any instance answers the same.
        </p>
        <p className="text-slate-700" data-testid="metrics-token-status">
          {token.exists ? (
            <>
              Token <code>{token.prefix}_…</code> created <RelativeTime value={token.createdAt} />; last used{" "}
              {token.lastUsedAt ? <RelativeTime value={token.lastUsedAt} /> : "never"}.
            </>
          ) : (
            <span className="text-slate-600">No metrics token yet.</span>
          )}
        </p>
        {shown && (
          <SecretBox
            what="metrics token"
            label="Metrics token — shown once. Put it in your Prometheus scrape config now."
            value={shown}
            testId="metrics-token-value"
          />
        )}
      </div>
      <Dialog
        open={confirming}
        onClose={() => setConfirming(false)}
        size="sm"
        title={token.exists ? "Rotate the metrics token?" : "Create a metrics token?"}
        description={
          token.exists
            ? "A new token replaces the current one, which stops working at once: update your scrape config."
            : "The token is shown once, right after you confirm."
        }
        footer={
          <>
            <Button variant="ghost" onClick={() => setConfirming(false)} disabled={rotate.isPending}>
              Cancel
            </Button>
            <Button variant="primary" disabled={rotate.isPending} onClick={() => rotate.mutate()}>
              {rotate.isPending ? "Working…" : token.exists ? "Rotate token" : "Create token"}
            </Button>
          </>
        }
      >
        {rotate.error ? (
          <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-red-800 ring-1 ring-red-200">
            {rotate.error.message}
          </p>
        ) : (
          <p className="text-slate-700">Anyone with the token can read this workspace's operational numbers (no personal data).</p>
        )}
      </Dialog>
    </Card>
  );
}
