/**
 * The action type registry (SPEC §3). Defaults only: admins may make a type stricter (disable it,
 * leave it off the allowlist, lower its budget) but nothing here can be loosened at run time —
 * external-contact and commercial types are never autonomous whatever the configuration says.
 */
export const RISK_LEVELS = ["MINIMAL", "LOW", "MEDIUM", "HIGH"] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

export const ACTION_CLASSES = ["research", "internal", "crm_write", "outreach", "commercial"] as const;
export type ActionClass = (typeof ACTION_CLASSES)[number];

export interface ActionTypeSpec {
  class: ActionClass;
  risk: RiskLevel;
  externalContact: boolean;
  /** false for types no policy may ever auto-execute */
  mayAutoExecute: boolean;
  /**
   * The connector that carries it out. `crm`: the tenant's native CRM connector (HubSpot CRM v3)
   * once it is enabled, else the signed webhook (their CRM middleware) as before — resolved per
   * execution by services/crmWrites.ts `resolveConnector`. Commercial changes use the webhook.
   */
  connector: "internal" | "webhook" | "email" | "crm";
  label: string;
}

export const ACTION_TYPES = {
  FETCH_ACCOUNT_NEWS: {
    class: "research",
    risk: "MINIMAL",
    externalContact: false,
    mayAutoExecute: true,
    connector: "internal",
    label: "Fetch account news",
  },
  ANALYZE_USAGE_PATTERNS: {
    class: "research",
    risk: "MINIMAL",
    externalContact: false,
    mayAutoExecute: true,
    connector: "internal",
    label: "Analyze usage patterns",
  },
  CREATE_INTERNAL_NOTE: {
    class: "internal",
    risk: "LOW",
    externalContact: false,
    mayAutoExecute: true,
    connector: "internal",
    label: "Create internal note",
  },
  CREATE_INTERNAL_TASK: {
    class: "internal",
    risk: "LOW",
    externalContact: false,
    mayAutoExecute: true,
    connector: "internal",
    label: "Create internal task",
  },
  FLAG_FOR_REVIEW: {
    class: "internal",
    risk: "LOW",
    externalContact: false,
    mayAutoExecute: true,
    connector: "internal",
    label: "Flag for review",
  },
  GENERATE_MEETING_BRIEF: {
    class: "internal",
    risk: "LOW",
    externalContact: false,
    mayAutoExecute: true,
    connector: "internal",
    label: "Generate meeting brief",
  },
  DRAFT_EMAIL: {
    class: "internal",
    risk: "LOW",
    externalContact: false,
    mayAutoExecute: true,
    connector: "internal",
    label: "Draft email (not sent)",
  },
  OPEN_APPROVAL_REQUEST: {
    class: "internal",
    risk: "LOW",
    externalContact: false,
    mayAutoExecute: true,
    connector: "internal",
    label: "Open approval request",
  },
  UPDATE_ACCOUNT_FIELDS: {
    class: "crm_write",
    risk: "MEDIUM",
    externalContact: false,
    mayAutoExecute: false,
    connector: "crm",
    label: "Update account fields",
  },
  CREATE_OPPORTUNITY: {
    class: "crm_write",
    risk: "MEDIUM",
    externalContact: false,
    mayAutoExecute: false,
    connector: "crm",
    label: "Create opportunity",
  },
  UPDATE_OPPORTUNITY_STAGE: {
    class: "crm_write",
    risk: "MEDIUM",
    externalContact: false,
    mayAutoExecute: false,
    connector: "crm",
    label: "Update opportunity stage",
  },
  SEND_EMAIL: { class: "outreach", risk: "HIGH", externalContact: true, mayAutoExecute: false, connector: "email", label: "Send email" },
  REQUEST_RENEWAL_MEETING: {
    class: "outreach",
    risk: "HIGH",
    externalContact: true,
    mayAutoExecute: false,
    connector: "webhook",
    label: "Request renewal meeting",
  },
  REQUEST_DISCOVERY_CALL: {
    class: "outreach",
    risk: "HIGH",
    externalContact: true,
    mayAutoExecute: false,
    connector: "webhook",
    label: "Request discovery call",
  },
  REQUEST_STAKEHOLDER_INTRO: {
    class: "outreach",
    risk: "HIGH",
    externalContact: true,
    mayAutoExecute: false,
    connector: "webhook",
    label: "Request stakeholder intro",
  },
  CHANGE_DISCOUNT: {
    class: "commercial",
    risk: "HIGH",
    externalContact: false,
    mayAutoExecute: false,
    connector: "webhook",
    label: "Change discount",
  },
  CHANGE_FORECAST: {
    class: "commercial",
    risk: "HIGH",
    externalContact: false,
    mayAutoExecute: false,
    connector: "webhook",
    label: "Change forecast",
  },
} as const satisfies Record<string, ActionTypeSpec>;

export type ActionType = keyof typeof ACTION_TYPES;
export const ACTION_TYPE_NAMES = Object.keys(ACTION_TYPES) as ActionType[];

export function isActionType(x: string): x is ActionType {
  return Object.hasOwn(ACTION_TYPES, x);
}

export function actionSpec(x: string): ActionTypeSpec | undefined {
  return isActionType(x) ? ACTION_TYPES[x] : undefined;
}

const RISK_ORDER: Record<RiskLevel, number> = { MINIMAL: 0, LOW: 1, MEDIUM: 2, HIGH: 3 };

/** The stricter of two risk levels: a proposal may raise a type's risk, never lower it. */
export function stricterRisk(a: RiskLevel, b: RiskLevel): RiskLevel {
  return RISK_ORDER[a] >= RISK_ORDER[b] ? a : b;
}

export function riskAtMost(r: RiskLevel, max: RiskLevel) {
  return RISK_ORDER[r] <= RISK_ORDER[max];
}
