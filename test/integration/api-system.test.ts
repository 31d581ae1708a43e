// The HTTP layer and the system area end to end: the real fastify server on a unix socket,
// the real SystemService reading this host, driven by the real docker CLI and raw HTTP. Only
// containerd's and runc's versions are stand-ins, as this test runs without the runtime.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { createApiServer, listen, lookupGroupId } from '../../api/server';
import { versionLessThan } from '../../api/version';
import { initBinaryVersion } from '../../daemon/system/component-versions';
import { SystemService } from '../../daemon/system/service';
import type { SystemInfo } from '../../daemon/system/types';
import { DOCKER, httpRequest, run } from './harness';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-api-'));
const sock = path.join(dir, 'api.sock');
const dataRoot = path.join(dir, 'data');
const dockerEnv = { ...process.env, DOCKER_CONFIG: path.join(dir, 'docker-config'), DOCKER_HOST: `unix://${sock}` };
const ID = '0f1e2d3c-4b5a-4697-8877-665544332211';

const system = new SystemService({
  dataRoot,
  id: ID,
  containerdVersion: async () => ({ version: '1.6.20~ds1', revision: '1.6.20~ds1-1+deb12u3' }),
  runcVersion: async () => ({ version: '1.1.5+ds1', commit: '1.1.5+ds1-1+deb12u1' }),
  initVersion: () => initBinaryVersion('docker-init'),
  counts: async () => ({ containers: { running: 0, paused: 0, stopped: 0 }, images: 0 }),
  debug: false,
  cgroupDriver: 'cgroupfs',
  labels: ['berth.test=api-system'],
});
const app = createApiServer({ logger: pino({ level: 'silent' }), backends: { system } });

before(async () => {
  fs.mkdirSync(dockerEnv.DOCKER_CONFIG, { recursive: true });
  await listen(app, [`unix://${sock}`]);
});

after(async () => {
  await app.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function docker(args: string[]) {
  return run(DOCKER, args, { env: dockerEnv, timeoutMs: 30_000 });
}

test('the socket is 0660, group docker when that group exists', () => {
  const st = fs.statSync(sock);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o660);
  const docker = lookupGroupId('docker');
  assert.equal(st.gid, docker ?? process.getgid?.());
});

test('docker version prints the server cleanly', async () => {
  const r = await docker(['version']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /Server: Berth/);
  assert.match(r.stdout, /API version:\s+1\.53 \(minimum version 1\.24\)/);
  assert.match(r.stdout, new RegExp(`Go version:\\s+node${process.versions.node.replace(/\./g, '\\.')}`));
  assert.match(r.stdout, /containerd:\s+Version:\s+1\.6\.20~ds1\s+GitCommit:\s+1\.6\.20~ds1-1\+deb12u3/);
  assert.match(r.stdout, /runc:\s+Version:\s+1\.1\.5\+ds1/);
  const init = await initBinaryVersion('docker-init');
  if (init) assert.match(r.stdout, new RegExp(`docker-init:\\s+Version:\\s+${init.version.replace(/\./g, '\\.')}`));
  const f = await docker(['version', '--format', '{{.Server.Os}}/{{.Server.Arch}} {{.Server.KernelVersion}}']);
  assert.equal(f.code, 0, f.stderr);
  assert.equal(f.stdout.trim(), `linux/${process.arch === 'x64' ? 'amd64' : process.arch} ${os.release()}`);
});

test("docker info prints real host facts; only the daemon's own warnings on stderr", async () => {
  const r = await docker(['info']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Storage Driver: overlayfs\n\s+driver-type: io\.containerd\.snapshotter\.v1/);
  assert.match(r.stdout, new RegExp(`Docker Root Dir: ${dataRoot.replace(/[.]/g, '\\.')}`));
  assert.match(r.stdout, new RegExp(`ID: ${ID}`));
  assert.match(r.stdout, new RegExp(`Name: ${os.hostname()}`));
  assert.match(r.stdout, new RegExp(`CPUs: ${os.availableParallelism()}`));
  assert.match(r.stdout, /Swarm: inactive/);
  assert.match(r.stdout, /Default Runtime: runc/);
  assert.match(r.stdout, /berth\.test=api-system/);

  const json = await docker(['info', '--format', '{{json .}}']);
  assert.equal(json.code, 0, json.stderr);
  const info = JSON.parse(json.stdout) as SystemInfo & { ClientInfo?: unknown };
  assert.equal(info.KernelVersion, os.release());
  assert.equal(info.Architecture, os.machine());
  assert.equal(info.OSType, 'linux');
  assert.equal(info.CgroupVersion, fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1');
  assert.equal(info.IPv4Forwarding, fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1');
  const meminfo = /^MemTotal:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
  assert.equal(info.MemTotal, Number(meminfo?.[1]) * 1024);
  assert.equal(info.ContainerdCommit.ID, '1.6.20~ds1-1+deb12u3');
  assert.deepEqual(Object.keys(info.Runtimes).sort(), ['io.containerd.runc.v2', 'runc']);
  const osRelease = fs.readFileSync('/etc/os-release', 'utf8');
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1];
  if (pretty) assert.ok(info.OperatingSystem.startsWith(pretty), info.OperatingSystem);

  // Everything docker info printed on stderr is one of the daemon's warnings.
  const warnings = info.Warnings ?? [];
  const stderrLines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  for (const line of stderrLines) assert.ok(warnings.includes(line), `unexpected stderr line: ${line}`);
  assert.equal(stderrLines.length, warnings.length);
});

test('raw HTTP: versions, ping headers, 404, 501, 503, malformed JSON', async () => {
  const old = await httpRequest(sock, 'GET', '/v1.12/version');
  assert.equal(old.status, 400);
  assert.deepEqual(JSON.parse(old.body), {
    message: 'client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version',
  });
  const future = await httpRequest(sock, 'GET', '/v9.99/version');
  assert.equal(future.status, 400);
  assert.deepEqual(JSON.parse(future.body), { message: 'client version 9.99 is too new. Maximum supported API version is 1.53' });

  const ping = await httpRequest(sock, 'GET', '/_ping');
  assert.equal(ping.status, 200);
  assert.equal(ping.body, 'OK');
  for (const [k, v] of Object.entries({
    'api-version': '1.53',
    'docker-experimental': 'false',
    ostype: 'linux',
    'cache-control': 'no-cache, no-store, must-revalidate',
    pragma: 'no-cache',
    'builder-version': '1',
    swarm: 'inactive',
  })) {
    assert.equal(ping.headers[k], v, k);
  }
  assert.match(String(ping.headers.server), /^Docker\/\S+ \(linux\)$/);

  const missing = await httpRequest(sock, 'GET', '/v1.41/no/such/thing');
  assert.equal(missing.status, 404);
  assert.deepEqual(JSON.parse(missing.body), { message: 'page not found' });

  const unimplemented = await httpRequest(sock, 'POST', '/v1.53/session');
  assert.equal(unimplemented.status, 501);
  assert.deepEqual(JSON.parse(unimplemented.body), { message: 'Session is not implemented' });

  const swarm = await httpRequest(sock, 'GET', '/swarm');
  assert.equal(swarm.status, 503);
  assert.match(JSON.parse(swarm.body).message, /^This node is not a swarm manager\./);

  const bad = await httpRequest(sock, 'POST', '/v1.53/containers/create', {
    body: '{"Image": "busybox",',
    headers: { 'Content-Type': 'application/json' },
  });
  assert.equal(bad.status, 400);
  assert.deepEqual(JSON.parse(bad.body), { message: 'invalid JSON: unexpected EOF' });

  const info = await httpRequest(sock, 'GET', '/v1.43/info');
  assert.equal(info.status, 200);
  assert.equal(info.headers['content-type'], 'application/json');
  assert.equal(JSON.parse(info.body).BridgeNfIptables, false);
});

// /_ping is answered before fastify (api/ping-fast-path.ts); what the CLI reads from it must not change.
test('ping: HEAD and versioned paths, and the CLI negotiates its API version from it', async () => {
  for (const [method, url] of [
    ['HEAD', '/_ping'],
    ['HEAD', '/v1.53/_ping'],
    ['GET', '/v1.41/_ping'],
  ] as const) {
    const r = await httpRequest(sock, method, url);
    assert.equal(r.status, 200, `${method} ${url}`);
    assert.equal(r.body, method === 'HEAD' ? '' : 'OK');
    assert.equal(r.headers['api-version'], '1.53');
    assert.equal(r.headers['content-length'], method === 'HEAD' ? '0' : '2');
    assert.equal(r.headers.swarm, 'inactive');
    assert.equal(r.headers['builder-version'], '1');
    assert.equal(r.headers['docker-experimental'], 'false');
  }
  const tooNew = await httpRequest(sock, 'HEAD', '/v1.99/_ping');
  assert.equal(tooNew.status, 400);
  // The CLI pings, then speaks the lower of its own newest version and the ping's Api-Version.
  const v = await run(DOCKER, ['version', '--format', '{{.Client.DefaultAPIVersion}} {{.Client.APIVersion}} {{.Server.APIVersion}}'], {
    env: dockerEnv,
  });
  assert.equal(v.code, 0, v.stderr);
  const [cliDefault, negotiated, server] = v.stdout.trim().split(' ');
  assert.equal(server, '1.53');
  assert.equal(negotiated, versionLessThan(cliDefault, '1.53') ? cliDefault : '1.53');
});

test('a live socket is refused; a stale one is replaced', async () => {
  const other = createApiServer({ logger: pino({ level: 'silent' }), backends: {} });
  await assert.rejects(listen(other, [`unix://${sock}`]), /another process is serving on it/);
  await other.close();

  // A socket file whose server is gone (SIGKILLed daemon): bind it without ever serving.
  const stale = path.join(dir, 'stale.sock');
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(stale, resolve));
  const copy = path.join(dir, 'stale-copy.sock');
  fs.linkSync(stale, copy); // keep a name for the socket inode after the server closes
  await new Promise<void>((resolve) => blocker.close(() => resolve()));
  assert.ok(fs.lstatSync(copy).isSocket());
  const revived = createApiServer({ logger: pino({ level: 'silent' }), backends: {} });
  await listen(revived, [`unix://${copy}`]);
  const res = await httpRequest(copy, 'GET', '/_ping');
  assert.equal(res.body, 'OK');
  await revived.close();

  // Not a socket: never deleted.
  const file = path.join(dir, 'not-a-socket');
  fs.writeFileSync(file, 'x');
  const third = createApiServer({ logger: pino({ level: 'silent' }), backends: {} });
  await assert.rejects(listen(third, [`unix://${file}`]), /exists and is not a socket/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'x');
  await third.close();
});

test('fd:// serves a socket passed by systemd-style activation', async (t) => {
  const python = (await run('sh', ['-c', 'command -v python3'])).stdout.trim();
  if (python === '') {
    t.skip('python3 is needed to hand a listening socket over like systemd');
    return;
  }
  const activated = path.join(dir, 'activated.sock');
  const serverJs = path.resolve(__dirname, '..', '..', 'api', 'server.js');
  const child = `
    const { createApiServer, listen } = require(${JSON.stringify(serverJs)});
    const app = createApiServer({ logger: require('pino')({ level: 'silent' }), backends: {} });
    listen(app, [process.argv[1]]).then(() => console.log('ready'), (e) => { console.error(e.message); process.exit(3); });
  `;
  // Like systemd: bind and listen, put the socket at fd 3, set LISTEN_PID to the exec'd PID.
  const activate = `
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(16)
if s.fileno() != 3: os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ['LISTEN_PID'] = str(os.getpid()); os.environ['LISTEN_FDS'] = '1'
os.execvp(sys.argv[2], sys.argv[2:])
`;
  for (const host of ['fd://', 'fd://3']) {
    fs.rmSync(activated, { force: true });
    const proc = spawn(python, ['-c', activate, activated, process.execPath, '-e', child, host], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: path.resolve(__dirname, '..', '..', '..'),
    });
    try {
      const out = await new Promise<string>((resolve, reject) => {
        let text = '';
        proc.stdout.on('data', (d: Buffer) => {
          text += d.toString();
          if (text.includes('ready')) resolve(text);
        });
        proc.stderr.on('data', (d: Buffer) => (text += d.toString()));
        proc.on('exit', (code) => reject(new Error(`activated server exited ${code}: ${text}`)));
      });
      assert.match(out, /ready/);
      const res = await httpRequest(activated, 'GET', '/v1.41/_ping');
      assert.equal(res.status, 200, host);
      assert.equal(res.body, 'OK');
    } finally {
      proc.kill('SIGKILL');
    }
  }
  // Without activation, fd:// is refused with dockerd's message.
  const none = createApiServer({ logger: pino({ level: 'silent' }), backends: {} });
  await assert.rejects(listen(none, ['fd://']), /no sockets found via socket activation/);
  await none.close();
});
