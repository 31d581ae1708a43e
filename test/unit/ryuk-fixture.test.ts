// The stand-in Ryuk (test/fixtures/ryuk/ryuk.c) against an in-process fake Docker API on a unix
// socket: compiled once, run as a plain host process (no container), so its protocol and prune
// logic are checked without a daemon: filter lines and ACKs, the filters it sends (the Go client's
// map form, URL-decoded), chunked replies, 404 counted as gone, failed removals retried, changes
// after the prune check began waited out, ryuk's own containers spared, the timeouts and signals
// that end it, bounded lines, and configuration errors.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compileRyuk } from '../fixtures/ryuk-image';

interface Resource {
  id: string;
  /** Unix seconds. */
  created: number;
  labels: Record<string, string>;
}

interface FakeState {
  containers: Resource[];
  networks: Resource[];
  volumes: Resource[];
  images: Resource[];
  /** Status to answer the next DELETE of an id with (consumed), instead of removing it. */
  failDelete: Map<string, number>;
  requests: { method: string; url: string }[];
}

type Kind = 'containers' | 'networks' | 'volumes' | 'images';

let dir = '';
let binary = '';

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ryuk-unit-'));
  binary = path.join(dir, 'ryuk');
  fs.writeFileSync(binary, compileRyuk(), { mode: 0o755 });
});

after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const fresh = (): FakeState => ({ containers: [], networks: [], volumes: [], images: [], failDelete: new Map(), requests: [] });

/** Does `r` match a Docker filters value (map form {"label":{"k=v":true}} or list form)? */
function matches(r: Resource, filters: Record<string, Record<string, boolean> | string[]>): boolean {
  const wanted = filters.label ?? {};
  const labels = Array.isArray(wanted) ? wanted : Object.keys(wanted);
  return labels.every((l) => {
    const eq = l.indexOf('=');
    return eq < 0 ? l in r.labels : r.labels[l.slice(0, eq)] === l.slice(eq + 1);
  });
}

/** A fake Docker API: lists answered chunked (Node's default without a length), as dockerd may. */
async function fakeDocker(state: FakeState, socket: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://docker');
    state.requests.push({ method: req.method ?? '', url: req.url ?? '' });
    req.resume();
    if (url.pathname === '/_ping') {
      res.writeHead(200, { 'Api-Version': '1.53', 'Content-Type': 'text/plain' });
      res.end('OK');
      return;
    }
    const m = /^\/v1\.51\/(containers|networks|volumes|images)(?:\/json)?(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: `page not found: ${url.pathname}` }));
      return;
    }
    const kind = m[1] as Kind;
    const id = m[2] === undefined || m[2] === 'json' ? undefined : decodeURIComponent(m[2]);
    if (req.method === 'GET' && id === undefined) {
      const filters = JSON.parse(url.searchParams.get('filters') ?? '{}') as Record<string, Record<string, boolean>>;
      const found = state[kind].filter((r) => matches(r, filters));
      const iso = (s: number): string => new Date(s * 1000).toISOString();
      const body =
        kind === 'volumes'
          ? { Volumes: found.map((r) => ({ Name: r.id, CreatedAt: iso(r.created), Labels: r.labels, Driver: 'local' })), Warnings: null }
          : found.map((r) => ({
              Id: r.id,
              Created: kind === 'networks' ? iso(r.created) : r.created,
              Labels: r.labels,
              Names: [`/${r.id}`],
              Ports: [],
            }));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      // Two writes: a chunked reply with more than one chunk.
      const text = JSON.stringify(body);
      res.write(text.slice(0, Math.floor(text.length / 2)));
      res.end(text.slice(Math.floor(text.length / 2)));
      return;
    }
    if (req.method === 'DELETE' && id !== undefined) {
      const fail = state.failDelete.get(id);
      if (fail !== undefined) {
        state.failDelete.delete(id);
        res.writeHead(fail, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: `cannot remove ${id}` }));
        return;
      }
      const i = state[kind].findIndex((r) => r.id === id);
      if (i < 0) {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: `No such ${kind}: ${id}` }));
        return;
      }
      state[kind].splice(i, 1);
      res.writeHead(kind === 'images' ? 200 : 204, { 'Content-Type': 'application/json' });
      res.end(kind === 'images' ? JSON.stringify([{ Deleted: id }]) : undefined);
      return;
    }
    res.writeHead(405);
    res.end();
  });
  server.on('clientError', (_err, s) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, resolve);
  });
  return server;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a !== null && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

interface Reaper {
  child: ChildProcess;
  port: number;
  out(): string;
  /** Resolves with the exit code (kills the reaper when it has not exited within `ms`). */
  exited(ms?: number): Promise<number | null>;
  /** Resolves once stdout has a line matching `re`. */
  logged(re: RegExp, ms?: number): Promise<void>;
}

async function startReaper(socket: string, env: Record<string, string>): Promise<Reaper> {
  const port = await freePort();
  const child = spawn(binary, [], {
    env: { DOCKER_HOST: `unix://${socket}`, RYUK_PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    port,
    out: () => out,
    exited: async (ms = 20_000) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
    logged: async (re, ms = 10_000) => {
      const deadline = Date.now() + ms;
      while (!re.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) assert.fail(`no ${String(re)} in:\n${out}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

/** Connects, sends `text`, collects what comes back until `acks` ACKs or the peer closes. */
function talk(port: number, text: string, acks: number, keepOpen = false): Promise<{ got: string; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => socket.destroy(new Error(`timed out; got ${JSON.stringify(got)}`)), 10_000);
    const done = (): void => {
      clearTimeout(timer);
      if (!keepOpen) socket.end();
      resolve({ got, socket });
    };
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The reaper closing on an overlong line may reset the connection: that is a close too.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return done();
      clearTimeout(timer);
      reject(err);
    });
    socket.on('connect', () => socket.write(text));
    socket.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.split('ACK\n').length - 1 >= acks) done();
    });
    socket.on('close', done);
  });
}

const old = (): number => Math.floor(Date.now() / 1000) - 3600;
const fast = { RYUK_RECONNECTION_TIMEOUT: '100ms', RYUK_CHANGES_RETRY_INTERVAL: '50ms', RYUK_VERBOSE: 'true' };

describe('the stand-in ryuk against a fake Docker API', () => {
  test('filters from client lines, ACKs, and a prune of exactly the labelled resources', async () => {
    const state = fresh();
    const t = old();
    state.containers.push(
      { id: 'c-match', created: t, labels: { a: '1', b: '2' } },
      { id: 'c-only-a', created: t, labels: { a: '1' } },
      { id: 'c-other', created: t, labels: { a: '2' } },
      { id: 'c-ryuk', created: t, labels: { a: '1', 'org.testcontainers.ryuk': 'true' } },
      { id: 'c-flaky', created: t, labels: { a: '1' } },
    );
    state.networks.push({ id: 'n1', created: t, labels: { a: '1' } }, { id: 'n2', created: t, labels: {} });
    state.volumes.push({ id: 'v1', created: t, labels: { a: '1' } });
    state.images.push({ id: 'sha256:aa', created: t, labels: { a: '1' } });
    state.failDelete.set('c-flaky', 500);
    const sock = path.join(dir, 'api1.sock');
    const server = await fakeDocker(state, sock);
    try {
      const r = await startReaper(sock, fast);
      await r.logged(/level=INFO msg=Started address=\[::\]:\d+/);
      // Two filter sets ("%3D" and "+" decoded as Go's ParseQuery does), one duplicate, one empty
      // line (no ACK) and one refused line (a ';'), still acknowledged.
      const { got } = await talk(r.port, 'label=b%3D2&label=a=1\r\nlabel=a=1\n\nlabel=a=1\nlabel=x;y\n', 4);
      assert.equal(got, 'ACK\nACK\nACK\nACK\n');
      assert.equal(await r.exited(), 0, r.out());

      assert.deepEqual(state.containers.map((c) => c.id).sort(), ['c-other', 'c-ryuk']);
      assert.deepEqual(
        state.networks.map((n) => n.id),
        ['n2'],
      );
      assert.deepEqual(state.volumes, []);
      assert.deepEqual(state.images, []);
      assert.match(r.out(), /msg=removed containers=3 networks=1 volumes=1 images=1/);
      assert.match(r.out(), /msg="empty filter received"/);
      assert.match(r.out(), /msg="add filter" .*error=/);

      const lists = state.requests.filter((q) => q.method === 'GET' && q.url.includes('/containers/json'));
      const sent = lists.map((q) => new URL(q.url, 'http://d').searchParams.get('filters'));
      // Two sets, in the Go client's map form, each listed once with all=1.
      assert.deepEqual(sent.sort(), ['{"label":{"a=1":true,"b=2":true}}', '{"label":{"a=1":true}}']);
      assert.ok(lists.every((q) => new URL(q.url, 'http://d').searchParams.get('all') === '1'));
      const deletes = state.requests.filter((q) => q.method === 'DELETE').map((q) => q.url);
      assert.ok(deletes.includes('/v1.51/containers/c-match?v=1&force=1'), deletes.join('\n'));
      assert.equal(deletes.filter((u) => u.startsWith('/v1.51/containers/c-flaky?')).length, 2, 'a failed removal is retried');
      assert.ok(deletes.includes('/v1.51/volumes/v1?force=1'));
      assert.ok(deletes.includes('/v1.51/images/sha256%3Aaa'));
      assert.ok(!deletes.some((u) => u.includes('c-ryuk')), 'the reaper spares reaper containers');
      // Containers go before networks, networks before volumes, volumes before images.
      const order = deletes.map((u) => u.split('/')[2]);
      assert.deepEqual([...new Set(order)], ['containers', 'networks', 'volumes', 'images']);
    } finally {
      server.close();
    }
  });

  test('a resource created after the prune check began is waited for, then removed', async () => {
    const state = fresh();
    // "Created" in the future: newer than (now + RYUK_RETRY_OFFSET) at every check until changed.
    const young: Resource = { id: 'young', created: Math.floor(Date.now() / 1000) + 3600, labels: { s: 'x' } };
    state.containers.push(young);
    const sock = path.join(dir, 'api2.sock');
    const server = await fakeDocker(state, sock);
    try {
      const r = await startReaper(sock, fast);
      await r.logged(/msg=Started/);
      await talk(r.port, 'label=s=x\n', 1);
      await r.logged(/msg="change detected, waiting again"/);
      assert.equal(r.child.exitCode, null, 'still waiting while the change is recent');
      young.created = old();
      assert.equal(await r.exited(), 0, r.out());
      assert.deepEqual(state.containers, []);
      assert.ok(state.requests.filter((q) => q.url.includes('/containers/json')).length >= 2);
    } finally {
      server.close();
    }
  });

  test('a client still connected holds the prune; its leaving starts the reconnection timeout', async () => {
    const state = fresh();
    state.containers.push({ id: 'c', created: old(), labels: { s: 'y' } });
    const sock = path.join(dir, 'api3.sock');
    const server = await fakeDocker(state, sock);
    try {
      const r = await startReaper(sock, fast);
      await r.logged(/msg=Started/);
      const first = await talk(r.port, 'label=s=y\n', 1, true);
      // A second client comes and goes; the first one keeps the reaper waiting.
      await talk(r.port, 'label=s=y\n', 1);
      await r.logged(/msg="client disconnected" address=\S+ clients=1/);
      assert.equal(r.child.exitCode, null);
      assert.ok(!state.requests.some((q) => q.url.includes('/containers/json')), 'no prune while a client is connected');
      first.socket.end();
      assert.equal(await r.exited(), 0, r.out());
      assert.deepEqual(state.containers, []);
    } finally {
      server.close();
    }
  });

  test('no client within RYUK_CONNECTION_TIMEOUT, or SIGTERM without clients: nothing to prune, exit 0', async () => {
    const state = fresh();
    state.containers.push({ id: 'keep', created: old(), labels: {} });
    const sock = path.join(dir, 'api4.sock');
    const server = await fakeDocker(state, sock);
    try {
      const idle = await startReaper(sock, { RYUK_CONNECTION_TIMEOUT: '100ms' });
      assert.equal(await idle.exited(), 0, idle.out());
      assert.match(idle.out(), /msg="prune check" clients=0/);
      assert.match(idle.out(), /msg=removed containers=0 networks=0 volumes=0 images=0/);

      const signalled = await startReaper(sock, {});
      await signalled.logged(/msg=Started/);
      signalled.child.kill('SIGTERM');
      assert.equal(await signalled.exited(), 0, signalled.out());
      assert.match(signalled.out(), /msg="signal received" clients=0/);
      assert.deepEqual(
        state.containers.map((c) => c.id),
        ['keep'],
      );
    } finally {
      server.close();
    }
  });

  test('a line longer than its buffer ends that connection; the reaper serves others', async () => {
    const state = fresh();
    const sock = path.join(dir, 'api5.sock');
    const server = await fakeDocker(state, sock);
    try {
      const r = await startReaper(sock, { RYUK_RECONNECTION_TIMEOUT: '2s' });
      await r.logged(/msg=Started/);
      const long = await talk(r.port, `label=${'x'.repeat(10_000)}`, 1, true);
      assert.equal(long.got, '', 'no ACK for an overlong line; the connection is closed');
      // The reaper logs after closing the connection: the line may come after the client saw the close.
      await r.logged(/msg=scan .*token too long/);
      assert.equal((await talk(r.port, 'label=ok=1\n', 1)).got, 'ACK\n');
      r.child.kill('SIGTERM');
      assert.equal(await r.exited(), 0, r.out());
    } finally {
      server.close();
    }
  });

  test('bad configuration and an unreachable Docker API end it with status 1', async () => {
    const state = fresh();
    const sock = path.join(dir, 'api6.sock');
    const server = await fakeDocker(state, sock);
    try {
      const bad = await startReaper(sock, { RYUK_RECONNECTION_TIMEOUT: '10 parsecs' });
      assert.equal(await bad.exited(), 1);
      assert.match(bad.out(), /level=ERROR msg=run .*RYUK_RECONNECTION_TIMEOUT/);
      const noApi = await startReaper(path.join(dir, 'missing.sock'), {});
      assert.equal(await noApi.exited(), 1);
      assert.match(noApi.out(), /level=ERROR msg=run error="new reaper: ping"/);
    } finally {
      server.close();
    }
  });
});
