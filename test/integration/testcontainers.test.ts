// testcontainers for Node (the real SDK, as test rigs use it) pointed at a real berthd: a
// container with a published port and the listening-port wait strategy serving HTTP to the test,
// a user network where one container reaches another by its alias through the embedded DNS, and
// environment, files copied in before start and exec's output and exit codes. Everything the SDK
// creates is removed through the SDK (stop(), network stop()), and the test checks that with the
// docker CLI. Test traffic goes only to the containers created here.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { GenericContainer, Network, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { destroyBerth, startBerth, type Berth } from './harness';

let b: Berth | undefined;
// Whatever the SDK started, so that `after` can remove it when a case fails half-way.
const containers: StartedTestContainer[] = [];
const networks: StartedNetwork[] = [];

const IMAGE = 'busybox:latest';
// When the fixture was loaded (seconds, for `docker events --since`).
let loadedAt = 0;

async function docker(args: string[], input?: Buffer): Promise<string> {
  assert.ok(b);
  const r = await b.docker(args, { input, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed (${r.code}): ${r.stderr}\nberthd log:\n${b.log().slice(-3000)}`);
  return r.stdout;
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

function httpGet(host: string, port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: urlPath, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}${urlPath} timed out`)));
    req.on('error', reject);
  });
}

/** The regular files of a tar stream: name -> content. */
async function untar(stream: NodeJS.ReadableStream): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const extract = tar.extract();
  extract.on('entry', (header, body, next) => {
    const chunks: Buffer[] = [];
    body.on('data', (d: unknown) => chunks.push(d as Buffer));
    body.on('end', () => {
      if (header.type === 'file') files.set(header.name, Buffer.concat(chunks).toString());
      next();
    });
  });
  await pipeline(stream, extract);
  return files;
}

/** Starts `c` and remembers it for cleanup. */
async function started(c: GenericContainer): Promise<StartedTestContainer> {
  const s = await c.start();
  containers.push(s);
  return s;
}

/** Stops (and so removes) `c` through the SDK and forgets it. */
async function stopped(c: StartedTestContainer): Promise<void> {
  await c.stop();
  containers.splice(containers.indexOf(c), 1);
}

before(async () => {
  b = await startBerth();
  await docker(['load'], await buildBusyboxArchive({ tags: [IMAGE] }));
  loadedAt = Math.floor(Date.now() / 1000);
  // testcontainers reads its configuration when it first connects (the first start()), so the
  // environment is set before that. DOCKER_HOST points it at this berthd. Ryuk, its reaper
  // container, is off: this file checks that what the SDK creates goes through the SDK itself
  // (stop()), and needs no registry (testcontainers-reaper.test.ts runs the SDK with its reaper,
  // pulled through a registry mirror). busybox:latest is loaded above and the default pull policy
  // pulls only a missing image, so nothing is pulled.
  process.env.DOCKER_HOST = `unix://${b.socket}`;
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
});

after(async () => {
  if (!b) return;
  try {
    for (const c of containers.splice(0)) await c.stop().catch(() => undefined);
    for (const n of networks.splice(0)) await n.stop().catch(() => undefined);
    // Nothing the SDK made is left behind (a failed stop above would show here).
    assert.deepEqual(lines(await docker(['ps', '-aq'])), [], 'containers left behind');
    const nets = lines(await docker(['network', 'ls', '--format', '{{.Name}}']));
    assert.deepEqual(
      nets.filter((n) => !['bridge', 'host', 'none'].includes(n)),
      [],
      'networks left behind',
    );
  } finally {
    await destroyBerth(b);
  }
});

describe('testcontainers against berthd', () => {
  test('a published port, the listening-port wait and stop() removing the container', async () => {
    // Wait.forListeningPorts() connects to the mapped port from here and checks the port inside
    // the container with exec (`cat /proc/net/tcp* | awk | grep`, `nc -vz`, bash's /dev/tcp);
    // busybox has sh, cat, awk, grep and nc, so the check inside works (bash's fails with 126/127).
    const c = await started(
      new GenericContainer(IMAGE)
        .withExposedPorts(80)
        .withCommand(['sh', '-c', 'mkdir -p /www && echo "hello from berth" > /www/index.html && exec httpd -f -p 80 -h /www'])
        .withWaitStrategy(Wait.forListeningPorts())
        .withStartupTimeout(30_000),
    );
    const port = c.getMappedPort(80);
    assert.ok(port > 0 && port < 65536, `mapped port ${port}`);
    const id = c.getId();
    assert.deepEqual(lines(await docker(['ps', '-q', '--no-trunc'])), [id]);
    // The published port as docker reports it is the one the SDK maps.
    assert.match(await docker(['port', id, '80/tcp']), new RegExp(`:${port}\\b`));

    const res = await httpGet(c.getHost(), port, '/index.html');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'hello from berth\n');
    const missing = await httpGet(c.getHost(), port, '/nope');
    assert.equal(missing.status, 404);

    await stopped(c);
    assert.deepEqual(lines(await docker(['ps', '-aq', '--no-trunc'])), [], 'stop() removes the container');
    // The SDK found the loaded image and asked for no pull.
    const imageEvents = await docker([
      'events',
      '--since',
      String(loadedAt),
      '--until',
      String(Math.floor(Date.now() / 1000) + 1),
      '--filter',
      'type=image',
      '--format',
      '{{.Action}} {{.Actor.ID}}',
    ]);
    assert.ok(!lines(imageEvents).some((l) => l.startsWith('pull')), `image events:\n${imageEvents}`);
    // ... and the container events show the SDK's lifecycle on berthd.
    const actions = lines(
      await docker([
        'events',
        '--since',
        String(loadedAt),
        '--until',
        String(Math.floor(Date.now() / 1000) + 1),
        '--filter',
        `container=${id}`,
        '--format',
        '{{.Action}}',
      ]),
    );
    for (const a of ['create', 'start', 'stop', 'destroy']) assert.ok(actions.includes(a), `${a} missing from ${actions.join(', ')}`);
  });

  test('a user network: a container reaches another by its alias', async () => {
    const network = await new Network().start();
    networks.push(network);
    const netName = network.getName();
    assert.ok(lines(await docker(['network', 'ls', '--format', '{{.Name}}'])).includes(netName));

    const server = await started(
      new GenericContainer(IMAGE)
        .withNetwork(network)
        .withNetworkAliases('srv')
        .withCommand(['sh', '-c', 'mkdir -p /www && echo "answer from srv" > /www/index.html && exec httpd -f -p 80 -h /www'])
        // No published port here, so the wait looks inside: busybox httpd listens on [::]:80 when
        // the kernel has IPv6, hence both /proc/net/tcp and tcp6.
        .withWaitStrategy(Wait.forSuccessfulCommand('cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -qi ":0050 "'))
        .withStartupTimeout(30_000),
    );
    const clientName = `tc-client-${process.pid}`;
    const client = await started(new GenericContainer(IMAGE).withNetwork(network).withName(clientName).withCommand(['sleep', '3600']));
    assert.equal(client.getName(), `/${clientName}`);
    assert.ok(server.getNetworkNames().includes(netName), `server networks: ${server.getNetworkNames().join(', ')}`);
    const serverIp = server.getIpAddress(netName);
    assert.match(serverIp, /^\d+\.\d+\.\d+\.\d+$/);

    const lookup = await client.exec(['nslookup', 'srv']);
    assert.equal(lookup.exitCode, 0, `nslookup srv: ${lookup.output}`);
    assert.ok(lookup.stdout.includes(serverIp), `nslookup srv gave:\n${lookup.output}\nexpected ${serverIp}`);

    const get = await client.exec(['wget', '-qO-', 'http://srv/']);
    assert.equal(get.exitCode, 0, `wget http://srv/: ${get.output}`);
    assert.equal(get.stdout, 'answer from srv\n');

    // And the other way round, by container name.
    const back = await server.exec(['nslookup', clientName]);
    assert.equal(back.exitCode, 0, `nslookup ${clientName}: ${back.output}`);
    assert.ok(back.stdout.includes(client.getIpAddress(netName)), back.output);

    await stopped(client);
    await stopped(server);
    await network.stop();
    networks.splice(networks.indexOf(network), 1);
    assert.ok(!lines(await docker(['network', 'ls', '--format', '{{.Name}}'])).includes(netName), 'network stop() removes it');
    assert.deepEqual(lines(await docker(['ps', '-aq'])), []);
  });

  test('environment, files copied in before start, and exec output and exit codes', async () => {
    const c = await started(
      new GenericContainer(IMAGE)
        .withEnvironment({ GREETING: 'hi there', EMPTY: '' })
        .withCopyContentToContainer([
          { content: 'copied content\n', target: '/data/note.txt' },
          { content: Buffer.from('#!/bin/sh\necho "script got $1"\nexit 7\n'), target: '/usr/local/bin/tool.sh', mode: 0o755 },
        ])
        .withWorkingDir('/data')
        // The log wait follows the log stream (logs?follow=1&since=<fractional seconds>): the
        // line comes a moment after start.
        .withCommand(['sh', '-c', 'echo starting; sleep 1; echo "ready in $(pwd)"; exec sleep 3600'])
        .withWaitStrategy(Wait.forLogMessage(/^ready in \/data$/))
        .withStartupTimeout(30_000),
    );

    const env = await c.exec(['sh', '-c', 'echo "$GREETING"; echo "empty=[$EMPTY]"']);
    assert.deepEqual(env, { output: 'hi there\nempty=[]\n', stdout: 'hi there\nempty=[]\n', stderr: '', exitCode: 0 });

    const cat = await c.exec(['cat', 'note.txt']);
    assert.equal(cat.exitCode, 0, cat.output);
    assert.equal(cat.stdout, 'copied content\n');

    const mode = await c.exec(['stat', '-c', '%a', '/usr/local/bin/tool.sh']);
    assert.equal(mode.stdout.trim(), '755');
    const tool = await c.exec(['tool.sh', 'arg']);
    assert.equal(tool.exitCode, 7);
    assert.equal(tool.stdout, 'script got arg\n');

    // stdout and stderr come apart; the exit code is the command's.
    const both = await c.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(both.exitCode, 3);
    assert.equal(both.stdout, 'out\n');
    assert.equal(both.stderr, 'err\n');

    // exec's own options: environment, working directory and user.
    const opts = await c.exec(['sh', '-c', 'echo "$X $(pwd) $(id -u)"'], { env: { X: 'y' }, workingDir: '/tmp', user: 'nobody' });
    assert.equal(opts.exitCode, 0, opts.output);
    assert.equal(opts.stdout, 'y /tmp 65534\n');

    // Copying in and out of the running container (PUT and GET /containers/{id}/archive).
    await c.copyContentToContainer([{ content: 'later\n', target: '/data/later.txt' }]);
    assert.equal((await c.exec(['cat', '/data/later.txt'])).stdout, 'later\n');
    const files = await untar(await c.copyArchiveFromContainer('/data'));
    assert.equal(files.get('data/note.txt'), 'copied content\n');
    assert.equal(files.get('data/later.txt'), 'later\n');

    // A command that does not exist: the SDK sees a failure exit code, as with dockerd.
    const none = await c.exec(['/no/such/binary']);
    assert.ok(none.exitCode === 126 || none.exitCode === 127, `exit code ${none.exitCode}: ${none.output}`);

    await stopped(c);
    assert.deepEqual(lines(await docker(['ps', '-aq'])), []);
  });
});
