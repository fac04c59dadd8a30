"use client";

import { useId, useState } from "react";
import type { TenantTier } from "@/server/engine/costGate";
import { Card, ErrorState, LoadingState } from "../ui/primitives";
import { FormActions, inputClass, type Notice, NumberField, parseWhole, SaveNotice } from "./fields";
import { duration, errorInfo } from "./labels";
import type { DecisionSettings } from "./types";
import { useDecisionSettings, useSyncedForm } from "./use-settings";

const WEEK = 7 * 86_400;

type Form = { runs: string; tokens: string; minGap: string; openIntents: string; tier: string };

const TIER_HINT: Record<string, string> = {
  FREE: "Only low-severity news waits for the scheduled rituals",
  TEAM: "Every account may run when something new arrives",
  ENTERPRISE: "Every account may run when something new arrives",
};

function toForm(s: DecisionSettings): Form {
  const c = s.costGate;
  return {
    runs: String(c.maxRunsPerDay),
    tokens: c.maxTokensPerDay === null ? "" : String(c.maxTokensPerDay),
    minGap: String(c.minSecondsBetweenRuns),
    openIntents: String(c.maxOpenIntents),
    tier: c.tier,
  };
}

function validate(f: Form) {
  const e: Record<string, string> = {};
  if (parseWhole(f.runs, 0, 1_000_000) === null) e.runs = "A whole number from 0 to 1000000";
  if (f.tokens.trim() !== "" && parseWhole(f.tokens, 0, 1_000_000_000) === null) e.tokens = "Blank, or a whole number up to 1000000000";
  if (parseWhole(f.minGap, 0, WEEK) === null) e.minGap = "Whole seconds, 0 to 604800 (7 days)";
  if (parseWhole(f.openIntents, 0, 1000) === null) e.openIntents = "A whole number from 0 to 1000";
  return e;
}

/** The decision cost gate (SPEC §4.3): is a run worth its cost? ALLOW, DEFER (retried once) or SKIP. */
export function CostGateCard({ tiers }: { tiers: readonly TenantTier[] }) {
  const { query, save } = useDecisionSettings();
  const { form, setForm, dirty, reset } = useSyncedForm(query.data, toForm);
  const [notice, setNotice] = useState<Notice>(null);
  const id = useId();
  const errors = form ? validate(form) : {};
  const valid = Object.keys(errors).length === 0;

  function submit() {
    if (!form || !valid || !dirty) return;
    setNotice(null);
    save.mutate(
      {
        costGate: {
          maxRunsPerDay: Number(form.runs),
          maxTokensPerDay: form.tokens.trim() === "" ? null : Number(form.tokens),
          minSecondsBetweenRuns: Number(form.minGap),
          maxOpenIntents: Number(form.openIntents),
          tier: form.tier as TenantTier,
        },
      },
      {
        onSuccess: () => setNotice({ ok: true, text: "Cost gate saved. The next decision run is judged by it." }),
        onError: (e) => setNotice({ ok: false, text: `Not saved: ${errorInfo(e).message}` }),
      },
    );
  }

  const gap = form ? parseWhole(form.minGap, 0, WEEK) : null;

  return (
    <Card
      title="Cost gate"
      actions={
        <FormActions formId={`${id}-form`} label="Save cost gate" dirty={dirty} valid={valid} pending={save.isPending} onDiscard={reset} />
      }
    >
      {query.isPending || (!query.isError && !form) ? (
        <LoadingState label="Loading cost gate…" />
      ) : query.isError || !form ? (
        <ErrorState message={query.error?.message ?? "Could not load the cost gate"} onRetry={() => query.refetch()} />
      ) : (
        <form
          id={`${id}-form`}
          noValidate
          className="space-y-4 px-4 py-3"
          onSubmit={(e) => {
            e.preventDefault();
            submit();
          }}
        >
          <p className="text-slate-600">
            Before any synthesis the gate decides: <strong className="font-medium text-slate-800">allow</strong>,{" "}
            <strong className="font-medium text-slate-800">defer</strong> (retried once, later) or{" "}
            <strong className="font-medium text-slate-800">skip</strong> for this cycle. Daily counts reset at midnight UTC.
          </p>
          <div className="grid gap-x-4 gap-y-3 sm:grid-cols-2">
            <NumberField
              id={`${id}-runs`}
              label="Decision runs per day"
              value={form.runs}
              onChange={(v) => setForm({ ...form, runs: v })}
              min={0}
              max={1_000_000}
              width="w-32"
              hint="Across the workspace; past it, runs skip"
              error={errors.runs}
            />
            <NumberField
              id={`${id}-tokens`}
              label="Model tokens per day"
              value={form.tokens}
              onChange={(v) => setForm({ ...form, tokens: v })}
              min={0}
              max={1_000_000_000}
              width="w-32"
              placeholder="no cap"
              hint="Blank = no LLM token cap"
              error={errors.tokens}
            />
            <NumberField
              id={`${id}-gap`}
              label="Min seconds between runs"
              value={form.minGap}
              onChange={(v) => setForm({ ...form, minGap: v })}
              min={0}
              max={WEEK}
              width="w-32"
              hint={gap ? `Closer runs of one account defer (${duration(gap)})` : "Closer runs of one account defer"}
              error={errors.minGap}
            />
            <NumberField
              id={`${id}-open`}
              label="Max open proposals"
              value={form.openIntents}
              onChange={(v) => setForm({ ...form, openIntents: v })}
              min={0}
              max={1000}
              width="w-32"
              hint="Waiting on one account; past it, runs skip"
              error={errors.openIntents}
            />
            <div className="sm:col-span-2">
              <label htmlFor={`${id}-tier`} className="mb-1 block font-medium text-slate-700">
                Workspace tier
              </label>
              <select
                id={`${id}-tier`}
                value={form.tier}
                onChange={(e) => setForm({ ...form, tier: e.target.value })}
                aria-describedby={`${id}-tier-hint`}
                className={`${inputClass} w-40`}
              >
                {tiers.map((t) => (
                  <option key={t} value={t}>
                    {t.charAt(0) + t.slice(1).toLowerCase()}
                  </option>
                ))}
              </select>
              <p id={`${id}-tier-hint`} className="mt-0.5 text-xs text-slate-500">
                {TIER_HINT[form.tier] ?? ""}
              </p>
            </div>
          </div>
          <SaveNotice notice={notice} testId="cost-gate-notice" />
        </form>
      )}
    </Card>
  );
}
