"use client";

import { useId } from "react";
import type { TenantTier } from "@/server/engine/costGate";
import { CostGateSettingsPatch } from "@/server/schemas/decisions";
import { FormCard, inputClass, NumberField } from "./fields";
import { duration } from "./labels";
import { useSettingsHalfForm } from "./use-settings";

const WEEK = 7 * 86_400;

const TIER_HINT: Record<string, string> = {
  FREE: "Only low-severity news waits for the scheduled rituals",
  TEAM: "Every account may run when something new arrives",
  ENTERPRISE: "Every account may run when something new arrives",
};

const whole = { valueAsNumber: true } as const;
// A blank token cap means "no cap" (null), which the schema accepts; anything else must be a number.
const nullableWhole = { setValueAs: (v: unknown) => (v === "" || v === null ? null : Number(v)) } as const;

/** The decision cost gate (SPEC §4.3): is a run worth its cost? ALLOW, DEFER (retried once) or SKIP. */
export function CostGateCard({ tiers }: { tiers: readonly TenantTier[] }) {
  const id = useId();
  const { form, card } = useSettingsHalfForm("costGate", CostGateSettingsPatch, {
    loading: "Loading cost gate…",
    saved: "Cost gate saved. The next decision run is judged by it.",
  });
  const { errors } = form.formState;
  const gap = form.watch("minSecondsBetweenRuns");
  const tier = form.watch("tier");

  return (
    <FormCard title="Cost gate" saveLabel="Save cost gate" {...card} noticeTestId="cost-gate-notice">
      <p className="text-slate-600">
        Before any synthesis the gate decides: <strong className="font-medium text-slate-800">allow</strong>,{" "}
        <strong className="font-medium text-slate-800">defer</strong> (retried once, later) or{" "}
        <strong className="font-medium text-slate-800">skip</strong> for this cycle. Daily counts reset at midnight UTC.
      </p>
      <div className="grid gap-x-4 gap-y-3 sm:grid-cols-2">
        <NumberField
          id={`${id}-runs`}
          label="Decision runs per day"
          field={form.register("maxRunsPerDay", whole)}
          min={0}
          max={1_000_000}
          width="w-32"
          hint="Across the workspace; past it, runs skip"
          error={errors.maxRunsPerDay?.message}
        />
        <NumberField
          id={`${id}-tokens`}
          label="Model tokens per day"
          field={form.register("maxTokensPerDay", nullableWhole)}
          min={0}
          max={1_000_000_000}
          width="w-32"
          placeholder="no cap"
          hint="Blank = no LLM token cap"
          error={errors.maxTokensPerDay?.message}
        />
        <NumberField
          id={`${id}-gap`}
          label="Min seconds between runs"
          field={form.register("minSecondsBetweenRuns", whole)}
          min={0}
          max={WEEK}
          width="w-32"
          hint={
            gap && Number.isSafeInteger(gap) && gap > 0 && gap <= WEEK
              ? `Closer runs of one account defer (${duration(gap)})`
              : "Closer runs of one account defer"
          }
          error={errors.minSecondsBetweenRuns?.message}
        />
        <NumberField
          id={`${id}-open`}
          label="Max open proposals"
          field={form.register("maxOpenIntents", whole)}
          min={0}
          max={1000}
          width="w-32"
          hint="Waiting on one account; past it, runs skip"
          error={errors.maxOpenIntents?.message}
        />
        <div className="sm:col-span-2">
          <label htmlFor={`${id}-tier`} className="mb-1 block font-medium text-slate-700">
            Workspace tier
          </label>
          <select id={`${id}-tier`} {...form.register("tier")} aria-describedby={`${id}-tier-hint`} className={`${inputClass} w-40`}>
            {tiers.map((t) => (
              <option key={t} value={t}>
                {t.charAt(0) + t.slice(1).toLowerCase()}
              </option>
            ))}
          </select>
          <p id={`${id}-tier-hint`} className="mt-0.5 text-xs text-slate-600">
            {TIER_HINT[tier ?? ""] ?? ""}
          </p>
        </div>
      </div>
    </FormCard>
  );
}
