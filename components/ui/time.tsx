"use client";

import { useEffect, useState } from "react";

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 31_536_000],
  ["month", 2_592_000],
  ["week", 604_800],
  ["day", 86_400],
  ["hour", 3_600],
  ["minute", 60],
  ["second", 1],
];
const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

export function relative(date: Date, now: Date): string {
  const diff = (date.getTime() - now.getTime()) / 1000;
  for (const [unit, secs] of UNITS) {
    if (Math.abs(diff) >= secs || unit === "second") return rtf.format(Math.round(diff / secs), unit);
  }
  return "";
}

/** Relative time, with the exact UTC instant on hover (and for screen readers via dateTime). */
export function RelativeTime({ value }: { value: Date | string }) {
  const date = typeof value === "string" ? new Date(value) : value;
  const iso = date.toISOString();
  // Rendered on the client only after mount so server and client markup agree.
  const [now, setNow] = useState<Date | null>(null);
  useEffect(() => {
    setNow(new Date());
    const id = setInterval(() => setNow(new Date()), 30_000);
    return () => clearInterval(id);
  }, []);
  return (
    <time dateTime={iso} title={`${iso.replace("T", " ").slice(0, 19)} UTC`} className="whitespace-nowrap tabular-nums">
      {now ? relative(date, now) : `${iso.slice(0, 16).replace("T", " ")} UTC`}
    </time>
  );
}
