"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useState } from "react";
import { useForm } from "react-hook-form";
import { z } from "zod";
import { APPROVAL_FALLBACKS, APPROVAL_TTL_HOURS } from "@/server/engine/approvals";
import { useTRPC } from "../trpc";
import { Button, Card, ErrorState, LoadingState } from "../ui/primitives";

const Form = z.object({
  ttlHours: z
    .number({ error: "Enter a whole number of hours" })
    .int("Enter a whole number of hours")
    .min(APPROVAL_TTL_HOURS.min, `At least ${APPROVAL_TTL_HOURS.min} hour`)
    .max(APPROVAL_TTL_HOURS.max, `At most ${APPROVAL_TTL_HOURS.max} hours (30 days)`),
  fallback: z.enum(APPROVAL_FALLBACKS),
  notifyWebhook: z.boolean(),
});
type FormValues = z.infer<typeof Form>;

const FALLBACK_LABEL: Record<(typeof APPROVAL_FALLBACKS)[number], string> = {
  REJECT: "Reject it (the request expires)",
  ESCALATE: "Escalate it to an admin (it keeps waiting)",
};

/** Admin: how long an approval request waits, what happens then, and whether the webhook is told. */
export function ApprovalSettingsCard() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const id = useId();
  const q = useQuery(trpc.approvals.settings.queryOptions());
  const [saved, setSaved] = useState(false);
  const form = useForm<FormValues>({
    resolver: zodResolver(Form),
    defaultValues: { ttlHours: 72, fallback: "REJECT", notifyWebhook: false },
  });
  const { reset } = form;
  useEffect(() => {
    if (q.data) reset({ ttlHours: q.data.ttlHours, fallback: q.data.fallback, notifyWebhook: q.data.notifyWebhook });
  }, [q.data, reset]);
  const save = useMutation(
    trpc.approvals.saveSettings.mutationOptions({
      onSuccess: async () => {
        setSaved(true);
        await qc.invalidateQueries({ queryKey: trpc.approvals.settings.queryKey() });
      },
    }),
  );

  if (q.isPending) return <LoadingState />;
  if (q.isError) return <ErrorState message={q.error.message} onRetry={() => void q.refetch()} />;
  const err = form.formState.errors;
  return (
    <Card title="Approvals">
      <form
        className="space-y-4 p-4"
        onSubmit={form.handleSubmit((v) => {
          setSaved(false);
          save.mutate(v);
        })}
      >
        <div>
          <label htmlFor={`${id}-ttl`} className="mb-1 block font-medium text-slate-700">
            A request waits at most (hours)
          </label>
          <input
            id={`${id}-ttl`}
            type="number"
            inputMode="numeric"
            className="w-32 rounded-md border border-slate-300 px-2 py-1"
            aria-invalid={!!err.ttlHours}
            aria-describedby={err.ttlHours ? `${id}-ttl-error` : undefined}
            {...form.register("ttlHours", { valueAsNumber: true })}
          />
          {err.ttlHours && (
            <p id={`${id}-ttl-error`} className="mt-1 text-red-700">
              {err.ttlHours.message}
            </p>
          )}
        </div>
        <fieldset>
          <legend className="mb-1 font-medium text-slate-700">When it has waited that long</legend>
          {APPROVAL_FALLBACKS.map((f) => (
            <label key={f} className="flex items-center gap-2">
              <input type="radio" value={f} {...form.register("fallback")} /> {FALLBACK_LABEL[f]}
            </label>
          ))}
        </fieldset>
        <label className="flex items-center gap-2">
          <input type="checkbox" {...form.register("notifyWebhook")} />
          Send each request to the webhook connector (a Slack-compatible message with approve and reject links)
        </label>
        <div className="flex items-center gap-3">
          <Button type="submit" variant="primary" disabled={save.isPending}>
            Save approval settings
          </Button>
          {saved && (
            <span role="status" className="text-emerald-800">
              Saved
            </span>
          )}
          {save.isError && (
            <span role="alert" className="text-red-700">
              {save.error.message}
            </span>
          )}
        </div>
      </form>
    </Card>
  );
}
