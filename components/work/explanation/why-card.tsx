import { CircleCheck, CircleX, FileSearch } from "lucide-react";
import { humanize } from "../../labels";
import { Badge, Card } from "../../ui/primitives";
import { RelativeTime } from "../../ui/time";
import { reasonLabel } from "../labels";
import type { Explanation } from "../types";
import { DecisionBadge, Diff, Field, Fields, Mono, SubHeading } from "./parts";

/** Why: the trigger, the cost gate, the policy decision and the people who reviewed it. */
export function WhyCard({ x, pending }: { x: Explanation; pending: boolean }) {
  const trigger = x.why.trigger;
  return (
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
              {x.why.costGate.synthesizer && <span className="text-xs text-slate-500"> · proposals by {x.why.costGate.synthesizer}</span>}
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
  );
}
