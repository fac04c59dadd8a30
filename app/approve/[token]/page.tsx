import { Radar } from "lucide-react";
import { notFound } from "next/navigation";
import { ApproveForm } from "@/components/approvals/approve-form";
import { humanize } from "@/components/labels";
import { systemClock } from "@/server/clock";
import { getDb } from "@/server/db";
import { AppError } from "@/server/errors";
import { connectorDepsFromEnv } from "@/server/http/deps";
import { inspectLink, type LinkState } from "@/server/services/approvals/decide";

export const dynamic = "force-dynamic";

/**
 * A one-time approval link (SPEC §4.6, §5.1 `GET /approve/:token`), outside the signed-in app:
 * the signed token is the credential. Opening the page decides nothing — mail scanners and chat
 * unfurlers fetch links — the buttons POST to `/api/v1/approvals/:token`.
 */
export default async function ApprovePage({
  params,
  searchParams,
}: {
  params: Promise<{ token: string }>;
  searchParams: Promise<{ decision?: string }>;
}) {
  const { token } = await params;
  const { decision } = await searchParams;
  let state: LinkState;
  try {
    state = await inspectLink({ db: getDb(), clock: systemClock, connectors: connectorDepsFromEnv() }, token);
  } catch (err) {
    if (err instanceof AppError && err.code === "NOT_FOUND") notFound();
    throw err;
  }
  return (
    <main className="flex min-h-screen items-center justify-center bg-slate-100 p-6">
      <div className="w-full max-w-lg">
        <div className="mb-6 flex items-center justify-center gap-2">
          <Radar className="size-7 text-brand-600" aria-hidden />
          <span className="text-lg font-semibold">Autopilot Control Center</span>
        </div>
        <div className="rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
          {state.kind === "GONE" ? (
            <>
              <h1 className="mb-2 text-base font-semibold">This link no longer works</h1>
              <p className="text-slate-700">{state.message}.</p>
            </>
          ) : (
            <>
              <h1 className="mb-4 text-base font-semibold">Approval needed</h1>
              <dl className="mb-5 grid grid-cols-[auto_1fr] gap-x-4 gap-y-2">
                <dt className="text-slate-600">Action</dt>
                <dd className="font-medium">{humanize(state.intent.actionType)}</dd>
                <dt className="text-slate-600">Account</dt>
                <dd className="font-medium">{state.intent.accountName}</dd>
                <dt className="text-slate-600">Why</dt>
                <dd>{state.intent.why.length ? state.intent.why.map(humanize).join(", ") : "—"}</dd>
                <dt className="text-slate-600">Explanation</dt>
                <dd>{state.intent.explanation ?? "—"}</dd>
                <dt className="text-slate-600">Expires</dt>
                <dd>
                  {state.intent.expiresAt ? (
                    <time dateTime={state.intent.expiresAt.toISOString()}>{state.intent.expiresAt.toUTCString()}</time>
                  ) : (
                    "Escalated to an admin; does not expire"
                  )}
                </dd>
              </dl>
              <ApproveForm token={token} initial={decision === "reject" ? "reject" : null} />
            </>
          )}
        </div>
      </div>
    </main>
  );
}
