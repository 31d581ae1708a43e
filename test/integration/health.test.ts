// Healthchecks end to end against a real berthd: the docker CLI's --health-* flags (starting →
// healthy → unhealthy with State.Health, the health_status events, `docker ps` text and its
// health filter, stop and start), dockerode's create with the zero-valued fields the SDKs send,
// exact durations and the version gates of the raw API, an image's HEALTHCHECK, a probe killed at
// its timeout, and a docker-compose 1.29 project whose service waits for service_healthy.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { Kit, lines } from './container-kit';
import { run, startBerth } from './harness';

let k: Kit;
let docker: Docker;

before(async () => {
  k = await Kit.start();
  docker = new Docker({ socketPath: k.b.socket });
});

after(async () => {
  if (k) await k.destroy();
});

interface HealthView {
  Status: string;
  FailingStreak: number;
  Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }>;
}

async function health(name: string, kit = k): Promise<HealthView | null> {
  return JSON.parse(await kit.ok(['inspect', '--format', '{{json .State.Health}}', name])) as HealthView | null;
}

async function waitStatus(name: string, status: string, kit = k, ms = 20_000): Promise<HealthView> {
  let last: HealthView | null = null;
  await kit.until(
    `${name} ${status}`,
    async () => {
      last = await health(name, kit);
      return last?.Status === status;
    },
    ms,
  );
  return last as unknown as HealthView;
}

const psStatus = async (name: string): Promise<string> =>
  (await k.ok(['ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Status}}'])).trim();
const psHealth = async (value: string): Promise<string[]> =>
  lines(await k.ok(['ps', '-a', '--filter', `health=${value}`, '--format', '{{.Names}}']));

describe('docker CLI', () => {
  test('starting → healthy → unhealthy: inspect, ps text and filter, health_status events; stop and start', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    // Failures in the 60s start period are not counted; the file appears after a second.
    await k.ok([
      'run',
      '-d',
      '--name',
      'web',
      '--health-cmd',
      'test -e /tmp/ok && echo ok',
      '--health-interval',
      '1s',
      '--health-retries',
      '2',
      '--health-start-period',
      '60s',
      '--health-start-interval',
      '300ms',
      'busybox',
      'sh',
      '-c',
      'sleep 1; touch /tmp/ok; exec sleep 300',
    ]);
    const first = await health('web');
    assert.equal(first?.Status, 'starting');
    assert.equal(first?.FailingStreak, 0);
    assert.match(await psStatus('web'), /^Up .* \(health: starting\)$/);
    assert.deepEqual(await psHealth('starting'), ['web']);

    const healthy = await waitStatus('web', 'healthy');
    assert.equal(healthy.FailingStreak, 0);
    const last = healthy.Log[healthy.Log.length - 1];
    assert.equal(last.ExitCode, 0);
    assert.equal(last.Output, 'ok\n');
    assert.ok(Date.parse(last.End) >= Date.parse(last.Start));
    assert.match(await psStatus('web'), /^Up .* \(healthy\)$/);
    assert.deepEqual(await psHealth('healthy'), ['web']);
    assert.deepEqual(await psHealth('starting'), []);

    // A success ended the start period: two failures now make it unhealthy.
    await k.ok(['exec', 'web', 'rm', '/tmp/ok']);
    const unhealthy = await waitStatus('web', 'unhealthy');
    assert.ok(unhealthy.FailingStreak >= 2);
    assert.ok(unhealthy.Log.length <= 5);
    assert.equal(unhealthy.Log[unhealthy.Log.length - 1].ExitCode, 1);
    assert.match(await psStatus('web'), /^Up .* \(unhealthy\)$/);
    assert.deepEqual(await psHealth('unhealthy'), ['web']);
    assert.deepEqual(await psHealth('healthy'), []);

    const until = Math.ceil(Date.now() / 1000) + 1;
    const events = lines(
      await k.ok([
        'events',
        '--since',
        String(since),
        '--until',
        String(until),
        '--filter',
        'container=web',
        '--filter',
        'event=health_status',
        '--format',
        '{{.Action}} {{.Actor.Attributes.name}}',
      ]),
    );
    assert.deepEqual(events, ['health_status: healthy web', 'health_status: unhealthy web']);
    // The probes are execs, with their events, as dockerd's are.
    const execs = lines(
      await k.ok([
        'events',
        '--since',
        String(since),
        '--until',
        String(until),
        '--filter',
        'container=web',
        '--filter',
        'event=exec_create',
        '--format',
        '{{.Action}}',
      ]),
    );
    assert.ok(execs.includes('exec_create: /bin/sh -c test -e /tmp/ok && echo ok'), execs.join('\n'));

    // Stopped: the monitor ends and, as in dockerd, the status reads unhealthy; no probe runs.
    await k.ok(['stop', '-t', '0', 'web']);
    const stopped = await health('web');
    assert.equal(stopped?.Status, 'unhealthy');
    assert.match(await psStatus('web'), /^Exited/);
    const logAfterStop = JSON.stringify(stopped?.Log);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(JSON.stringify((await health('web'))?.Log), logAfterStop);
    // Started again: starting with the streak reset, the Log kept.
    await k.ok(['start', 'web']);
    const restarted = await health('web');
    assert.equal(restarted?.Status, 'starting');
    assert.equal(restarted?.FailingStreak, 0);
    assert.ok((restarted?.Log.length ?? 0) > 0);
    await waitStatus('web', 'healthy');
    await k.ok(['rm', '-f', 'web']);
  });

  test('pause stops the probes, unpause resumes them', async () => {
    await k.ok(['run', '-d', '--name', 'paused', '--health-cmd', 'true', '--health-interval', '300ms', 'busybox', 'sleep', '300']);
    await waitStatus('paused', 'healthy');
    await k.ok(['pause', 'paused']);
    const atPause = await health('paused');
    assert.equal(atPause?.Status, 'unhealthy');
    assert.match(await psStatus('paused'), /\(Paused\)$/);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual((await health('paused'))?.Log, atPause?.Log);
    await k.ok(['unpause', 'paused']);
    await waitStatus('paused', 'healthy');
    await k.ok(['rm', '-f', 'paused']);
  });

  test('a probe that outlives its timeout is killed and recorded as dockerd records it', async () => {
    await k.ok([
      'run',
      '-d',
      '--name',
      'slow',
      '--health-cmd',
      'echo started; exec sleep 77',
      '--health-timeout',
      '500ms',
      '--health-interval',
      '1s',
      '--health-retries',
      '1',
      'busybox',
      'sleep',
      '300',
    ]);
    const h = await waitStatus('slow', 'unhealthy');
    assert.deepEqual(h.Log.map((e) => [e.ExitCode, e.Output]).slice(0, 1), [[-1, 'Health check exceeded timeout (500ms): started\n']]);
    // The killed probe is gone from the container (no probe piles up).
    await k.until(
      'the timed-out probe gone',
      async () => {
        const top = await k.ok(['top', 'slow']);
        return !top.includes('sleep 77');
      },
      5000,
    );
    await k.ok(['rm', '-f', 'slow']);
  });

  test("a running probe is an exec of the container (ExecIDs, exec inspect), as dockerd's; gone once it exited", async () => {
    await k.ok(['run', '-d', '--name', 'probing', '--health-cmd', 'sleep 3', '--health-interval', '200ms', 'busybox', 'sleep', '300']);
    let execId = '';
    await k.until('a probe in ExecIDs', async () => {
      const ids = JSON.parse(await k.ok(['inspect', '--format', '{{json .ExecIDs}}', 'probing'])) as string[] | null;
      execId = ids?.[0] ?? '';
      return execId !== '';
    });
    // The probe runs for 3 s: still running when asked.
    const res = await k.b.request('GET', `/exec/${execId}/json`);
    assert.equal(res.status, 200, res.body);
    const info = JSON.parse(res.body) as {
      Running: boolean;
      ProcessConfig: { entrypoint: string; arguments: string[]; tty: boolean; privileged: boolean };
      OpenStdin: boolean;
    };
    assert.equal(info.Running, true);
    assert.deepEqual(info.ProcessConfig, { entrypoint: '/bin/sh', arguments: ['-c', 'sleep 3'], tty: false, privileged: false });
    assert.equal(info.OpenStdin, false);
    await k.until(
      'the probe record dropped after its exit',
      async () => (await k.b.request('GET', `/exec/${execId}/json`)).status === 404,
      10_000,
    );
    await k.ok(['rm', '-f', 'probing']);
  });

  test('a probe flooding its output: the Log keeps 4096 bytes and "..."', async () => {
    await k.ok([
      'run',
      '-d',
      '--name',
      'flood',
      '--health-cmd',
      'yes | head -c 3000000',
      '--health-interval',
      '500ms',
      'busybox',
      'sleep',
      '300',
    ]);
    const h = await waitStatus('flood', 'healthy');
    assert.equal(h.Log[0].Output, `${'y\n'.repeat(2048)}...`);
    await k.ok(['rm', '-f', 'flood']);
  });

  test('--no-healthcheck and no healthcheck: no State.Health, health=none', async () => {
    await k.ok(['run', '-d', '--name', 'plain', 'busybox', 'sleep', '300']);
    assert.equal(await health('plain'), null);
    assert.match(await psStatus('plain'), /^Up [^()]*$/);
    assert.ok((await psHealth('none')).includes('plain'));
    const bad = await k.fails(['ps', '--filter', 'health=bogus']);
    assert.match(
      bad.stderr,
      /invalid filter 'health=bogus': invalid value for health \(bogus\): must be one of none, starting, healthy, unhealthy/,
    );
    await k.ok(['rm', '-f', 'plain']);
  });

  test("an image's HEALTHCHECK runs; --health-interval alone keeps the image's test; --no-healthcheck disables it", async () => {
    const archive = await buildBusyboxArchive({
      tags: ['hc-image:latest'],
      config: { Healthcheck: { Test: ['CMD-SHELL', 'echo from-image'], Interval: 300_000_000, Retries: 2 } },
    });
    await k.ok(['load'], archive);
    await k.ok(['run', '-d', '--name', 'img', 'hc-image', 'sleep', '300']);
    const h = await waitStatus('img', 'healthy');
    assert.equal(h.Log[0].Output, 'from-image\n');
    const cfg = JSON.parse(await k.ok(['inspect', '--format', '{{json .Config.Healthcheck}}', 'img'])) as unknown;
    assert.deepEqual(cfg, { Test: ['CMD-SHELL', 'echo from-image'], Interval: 300_000_000, Retries: 2 });

    await k.ok(['run', '-d', '--name', 'img2', '--health-interval', '400ms', 'hc-image', 'sleep', '300']);
    const cfg2 = JSON.parse(await k.ok(['inspect', '--format', '{{json .Config.Healthcheck}}', 'img2'])) as unknown;
    assert.deepEqual(cfg2, { Test: ['CMD-SHELL', 'echo from-image'], Interval: 400_000_000, Retries: 2 });
    await waitStatus('img2', 'healthy');

    await k.ok(['run', '-d', '--name', 'img3', '--no-healthcheck', 'hc-image', 'sleep', '300']);
    assert.equal(await health('img3'), null);
    await k.ok(['rm', '-f', 'img', 'img2', 'img3']);
  });
});

describe('the API', () => {
  test("dockerode's create with zero-valued Healthcheck fields is accepted; they read as unset", async () => {
    const c = await docker.createContainer({
      Image: 'busybox',
      Cmd: ['sleep', '300'],
      Healthcheck: { Test: ['CMD', 'true'], Interval: 0, Timeout: 0, Retries: 0, StartPeriod: 0 },
    });
    const info = await c.inspect();
    assert.deepEqual(info.Config.Healthcheck, { Test: ['CMD', 'true'] });
    assert.equal(info.State.Health, undefined);
    await c.start();
    const started = await c.inspect();
    assert.equal(started.State.Health?.Status, 'starting');
    await c.remove({ force: true });
  });

  test('negative or too-small values: 400 with dockerd text', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ Test: ['CMD', 'true'], Timeout: -1 }, 'Timeout in Healthcheck cannot be less than 1ms'],
      [{ Test: ['CMD', 'true'], Interval: 1000 }, 'Interval in Healthcheck cannot be less than 1ms'],
      [{ Test: ['CMD', 'true'], Retries: -2 }, 'Retries in Healthcheck cannot be negative'],
      [{ Test: ['CMD', 'true'], StartPeriod: 5 }, 'StartPeriod in Healthcheck cannot be less than 1ms'],
      [{ Test: ['CMD', 'true'], StartInterval: 5 }, 'StartInterval in Healthcheck cannot be less than 1ms'],
    ];
    for (const [hc, message] of cases) {
      await assert.rejects(
        docker.createContainer({ Image: 'busybox', Healthcheck: hc }),
        (err: { statusCode?: number; json?: { message?: string } }) => {
          assert.equal(err.statusCode, 400, message);
          assert.equal(err.json?.message, message);
          return true;
        },
      );
    }
  });

  test('durations beyond 2^53 are kept exact; StartInterval is ignored before API 1.44', async () => {
    const body =
      '{"Image":"busybox","Cmd":["true"],"Healthcheck":{"Test":["CMD","true"],"Interval":9223372036854775807,"StartInterval":2000000000}}';
    const created = await k.b.request('POST', '/v1.53/containers/create', { body, headers: { 'Content-Type': 'application/json' } });
    assert.equal(created.status, 201, created.body);
    const id = (JSON.parse(created.body) as { Id: string }).Id;
    const raw = (await k.b.request('GET', `/containers/${id}/json`)).body;
    assert.match(raw, /"Healthcheck":\{"Test":\["CMD","true"\],"Interval":9223372036854775807,"StartInterval":2000000000\}/);
    // Committed into an image config, written and read back exactly.
    await k.ok(['commit', id, 'hc-big:latest']);
    const imageRaw = (await k.b.request('GET', '/images/hc-big/json')).body;
    assert.match(imageRaw, /"Healthcheck":\{"Test":\["CMD","true"\],"Interval":9223372036854775807,"StartInterval":2000000000\}/);
    await k.ok(['rmi', 'hc-big']);

    const old = await k.b.request('POST', '/v1.43/containers/create', { body, headers: { 'Content-Type': 'application/json' } });
    assert.equal(old.status, 201, old.body);
    const oldId = (JSON.parse(old.body) as { Id: string }).Id;
    const oldRaw = (await k.b.request('GET', `/containers/${oldId}/json`)).body;
    assert.match(oldRaw, /"Healthcheck":\{"Test":\["CMD","true"\],"Interval":9223372036854775807\}/);
    for (const x of [id, oldId]) assert.equal((await k.b.request('DELETE', `/containers/${x}?force=1`)).status, 204);
  });

  test('the list summary carries Health from API 1.52; the health filter', async () => {
    await k.ok([
      'run',
      '-d',
      '--name',
      'listed',
      '--health-cmd',
      'exit 3',
      '--health-interval',
      '300ms',
      '--health-retries',
      '1',
      'busybox',
      'sleep',
      '300',
    ]);
    const h = await waitStatus('listed', 'unhealthy');
    assert.equal(h.Log[0].ExitCode, 3);
    type Summary = { Names: string[]; Status: string; Health?: { Status: string; FailingStreak: number } };
    const list = JSON.parse(
      (await k.b.request('GET', '/v1.53/containers/json?filters=%7B%22health%22%3A%5B%22unhealthy%22%5D%7D')).body,
    ) as Summary[];
    assert.deepEqual(
      list.map((c) => c.Names[0]),
      ['/listed'],
    );
    assert.equal(list[0].Health?.Status, 'unhealthy');
    assert.ok((list[0].Health?.FailingStreak ?? 0) >= 1);
    const older = JSON.parse((await k.b.request('GET', '/v1.51/containers/json')).body) as Summary[];
    assert.ok(older.length > 0);
    for (const c of older) assert.equal(c.Health, undefined);
    const bad = await k.b.request('GET', '/containers/json?filters=%7B%22health%22%3A%5B%22sick%22%5D%7D');
    assert.equal(bad.status, 400);
    assert.deepEqual(JSON.parse(bad.body), {
      message: "invalid filter 'health=sick': invalid value for health (sick): must be one of none, starting, healthy, unhealthy",
    });
    await k.ok(['rm', '-f', 'listed']);
  });
});

describe('docker-compose 1.29', () => {
  test('depends_on condition service_healthy: up -d succeeds once db is healthy', async () => {
    const dir = fs.mkdtempSync(path.join(k.b.dir, 'compose-'));
    fs.writeFileSync(
      path.join(dir, 'docker-compose.yml'),
      `version: '2.4'
services:
  db:
    image: busybox
    command: sh -c 'sleep 2; touch /tmp/ready; exec sleep 300'
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 500ms
      timeout: 2s
      retries: 60
  web:
    image: busybox
    command: sleep 300
    depends_on:
      db:
        condition: service_healthy
`,
    );
    const env = { ...process.env, DOCKER_HOST: `unix://${k.b.socket}` };
    const compose = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      run('docker-compose', ['-p', 'hcproj', '-f', path.join(dir, 'docker-compose.yml'), ...args], { env, timeoutMs: 90_000 });
    try {
      const up = await compose(['up', '-d']);
      assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}\n${k.b.log().slice(-3000)}`);
      assert.equal((await health('hcproj_db_1'))?.Status, 'healthy');
      assert.equal((await k.ok(['inspect', '--format', '{{.State.Status}}', 'hcproj_web_1'])).trim(), 'running');
    } finally {
      const down = await compose(['down', '-t', '0']);
      assert.equal(down.code, 0, down.stderr);
    }
  });
});

describe('daemon restart', () => {
  test('the health state is kept in the state record; a container started again at daemon start is monitored again', async () => {
    const k1 = await Kit.start();
    let k2: Kit | undefined;
    try {
      // (A 1 s stop timeout: the daemon's stop of `sleep`, which ignores SIGTERM, waits for it.)
      const flags = ['--stop-timeout', '1', '--health-cmd', 'echo alive', '--health-interval', '300ms', 'busybox', 'sleep', '300'];
      await k1.ok(['run', '-d', '--name', 'stay', ...flags]);
      await k1.ok(['run', '-d', '--name', 'again', '--restart', 'always', ...flags]);
      await waitStatus('again', 'healthy', k1);
      const before = await waitStatus('stay', 'healthy', k1);
      await k1.b.stop();
      const restartedAt = Date.now();
      k2 = new Kit(await startBerth({ dir: k1.b.dir }));
      // Stopped with the daemon: unhealthy, as dockerd leaves a stopped monitor, its Log kept.
      const stay = await health('stay', k2);
      assert.equal(stay?.Status, 'unhealthy');
      assert.deepEqual(stay?.Log[0], before.Log[0]);
      // Started again at daemon start: probed again.
      const again = await waitStatus('again', 'healthy', k2);
      assert.ok(
        again.Log.some((e) => Date.parse(e.Start) >= restartedAt - 1000),
        JSON.stringify(again.Log),
      );
    } finally {
      await (k2 ?? k1).destroy();
    }
  });
});
