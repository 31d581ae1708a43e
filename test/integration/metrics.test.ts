// `--metrics-addr` end to end: a real Prometheus server (Debian's `prometheus`) scrapes berthd's
// listener once a second while the docker CLI runs containers under real load, and the test asks
// Prometheus' query API whether the figures moved: CPU of a busy loop, memory a container fills,
// packets it sends, its health, the daemon's actions, API routes, containerd calls and events.
// promtool (Prometheus' own linter) checks the exposition; a non-loopback address is refused.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { BERTHD, destroyBerth, loadBusybox, pollUntil, run, startBerth, type Berth } from './harness';
import { freeLoopbackPort, httpGet } from './net-tools';

let b: Berth;
let metricsPort: number;
let promPort: number;
let prom: ChildProcess | undefined;

async function ok(args: string[]): Promise<string> {
  const r = await b.docker(args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n${b.log().slice(-2000)}`);
  return r.stdout.trim();
}

/** One instant query through Prometheus' HTTP API: the first series' value, or undefined. */
async function query(expr: string): Promise<number | undefined> {
  const r = await httpGet('127.0.0.1', promPort, 5000, `/api/v1/query?query=${encodeURIComponent(expr)}`);
  if ('error' in r) throw new Error(r.error);
  const body = JSON.parse(r.body) as { status: string; data: { result: { value: [number, string] }[] } };
  assert.equal(body.status, 'success', r.body);
  const v = body.data.result[0]?.value[1];
  return v === undefined ? undefined : Number(v);
}

/** Polls `expr` until `pred` holds for its value (Prometheus scrapes once a second). */
async function eventually(expr: string, pred: (v: number) => boolean, what: string): Promise<number> {
  let last: number | undefined;
  const ok = await pollUntil(30_000, 250, async () => {
    last = await query(expr);
    return last !== undefined && pred(last);
  });
  assert.ok(ok, `${what}: ${expr} = ${String(last)}\nberthd log:\n${b.log().slice(-1500)}`);
  return last as number;
}

before(async () => {
  metricsPort = await freeLoopbackPort();
  b = await startBerth({ args: ['--metrics-addr', `127.0.0.1:${metricsPort}`] });
  await loadBusybox(b);
  promPort = await freeLoopbackPort();
  const dir = path.join(b.dir, 'prometheus');
  fs.mkdirSync(dir);
  fs.writeFileSync(
    path.join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 1s, scrape_timeout: 900ms }\nscrape_configs:\n  - job_name: berth\n    static_configs: [{ targets: ['127.0.0.1:${metricsPort}'] }]\n`,
  );
  const log = fs.openSync(path.join(dir, 'prometheus.log'), 'w');
  prom = spawn(
    'prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const ready = await pollUntil(30_000, 200, async () => {
    const r = await httpGet('127.0.0.1', promPort, 1000, '/-/ready');
    return !('error' in r) && r.status === 200;
  });
  assert.ok(ready, `prometheus did not become ready:\n${fs.readFileSync(path.join(dir, 'prometheus.log'), 'utf8').slice(-2000)}`);
});

after(async () => {
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom?.once('exit', r));
    prom.kill('SIGTERM');
    await exited;
  }
  if (b) await destroyBerth(b);
});

test('Prometheus scrapes berthd: per-container figures move with real load', async () => {
  await ok(['run', '-d', '--name', 'busy', '--network', 'none', 'busybox', 'sh', '-c', 'while :; do :; done']);
  // /dev/shm is tmpfs: what is written there is charged to the container's memory cgroup.
  await ok([
    'run',
    '-d',
    '--name',
    'fill',
    '--network',
    'none',
    'busybox',
    'sh',
    '-c',
    'dd if=/dev/zero of=/dev/shm/f bs=1M count=48 && sleep 600',
  ]);
  const gateway = await ok(['network', 'inspect', 'bridge', '--format', '{{(index .IPAM.Config 0).Gateway}}']);
  await ok(['run', '-d', '--name', 'talk', 'busybox', 'sh', '-c', `ping -c 20 -i 0.2 ${gateway}; sleep 600`]);
  await ok([
    'run',
    '-d',
    '--name',
    'checked',
    '--network',
    'none',
    '--health-cmd',
    'true',
    '--health-interval',
    '1s',
    'busybox',
    'sleep',
    '600',
  ]);

  assert.equal(await eventually('up{job="berth"}', (v) => v === 1, 'the scrape succeeds'), 1);
  const cpu1 = await eventually('berth_container_cpu_usage_seconds_total{name="busy",image="busybox"}', (v) => v > 0, 'busy loop CPU');
  await eventually('berth_container_cpu_usage_seconds_total{name="busy"}', (v) => v > cpu1 + 0.5, 'CPU keeps rising');
  await eventually('berth_container_memory_usage_bytes{name="fill"}', (v) => v >= 48 * 2 ** 20, 'memory of the filled tmpfs');
  await eventually('berth_container_memory_limit_bytes{name="fill"}', (v) => v > 0, 'memory limit');
  await eventually('berth_container_pids{name="fill"}', (v) => v >= 1, 'pids');
  await eventually('berth_container_network_transmit_packets_total{name="talk",interface="eth0"}', (v) => v >= 20, 'pings sent');
  await eventually('berth_container_network_receive_bytes_total{name="talk",interface="eth0"}', (v) => v > 20 * 64, 'replies received');
  await eventually('berth_container_health_status{name="checked",status="healthy"}', (v) => v === 1, 'health');
  await eventually('berth_container_running{name="busy"}', (v) => v === 1, 'running');

  // A container gone from the engine is gone from the next scrape.
  await ok(['rm', '-f', 'busy']);
  await eventually('count(berth_container_running{name="busy"}) or vector(0)', (v) => v === 0, 'removed container series');
});

test('daemon series: actions, API routes, containerd calls, events, states, process', async () => {
  await ok(['run', '--rm', '--network', 'none', 'busybox', 'true']);
  await eventually('engine_daemon_container_actions_seconds_count{action="start"}', (v) => v >= 1, 'start actions');
  await eventually('engine_daemon_container_actions_seconds_count{action="delete"}', (v) => v >= 1, 'delete actions');
  await eventually(
    'sum(berth_api_request_duration_seconds_count{route="/containers/create",method="POST",status="201"})',
    (v) => v >= 1,
    'create requests by route pattern',
  );
  await eventually('sum(berth_containerd_call_duration_seconds_count{method="Create",code="OK"})', (v) => v >= 1, 'containerd calls');
  await eventually('engine_daemon_events_total{type="container",action="start"}', (v) => v >= 1, 'events');
  await eventually('engine_daemon_container_states_containers{state="running"}', (v) => v >= 1, 'container states');
  await eventually('process_resident_memory_bytes{job="berth"}', (v) => v > 10 * 2 ** 20, 'RSS');
  await eventually('nodejs_active_handles_total{job="berth"}', (v) => v > 0, 'handles');
});

test('promtool lints the exposition; only /metrics is served', async () => {
  const text = await httpGet('127.0.0.1', metricsPort, 10_000, '/metrics');
  assert.ok(!('error' in text) && text.status === 200);
  const lint = await run('promtool', ['check', 'metrics'], { input: text.body, timeoutMs: 30_000 });
  // prom-client's default gauges are named nodejs_active_*_total, which promtool's naming lint
  // flags; those names are the library's, kept as every Node exporter has them. Anything else
  // (a parse error included) fails.
  const problems = `${lint.stdout}${lint.stderr}`
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^nodejs_active_\w+_total non-counter metrics should not have "_total" suffix$/.test(l));
  assert.deepEqual(problems, [], `promtool check metrics (exit ${lint.code})`);
  assert.ok(lint.code === 0 || lint.code === 3, `promtool exit ${lint.code}: 3 means lint findings only`);
  const other = await httpGet('127.0.0.1', metricsPort, 5000, '/containers/json');
  assert.ok(!('error' in other) && other.status === 404, 'the Engine API is not reachable through the metrics listener');
});

test('a non-loopback metrics address is refused unless allowed', async () => {
  const refused = await run(process.execPath, [BERTHD, '--validate', '--metrics-addr', '0.0.0.0:9323'], { timeoutMs: 30_000 });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /metrics-addr "0\.0\.0\.0:9323" is not a loopback address; set metrics-allow-remote/);
  const allowed = await run(process.execPath, [BERTHD, '--validate', '--metrics-addr', '0.0.0.0:9323', '--metrics-allow-remote'], {
    timeoutMs: 30_000,
  });
  assert.equal(allowed.code, 0, allowed.stderr);
});
