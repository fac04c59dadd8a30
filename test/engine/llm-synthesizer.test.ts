import { APICallError } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { rankScore, type SynthesisInput, synthesize } from "../../server/engine/synthesis";
import { SynthesisModelOutput } from "../../server/schemas/synthesis";
import {
  createLlmSynthesizer,
  estimateTokens,
  rulesSynthesizer,
  type SynthesisOutcome,
  safeMessage,
  synthesizerFromEnv,
} from "../../server/services/llmSynthesizer";

// `@ai-sdk/provider` is not a direct dependency: derive the V3 result type from the mock.
type LanguageModelV3GenerateResult = Awaited<ReturnType<MockLanguageModelV3["doGenerate"]>>;

/**
 * The LLM synthesizer against a scripted model (`MockLanguageModelV3`): no network anywhere.
 * Where a real provider client is built, `fetch` is stubbed and asserted on.
 */

const input: SynthesisInput = {
  account: { name: "Acme Corp", domain: "acme.test", lifecycle: "CUSTOMER", posture: "WATCH", momentum: "DOWN" },
  signals: [
    { type: "USAGE_TREND_CHANGE", severity: "high", evidence: { change_pct: -32, seats_active: 41 }, at: new Date("2025-03-02T09:00:00Z") },
    { type: "SUPPORT_RISK_EMERGING", severity: "medium", evidence: { open_p1: 3 }, at: new Date("2025-03-01T15:30:00Z") },
  ],
  triggerType: "USAGE_TREND_CHANGE",
  now: new Date("2025-03-02T10:00:00Z"),
  contacts: [{ id: "c1", name: "Casey Chen", email: "casey@acme.test", title: "CFO" }],
  opportunities: [
    { id: "o1", name: "Acme renewal", stage: "NEGOTIATION", amountCents: 5_000_000, closeDate: new Date("2025-04-01T00:00:00Z") },
  ],
  activity: [{ actionType: "FLAG_FOR_REVIEW", status: "SUCCEEDED", at: new Date("2025-03-01T10:00:00Z") }],
};

const validOutput = {
  proposals: [
    {
      action_type: "ANALYZE_USAGE_PATTERNS",
      risk_level: "MINIMAL",
      confidence: 0.91,
      why: ["USAGE_TREND_CHANGE"],
      parameters: { window_days: 30 },
      blocking_unknowns: [],
    },
    {
      action_type: "SEND_EMAIL",
      // Lower than the registry's HIGH: must come back HIGH.
      risk_level: "LOW",
      confidence: 0.6,
      why: ["SUPPORT_RISK_EMERGING", "USAGE_TREND_CHANGE"],
      parameters: { to: "it.director@acme.test", subject: "Your open tickets", cc: ["casey@acme.test", "cs@acme.test"], urgent: true },
      blocking_unknowns: ["right contact"],
    },
    {
      action_type: "ANALYZE_USAGE_PATTERNS",
      risk_level: "LOW",
      confidence: 0.95,
      why: ["USAGE_TREND_CHANGE", "USAGE_TREND_CHANGE"],
      parameters: { window_days: 60 },
      blocking_unknowns: [],
    },
  ],
  summary: "Usage is falling while P1 tickets are open.",
};

/** The exact V3 `doGenerate` result shape: text content, `{ unified, raw }` finish, nested usage. */
function textResult(text: string, usage = { input: 812, output: 143 }, finish: "stop" | "length" | "content-filter" = "stop") {
  return {
    content: text ? [{ type: "text", text }] : [],
    finishReason: { unified: finish, raw: finish },
    usage: {
      inputTokens: { total: usage.input, noCache: usage.input, cacheRead: undefined, cacheWrite: undefined },
      outputTokens: { total: usage.output, text: usage.output, reasoning: undefined },
    },
    warnings: [],
  } satisfies LanguageModelV3GenerateResult;
}

const scripted = (text: string, usage?: { input: number; output: number }) =>
  new MockLanguageModelV3({ doGenerate: textResult(text, usage) });

function expectFailure(o: SynthesisOutcome) {
  if (o.ok) throw new Error(`expected a failure, got ${o.proposals.length} proposals`);
  expect(o.message.length).toBeLessThanOrEqual(300);
  return o;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("LLM synthesizer with a scripted model", () => {
  it("maps valid output to proposals and meters the tokens", async () => {
    const model = scripted(JSON.stringify(validOutput));
    const out = await createLlmSynthesizer(model, { modelName: "mock:valid" }).synthesize(input, {});
    if (!out.ok) throw new Error(out.message);
    expect(out.model).toBe("mock:valid");
    expect(out.tokens).toEqual({ input: 812, output: 143, total: 955 });
    // Deduped by type keeping the higher confidence; ranked by confidence (a WATCH account with no
    // heat: rank = confidence); risk floored at the registry's.
    expect(out.proposals.map((p) => [p.actionType, p.riskLevel, p.confidence, p.rankScore])).toEqual([
      ["ANALYZE_USAGE_PATTERNS", "LOW", 0.95, 0.95],
      ["SEND_EMAIL", "HIGH", 0.6, 0.6],
    ]);
    // The same output for a HOT, at-risk account ranks on the rules engine's scale: posture
    // urgency and heat lift the rank, never the confidence.
    const hot = await createLlmSynthesizer(scripted(JSON.stringify(validOutput)), { modelName: "mock:valid" }).synthesize(
      { ...input, account: { ...input.account, posture: "AT_RISK" }, heat: { score: 1, tier: "HOT" } },
      {},
    );
    if (!hot.ok) throw new Error(hot.message);
    expect(hot.proposals.map((p) => [p.actionType, p.confidence, p.rankScore])).toEqual([
      ["ANALYZE_USAGE_PATTERNS", 0.95, rankScore(0.95, 1.1, 1)],
      ["SEND_EMAIL", 0.6, rankScore(0.6, 1.1, 1)],
    ]);
    expect(hot.proposals[0]?.rankScore).toBeGreaterThan(0.95);
    expect(out.proposals[0]?.why).toEqual(["USAGE_TREND_CHANGE"]);
    expect(out.proposals[0]?.parameters).toEqual({ window_days: 60 });
    // Invented recipients never survive: dropped, and each one becomes a blocking unknown.
    expect(out.proposals[1]?.parameters).toEqual({ subject: "Your open tickets", cc: ["casey@acme.test"], urgent: true });
    expect(out.proposals[1]?.blockingUnknowns).toEqual([
      "right contact",
      `"to" named an address that is not one of Acme Corp's contacts: choose a contact.`,
      `"cc" named an address that is not one of Acme Corp's contacts: choose a contact.`,
    ]);

    // One call, no retries, no tools: the model answers once and cannot trigger anything itself.
    expect(model.doGenerateCalls).toHaveLength(1);
    const call = model.doGenerateCalls[0];
    expect(call?.tools ?? []).toEqual([]);
    expect(call?.responseFormat?.type).toBe("json");
    expect(call?.maxOutputTokens).toBe(1200);
  });

  it("accepts an empty proposal list", async () => {
    const out = await createLlmSynthesizer(scripted(JSON.stringify({ proposals: [], summary: "nothing to do" })), {
      modelName: "m",
    }).synthesize(input, {});
    expect(out).toMatchObject({ ok: true, proposals: [] });
  });

  it("sends the account's signals and trigger in the prompt, and no key", async () => {
    const model = scripted(JSON.stringify(validOutput));
    await createLlmSynthesizer(model, { modelName: "m" }).synthesize(input, {});
    const prompt = model.doGenerateCalls[0]?.prompt ?? [];
    const system = prompt.find((m) => m.role === "system");
    const user = prompt.find((m) => m.role === "user");
    expect(system?.content).toContain("only propose");
    expect(system?.content).toContain("CHANGE_DISCOUNT");
    const userText = user?.role === "user" ? user.content.map((c) => (c.type === "text" ? c.text : "")).join("") : "";
    const sent = JSON.parse(userText);
    expect(sent).toEqual({
      account: { name: "Acme Corp", lifecycle: "CUSTOMER", posture: "WATCH", momentum: "DOWN" },
      trigger: "USAGE_TREND_CHANGE",
      now: "2025-03-02T10:00:00.000Z",
      // The same context the rules engine sees: contacts are the only possible recipients.
      contacts: [{ name: "Casey Chen", title: "CFO", email: "casey@acme.test" }],
      opportunities: [{ name: "Acme renewal", stage: "NEGOTIATION", amount_cents: 5_000_000, close_date: "2025-04-01" }],
      signals: [
        { type: "USAGE_TREND_CHANGE", severity: "high", evidence: { change_pct: -32, seats_active: 41 }, at: "2025-03-02T09:00:00.000Z" },
        { type: "SUPPORT_RISK_EMERGING", severity: "medium", evidence: { open_p1: 3 }, at: "2025-03-01T15:30:00.000Z" },
      ],
      activity: [{ action_type: "FLAG_FOR_REVIEW", status: "SUCCEEDED", at: "2025-03-01T10:00:00.000Z" }],
    });
    expect(JSON.stringify(prompt)).not.toMatch(/sk-|api[_-]?key/i);
  });

  it("malformed JSON → UNPARSEABLE, usage still metered, no throw", async () => {
    const model = scripted('{"proposals": [ {"action_type": "SEND_EM', { input: 700, output: 50 });
    const out = expectFailure(await createLlmSynthesizer(model, { modelName: "m" }).synthesize(input, {}));
    expect(out.error).toBe("MODEL_OUTPUT_UNPARSEABLE");
    expect(out.tokens).toEqual({ input: 700, output: 50, total: 750 });
    // The raw model text stays out of the message (it can echo the prompt).
    expect(out.message).not.toContain("SEND_EM");
  });

  it("schema-violating output (unknown action type, confidence 2) → INVALID", async () => {
    const bad = {
      summary: "x",
      proposals: [{ ...validOutput.proposals[0], action_type: "WIRE_MONEY", confidence: 2 }],
    };
    const out = expectFailure(await createLlmSynthesizer(scripted(JSON.stringify(bad)), { modelName: "m" }).synthesize(input, {}));
    expect(out.error).toBe("MODEL_OUTPUT_INVALID");
    expect(out.message).toContain("proposals.0.action_type: not an allowed value");
    expect(out.message).toContain("proposals.0.confidence");
    expect(out.tokens.total).toBe(955);
  });

  it.each([
    ["lower-case reason code", { why: ["usage dropped"] }],
    ["nested parameters", { parameters: { fields: { posture: "WATCH" } } }],
    ["too many blocking unknowns", { blocking_unknowns: ["a", "b", "c", "d", "e", "f"] }],
    ["no reason", { why: [] }],
  ])("rejects %s", async (_label, patch) => {
    const bad = { summary: "x", proposals: [{ ...validOutput.proposals[0], ...patch }] };
    const out = expectFailure(await createLlmSynthesizer(scripted(JSON.stringify(bad)), { modelName: "m" }).synthesize(input, {}));
    expect(out.error).toBe("MODEL_OUTPUT_INVALID");
  });

  it("more than five proposals → INVALID", async () => {
    const six = { summary: "x", proposals: Array.from({ length: 6 }, () => validOutput.proposals[0]) };
    expect(SynthesisModelOutput.safeParse(six).success).toBe(false);
    const out = expectFailure(await createLlmSynthesizer(scripted(JSON.stringify(six)), { modelName: "m" }).synthesize(input, {}));
    expect(out.error).toBe("MODEL_OUTPUT_INVALID");
  });

  it("no text at all (content filter) → UNPARSEABLE with usage", async () => {
    const model = new MockLanguageModelV3({ doGenerate: textResult("", { input: 500, output: 0 }, "content-filter") });
    const out = expectFailure(await createLlmSynthesizer(model, { modelName: "m" }).synthesize(input, {}));
    expect(out.error).toBe("MODEL_OUTPUT_UNPARSEABLE");
    expect(out.tokens).toEqual({ input: 500, output: 0, total: 500 });
  });

  it("a model that never answers → MODEL_TIMEOUT within the timeout", async () => {
    // An abortable delay: resolves after 30 s unless the call's abort signal fires first.
    const model = new MockLanguageModelV3({
      doGenerate: ({ abortSignal }) =>
        new Promise((resolve, reject) => {
          const t = setTimeout(() => resolve(textResult(JSON.stringify(validOutput))), 30_000);
          abortSignal?.addEventListener("abort", () => {
            clearTimeout(t);
            reject(abortSignal.reason);
          });
        }),
    });
    const started = performance.now();
    const out = expectFailure(await createLlmSynthesizer(model, { modelName: "m", timeoutMs: 200 }).synthesize(input, {}));
    const elapsed = performance.now() - started;
    expect(out.error).toBe("MODEL_TIMEOUT");
    expect(out.message).toContain("200 ms");
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(1500);
    expect(model.doGenerateCalls[0]?.abortSignal?.aborted).toBe(true);
  });

  it("times out even when the model ignores the abort signal", async () => {
    const model = new MockLanguageModelV3({ doGenerate: () => new Promise(() => {}) });
    const started = performance.now();
    const out = expectFailure(await createLlmSynthesizer(model, { modelName: "m", timeoutMs: 200 }).synthesize(input, {}));
    expect(out.error).toBe("MODEL_TIMEOUT");
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it("a caller abort ends the call as MODEL_TIMEOUT", async () => {
    const model = new MockLanguageModelV3({
      doGenerate: ({ abortSignal }) => new Promise((_, reject) => abortSignal?.addEventListener("abort", () => reject(abortSignal.reason))),
    });
    const caller = new AbortController();
    setTimeout(() => caller.abort(), 50);
    const out = expectFailure(
      await createLlmSynthesizer(model, { modelName: "m", timeoutMs: 5_000 }).synthesize(input, { abortSignal: caller.signal }),
    );
    expect(out.error).toBe("MODEL_TIMEOUT");
    expect(out.message).toContain("aborted");
  });

  it("a provider error → MODEL_ERROR with the key redacted", async () => {
    const model = new MockLanguageModelV3({
      doGenerate: async () => {
        throw new APICallError({
          message: "Incorrect API key provided: sk-proj-abcdef1234567890. You can find your API key at https://platform.openai.com.",
          url: "https://api.openai.com/v1/chat/completions",
          requestBodyValues: { secret: "prompt" },
          statusCode: 401,
          isRetryable: false,
        });
      },
    });
    const out = expectFailure(await createLlmSynthesizer(model, { modelName: "m" }).synthesize(input, {}));
    expect(out.error).toBe("MODEL_ERROR");
    expect(out.message).toContain("HTTP 401");
    expect(out.message).not.toContain("abcdef1234567890");
    expect(model.doGenerateCalls).toHaveLength(1);
  });

  it("any other exception → MODEL_ERROR, bounded", async () => {
    const model = new MockLanguageModelV3({
      doGenerate: async () => {
        throw new Error(`socket hang up ${"x".repeat(1000)}`);
      },
    });
    const out = expectFailure(await createLlmSynthesizer(model, { modelName: "m" }).synthesize(input, {}));
    expect(out.error).toBe("MODEL_ERROR");
    expect(out.message.startsWith("Error: socket hang up")).toBe(true);
  });
});

describe("safeMessage", () => {
  it("redacts keys and bearer tokens and caps the length", () => {
    expect(safeMessage("bad key sk-ant-api03-AAAABBBBCCCC")).toBe("bad key [REDACTED]");
    expect(safeMessage("Authorization: Bearer abc.def")).not.toContain("abc.def");
    expect(safeMessage('{"api_key": "k-123456"}')).not.toContain("k-123456");
    expect(safeMessage("y".repeat(1000))).toHaveLength(300);
  });
});

describe("rules synthesizer and configuration", () => {
  it("the rules synthesizer is the deterministic engine, at no token cost", async () => {
    const out = await rulesSynthesizer.synthesize(input, {});
    expect(out).toEqual({ ok: true, proposals: synthesize(input, 5), tokens: { input: 0, output: 0, total: 0 }, model: "rules" });
  });

  it("no key configured → rules", () => {
    expect(synthesizerFromEnv({})).toBe(rulesSynthesizer);
    expect(synthesizerFromEnv({ OPENAI_API_KEY: "  ", LLM_MODEL: "gpt-4.1" })).toBe(rulesSynthesizer);
    expect(synthesizerFromEnv({ OPENAI_API_KEY: "sk-test", LLM_PROVIDER: "rules" })).toBe(rulesSynthesizer);
  });

  it("misconfiguration fails loudly, without echoing keys", () => {
    expect(() => synthesizerFromEnv({ LLM_PROVIDER: "gemini" })).toThrow(/LLM_PROVIDER/);
    expect(() => synthesizerFromEnv({ LLM_PROVIDER: "anthropic", OPENAI_API_KEY: "sk-secret-value" })).toThrow(/ANTHROPIC_API_KEY/);
    try {
      synthesizerFromEnv({ LLM_PROVIDER: "anthropic", OPENAI_API_KEY: "sk-secret-value" });
    } catch (e) {
      expect(String(e)).not.toContain("sk-secret-value");
    }
  });

  it("with a key it builds an LLM synthesizer without any network call", () => {
    const fetch = vi.fn(() => Promise.reject(new Error("no network in tests")));
    vi.stubGlobal("fetch", fetch);
    expect(synthesizerFromEnv({ OPENAI_API_KEY: "sk-test-openai" }).name).toBe("openai:gpt-4.1-mini");
    expect(synthesizerFromEnv({ ANTHROPIC_API_KEY: "sk-ant-test" }).name).toBe("anthropic:claude-haiku-4-5");
    expect(
      synthesizerFromEnv({ LLM_PROVIDER: "Anthropic", OPENAI_API_KEY: "a", ANTHROPIC_API_KEY: "b", LLM_MODEL: "claude-sonnet-4-5" }).name,
    ).toBe("anthropic:claude-sonnet-4-5");
    expect(fetch).not.toHaveBeenCalled();
  });

  it("the OpenAI synthesizer speaks Chat Completions, non-strict schema, key only in the header", async () => {
    const requests: { url: string; headers: Headers; body: string }[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string | URL, init?: RequestInit) => {
        requests.push({ url: String(url), headers: new Headers(init?.headers), body: String(init?.body) });
        return new Response(
          JSON.stringify({
            id: "chatcmpl-1",
            object: "chat.completion",
            created: 1_740_000_000,
            model: "gpt-4.1-mini",
            choices: [{ index: 0, message: { role: "assistant", content: JSON.stringify(validOutput) }, finish_reason: "stop" }],
            usage: { prompt_tokens: 900, completion_tokens: 120, total_tokens: 1020 },
          }),
          { status: 200, headers: { "content-type": "application/json" } },
        );
      }),
    );
    const out = await synthesizerFromEnv({ OPENAI_API_KEY: "sk-test-openai-key" }).synthesize(input, {});
    expect(out).toMatchObject({ ok: true, model: "openai:gpt-4.1-mini", tokens: { input: 900, output: 120, total: 1020 } });
    expect(requests).toHaveLength(1);
    const [req] = requests;
    expect(req?.url).toBe("https://api.openai.com/v1/chat/completions");
    expect(req?.headers.get("authorization")).toBe("Bearer sk-test-openai-key");
    expect(req?.body).not.toContain("sk-test-openai-key");
    const body = JSON.parse(req?.body ?? "{}");
    expect(body.response_format.type).toBe("json_schema");
    expect(body.response_format.json_schema.strict).toBe(false);
    expect(body.max_tokens).toBe(1200);
    expect(req?.body).toContain("SUPPORT_RISK_EMERGING");
  });
  it("the Anthropic synthesizer round-trips through the provider client (JSON tool for open objects)", async () => {
    const bodies: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string | URL, init?: RequestInit) => {
        expect(String(url)).toBe("https://api.anthropic.com/v1/messages");
        expect(new Headers(init?.headers).get("x-api-key")).toBe("sk-ant-test-key");
        bodies.push(String(init?.body));
        return new Response(
          JSON.stringify({
            id: "msg_1",
            type: "message",
            role: "assistant",
            model: "claude-haiku-4-5",
            content: [{ type: "tool_use", id: "toolu_1", name: "json", input: validOutput }],
            stop_reason: "tool_use",
            stop_sequence: null,
            usage: { input_tokens: 1500, output_tokens: 200 },
          }),
          { status: 200, headers: { "content-type": "application/json" } },
        );
      }),
    );
    const out = await synthesizerFromEnv({ ANTHROPIC_API_KEY: "sk-ant-test-key" }).synthesize(input, {});
    if (!out.ok) throw new Error(out.message);
    expect(out.tokens).toEqual({ input: 1500, output: 200, total: 1700 });
    expect(out.proposals.map((p) => p.actionType)).toEqual(["ANALYZE_USAGE_PATTERNS", "SEND_EMAIL"]);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).not.toContain("sk-ant-test-key");
    expect(bodies[0]).toContain("USAGE_TREND_CHANGE");
  });
});

describe("estimateTokens", () => {
  it("is deterministic, includes the output allowance, and grows with the evidence", () => {
    const base = estimateTokens(input);
    expect(estimateTokens(input)).toBe(base);
    expect(base).toBeGreaterThan(1200);
    expect(estimateTokens(input, { maxOutputTokens: 100 })).toBe(base - 1100);
    const more = {
      ...input,
      signals: [...input.signals, { ...input.signals[0], evidence: { note: "n".repeat(400) } } as (typeof input.signals)[number]],
    };
    expect(estimateTokens(more)).toBeGreaterThan(base + 100);
  });

  it("bounds huge evidence so one blob cannot blow the budget", () => {
    const huge = { ...input, signals: [{ type: "X", severity: "low", evidence: { blob: "z".repeat(100_000), n: 1 }, at: new Date(0) }] };
    expect(estimateTokens(huge)).toBeLessThan(estimateTokens(input) + 200);
  });
});
