// Stats shaping (daemon/containers/stats.ts) and its wire encoding (api/routes/stats.ts): the
// /proc/stat arithmetic, v1/v2 metric mapping as moby's stats_unix.go does it, uint64 exactness,
// and the collector's sharing (one poll per container per tick, stopped without listeners).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeStatsJson } from '../../api/routes/stats';
import {
  machineMemory,
  parseProcStat,
  sampleFromV1,
  sampleFromV2,
  StatsService,
  type ContainerStatsResponse,
  type StatsContainer,
} from '../../daemon/containers/stats';
import type { TaskMetrics } from '../../runtime/tasks';

const PROC_STAT = `cpu  321113 0 58775 529799 3283 0 3008 15326 0 0
cpu0 165749 0 29417 259610 1788 0 1277 7641 0 0
cpu1 155364 0 29357 270188 1495 0 1731 7684 0 0
intr 1 2 3
`;

test('system CPU usage: user..softirq of the cpu line in ns; cpuN lines counted', () => {
  const h = parseProcStat(PROC_STAT, 100);
  assert.equal(h.systemUsage, (321113n + 58775n + 529799n + 3283n + 3008n) * 10_000_000n);
  assert.equal(h.onlineCpus, 2);
  assert.throws(() => parseProcStat('cpu 1 2\n', 100), /invalid number of cpu fields/);
});

test('machine memory from /proc/meminfo', () => {
  assert.equal(machineMemory('MemTotal:       24684092 kB\nMemFree: 1 kB\n'), 24684092n * 1024n);
  assert.equal(machineMemory(''), 0n);
});

test('cgroup v1: unlimited memory reads as host memory; per-CPU kept; zero fields left out', () => {
  const s = sampleFromV1(
    {
      cpu: {
        usage: { total: 30n, kernel: 10n, user: 20n, perCpu: [12n, 18n] },
        throttling: { periods: 1n, throttledPeriods: 0n, throttledTime: 0n },
      },
      memory: { cache: 5n, totalInactiveFile: 3n, usage: { usage: 100n, max: 200n, limit: 9223372036854771712n, failcnt: 0n } },
      pids: { current: 2n, limit: 0n },
      blkio: { ioServiceBytesRecursive: [{ major: 8n, minor: 0n, op: 'Read', value: 4096n }] },
    },
    '2026-01-01T00:00:00Z',
    1000n,
  );
  assert.deepEqual(s.cpu_stats.cpu_usage.percpu_usage, [12n, 18n]);
  assert.equal(s.memory_stats.limit, 1000n);
  assert.equal(s.memory_stats.max_usage, 200n);
  assert.equal('failcnt' in s.memory_stats, false);
  assert.equal(s.memory_stats.stats?.cache, 5n);
  assert.equal(s.memory_stats.stats?.total_inactive_file, 3n);
  assert.deepEqual(s.pids_stats, { current: 2n });
  assert.deepEqual(s.blkio_stats.io_service_bytes_recursive, [{ major: 8n, minor: 0n, op: 'Read', value: 4096n }]);
  assert.deepEqual(s.blkio_stats.io_serviced_recursive, []);
});

test('cgroup v2: usec to ns, no per-CPU or max_usage, read/write byte entries', () => {
  const s = sampleFromV2(
    {
      cpu: { usageUsec: 7n, userUsec: 5n, systemUsec: 2n, nrPeriods: 0n, nrThrottled: 0n, throttledUsec: 1n },
      memory: { usage: 50n, usageLimit: 64n, inactiveFile: 4n },
      memoryEvents: { oom: 1n },
      io: { usage: [{ major: 254n, minor: 0n, rbytes: 10n, wbytes: 20n }] },
    },
    '2026-01-01T00:00:00Z',
    1000n,
  );
  assert.equal(s.cpu_stats.cpu_usage.total_usage, 7000n);
  assert.equal(s.cpu_stats.cpu_usage.percpu_usage, undefined);
  assert.equal(s.cpu_stats.throttling_data.throttled_time, 1000n);
  assert.deepEqual(
    { usage: s.memory_stats.usage, limit: s.memory_stats.limit, failcnt: s.memory_stats.failcnt },
    { usage: 50n, limit: 64n, failcnt: 1n },
  );
  assert.equal(s.memory_stats.max_usage, undefined);
  assert.equal(s.memory_stats.stats?.inactive_file, 4n);
  assert.deepEqual(
    s.blkio_stats.io_service_bytes_recursive?.map((e) => [e.op, e.value]),
    [
      ['read', 10n],
      ['write', 20n],
    ],
  );
  assert.equal(s.blkio_stats.io_serviced_recursive, null);
});

test('uint64 counters beyond 2^53 are encoded exactly', () => {
  assert.equal(
    encodeStatsJson({ a: 18446744073709551615n, b: [1n], c: null, d: undefined, e: 'x"' }),
    '{"a":18446744073709551615,"b":[1],"c":null,"e":"x\\""}',
  );
});

test('collector: one metrics call per tick for all watchers, stopped when nobody listens', async () => {
  const containers: StatsContainer[] = [
    { id: 'a'.repeat(64), name: 'one', running: true },
    { id: 'b'.repeat(64), name: 'two', running: true },
  ];
  const calls: string[][] = [];
  let total = 0n;
  const svc = new StatsService({
    lookup: (input) => {
      const c = containers.find((x) => x.name === input || x.id === input);
      if (!c) throw new Error('not found');
      return c;
    },
    byId: (id) => containers.find((x) => x.id === id),
    metrics: async (ids) => {
      calls.push([...ids]);
      total += 1_000_000n;
      return new Map<string, TaskMetrics>(ids.map((id) => [id, { cgroup: 'v1', data: { cpu: { usage: { total, perCpu: [total] } } } }]));
    },
    procStat: async () => PROC_STAT,
    machineMemory: 1000n,
    clockTicksPerSecond: 100,
    onError: (err) => assert.fail(String(err)),
  });
  const got: ContainerStatsResponse[][] = [[], [], []];
  const stops = [
    svc.open('one', { stream: true, oneShot: false, withOsType: true }, { sample: (s) => got[0].push(s), end: () => undefined }),
    svc.open('one', { stream: true, oneShot: false, withOsType: false }, { sample: (s) => got[1].push(s), end: () => undefined }),
    svc.open('two', { stream: true, oneShot: false, withOsType: false }, { sample: (s) => got[2].push(s), end: () => undefined }),
  ];
  await new Promise((r) => setTimeout(r, 1300));
  assert.equal(calls.length, 2, 'two ticks');
  for (const c of calls) assert.equal(c.length, 2, 'one call covers both containers');
  assert.equal(got[0].length, 2);
  assert.equal(got[0][0].os_type, 'linux');
  assert.equal(got[1][0].os_type, undefined);
  assert.equal(got[0][0].name, '/one');
  assert.equal(got[0][1].precpu_stats, got[0][0].cpu_stats);
  assert.equal(svc.watchedCount(), 2);
  for (const stop of stops) stop();
  assert.equal(svc.watchedCount(), 0);
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal(calls.length, 2, 'no polling without listeners');
  svc.close();
});
