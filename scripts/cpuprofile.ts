/**
 * `npx tsx scripts/cpuprofile.ts <file.cpuprofile | dir> [--top N] [--match text]`: where a CPU
 * profile's time went, for the benchmark notes (issue 13: "profiles, not guesses").
 *
 * Record one with Node's own profiler, which every process of a bench inherits through
 * NODE_OPTIONS (the bench, and the `npm start` server the HTTP and pages suites spawn):
 *
 *   NODE_OPTIONS="--cpu-prof --cpu-prof-dir=test-results/prof" npm run bench -- gate
 *   npx tsx scripts/cpuprofile.ts test-results/prof [--within admitGroup]
 *
 * Given a directory, it reads every profile in it, largest first (the busy processes). Prints,
 * per profile: total sampled time, then self time grouped by where the code lives (our server
 * code by folder, each node_modules package, Node internals, GC, idle), then the top functions by
 * self time. `--match` adds the inclusive time of functions whose name or file contains the text;
 * `--within` counts only samples with such a function on the stack (one code path of a mixed run).
 */
import fs from "node:fs";
import path from "node:path";

interface Frame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: Frame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a frame's code lives: a package, a folder of ours, Node itself, or the VM's own buckets. */
function area(f: Frame): string {
  if (!f.url) {
    if (f.functionName === "(garbage collector)") return "(gc)";
    if (f.functionName === "(idle)") return "(idle)";
    if (f.functionName === "(program)") return "(program)";
    return "(native)";
  }
  if (f.url.startsWith("node:")) return "node internals";
  const nm = f.url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = f.url.slice(nm + "node_modules/".length).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? "?");
  }
  const m = f.url.match(/\/(server|app|components|bench|scripts|lib)\/([^/]+)/);
  if (m) return `${m[1]}/${m[2]?.replace(/\.[tj]sx?$/, "")}`;
  if (f.url.includes("/.next/")) return "next build output";
  return path.basename(f.url);
}

function summarise(file: string, top: number, match: string | null, within: string | null) {
  const p = JSON.parse(fs.readFileSync(file, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let total = 0;
  const onPath = (id: number) => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)?.callFrame;
      if (f && within && (f.functionName.includes(within) || f.url.includes(within))) return true;
    }
    return false;
  };
  p.samples.forEach((id, i) => {
    if (within && !onPath(id)) return;
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    self.set(id, (self.get(id) ?? 0) + dt);
  });
  const pct = (us: number) => `${((100 * us) / Math.max(1, total)).toFixed(1)}%`;
  const ms = (us: number) => `${(us / 1000).toFixed(0)} ms`;
  const idle = [...self].filter(([id]) => byId.get(id)?.callFrame.functionName === "(idle)").reduce((s, [, us]) => s + us, 0);
  console.log(`\n== ${file}${within ? ` (samples under "${within}")` : ""}: ${ms(total)} sampled, ${ms(total - idle)} busy`);

  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)?.callFrame;
    if (!f) continue;
    const a = area(f);
    areas.set(a, (areas.get(a) ?? 0) + us);
    const name = `${f.functionName || "(anonymous)"} ${f.url ? `${f.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(server|app|bench|scripts)\//, "$1/")}:${f.lineNumber + 1}` : ""}`;
    fns.set(name, (fns.get(name) ?? 0) + us);
  }
  console.log("self time by area:");
  for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1]).slice(0, top))
    console.log(`  ${pct(us).padStart(6)}  ${ms(us).padStart(8)}  ${a}`);
  console.log("top functions by self time:");
  for (const [name, us] of [...fns].sort((x, y) => y[1] - x[1]).slice(0, top))
    console.log(`  ${pct(us).padStart(6)}  ${ms(us).padStart(8)}  ${name}`);

  if (match) {
    // Inclusive time: a sample counts once for every distinct matching function on its stack.
    const incl = new Map<string, number>();
    p.samples.forEach((id, i) => {
      if (within && !onPath(id)) return;
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const f = byId.get(cur)?.callFrame;
        if (!f || !(f.functionName.includes(match) || f.url.includes(match))) continue;
        const name = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/(server|app|bench|scripts|node_modules)\//, "$1/")}:${f.lineNumber + 1}`;
        if (seen.has(name)) continue;
        seen.add(name);
        incl.set(name, (incl.get(name) ?? 0) + (p.timeDeltas[i] ?? 0));
      }
    });
    console.log(`inclusive time of frames matching "${match}":`);
    for (const [name, us] of [...incl].sort((x, y) => y[1] - x[1]).slice(0, top))
      console.log(`  ${pct(us).padStart(6)}  ${ms(us).padStart(8)}  ${name}`);
  }
}

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  if (i < 0) return null;
  const v = args[i + 1] ?? null;
  args.splice(i, 2);
  return v;
};
const top = Number(flag("--top") ?? 25);
const match = flag("--match");
const within = flag("--within");
const target = args[0];
if (!target) {
  console.error("usage: tsx scripts/cpuprofile.ts <file.cpuprofile | dir> [--top N] [--match text] [--within text]");
  process.exit(2);
}
const files = fs.statSync(target).isDirectory()
  ? fs
      .readdirSync(target)
      .filter((f) => f.endsWith(".cpuprofile"))
      .map((f) => path.join(target, f))
      .sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)
  : [target];
for (const f of files) summarise(f, top, match, within);
