"use client";

import { useQuery } from "@tanstack/react-query";
import { ArrowLeft, Ban, Bot, Brain, CircleCheck, CircleX, FileSearch, Hand, Scale } from "lucide-react";
import Link from "next/link";
import type { ReactNode } from "react";
import { humanize, LIFECYCLE_TONE, MOMENTUM_ARROW, POSTURE_TONE, TIER_TONE } from "../labels";
import { describeEntry } from "../ledger/describe";
import { useTRPC } from "../trpc";
import { Badge, Card, cx, ErrorState, LoadingState, type Tone } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import {
  actorKind,
  ConfidenceBadge,
  formatValue,
  MODE_LABEL,
  MODE_SOURCE_LABEL,
  orderParams,
  RiskBadge,
  reasonLabel,
  useRegistry,
} from "./labels";
import type { Explanation } from "./types";

const DECISION: Record<string, { label: string; tone: Tone; icon: ReactNode }> = {
  AUTO_EXECUTE: { label: "Auto-execute", tone: "blue", icon: <Bot className="size-3.5" aria-hidden /> },
  REQUIRE_APPROVAL: { label: "Needs a person's approval", tone: "amber", icon: <Hand className="size-3.5" aria-hidden /> },
  BLOCK: { label: "Blocked", tone: "red", icon: <Ban className="size-3.5" aria-hidden /> },
};

function DecisionBadge({ decision }: { decision: string | null }) {
  if (!decision) return <span className="text-slate-400">not decided yet</span>;
  const d = DECISION[decision];
  return (
    <Badge tone={d?.tone ?? "slate"}>
      {d?.icon}
      {d?.label ?? humanize(decision)}
    </Badge>
  );
}

function Fields({ children }: { children: ReactNode }) {
  return <dl className="grid grid-cols-[10rem_minmax(0,1fr)] gap-x-4 gap-y-2 px-4 py-3">{children}</dl>;
}

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt className="text-slate-500">{label}</dt>
      <dd className="min-w-0 text-slate-900">{children}</dd>
    </>
  );
}

function Mono({ children, title }: { children: ReactNode; title?: string }) {
  return (
    <code title={title} className="rounded bg-slate-100 px-1 font-mono text-xs text-slate-700 [overflow-wrap:anywhere]">
      {children}
    </code>
  );
}

function SubHeading({ children }: { children: ReactNode }) {
  return <h3 className="border-t border-slate-100 px-4 pt-3 text-xs font-semibold uppercase tracking-wide text-slate-500">{children}</h3>;
}

function ParamTable({ params }: { params: unknown }) {
  const entries = params && typeof params === "object" ? orderParams(params as Record<string, unknown>) : [];
  if (entries.length === 0) return <span className="text-slate-400">none</span>;
  return (
    <dl className="grid grid-cols-[max-content_minmax(0,1fr)] gap-x-3 gap-y-0.5 rounded-md bg-slate-50 px-3 py-2 text-xs ring-1 ring-slate-200 ring-inset">
      {entries.map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="font-mono text-slate-500">{k}</dt>
          <dd className="whitespace-pre-wrap break-words">{formatValue(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

function Diff({ diff }: { diff: unknown }) {
  const entries = diff && typeof diff === "object" ? Object.entries(diff as Record<string, { before?: unknown; after?: unknown }>) : [];
  if (entries.length === 0) return null;
  return (
    <table className="mt-1 w-full table-fixed text-left text-xs">
      <thead className="text-slate-500">
        <tr>
          <th className="w-28 py-0.5 font-medium">Field</th>
          <th className="py-0.5 font-medium">Before</th>
          <th className="py-0.5 font-medium">After</th>
        </tr>
      </thead>
      <tbody className="align-top">
        {entries.map(([k, d]) => (
          <tr key={k}>
            <td className="py-0.5 pr-2 font-mono">{k}</td>
            <td className="py-0.5 pr-2">
              <del className="block whitespace-pre-wrap break-words rounded bg-red-50 px-1.5 py-0.5 text-red-900 ring-1 ring-red-200">
                − {formatValue(d?.before)}
              </del>
            </td>
            <td className="py-0.5">
              <ins className="block whitespace-pre-wrap break-words rounded bg-emerald-50 px-1.5 py-0.5 text-emerald-900 no-underline ring-1 ring-emerald-200">
                + {formatValue(d?.after)}
              </ins>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * "Why did autopilot do this?" (SPEC §4.6): why, what it knew, which policy — built only from
 * what was stored at decision time.
 */
export function ExplanationView({
  intentId,
  account,
  canSeeLedger,
}: {
  intentId: string;
  account: { id: string; name: string };
  canSeeLedger: boolean;
}) {
  const trpc = useTRPC();
  const reg = useRegistry();
  const q = useQuery(trpc.work.explanation.queryOptions({ actionIntentId: intentId }));

  if (q.isPending) return <LoadingState label="Loading the explanation…" />;
  if (q.isError) return <ErrorState message={q.error.message} onRetry={() => q.refetch()} />;
  const x: Explanation = q.data;
  const snap = x.whatItKnew.intent;
  const kind = actorKind({
    status: x.status,
    parentId: snap.version > 1 ? "edited" : null,
    execution: x.executionId ? { autoExecuted: x.autoExecuted, approvalSource: x.approvalSource ?? "" } : null,
  });
  const pending = x.status === "PENDING_APPROVAL" || x.status === "PROPOSED";
  const acct = (x.whatItKnew.account ?? null) as Record<string, string> | null;
  const mode = typeof x.whichPolicy.mode === "string" ? x.whichPolicy.mode : null;
  const modeSource = typeof x.whichPolicy.modeSource === "string" ? x.whichPolicy.modeSource : null;
  const policyInput = x.whatItKnew.policyInput as {
    allowlisted?: boolean;
    killSwitch?: { scope: string; key: string; reason: string } | null;
    thresholds?: { minConfidence?: number; prospectMinConfidence?: number };
  } | null;
  const trigger = x.why.trigger;
  const executedDiffers = snap.version > 1 && JSON.stringify(snap.executedParameters) !== JSON.stringify(snap.parameters);

  return (
    <div className="space-y-4">
      <Link href="/timeline" className="inline-flex items-center gap-1 text-slate-600 hover:text-slate-900">
        <ArrowLeft className="size-4" aria-hidden /> Timeline
      </Link>
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div>
          <h1 className="text-xl font-semibold tracking-tight">
            {reg.label(snap.actionType)} for{" "}
            <Link href={`/accounts/${account.id}`} className="text-brand-700 hover:underline">
              {account.name}
            </Link>
          </h1>
          <p className="mt-0.5 text-slate-500">
            Why autopilot did what it did — from the records kept at decision time. Intent <Mono>{x.actionIntentId}</Mono>
          </p>
        </div>
        <div className="flex flex-wrap items-center gap-1.5">
          {pending ? (
            <Badge tone="amber">
              <Hand className="size-3.5" aria-hidden /> Waiting for a person
            </Badge>
          ) : (
            <Badge tone={kind.tone}>
              {kind.icon}
              {kind.label}
            </Badge>
          )}
          {!pending && kind.label !== humanize(x.status) && <Badge>Status: {humanize(x.status)}</Badge>}
        </div>
      </div>

      <div className="grid items-start gap-4 lg:grid-cols-2">
        <Card
          title={
            <span className="flex items-center gap-2">
              <FileSearch className="size-4 text-slate-500" aria-hidden /> Why
            </span>
          }
        >
          <Fields>
            <Field label="Trigger">
              {trigger.source === "API"
                ? "Proposed through the API"
                : trigger.source === "DECISION"
                  ? "Autopilot's decision run"
                  : humanize(String(trigger.source))}
              <div className="text-xs text-slate-500">
                {trigger.triggerType && <>{humanize(trigger.triggerType)} · </>}by <Mono>{String(trigger.proposedBy ?? "unknown")}</Mono> ·{" "}
                <RelativeTime value={trigger.proposedAt} />
              </div>
            </Field>
            <Field label="Signals behind it">
              <div className="flex flex-wrap gap-1">
                {(Array.isArray(trigger.why) ? (trigger.why as string[]) : []).map((w) => (
                  <Badge key={w} title={w}>
                    {humanize(w)}
                  </Badge>
                ))}
              </div>
            </Field>
            <Field label="Cost gate">
              {x.why.costGate ? (
                <span>
                  <Badge tone={x.why.costGate.result === "ALLOW" ? "green" : x.why.costGate.result === "DEFER" ? "amber" : "slate"}>
                    {x.why.costGate.result}
                  </Badge>{" "}
                  {x.why.costGate.explanation ?? ""}
                  {x.why.costGate.synthesizer && (
                    <span className="text-xs text-slate-500"> · proposals by {x.why.costGate.synthesizer}</span>
                  )}
                </span>
              ) : (
                <span className="text-slate-500">
                  {trigger.source === "API" ? "Not applicable — the intent came in through the API" : "Not recorded"}
                </span>
              )}
            </Field>
            <Field label="Policy decision">
              <DecisionBadge decision={x.why.policyDecision} />
            </Field>
            <Field label="Reason">
              {reasonLabel(x.why.reason)} {x.why.reason && <Mono>{x.why.reason}</Mono>}
            </Field>
            <Field label="Explanation">
              <span data-testid="explanation-sentence">{x.why.explanation ?? "—"}</span>
            </Field>
          </Fields>
          <SubHeading>People who reviewed it</SubHeading>
          {x.why.humanReviews.length === 0 ? (
            <p className="px-4 py-3 text-slate-500">{pending ? "Nobody yet — it is waiting in the inbox." : "No human review."}</p>
          ) : (
            <ol className="space-y-3 px-4 py-3">
              {x.why.humanReviews.map((r, idx) => (
                <li key={idx} className="rounded-md border border-slate-200 px-3 py-2">
                  <div className="flex flex-wrap items-center gap-2">
                    {r.decision === "APPROVED" ? (
                      <Badge tone="green">
                        <CircleCheck className="size-3.5" aria-hidden /> {r.diff ? "Edited & approved" : "Approved"}
                      </Badge>
                    ) : (
                      <Badge tone="slate">
                        <CircleX className="size-3.5" aria-hidden /> {humanize(r.decision)}
                      </Badge>
                    )}
                    <span className="text-xs text-slate-500">
                      {r.actor.name ?? humanize(r.actor.type)} {!r.actor.name && <Mono>{r.actor.id ?? "?"}</Mono>} ·{" "}
                      <RelativeTime value={r.at} />
                    </span>
                  </div>
                  {r.reason && <p className="mt-1 text-slate-700">“{r.reason}”</p>}
                  <Diff diff={r.diff} />
                </li>
              ))}
            </ol>
          )}
        </Card>

        <Card
          title={
            <span className="flex items-center gap-2">
              <Brain className="size-4 text-slate-500" aria-hidden /> What it knew
            </span>
          }
        >
          <Fields>
            <Field label="Action">
              {reg.label(snap.actionType)} <Mono>{snap.actionType}</Mono>
            </Field>
            <Field label="Confidence · risk">
              <span className="flex flex-wrap gap-1.5">
                <ConfidenceBadge value={snap.confidence} />
                <RiskBadge risk={snap.riskLevel} />
              </span>
            </Field>
            <Field label="Open questions">
              {Array.isArray(snap.blockingUnknowns) && snap.blockingUnknowns.length > 0 ? (
                <ul className="list-disc pl-4">
                  {(snap.blockingUnknowns as string[]).map((u) => (
                    <li key={u}>{u}</li>
                  ))}
                </ul>
              ) : (
                <span className="text-slate-400">none</span>
              )}
            </Field>
            <Field label={executedDiffers ? "Proposed parameters" : "Parameters"}>
              <ParamTable params={snap.parameters} />
            </Field>
            {executedDiffers && (
              <Field label={`Executed (v${snap.version})`}>
                <ParamTable params={snap.executedParameters} />
              </Field>
            )}
            {snap.target && typeof snap.target === "object" && Object.keys(snap.target).length > 0 ? (
              <Field label="Target">
                <ParamTable params={snap.target} />
              </Field>
            ) : null}
            <Field label="Account then">
              {acct ? (
                <span className="flex flex-wrap gap-1.5">
                  {acct.lifecycle && <Badge tone={LIFECYCLE_TONE[acct.lifecycle]}>{humanize(acct.lifecycle)}</Badge>}
                  {acct.posture && <Badge tone={POSTURE_TONE[acct.posture]}>Posture: {humanize(acct.posture)}</Badge>}
                  {acct.momentum && (
                    <Badge>
                      Momentum: <span aria-hidden>{MOMENTUM_ARROW[acct.momentum]}</span> {humanize(acct.momentum)}
                    </Badge>
                  )}
                  {acct.heatTier && <Badge tone={TIER_TONE[acct.heatTier]}>{acct.heatTier}</Badge>}
                </span>
              ) : (
                <span className="text-slate-400">not recorded</span>
              )}
            </Field>
          </Fields>
          <SubHeading>Signals seen before it ({x.whatItKnew.signals.length})</SubHeading>
          {x.whatItKnew.signals.length === 0 ? (
            <p className="px-4 py-3 text-slate-500">No signals for this account before the proposal.</p>
          ) : (
            <ol className="divide-y divide-slate-100">
              {x.whatItKnew.signals.map((s) => (
                <li key={s.seq} className="flex items-start justify-between gap-3 px-4 py-1.5">
                  <span>{describeEntry("SIGNAL_RECEIVED", s as Record<string, unknown>)}</span>
                  <span className="shrink-0 text-right text-xs text-slate-500">
                    <RelativeTime value={s.at} /> · #{s.seq}
                  </span>
                </li>
              ))}
            </ol>
          )}
        </Card>

        <Card
          className="lg:col-span-2"
          title={
            <span className="flex items-center gap-2">
              <Scale className="size-4 text-slate-500" aria-hidden /> Which policy
            </span>
          }
        >
          <Fields>
            <Field label="Policy version">{x.whichPolicy.policyVersion ? <Mono>{x.whichPolicy.policyVersion}</Mono> : "—"}</Field>
            <Field label="Deciding clause">{x.whichPolicy.policyClause ? <Mono>{x.whichPolicy.policyClause}</Mono> : "—"}</Field>
            <Field label="Clauses that applied">
              {x.whichPolicy.clauses.length === 0 ? (
                <span className="text-slate-400">none recorded</span>
              ) : (
                <ol className="space-y-0.5">
                  {x.whichPolicy.clauses.map((c) => (
                    <li key={c} className="flex flex-wrap items-center gap-1.5">
                      <Mono>{c}</Mono>
                      {c === x.whichPolicy.policyClause && <Badge tone="blue">deciding</Badge>}
                    </li>
                  ))}
                </ol>
              )}
            </Field>
            <Field label="Autonomy mode">
              {mode ? (MODE_LABEL[mode] ?? humanize(mode)) : "—"}
              {modeSource && (
                <span className="text-xs text-slate-500"> · from the {MODE_SOURCE_LABEL[modeSource] ?? humanize(modeSource)}</span>
              )}
            </Field>
            {policyInput && (
              <Field label="Gate inputs">
                <span className="text-xs text-slate-700">
                  {policyInput.allowlisted ? "On the allowlist" : "Not on the allowlist"}
                  {" · "}
                  {policyInput.killSwitch
                    ? `kill switch ${policyInput.killSwitch.scope} on (${policyInput.killSwitch.reason})`
                    : "no kill switch"}
                  {policyInput.thresholds?.minConfidence !== undefined && ` · min confidence ${policyInput.thresholds.minConfidence}`}
                </span>
              </Field>
            )}
            <Field label="Approval source">
              {x.whichPolicy.approvalSource ? (
                x.whichPolicy.approvalSource === "HUMAN" ? (
                  "A person (HUMAN)"
                ) : (
                  "Policy (POLICY)"
                )
              ) : (
                <span className="text-slate-400">not executed</span>
              )}
            </Field>
            <Field label="Auto-executed">
              {x.whichPolicy.autoExecuted ? (
                <Badge tone="blue">
                  <Bot className="size-3.5" aria-hidden /> Yes, by autopilot
                </Badge>
              ) : (
                "No"
              )}
            </Field>
          </Fields>

          <SubHeading>Execution</SubHeading>
          {x.execution ? (
            <div className="space-y-2 px-4 py-3">
              <div className="flex flex-wrap items-center gap-2">
                <Badge tone={x.execution.status === "SUCCEEDED" ? "green" : x.execution.status === "FAILED" ? "red" : "blue"}>
                  {humanize(x.execution.status)}
                </Badge>
                <Mono>{x.execution.id}</Mono>
                <span className="text-xs text-slate-500">
                  started <RelativeTime value={x.execution.startedAt} />
                  {x.execution.finishedAt && (
                    <>
                      {" "}
                      · finished <RelativeTime value={x.execution.finishedAt} />
                    </>
                  )}
                </span>
              </div>
              {x.execution.error && <p className="rounded bg-red-50 px-2 py-1 text-red-800 ring-1 ring-red-200">{x.execution.error}</p>}
              {x.execution.toolCalls.length > 0 && (
                <table className="w-full table-fixed text-left text-xs">
                  <thead className="text-slate-500">
                    <tr>
                      <th className="w-56 py-0.5 font-medium">Tool call</th>
                      <th className="py-0.5 font-medium">Idempotency key</th>
                      <th className="w-20 py-0.5 font-medium">Status</th>
                    </tr>
                  </thead>
                  <tbody className="align-top">
                    {x.execution.toolCalls.map((t) => (
                      <tr key={t.id}>
                        <td className="py-0.5 pr-2">
                          {t.connector}.{t.operation}
                        </td>
                        <td className="py-0.5 pr-2">
                          <Mono>{t.idempotencyKey}</Mono>
                        </td>
                        <td className="py-0.5" title={t.error ?? undefined}>
                          {humanize(t.status)}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </div>
          ) : (
            <p className="px-4 py-3 text-slate-500">Not executed.</p>
          )}

          <SubHeading>Outcomes</SubHeading>
          {x.outcomes.length === 0 ? (
            <p className="px-4 py-3 text-slate-500">None recorded yet.</p>
          ) : (
            <ul className="space-y-1 px-4 py-3">
              {x.outcomes.map((o, idx) => (
                <li key={idx} className="flex items-center justify-between gap-2">
                  <Badge>{humanize(o.label)}</Badge>
                  <span className="text-xs text-slate-500">
                    <RelativeTime value={o.at} />
                  </span>
                </li>
              ))}
            </ul>
          )}

          <SubHeading>Ledger entries</SubHeading>
          <div className="px-4 py-3">
            <p className="mb-1.5 text-xs text-slate-500">
              Correlation <Mono>{x.correlationId}</Mono>
              {x.whichPolicy.references.policyEvaluationId && (
                <>
                  {" "}
                  · evaluation <Mono>{x.whichPolicy.references.policyEvaluationId}</Mono>
                </>
              )}
            </p>
            <ol className="space-y-0.5 text-xs">
              {x.whichPolicy.references.ledger.map((l) => (
                <li key={l.seq} className="grid grid-cols-[3rem_minmax(0,1fr)_5.5rem] items-center gap-2">
                  <span className="tabular-nums text-slate-500">#{l.seq}</span>
                  {canSeeLedger ? (
                    <Link
                      href={`/ledger?correlation=${encodeURIComponent(x.correlationId)}`}
                      className="truncate text-brand-700 hover:underline"
                      title={`${l.type} — open this story in the ledger`}
                    >
                      {l.type}
                    </Link>
                  ) : (
                    <span className="truncate">{l.type}</span>
                  )}
                  <span className={cx("truncate font-mono text-slate-500")} title={l.hash}>
                    {l.hash.slice(0, 10)}
                  </span>
                </li>
              ))}
            </ol>
          </div>
        </Card>
      </div>
    </div>
  );
}
