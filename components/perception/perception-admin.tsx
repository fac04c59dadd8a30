"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Gauge, Hourglass, OctagonX, TimerReset } from "lucide-react";
import dynamic from "next/dynamic";
import Link from "next/link";
import { useId, useState } from "react";
import { FormActions, inputClass, type Notice, NumberField, parseWhole, SaveNotice } from "../decisions/fields";
import { errorInfo, shortId } from "../decisions/labels";
import { UpdatedNote } from "../decisions/updated-note";
import { useSyncedForm } from "../decisions/use-settings";
import { useTRPC } from "../trpc";
import { Badge, Card, cx, EmptyState, ErrorState, LoadingState, type Tone } from "../ui/primitives";
import { RelativeTime } from "../ui/time";

// Recharts is ~115 KB gzip: it loads after the page, only where a chart is drawn.
const PullUnitsChart = dynamic(() => import("./PullUnitsChart").then((m) => m.PullUnitsChart), {
  ssr: false,
  loading: () => <LoadingState label="Loading chart…" />,
});

const fmt = new Intl.NumberFormat("en-US");
const REFRESH_MS = 15_000;
const TIERS = ["HOT", "WARM", "COLD"] as const;
type TierName = (typeof TIERS)[number];

// ───────────── today: units by connector and throttles ─────────────

function Stat({ icon, label, value, hint, warn }: { icon: React.ReactNode; label: string; value: string; hint?: string; warn?: boolean }) {
  return (
    <li className={cx("rounded-md border px-3 py-2", warn ? "border-amber-300 bg-amber-50" : "border-slate-200")}>
      <div className="flex items-center gap-1.5 text-xs font-medium text-slate-600">
        {icon} {label}
      </div>
      <div className="text-xl font-semibold tabular-nums text-slate-900">{value}</div>
      {hint && <div className="text-xs text-slate-600">{hint}</div>}
    </li>
  );
}

function TodayCard() {
  const trpc = useTRPC();
  const q = useQuery({ ...trpc.perception.today.queryOptions(), refetchInterval: REFRESH_MS });
  const d = q.data;
  return (
    <Card title="Today's pulls" actions={<UpdatedNote at={q.dataUpdatedAt} fetching={q.isFetching} />}>
      {q.isPending ? (
        <LoadingState label="Loading today's pulls…" />
      ) : q.isError || !d ? (
        <ErrorState message={q.error?.message ?? "Could not load today's pulls"} onRetry={() => q.refetch()} />
      ) : (
        <div className="space-y-3 px-4 py-3">
          <ul className="grid grid-cols-2 gap-2 lg:grid-cols-4" aria-label="Pull budget today">
            <Stat
              icon={<Gauge className="size-3.5" aria-hidden />}
              label="Units used"
              value={`${fmt.format(d.usedToday)} / ${fmt.format(d.unitsPerDay)}`}
              hint={`UTC day ${d.dateKey}`}
              warn={d.usedToday >= d.unitsPerDay}
            />
            <Stat
              icon={<Hourglass className="size-3.5" aria-hidden />}
              label="Remaining"
              value={fmt.format(Math.max(0, d.unitsPerDay - d.usedToday))}
              hint="shallow 1 unit · deep 3"
            />
            <Stat
              icon={<TimerReset className="size-3.5" aria-hidden />}
              label="Rate limited"
              value={fmt.format(d.throttles.rateLimited)}
              hint="pulls deferred to the next minute"
              warn={d.throttles.rateLimited > 0}
            />
            <Stat
              icon={<OctagonX className="size-3.5" aria-hidden />}
              label="Budget exhausted"
              value={fmt.format(d.throttles.budgetExhausted)}
              hint="pulls deferred to tomorrow"
              warn={d.throttles.budgetExhausted > 0}
            />
          </ul>
          <p className="text-slate-700" data-testid="throttles-hit">
            <strong className="font-semibold tabular-nums">{fmt.format(d.throttles.total)}</strong> throttle
            {d.throttles.total === 1 ? "" : "s"} hit today
          </p>
          <PullUnitsChart data={d.byConnector} unitsPerDay={d.unitsPerDay} height={40 + 34 * d.byConnector.length} />
        </div>
      )}
    </Card>
  );
}

// ───────────── budget ─────────────

type BudgetForm = { units: string; caps: Record<string, string> };

function BudgetCard({ connectors }: { connectors: readonly string[] }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const query = useQuery(trpc.perception.budget.queryOptions());
  const save = useMutation(
    trpc.perception.setBudget.mutationOptions({
      onSuccess: (next) => {
        qc.setQueryData(trpc.perception.budget.queryKey(), next);
        qc.invalidateQueries({ queryKey: trpc.perception.today.queryKey() });
      },
    }),
  );
  const names = [...new Set([...connectors, ...Object.keys(query.data?.perConnector ?? {})])].sort();
  const toForm = (b: { unitsPerDay: number; perConnector: Record<string, number> }): BudgetForm => ({
    units: String(b.unitsPerDay),
    caps: Object.fromEntries(names.map((n) => [n, b.perConnector[n] === undefined ? "" : String(b.perConnector[n])])),
  });
  const { form, setForm, dirty, reset } = useSyncedForm(query.data, toForm);
  const [notice, setNotice] = useState<Notice>(null);
  const id = useId();
  const errors: Record<string, string> = {};
  if (form) {
    if (parseWhole(form.units, 0, 10_000_000) === null) errors.units = "A whole number from 0 to 10000000";
    for (const [n, v] of Object.entries(form.caps))
      if (v.trim() !== "" && parseWhole(v, 0, 10_000_000) === null) errors[n] = "Blank, or a whole number";
  }
  const valid = Object.keys(errors).length === 0;

  function submit() {
    if (!form || !valid || !dirty) return;
    setNotice(null);
    const perConnector: Record<string, number> = {};
    for (const [n, v] of Object.entries(form.caps)) if (v.trim() !== "") perConnector[n] = Number(v);
    save.mutate(
      { unitsPerDay: Number(form.units), perConnector },
      {
        onSuccess: () => setNotice({ ok: true, text: "Pull budget saved. The next pull is judged by it." }),
        onError: (e) => setNotice({ ok: false, text: `Not saved: ${errorInfo(e).message}` }),
      },
    );
  }

  return (
    <Card
      title="Daily pull budget"
      actions={
        <FormActions formId={`${id}-form`} label="Save budget" dirty={dirty} valid={valid} pending={save.isPending} onDiscard={reset} />
      }
    >
      {query.isPending || (!query.isError && !form) ? (
        <LoadingState label="Loading pull budget…" />
      ) : query.isError || !form ? (
        <ErrorState message={query.error?.message ?? "Could not load the pull budget"} onRetry={() => query.refetch()} />
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
            Every pull costs units (shallow 1, deep 3) from the workspace's daily total and, if set, its connector's cap. Spent atomically:
            concurrent pulls never overspend. Resets at midnight UTC.
          </p>
          <div className="grid gap-x-4 gap-y-3 sm:grid-cols-3">
            <NumberField
              id={`${id}-units`}
              label="Units per day"
              value={form.units}
              onChange={(v) => setForm({ ...form, units: v })}
              min={0}
              max={10_000_000}
              width="w-32"
              hint="Whole workspace"
              error={errors.units}
            />
            {names.map((n) => (
              <NumberField
                key={n}
                id={`${id}-cap-${n}`}
                label={`${n} cap`}
                value={form.caps[n] ?? ""}
                onChange={(v) => setForm({ ...form, caps: { ...form.caps, [n]: v } })}
                min={0}
                max={10_000_000}
                width="w-32"
                placeholder="no cap"
                hint="Blank = only the total applies"
                error={errors[n]}
              />
            ))}
          </div>
          <SaveNotice notice={notice} testId="pull-budget-notice" />
        </form>
      )}
    </Card>
  );
}

// ───────────── cadence table ─────────────

type Range = { minHours: number; maxHours: number } | null;
type Table = Record<TierName, { shallow: Range; deep: Range; shallowOnSignal: boolean }>;
type RangeForm = { on: boolean; min: string; max: string };
type CadenceForm = Record<TierName, { shallow: RangeForm; deep: RangeForm; shallowOnSignal: boolean }>;

const rangeForm = (r: Range): RangeForm =>
  r ? { on: true, min: String(r.minHours), max: String(r.maxHours) } : { on: false, min: "", max: "" };
const toCadenceForm = (c: { tiers: Table }): CadenceForm =>
  Object.fromEntries(
    TIERS.map((t) => [
      t,
      { shallow: rangeForm(c.tiers[t].shallow), deep: rangeForm(c.tiers[t].deep), shallowOnSignal: c.tiers[t].shallowOnSignal },
    ]),
  ) as CadenceForm;

function hours(text: string) {
  if (!/^\s*\d+(\.\d+)?\s*$/.test(text)) return null;
  const n = Number(text);
  return n >= 0.25 && n <= 2160 ? n : null;
}

function rangeError(r: RangeForm): string | null {
  if (!r.on) return null;
  const min = hours(r.min);
  const max = hours(r.max);
  if (min === null || max === null) return "Hours from 0.25 to 2160";
  if (max < min) return "The longest must not be shorter than the shortest";
  return null;
}

const TIER_TONE: Record<TierName, Tone> = { HOT: "red", WARM: "amber", COLD: "blue" };

function RangeCell({
  tier,
  depth,
  value,
  onChange,
}: {
  tier: TierName;
  depth: "shallow" | "deep";
  value: RangeForm;
  onChange: (v: RangeForm) => void;
}) {
  const id = useId();
  const err = rangeError(value);
  const what = `${tier} ${depth}`;
  return (
    <td className="py-2 pr-3 align-top">
      <label className="flex items-center gap-1.5 text-slate-700">
        <input
          type="checkbox"
          checked={value.on}
          onChange={(e) => onChange({ ...value, on: e.target.checked, min: value.min || "6", max: value.max || value.min || "6" })}
        />
        On a schedule
      </label>
      {value.on && (
        <div className="mt-1 flex items-center gap-1">
          <span className="text-slate-600">every</span>
          <input
            aria-label={`${what}: shortest interval in hours`}
            value={value.min}
            inputMode="decimal"
            onChange={(e) => onChange({ ...value, min: e.target.value })}
            aria-invalid={err ? true : undefined}
            aria-describedby={err ? `${id}-err` : undefined}
            className={cx(inputClass, "w-16")}
          />
          <span className="text-slate-600">–</span>
          <input
            aria-label={`${what}: longest interval in hours`}
            value={value.max}
            inputMode="decimal"
            onChange={(e) => onChange({ ...value, max: e.target.value })}
            aria-invalid={err ? true : undefined}
            aria-describedby={err ? `${id}-err` : undefined}
            className={cx(inputClass, "w-16")}
          />
          <span className="text-slate-600">h</span>
        </div>
      )}
      {err && (
        <p id={`${id}-err`} className="mt-0.5 text-xs text-red-700">
          {err}
        </p>
      )}
    </td>
  );
}

function describeRange(r: Range) {
  if (!r) return "none";
  const h = (x: number) => (x >= 48 && x % 24 === 0 ? `${x / 24} d` : `${x} h`);
  return r.minHours === r.maxHours ? `every ${h(r.minHours)}` : `every ${h(r.minHours)}–${h(r.maxHours)}`;
}

function CadenceCard() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const query = useQuery(trpc.perception.cadence.queryOptions());
  const save = useMutation(
    trpc.perception.setCadence.mutationOptions({ onSuccess: (next) => qc.setQueryData(trpc.perception.cadence.queryKey(), next) }),
  );
  const { form, setForm, dirty, reset } = useSyncedForm(query.data as { tiers: Table } | undefined, toCadenceForm);
  const [notice, setNotice] = useState<Notice>(null);
  const id = useId();
  const valid = !!form && TIERS.every((t) => !rangeError(form[t].shallow) && !rangeError(form[t].deep));

  function submit() {
    if (!form || !valid || !dirty) return;
    setNotice(null);
    const range = (r: RangeForm) => (r.on ? { minHours: Number(r.min), maxHours: Number(r.max) } : null);
    const tiers = Object.fromEntries(
      TIERS.map((t) => [t, { shallow: range(form[t].shallow), deep: range(form[t].deep), shallowOnSignal: form[t].shallowOnSignal }]),
    ) as Table;
    save.mutate(
      { tiers },
      {
        onSuccess: () => setNotice({ ok: true, text: "Cadence saved. Every account's next pull is recomputed on the next tick." }),
        onError: (e) => setNotice({ ok: false, text: `Not saved: ${errorInfo(e).message}` }),
      },
    );
  }

  const defaults = query.data?.defaults as Table | undefined;
  return (
    <Card
      title="Cadence by heat tier"
      actions={
        <FormActions formId={`${id}-form`} label="Save cadence" dirty={dirty} valid={valid} pending={save.isPending} onDiscard={reset} />
      }
    >
      {query.isPending || (!query.isError && !form) ? (
        <LoadingState label="Loading cadence…" />
      ) : query.isError || !form ? (
        <ErrorState message={query.error?.message ?? "Could not load the cadence"} onRetry={() => query.refetch()} />
      ) : (
        <form
          id={`${id}-form`}
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            submit();
          }}
        >
          <p className="px-4 pt-3 text-slate-600">
            How often each tier is pulled, and how deep. A range spreads accounts evenly over it (each account keeps its own interval), so a
            large COLD population never comes due at once.
          </p>
          <div className="overflow-x-auto">
            <table className="mt-2 w-full text-left">
              <thead className="border-y border-slate-200 bg-slate-50 text-xs text-slate-600">
                <tr>
                  <th scope="col" className="py-2 pr-3 pl-4 font-medium">
                    Tier
                  </th>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    Shallow pull (1 unit)
                  </th>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    Deep pull (3 units)
                  </th>
                  <th scope="col" className="py-2 pr-4 font-medium">
                    Shallow on new signal
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {TIERS.map((t) => (
                  <tr key={t} data-testid={`cadence-tier-${t}`}>
                    <th scope="row" className="py-2 pr-3 pl-4 text-left align-top font-normal">
                      <Badge tone={TIER_TONE[t]}>{t}</Badge>
                      {defaults && (
                        <div className="mt-1 text-xs text-slate-500">
                          default: shallow {describeRange(defaults[t].shallow)}, deep {describeRange(defaults[t].deep)}
                        </div>
                      )}
                    </th>
                    <RangeCell
                      tier={t}
                      depth="shallow"
                      value={form[t].shallow}
                      onChange={(v) => setForm({ ...form, [t]: { ...form[t], shallow: v } })}
                    />
                    <RangeCell
                      tier={t}
                      depth="deep"
                      value={form[t].deep}
                      onChange={(v) => setForm({ ...form, [t]: { ...form[t], deep: v } })}
                    />
                    <td className="py-2 pr-4 align-top">
                      <label className="flex items-center gap-1.5 text-slate-700">
                        <input
                          type="checkbox"
                          checked={form[t].shallowOnSignal}
                          onChange={(e) => setForm({ ...form, [t]: { ...form[t], shallowOnSignal: e.target.checked } })}
                        />
                        Pull on signal
                      </label>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="px-4 py-3">
            <SaveNotice notice={notice} testId="cadence-notice" />
          </div>
        </form>
      )}
    </Card>
  );
}

// ───────────── recent decisions ─────────────

const RESULT_TONE: Record<string, Tone> = { RUN: "green", DEFER: "amber", SKIP: "slate" };
const REASON_TEXT: Record<string, string> = {
  ADMITTED: "Admitted",
  DUPLICATE_PULL_JOB_ID: "Duplicate pull-job id",
  BUDGET_EXHAUSTED: "Budget exhausted",
  RATE_LIMITED: "Rate limited",
  NO_PULL_RUNNER: "No pull runner",
  CONNECTOR_NOT_CONFIGURED: "Not configured",
  CONNECTOR_DISABLED: "Connector disabled",
  KILL_SWITCH: "Kill switch on",
  BREAKER_OPEN: "Breaker open",
};

function DecisionsCard() {
  const trpc = useTRPC();
  const q = useQuery({ ...trpc.perception.decisions.queryOptions({ limit: 25 }), refetchInterval: REFRESH_MS });
  return (
    <Card title="Recent pull decisions" actions={<UpdatedNote at={q.dataUpdatedAt} fetching={q.isFetching} />}>
      {q.isPending ? (
        <LoadingState label="Loading pull decisions…" />
      ) : q.isError ? (
        <ErrorState message={q.error.message} onRetry={() => q.refetch()} />
      ) : q.data.items.length === 0 ? (
        <EmptyState title="No pull decisions yet" hint="The perception job asks for pulls as accounts come due." />
      ) : (
        <div className="overflow-x-auto">
          <table className="w-full text-left" data-testid="pull-decisions">
            <thead className="border-b border-slate-200 bg-slate-50 text-xs text-slate-600">
              <tr>
                {["When", "Account", "Connector", "Depth", "Tier", "Result", "Reason", "Units", "Source"].map((h) => (
                  <th key={h} scope="col" className="py-2 pr-3 font-medium first:pl-4">
                    {h}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {q.data.items.map((d) => (
                <tr key={d.seq}>
                  <td className="py-1.5 pr-3 pl-4">
                    <RelativeTime value={d.at} />
                  </td>
                  <td className="py-1.5 pr-3">
                    {d.accountId ? (
                      <Link href={`/accounts/${d.accountId}`} className="text-brand-700 hover:underline" title={d.accountId}>
                        {d.accountName ?? shortId(d.accountId)}
                      </Link>
                    ) : (
                      "—"
                    )}
                  </td>
                  <td className="py-1.5 pr-3">{d.connector}</td>
                  <td className="py-1.5 pr-3">{d.depth === "DEEP" ? "Deep" : "Shallow"}</td>
                  <td className="py-1.5 pr-3">
                    <Badge tone={TIER_TONE[d.tier as TierName] ?? "slate"}>{d.tier}</Badge>
                  </td>
                  <td className="py-1.5 pr-3">
                    <Badge tone={RESULT_TONE[d.result] ?? "slate"}>{d.result}</Badge>
                  </td>
                  <td className="py-1.5 pr-3" title={d.retryAfterSeconds ? `Retry after ${d.retryAfterSeconds} s` : undefined}>
                    {REASON_TEXT[d.reason] ?? d.reason}
                  </td>
                  <td className="py-1.5 pr-3 tabular-nums">{d.units}</td>
                  <td className="py-1.5 pr-3 text-slate-600">{d.source ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

/** Perception admin (SPEC §4.4): what pulling cost today, the budget and cadence that govern it, and each decision. */
export function PerceptionAdmin({ connectors }: { connectors: readonly string[] }) {
  return (
    <div className="space-y-4">
      <TodayCard />
      <div className="grid items-start gap-4 xl:grid-cols-[minmax(0,2fr)_minmax(0,3fr)]">
        <BudgetCard connectors={connectors} />
        <CadenceCard />
      </div>
      <DecisionsCard />
    </div>
  );
}
