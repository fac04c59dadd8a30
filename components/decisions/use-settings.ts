"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { type FieldValues, useForm } from "react-hook-form";
import type { z } from "zod";
import { useTRPC } from "../trpc";
import type { Notice } from "./fields";
import { errorInfo } from "./labels";
import type { DecisionSettings } from "./types";

/**
 * The tenant's decision settings and one save for both halves (triggers, cost gate). Each card
 * sends only its own half, so saving one never overwrites the other with a stale copy.
 */
export function useDecisionSettings() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const query = useQuery(trpc.decisions.settings.queryOptions());
  const save = useMutation(
    trpc.decisions.saveSettings.mutationOptions({
      onSuccess: (next) => {
        qc.setQueryData(trpc.decisions.settings.queryKey(), next);
        // The spend card shows the caps next to today's use.
        qc.invalidateQueries({ queryKey: trpc.decisions.spend.queryKey() });
      },
    }),
  );
  return { query, save };
}

/**
 * One half of the decision settings (triggers or cost gate) as a form: validated by the schema the
 * server parses, following fresh server data (the other card saved, a refetch) without clobbering
 * unsaved edits, saved on its own. Returns the form and the props its FormCard needs.
 */
export function useSettingsHalfForm<In extends FieldValues, Out>(
  half: "triggers" | "costGate",
  schema: z.ZodType<Out, In>,
  text: { loading: string; saved: string },
) {
  const { query, save } = useDecisionSettings();
  const [notice, setNotice] = useState<Notice>(null);
  const toForm = (s: DecisionSettings) => ({ ...s[half] }) as unknown as In;
  const form = useForm<In, unknown, Out>({
    resolver: zodResolver(schema),
    mode: "onChange",
    values: query.data ? toForm(query.data) : undefined,
    resetOptions: { keepDirtyValues: true },
  });
  const onSubmit = form.handleSubmit((values) => {
    setNotice(null);
    save.mutate({ [half]: values } as Parameters<typeof save.mutate>[0], {
      onSuccess: (next) => {
        form.reset(toForm(next));
        setNotice({ ok: true, text: text.saved });
      },
      onError: (e) => setNotice({ ok: false, text: `Not saved: ${errorInfo(e).message}` }),
    });
  });
  const card = {
    loading: query.isPending || (!query.isError && !query.data),
    loadingLabel: text.loading,
    error: query.isError ? { message: query.error.message, onRetry: () => query.refetch() } : null,
    onSubmit,
    onDiscard: () => form.reset(),
    dirty: form.formState.isDirty,
    valid: form.formState.isValid,
    pending: save.isPending,
    notice,
  };
  return { form, card };
}

/**
 * A form seeded from server data. When the data changes (this card or the other one saved, or a
 * refetch) the form follows it — unless the admin has unsaved edits, which are never clobbered.
 */
export function useSyncedForm<S, F>(source: S | undefined, toForm: (s: S) => F) {
  const [form, setForm] = useState<F | null>(null);
  const seededFrom = useRef<string | null>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: toForm is a pure mapping; only new data re-seeds
  useEffect(() => {
    if (source === undefined) return;
    const next = toForm(source);
    const nextText = JSON.stringify(next);
    setForm((cur) => (cur === null || JSON.stringify(cur) === seededFrom.current ? next : cur));
    seededFrom.current = nextText;
  }, [source]);
  const dirty = form !== null && source !== undefined && JSON.stringify(form) !== JSON.stringify(toForm(source));
  const reset = () => source !== undefined && setForm(toForm(source));
  return { form, setForm, dirty, reset };
}

export type { DecisionSettings };
