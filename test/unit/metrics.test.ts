// The daemon's metrics (daemon/metrics): the exposition's series and types (the integration test
// has a real Prometheus scrape it), per-container series from the shared collector's one-off samples, the bound on their number,
// action timing through timedMethods, the sampleOnce contract with mocked timers, and the
// metrics-addr checks.
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { DaemonMetrics, timedMethods } from '../../daemon/metrics/daemon-metrics';
import { registerContainerMetrics, type ContainerFacts } from '../../daemon/metrics/container-metrics';
import { emptySample, StatsService, type StatsContainer, type StatsSample } from '../../daemon/containers/stats';
import type { TaskMetrics } from '../../runtime/tasks';
import { checkMetricsAddr } from '../../daemon/config/checks';
import { isLoopbackHost, splitHostPort } from '../../lib/addresses';

/** The exposition text of one scrape. */
async function scrape(m: DaemonMetrics): Promise<string> {
  return m.render();
}

/** The value of the series `name` whose labels include `labels`, or undefined. */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[3]);
  }
  return undefined;
}

function typeOf(text: string, name: string): string | undefined {
  return new RegExp(`^# TYPE ${name} (\\w+)$`, 'm').exec(text)?.[1];
}

function sample(cpuNs: bigint, mem: bigint): StatsSample {
  const s = emptySample();
  s.cpu_stats.cpu_usage.total_usage = cpuNs;
  s.memory_stats = { usage: mem, limit: 1n << 30n };
  s.pids_stats = { current: 3n };
  s.blkio_stats.io_service_bytes_recursive = [
    { major: 8n, minor: 0n, op: 'Read', value: 4096n },
    { major: 8n, minor: 0n, op: 'Write', value: 512n },
    { major: 8n, minor: 16n, op: 'write', value: 512n },
  ];
  s.networks = {
    eth0: { rx_bytes: 100, rx_packets: 2, rx_errors: 0, rx_dropped: 0, tx_bytes: 50, tx_packets: 1, tx_errors: 0, tx_dropped: 0 },
  };
  return s;
}

test('exposition: daemon series parse back with their types and labels', async () => {
  const m = new DaemonMetrics();
  m.observeRequest({ route: '/containers/:id/start', method: 'POST', status: 204, seconds: 0.02 });
  m.observeRequest({ route: '', method: 'GET', status: 404, seconds: 0.001 });
  m.observeContainerdCall('containerd.services.tasks.v1.Tasks', 'Create', 'OK', 0.03);
  m.countEvent('container', 'exec_start: sh -c true');
  m.countEvent('container', 'start');
  m.countPull();
  m.countPullBytes(1234);
  const f = await scrape(m);
  assert.equal(typeOf(f, 'berth_api_request_duration_seconds'), 'histogram');
  assert.equal(value(f, 'berth_api_request_duration_seconds_count', { route: '/containers/:id/start', method: 'POST', status: '204' }), 1);
  assert.equal(value(f, 'berth_api_request_duration_seconds_bucket', { route: '/containers/:id/start', le: '0.025' }), 1);
  assert.equal(value(f, 'berth_api_request_duration_seconds_bucket', { route: '/containers/:id/start', le: '0.01' }), 0);
  assert.equal(value(f, 'berth_api_request_duration_seconds_count', { route: 'unmatched', status: '404' }), 1);
  assert.equal(value(f, 'berth_containerd_call_duration_seconds_count', { method: 'Create', code: 'OK' }), 1);
  assert.equal(value(f, 'engine_daemon_events_total', { type: 'container', action: 'exec_start' }), 1);
  assert.equal(value(f, 'berth_image_pulls_total'), 1);
  assert.equal(value(f, 'berth_image_pull_bytes_total'), 1234);
  // The process series come from prom-client's defaults.
  assert.ok((value(f, 'process_resident_memory_bytes') ?? 0) > 0);
  assert.equal(typeOf(f, 'nodejs_eventloop_lag_seconds'), 'gauge');
  assert.ok((value(f, 'nodejs_active_handles_total') ?? 0) > 0);
});

test('timedMethods: sync, async and failing calls are timed; other members pass through', async () => {
  const seen: string[] = [];
  const target = {
    n: 1,
    sync: (x: number) => x + 1,
    async slow(this: { n: number }) {
      return this.n;
    },
    async fails(): Promise<void> {
      throw new Error('no');
    },
    untimed: () => 'u',
  };
  const t = timedMethods(target, { sync: 's', slow: 'a', fails: 'f' }, (action, seconds) => {
    assert.ok(seconds >= 0);
    seen.push(action);
  });
  assert.equal(t.sync(1), 2);
  assert.equal(await t.slow(), 1, 'this is the target');
  await assert.rejects(t.fails(), /no/);
  assert.equal(t.untimed(), 'u');
  assert.equal(t.n, 1);
  assert.deepEqual(seen, ['s', 'a', 'f']);
});

test('per-container series: samples of running containers, facts of all, bounded in number', async () => {
  const m = new DaemonMetrics();
  const facts: ContainerFacts[] = [
    { id: 'a'.repeat(64), name: 'web', image: 'busybox', running: true, paused: false, restartCount: 2, health: 'healthy' },
    { id: 'b'.repeat(64), name: 'old', image: 'busybox', running: false, paused: false, restartCount: 0 },
    { id: 'c'.repeat(64), name: 'nap', image: 'busybox', running: true, paused: true, restartCount: 0 },
  ];
  const asked: string[][] = [];
  registerContainerMetrics(
    m,
    {
      containers: () => facts,
      samples: async (ids) => {
        asked.push([...ids]);
        return new Map(ids.map((id) => [id, sample(2_500_000_000n, 40n << 20n)]));
      },
    },
    { maxContainers: 2 },
  );
  const f = await scrape(m);
  assert.deepEqual(asked, [['a'.repeat(64)]], 'only running, unpaused containers are sampled');
  const web = { id: 'a'.repeat(64), name: 'web', image: 'busybox' };
  assert.equal(typeOf(f, 'berth_container_cpu_usage_seconds_total'), 'counter');
  assert.equal(value(f, 'berth_container_cpu_usage_seconds_total', web), 2.5);
  assert.equal(value(f, 'berth_container_memory_usage_bytes', web), 40 * 2 ** 20);
  assert.equal(value(f, 'berth_container_pids', web), 3);
  assert.equal(value(f, 'berth_container_blkio_read_bytes_total', web), 4096);
  assert.equal(value(f, 'berth_container_blkio_write_bytes_total', web), 1024, 'v1 Write and v2 write summed');
  assert.equal(value(f, 'berth_container_network_receive_bytes_total', { ...web, interface: 'eth0' }), 100);
  assert.equal(value(f, 'berth_container_network_transmit_packets_total', { ...web, interface: 'eth0' }), 1);
  assert.equal(value(f, 'berth_container_restarts_total', web), 2);
  assert.equal(value(f, 'berth_container_health_status', { ...web, status: 'healthy' }), 1);
  assert.equal(value(f, 'berth_container_health_status', { ...web, status: 'unhealthy' }), 0);
  // Running ones first: the stopped container is the one the bound leaves out.
  assert.equal(value(f, 'berth_container_running', { name: 'nap' }), 1);
  assert.equal(value(f, 'berth_container_running', { name: 'old' }), undefined);
  assert.equal(value(f, 'berth_container_metrics_omitted', {}), 1);

  // A removed container's series go at the next scrape; counters are re-read, not added up.
  facts.splice(0, 1);
  const g = await scrape(m);
  assert.equal(value(g, 'berth_container_cpu_usage_seconds_total', web), undefined);
  assert.equal(value(g, 'berth_container_running', { name: 'old' }), 0);
  assert.equal(value(g, 'berth_container_metrics_omitted', {}), 0);
});

test('sampleOnce: one shared tick for all ids; gone containers and the timeout end it', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const containers = new Map<string, StatsContainer>([
    ['x', { id: 'x', name: 'x', running: true }],
    ['y', { id: 'y', name: 'y', running: true }],
  ]);
  const calls: string[][] = [];
  let answer: (() => void) | undefined;
  const svc = new StatsService({
    lookup: () => assert.fail('not used'),
    byId: (id) => containers.get(id),
    metrics: (ids) => {
      calls.push([...ids]);
      return new Promise<Map<string, TaskMetrics>>((resolve) => {
        answer = () => resolve(new Map(ids.map((id) => [id, { cgroup: 'v2', data: { cpu: { usageUsec: 5n } } }])));
      });
    },
    procStat: async () => 'cpu  1 0 1 1 0 0 0 0 0 0\n',
    machineMemory: 1n,
    clockTicksPerSecond: 100,
    onError: (err) => assert.fail(String(err)),
  });
  const got = svc.sampleOnce(['x', 'y'], 5000);
  t.mock.timers.tick(0);
  await new Promise(setImmediate);
  assert.deepEqual(calls, [['x', 'y']]);
  answer?.();
  const samples = await got;
  assert.deepEqual([...samples.keys()].sort(), ['x', 'y']);
  assert.equal(samples.get('x')?.cpu_stats.cpu_usage.total_usage, 5000n);
  assert.equal(svc.watchedCount(), 0, 'nothing stays subscribed');

  // A container removed before the tick is left out; one that never answers ends at the timeout.
  containers.delete('y');
  const partial = svc.sampleOnce(['x', 'y'], 5000);
  t.mock.timers.tick(0);
  await new Promise(setImmediate);
  t.mock.timers.tick(5000);
  const p = await partial;
  assert.deepEqual([...p.keys()], [], 'x had no answer before the timeout; y is gone');
  assert.equal(svc.watchedCount(), 0);
  svc.close();
  mock.timers.reset();
});

test('metrics-addr: host:port, loopback unless remote is allowed', () => {
  assert.equal(checkMetricsAddr(null, false), null);
  assert.equal(checkMetricsAddr('127.0.0.1:9323', false), '127.0.0.1:9323');
  assert.equal(checkMetricsAddr('[::1]:9323', false), '[::1]:9323');
  assert.equal(checkMetricsAddr('localhost:0', false), 'localhost:0');
  assert.throws(() => checkMetricsAddr('0.0.0.0:9323', false), /not a loopback address; set metrics-allow-remote/);
  assert.throws(() => checkMetricsAddr(':9323', false), /not a loopback address/);
  assert.equal(checkMetricsAddr(':9323', true), ':9323');
  assert.throws(() => checkMetricsAddr('9323', true), /want host:port/);
  assert.throws(() => checkMetricsAddr('127.0.0.1:70000', true), /want host:port/);
  assert.deepEqual(splitHostPort('[fe80::1]:80'), { host: 'fe80::1', port: 80 });
  assert.equal(splitHostPort('a:b:80'), null);
  assert.ok(isLoopbackHost('127.8.9.1'));
  assert.ok(!isLoopbackHost('10.0.0.1'));
  assert.ok(!isLoopbackHost('::'));
});
