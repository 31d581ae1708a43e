// The CPU a busy host's healthchecks cost each engine: N containers with a 1 s healthcheck
// (`--health-cmd true --health-interval 1s`) on Berth and on the reference dockerd at the same
// time, then the CPU time (user + system, plus reaped children, from /proc/<pid>/stat) of each
// engine's daemon, its containerd and its containers' shims (the runc they run for each probe's
// exec is reaped by the shim, so it is counted there) over the same window. The probes' own
// processes run in the containers' cgroups and are the same for both engines: not counted.
// Usage: npm run build && node dist/bench/health-cpu.js [--containers N] [--seconds S] [--rounds R]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildBusyboxArchive } from '../test/fixtures/busybox-image';
import { httpRequest, startBerth } from '../test/integration/harness';
import { inBatches, must, output } from './case';
import { childrenOf } from './procs';
import { berthEngine, startReference, type Engine } from './engines';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

/** utime + stime + cutime + cstime of a process, in ticks (0 once it is gone). */
function cpuTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) start at state, field 3.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch {
    return 0;
  }
}

function comm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

type Part = 'daemon' | 'containerd' | 'shims';

/** The engine's daemon, its containerd, and the shims of the given containers (found by `-id <id>`). */
function engineProcesses(e: Engine, ids: Set<string>): Array<[Part, number]> {
  const own = childrenOf(e.pid).filter((c) => comm(c) === 'containerd');
  const shims: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    if (!comm(pid).startsWith('containerd-shim')) continue;
    let args: string[] = [];
    try {
      args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = args.indexOf('-id');
    if (at >= 0 && ids.has(args[at + 1])) shims.push(pid);
  }
  return [['daemon', e.pid], ...own.map((p): [Part, number] => ['containerd', p]), ...shims.map((p): [Part, number] => ['shims', p])];
}

const LABEL = 'berth.bench=health';

/**
 * Probes that end on the engine from now until `until` (its exec_die events, streamed live: the
 * engines' event backlogs are too short to replay a window).
 */
async function probesUntil(e: Engine, until: string): Promise<number> {
  const since = (Date.now() / 1000).toFixed(9);
  const filters = encodeURIComponent(JSON.stringify({ event: ['exec_die'], label: [LABEL] }));
  const res = await httpRequest(e.socket, 'GET', `/events?since=${since}&until=${until}&filters=${filters}`);
  if (res.status !== 200) throw new Error(`${e.name} events: ${res.status} ${res.body}`);
  return res.body.split('\n').filter((l) => l.trim() !== '').length;
}

async function startFleet(e: Engine, n: number, small: Buffer): Promise<Set<string>> {
  await must(e.docker(['load'], small));
  const ids = new Set<string>();
  await inBatches(
    Array.from({ length: n }, (_, i) => i),
    4,
    async () => {
      ids.add(
        await output(
          e.docker([
            'run',
            '-d',
            '--network',
            'none',
            '--label',
            LABEL,
            '--health-cmd',
            'true',
            '--health-interval',
            '1s',
            'busybox',
            'sleep',
            '3600',
          ]),
        ),
      );
    },
  );
  // Every container healthy: the probes run. (A saturated host takes a while for 100.)
  const deadline = Date.now() + 60_000 + n * 2000;
  for (;;) {
    const healthy = (await output(e.docker(['ps', '-q', '--filter', `label=${LABEL}`, '--filter', 'health=healthy'])))
      .split('\n')
      .filter((s) => s !== '');
    if (healthy.length >= n) break;
    if (Date.now() > deadline) throw new Error(`${e.name}: only ${healthy.length} of ${n} containers healthy`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return ids;
}

async function removeFleet(e: Engine): Promise<void> {
  const ids = (await output(e.docker(['ps', '-aq', '--filter', `label=${LABEL}`]))).split('\n').filter((s) => s !== '');
  if (ids.length > 0) await must(e.docker(['rm', '-f', ...ids]));
}

async function main(): Promise<void> {
  const n = arg('--containers', 20);
  const seconds = arg('--seconds', 30);
  const rounds = arg('--rounds', 3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-health-'));
  const small = await buildBusyboxArchive({ tags: ['busybox:latest'] });
  const engines: Engine[] = [];
  try {
    engines.push(berthEngine(await startBerth({ dir: path.join(dir, 'berth') })));
    engines.push(await startReference(dir));
    const fleets = new Map<Engine, Set<string>>();
    for (const e of engines) fleets.set(e, await startFleet(e, n, small));
    console.log(
      `${n} containers per engine, --health-cmd true --health-interval 1s; CPU of daemon + containerd + shims over ${seconds} s windows`,
    );
    const totals = new Map<string, number[]>(engines.map((e) => [e.name, []]));
    const parts = new Map<string, Record<Part, number>>(engines.map((e) => [e.name, { daemon: 0, containerd: 0, shims: 0 }]));
    const probes = new Map<string, number>(engines.map((e) => [e.name, 0]));
    const ticksUsed = new Map<string, number>(engines.map((e) => [e.name, 0]));
    for (let r = 0; r < rounds; r++) {
      // Both engines measured over the same window, so background load hits both alike.
      const before = new Map(
        engines.map((e) => [e, engineProcesses(e, fleets.get(e) ?? new Set()).map(([part, p]) => [part, p, cpuTicks(p)] as const)]),
      );
      const until = (Date.now() / 1000 + seconds).toFixed(9);
      const counting = engines.map((e) => probesUntil(e, until));
      await new Promise((res) => setTimeout(res, seconds * 1000));
      const counted = await Promise.all(counting);
      engines.forEach((e, i) => probes.set(e.name, (probes.get(e.name) ?? 0) + counted[i]));
      for (const e of engines) {
        let used = 0;
        for (const [part, p, t0] of before.get(e) ?? []) {
          const d = Math.max(0, cpuTicks(p) - t0);
          used += d;
          const acc = parts.get(e.name);
          if (acc) acc[part] += d / TICKS_PER_SECOND / seconds / rounds;
        }
        totals.get(e.name)?.push(used / TICKS_PER_SECOND / seconds);
        ticksUsed.set(e.name, (ticksUsed.get(e.name) ?? 0) + used);
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const b = median(totals.get('berth') ?? []);
    const d = median(totals.get('dockerd') ?? []);
    const pct = (x: number): string => `${(x * 100).toFixed(1).padStart(5)} % of a core`;
    console.log(`health probes, ${n} containers x 1/s   rounds=${rounds}  berth ${pct(b)}  dockerd ${pct(d)}  ratio ${(b / d).toFixed(2)}`);
    for (const e of engines) {
      const p = parts.get(e.name) ?? { daemon: 0, containerd: 0, shims: 0 };
      console.log(`  ${e.name.padEnd(8)} per round: ${(totals.get(e.name) ?? []).map((x) => pct(x)).join(', ')}`);
      console.log(`  ${e.name.padEnd(8)} mean split: daemon ${pct(p.daemon)}, containerd ${pct(p.containerd)}, shims ${pct(p.shims)}`);
      // A saturated host runs fewer probes than asked: CPU per probe is the comparable figure.
      const n = probes.get(e.name) ?? 0;
      const perProbeMs = n > 0 ? (((ticksUsed.get(e.name) ?? 0) / TICKS_PER_SECOND) * 1000) / n : NaN;
      console.log(`  ${e.name.padEnd(8)} probes: ${(n / seconds / rounds).toFixed(1)}/s, ${perProbeMs.toFixed(1)} ms CPU per probe`);
    }
    for (const e of engines) await removeFleet(e);
  } finally {
    for (const e of engines) await e.stop().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
