// Side-by-side benchmarks: the same docker CLI commands against Berth and against the
// reference dockerd, started here on their own sockets and roots, reported as ratios of medians.
// Usage: npm run bench [-- --runs N] [-- --only REGEX] [-- --log-mib N] [-- --cycles N] [-- --running N]   (needs Debian's docker.io for /usr/sbin/dockerd)
// The plain container cases run with `--network none` on both engines (no network work at all);
// the network cases use a user-defined bridge network made on each engine in setup, or the
// default bridge with a published port. dockerd runs with --iptables=false (see engines.ts), so
// its figures leave out the firewall rules that Berth writes.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildBusyboxArchive } from '../test/fixtures/busybox-image';
import { startBerth } from '../test/integration/harness';
import { seedBigImage, startRegistry, type Registry } from '../test/integration/registry-kit';
import { must, output, type Case, type Figures } from './case';
import { buildCases } from './cases/build';
import { httpCases } from './cases/http';
import { apiOpsCases } from './cases/api-ops';
import { opsCases } from './cases/ops';
import { parallelCases } from './cases/parallel';
import { idleCase, longIdleCase, resourceCases } from './cases/resources';
import { psCases } from './cases/ps';
import { berthEngine, startReference, type Engine } from './engines';
import { peakRss, resetPeakRss } from './memory';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * How noisy a case was: each engine's min-max, and the ratio of the rounds taken pair by pair
 * (berth's round i against dockerd's round i, which ran right after it) as min / median / max.
 */
function spreadRow(berth: number[], dockerd: number[]): string {
  const range = (xs: number[]): string => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)} ms`;
  const pairs = berth.map((x, i) => x / dockerd[i]).filter((r) => Number.isFinite(r));
  if (pairs.length === 0) return '';
  const ratios = [Math.min(...pairs), median(pairs), Math.max(...pairs)].map((r) => r.toFixed(2)).join(' / ');
  return `${''.padEnd(38)}       min-max berth ${range(berth)}, dockerd ${range(dockerd)}; ratio per round min/median/max ${ratios}`;
}

/** One extra figure of a case: median per engine, ratio, and the range over the rounds. */
function figureRow(name: string, berth: number[], dockerd: number[]): string {
  const f = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(1)).padStart(8);
  const range = (xs: number[]): string => (xs.length > 1 ? ` [${f(Math.min(...xs)).trim()}..${f(Math.max(...xs)).trim()}]` : '');
  const bm = median(berth);
  if (dockerd.length === 0) return `${`  ${name}`.padEnd(38)}       berth ${f(bm)}${range(berth)}  (berth only)`;
  const dm = median(dockerd);
  // A ratio of growths (often 0 or negative) says nothing.
  const ratio = dm <= 0 || bm < 0 || name.includes('growth') ? '' : `  ratio ${(bm / dm).toFixed(2)}`;
  return `${`  ${name}`.padEnd(38)}       berth ${f(bm)}${range(berth)}  dockerd ${f(dm)}${range(dockerd)}${ratio}`;
}

/** The user-defined bridge network of the network cases. */
const NET = 'benchnet';
const PARALLEL = 20;

async function main(): Promise<void> {
  const runsArg = process.argv.indexOf('--runs');
  const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 7;
  const onlyArg = process.argv.indexOf('--only');
  const only = onlyArg > 0 ? new RegExp(process.argv[onlyArg + 1]) : undefined;
  const logArg = process.argv.indexOf('--log-mib');
  const logMiB = logArg > 0 ? Number(process.argv[logArg + 1]) : 50;
  const cyclesArg = process.argv.indexOf('--cycles');
  const cycles = cyclesArg > 0 ? Number(process.argv[cyclesArg + 1]) : 200;
  const runningArg = process.argv.indexOf('--running');
  const running = runningArg > 0 ? Number(process.argv[runningArg + 1]) : 200;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-'));
  // The CLI's classic builder on both engines (without it, CLI 28 wants the buildx plugin).
  process.env.DOCKER_BUILDKIT = '0';
  const big = await buildBusyboxArchive({ tags: ['bench/big:latest'], extraFiles: { 'data/blob.bin': randomBytes(100 * 1024 * 1024) } });
  const bigTar = path.join(dir, 'big.tar');
  fs.writeFileSync(bigTar, big);
  const small = await buildBusyboxArchive({ tags: ['busybox:latest'] });
  // The pull case's registry (loopback, so both engines speak plain http to it) and its image:
  // 300 MB of incompressible data in 10 gzip layers, docker schema 2 as Docker Hub serves.
  let registry: Registry | undefined;
  const pullRef = (): string => `${registry?.host ?? ''}/bench/big:latest`;

  const engines: Engine[] = [];
  try {
    engines.push(berthEngine(await startBerth({ dir: path.join(dir, 'berth') })));
    engines.push(await startReference(dir));
  } catch (err) {
    for (const e of engines) await e.stop().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const allCases: Case[] = [
    idleCase(small),
    longIdleCase(small),
    {
      name: 'docker pull (300 MB, 10 layers)',
      memory: true,
      setup: async () => {
        if (registry) return;
        registry = await startRegistry();
        await seedBigImage(registry, 'bench/big', 'latest', { layers: 10, totalBytes: 300 * 1000 * 1000 });
      },
      step: (e) => must(e.docker(['pull', '-q', pullRef()])),
      reset: (e) => must(e.docker(['rmi', pullRef()])),
    },
    {
      name: 'docker load (100 MB image)',
      step: (e) => must(e.docker(['load', '-i', bigTar])),
      reset: (e) => must(e.docker(['rmi', 'bench/big:latest'])),
    },
    {
      name: 'docker images (200 tags)',
      setup: async (e) => {
        await must(e.docker(['load'], small));
        for (let i = 0; i < 200; i++) await must(e.docker(['tag', 'busybox:latest', `bench/tagged:${i}`]));
      },
      step: (e) => must(e.docker(['images'])),
    },
    {
      name: 'docker run --rm busybox true',
      runs: 30,
      setup: (e) => must(e.docker(['load'], small)),
      step: (e) => must(e.docker(['run', '--rm', '--network', 'none', 'busybox', 'true'])),
    },
    {
      // The issue's second run --rm goal. dockerd runs with --iptables=false (engines.ts): its
      // bridge path writes no firewall rules, Berth's does.
      name: 'docker run --rm busybox true, default bridge',
      runs: 30,
      setup: (e) => must(e.docker(['load'], small)),
      step: (e) => must(e.docker(['run', '--rm', 'busybox', 'true'])),
    },
    {
      name: 'docker create + docker rm',
      runs: 30,
      setup: (e) => must(e.docker(['load'], small)),
      step: async (e) => {
        const id = await output(e.docker(['create', '--network', 'none', 'busybox', 'true']));
        await must(e.docker(['rm', id]));
      },
    },
  ];
  const network: Pick<Case, 'setup' | 'teardown'> = {
    setup: async (e) => {
      await must(e.docker(['load'], small));
      await must(e.docker(['network', 'create', NET]));
    },
    teardown: (e) => must(e.docker(['network', 'rm', NET])),
  };
  const detached = new Map<string, string[]>();
  allCases.push(
    {
      name: 'docker run --rm, user network',
      runs: 30,
      ...network,
      step: (e) => must(e.docker(['run', '--rm', '--network', NET, 'busybox', 'true'])),
    },
    {
      name: `docker run -d x${PARALLEL} parallel, user net`,
      ...network,
      step: async (e) => {
        const runs = Array.from({ length: PARALLEL }, () => output(e.docker(['run', '-d', '--network', NET, 'busybox', 'sleep', '300'])));
        const ids = await Promise.allSettled(runs);
        detached.set(
          e.name,
          ids.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
        );
        const failed = ids.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      },
      reset: async (e) => {
        const ids = detached.get(e.name) ?? [];
        detached.delete(e.name);
        if (ids.length > 0) await must(e.docker(['rm', '-f', ...ids]));
      },
    },
    {
      name: 'docker run --rm -p 127.0.0.1::80',
      runs: 30,
      setup: (e) => must(e.docker(['load'], small)),
      step: (e) => must(e.docker(['run', '--rm', '-p', '127.0.0.1::80', 'busybox', 'true'])),
    },
    ...opsCases(small, dir),
    ...apiOpsCases(small),
    ...httpCases(small, logMiB),
    ...psCases(small),
    ...parallelCases(small),
    ...resourceCases(small, { running, cycles }),
    ...buildCases(small, dir),
  );
  const cases = allCases.filter((c) => !only || only.test(c.name));
  const rows: string[] = [];
  // Each case's rows go to stderr as soon as it ends (a long run that fails later keeps them);
  // the whole table goes to stdout at the end.
  let shown = 0;
  const showNew = (): void => {
    for (; shown < rows.length; shown++) console.error(rows[shown]);
  };
  try {
    for (const [ci, c] of cases.entries()) {
      const first = c.group === undefined || cases[ci - 1]?.group !== c.group;
      const last = c.group === undefined || cases[ci + 1]?.group !== c.group;
      const on = engines.filter((e) => !c.engines || c.engines.includes(e.name));
      const samples = new Map<string, number[]>(on.map((e) => [e.name, []]));
      const peaks = new Map<string, number[]>(on.map((e) => [e.name, []]));
      const figures = new Map<string, Map<string, number[]>>();
      if (first) for (const e of on) await c.setup?.(e);
      const warmup = c.warmup === false ? 0 : 1;
      try {
        for (let i = 0; i < (c.runs ?? runs) + warmup; i++) {
          for (const e of on) {
            try {
              if (c.memory) resetPeakRss(e.pid);
              const t0 = process.hrtime.bigint();
              const got: Figures = (await c.step(e)) ?? {};
              const ms = Number(process.hrtime.bigint() - t0) / 1e6;
              if (i < warmup) continue; // the first round warms up
              samples.get(e.name)?.push(ms);
              if (c.memory) peaks.get(e.name)?.push(peakRss(e.pid));
              for (const [k, v] of Object.entries(got)) {
                if (!figures.has(k)) figures.set(k, new Map());
                const per = figures.get(k);
                if (per && !per.has(e.name)) per.set(e.name, []);
                per?.get(e.name)?.push(v);
              }
            } finally {
              await c.reset?.(e);
            }
          }
        }
      } finally {
        // A failing teardown is reported, not thrown: it must not hide the step's own error.
        if (last)
          for (const e of on) await c.teardown?.(e).catch((err: unknown) => console.error(`teardown of ${c.name} on ${e.name}:`, err));
      }
      const n = `n=${String(c.runs ?? runs).padStart(2)}`;
      const b = median(samples.get('berth') ?? []);
      const d = median(samples.get('dockerd') ?? []);
      if (c.timed === false) {
        rows.push(`${c.name.padEnd(38)} ${n}`);
      } else if (!samples.has('dockerd')) {
        rows.push(`${c.name.padEnd(38)} ${n}  berth ${b.toFixed(0).padStart(6)} ms  (berth only)`);
      } else {
        rows.push(
          `${c.name.padEnd(38)} ${n}  berth ${b.toFixed(0).padStart(6)} ms  dockerd ${d.toFixed(0).padStart(6)} ms  ratio ${(b / d).toFixed(2)}`,
        );
        const spread = spreadRow(samples.get('berth') ?? [], samples.get('dockerd') ?? []);
        if (spread !== '') rows.push(spread);
      }
      if (c.memory) {
        const mb = (n: number): string => (n / 1024 / 1024).toFixed(0).padStart(6);
        const bm = median(peaks.get('berth') ?? []);
        const dm = median(peaks.get('dockerd') ?? []);
        rows.push(
          `${'  peak RSS, daemon + its containerd'.padEnd(38)}       berth ${mb(bm)} MB  dockerd ${mb(dm)} MB  ratio ${(bm / dm).toFixed(2)}`,
        );
      }
      for (const [k, per] of figures) rows.push(figureRow(k, per.get('berth') ?? [], per.get('dockerd') ?? []));
      console.error(`[${new Date().toISOString()}, load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}]`);
      showNew();
    }
  } finally {
    for (const e of engines) await e.stop().catch(() => undefined);
    await registry?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log('median of n runs each (after one warm-up), interleaved; ratio = berth / dockerd (lower is better)');
  console.log('plain container cases use --network none on both engines; dockerd runs with --iptables=false');
  for (const r of rows) console.log(r);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
