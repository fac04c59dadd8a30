"use client";

import { RefreshCw } from "lucide-react";
import { useEffect, useState } from "react";
import { cx } from "../ui/primitives";
import { relative } from "../ui/time";

/**
 * "Updated 3 seconds ago" for a polled query, ticking every second so a stalled refresh is
 * visible; the exact UTC instant on hover.
 */
export function UpdatedNote({ at, fetching, paused = false }: { at: number; fetching: boolean; paused?: boolean }) {
  const [now, setNow] = useState<Date | null>(null);
  useEffect(() => {
    setNow(new Date());
    const t = setInterval(() => setNow(new Date()), 1_000);
    return () => clearInterval(t);
  }, []);
  if (!at) return null;
  const when = new Date(at);
  const iso = when.toISOString();
  return (
    <span className="inline-flex items-center gap-1 text-xs text-slate-500" data-testid="updated-note">
      <RefreshCw className={cx("size-3.5", fetching && "animate-spin")} aria-hidden />
      <span>
        {fetching ? "Refreshing…" : "Updated"}{" "}
        <time dateTime={iso} title={`${iso.replace("T", " ").slice(0, 19)} UTC`} className="tabular-nums">
          {now ? relative(when, new Date(Math.max(now.getTime(), at))) : "just now"}
        </time>
        {paused && " · auto-refresh paused"}
      </span>
    </span>
  );
}
