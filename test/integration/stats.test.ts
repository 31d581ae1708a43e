// GET /containers/{id}/stats end to end against a real berthd and real containers: the docker
// CLI's `docker stats --no-stream` (idle and busy), --format, the raw single sample (stream=false,
// one-shot), the one-per-second stream, stopped and unknown containers.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, test } from 'node:test';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { destroyBerth, startBerth, type Berth, type RunResult } from './harness';

let b: Berth;
let idleId: string;
let busyId: string;

interface Sample {
  name: string;
  id: string;
  read: string;
  preread: string;
  cpu_stats: {
    cpu_usage: { total_usage: number; percpu_usage?: number[] };
    system_cpu_usage?: number;
    online_cpus?: number;
    throttling_data: object;
  };
  precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number; online_cpus?: number };
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> };
  pids_stats: { current?: number; limit?: number };
  blkio_stats: Record<string, unknown>;
  num_procs: number;
  storage_stats: object;
  networks?: unknown;
}

async function docker(args: string[], input?: Buffer | string): Promise<RunResult> {
  return b.docker(args, { input, timeoutMs: 60_000 });
}

async function ok(args: string[], input?: Buffer | string): Promise<string> {
  const r = await docker(args, input);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${r.stderr}\nberthd log:\n${b.log().slice(-3000)}`);
  return r.stdout.trim();
}

before(async () => {
  b = await startBerth();
  await ok(['load'], await buildBusyboxArchive({ tags: ['busybox:latest'] }));
  idleId = await ok(['run', '-d', '--name', 'idle', '--network', 'none', '--memory', '64m', 'busybox', 'sleep', '1000']);
  busyId = await ok(['run', '-d', '--name', 'busy', '--network', 'none', 'busybox', 'sh', '-c', 'while :; do :; done']);
  await ok(['create', '--name', 'stopped', '--network', 'none', 'busybox', 'true']);
});

after(async () => {
  if (b) {
    await b.docker(['rm', '-f', 'idle', 'busy', 'stopped']).catch(() => undefined);
    await destroyBerth(b);
  }
});

function percent(text: string): number {
  const m = /^([0-9.]+)%$/.exec(text.trim());
  assert.ok(m, `not a percentage: ${text}`);
  return Number(m[1]);
}

test('docker stats --no-stream: idle and busy containers', async () => {
  const out = await ok(['stats', '--no-stream', 'idle', 'busy']);
  const lines = out.split('\n');
  assert.match(lines[0], /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
  const rows = new Map(lines.slice(1).map((l) => [l.split(/\s+/)[1], l.split(/\s{2,}/)]));
  const idle = rows.get('idle');
  const busy = rows.get('busy');
  assert.ok(idle && busy, out);
  assert.equal(idle[0], idleId.slice(0, 12));
  assert.ok(percent(idle[2]) < 5, `idle CPU: ${idle[2]}`);
  assert.match(idle[3], /^[0-9.]+(B|KiB|MiB) \/ 64MiB$/);
  assert.equal(idle[7], '1');
  // A busy loop gets well above an idle one even on a loaded 2-core test machine.
  assert.ok(percent(busy[2]) > 20, `busy CPU: ${busy[2]}`);
  // No --memory: the limit is the host's memory, as dockerd reports it.
  assert.match(busy[3], /\/ [0-9.]+GiB$/);
  assert.equal(busy[7], '1'); // busybox sh runs the loop itself
});

test('docker stats --format json', async () => {
  const out = await ok(['stats', '--no-stream', '--format', '{{json .}}', 'idle']);
  const row = JSON.parse(out) as Record<string, string>;
  assert.equal(row.Name, 'idle');
  assert.equal(row.ID, idleId.slice(0, 12));
  assert.equal(row.PIDs, '1');
  assert.match(row.MemUsage, / \/ 64MiB$/);
  assert.ok(percent(row.MemPerc) > 0 && percent(row.MemPerc) < 50, row.MemPerc);
  assert.ok(percent(row.CPUPerc) < 5, row.CPUPerc);
});

test('stream=false waits for two samples and fills precpu', async () => {
  const t0 = Date.now();
  const r = await b.request('GET', '/v1.53/containers/idle/stats?stream=false');
  assert.equal(r.status, 200, r.body);
  assert.ok(Date.now() - t0 >= 500, 'a second sample was awaited');
  assert.equal(r.headers['content-type'], 'application/json');
  const s = JSON.parse(r.body) as Sample;
  assert.equal(s.name, '/idle');
  assert.equal(s.id, idleId);
  assert.ok(Date.parse(s.read) > Date.parse(s.preread), `${s.read} after ${s.preread}`);
  const gapMs = Date.parse(s.read) - Date.parse(s.preread);
  assert.ok(gapMs > 700 && gapMs < 2000, `samples ${gapMs} ms apart`);
  assert.ok(s.cpu_stats.cpu_usage.total_usage > 0);
  assert.equal(s.cpu_stats.cpu_usage.percpu_usage?.length, s.cpu_stats.online_cpus, 'cgroup v1 per-CPU usage');
  assert.ok((s.cpu_stats.system_cpu_usage ?? 0) > (s.precpu_stats.system_cpu_usage ?? 0));
  assert.ok((s.precpu_stats.system_cpu_usage ?? 0) > 0);
  assert.ok((s.cpu_stats.online_cpus ?? 0) >= 1);
  assert.equal(s.memory_stats.limit, 64 * 1024 * 1024);
  assert.ok((s.memory_stats.usage ?? 0) > 0 && (s.memory_stats.usage ?? 0) < 64 * 1024 * 1024);
  assert.ok(
    s.memory_stats.stats &&
      'total_inactive_file' in s.memory_stats.stats &&
      'cache' in s.memory_stats.stats &&
      'rss' in s.memory_stats.stats,
  );
  assert.equal(s.pids_stats.current, 1);
  assert.ok(Array.isArray(s.blkio_stats.io_service_bytes_recursive));
  assert.equal(s.num_procs, 0);
  assert.deepEqual(s.storage_stats, {});
  assert.equal(s.networks, undefined);
});

test('one-shot: a single sample without precpu', async () => {
  const r = await b.request('GET', `/v1.53/containers/${busyId.slice(0, 10)}/stats?stream=false&one-shot=true`);
  assert.equal(r.status, 200, r.body);
  const s = JSON.parse(r.body) as Sample;
  assert.equal(s.name, '/busy');
  assert.equal(s.preread, '0001-01-01T00:00:00Z');
  assert.equal(s.precpu_stats.cpu_usage.total_usage, 0);
  assert.equal(s.precpu_stats.system_cpu_usage, undefined);
  assert.ok(s.cpu_stats.cpu_usage.total_usage > 0);
  const bad = await b.request('GET', '/v1.53/containers/busy/stats?stream=true&one-shot=true');
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.body).message, 'cannot have stream=true and one-shot=true');
});

/** The first `n` lines of a stats stream, with the time each arrived; then the client hangs up. */
function streamLines(path: string, n: number): Promise<{ lines: Sample[]; at: number[]; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: b.socket, path }, (res) => {
      let buf = '';
      const lines: Sample[] = [];
      const at: number[] = [];
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0 && lines.length < n) {
          lines.push(JSON.parse(buf.slice(0, i)) as Sample);
          at.push(Date.now());
          buf = buf.slice(i + 1);
        }
        if (lines.length >= n) {
          req.destroy();
          resolve({ lines, at, headers: res.headers });
        }
      });
      res.on('error', () => undefined);
      res.on('end', () => reject(new Error(`stream ended after ${lines.length} samples`)));
    });
    req.on('error', (err) => {
      if (!req.destroyed) reject(err);
    });
    setTimeout(() => req.destroy(new Error('timed out')), 15_000).unref();
  });
}

test('streaming: one sample a second, precpu chained, first with empty precpu', async () => {
  const { lines, at, headers } = await streamLines('/v1.53/containers/busy/stats', 3);
  assert.equal(headers['content-type'], undefined);
  assert.equal(lines[0].preread, '0001-01-01T00:00:00Z');
  assert.equal(lines[0].precpu_stats.cpu_usage.total_usage, 0);
  for (let i = 1; i < 3; i++) {
    assert.equal(lines[i].preread, lines[i - 1].read);
    assert.deepEqual(lines[i].precpu_stats, lines[i - 1].cpu_stats);
    const gap = at[i] - at[i - 1];
    assert.ok(gap > 600 && gap < 1600, `samples ${gap} ms apart`);
    assert.ok(lines[i].cpu_stats.cpu_usage.total_usage > lines[i - 1].cpu_stats.cpu_usage.total_usage);
  }
});

test('a stopped container: zeroed samples', async () => {
  const r = await b.request('GET', '/v1.53/containers/stopped/stats?stream=false');
  assert.equal(r.status, 200, r.body);
  const s = JSON.parse(r.body) as Sample;
  assert.equal(s.name, '/stopped');
  assert.equal(s.read, '0001-01-01T00:00:00Z');
  assert.equal(s.cpu_stats.cpu_usage.total_usage, 0);
  assert.deepEqual(s.memory_stats, {});
  assert.deepEqual(s.pids_stats, {});
  assert.equal(s.blkio_stats.io_service_bytes_recursive, null);
  // Streaming keeps sending zero samples, as dockerd does.
  const { lines } = await streamLines('/v1.53/containers/stopped/stats', 2);
  for (const l of lines) assert.equal(l.read, '0001-01-01T00:00:00Z');
});

test('stats of an unknown container: 404', async () => {
  const r = await b.request('GET', '/v1.53/containers/nosuch/stats?stream=false');
  assert.equal(r.status, 404);
  assert.equal(JSON.parse(r.body).message, 'No such container: nosuch');
  const cli = await docker(['stats', '--no-stream', 'nosuch']);
  assert.notEqual(cli.code, 0);
  assert.match(cli.stderr, /No such container: nosuch/);
});

test('a container on a bridge network reports its interface counters; traffic shows on both sides', async () => {
  await ok([
    'run',
    '-d',
    '--name',
    'netted',
    'busybox',
    'sh',
    '-c',
    'mkdir /www && head -c 100000 /dev/zero > /www/big && exec httpd -f -p 80 -h /www',
  ]);
  try {
    const ip = await ok(['inspect', '-f', '{{.NetworkSettings.Networks.bridge.IPAddress}}', 'netted']);
    const get = async (): Promise<{ rx_bytes: number; tx_bytes: number; rx_packets: number; tx_packets: number }> => {
      const r = await b.request('GET', '/v1.53/containers/netted/stats?stream=false&one-shot=true');
      assert.equal(r.status, 200, r.body);
      const s = JSON.parse(r.body) as Sample;
      const nets = s.networks as Record<string, { rx_bytes: number; tx_bytes: number; rx_packets: number; tx_packets: number }>;
      assert.deepEqual(Object.keys(nets), ['eth0']);
      return nets.eth0;
    };
    const before = await get();
    // 100 kB through the container's httpd, fetched from the host.
    const fetchOnce = (): Promise<number> =>
      new Promise<number>((resolve, reject) => {
        http
          .get(`http://${ip}/big`, (res) => {
            let n = 0;
            res.on('data', (d: Buffer) => (n += d.length));
            res.on('end', () => resolve(n));
          })
          .on('error', reject);
      });
    let body = 0;
    for (let i = 0; ; i++) {
      try {
        body = await fetchOnce();
        break;
      } catch (err) {
        if (i > 50) throw err; // httpd is still starting
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.equal(body, 100000);
    const afterSample = await get();
    assert.ok(afterSample.tx_bytes - before.tx_bytes >= body, `tx grew by ${afterSample.tx_bytes - before.tx_bytes}, served ${body}`);
    assert.ok(afterSample.rx_packets > before.rx_packets);
    // The CLI's NET I/O column reads the same counters.
    const row = await ok(['stats', '--no-stream', '--format', '{{.NetIO}}', 'netted']);
    assert.match(row, /^[0-9.]+[kMG]?B \/ [0-9.]+[kMG]?B$/);
    assert.notEqual(row, '0B / 0B');
  } finally {
    await docker(['rm', '-f', 'netted']);
  }
});
