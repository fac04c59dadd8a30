import { describe, expect, it } from "vitest";
import {
  addressesIn,
  CONTACT_ROLES,
  confidenceFrom,
  contactRoles,
  EVIDENCE_HALF_LIFE_DAYS,
  enforceContactRecipients,
  evidenceWeight,
  HEAT_RANK_WEIGHT,
  type Proposal,
  pickContact,
  rankScore,
  SEVERITY_WEIGHT,
  type SynthesisContact,
  type SynthesisInput,
  type SynthesisOpportunity,
  type SynthesisSignal,
  synthesize,
} from "@/server/engine/synthesis";

/**
 * The rules synthesizer, pinned to what a revenue-ops user reads in a proposal: who it goes to,
 * what it says, the blocking unknown when nobody fits, and how the evidence sets its confidence
 * and rank (mutation testing, issue 7).
 */
const now = new Date("2026-03-02T10:00:00Z");
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000);
const account = { name: "Acme Logistics", domain: "acme.example", lifecycle: "CUSTOMER", posture: "WATCH", momentum: "DOWN" };
const casey: SynthesisContact = { id: "c1", name: "Casey Chen", email: "casey.chen@acme.example", title: "CFO" };
const ivan: SynthesisContact = { id: "c2", name: "Ivan Ito", email: "ivan@acme.example", title: "IT Director" };
const sam: SynthesisContact = { id: "c3", name: "Sam Sales", email: "sam@acme.example", title: "VP Sales" };
const olga: SynthesisContact = { id: "c4", name: "Olga Ops", email: "olga@acme.example", title: "Customer Success Manager" };
const contacts = [casey, ivan, sam, olga];
const input = (patch: Partial<SynthesisInput> = {}): SynthesisInput => ({
  account,
  triggerType: "SIGNAL_ARRIVED",
  signals: [],
  contacts,
  opportunities: [],
  activity: [],
  now,
  ...patch,
});
/** A high-severity signal of this instant: its evidence weight is exactly 1. */
const sig = (type: string, evidence: Record<string, unknown> = {}, patch: Partial<SynthesisSignal> = {}): SynthesisSignal => ({
  id: `s-${type}`,
  type,
  severity: "high",
  evidence,
  at: now,
  ...patch,
});
const run = (patch: Partial<SynthesisInput>, limit = 20) => synthesize(input(patch), limit);
const one = (patch: Partial<SynthesisInput>, type: string) => {
  const p = run(patch).find((x) => x.actionType === type);
  if (!p) throw new Error(`no ${type} proposal`);
  return p;
};
const opp = (patch: Partial<SynthesisOpportunity> & { id: string }): SynthesisOpportunity => ({
  name: `Deal ${patch.id}`,
  stage: "NEGOTIATION",
  amountCents: 1_000_000,
  closeDate: null,
  ...patch,
});
// prior + (ceiling − prior)(1 − e^−1) for one fresh high-severity signal (strength 1).
const E1 = 1 - Math.exp(-1);

describe("contacts by role", () => {
  it.each([
    ["CFO", ["ECONOMIC_BUYER"]],
    ["cfo", ["ECONOMIC_BUYER"]],
    ["Chief Financial Officer", ["ECONOMIC_BUYER", "EXECUTIVE"]],
    ["Head of Procurement", ["ECONOMIC_BUYER", "EXECUTIVE"]],
    ["Purchasing Manager", ["ECONOMIC_BUYER"]],
    ["Financial Controller", ["ECONOMIC_BUYER"]],
    ["Budget Owner", ["ECONOMIC_BUYER", "EXECUTIVE"]],
    ["VP Finance", ["ECONOMIC_BUYER", "EXECUTIVE"]],
    ["CEO", ["EXECUTIVE"]],
    ["COO", ["EXECUTIVE"]],
    ["President", ["EXECUTIVE"]],
    ["Co-Founder", ["EXECUTIVE"]],
    ["Vice President, Marketing", ["EXECUTIVE"]],
    ["General Manager EMEA", ["EXECUTIVE"]],
    ["IT Director", ["EXECUTIVE", "TECHNICAL"]],
    ["CTO", ["TECHNICAL"]],
    ["CIO", ["TECHNICAL"]],
    ["CISO", ["TECHNICAL"]],
    ["Software Engineer", ["TECHNICAL"]],
    ["Solutions Architect", ["TECHNICAL"]],
    ["Platform Lead", ["TECHNICAL"]],
    ["DevOps", ["TECHNICAL"]],
    ["Security Analyst", ["TECHNICAL"]],
    ["Technical Lead", ["TECHNICAL"]],
    ["Customer Success Manager", ["CUSTOMER_SUCCESS"]],
    ["Support Lead", ["CUSTOMER_SUCCESS"]],
    ["Sales Ops", ["CUSTOMER_SUCCESS", "SALES"]],
    ["System Administrator", ["CUSTOMER_SUCCESS"]],
    ["Enablement Manager", ["CUSTOMER_SUCCESS"]],
    ["Account Executive, Sales", ["SALES"]],
    ["RevOps Analyst", ["SALES"]],
    ["Chief Revenue Officer", ["EXECUTIVE", "SALES"]],
    ["Commercial Lead", ["SALES"]],
    ["Business Development Rep", ["SALES"]],
    ["Partnerships", ["SALES"]],
    // Whole words only: these contain a role's letters but not the role.
    ["Digital Marketing", []],
    ["Editor", []],
    ["Chiefly Interested", []],
    ["Opsware Fan", []],
    ["General Counsel", []],
    ["", []],
  ])("%j → %j", (title, roles) => {
    expect(contactRoles({ title })).toEqual(roles);
  });

  it("a contact without a title has no role", () => {
    expect(contactRoles({ title: null })).toEqual([]);
    expect(CONTACT_ROLES).toEqual(["ECONOMIC_BUYER", "EXECUTIVE", "TECHNICAL", "CUSTOMER_SUCCESS", "SALES"]);
  });

  it("picks by the earliest wanted role first, then by contact id; only contacts with an address count", () => {
    expect(pickContact(contacts, ["TECHNICAL", "ECONOMIC_BUYER"])).toEqual({ contact: ivan, role: "TECHNICAL" });
    expect(pickContact(contacts, ["ECONOMIC_BUYER", "TECHNICAL"])).toEqual({ contact: casey, role: "ECONOMIC_BUYER" });
    // Two fit: the lower id wins, whatever the order they come in.
    const cfo2 = { ...casey, id: "c0", email: "cfo2@acme.example" };
    expect(pickContact([casey, cfo2], ["ECONOMIC_BUYER"])?.contact).toBe(cfo2);
    expect(pickContact([cfo2, casey], ["ECONOMIC_BUYER"])?.contact).toBe(cfo2);
    // No email, or not an address: passed over for the next fitting contact.
    const noMail = { ...casey, id: "a0", email: null };
    const notAnAddress = { ...casey, id: "a1", email: "call the front desk" };
    expect(pickContact([noMail, notAnAddress, casey], ["ECONOMIC_BUYER"])?.contact).toBe(casey);
    expect(pickContact([noMail, notAnAddress], ["ECONOMIC_BUYER"])).toBeNull();
    expect(pickContact(contacts, [])).toBeNull();
    // The caller's list is not reordered.
    const list = [sam, casey];
    pickContact(list, ["SALES"]);
    expect(list).toEqual([sam, casey]);
  });
});

describe("each rule's proposals, word for word", () => {
  it("support risk: a flag naming the ticket count and the next deal, and an email to IT greeting by first name", () => {
    const opportunities = [opp({ id: "o1", name: "Acme — Renewal", amountCents: 12_000_049, closeDate: new Date("2026-04-01T00:00:00Z") })];
    const out = run({ opportunities, signals: [sig("SUPPORT_RISK_EMERGING", { open_p1_tickets: 2 })] });
    expect(out).toEqual([
      {
        actionType: "FLAG_FOR_REVIEW",
        riskLevel: "LOW",
        confidence: 0.871,
        rankScore: 0.871,
        why: ["SUPPORT_RISK_EMERGING"],
        parameters: {
          reason: "2 open priority tickets at Acme Logistics",
          opportunity_id: "o1",
          opportunity: "Acme — Renewal (negotiation, $120,000, closes 2026-04-01)",
        },
        blockingUnknowns: [],
      },
      {
        actionType: "SEND_EMAIL",
        riskLevel: "HIGH",
        confidence: 0.703,
        rankScore: 0.703,
        why: ["SUPPORT_RISK_EMERGING"],
        parameters: {
          to: "ivan@acme.example",
          contact_id: "c2",
          contact_name: "Ivan Ito",
          contact_title: "IT Director",
          recipient_role: "TECHNICAL",
          subject: "Your open support tickets",
          body: "Hi Ivan — I saw the open priority tickets at Acme Logistics. Our support lead is on it; can we find 15 minutes this week?",
        },
        blockingUnknowns: [],
      },
    ]);
    expect(out[0]?.confidence).toBeCloseTo(0.7 + 0.27 * E1, 3);
    expect(out[1]?.confidence).toBeCloseTo(0.45 + 0.4 * E1, 3);
  });

  it("support risk: one ticket is singular; a count that is not a finite number is not quoted", () => {
    const reason = (tickets: unknown) =>
      one({ signals: [sig("SUPPORT_RISK_EMERGING", { open_p1_tickets: tickets })] }, "FLAG_FOR_REVIEW").parameters.reason;
    expect(reason(1)).toBe("1 open priority ticket at Acme Logistics");
    expect(reason(0)).toBe("0 open priority tickets at Acme Logistics");
    expect(reason("3")).toBe("Support risk at Acme Logistics");
    expect(reason(Number.NaN)).toBe("Support risk at Acme Logistics");
    expect(reason(Number.POSITIVE_INFINITY)).toBe("Support risk at Acme Logistics");
  });

  it("support risk: falls back from IT to customer success to an executive; the greeting uses the trimmed first name", () => {
    const to = (cs: SynthesisContact[]) => one({ contacts: cs, signals: [sig("SUPPORT_RISK_EMERGING")] }, "SEND_EMAIL").parameters;
    expect(to([casey, olga, sam])).toMatchObject({ to: "olga@acme.example", recipient_role: "CUSTOMER_SUCCESS" });
    const ceo = { id: "c9", name: "  Erin   Exec ", email: "erin@acme.example", title: "CEO" };
    const p = to([casey, ceo]);
    expect(p).toMatchObject({ to: "erin@acme.example", recipient_role: "EXECUTIVE", contact_name: "  Erin   Exec " });
    expect(p.body).toBe(
      "Hi Erin — I saw the open priority tickets at Acme Logistics. Our support lead is on it; can we find 15 minutes this week?",
    );
  });

  it("support risk with nobody to write to: the email is blocked, says whom to add, and greets nobody", () => {
    const p = one({ contacts: [casey], signals: [sig("SUPPORT_RISK_EMERGING")] }, "SEND_EMAIL");
    expect(p.parameters).toEqual({
      recipient_role: "TECHNICAL",
      subject: "Your open support tickets",
      body: "Hi — I saw the open priority tickets at Acme Logistics. Our support lead is on it; can we find 15 minutes this week?",
    });
    expect(p.blockingUnknowns).toEqual([
      "No contact at Acme Logistics with an email in a fitting role (IT or engineering, or operations or customer success, or executive): add one or choose who.",
    ]);
    expect(addressesIn(p.parameters)).toEqual([]);
  });

  it("a contact without a title is named without one", () => {
    const untitled = { id: "c5", name: "Una", email: "una@acme.example", title: null };
    // No role from a missing title: nobody fits, and the untitled contact is not used.
    expect(one({ contacts: [untitled], signals: [sig("NO_ENGAGEMENT_PRESENT")] }, "DRAFT_EMAIL").parameters).not.toHaveProperty("to");
    const p = one({ contacts: [casey], signals: [sig("NO_ENGAGEMENT_PRESENT")] }, "DRAFT_EMAIL").parameters;
    expect(p).toMatchObject({ to: "casey.chen@acme.example", contact_title: "CFO", recipient_role: "ECONOMIC_BUYER" });
  });

  it("a very long account name: the blocking unknown is clipped to 200 characters with an ellipsis", () => {
    const long = { ...account, name: "A".repeat(300) };
    const [unknown] = one(
      { account: long, contacts: [], signals: [sig("RENEWAL_WINDOW_ENTERED")] },
      "REQUEST_RENEWAL_MEETING",
    ).blockingUnknowns;
    expect(unknown).toHaveLength(200);
    expect(unknown).toBe(`No contact at ${"A".repeat(185)}…`);
    // A name too long for even one role: the first role is still named, then clipped.
    const hundred = { ...account, name: "C".repeat(100) };
    const [first] = one(
      { account: hundred, contacts: [], signals: [sig("RENEWAL_WINDOW_ENTERED")] },
      "REQUEST_RENEWAL_MEETING",
    ).blockingUnknowns;
    expect(first).toBe(
      `No contact at ${"C".repeat(100)} with an email in a fitting role (finance or procurement (budget holder), …): add one…`,
    );
    // 200 characters exactly are kept whole.
    const fits = {
      ...account,
      name: "B".repeat(
        200 -
          "No contact at  with an email in a fitting role (finance or procurement (budget holder), or executive): add one or choose who."
            .length,
      ),
    };
    const [whole] = one(
      { account: fits, contacts: [], signals: [sig("RENEWAL_WINDOW_ENTERED")] },
      "REQUEST_RENEWAL_MEETING",
    ).blockingUnknowns;
    expect(whole).toHaveLength(200);
    expect(whole?.endsWith("choose who.")).toBe(true);
  });

  it("renewal window: a prep brief with the days left and the deal, and a meeting request to the budget holder", () => {
    const opportunities = [
      opp({ id: "o1", name: "Renewal", stage: "PROPOSAL", amountCents: 4_500_000, closeDate: new Date("2026-05-15T12:00:00Z") }),
    ];
    const out = run({ opportunities, signals: [sig("RENEWAL_WINDOW_ENTERED", { days_to_renewal: 45 })] });
    const ref = { opportunity_id: "o1", opportunity: "Renewal (proposal, $45,000, closes 2026-05-15)" };
    expect(out).toEqual([
      {
        actionType: "GENERATE_MEETING_BRIEF",
        riskLevel: "LOW",
        confidence: 0.858,
        rankScore: 0.858,
        why: ["RENEWAL_WINDOW_ENTERED"],
        parameters: {
          title: "Renewal prep — Acme Logistics",
          agenda: ["Usage review", "Open issues", "Commercial terms"],
          days_to_renewal: 45,
          ...ref,
        },
        blockingUnknowns: [],
      },
      {
        actionType: "REQUEST_RENEWAL_MEETING",
        riskLevel: "HIGH",
        confidence: 0.74,
        rankScore: 0.74,
        why: ["RENEWAL_WINDOW_ENTERED"],
        parameters: {
          contact: "casey.chen@acme.example",
          contact_id: "c1",
          contact_name: "Casey Chen",
          contact_title: "CFO",
          recipient_role: "ECONOMIC_BUYER",
          ...ref,
        },
        blockingUnknowns: [],
      },
    ]);
    // Without a budget holder the meeting goes to an executive; without a known day count none is claimed.
    const noDays = run({ contacts: [sam], signals: [sig("RENEWAL_WINDOW_ENTERED", { days_to_renewal: "soon" })] });
    expect(noDays.find((p) => p.actionType === "GENERATE_MEETING_BRIEF")?.parameters).toEqual({
      title: "Renewal prep — Acme Logistics",
      agenda: ["Usage review", "Open issues", "Commercial terms"],
    });
    expect(noDays.find((p) => p.actionType === "REQUEST_RENEWAL_MEETING")?.parameters).toMatchObject({
      contact: "sam@acme.example",
      recipient_role: "EXECUTIVE",
    });
  });

  it("renewal window with nobody fitting: the unknown names both roles wanted", () => {
    const p = one({ contacts: [olga], signals: [sig("RENEWAL_WINDOW_ENTERED")] }, "REQUEST_RENEWAL_MEETING");
    expect(p.parameters).toEqual({ recipient_role: "ECONOMIC_BUYER" });
    expect(p.blockingUnknowns).toEqual([
      "No contact at Acme Logistics with an email in a fitting role (finance or procurement (budget holder), or executive): add one or choose who.",
    ]);
  });

  it("stakeholder gap: the intro is asked via sales, names at most three missing roles, text only", () => {
    const p = one(
      { signals: [sig("STAKEHOLDER_GAP_DETECTED", { missing_roles: ["Champion", 7, "Security", "Legal", "Finance"] })] },
      "REQUEST_STAKEHOLDER_INTRO",
    );
    expect(p).toEqual({
      actionType: "REQUEST_STAKEHOLDER_INTRO",
      riskLevel: "HIGH",
      confidence: 0.653,
      rankScore: 0.653,
      why: ["STAKEHOLDER_GAP_DETECTED"],
      parameters: {
        via: "sam@acme.example",
        contact_id: "c3",
        contact_name: "Sam Sales",
        contact_title: "VP Sales",
        recipient_role: "SALES",
        role: "Champion, Security, Legal",
      },
      blockingUnknowns: [],
    });
    expect(
      one({ signals: [sig("STAKEHOLDER_GAP_DETECTED", { missing_roles: "Champion" })] }, "REQUEST_STAKEHOLDER_INTRO").parameters.role,
    ).toBe("Economic buyer");
    expect(one({ signals: [sig("STAKEHOLDER_GAP_DETECTED", { missing_roles: [] })] }, "REQUEST_STAKEHOLDER_INTRO").parameters.role).toBe(
      "Economic buyer",
    );
    // Via order: sales, then an executive, then customer success, then IT.
    const via = (cs: SynthesisContact[]) =>
      one({ contacts: cs, signals: [sig("STAKEHOLDER_GAP_DETECTED")] }, "REQUEST_STAKEHOLDER_INTRO").parameters;
    expect(via([ivan, olga, { ...casey, title: "COO" }])).toMatchObject({ via: "casey.chen@acme.example", recipient_role: "EXECUTIVE" });
    expect(via([{ ...ivan, title: "Engineer" }, olga])).toMatchObject({ via: "olga@acme.example", recipient_role: "CUSTOMER_SUCCESS" });
    expect(via([{ ...ivan, title: "Engineer" }])).toMatchObject({ via: "ivan@acme.example", recipient_role: "TECHNICAL" });
    expect(via([casey])).toEqual({ recipient_role: "SALES", role: "Economic buyer" });
  });

  it("discovery stalled: a task to unblock the discovery deal, with days in stage and the deal's terms", () => {
    const opportunities = [
      opp({ id: "o1", name: "Expansion", stage: "NEGOTIATION", closeDate: new Date("2026-03-10T00:00:00Z") }),
      opp({ id: "o2", name: "Pilot", stage: "QUALIFY", amountCents: 250_050, closeDate: new Date("2026-06-30T00:00:00Z") }),
    ];
    expect(run({ opportunities, signals: [sig("DISCOVERY_PROGRESS_STALLED", { days_in_stage: 40 })] })).toEqual([
      {
        actionType: "CREATE_INTERNAL_TASK",
        riskLevel: "LOW",
        confidence: 0.84,
        rankScore: 0.84,
        why: ["DISCOVERY_PROGRESS_STALLED"],
        parameters: {
          title: "Unblock Pilot",
          description: "Discovery has not moved for 40 days. Pilot (qualify, $2,501, closes 2026-06-30).",
          due_in_days: 3,
          opportunity_id: "o2",
          opportunity: "Pilot (qualify, $2,501, closes 2026-06-30)",
        },
        blockingUnknowns: [],
      },
    ]);
    // No discovery-stage deal: the next one to close.
    expect(
      one(
        { opportunities: [opportunities[0] as SynthesisOpportunity], signals: [sig("DISCOVERY_PROGRESS_STALLED")] },
        "CREATE_INTERNAL_TASK",
      ).parameters,
    ).toEqual({
      title: "Unblock Expansion",
      description: "Discovery has not moved. Expansion (negotiation, $10,000, closes 2026-03-10).",
      due_in_days: 3,
      opportunity_id: "o1",
      opportunity: "Expansion (negotiation, $10,000, closes 2026-03-10)",
    });
    // No deal at all.
    expect(one({ signals: [sig("DISCOVERY_PROGRESS_STALLED", { days_in_stage: 12 })] }, "CREATE_INTERNAL_TASK").parameters).toEqual({
      title: "Unblock discovery at Acme Logistics",
      description: "Discovery has not moved for 12 days.",
      due_in_days: 3,
    });
    // A discovery deal is preferred too.
    const disco = opp({ id: "o3", name: "Disco", stage: "DISCOVERY" });
    expect(
      one(
        { opportunities: [opportunities[0] as SynthesisOpportunity, disco], signals: [sig("DISCOVERY_PROGRESS_STALLED")] },
        "CREATE_INTERNAL_TASK",
      ).parameters.opportunity_id,
    ).toBe("o3");
  });

  it("the next deal is the open one closing first; undated deals last; ties by id; closed deals never", () => {
    const ref = (opportunities: SynthesisOpportunity[]) =>
      one({ opportunities, signals: [sig("SUPPORT_RISK_EMERGING")] }, "FLAG_FOR_REVIEW").parameters.opportunity_id;
    const d = (iso: string) => new Date(iso);
    expect(ref([opp({ id: "b", closeDate: d("2026-05-01") }), opp({ id: "a", closeDate: d("2026-04-01") })])).toBe("a");
    expect(ref([opp({ id: "a", closeDate: null }), opp({ id: "z", closeDate: d("2027-01-01") })])).toBe("z");
    expect(ref([opp({ id: "b", closeDate: null }), opp({ id: "a", closeDate: null })])).toBe("a");
    expect(ref([opp({ id: "b", closeDate: d("2026-04-01") }), opp({ id: "a", closeDate: d("2026-04-01") })])).toBe("a");
    expect(
      ref([
        opp({ id: "w", stage: "CLOSED_WON", closeDate: d("2026-03-03") }),
        opp({ id: "l", stage: "CLOSED_LOST", closeDate: d("2026-03-03") }),
        opp({ id: "o", closeDate: d("2026-09-01") }),
      ]),
    ).toBe("o");
    expect(ref([opp({ id: "w", stage: "CLOSED_WON" })])).toBeUndefined();
    const undated = one(
      { opportunities: [opp({ id: "u", name: "U", amountCents: 0 })], signals: [sig("SUPPORT_RISK_EMERGING")] },
      "FLAG_FOR_REVIEW",
    );
    expect(undated.parameters.opportunity).toBe("U (negotiation, $0, closes no close date)");
  });

  it("usage drop: an analysis of the metric, and a posture change to WATCH from −15 % unless already at risk", () => {
    const out = run({ signals: [sig("USAGE_TREND_CHANGE", { change_pct: -30, metric: "logins" })] });
    expect(out).toEqual([
      {
        actionType: "ANALYZE_USAGE_PATTERNS",
        riskLevel: "MINIMAL",
        confidence: 0.889,
        rankScore: 0.889,
        why: ["USAGE_TREND_CHANGE"],
        parameters: { window_days: 30, metrics: ["logins"] },
        blockingUnknowns: [],
      },
      {
        actionType: "UPDATE_ACCOUNT_FIELDS",
        riskLevel: "MEDIUM",
        confidence: 0.753,
        rankScore: 0.753,
        why: ["USAGE_TREND_CHANGE"],
        parameters: { fields: { posture: "WATCH" }, note: "logins down 30%" },
        blockingUnknowns: [],
      },
    ]);
    const types = (evidence: Record<string, unknown>, posture = "WATCH") =>
      run({ account: { ...account, posture }, signals: [sig("USAGE_TREND_CHANGE", evidence)] }).map((p) => p.actionType);
    expect(types({ change_pct: -15 })).toContain("UPDATE_ACCOUNT_FIELDS");
    expect(types({ change_pct: -14.9 })).toEqual(["ANALYZE_USAGE_PATTERNS"]);
    expect(types({ change_pct: 40 })).toEqual(["ANALYZE_USAGE_PATTERNS"]);
    expect(types({})).toEqual(["ANALYZE_USAGE_PATTERNS"]);
    expect(types({ change_pct: -50 }, "AT_RISK")).toEqual(["ANALYZE_USAGE_PATTERNS"]);
    expect(types({ change_pct: -50 }, "HEALTHY")).toContain("UPDATE_ACCOUNT_FIELDS");
    const noMetric = run({ signals: [sig("USAGE_TREND_CHANGE", { change_pct: -15, metric: 3 })] });
    expect(noMetric.find((p) => p.actionType === "UPDATE_ACCOUNT_FIELDS")?.parameters.note).toBe("Usage down 15%");
    expect(noMetric.find((p) => p.actionType === "ANALYZE_USAGE_PATTERNS")?.parameters).toEqual({ window_days: 30 });
  });

  it("no engagement: a check-in draft to customer success, quoting the days since the last touch", () => {
    expect(run({ signals: [sig("NO_ENGAGEMENT_PRESENT", { days_since_last_touch: 21 })] })).toEqual([
      {
        actionType: "DRAFT_EMAIL",
        riskLevel: "LOW",
        confidence: 0.703,
        rankScore: 0.703,
        why: ["NO_ENGAGEMENT_PRESENT"],
        parameters: {
          to: "olga@acme.example",
          contact_id: "c4",
          contact_name: "Olga Ops",
          contact_title: "Customer Success Manager",
          recipient_role: "CUSTOMER_SUCCESS",
          subject: "Checking in",
          body: "It has been 21 days — anything we can help with this quarter?",
        },
        blockingUnknowns: [],
      },
    ]);
    expect(one({ signals: [sig("NO_ENGAGEMENT_PRESENT")] }, "DRAFT_EMAIL").parameters.body).toBe(
      "It has been a while — anything we can help with this quarter?",
    );
    // Fallbacks in order: sales, executive, IT, the budget holder.
    const to = (cs: SynthesisContact[]) =>
      one({ contacts: cs, signals: [sig("NO_ENGAGEMENT_PRESENT")] }, "DRAFT_EMAIL").parameters.recipient_role;
    expect(to([casey, ivan, { ...sam, title: "Account Executive, Sales" }])).toBe("SALES");
    expect(to([casey, { ...ivan, title: "Engineer" }, { ...sam, title: "Founder" }])).toBe("EXECUTIVE");
    expect(to([casey, { ...ivan, title: "Engineer" }])).toBe("TECHNICAL");
    const blocked = one({ contacts: [], signals: [sig("NO_ENGAGEMENT_PRESENT")] }, "DRAFT_EMAIL");
    // Five roles do not fit in 200 characters: the last is left out, never what to do about it.
    expect(blocked.blockingUnknowns).toEqual([
      "No contact at Acme Logistics with an email in a fitting role (operations or customer success, or sales or revenue operations, or executive, or IT or engineering, …): add one or choose who.",
    ]);
  });

  it("first engagement: a note to follow up within 48 h naming the channel, and a discovery call via sales", () => {
    expect(run({ signals: [sig("FIRST_ENGAGEMENT_OCCURRED", { channel: "webinar" })] })).toEqual([
      {
        actionType: "CREATE_INTERNAL_NOTE",
        riskLevel: "LOW",
        confidence: 0.858,
        rankScore: 0.858,
        why: ["FIRST_ENGAGEMENT_OCCURRED"],
        parameters: { body: "First engagement from Acme Logistics (webinar): follow up within 48 hours." },
        blockingUnknowns: [],
      },
      {
        actionType: "REQUEST_DISCOVERY_CALL",
        riskLevel: "HIGH",
        confidence: 0.703,
        rankScore: 0.703,
        why: ["FIRST_ENGAGEMENT_OCCURRED"],
        parameters: {
          contact: "sam@acme.example",
          contact_id: "c3",
          contact_name: "Sam Sales",
          contact_title: "VP Sales",
          recipient_role: "SALES",
          channel: "webinar",
        },
        blockingUnknowns: [],
      },
    ]);
    const bare = run({ contacts: [ivan], signals: [sig("FIRST_ENGAGEMENT_OCCURRED", { channel: 5 })] });
    expect(bare.find((p) => p.actionType === "CREATE_INTERNAL_NOTE")?.parameters.body).toBe(
      "First engagement from Acme Logistics: follow up within 48 hours.",
    );
    expect(bare.find((p) => p.actionType === "REQUEST_DISCOVERY_CALL")?.parameters).toEqual({
      contact: "ivan@acme.example",
      contact_id: "c2",
      contact_name: "Ivan Ito",
      contact_title: "IT Director",
      recipient_role: "EXECUTIVE",
    });
    expect(
      one({ contacts: [{ ...ivan, title: "Engineer" }], signals: [sig("FIRST_ENGAGEMENT_OCCURRED")] }, "REQUEST_DISCOVERY_CALL").parameters
        .recipient_role,
    ).toBe("TECHNICAL");
  });

  it("activation: news research always; a qualification task only when no deal is open", () => {
    expect(run({ signals: [sig("ACCOUNT_ACTIVATION_DETECTED")] })).toEqual([
      {
        actionType: "FETCH_ACCOUNT_NEWS",
        riskLevel: "MINIMAL",
        confidence: 0.889,
        rankScore: 0.889,
        why: ["ACCOUNT_ACTIVATION_DETECTED"],
        parameters: { query: "Acme Logistics" },
        blockingUnknowns: [],
      },
      {
        actionType: "CREATE_INTERNAL_TASK",
        riskLevel: "LOW",
        confidence: 0.771,
        rankScore: 0.771,
        why: ["ACCOUNT_ACTIVATION_DETECTED"],
        parameters: { title: "Qualify Acme Logistics: activity but no open opportunity", due_in_days: 5 },
        blockingUnknowns: [],
      },
    ]);
    const types = (opportunities: SynthesisOpportunity[]) =>
      run({ opportunities, signals: [sig("ACCOUNT_ACTIVATION_DETECTED")] }).map((p) => p.actionType);
    expect(types([opp({ id: "o1" })])).toEqual(["FETCH_ACCOUNT_NEWS"]);
    expect(types([opp({ id: "o1", stage: "CLOSED_LOST" })])).toEqual(["FETCH_ACCOUNT_NEWS", "CREATE_INTERNAL_TASK"]);
  });

  it("a signal type without a rule proposes nothing", () => {
    expect(run({ signals: [sig("ACTION_EXECUTED")] })).toEqual([]);
  });
});

describe("rituals", () => {
  it("daily brief: posture, momentum, the last 24 h of signals and the open pipeline", () => {
    const opportunities = [
      opp({ id: "o1", amountCents: 1_234_567 }),
      opp({ id: "o2", amountCents: 100_000 }),
      opp({ id: "o3", stage: "CLOSED_WON", amountCents: 9_999_999 }),
    ];
    const signals = [
      sig("ACTION_EXECUTED", {}, { id: "a", at: hoursAgo(24) }),
      sig("ACTION_EXECUTED", {}, { id: "b", at: hoursAgo(1) }),
      sig("ACTION_EXECUTED", {}, { id: "c", at: new Date(hoursAgo(24).getTime() - 1) }),
    ];
    expect(run({ triggerType: "TIME_RITUAL_DAILY_BRIEF", opportunities, signals })).toEqual([
      {
        actionType: "CREATE_INTERNAL_NOTE",
        riskLevel: "LOW",
        confidence: 0.895,
        rankScore: 0.895,
        why: ["TIME_RITUAL_DAILY_BRIEF"],
        parameters: {
          body: "Daily brief for Acme Logistics: posture watch, momentum down; 2 signals in the last 24 h; 2 open opportunities ($13,346).",
        },
        blockingUnknowns: [],
      },
    ]);
    const single = run({
      triggerType: "TIME_RITUAL_DAILY_BRIEF",
      account: { ...account, posture: "AT_RISK", momentum: "FLAT" },
      opportunities: [opp({ id: "o1", amountCents: 50 })],
      signals: [sig("ACTION_EXECUTED", {}, { at: hoursAgo(2) })],
    });
    expect(single[0]?.parameters.body).toBe(
      "Daily brief for Acme Logistics: posture at_risk, momentum flat; 1 signal in the last 24 h; 1 open opportunity ($1).",
    );
    expect(run({ triggerType: "TIME_RITUAL_DAILY_BRIEF" })[0]?.parameters.body).toBe(
      "Daily brief for Acme Logistics: posture watch, momentum down; 0 signals in the last 24 h; 0 open opportunities ($0).",
    );
  });

  it("weekly review: a task due in two days naming the next deal", () => {
    expect(
      run({
        triggerType: "TIME_RITUAL_WEEKLY_REVIEW",
        opportunities: [opp({ id: "o1", name: "N", closeDate: new Date("2026-03-20T00:00:00Z") })],
      }),
    ).toEqual([
      {
        actionType: "CREATE_INTERNAL_TASK",
        riskLevel: "LOW",
        confidence: 0.876,
        rankScore: 0.876,
        why: ["TIME_RITUAL_WEEKLY_REVIEW"],
        parameters: {
          title: "Weekly review: Acme Logistics",
          due_in_days: 2,
          opportunity_id: "o1",
          opportunity: "N (negotiation, $10,000, closes 2026-03-20)",
        },
        blockingUnknowns: [],
      },
    ]);
  });

  it("renewal runway: a brief for customers only", () => {
    expect(run({ triggerType: "TIME_RITUAL_RENEWAL_RUNWAY" })).toEqual([
      {
        actionType: "GENERATE_MEETING_BRIEF",
        riskLevel: "LOW",
        confidence: 0.876,
        rankScore: 0.876,
        why: ["TIME_RITUAL_RENEWAL_RUNWAY"],
        parameters: { title: "Renewal runway — Acme Logistics" },
        blockingUnknowns: [],
      },
    ]);
    expect(run({ triggerType: "TIME_RITUAL_RENEWAL_RUNWAY", account: { ...account, lifecycle: "PROSPECT" } })).toEqual([]);
    expect(run({ triggerType: "SIGNAL_ARRIVED" })).toEqual([]);
  });
});

describe("confidence from the evidence", () => {
  it("severity weights and a three-day half-life", () => {
    expect(SEVERITY_WEIGHT).toEqual({ low: 0.4, medium: 0.7, high: 1, critical: 1.4 });
    expect(EVIDENCE_HALF_LIFE_DAYS).toBe(3);
    const at = (h: number) => hoursAgo(h);
    expect(evidenceWeight({ severity: "high", at: at(0) }, now)).toBe(1);
    expect(evidenceWeight({ severity: "critical", at: at(72) }, now)).toBeCloseTo(0.7, 10);
    expect(evidenceWeight({ severity: "low", at: at(144) }, now)).toBeCloseTo(0.1, 10);
    // An unknown severity counts as medium.
    expect(evidenceWeight({ severity: "whatever", at: at(0) }, now)).toBe(0.7);
    // A signal stamped after `now` (clock skew) counts as fresh, not as more than fresh.
    expect(evidenceWeight({ severity: "high", at: at(-48) }, now)).toBe(1);
  });

  it("rises from the prior towards the ceiling with diminishing returns; no evidence leaves the prior", () => {
    expect(confidenceFrom(0.5, 0.9, 0)).toBe(0.5);
    expect(confidenceFrom(0.5, 0.9, -3)).toBe(0.5);
    expect(confidenceFrom(0.5, 0.9, 1)).toBe(0.753);
    expect(confidenceFrom(0.5, 0.9, 2)).toBe(0.846);
    expect(confidenceFrom(0.5, 0.9, 50)).toBe(0.9);
  });

  it("a corroborating signal adds its weight; the newest shapes the parameters; the reasons are listed once", () => {
    const older = sig("SUPPORT_RISK_EMERGING", { open_p1_tickets: 1 }, { id: "old", severity: "critical", at: hoursAgo(72) });
    const newer = sig("SUPPORT_RISK_EMERGING", { open_p1_tickets: 4 }, { id: "new", severity: "high", at: hoursAgo(0) });
    const flag = one({ signals: [older, newer] }, "FLAG_FOR_REVIEW");
    // strength 1 + 0.7 = 1.7
    expect(flag.confidence).toBe(0.921);
    expect(flag.confidence).toBeCloseTo(0.7 + 0.27 * (1 - Math.exp(-1.7)), 3);
    expect(flag.parameters.reason).toBe("4 open priority tickets at Acme Logistics");
    expect(flag.why).toEqual(["SUPPORT_RISK_EMERGING"]);
    // Two signal types behind one action: both are reasons, newest first.
    const task = one(
      {
        signals: [
          sig("ACCOUNT_ACTIVATION_DETECTED", {}, { id: "x", at: hoursAgo(2) }),
          sig("DISCOVERY_PROGRESS_STALLED", { days_in_stage: 9 }, { id: "y", at: hoursAgo(1) }),
        ],
      },
      "CREATE_INTERNAL_TASK",
    );
    expect(task.why).toEqual(["DISCOVERY_PROGRESS_STALLED", "ACCOUNT_ACTIVATION_DETECTED"]);
    expect(task.parameters.title).toBe("Unblock discovery at Acme Logistics");
  });

  it("signals of the same instant are read in id order, so the output does not depend on arrival order", () => {
    const a = sig("NO_ENGAGEMENT_PRESENT", { days_since_last_touch: 10 }, { id: "a" });
    const b = sig("NO_ENGAGEMENT_PRESENT", { days_since_last_touch: 20 }, { id: "b" });
    expect(one({ signals: [b, a] }, "DRAFT_EMAIL").parameters.body).toBe("It has been 10 days — anything we can help with this quarter?");
    expect(one({ signals: [a, b] }, "DRAFT_EMAIL").parameters.body).toBe("It has been 10 days — anything we can help with this quarter?");
    const noId = { ...b, id: undefined };
    expect(one({ signals: [noId, a] }, "DRAFT_EMAIL").parameters.body).toBe(
      "It has been 20 days — anything we can help with this quarter?",
    );
    expect(one({ signals: [a, noId] }, "DRAFT_EMAIL").parameters.body).toBe(
      "It has been 20 days — anything we can help with this quarter?",
    );
  });

  it("a ritual adds strength 1 to what the signals already support", () => {
    const brief = one({ triggerType: "TIME_RITUAL_RENEWAL_RUNWAY", signals: [sig("RENEWAL_WINDOW_ENTERED")] }, "GENERATE_MEETING_BRIEF");
    expect(brief.why).toEqual(["RENEWAL_WINDOW_ENTERED", "TIME_RITUAL_RENEWAL_RUNWAY"]);
    expect(brief.confidence).toBeCloseTo(0.7 + 0.25 * (1 - Math.exp(-2)), 3);
    expect(brief.parameters.title).toBe("Renewal prep — Acme Logistics");
  });
});

describe("activity, urgency and ranking", () => {
  const signals = [sig("SUPPORT_RISK_EMERGING")];
  it("what already waits for a human is not proposed again; other statuses do not hide it", () => {
    const types = (status: string) =>
      run({ signals, activity: [{ actionType: "SEND_EMAIL", status, at: hoursAgo(1) }] }).map((p) => p.actionType);
    expect(types("PENDING_APPROVAL")).toEqual(["FLAG_FOR_REVIEW"]);
    expect(types("REJECTED")).toEqual(["FLAG_FOR_REVIEW", "SEND_EMAIL"]);
  });

  it("what succeeded in the last three days is damped by 15 %; older or failed work is not", () => {
    const conf = (status: string, at: Date) =>
      one({ signals, activity: [{ actionType: "FLAG_FOR_REVIEW", status, at }] }, "FLAG_FOR_REVIEW").confidence;
    expect(conf("SUCCEEDED", hoursAgo(1))).toBe(0.74); // 0.871 × 0.85
    expect(conf("SUCCEEDED", new Date(hoursAgo(72).getTime() + 1))).toBe(0.74);
    expect(conf("SUCCEEDED", hoursAgo(72))).toBe(0.871);
    expect(conf("FAILED", hoursAgo(1))).toBe(0.871);
    // Another action type done does not damp this one.
    expect(
      one({ signals, activity: [{ actionType: "SEND_EMAIL", status: "SUCCEEDED", at: hoursAgo(1) }] }, "FLAG_FOR_REVIEW").confidence,
    ).toBe(0.871);
  });

  it("an account at risk ranks its proposals 10 % higher without changing their confidence", () => {
    const out = run({ account: { ...account, posture: "AT_RISK" }, signals });
    expect(out.map((p) => [p.actionType, p.confidence, p.rankScore])).toEqual([
      ["FLAG_FOR_REVIEW", 0.871, 0.958],
      ["SEND_EMAIL", 0.703, 0.773],
    ]);
  });

  it("rank rises with the account's heat (25 % at heat 1) without changing confidence; unscored reads as 0", () => {
    expect(HEAT_RANK_WEIGHT).toBe(0.25);
    const at = (score: number, tier = "WARM") =>
      run({ signals, heat: { score, tier } }).map((p) => [p.actionType, p.confidence, p.rankScore]);
    expect(at(0, "COLD")).toEqual([
      ["FLAG_FOR_REVIEW", 0.871, 0.871],
      ["SEND_EMAIL", 0.703, 0.703],
    ]);
    expect(run({ signals }).map((p) => p.rankScore)).toEqual([0.871, 0.703]);
    expect(at(0.5)).toEqual([
      ["FLAG_FOR_REVIEW", 0.871, 0.98], // 0.871 × 1.125
      ["SEND_EMAIL", 0.703, 0.791],
    ]);
    expect(at(1, "HOT")).toEqual([
      ["FLAG_FOR_REVIEW", 0.871, 1.089], // 0.871 × 1.25
      ["SEND_EMAIL", 0.703, 0.879],
    ]);
    // Posture urgency and heat multiply.
    expect(run({ account: { ...account, posture: "AT_RISK" }, signals, heat: { score: 1, tier: "HOT" } })[0]?.rankScore).toBe(1.198);
    // Out-of-range heat is clamped, never inverts or explodes the ranking.
    expect(rankScore(0.8, 1, -3)).toBe(0.8);
    expect(rankScore(0.8, 1, 7)).toBe(1);
    // Between two accounts, the same proposal on the hotter one ranks first.
    expect(rankScore(0.7, 1, 0.9)).toBeGreaterThan(rankScore(0.7, 1, 0.2));
  });

  it("highest rank first, ties by action type, five at most by default", () => {
    const all = [
      sig("SUPPORT_RISK_EMERGING", {}, { id: "1" }),
      sig("RENEWAL_WINDOW_ENTERED", {}, { id: "2" }),
      sig("FIRST_ENGAGEMENT_OCCURRED", {}, { id: "3" }),
      sig("ACCOUNT_ACTIVATION_DETECTED", {}, { id: "4" }),
    ];
    const ranked = run({ signals: all });
    expect(ranked.map((p) => [p.actionType, p.rankScore])).toEqual([
      ["FETCH_ACCOUNT_NEWS", 0.889],
      ["FLAG_FOR_REVIEW", 0.871],
      ["CREATE_INTERNAL_NOTE", 0.858],
      ["GENERATE_MEETING_BRIEF", 0.858],
      ["CREATE_INTERNAL_TASK", 0.771],
      ["REQUEST_RENEWAL_MEETING", 0.74],
      ["REQUEST_DISCOVERY_CALL", 0.703],
      ["SEND_EMAIL", 0.703],
    ]);
    expect(synthesize(input({ signals: all })).map((p) => p.actionType)).toEqual(ranked.slice(0, 5).map((p) => p.actionType));
    expect(synthesize(input({ signals: all }), 1)).toHaveLength(1);
  });
});

describe("addresses in proposals", () => {
  it("finds every address in nested strings, lower-cased, and nothing else", () => {
    expect(
      addressesIn({
        to: "Ann@Acme.Example",
        cc: ["b@x.io", { deep: ["<c.d@sub.y.org>, e@z.co; not-an-address@nowhere"] }],
        body: "write to (f@g.com) or 'h@i.net'",
        n: 3,
        nil: null,
      }),
    ).toEqual(["ann@acme.example", "b@x.io", "c.d@sub.y.org", "e@z.co", "f@g.com", "h@i.net"]);
    expect(addressesIn("a@b")).toEqual([]);
    expect(addressesIn("x:y@z.com")).toEqual(["y@z.com"]);
    expect(addressesIn(42)).toEqual([]);
  });

  it("an LLM proposal keeps contact addresses, loses foreign ones, and asks a human for each dropped field", () => {
    const p: Proposal = {
      actionType: "SEND_EMAIL",
      riskLevel: "HIGH",
      confidence: 0.8,
      why: ["X"],
      parameters: {
        to: "Ivan@Acme.example",
        cc: ["ghost@acme.example", "spook@acme.example"],
        bcc: ["casey.chen@acme.example", "ghost@acme.example"],
        [`${"k".repeat(50)}`]: "boss@invented.example",
        subject: "Hi",
      },
      blockingUnknowns: ["Earlier unknown"],
      rankScore: 0.8,
    };
    const out = enforceContactRecipients(p, [...contacts, { id: "n", name: "No mail", email: null, title: "CEO" }], "Acme");
    expect(out).toEqual({
      ...p,
      parameters: { to: "Ivan@Acme.example", bcc: ["casey.chen@acme.example"], subject: "Hi" },
      blockingUnknowns: [
        "Earlier unknown",
        `"cc" named an address that is not one of Acme's contacts: choose a contact.`,
        `"bcc" named an address that is not one of Acme's contacts: choose a contact.`,
        `"${"k".repeat(40)}" named an address that is not one of Acme's contacts: choose a contact.`,
      ],
    });
    expect(p.parameters.cc).toEqual(["ghost@acme.example", "spook@acme.example"]);
    // One list item naming a contact and a stranger together is dropped whole.
    const mixed = { ...p, parameters: { cc: ["ivan@acme.example, ghost@acme.example", "sam@acme.example"] } };
    expect(enforceContactRecipients(mixed, contacts, "Acme").parameters).toEqual({ cc: ["sam@acme.example"] });
  });

  it("keeps at most ten blocking unknowns, without repeats", () => {
    const parameters = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, `x${i}@evil.example`]));
    const p: Proposal = {
      actionType: "SEND_EMAIL",
      riskLevel: "HIGH",
      confidence: 0.5,
      why: [],
      parameters,
      blockingUnknowns: [`"f0" named an address that is not one of A's contacts: choose a contact.`],
      rankScore: 0.5,
    };
    const out = enforceContactRecipients(p, contacts, "A");
    expect(out.parameters).toEqual({});
    expect(out.blockingUnknowns).toHaveLength(10);
    expect(out.blockingUnknowns.slice(0, 2)).toEqual([
      `"f0" named an address that is not one of A's contacts: choose a contact.`,
      `"f1" named an address that is not one of A's contacts: choose a contact.`,
    ]);
  });
});
