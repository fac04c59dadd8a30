import { Body, Button, Container, Head, Heading, Hr, Html, Link, Preview, Section, Text } from "@react-email/components";
import { render } from "@react-email/render";
import { humanCode as human, readableWhy, localTime as time, localWhen as when } from "../../engine/digest";
import type { Digest } from "./compose";

/** Approve/reject links of one waiting intent (one-time, signed); absent when none could be minted. */
export type WaitingLinks = Record<string, { approveUrl: string; rejectUrl: string }>;

export interface DigestEmailProps {
  digest: Digest;
  recipientName: string;
  /** null: no signing key is configured, so the email carries no links and says so */
  links: WaitingLinks | null;
  inboxUrl: string;
  digestUrl: string;
}

const font = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif";
const s = {
  body: { backgroundColor: "#f1f5f9", fontFamily: font, margin: 0, padding: "24px 0" },
  container: { backgroundColor: "#ffffff", borderRadius: 8, margin: "0 auto", maxWidth: 600, padding: "24px 28px" },
  h1: { color: "#0f172a", fontSize: 22, margin: "0 0 4px" },
  h2: { color: "#0f172a", fontSize: 16, margin: "20px 0 8px" },
  muted: { color: "#475569", fontSize: 13, margin: "0 0 4px" },
  item: { color: "#0f172a", fontSize: 14, lineHeight: "20px", margin: "0 0 2px" },
  why: { color: "#475569", fontSize: 13, lineHeight: "18px", margin: "0 0 10px" },
  counts: { backgroundColor: "#f8fafc", border: "1px solid #e2e8f0", borderRadius: 6, padding: "10px 14px" },
  approve: { backgroundColor: "#15803d", borderRadius: 4, color: "#ffffff", fontSize: 13, padding: "6px 12px", marginRight: 8 },
  reject: { backgroundColor: "#b91c1c", borderRadius: 4, color: "#ffffff", fontSize: 13, padding: "6px 12px" },
  link: { color: "#1d4ed8" },
};

function More({ shown, total }: { shown: number; total: number }) {
  if (shown >= total) return null;
  return <Text style={s.muted}>…and {total - shown} more (open the digest page for the full day).</Text>;
}

/** The daily digest email (SPEC §4.6): the covered day's autonomous acts, what waits, what was blocked, budget. */
export function DigestEmail({ digest: d, recipientName, links, inboxUrl, digestUrl }: DigestEmailProps) {
  const c = d.counts;
  const tz = d.timezone;
  return (
    <Html lang="en">
      <Head />
      <Preview>{`Autopilot on ${d.date}: ${c.autonomous} done on its own, ${c.waiting} waiting for you, ${c.blocked} blocked`}</Preview>
      <Body style={s.body}>
        <Container style={s.container}>
          <Heading style={s.h1}>Your autopilot digest for {d.date}</Heading>
          <Text style={s.muted}>
            Hello {recipientName}. This covers {d.date} in {tz} (the whole local day); what waits for you is as of now.
          </Text>
          <Section style={s.counts}>
            <Text style={s.item}>
              Autonomous acts: <strong>{c.autonomous}</strong> · Waiting for you: <strong>{c.waiting}</strong> · Blocked:{" "}
              <strong>{c.blocked}</strong> · Held for a person: <strong>{c.held}</strong> · Budget units used:{" "}
              <strong>{c.budget_used}</strong>
            </Text>
          </Section>

          <Heading as="h2" style={s.h2}>
            What autopilot did on its own ({c.autonomous})
          </Heading>
          {d.autonomous.length === 0 ? <Text style={s.muted}>Nothing ran on its own that day.</Text> : null}
          {d.autonomous.map((a) => (
            <Section key={a.execution_id}>
              <Text style={s.item}>
                {time(a.at, tz)} · {human(a.action_type)} on {a.account_name}
              </Text>
              <Text style={s.why}>Why: {readableWhy(a.why)}</Text>
            </Section>
          ))}
          <More shown={d.autonomous.length} total={c.autonomous} />

          <Heading as="h2" style={s.h2}>
            Waiting for your input ({c.waiting})
          </Heading>
          {links === null && c.waiting > 0 ? (
            <Text style={s.muted}>
              One-click approve and reject links are not available (no signing key is configured on the server). Decide in the{" "}
              <Link href={inboxUrl} style={s.link}>
                inbox
              </Link>
              .
            </Text>
          ) : null}
          {d.waiting.length === 0 ? <Text style={s.muted}>Nothing is waiting for you.</Text> : null}
          {d.waiting.map((w) => {
            const l = links?.[w.intent_id];
            return (
              <Section key={w.intent_id}>
                <Text style={s.item}>
                  {human(w.action_type)} on {w.account_name}
                  {w.expires_at ? ` · expires ${when(w.expires_at, tz)}` : ""}
                </Text>
                <Text style={s.why}>Why: {readableWhy(w.why)}</Text>
                {l ? (
                  <Text style={s.why}>
                    <Button href={l.approveUrl} style={s.approve}>
                      Approve
                    </Button>{" "}
                    or{" "}
                    <Button href={l.rejectUrl} style={s.reject}>
                      Reject
                    </Button>
                  </Text>
                ) : null}
              </Section>
            );
          })}
          <More shown={d.waiting.length} total={c.waiting} />
          {links ? <Text style={s.muted}>Each link works once, only until the request expires.</Text> : null}

          <Heading as="h2" style={s.h2}>
            Blocked ({c.blocked})
          </Heading>
          {d.blocked.length === 0 ? <Text style={s.muted}>Nothing was blocked.</Text> : null}
          {d.blocked.map((b, i) => (
            <Section key={`${b.intent_id}-${i}`}>
              <Text style={s.item}>
                {time(b.at, tz)} · {human(b.action_type)} on {b.account_name} — {human(b.reason)}
              </Text>
              <Text style={s.why}>{b.why}</Text>
            </Section>
          ))}
          <More shown={d.blocked.length} total={c.blocked} />

          {c.held > 0 ? (
            <>
              <Heading as="h2" style={s.h2}>
                Held back for a person ({c.held})
              </Heading>
              {d.held.map((h, i) => (
                <Text key={`${h.intent_id}-${i}`} style={s.item}>
                  {human(h.action_type)} on {h.account_name} — {human(h.reason)}
                </Text>
              ))}
              <More shown={d.held.length} total={c.held} />
            </>
          ) : null}

          <Heading as="h2" style={s.h2}>
            Budget use
          </Heading>
          {d.budget.length === 0 ? <Text style={s.muted}>You own no accounts.</Text> : null}
          {d.budget.map((b) => (
            <Text key={b.account_id} style={s.item}>
              {b.account_name}: {b.used} of {b.cap} autonomous actions
            </Text>
          ))}

          <Hr />
          <Text style={s.muted}>
            <Link href={digestUrl} style={s.link}>
              Open this digest
            </Link>{" "}
            ·{" "}
            <Link href={inboxUrl} style={s.link}>
              Open the inbox
            </Link>
          </Text>
        </Container>
      </Body>
    </Html>
  );
}

/** The email's two parts: HTML, and plain text rendered from the same tree. */
export async function renderDigestEmail(props: DigestEmailProps): Promise<{ subject: string; html: string; text: string }> {
  const el = <DigestEmail {...props} />;
  const [html, text] = await Promise.all([render(el), render(el, { plainText: true })]);
  const c = props.digest.counts;
  return {
    subject: `Autopilot digest for ${props.digest.date}: ${c.autonomous} autonomous, ${c.waiting} waiting, ${c.blocked} blocked`,
    html,
    text,
  };
}
