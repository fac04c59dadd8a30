"use client";

import { useQuery } from "@tanstack/react-query";
import { Search } from "lucide-react";
import { useId, useState } from "react";
import { useTRPC } from "../trpc";

export type Picked = { id: string; name: string } | null;

/**
 * Pick one account, searchable by name. `placeholder` is the empty choice: "Choose an account…"
 * where an account is required, or e.g. "Whole workspace (defaults)" where none means the tenant.
 */
export function AccountSelect({
  value,
  onChange,
  label = "Account",
  searchLabel,
  placeholder = "Choose an account…",
}: {
  value: Picked;
  onChange: (a: Picked) => void;
  label?: string;
  searchLabel?: string;
  placeholder?: string;
}) {
  const trpc = useTRPC();
  const [q, setQ] = useState("");
  const list = useQuery(trpc.accounts.list.queryOptions({ limit: 50, q: q.trim() || undefined }));
  const options = list.data?.items ?? [];
  const selectId = useId();
  const searchId = useId();
  const keep = value && !options.some((o) => o.id === value.id);

  return (
    <div className="flex flex-wrap items-end gap-2">
      <div>
        <label htmlFor={searchId} className="mb-1 block text-xs font-medium text-slate-600">
          {searchLabel ?? `Find ${label.toLowerCase()}`}
        </label>
        <div className="relative">
          <Search className="absolute top-1/2 left-2 size-4 -translate-y-1/2 text-slate-500" aria-hidden />
          <input
            id={searchId}
            type="search"
            value={q}
            onChange={(e) => setQ(e.target.value)}
            placeholder="Search by name"
            className="w-44 rounded-md border border-slate-300 py-1 pr-2 pl-7"
          />
        </div>
      </div>
      <div>
        <label htmlFor={selectId} className="mb-1 block text-xs font-medium text-slate-600">
          {label}
        </label>
        <select
          id={selectId}
          value={value?.id ?? ""}
          onChange={(e) => {
            const id = e.target.value;
            onChange(id ? { id, name: options.find((o) => o.id === id)?.name ?? value?.name ?? id } : null);
          }}
          className="w-60 rounded-md border border-slate-300 px-2 py-1"
        >
          <option value="">{list.isPending ? "Loading accounts…" : placeholder}</option>
          {keep && <option value={value.id}>{value.name}</option>}
          {options.map((o) => (
            <option key={o.id} value={o.id}>
              {o.name}
            </option>
          ))}
        </select>
      </div>
      {list.isError && <p className="text-xs text-red-700">Could not load accounts: {list.error.message}</p>}
      {list.isSuccess && options.length === 0 && <p className="pb-1 text-xs text-slate-500">No account matches “{q.trim()}”.</p>}
    </div>
  );
}
