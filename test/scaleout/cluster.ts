/**
 * Processes for the scale-out run (test/scaleout/haproxy.test.ts): app instances started the way
 * people start them (`npm start`, `npm run worker`, `npm run cli -- …`), and Debian's HAProxy
 * with a generated configuration. Each child gets its own process group, so a kill -9 takes down
 * everything `npm start` started and nothing outlives the run; their output goes to log files.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<Proc>();

/** A port nothing listens on right now (the kernel's pick), for a child to bind. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export function start(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, logDir: string): Proc {
  const log = path.join(logDir, `${name}.log`);
  const out = fs.openSync(log, "a");
  const child = spawn(cmd, args, { env, stdio: ["ignore", out, out], detached: true });
  fs.closeSync(out);
  const proc: Proc = {
    name,
    child,
    log,
    exited: new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal }))),
  };
  live.add(proc);
  void proc.exited.then(() => live.delete(proc));
  return proc;
}

/** Signal the child's whole process group (npm, its node processes, their children). */
export function signalGroup(p: Proc, signal: NodeJS.Signals) {
  if (p.child.pid !== undefined && p.child.exitCode === null && p.child.signalCode === null) {
    try {
      process.kill(-p.child.pid, signal);
    } catch {
      // already gone
    }
  }
}

/** The pids in the child's process group (npm and everything it started). */
export function groupPids(p: Proc): number[] {
  if (p.child.pid === undefined) return [];
  const out = spawnSync("ps", ["-e", "-o", "pid=,pgid="], { encoding: "utf8" }).stdout;
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter(([pid, pgid]) => pid && pgid === p.child.pid)
    .map(([pid]) => pid as number);
}

/** SIGTERM, then SIGKILL whatever is still there after `graceMs`. */
export async function stop(p: Proc, graceMs = 5000) {
  signalGroup(p, "SIGTERM");
  await Promise.race([p.exited, sleep(graceMs)]);
  signalGroup(p, "SIGKILL");
  await p.exited;
}

export async function stopAll() {
  await Promise.all([...live].map((p) => stop(p, 3000)));
}

export function tail(p: Proc, chars = 4000) {
  try {
    const text = fs.readFileSync(p.log, "utf8");
    return text.slice(-chars);
  } catch {
    return "";
  }
}

/** Run a command to completion; its output (last lines) for the caller, a non-zero exit throws. */
export async function run(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, logDir: string, timeoutMs = 120_000) {
  const p = start(name, cmd, args, env, logDir);
  const res = await Promise.race([p.exited, sleep(timeoutMs).then(() => null)]);
  if (!res) {
    await stop(p, 1000);
    throw new Error(`${name} did not finish in ${timeoutMs} ms:\n${tail(p)}`);
  }
  if (res.code !== 0) throw new Error(`${name} exited ${res.code ?? res.signal}:\n${tail(p)}`);
  return fs.readFileSync(p.log, "utf8");
}

export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number, everyMs = 250) {
  const until = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < until) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

export interface HaproxyPorts {
  front: number;
  stats: number;
  servers: { name: string; port: number }[];
}

/**
 * The load balancer of docs/deployment.md: round robin over the instances, an HTTP health check
 * on /api/health every 500 ms (two failures take a server out, two passes bring it back), and a
 * refused connection retried on the other server (`option redispatch`). X-Forwarded-For is added,
 * so the instances run with TRUSTED_PROXY_HOPS=1.
 */
export function haproxyConfig(p: HaproxyPorts) {
  return [
    "global",
    "  maxconn 512",
    "defaults",
    "  mode http",
    "  timeout connect 2s",
    "  timeout client 60s",
    "  timeout server 60s",
    "  timeout http-request 10s",
    "  retries 3",
    "  option redispatch",
    "  option forwardfor",
    "frontend app",
    `  bind 127.0.0.1:${p.front}`,
    "  default_backend instances",
    "backend instances",
    "  balance roundrobin",
    "  option httpchk GET /api/health",
    "  http-check expect status 200",
    "  default-server inter 500ms fall 2 rise 2",
    ...p.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} check`),
    "frontend stats",
    `  bind 127.0.0.1:${p.stats}`,
    "  stats enable",
    "  stats uri /stats",
    "",
  ].join("\n");
}

export interface ServerStat {
  name: string;
  status: string;
  /** sessions (requests, for HTTP) sent to it since start */
  total: number;
  /** health-check state changes */
  downs: number;
}

/** HAProxy's own view of the backend servers, from its CSV stats page. */
export async function haproxyServers(statsPort: number): Promise<ServerStat[]> {
  const res = await fetch(`http://127.0.0.1:${statsPort}/stats;csv`);
  const text = await res.text();
  const [head = "", ...rows] = text.trim().split("\n");
  const cols = head.replace(/^# /, "").split(",");
  const at = (name: string) => cols.indexOf(name);
  return rows
    .map((r) => r.split(","))
    .filter((r) => r[at("pxname")] === "instances" && !["FRONTEND", "BACKEND"].includes(r[at("svname")] ?? ""))
    .map((r) => ({
      name: r[at("svname")] ?? "",
      status: r[at("status")] ?? "",
      total: Number(r[at("stot")] ?? 0),
      downs: Number(r[at("chkdown")] ?? 0),
    }));
}
