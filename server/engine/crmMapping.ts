/**
 * How HubSpot CRM v3 records become our accounts, contacts and opportunities (SPEC §4.4), and
 * which CRM changes are worth a signal. Pure: the sync service fetches and persists, this decides.
 *
 * Documented mappings (the connectors page and docs repeat them):
 *  - company `lifecyclestage`: customer / evangelist → CUSTOMER; opportunity / salesqualifiedlead →
 *    PROSPECT; subscriber / lead / marketingqualifiedlead / other → SUSPECT; empty → left as is.
 *  - company posture: the custom company property `autopilot_posture` (OK | WATCH | AT_RISK |
 *    EXPAND | DORMANT, any case). HubSpot has no standard equivalent; without it posture is ours.
 *  - deal `dealstage` (the default sales pipeline's internal ids): appointmentscheduled → QUALIFY,
 *    qualifiedtobuy / presentationscheduled → DISCOVERY, decisionmakerboughtin → PROPOSAL,
 *    contractsent → NEGOTIATION, closedwon → CLOSED_WON, closedlost → CLOSED_LOST; a stage of a
 *    custom pipeline maps by its name if it contains one of those words, else QUALIFY.
 */

export const COMPANY_PROPERTIES = [
  "name",
  "domain",
  "industry",
  "lifecyclestage",
  "hubspot_owner_id",
  "autopilot_posture",
  "hs_lastmodifieddate",
] as const;
export const CONTACT_PROPERTIES = ["firstname", "lastname", "email", "jobtitle", "lastmodifieddate"] as const;
export const DEAL_PROPERTIES = ["dealname", "dealstage", "amount", "closedate", "pipeline", "hs_lastmodifieddate"] as const;

/** The property a posture lives in on the CRM side (custom; created by the customer's admin). */
export const POSTURE_PROPERTY = "autopilot_posture";

const POSTURES = ["OK", "WATCH", "AT_RISK", "EXPAND", "DORMANT"] as const;
export const OPPORTUNITY_STAGES = ["QUALIFY", "DISCOVERY", "PROPOSAL", "NEGOTIATION", "CLOSED_WON", "CLOSED_LOST"] as const;
export type OpportunityStage = (typeof OPPORTUNITY_STAGES)[number];

export type Props = Record<string, string | null | undefined>;

const clean = (v: string | null | undefined) => {
  const t = typeof v === "string" ? v.trim() : "";
  return t.length > 0 ? t : null;
};

export function mapLifecycle(stage: string | null | undefined): "PROSPECT" | "SUSPECT" | "CUSTOMER" | null {
  const s = clean(stage)?.toLowerCase();
  if (!s) return null;
  if (s === "customer" || s === "evangelist") return "CUSTOMER";
  if (s === "opportunity" || s === "salesqualifiedlead") return "PROSPECT";
  return "SUSPECT";
}

export function mapPosture(v: string | null | undefined): (typeof POSTURES)[number] | null {
  const s = clean(v)
    ?.toUpperCase()
    .replace(/[\s-]+/g, "_");
  return s && (POSTURES as readonly string[]).includes(s) ? (s as (typeof POSTURES)[number]) : null;
}

const STAGE_IDS: Record<string, OpportunityStage> = {
  appointmentscheduled: "QUALIFY",
  qualifiedtobuy: "DISCOVERY",
  presentationscheduled: "DISCOVERY",
  decisionmakerboughtin: "PROPOSAL",
  contractsent: "NEGOTIATION",
  closedwon: "CLOSED_WON",
  closedlost: "CLOSED_LOST",
};

export function mapDealStage(stage: string | null | undefined): OpportunityStage {
  const s = clean(stage)?.toLowerCase() ?? "";
  const known = STAGE_IDS[s];
  if (known) return known;
  if (/lost/.test(s)) return "CLOSED_LOST";
  if (/won/.test(s)) return "CLOSED_WON";
  if (/negotiat|contract/.test(s)) return "NEGOTIATION";
  if (/proposal|quote/.test(s)) return "PROPOSAL";
  if (/discover|qualified/.test(s)) return "DISCOVERY";
  return "QUALIFY";
}

/** Our stage → the default pipeline's internal id, for writes (UPDATE_OPPORTUNITY_STAGE). */
export function dealStageId(stage: string): string | null {
  for (const [id, s] of Object.entries(STAGE_IDS)) if (s === stage) return id;
  return null;
}

/** HubSpot sends amounts as decimal strings; we keep integer cents. Garbage → 0, never NaN. */
export function amountCents(v: string | null | undefined): number {
  const n = Number.parseFloat(clean(v) ?? "");
  return Number.isFinite(n) ? Math.max(0, Math.min(Math.round(n * 100), 2_000_000_000)) : 0;
}

/** HubSpot datetimes are ISO strings or epoch-ms strings; anything else is no date. */
export function crmDate(v: string | null | undefined): Date | null {
  const s = clean(v);
  if (!s) return null;
  const d = /^\d+$/.test(s) ? new Date(Number(s)) : new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}

export interface AccountFields {
  name: string;
  domain: string | null;
  industry: string | null;
  lifecycle?: string;
  posture?: string;
}

/** The account fields a company carries. Lifecycle/posture absent → not part of the patch (left as is). */
export function companyToAccount(id: string, p: Props): AccountFields {
  const lifecycle = mapLifecycle(p.lifecyclestage);
  const posture = mapPosture(p[POSTURE_PROPERTY]);
  return {
    name: (clean(p.name) ?? clean(p.domain) ?? `HubSpot company ${id}`).slice(0, 200),
    domain: clean(p.domain)?.slice(0, 253) ?? null,
    industry: clean(p.industry)?.slice(0, 120) ?? null,
    ...(lifecycle ? { lifecycle } : {}),
    ...(posture ? { posture } : {}),
  };
}

export function contactName(p: Props): string {
  const n = [clean(p.firstname), clean(p.lastname)].filter(Boolean).join(" ");
  return (n || clean(p.email) || "Unnamed contact").slice(0, 200);
}

/** before/after of each field that differs (only fields present in `after`). */
export function fieldChanges(before: object | null, after: Record<string, unknown>) {
  const changed: Record<string, { before: unknown; after: unknown }> = {};
  for (const [k, v] of Object.entries(after)) {
    if (v === undefined) continue;
    const b = before ? (before as Record<string, unknown>)[k] : null;
    const same = b instanceof Date && v instanceof Date ? b.getTime() === v.getTime() : b === v;
    if (!same) changed[k] = { before: b instanceof Date ? b.toISOString() : (b ?? null), after: v instanceof Date ? v.toISOString() : v };
  }
  return changed;
}

const STAGE_ORDER: Record<OpportunityStage, number> = {
  QUALIFY: 0,
  DISCOVERY: 1,
  PROPOSAL: 2,
  NEGOTIATION: 3,
  CLOSED_WON: 4,
  CLOSED_LOST: 4,
};

/**
 * A deal change worth a signal: lost (high) or moved backwards in the pipeline (medium) — both
 * are "discovery progress stalled" in our vocabulary. A new deal, a forward move or a win is not a
 * risk signal. `dedupeKey` is the deal id plus its CRM modified time, so a re-fetched record never
 * makes a second signal.
 */
export function dealSignal(
  dealId: string,
  before: OpportunityStage | null,
  after: OpportunityStage,
  modifiedAt: Date | null,
): { severity: "high" | "medium"; reason: "deal_closed_lost" | "deal_stage_regressed"; dedupeKey: string } | null {
  if (!before || before === after) return null;
  const key = `crm:deal:${dealId}:${modifiedAt?.getTime() ?? after}`;
  if (after === "CLOSED_LOST") return { severity: "high", reason: "deal_closed_lost", dedupeKey: key };
  if (before !== "CLOSED_WON" && before !== "CLOSED_LOST" && STAGE_ORDER[after] < STAGE_ORDER[before])
    return { severity: "medium", reason: "deal_stage_regressed", dedupeKey: key };
  return null;
}

const LIFECYCLE_TO_STAGE: Record<string, string> = { CUSTOMER: "customer", PROSPECT: "opportunity", SUSPECT: "lead" };

/**
 * An approved UPDATE_ACCOUNT_FIELDS `fields` object → HubSpot company properties. Our names map to
 * theirs (posture → autopilot_posture, lifecycle → lifecyclestage, arr → annualrevenue); any other
 * key that is a valid HubSpot property name goes as is with its scalar value as text. Unknown
 * values of our own enums are refused rather than written.
 */
export function companyProperties(fields: unknown): { properties: Record<string, string>; refused: string[] } {
  const properties: Record<string, string> = {};
  const refused: string[] = [];
  if (!fields || typeof fields !== "object" || Array.isArray(fields)) return { properties, refused: ["fields"] };
  for (const [k, v] of Object.entries(fields as Record<string, unknown>)) {
    if (v !== null && typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
      refused.push(k);
      continue;
    }
    const text = v === null ? "" : String(v);
    if (k === "posture") {
      const p = mapPosture(text);
      if (p) properties[POSTURE_PROPERTY] = p;
      else refused.push(k);
    } else if (k === "lifecycle") {
      const s = LIFECYCLE_TO_STAGE[text.toUpperCase()];
      if (s) properties.lifecyclestage = s;
      else refused.push(k);
    } else if (k === "arrCents" || k === "arr_cents") {
      const n = Number(text);
      if (Number.isFinite(n)) properties.annualrevenue = String(n / 100);
      else refused.push(k);
    } else if (/^[a-z][a-z0-9_]{0,99}$/.test(k)) properties[k] = text.slice(0, 65_536);
    else refused.push(k);
  }
  return { properties, refused };
}

/** An approved CREATE_OPPORTUNITY's parameters → HubSpot deal properties (default pipeline). */
export function dealProperties(params: Record<string, unknown>): Record<string, string> {
  const str = (v: unknown) => (typeof v === "string" && v.trim() ? v.trim() : typeof v === "number" ? String(v) : null);
  const name = str(params.name) ?? str(params.dealname) ?? str(params.title) ?? "New opportunity";
  const stage = str(params.stage);
  const out: Record<string, string> = {
    dealname: name.slice(0, 200),
    pipeline: "default",
    dealstage:
      (stage && (dealStageId(stage.toUpperCase()) ?? (STAGE_IDS[stage.toLowerCase()] ? stage.toLowerCase() : null))) ||
      "appointmentscheduled",
  };
  const cents =
    typeof params.amountCents === "number" ? params.amountCents : typeof params.amount_cents === "number" ? params.amount_cents : null;
  const amount = cents !== null ? cents / 100 : Number(str(params.amount) ?? Number.NaN);
  if (Number.isFinite(amount) && amount >= 0) out.amount = String(amount);
  const close = crmDate(str(params.closeDate) ?? str(params.close_date) ?? str(params.closedate));
  if (close) out.closedate = close.toISOString();
  return out;
}
