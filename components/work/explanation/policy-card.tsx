import { Bot, Scale } from "lucide-react";
import Link from "next/link";
import { humanize } from "../../labels";
import { Badge, Card, cx } from "../../ui/primitives";
import { RelativeTime } from "../../ui/time";
import { MODE_LABEL, MODE_SOURCE_LABEL } from "../labels";
import type { Explanation } from "../types";
import { Field, Fields, Mono, SubHeading } from "./parts";

/** Which policy: version, clauses, mode, gate inputs, execution, outcomes and the ledger story. */
export function PolicyCard({ x, canSeeLedger }: { x: Explanation; canSeeLedger: boolean }) {
  const mode = typeof x.whichPolicy.mode === "string" ? x.whichPolicy.mode : null;
  const modeSource = typeof x.whichPolicy.modeSource === "string" ? x.whichPolicy.modeSource : null;
  const policyInput = x.whatItKnew.policyInput;
  return (
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
            <span className="text-slate-500">none recorded</span>
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
            <span className="text-slate-500">not executed</span>
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
  );
}
