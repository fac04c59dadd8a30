import { describe, expect, it } from "vitest";
import {
  checkStreamUrl,
  nextAttemptAfterFailure,
  STREAM_BACKOFF_CAP_MS,
  STREAM_ERROR_MAX,
  streamBackoffMs,
  streamBatchBody,
  streamErrorText,
  streamLag,
} from "@/server/engine/auditStream";

describe("audit stream engine", () => {
  it("accepts http(s) URLs, loopback included, and names what is wrong with others", () => {
    expect(checkStreamUrl("http://127.0.0.1:9000/in?x=1")).toEqual({
      ok: true,
      url: "http://127.0.0.1:9000/in?x=1",
      origin: "http://127.0.0.1:9000",
    });
    expect(checkStreamUrl("https://siem.example/hec")).toMatchObject({ ok: true, origin: "https://siem.example" });
    for (const [raw, msg] of [
      ["ftp://siem.example/", "http or https"],
      ["javascript:alert(1)", "http or https"],
      ["siem.example/in", "absolute"],
      ["https://u:p@siem.example/", "credentials"],
      ["https://siem.example/#frag", "fragment"],
      [`https://siem.example/${"a".repeat(2048)}`, "longer than 2048"],
    ] as const)
      expect(checkStreamUrl(raw), raw.slice(0, 30)).toMatchObject({ ok: false, message: expect.stringContaining(msg) });
  });

  it("backs off 5 s, doubling, capped at 15 min, for any attempt count", () => {
    expect([0, 1, 2, 3, 4, 5].map(streamBackoffMs)).toEqual([5_000, 5_000, 10_000, 20_000, 40_000, 80_000]);
    expect(streamBackoffMs(9)).toBe(STREAM_BACKOFF_CAP_MS);
    expect(streamBackoffMs(1e9)).toBe(STREAM_BACKOFF_CAP_MS);
    expect(nextAttemptAfterFailure(new Date("2026-01-01T00:00:00Z"), 2).toISOString()).toBe("2026-01-01T00:00:10.000Z");
  });

  it("lag is never negative; errors are one bounded line", () => {
    expect(streamLag(10, 4)).toBe(6);
    expect(streamLag(3, 7)).toBe(0);
    expect(streamErrorText("a\n  b\tc")).toBe("a b c");
    const long = streamErrorText("x".repeat(1000));
    expect(long).toHaveLength(STREAM_ERROR_MAX);
    expect(long.endsWith("…")).toBe(true);
  });

  it("a batch body carries the chain fields in snake_case, payload parsed", () => {
    const body = streamBatchBody("acme", [
      {
        seq: 7,
        id: "e7",
        createdAt: new Date("2026-01-01T00:00:00Z"),
        type: "CONFIG_CHANGED",
        accountId: null,
        correlationId: "c1",
        actorType: "SYSTEM",
        actorId: "job",
        payload: '{"change":"x"}',
        prevHash: "p",
        hash: "h",
      },
    ]);
    expect(body).toEqual({
      tenant: "acme",
      entries: [
        {
          seq: 7,
          id: "e7",
          created_at: "2026-01-01T00:00:00.000Z",
          type: "CONFIG_CHANGED",
          account_id: null,
          correlation_id: "c1",
          actor_type: "SYSTEM",
          actor_id: "job",
          payload: { change: "x" },
          prev_hash: "p",
          hash: "h",
        },
      ],
    });
  });
});
