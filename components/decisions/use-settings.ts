"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { useTRPC } from "../trpc";
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
