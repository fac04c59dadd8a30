"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Send } from "lucide-react";
import { useEffect, useId, useState } from "react";
import { useForm } from "react-hook-form";
import { z } from "zod";
import { inputClass, type Notice, SaveNotice } from "../decisions/fields";
import { errorInfo } from "../decisions/labels";
import { useTRPC } from "../trpc";
import { Badge, Button, Card, ErrorState, LoadingState } from "../ui/primitives";
import { SecretBox } from "../ui/secret-box";
import { RelativeTime } from "../ui/time";

/** The form's own checks mirror the server's (which has the last word and names the field). */
const Form = z.object({
  url: z
    .string()
    .trim()
    .max(2048, "At most 2048 characters")
    .refine((v) => v === "" || /^https?:\/\/[^\s]+$/i.test(v), "Enter an http:// or https:// URL"),
  enabled: z.boolean(),
  rotate: z.boolean(),
});
type FormValues = z.infer<typeof Form>;

/**
 * The SIEM log stream (SPEC §4.8): where the ledger goes, whether it is caught up, and what went
 * wrong last. The stored URL is shown as origin + fingerprint only (its path may be the
 * receiver's credential), so the URL field is left blank to keep it.
 */
export function StreamCard() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const q = useQuery({ ...trpc.auditStream.get.queryOptions(), refetchInterval: 15_000 });
  const ids = { url: useId(), enabled: useId(), rotate: useId() };
  const [secret, setSecret] = useState<string | null>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const form = useForm<FormValues>({ resolver: zodResolver(Form), defaultValues: { url: "", enabled: true, rotate: false } });
  const data = q.data;
  useEffect(() => {
    if (data?.configured) form.reset({ url: "", enabled: data.enabled, rotate: false });
  }, [data, form]);
  const refresh = () => qc.invalidateQueries({ queryKey: trpc.auditStream.get.queryKey() });
  const save = useMutation(
    trpc.auditStream.put.mutationOptions({
      onSuccess: (res) => {
        setSecret(res.secret);
        setNotice({ ok: true, text: res.secret ? "Stream saved. Copy the signing secret now: it is not shown again." : "Stream saved." });
      },
      onError: (err) => {
        const { message, field } = errorInfo(err);
        if (field === "url") form.setError("url", { message });
        else setNotice({ ok: false, text: message });
      },
      onSettled: refresh,
    }),
  );
  const send = useMutation(
    trpc.auditStream.sendNow.mutationOptions({
      onSuccess: (res) =>
        setNotice(
          !res.claimed
            ? { ok: false, text: "Not sent: the stream is disabled, not set up, or a delivery is in flight right now." }
            : res.error
              ? { ok: false, text: `Delivery failed: ${res.error}` }
              : { ok: true, text: `Sent ${res.sent} ${res.sent === 1 ? "entry" : "entries"}.` },
        ),
      onError: (err) => setNotice({ ok: false, text: errorInfo(err).message }),
      onSettled: refresh,
    }),
  );

  if (q.isPending) return <LoadingState label="Loading the log stream…" />;
  if (q.isError || !data) return <ErrorState message={q.error?.message ?? "Could not load the stream"} onRetry={() => q.refetch()} />;
  const errors = form.formState.errors;

  return (
    <Card
      title="SIEM log stream"
      actions={
        data.configured && (
          <Button onClick={() => send.mutate()} disabled={send.isPending || !data.enabled}>
            <Send className="size-4" aria-hidden /> {send.isPending ? "Sending…" : "Send now"}
          </Button>
        )
      }
    >
      <div className="space-y-4 px-4 py-3" data-testid="audit-stream">
        <p className="text-slate-700">
          Every ledger entry is POSTed, in order and in batches of up to 500, to your SIEM, signed with HMAC-SHA256 (
          <code>x-autopilot-signature</code> over <code>timestamp.body</code>). Failed deliveries are retried with backoff until
          acknowledged; deduplicate by <code>seq</code>.
        </p>

        {data.configured ? (
          <dl className="grid grid-cols-2 gap-x-4 gap-y-2 sm:grid-cols-4" data-testid="audit-stream-status">
            <div className="col-span-2">
              <dt className="text-xs font-medium text-slate-600">Destination</dt>
              <dd className="break-all font-mono text-xs text-slate-800">{data.url}</dd>
            </div>
            <Stat label="State">
              {!data.enabled ? (
                <Badge>Disabled</Badge>
              ) : data.lastError ? (
                <Badge tone="red">Retrying</Badge>
              ) : data.lag === 0 ? (
                <Badge tone="green">Caught up</Badge>
              ) : (
                <Badge tone="amber">Behind</Badge>
              )}
            </Stat>
            <Stat label="Delivered up to">
              <span className="tabular-nums">
                #{data.cursorSeq} of #{data.headSeq}
              </span>
            </Stat>
            <Stat label="Lag">
              <span className="tabular-nums" data-testid="audit-stream-lag">
                {data.lag} {data.lag === 1 ? "entry" : "entries"}
              </span>
            </Stat>
            <Stat label="Last delivered">{data.lastDeliveredAt ? <RelativeTime value={data.lastDeliveredAt} /> : "never"}</Stat>
            <Stat label="Next attempt">
              {data.nextAttemptAt ? <RelativeTime value={data.nextAttemptAt} /> : data.enabled ? "next tick" : "—"}
            </Stat>
            <div className="col-span-2">
              <dt className="text-xs font-medium text-slate-600">Last error</dt>
              <dd className={data.lastError ? "text-red-800" : "text-slate-700"} data-testid="audit-stream-error">
                {data.lastError ? `${data.lastError} (attempt ${data.attempts})` : "none"}
              </dd>
            </div>
          </dl>
        ) : (
          <p className="text-slate-600" data-testid="audit-stream-status">
            No stream yet. The {data.headSeq} ledger entries so far are sent once you add one.
          </p>
        )}

        <form
          noValidate
          className="space-y-3 border-t border-slate-200 pt-3"
          onSubmit={form.handleSubmit((v) => {
            setNotice(null);
            if (!data.configured && v.url === "") return form.setError("url", { message: "Enter the receiver's URL" });
            save.mutate({ ...(v.url ? { url: v.url } : {}), enabled: v.enabled, ...(v.rotate ? { rotate_secret: true } : {}) });
          })}
        >
          <div className="flex flex-col gap-1">
            <label htmlFor={ids.url} className="font-medium text-slate-700">
              Receiver URL
            </label>
            <input
              id={ids.url}
              type="url"
              placeholder={data.configured ? "Leave blank to keep the current URL" : "https://siem.example.com/ingest"}
              className={`${inputClass} w-full max-w-xl`}
              aria-invalid={errors.url ? true : undefined}
              aria-describedby={errors.url ? `${ids.url}-err` : undefined}
              {...form.register("url")}
            />
            {errors.url && (
              <p id={`${ids.url}-err`} className="text-xs text-red-700">
                {errors.url.message}
              </p>
            )}
          </div>
          <div className="flex flex-wrap items-center gap-x-6 gap-y-2">
            <label htmlFor={ids.enabled} className="flex items-center gap-2 font-medium text-slate-800">
              <input id={ids.enabled} type="checkbox" className="size-4" {...form.register("enabled")} />
              Enabled
            </label>
            {data.configured && (
              <label htmlFor={ids.rotate} className="flex items-center gap-2 text-slate-800">
                <input id={ids.rotate} type="checkbox" className="size-4" {...form.register("rotate")} />
                Rotate the signing secret
              </label>
            )}
            <Button variant="primary" type="submit" disabled={save.isPending}>
              {save.isPending ? "Saving…" : data.configured ? "Save stream" : "Create stream"}
            </Button>
          </div>
        </form>
        {secret && (
          <SecretBox
            what="signing secret"
            label="Signing secret — shown once. Store it in your SIEM's receiver now."
            value={secret}
            testId="audit-stream-secret"
          />
        )}
        <SaveNotice notice={notice} testId="audit-stream-notice" />
      </div>
    </Card>
  );
}

function Stat({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div>
      <dt className="text-xs font-medium text-slate-600">{label}</dt>
      <dd className="text-slate-800">{children}</dd>
    </div>
  );
}
