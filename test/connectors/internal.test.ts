import { describe, expect, it } from "vitest";
import { type ArtifactData, BODY_MAX, humanize, renderInternalArtifact, TITLE_MAX } from "@/server/connectors/internal";

const ctx = { accountName: "Acme Corp", why: ["RENEWAL_WINDOW_ENTERED", "ARR_AT_RISK", "Champion left last month"] };

describe("renderInternalArtifact", () => {
  it("maps every internal action type to its artifact kind", () => {
    const kinds = Object.fromEntries(
      [
        "CREATE_INTERNAL_NOTE",
        "CREATE_INTERNAL_TASK",
        "FLAG_FOR_REVIEW",
        "GENERATE_MEETING_BRIEF",
        "DRAFT_EMAIL",
        "OPEN_APPROVAL_REQUEST",
        "FETCH_ACCOUNT_NEWS",
        "ANALYZE_USAGE_PATTERNS",
      ].map((t) => [t, renderInternalArtifact(t, {}, ctx)?.kind]),
    );
    expect(kinds).toEqual({
      CREATE_INTERNAL_NOTE: "NOTE",
      CREATE_INTERNAL_TASK: "TASK",
      FLAG_FOR_REVIEW: "FLAG",
      GENERATE_MEETING_BRIEF: "MEETING_BRIEF",
      DRAFT_EMAIL: "EMAIL_DRAFT",
      OPEN_APPROVAL_REQUEST: "TASK",
      FETCH_ACCOUNT_NEWS: "RESEARCH",
      ANALYZE_USAGE_PATTERNS: "RESEARCH",
    });
  });

  it("returns null for types it does not carry out", () => {
    expect(renderInternalArtifact("SEND_EMAIL", { to: "a@example.com" }, ctx)).toBeNull();
    expect(renderInternalArtifact("REQUEST_RENEWAL_MEETING", {}, ctx)).toBeNull();
    expect(renderInternalArtifact("toString", {}, ctx)).toBeNull();
    expect(renderInternalArtifact("", {}, ctx)).toBeNull();
  });

  it("writes a note from its parameters and the humanised reasons", () => {
    const a = renderInternalArtifact("CREATE_INTERNAL_NOTE", { title: "Champion change", body: "Maria replaced Tom as sponsor." }, ctx);
    expect(a).toEqual({
      kind: "NOTE",
      title: "Champion change",
      body: "Maria replaced Tom as sponsor.\n\nWhy now:\n- Renewal window entered\n- ARR at risk\n- Champion left last month",
    });
  });

  it("falls back to sensible text from the account name", () => {
    const a = renderInternalArtifact("CREATE_INTERNAL_NOTE", {}, { accountName: "Acme Corp", why: [] });
    expect(a?.title).toBe("Note on Acme Corp");
    expect(a?.body).toContain("Acme Corp");
    expect(a?.body).not.toContain("Why now");
    expect(renderInternalArtifact("FLAG_FOR_REVIEW", {}, { accountName: "  ", why: [] })?.title).toBe("Review this account");
  });

  it("renders a task with its due date", () => {
    const a = renderInternalArtifact("CREATE_INTERNAL_TASK", { title: "Book the QBR", due_in_days: 3 }, ctx);
    expect(a?.title).toBe("Book the QBR");
    expect(a?.body).toContain("Due: in 3 days");
    expect(renderInternalArtifact("CREATE_INTERNAL_TASK", { due_in_days: 1 }, ctx)?.body).toContain("Due: tomorrow");
    expect(renderInternalArtifact("CREATE_INTERNAL_TASK", { due_in_days: -2 }, ctx)?.body).not.toContain("Due");
  });

  it("renders a meeting brief with agenda and context", () => {
    const a = renderInternalArtifact(
      "GENERATE_MEETING_BRIEF",
      { agenda: ["Usage review", "Renewal terms"], attendees: ["Maria (VP Ops)"] },
      ctx,
    );
    expect(a?.title).toBe("Meeting brief: Acme Corp");
    expect(a?.body).toContain("Agenda:\n- Usage review\n- Renewal terms");
    expect(a?.body).toContain("Attendees:\n- Maria (VP Ops)");
    expect(a?.body).toContain("Context:\n- Renewal window entered");
  });

  it("renders an email draft that says it was not sent", () => {
    const a = renderInternalArtifact(
      "DRAFT_EMAIL",
      { to: ["maria@acme.example", "tom@acme.example"], subject: "Renewal timing", body: "Hi Maria, ..." },
      ctx,
    );
    expect(a?.kind).toBe("EMAIL_DRAFT");
    expect(a?.title).toBe("Renewal timing");
    expect(a?.body).toMatch(/not been sent|nothing has been sent/i);
    expect(a?.body).toContain("To: maria@acme.example, tom@acme.example");
    expect(a?.body).toContain("Subject: Renewal timing");
    expect(a?.body).toContain("Hi Maria, ...");
  });

  it("names the requested action on an approval request", () => {
    const a = renderInternalArtifact("OPEN_APPROVAL_REQUEST", { action_type: "SEND_EMAIL" }, ctx);
    expect(a).toMatchObject({ kind: "TASK", title: "Approval needed: send email for Acme Corp" });
    expect(a?.body).toContain("Requested action: Send email");
  });

  it("turns research types into research requests", () => {
    expect(renderInternalArtifact("FETCH_ACCOUNT_NEWS", {}, ctx)?.title).toBe("Recent news: Acme Corp");
    const usage = renderInternalArtifact("ANALYZE_USAGE_PATTERNS", { window_days: 30, metrics: ["weekly active users"] }, ctx);
    expect(usage?.body).toContain("Look back: last 30 days");
    expect(usage?.body).toContain("Metrics:\n- weekly active users");
  });

  it("caps title at 200 and body at 5,000 characters and keeps titles on one line", () => {
    const a = renderInternalArtifact(
      "CREATE_INTERNAL_NOTE",
      { title: `Line one\nline two ${"t".repeat(500)}`, body: "b".repeat(20_000) },
      ctx,
    );
    expect(a?.title).toHaveLength(TITLE_MAX);
    expect(a?.title.endsWith("…")).toBe(true);
    expect(a?.title).not.toContain("\n");
    expect(a?.body).toHaveLength(BODY_MAX);
    expect(a?.body.endsWith("…")).toBe(true);
  });

  it("never cuts a surrogate pair in half", () => {
    const a = renderInternalArtifact("CREATE_INTERNAL_NOTE", { title: "😀".repeat(150) }, ctx);
    expect(a?.title.length).toBeLessThanOrEqual(TITLE_MAX);
    expect(a?.title).toMatch(/^(😀)+…$/u);
  });

  it("ignores non-string reasons", () => {
    const a = renderInternalArtifact("FLAG_FOR_REVIEW", {}, { accountName: "Acme", why: ["USAGE_DROPPED", 42 as unknown as string] });
    expect(a?.body).toContain("Why now:\n- Usage dropped");
    expect(a?.body).not.toContain("42");
  });
});

describe("humanize", () => {
  it("turns reason codes into sentences and leaves prose alone", () => {
    expect(humanize("RENEWAL_WINDOW_ENTERED")).toBe("Renewal window entered");
    expect(humanize("NPS_DROPPED")).toBe("NPS dropped");
    expect(humanize("Already a sentence")).toBe("Already a sentence");
  });
});

describe("artifacts computed from stored data", () => {
  const now = new Date("2026-03-10T12:00:00Z");
  const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000);
  const data: ArtifactData = {
    now,
    contacts: [
      { name: "Casey Chen", title: "CFO", email: "casey@acme.example" },
      { name: "Ivan Ito", title: null, email: null },
    ],
    opportunities: [{ name: "Acme — Renewal", stage: "NEGOTIATION", amountCents: 12_000_000, closeDate: new Date("2026-04-01T00:00:00Z") }],
    openIntents: [{ actionType: "SEND_EMAIL", createdAt: daysAgo(1) }],
    signals: [
      {
        id: "s1",
        type: "USAGE_TREND_CHANGE",
        severity: "medium",
        evidence: { metric: "weekly_active_users", change_pct: -30 },
        at: daysAgo(2),
      },
      {
        id: "s2",
        type: "USAGE_TREND_CHANGE",
        severity: "low",
        evidence: { metric: "weekly_active_users", change_pct: -10 },
        at: daysAgo(9),
      },
      { id: "s3", type: "SUPPORT_RISK_EMERGING", severity: "high", evidence: { open_p1_tickets: 2 }, at: daysAgo(3) },
      { id: "old", type: "USAGE_TREND_CHANGE", severity: "low", evidence: { change_pct: 50 }, at: daysAgo(60) },
    ],
  };

  it("a usage analysis states its numbers, from the usage signals in the window only", () => {
    const a = renderInternalArtifact("ANALYZE_USAGE_PATTERNS", { window_days: 30 }, { ...ctx, data });
    expect(a?.body).toContain("Computed from 2 usage signals for Acme Corp in the last 30 days.");
    expect(a?.body).toContain("Latest reported change: −30%");
    expect(a?.body).toContain("Average of 2 reported changes: −20%");
    expect(a?.body).toContain("Range: −30% to −10%");
    expect(a?.body).toContain("Direction: declining");
    expect(a?.body).toContain("2026-03-08: Usage trend change (medium) — metric weekly_active_users, change pct -30");
    expect(a?.body).toContain("Other activity in the window:\n- Support risk emerging: 1");
    // The 60-day-old +50% is outside the window and changes nothing.
    expect(a?.body).not.toContain("+50%");
  });

  it("with no usage data, the analysis says there is nothing to measure — no invented numbers", () => {
    const a = renderInternalArtifact("ANALYZE_USAGE_PATTERNS", { window_days: 7 }, { ...ctx, data: { ...data, signals: [] } });
    expect(a?.body).toContain("No usage data was received for Acme Corp in the last 7 days");
    expect(a?.body).not.toMatch(/%/);
  });

  it("without a news source, account news says so and lists what was checked instead", () => {
    const a = renderInternalArtifact("FETCH_ACCOUNT_NEWS", {}, { ...ctx, data });
    expect(a?.body).toContain("No news source is connected, so no external news about Acme Corp was fetched.");
    expect(a?.body).toContain("the 3 signals stored for Acme Corp in the last 30 days");
    expect(a?.body).toContain("Support risk emerging (high) — open p1 tickets 2");
    const none = renderInternalArtifact("FETCH_ACCOUNT_NEWS", {}, { ...ctx, data: { ...data, signals: [] } });
    expect(none?.body).toContain("none in the last 30 days");
  });

  it("a meeting brief is built from contacts, opportunities, open proposals and recent signals", () => {
    const a = renderInternalArtifact("GENERATE_MEETING_BRIEF", { agenda: ["Commercial terms"] }, { ...ctx, data });
    expect(a?.body).toContain("Attendees:\n- Casey Chen — CFO <casey@acme.example>\n- Ivan Ito");
    expect(a?.body).toContain("Opportunities:\n- Acme — Renewal: negotiation, $120,000, closes 2026-04-01");
    expect(a?.body).toContain("Waiting for a decision:\n- Send email (proposed 2026-03-09)");
    expect(a?.body).toContain("Recent signals (14 days):\n- 2026-03-08: Usage trend change");
    expect(a?.body).toContain("Agenda:\n- Commercial terms");
    const empty = renderInternalArtifact(
      "GENERATE_MEETING_BRIEF",
      {},
      { ...ctx, data: { ...data, contacts: [], opportunities: [], openIntents: [] } },
    );
    expect(empty?.body).toContain("No contacts on record for this account");
    expect(empty?.body).toContain("No opportunities on record.");
    expect(empty?.body).toContain("Nothing is waiting for a decision.");
  });
});
