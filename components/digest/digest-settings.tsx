"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useMemo } from "react";
import { useForm } from "react-hook-form";
import { z } from "zod";
import { inputClass } from "../decisions/fields";
import { errorInfo } from "../decisions/labels";
import { useTRPC } from "../trpc";
import { Button, Card, ErrorState, LoadingState } from "../ui/primitives";

const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:".]+(?:\.[^\s@<>()[\]\\,;:".]+)+$/u;

function zoneOk(tz: string) {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return tz.length > 0;
  } catch {
    return false;
  }
}

/** The form's own checks mirror the server's (which has the last word and names the field). */
const Form = z
  .object({
    enabled: z.boolean(),
    email: z.string().trim().max(320),
    hour_local: z.coerce.number<string>().int().min(0).max(23),
    timezone: z.string().trim().refine(zoneOk, "Choose an IANA time zone such as Europe/Berlin"),
  })
  .superRefine((v, ctx) => {
    if (v.email !== "" && !EMAIL.test(v.email)) ctx.addIssue({ code: "custom", path: ["email"], message: "Enter an email address" });
    if (v.enabled && v.email === "") ctx.addIssue({ code: "custom", path: ["email"], message: "An enabled digest needs an email address" });
  });
type FormIn = z.input<typeof Form>;
type FormOut = z.output<typeof Form>;

const HOURS = Array.from({ length: 24 }, (_, h) => h);
const when = (iso: string, tz: string) =>
  new Intl.DateTimeFormat("en-US", { timeZone: tz, dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));

/** The viewer's own digest settings: address, local hour and zone, with the next send time. */
export function DigestSettingsCard() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const q = useQuery(trpc.digest.settings.queryOptions({}));
  const ids = { enabled: useId(), email: useId(), hour: useId(), tz: useId(), zones: useId() };
  const zones = useMemo(() => (typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : []), []);
  const form = useForm<FormIn, unknown, FormOut>({
    resolver: zodResolver(Form),
    defaultValues: { enabled: false, email: "", hour_local: "8", timezone: "UTC" },
  });
  const data = q.data;
  useEffect(() => {
    if (data) form.reset({ enabled: data.enabled, email: data.email, hour_local: String(data.hour_local), timezone: data.timezone });
  }, [data, form]);

  const save = useMutation(
    trpc.digest.saveSettings.mutationOptions({
      onSuccess: (v) => {
        qc.setQueryData(trpc.digest.settings.queryKey({}), v);
        void qc.invalidateQueries({ queryKey: trpc.digest.get.queryKey() });
      },
      onError: (err) => {
        const { message, field } = errorInfo(err);
        const key = field === "hour_local" || field === "email" || field === "timezone" ? field : "root";
        form.setError(key, { message });
      },
    }),
  );

  if (q.isLoading) return <LoadingState label="Loading digest settings…" />;
  if (q.error || !data) return <ErrorState message={q.error?.message ?? "Could not load the settings"} onRetry={() => q.refetch()} />;
  const errors = form.formState.errors;

  return (
    <Card title="Digest email">
      <form
        className="space-y-3 px-4 py-3"
        noValidate
        onSubmit={form.handleSubmit((v) =>
          save.mutate({ enabled: v.enabled, email: v.email, hour_local: v.hour_local, timezone: v.timezone }),
        )}
      >
        <label htmlFor={ids.enabled} className="flex items-center gap-2 text-sm font-medium text-slate-800">
          <input id={ids.enabled} type="checkbox" className="size-4" {...form.register("enabled")} />
          Email me the digest every day
        </label>
        <div className="grid gap-3 sm:grid-cols-3">
          <div className="flex flex-col gap-1">
            <label htmlFor={ids.email} className="text-sm font-medium text-slate-700">
              Email address
            </label>
            <input
              id={ids.email}
              type="email"
              className={inputClass}
              aria-invalid={errors.email ? true : undefined}
              aria-describedby={errors.email ? `${ids.email}-err` : undefined}
              {...form.register("email")}
            />
            {errors.email && (
              <p id={`${ids.email}-err`} className="text-xs text-red-700">
                {errors.email.message}
              </p>
            )}
          </div>
          <div className="flex flex-col gap-1">
            <label htmlFor={ids.hour} className="text-sm font-medium text-slate-700">
              Send at (local hour)
            </label>
            <select
              id={ids.hour}
              className={inputClass}
              aria-invalid={errors.hour_local ? true : undefined}
              {...form.register("hour_local")}
            >
              {HOURS.map((h) => (
                <option key={h} value={String(h)}>
                  {String(h).padStart(2, "0")}:00
                </option>
              ))}
            </select>
            {errors.hour_local && <p className="text-xs text-red-700">{errors.hour_local.message}</p>}
          </div>
          <div className="flex flex-col gap-1">
            <label htmlFor={ids.tz} className="text-sm font-medium text-slate-700">
              Time zone
            </label>
            <input
              id={ids.tz}
              list={ids.zones}
              className={inputClass}
              aria-invalid={errors.timezone ? true : undefined}
              aria-describedby={errors.timezone ? `${ids.tz}-err` : undefined}
              {...form.register("timezone")}
            />
            <datalist id={ids.zones}>
              {zones.map((z) => (
                <option key={z} value={z} />
              ))}
            </datalist>
            {errors.timezone && (
              <p id={`${ids.tz}-err`} className="text-xs text-red-700">
                {errors.timezone.message}
              </p>
            )}
          </div>
        </div>
        {errors.root && (
          <p role="alert" className="text-sm text-red-700">
            {errors.root.message}
          </p>
        )}
        <div className="flex flex-wrap items-center gap-3">
          <Button type="submit" variant="primary" disabled={save.isPending}>
            {save.isPending ? "Saving…" : "Save"}
          </Button>
          <p className="text-sm text-slate-600" data-testid="digest-next-send">
            {data.next_send_at
              ? `Next digest: ${when(data.next_send_at, data.timezone)} (${data.timezone}), covering the day before.`
              : "The digest email is off."}
          </p>
          {save.isSuccess && !form.formState.isDirty && (
            <p role="status" className="text-sm text-emerald-800">
              Saved.
            </p>
          )}
        </div>
      </form>
    </Card>
  );
}
