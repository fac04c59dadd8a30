import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ACTION_TYPES } from "@/server/engine/actions";
import { SEVERITIES, SIGNAL_TYPES } from "@/server/engine/signals";
import {
  addressesIn,
  contactRoles,
  enforceContactRecipients,
  type SynthesisContact,
  type SynthesisInput,
  type SynthesisSignal,
  synthesize,
} from "@/server/engine/synthesis";

const now = new Date("2026-03-02T10:00:00Z");
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000);
const account = { name: "Acme Logistics", domain: "acme.example", lifecycle: "CUSTOMER", posture: "WATCH", momentum: "DOWN" };
const contacts: SynthesisContact[] = [
  { id: "c1", name: "Casey Chen", email: "casey.chen@acme.example", title: "CFO" },
  { id: "c2", name: "Ivan Ito", email: "ivan@acme.example", title: "IT Director" },
  { id: "c3", name: "Sam Sales", email: "sam@acme.example", title: "VP Sales" },
];
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
const sig = (type: string, severity = "medium", h = 1, evidence: Record<string, unknown> = {}): SynthesisSignal => ({
  id: `s-${type}-${severity}-${h}`,
  type,
  severity,
  evidence,
  at: hoursAgo(h),
});

describe("rules synthesizer: real data", () => {
  it("turns signals into ranked, explained proposals of known action types; nothing from nothing", () => {
    const out = synthesize(
      input({
        signals: [
          sig("SUPPORT_RISK_EMERGING", "high", 1, { open_p1_tickets: 2 }),
          sig("USAGE_TREND_CHANGE", "medium", 2, { change_pct: -30 }),
        ],
      }),
    );
    expect(out.map((p) => p.actionType)).toEqual(
      expect.arrayContaining(["FLAG_FOR_REVIEW", "ANALYZE_USAGE_PATTERNS", "SEND_EMAIL", "UPDATE_ACCOUNT_FIELDS"]),
    );
    for (const p of out) {
      expect(Object.keys(ACTION_TYPES)).toContain(p.actionType);
      expect(p.why.length).toBeGreaterThan(0);
      expect(p.confidence).toBeGreaterThan(0);
    }
    expect(out.find((p) => p.actionType === "FLAG_FOR_REVIEW")?.parameters.reason).toBe("2 open priority tickets at Acme Logistics");
    expect(synthesize(input())).toEqual([]);
  });

  it("chooses recipients by role: support risk → IT, renewal → the budget holder, intro via sales", () => {
    const out = synthesize(
      input({
        signals: [
          sig("SUPPORT_RISK_EMERGING"),
          sig("RENEWAL_WINDOW_ENTERED"),
          sig("STAKEHOLDER_GAP_DETECTED", "medium", 1, { missing_roles: ["Security reviewer"] }),
        ],
      }),
    );
    const by = (t: string) => out.find((p) => p.actionType === t)?.parameters;
    expect(by("SEND_EMAIL")).toMatchObject({ to: "ivan@acme.example", contact_id: "c2", recipient_role: "TECHNICAL" });
    expect(String(by("SEND_EMAIL")?.body)).toMatch(/^Hi Ivan — /);
    expect(by("REQUEST_RENEWAL_MEETING")).toMatchObject({ contact: "casey.chen@acme.example", recipient_role: "ECONOMIC_BUYER" });
    expect(by("REQUEST_STAKEHOLDER_INTRO")).toMatchObject({ via: "sam@acme.example", role: "Security reviewer" });
    for (const p of out) expect(p.blockingUnknowns).toEqual([]);
  });

  it("with no fitting contact, the proposal carries a blocking unknown and no address at all", () => {
    const noFit = [{ id: "x", name: "Pat Legal", email: "pat@acme.example", title: "General Counsel" }];
    const out = synthesize(input({ contacts: noFit, signals: [sig("RENEWAL_WINDOW_ENTERED")] }));
    const meeting = out.find((p) => p.actionType === "REQUEST_RENEWAL_MEETING");
    expect(meeting?.blockingUnknowns[0]).toMatch(/No contact at Acme Logistics .* fitting role/);
    expect(addressesIn(meeting?.parameters)).toEqual([]);
    // A contact without an email cannot be a recipient either.
    const noEmail = synthesize(
      input({ contacts: [{ id: "y", name: "C", email: null, title: "CFO" }], signals: [sig("RENEWAL_WINDOW_ENTERED")] }),
    );
    expect(noEmail.find((p) => p.actionType === "REQUEST_RENEWAL_MEETING")?.blockingUnknowns).toHaveLength(1);
  });

  it("names the account's opportunity in renewal and discovery proposals", () => {
    const opportunities = [
      { id: "o1", name: "Acme — Renewal", stage: "NEGOTIATION", amountCents: 12_000_000, closeDate: new Date("2026-04-01T00:00:00Z") },
      { id: "o2", name: "Acme — Pilot", stage: "DISCOVERY", amountCents: 1_000_000, closeDate: null },
      { id: "o3", name: "Acme — Old", stage: "CLOSED_LOST", amountCents: 5, closeDate: new Date("2025-01-01T00:00:00Z") },
    ];
    const out = synthesize(
      input({
        opportunities,
        signals: [sig("RENEWAL_WINDOW_ENTERED"), sig("DISCOVERY_PROGRESS_STALLED", "medium", 1, { days_in_stage: 40 })],
      }),
    );
    expect(out.find((p) => p.actionType === "GENERATE_MEETING_BRIEF")?.parameters).toMatchObject({
      opportunity_id: "o1",
      opportunity: "Acme — Renewal (negotiation, $120,000, closes 2026-04-01)",
    });
    expect(out.find((p) => p.actionType === "CREATE_INTERNAL_TASK")?.parameters).toMatchObject({
      opportunity_id: "o2",
      title: "Unblock Acme — Pilot",
    });
  });

  it("does not propose again what already waits for a human, and damps what was just done", () => {
    const signals = [sig("SUPPORT_RISK_EMERGING")];
    const base = synthesize(input({ signals }));
    const waiting = synthesize(input({ signals, activity: [{ actionType: "SEND_EMAIL", status: "PENDING_APPROVAL", at: hoursAgo(5) }] }));
    expect(waiting.map((p) => p.actionType)).toEqual(base.map((p) => p.actionType).filter((t) => t !== "SEND_EMAIL"));
    const done = synthesize(input({ signals, activity: [{ actionType: "FLAG_FOR_REVIEW", status: "SUCCEEDED", at: hoursAgo(5) }] }));
    const conf = (ps: typeof base) => ps.find((p) => p.actionType === "FLAG_FOR_REVIEW")?.confidence ?? 0;
    expect(conf(done)).toBeLessThan(conf(base));
  });

  it("is deterministic", () => {
    const i = input({ triggerType: "TIME_RITUAL_RENEWAL_RUNWAY", signals: [sig("RENEWAL_WINDOW_ENTERED")] });
    expect(synthesize(i)).toEqual(synthesize(structuredClone(i)));
  });

  it("reads roles from titles", () => {
    expect(contactRoles({ title: "Chief Financial Officer" })).toContain("ECONOMIC_BUYER");
    expect(contactRoles({ title: "Head of RevOps" })).toEqual(expect.arrayContaining(["EXECUTIVE", "SALES"]));
    expect(contactRoles({ title: null })).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const contactArb = fc.record({
  id: fc.string({ minLength: 1, maxLength: 6 }),
  name: fc.string({ maxLength: 12 }),
  email: fc.option(fc.emailAddress(), { nil: null }),
  title: fc.option(fc.constantFrom("CFO", "VP Sales", "IT Director", "COO", "Procurement Lead", "Intern", "Customer Success Manager", ""), {
    nil: null,
  }),
});
const signalArb = fc.record({
  id: fc.string({ minLength: 1, maxLength: 6 }),
  type: fc.constantFrom(...SIGNAL_TYPES),
  severity: fc.constantFrom(...SEVERITIES),
  evidence: fc.record(
    {
      change_pct: fc.integer({ min: -60, max: 60 }),
      open_p1_tickets: fc.integer({ min: 0, max: 5 }),
      missing_roles: fc.array(fc.constantFrom("Economic buyer", "Champion", "x@evil.example"), { maxLength: 2 }),
      channel: fc.constantFrom("webinar", "mail to boss@invented.example"),
    },
    { requiredKeys: [] },
  ),
  at: fc.integer({ min: 0, max: 14 * 24 }).map(hoursAgo),
});
const inputArb = fc.record({
  // Contact ids are unique, as in the database.
  contacts: fc.uniqueArray(contactArb, { selector: (c) => c.id, maxLength: 5 }),
  signals: fc.array(signalArb, { maxLength: 6 }),
  triggerType: fc.constantFrom("SIGNAL_ARRIVED", "TIME_RITUAL_DAILY_BRIEF", "TIME_RITUAL_RENEWAL_RUNWAY"),
});

describe("rules synthesizer: properties", () => {
  it("every address in a proposal's recipient fields is one of the account's contacts", () => {
    const stats = { withRecipient: 0, blocked: 0 };
    fc.assert(
      fc.property(inputArb, (g) => {
        const out = synthesize(input(g));
        const known = new Set(g.contacts.map((c) => c.email));
        for (const p of out) {
          for (const key of ["to", "contact", "via", "cc"]) {
            if (key in p.parameters) expect(known.has(p.parameters[key] as string)).toBe(true);
          }
          const contact = g.contacts.find((c) => c.id === p.parameters.contact_id);
          if (contact) expect([p.parameters.to, p.parameters.contact, p.parameters.via]).toContain(contact.email);
          if (ACTION_TYPES[p.actionType].externalContact || p.actionType === "DRAFT_EMAIL") {
            if (p.blockingUnknowns.length) stats.blocked += 1;
            else {
              stats.withRecipient += 1;
              expect(typeof p.parameters.contact_id).toBe("string");
            }
          }
        }
      }),
      { numRuns: 300 },
    );
    // Both branches were exercised, not just one.
    expect(stats.withRecipient).toBeGreaterThan(10);
    expect(stats.blocked).toBeGreaterThan(10);
  });

  const confidenceOf = (signals: SynthesisSignal[], type: string) =>
    synthesize(input({ signals }), 20).find((p) => p.actionType === type)?.confidence;

  it("confidence rises with a corroborating signal, with severity, and with recency — never the reverse", () => {
    let strictlyMoved = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...SIGNAL_TYPES.filter((t) => t !== "ACTION_EXECUTED" && t !== "ACTION_FAILED")),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 200 }),
        (type, sevIndex, age) => {
          const severity = SEVERITIES[sevIndex] as string;
          const one = [sig(type, severity, age)];
          const base = synthesize(input({ signals: one }), 20);
          for (const p of base) {
            const corroborated = confidenceOf([...one, { ...sig(type, severity, age + 1), id: "other" }], p.actionType) ?? 0;
            const severer = confidenceOf([sig(type, SEVERITIES[sevIndex + 1] as string, age)], p.actionType) ?? 0;
            const fresher = confidenceOf([sig(type, severity, age / 2)], p.actionType) ?? 0;
            const older = confidenceOf([sig(type, severity, age * 2)], p.actionType) ?? 0;
            expect(corroborated).toBeGreaterThanOrEqual(p.confidence);
            expect(severer).toBeGreaterThanOrEqual(p.confidence);
            expect(fresher).toBeGreaterThanOrEqual(p.confidence);
            expect(older).toBeLessThanOrEqual(p.confidence);
            if (corroborated > p.confidence && severer > p.confidence && fresher > p.confidence) strictlyMoved += 1;
            expect(p.confidence).toBeGreaterThan(0);
            expect(p.confidence).toBeLessThan(1);
          }
        },
      ),
      { numRuns: 200 },
    );
    // Not a constant: the evidence actually moved it in most cases.
    expect(strictlyMoved).toBeGreaterThan(100);
  });
});

describe("contact check for proposals from elsewhere (the LLM)", () => {
  it("drops an address that is not a contact and turns it into a blocking unknown", () => {
    const p = {
      actionType: "SEND_EMAIL" as const,
      riskLevel: "HIGH" as const,
      confidence: 0.8,
      why: ["X"],
      parameters: { to: "it.director@acme.example", cc: ["casey.chen@acme.example", "ghost@acme.example"], subject: "Hi" },
      blockingUnknowns: [],
      rankScore: 0.8,
    };
    const out = enforceContactRecipients(p, contacts, "Acme Logistics");
    expect(out.parameters).toEqual({ cc: ["casey.chen@acme.example"], subject: "Hi" });
    expect(out.blockingUnknowns).toHaveLength(2);
    expect(out.blockingUnknowns[0]).toMatch(/"to" named an address that is not one of Acme Logistics's contacts/);
    const fine = { ...p, parameters: { to: "IVAN@acme.example" } };
    expect(enforceContactRecipients(fine, contacts, "Acme")).toBe(fine);
  });
});
