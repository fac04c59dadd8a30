import { Badge } from "../ui/primitives";

/**
 * Heat is computed by perception (SPEC §4.4), which does not run yet. Until it does, no account
 * has a heat worth showing: the stored default would read as a computed "COLD", so say so instead.
 */
export function HeatBadge() {
  return (
    <Badge tone="slate" title="Heat is computed by the perception scheduler, which is not running yet">
      Heat: not scored yet
    </Badge>
  );
}
