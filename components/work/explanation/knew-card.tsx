import { Brain } from "lucide-react";
import { humanize, LIFECYCLE_TONE, MOMENTUM_ARROW, money, POSTURE_TONE } from "../../labels";
import { describeEntry } from "../../ledger/describe";
import { Badge, Card } from "../../ui/primitives";
import { RelativeTime } from "../../ui/time";
import { ConfidenceBadge, RiskBadge, useRegistry } from "../labels";
import type { Explanation } from "../types";
import { Field, Fields, Mono, ParamTable, SubHeading } from "./parts";

/**
 * What it knew: the intent as proposed, the account as the policy saw it, the exact signals of
 * the trigger window that fed the decision run (by id), and the account data the synthesizer had.
 */
export function KnewCard({ x }: { x: Explanation }) {
  const reg = useRegistry();
  const snap = x.whatItKnew.intent;
  const acct = (x.whatItKnew.account ?? null) as Record<string, string> | null;
  const executedDiffers = snap.version > 1 && JSON.stringify(snap.executedParameters) !== JSON.stringify(snap.parameters);
  return (
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
            <span className="text-slate-500">none</span>
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
            </span>
          ) : (
            <span className="text-slate-500">not recorded</span>
          )}
        </Field>
      </Fields>
      <SubHeading>Signals that fed this decision ({x.whatItKnew.signals.length})</SubHeading>
      {x.whatItKnew.signals.length === 0 ? (
        <p className="px-4 py-3 text-slate-500">
          {x.why.trigger.decisionRunId
            ? "No signal: this decision run was started by a schedule, a CRM change or a request."
            : "No signal: this intent did not come from a decision run."}
        </p>
      ) : (
        <ol className="divide-y divide-slate-100" data-testid="explanation-signals">
          {x.whatItKnew.signals.map((s) => (
            <li key={s.id} className="flex items-start justify-between gap-3 px-4 py-1.5">
              <span>
                {describeEntry("SIGNAL_RECEIVED", { signal_type: s.type, severity: s.severity, evidence: s.evidence, source: s.source })}
                <span className="block text-xs text-slate-500">
                  signal <Mono>{s.id}</Mono>
                </span>
              </span>
              <span className="shrink-0 text-right text-xs text-slate-500">
                <RelativeTime value={s.receivedAt} />
                {s.seq !== null && <> · #{s.seq}</>}
              </span>
            </li>
          ))}
        </ol>
      )}
      <SynthesizerInput input={x.whatItKnew.synthesizerInput} />
    </Card>
  );
}

function SynthesizerInput({ input }: { input: Explanation["whatItKnew"]["synthesizerInput"] }) {
  if (!input) return null;
  return (
    <>
      <SubHeading>What the synthesizer was given</SubHeading>
      <Fields>
        <Field label={`Contacts (${input.contacts.length})`}>
          {input.contacts.length === 0 ? (
            <span className="text-slate-500">none on record</span>
          ) : (
            <ul className="space-y-0.5">
              {input.contacts.map((c) => (
                <li key={c.id}>
                  {c.name}
                  {c.title && <span className="text-slate-500"> · {c.title}</span>}
                  {c.email && <span className="text-xs text-slate-500"> · {c.email}</span>}
                </li>
              ))}
            </ul>
          )}
        </Field>
        <Field label={`Opportunities (${input.opportunities.length})`}>
          {input.opportunities.length === 0 ? (
            <span className="text-slate-500">none</span>
          ) : (
            <ul className="space-y-0.5">
              {input.opportunities.map((o) => (
                <li key={o.id}>
                  {o.name}{" "}
                  <span className="text-slate-500">
                    · {humanize(o.stage)} · {money(o.amountCents)}
                  </span>
                  {o.closeDate && <span className="text-xs text-slate-500"> · closes {o.closeDate.slice(0, 10)}</span>}
                </li>
              ))}
            </ul>
          )}
        </Field>
        <Field label={`Recent signals (${input.signals.length})`}>
          {input.signals.length === 0 ? (
            <span className="text-slate-500">none in the look-back</span>
          ) : (
            <span className="flex flex-wrap gap-1">
              {input.signals.map((s, i) => (
                <Badge key={s.id ?? i} title={`${s.severity} · ${s.at}`}>
                  {humanize(s.type)}
                </Badge>
              ))}
            </span>
          )}
        </Field>
        <Field label={`Recent activity (${input.activity.length})`}>
          {input.activity.length === 0 ? (
            <span className="text-slate-500">none</span>
          ) : (
            <span className="text-xs text-slate-700">
              {input.activity
                .slice(0, 8)
                .map((a) => `${humanize(a.actionType)} (${humanize(a.status).toLowerCase()})`)
                .join(" · ")}
              {input.activity.length > 8 && ` · +${input.activity.length - 8} more`}
            </span>
          )}
        </Field>
      </Fields>
    </>
  );
}
