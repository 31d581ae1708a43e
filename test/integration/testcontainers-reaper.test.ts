// testcontainers with its reaper (Ryuk) enabled, on a berthd that has no images and pulls docker.io
// names through a registry mirror (issue 11). docker.io is unreachable here, so the kit's local
// registry plays the mirror: it holds library/busybox:latest and testcontainers/ryuk:0.14.0 (the
// stand-in reaper compiled from test/fixtures/ryuk/ryuk.c, which speaks Ryuk 0.14's protocol).
//
// A child node process uses testcontainers as a test suite would: it starts the reaper (pulled),
// starts a busybox container (pulled), and exits without stopping it. Once its reaper connection
// is gone for RYUK_RECONNECTION_TIMEOUT the reaper must remove the container and exit, and
// testcontainers' AutoRemove then removes the reaper. A second case drives the reaper directly:
// one ACK per filter line, label filters across containers, networks and volumes, its own
// container and unlabelled resources spared.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RYUK_IMAGE, RYUK_LABEL, ryukSeedImage } from '../fixtures/ryuk-image';
import { destroyBerth, run, startBerth, type Berth } from './harness';
import { seedBusybox, seedImage, startRegistry, type Registry } from './registry-kit';

const CHILD = path.join(__dirname, '..', 'fixtures', 'testcontainers-reaper-child.js');

let b: Berth | undefined;
let reg: Registry | undefined;
let ryukConfigDigest = '';
let busyboxConfigDigest = '';

async function docker(args: string[]): Promise<string> {
  assert.ok(b);
  const r = await b.docker(args, { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed (${r.code}): ${r.stderr}\nberthd log:\n${b.log().slice(-3000)}`);
  return r.stdout;
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 250 ms until it returns true; fails naming `what` after `ms`. */
async function eventually(ms: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms\nberthd log:\n${b?.log().slice(-3000) ?? ''}`);
    await sleep(250);
  }
}

interface DockerEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
}

async function eventsSince(since: number): Promise<DockerEvent[]> {
  const out = await docker([
    'events',
    '--since',
    String(since),
    '--until',
    String(Math.ceil(Date.now() / 1000) + 1),
    '--format',
    '{{json .}}',
  ]);
  return lines(out).map((l) => JSON.parse(l) as DockerEvent);
}

before(async () => {
  reg = await startRegistry();
  ryukConfigDigest = (await seedImage(reg, 'testcontainers/ryuk', '0.14.0', await ryukSeedImage())).configDigest;
  busyboxConfigDigest = (await seedBusybox(reg, 'library/busybox', 'latest')).configDigest;
  b = await startBerth({ args: ['--registry-mirror', reg.url] });
});

after(async () => {
  try {
    if (b) await destroyBerth(b);
  } finally {
    if (reg) await reg.stop();
  }
});

describe('testcontainers with its reaper, through a registry mirror', () => {
  test('the reaper and busybox are pulled through the mirror; the reaper removes what the suite left and exits', async () => {
    assert.ok(b);
    assert.deepEqual(lines(await docker(['images', '-q'])), [], 'berthd starts without images');
    const since = Math.floor(Date.now() / 1000) - 1;

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DOCKER_HOST: `unix://${b.socket}`,
      DOCKER_CONFIG: path.join(b.dir, 'docker-config'),
      TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT: '2s',
      TESTCONTAINERS_RYUK_VERBOSE: 'true',
    };
    delete env.TESTCONTAINERS_RYUK_DISABLED;
    const child = await run(process.execPath, [CHILD, 'busybox:latest'], { env, timeoutMs: 180_000 });
    assert.equal(child.code, 0, `child failed: ${child.stderr}\nberthd log:\n${b.log().slice(-3000)}`);
    const { id } = JSON.parse(lines(child.stdout).at(-1) ?? '{}') as { id?: string };
    assert.match(id ?? '', /^[0-9a-f]{64}$/);

    // Both images came from the mirror (docker.io is unreachable) and are the seeded ones.
    assert.ok(reg);
    for (const repo of ['testcontainers/ryuk', 'library/busybox'])
      assert.match(reg.logs(), new RegExp(`/v2/${repo}/manifests/`), `${repo} asked of the mirror`);
    assert.equal((await docker(['image', 'inspect', '-f', '{{.Id}}', RYUK_IMAGE])).trim(), ryukConfigDigest);
    assert.equal((await docker(['image', 'inspect', '-f', '{{.Id}}', 'busybox:latest'])).trim(), busyboxConfigDigest);

    // The child's container and the reaper go: the container removed by the reaper, the reaper by
    // its AutoRemove once it exits.
    await eventually(
      60_000,
      'the reaper removing the container and itself',
      async () => lines(await docker(['ps', '-aq', '--no-trunc'])).length === 0,
    );

    const events = await eventsSince(since);
    const reaperDie = events.find((e) => e.Type === 'container' && e.Action === 'die' && e.Actor.Attributes[RYUK_LABEL] === 'true');
    assert.ok(reaperDie, `no die event of the reaper in ${JSON.stringify(events.map((e) => `${e.Type} ${e.Action}`))}`);
    assert.equal(reaperDie.Actor.Attributes.exitCode, '0', 'the reaper exited by itself, successfully');
    assert.equal(reaperDie.Actor.Attributes.image, RYUK_IMAGE);
    const sessionId = reaperDie.Actor.Attributes['org.testcontainers.session-id'];
    const destroyed = events.find((e) => e.Type === 'container' && e.Action === 'destroy' && e.Actor.ID === id);
    assert.ok(destroyed, 'the child container was removed');
    assert.equal(destroyed.Actor.Attributes['org.testcontainers.session-id'], sessionId, 'the container is of the reaper session');
    // It was removed (killed, then destroyed) before the reaper died.
    assert.ok(events.indexOf(destroyed) < events.indexOf(reaperDie), 'the container went before the reaper exited');
    // Images stay (no image carries the session label).
    assert.equal(lines(await docker(['images', '-q'])).length, 2);
  });

  test('the reaper directly: an ACK per filter line, label filters over containers, networks and volumes, its own container spared', async () => {
    assert.ok(b);
    const sid = randomBytes(6).toString('hex');
    const doomed = (await docker(['run', '-d', '--label', `sid=${sid}`, 'busybox', 'sleep', '3600'])).trim();
    const spared = (await docker(['run', '-d', '--label', 'sid=other', 'busybox', 'sleep', '3600'])).trim();
    await docker(['volume', 'create', '--label', `sid=${sid}`, `vol-${sid}`]);
    await docker(['network', 'create', '--label', `sid=${sid}`, `net-${sid}`]);
    // The reaper carries the session label itself, as testcontainers' does; its image label spares it.
    const reaper = (
      await docker([
        'run',
        '-d',
        '--label',
        `sid=${sid}`,
        '-e',
        'RYUK_RECONNECTION_TIMEOUT=1s',
        '-e',
        'RYUK_VERBOSE=true',
        '-v',
        `${b.socket}:/var/run/docker.sock`,
        '-p',
        '127.0.0.1::8080',
        RYUK_IMAGE,
      ])
    ).trim();
    try {
      await eventually(20_000, 'the reaper logging Started', async () => /msg=Started/.test(await docker(['logs', reaper])));
      const port = Number(/:(\d+)\s*$/.exec((await docker(['port', reaper, '8080/tcp'])).trim())?.[1]);
      assert.ok(port > 0);

      // "label=sid%3D…" is URL-encoded (decoded as ryuk does); the empty line gets no ACK; the bad
      // line (a ';' separator) is refused but still acknowledged.
      const acks = await new Promise<string>((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        let got = '';
        const timer = setTimeout(() => sock.destroy(new Error(`no ACKs (got ${JSON.stringify(got)})`)), 10_000);
        sock.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        sock.on('connect', () => sock.write(`label=sid%3D${sid}\r\n\r\nlabel=a=b;c=d\n`));
        sock.on('data', (d: Buffer) => {
          got += d.toString();
          if (got.length >= 8) {
            clearTimeout(timer);
            sock.end();
            resolve(got);
          }
        });
      });
      assert.equal(acks, 'ACK\nACK\n');

      await eventually(
        30_000,
        'the reaper exiting',
        async () => (await docker(['inspect', '-f', '{{.State.Status}}', reaper])).trim() === 'exited',
      );
      const logs = await docker(['logs', reaper]);
      assert.equal((await docker(['inspect', '-f', '{{.State.ExitCode}}', reaper])).trim(), '0', logs);
      assert.match(logs, /msg=removed containers=1 networks=1 volumes=1 images=0/);
      assert.match(logs, /msg="empty filter received"/);
      const left = lines(await docker(['ps', '-aq', '--no-trunc']));
      assert.ok(!left.includes(doomed), 'the labelled container is removed');
      assert.ok(left.includes(spared), 'another session survives');
      assert.ok(left.includes(reaper), 'the reaper spares itself');
      assert.ok(!lines(await docker(['volume', 'ls', '-q'])).includes(`vol-${sid}`));
      assert.ok(!lines(await docker(['network', 'ls', '--format', '{{.Name}}'])).includes(`net-${sid}`));
    } finally {
      await docker(['rm', '-f', reaper, spared, doomed]).catch(() => undefined);
    }
  });
});
