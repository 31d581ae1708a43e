// The dashboard's pieces without a listener: the request checks (Host, token, Origin, the cookie
// set from the URL), the stats figures the charts draw, port text as `docker ps` prints it, the
// backend's action dispatch to the container service, and the dashboard-addr check. The
// integration tests (dashboard.test.ts, dashboard-browser.test.ts) cover the real listener.
import assert from 'node:assert/strict';
import type * as http from 'node:http';
import { test } from 'node:test';
import { dashboardAuth } from '../../api/dashboard-auth';
import { dashboardBackend, portText, type DashboardServices } from '../../daemon/dashboard/backend';
import { statsFigures } from '../../daemon/dashboard/figures';
import { emptyCpuStats, emptySample, type ContainerStatsResponse, type NetworkCounters } from '../../daemon/containers/stats';
import { checkDashboardAddr } from '../../daemon/config/checks';
import { ConfigError } from '../../daemon/config';
import { NotFound } from '../../lib/errors';

const TOKEN = 't'.repeat(43);

function req(method: string, headers: http.IncomingHttpHeaders): http.IncomingMessage {
  return { method, headers } as http.IncomingMessage;
}

test('auth: Host first, then the token; the URL token sets the cookie; POST wants the Origin', () => {
  const auth = dashboardAuth('127.0.0.1', 4000, TOKEN);
  const u = (p: string): URL => new URL(p, 'http://x');
  const cookie = `a=b; berth_dashboard_4000=${TOKEN}`;
  assert.deepEqual(auth.check(req('GET', { host: 'evil.example:4000', cookie }), u('/')), {
    ok: false,
    status: 403,
    message: 'invalid Host header',
  });
  assert.equal(auth.check(req('GET', {}), u('/')).ok, false, 'no Host');
  assert.deepEqual(auth.check(req('GET', { host: '127.0.0.1:4000' }), u('/')), {
    ok: false,
    status: 401,
    message: 'token required: open the URL berthd logged',
  });
  assert.deepEqual(auth.check(req('GET', { host: '127.0.0.1:4000' }), u(`/?token=${TOKEN}`)), {
    ok: true,
    setCookie: `berth_dashboard_4000=${TOKEN}; Path=/; HttpOnly; SameSite=Strict`,
  });
  assert.equal(auth.check(req('GET', { host: '127.0.0.1:4000' }), u('/?token=short')).ok, false);
  assert.equal(
    auth.check(req('GET', { host: '127.0.0.1:4000' }), u(`/api/containers?token=${TOKEN}`)).ok,
    false,
    'URL token on the page only',
  );
  assert.deepEqual(auth.check(req('GET', { host: 'LOCALHOST:4000', cookie }), u('/api/containers')), { ok: true });
  assert.deepEqual(auth.check(req('GET', { host: '[::1]:4000', authorization: `Bearer ${TOKEN}` }), u('/x')), { ok: true });
  assert.equal(
    auth.check(req('GET', { host: '127.0.0.1:4000', cookie: `berth_dashboard_4001=${TOKEN}` }), u('/')).ok,
    false,
    'another port’s cookie',
  );
  assert.equal(auth.check(req('POST', { host: '127.0.0.1:4000', cookie }), u('/api/containers/x/stop')).ok, false);
  assert.equal(auth.check(req('POST', { host: '127.0.0.1:4000', cookie, origin: 'null' }), u('/api/containers/x/stop')).ok, false);
  assert.equal(
    auth.check(req('POST', { host: '127.0.0.1:4000', cookie, origin: 'http://localhost:4000' }), u('/a')).ok,
    false,
    'Origin ≠ Host',
  );
  assert.deepEqual(auth.check(req('POST', { host: '127.0.0.1:4000', cookie, origin: 'http://127.0.0.1:4000' }), u('/a')), { ok: true });
  const v6 = dashboardAuth('::1', 5000, TOKEN);
  assert.deepEqual(v6.check(req('GET', { host: '[::1]:5000', cookie: `berth_dashboard_5000=${TOKEN}` }), u('/')), { ok: true });
});

test('auth: a token per start, 256 random bits', () => {
  const a = dashboardAuth('127.0.0.1', 1);
  const b = dashboardAuth('127.0.0.1', 1);
  assert.notEqual(a.token, b.token);
  assert.match(a.token, /^[A-Za-z0-9_-]{43}$/);
});

test('figures: CPU % as docker stats computes it, memory without inactive file pages, bytes over all interfaces', () => {
  const base = emptySample();
  const s: ContainerStatsResponse & { networks: Record<string, NetworkCounters> } = {
    name: '/x',
    id: 'x',
    read: '2026-01-01T00:00:01Z',
    cpu_stats: {
      ...emptyCpuStats(),
      cpu_usage: { ...emptyCpuStats().cpu_usage, total_usage: 3_000_000_000n },
      system_cpu_usage: 20_000_000_000n,
      online_cpus: 4,
    },
    precpu_stats: {
      ...emptyCpuStats(),
      cpu_usage: { ...emptyCpuStats().cpu_usage, total_usage: 2_000_000_000n },
      system_cpu_usage: 16_000_000_000n,
      online_cpus: 4,
    },
    memory_stats: { usage: 100n * 2n ** 20n, limit: 2n ** 30n, stats: { inactive_file: 10n * 2n ** 20n } },
    pids_stats: base.pids_stats,
    blkio_stats: base.blkio_stats,
    num_procs: 0,
    storage_stats: {},
    preread: '2026-01-01T00:00:00Z',
    networks: {
      eth0: { rx_bytes: 100, tx_bytes: 10, rx_packets: 0, rx_errors: 0, rx_dropped: 0, tx_packets: 0, tx_errors: 0, tx_dropped: 0 },
      eth1: { rx_bytes: 5, tx_bytes: 1, rx_packets: 0, rx_errors: 0, rx_dropped: 0, tx_packets: 0, tx_errors: 0, tx_dropped: 0 },
    },
  };
  assert.deepEqual(statsFigures(s), {
    read: '2026-01-01T00:00:01Z',
    cpuPercent: 100, // 1 s of CPU in 4 s of host time over 4 CPUs: one core
    memUsage: 90 * 2 ** 20,
    memLimit: 2 ** 30,
    rxBytes: 105,
    txBytes: 11,
  });
  const idle = statsFigures({ ...s, precpu_stats: s.cpu_stats, memory_stats: {}, networks: {} });
  assert.equal(idle.cpuPercent, 0);
  assert.equal(idle.memUsage, 0);
});

test('ports as docker ps prints them', () => {
  assert.equal(portText({ PrivatePort: 80, Type: 'tcp' }), '80/tcp');
  assert.equal(portText({ IP: '127.0.0.1', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }), '127.0.0.1:8080->80/tcp');
  assert.equal(portText({ IP: '::', PrivatePort: 53, PublicPort: 5353, Type: 'udp' }), '[::]:5353->53/udp');
});

test('actions go to the container service; anything else is refused', async () => {
  const calls: string[] = [];
  const svc: DashboardServices = {
    containers: {
      list: () => Promise.resolve([]),
      tryGetById: () => undefined,
      readLogs: () => {
        throw new NotFound('No such container: x');
      },
      start: (id) => (calls.push(`start ${id}`), Promise.resolve()),
      stop: (id, o) => (calls.push(`stop ${id} ${JSON.stringify(o)}`), Promise.resolve()),
      restart: (id, o) => (calls.push(`restart ${id} ${JSON.stringify(o)}`), Promise.resolve()),
      remove: (id, o) => (calls.push(`remove ${id} ${JSON.stringify(o)}`), Promise.resolve()),
    },
    stats: { open: () => () => undefined },
    events: { subscribe: () => () => undefined },
  };
  const backend = dashboardBackend(svc);
  for (const a of ['start', 'stop', 'restart', 'remove']) await backend.act('c1', a);
  assert.deepEqual(calls, ['start c1', 'stop c1 {}', 'restart c1 {}', 'remove c1 {"force":true,"volumes":false}']);
  await assert.rejects(backend.act('c1', 'kill'), /unknown dashboard action "kill"/);
  assert.throws(() => backend.logs('x', 10, new AbortController().signal), NotFound, 'an unknown container throws before streaming');
});

test('dashboard-addr: loopback host:port only', () => {
  assert.equal(checkDashboardAddr(null), null);
  for (const ok of ['127.0.0.1:0', '127.1.2.3:80', '[::1]:9000', 'localhost:1']) assert.equal(checkDashboardAddr(ok), ok);
  for (const bad of ['0.0.0.0:1', ':1', '[::]:1', '10.0.0.1:1', 'example.com:1', '127.0.0.1', '127.0.0.1:70000']) {
    assert.throws(() => checkDashboardAddr(bad), ConfigError, bad);
  }
});
