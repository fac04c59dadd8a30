/**
 * Footprint benchmark (issue 13, item 6): the resident memory of the whole `npm start` tree at
 * idle — npm, the shell it runs the script in and every process the app starts — on a fresh SQLite
 * file with the local scheduler on, as a newcomer runs it. Needs a build (`npm run build`).
 *
 * The baseline, measured in the same run on the same machine: a bare Node HTTP server (one
 * `node -e` process answering "ok"), the least any Node web server costs here. The target itself
 * is absolute (≤ 350 MiB for the tree) and is printed next to the number.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { BenchRow } from "./ledger";

const TARGET_MIB = 350;
const KIB_PER_MIB = 1024;

interface Proc {
  pid: number;
  ppid: number;
  name: string;
  rssKib: number;
}

/** Every process on the machine with its parent, name and VmRSS (kernel threads have no VmRSS: skipped). */
function processTable(): Proc[] {
  const out: Proc[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let status: string;
    try {
      status = fs.readFileSync(`/proc/${entry}/status`, "utf8");
    } catch {
      continue; // exited between readdir and read
    }
    const field = (k: string) => status.match(new RegExp(`^${k}:\\s*(.*)$`, "m"))?.[1]?.trim();
    const rss = field("VmRSS");
    if (!rss) continue;
    out.push({ pid: Number(entry), ppid: Number(field("PPid")), name: field("Name") ?? "?", rssKib: Number.parseInt(rss, 10) });
  }
  return out;
}

/** The process and all its descendants, root first. */
export function processTree(root: number, table = processTable()): Proc[] {
  const tree: Proc[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift() as number;
    const p = table.find((x) => x.pid === pid);
    if (!p) continue;
    tree.push(p);
    for (const c of table) if (c.ppid === pid) queue.push(c.pid);
  }
  return tree;
}

/** Each process's command line as it was started (argv joined), for the report. */
function cmdline(pid: number) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
  } catch {
    return "?";
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(url: string, child: ChildProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}) before it was ready`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms`);
}

/** The median of a few samples of the tree's summed RSS, a second apart (a scheduler tick may land in one). */
async function sampleTree(root: number, samples: number) {
  const sums: { kib: number; procs: Proc[] }[] = [];
  for (let i = 0; i < samples; i++) {
    const procs = processTree(root);
    sums.push({ kib: procs.reduce((s, p) => s + p.rssKib, 0), procs });
    if (i < samples - 1) await sleep(1000);
  }
  sums.sort((a, b) => a.kib - b.kib);
  return sums[Math.floor(sums.length / 2)] as { kib: number; procs: Proc[] };
}

/** SIGTERM to the tree's process group, SIGKILL to whatever is left after a grace period. */
async function stopGroup(child: ChildProcess) {
  const pid = child.pid as number;
  const gone = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once("exit", () => r())));
  try {
    process.kill(-pid, "SIGTERM");
  } catch {
    return;
  }
  await Promise.race([gone, sleep(5000)]);
  await sleep(300); // the app's own children end after npm does
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

async function bareNodeRssKib() {
  const child = spawn(
    process.execPath,
    ["-e", "require('http').createServer((q,s)=>s.end('ok')).listen(0,'127.0.0.1',()=>console.log('up'))"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  await new Promise<void>((r) => child.stdout?.once("data", () => r()));
  await sleep(1000);
  const kib = processTree(child.pid as number).reduce((s, p) => s + p.rssKib, 0);
  child.kill("SIGKILL");
  return kib;
}

export async function footprintBench(): Promise<BenchRow[]> {
  if (!fs.existsSync(path.join(".next", "BUILD_ID")) || !fs.existsSync(path.join("dist", "start.js"))) {
    const note = "no production build here: run `npm run build` first";
    return [
      {
        suite: "footprint",
        db: "sqlite",
        case: "npm start tree, idle resident memory",
        opsPerSec: Number.NaN,
        display: "—",
        ratio: null,
        note,
      },
    ];
  }
  const idleMs = Number(process.env.BENCH_FOOTPRINT_IDLE_MS ?? 15_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "autopilot-footprint-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: `file:${path.join(dir, "footprint.db")}`,
    PORT: String(port),
    HOST: "127.0.0.1",
    BETTER_AUTH_URL: base,
    NODE_ENV: "production",
  };
  delete env.SCHEDULER; // the local scheduler on, as `npm start` runs by default
  // Its own process group, so stopping it reaches everything npm started.
  const child = spawn("npm", ["start"], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const log: string[] = [];
  const keep = (b: Buffer) => {
    log.push(b.toString());
    if (log.length > 200) log.shift();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  try {
    const t0 = performance.now();
    await waitFor(`${base}/api/health`, child, 180_000);
    const readyMs = performance.now() - t0;
    // A few requests, so the pages and API routes a visitor touches first are loaded.
    for (const p of ["/sign-in", "/api/health", "/api/v1/ledger", "/sign-in"]) {
      const res = await fetch(`${base}${p}`);
      await res.arrayBuffer();
    }
    await sleep(idleMs);
    const { kib, procs } = await sampleTree(child.pid as number, 5);
    const bare = await bareNodeRssKib();
    const mib = kib / KIB_PER_MIB;
    const list = procs.map((p) => `${p.name}(${(p.rssKib / KIB_PER_MIB).toFixed(0)})`).join(" ");
    const jobsRan = log.join("").match(/\[scheduler\] \S+ (ok|reported problems)/g)?.length ?? 0;
    console.log(`[footprint] npm start tree after ${idleMs / 1000} s idle (ready in ${(readyMs / 1000).toFixed(1)} s):`);
    for (const p of procs)
      console.log(`  ${String(p.pid).padStart(7)} ${(p.rssKib / KIB_PER_MIB).toFixed(1).padStart(7)} MiB  ${cmdline(p.pid)}`);
    return [
      {
        suite: "footprint",
        db: "sqlite",
        case: "npm start tree, idle resident memory",
        opsPerSec: Number.NaN,
        display: `${mib.toFixed(0)} MiB`,
        ratio: kib / bare,
        note:
          `target ≤ ${TARGET_MIB} MiB: ${mib <= TARGET_MIB ? "met" : "MISSED"}; ratio to a bare Node HTTP server ` +
          `(${(bare / KIB_PER_MIB).toFixed(0)} MiB); ${procs.length} processes, MiB each: ${list}; scheduler job runs logged: ${jobsRan}`,
      },
    ];
  } catch (err) {
    console.error(log.join(""));
    throw err;
  } finally {
    await stopGroup(child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
