"use client";

import { Check, X } from "lucide-react";
import { useEffect, useRef, useState } from "react";
import { Button } from "../ui/primitives";

type Result = { kind: "done"; decision: "approve" | "reject" } | { kind: "error"; message: string };

/** Approve / Reject for a one-time link; a rejection asks for a reason first. */
export function ApproveForm({ token, initial }: { token: string; initial: "reject" | null }) {
  const [rejecting, setRejecting] = useState(initial === "reject");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<Result | null>(null);
  const reasonRef = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    if (rejecting) reasonRef.current?.focus();
  }, [rejecting]);

  async function decide(decision: "approve" | "reject") {
    setBusy(true);
    try {
      const res = await fetch(`/api/v1/approvals/${encodeURIComponent(token)}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(decision === "reject" && reason.trim() ? { decision, reason: reason.trim() } : { decision }),
      });
      if (res.ok) setResult({ kind: "done", decision });
      else {
        const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
        setResult({ kind: "error", message: body?.error?.message ?? `The request failed (HTTP ${res.status})` });
      }
    } catch {
      setResult({ kind: "error", message: "The request did not reach the server; try again." });
    } finally {
      setBusy(false);
    }
  }

  if (result?.kind === "done")
    return (
      <p role="status" className="rounded-md bg-emerald-50 p-3 font-medium text-emerald-800">
        {result.decision === "approve" ? "Approved. Autopilot will carry it out." : "Rejected. Nothing will be done."}
      </p>
    );

  return (
    <div className="space-y-3">
      {result?.kind === "error" && (
        <p role="alert" className="rounded-md bg-red-50 p-3 text-red-800">
          {result.message}
        </p>
      )}
      {rejecting ? (
        <form
          className="space-y-2"
          onSubmit={(e) => {
            e.preventDefault();
            void decide("reject");
          }}
        >
          <label htmlFor="reject-reason" className="block font-medium">
            Why reject it?
          </label>
          <textarea
            id="reject-reason"
            ref={reasonRef}
            required
            maxLength={2000}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            className="w-full rounded-md border border-slate-300 p-2"
            rows={3}
          />
          <div className="flex gap-2">
            <Button type="submit" variant="danger" disabled={busy || !reason.trim()}>
              <X className="size-4" aria-hidden /> Reject
            </Button>
            <Button onClick={() => setRejecting(false)} disabled={busy}>
              Back
            </Button>
          </div>
        </form>
      ) : (
        <div className="flex gap-2">
          <Button variant="primary" onClick={() => void decide("approve")} disabled={busy}>
            <Check className="size-4" aria-hidden /> Approve
          </Button>
          <Button onClick={() => setRejecting(true)} disabled={busy}>
            <X className="size-4" aria-hidden /> Reject…
          </Button>
        </div>
      )}
    </div>
  );
}
