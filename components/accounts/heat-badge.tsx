import { Flame, Snowflake, Thermometer } from "lucide-react";
import { Badge, type Tone } from "../ui/primitives";

export const TIER_TONE: Record<string, Tone> = { HOT: "red", WARM: "amber", COLD: "blue" };
export const TIER_ICON = { HOT: Flame, WARM: Thermometer, COLD: Snowflake } as const;
/** Chart fills per tier (Tailwind red-600, amber-500, brand-500): labels carry the meaning too. */
export const TIER_COLOR: Record<string, string> = { HOT: "#dc2626", WARM: "#f59e0b", COLD: "#3b6ef5" };

/**
 * An account's heat as the `heat` job computed it (SPEC §4.4): tier with its own icon (colour is
 * never the only signal), score, and since when, exactly, on hover.
 */
export function HeatBadge({
  heat,
  showScore = true,
}: {
  heat: { score: number; tier: string; since: Date | string };
  showScore?: boolean;
}) {
  const Icon = TIER_ICON[heat.tier as keyof typeof TIER_ICON] ?? Snowflake;
  const since = new Date(heat.since).toISOString();
  return (
    <Badge tone={TIER_TONE[heat.tier] ?? "slate"} title={`${heat.tier} since ${since} (UTC); score ${heat.score.toFixed(3)}`}>
      <Icon className="size-3" aria-hidden />
      {heat.tier}
      {showScore && <span className="tabular-nums">{heat.score.toFixed(2)}</span>}
    </Badge>
  );
}
