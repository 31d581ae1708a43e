// What the engines hold rather than how fast they are: resident memory idle and with many
// running containers, and whether anything grows over many `run --rm` cycles (RSS, descriptors,
// threads, mounts). Read from /proc (bench/resources.ts), the same way for both engines.
import { inBatches, must, output, sleep, type Case, type Figures } from '../case';
import type { Engine } from '../engines';
import { held, type Held } from '../resources';

/** CLI processes in flight while a fleet is made or removed (two cores: more only queues). */
const BATCH = 8;
const RUNNING_LABEL = 'berth.bench=running';
/** Quiet time before a reading, so a reading does not catch the tail of the last operation. */
const SETTLE_MS = 2000;

const MB = 1024 * 1024;

function snapshot(h: Held): Figures {
  return {
    'RSS MB, daemon + containerd': h.rss / MB,
    'RSS MB, daemon alone': h.daemonRss / MB,
    'open fds, daemon + containerd': h.fds,
    'threads, daemon + containerd': h.threads,
    'mounts under its roots': h.mounts,
  };
}

async function removeLabelled(e: Engine, label: string): Promise<void> {
  const ids = (await output(e.docker(['ps', '-aq', '--filter', `label=${label}`]))).split('\n').filter((s) => s !== '');
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += 50) chunks.push(ids.slice(i, i + 50));
  await inBatches(chunks, 4, (chunk) => must(e.docker(['rm', '-f', ...chunk])));
}

export interface ResourceOptions {
  /** Running containers of the "RSS with N running" case. */
  running: number;
  /** `run --rm` cycles of the growth case; growth is counted after the first `warm` of them. */
  cycles: number;
}

export function idleCase(small: Buffer): Case {
  return {
    name: 'RSS idle (daemon + its containerd)',
    runs: 3,
    timed: false,
    setup: (e) => must(e.docker(['load'], small)),
    step: async (e) => {
      await sleep(SETTLE_MS);
      return snapshot(held(e.pid, e.roots));
    },
  };
}

/**
 * Go's runtime forces a GC every 2 minutes; heap a load grew (containerd unpacks Berth's layers,
 * dockerd its own) is handed back after it. So "idle" is read twice: 2 s after the setup, and
 * once both engines have been quiet for longer than that period.
 */
const LONG_IDLE_MS = 130_000;

export function longIdleCase(small: Buffer): Case {
  const quietSince = new Map<string, number>();
  return {
    name: "RSS idle, 130 s after the load (past Go's forced GC)",
    runs: 3,
    timed: false,
    setup: async (e) => {
      await must(e.docker(['load'], small));
      quietSince.set(e.name, Date.now());
    },
    step: async (e) => {
      await sleep(Math.max(SETTLE_MS, (quietSince.get(e.name) ?? Date.now()) + LONG_IDLE_MS - Date.now()));
      return snapshot(held(e.pid, e.roots));
    },
  };
}

export function resourceCases(small: Buffer, o: ResourceOptions): Case[] {
  const warm = Math.min(100, Math.floor(o.cycles / 2));
  return [
    {
      name: `RSS with ${o.running} running containers`,
      runs: 3,
      timed: false,
      setup: async (e) => {
        await must(e.docker(['load'], small));
        const slots = Array.from({ length: o.running }, (_, i) => i);
        await inBatches(slots, BATCH, () =>
          must(e.docker(['run', '-d', '--network', 'none', '--label', RUNNING_LABEL, 'busybox', 'sleep', '3600'])),
        );
        const up = (await output(e.docker(['ps', '-q', '--filter', `label=${RUNNING_LABEL}`]))).split('\n').filter((s) => s !== '');
        if (up.length !== o.running) throw new Error(`${e.name}: ${up.length} of ${o.running} containers running`);
      },
      step: async (e) => {
        await sleep(SETTLE_MS);
        return snapshot(held(e.pid, e.roots));
      },
      teardown: (e) => removeLabelled(e, RUNNING_LABEL),
    },
    {
      name: `docker run --rm x${o.cycles}, growth after ${warm}`,
      runs: 1,
      warmup: false,
      setup: (e) => must(e.docker(['load'], small)),
      step: async (e) => {
        let after: Held | undefined;
        for (let i = 0; i < o.cycles; i++) {
          if (i === warm) {
            await sleep(SETTLE_MS);
            after = held(e.pid, e.roots);
          }
          await must(e.docker(['run', '--rm', '--network', 'none', 'busybox', 'true']));
        }
        await sleep(SETTLE_MS);
        const end = held(e.pid, e.roots);
        const start = after ?? end;
        return {
          'RSS MB growth (+ containerd)': (end.rss - start.rss) / MB,
          'RSS MB growth, daemon alone': (end.daemonRss - start.daemonRss) / MB,
          'open fds growth (+ containerd)': end.fds - start.fds,
          'threads growth (+ containerd)': end.threads - start.threads,
          'mounts growth': end.mounts - start.mounts,
          'RSS MB at the end (+ containerd)': end.rss / MB,
          'open fds at the end (+ containerd)': end.fds,
        };
      },
    },
  ];
}
