// The daemon's CPU cost of streaming stats: 50 idle containers (`sleep`), each streamed by its
// own client (GET /containers/{id}/stats, one sample a second), for a fixed window. Measures the
// daemon process's CPU time (utime+stime of /proc/<pid>/stat) over the window, as % of one core,
// for Berth and the reference dockerd in the same run, and their containerd as a side figure.
// Usage: npm run build && node dist/bench/stats.js [--containers N] [--seconds S]
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { buildBusyboxArchive } from '../test/fixtures/busybox-image';
import { containerdPid, startBerth } from '../test/integration/harness';
import { berthEngine, startReference, type Engine } from './engines';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

/** utime + stime of a process, in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is [0], utime is field 14 of the line ([11] here), stime [12].
  return Number(fields[11]) + Number(fields[12]);
}

/** The containerd dockerd runs as its child (20.10 supervises its own). */
function childContainerd(parent: number): number | undefined {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (comm === 'containerd' && ppid === parent) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

async function must(p: Promise<{ code: number; stdout: string; stderr: string }>): Promise<string> {
  const r = await p;
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

interface Streams {
  samples(): number;
  close(): void;
}

/** One streaming stats client per container; counts the samples received. */
function openStreams(socket: string, ids: string[]): Streams {
  let count = 0;
  const reqs = ids.map((id) => {
    const req = http.get({ socketPath: socket, path: `/containers/${id}/stats`, agent: false }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        for (const ch of d) if (ch === '\n') count++;
      });
      res.on('error', () => undefined);
    });
    req.on('error', () => undefined);
    return req;
  });
  return { samples: () => count, close: () => reqs.forEach((r) => r.destroy()) };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Measure {
  engine: string;
  daemonPct: number;
  idlePct: number;
  containerdPct?: number;
  samples: number;
}

async function measure(e: Engine, ctdPid: number | undefined, n: number, seconds: number): Promise<Measure> {
  const ids: string[] = [];
  try {
    for (let i = 0; i < n; i++) ids.push(await must(e.docker(['run', '-d', '--network', 'none', 'busybox', 'sleep', '3600'])));
    // The idle baseline: the same containers, nobody watching.
    await sleep(2000);
    const idle0 = cpuTicks(e.pid);
    const idleT0 = Date.now();
    await sleep(5000);
    const idlePct = ((cpuTicks(e.pid) - idle0) / CLK_TCK / ((Date.now() - idleT0) / 1000)) * 100;

    const streams = openStreams(e.socket, ids);
    try {
      await sleep(3000); // every stream started and sampling
      const d0 = cpuTicks(e.pid);
      const c0 = ctdPid === undefined ? 0 : cpuTicks(ctdPid);
      const s0 = streams.samples();
      const t0 = Date.now();
      await sleep(seconds * 1000);
      const wall = (Date.now() - t0) / 1000;
      const daemonPct = ((cpuTicks(e.pid) - d0) / CLK_TCK / wall) * 100;
      const containerdPct = ctdPid === undefined ? undefined : ((cpuTicks(ctdPid) - c0) / CLK_TCK / wall) * 100;
      return { engine: e.name, daemonPct, idlePct, containerdPct, samples: streams.samples() - s0 };
    } finally {
      streams.close();
    }
  } finally {
    for (let i = 0; i < ids.length; i += 25) await e.docker(['rm', '-f', ...ids.slice(i, i + 25)]).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const n = arg('--containers', 50);
  const seconds = arg('--seconds', 15);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-stats-'));
  const image = await buildBusyboxArchive({ tags: ['busybox:latest'] });
  const engines: Engine[] = [];
  const results: Measure[] = [];
  try {
    const berth = await startBerth({ dir: path.join(dir, 'berth') });
    engines.push(berthEngine(berth));
    engines.push(await startReference(dir));
    for (const e of engines) await must(e.docker(['load'], image));
    for (const e of engines) {
      const ctd = e.name === 'berth' ? containerdPid(berth.execRoot) : childContainerd(e.pid);
      results.push(await measure(e, ctd, n, seconds));
    }
  } finally {
    for (const e of engines) await e.stop().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const [b, d] = results;
  console.log(`stats streaming: ${n} containers, ${n} clients, ${seconds} s window; CPU time as % of one core`);
  for (const r of results) {
    console.log(
      `${r.engine.padEnd(8)} daemon ${r.daemonPct.toFixed(1).padStart(5)} %  (idle ${r.idlePct.toFixed(1)} %)` +
        `  containerd ${r.containerdPct === undefined ? 'n/a' : `${r.containerdPct.toFixed(1)} %`}` +
        `  samples ${r.samples} (${(r.samples / n / seconds).toFixed(2)}/client/s)`,
    );
  }
  if (b && d) console.log(`ratio berth / dockerd (daemon CPU): ${(b.daemonPct / d.daemonPct).toFixed(2)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
