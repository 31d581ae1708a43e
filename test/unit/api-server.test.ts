import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { encodeGreedyParams, createApiServer, lookupGroupId, systemdListenFds } from '../../api/server';
import type { SystemBackend } from '../../api/routes/system';
import { shapes } from '../../api/version-shapes';
import { ROUTES } from '../../api/routes/table';
import { NOT_A_SWARM_MANAGER } from '../../api/routes/swarm';
import type { SystemInfo, SystemVersion } from '../../daemon/system/types';
import { engineInfo } from '../../daemon/system/engine';

// The backend is a test double: these tests are about the HTTP layer's shaping of its answers.
const info = {
  ID: 'id-1',
  Runtimes: { runc: { path: 'runc', status: { 'org.opencontainers.runtime-spec.features': '{}' } } },
  ContainerdCommit: { ID: 'c1' },
  RuncCommit: { ID: 'r1' },
  InitCommit: { ID: 'i1' },
  RegistryConfig: { InsecureRegistryCIDRs: [], IndexConfigs: {}, Mirrors: [] },
  DiscoveredDevices: [],
  Containerd: { Address: '/run/containerd/containerd.sock', Namespaces: { Containers: 'berth', Plugins: 'berth.plugins' } },
  Warnings: null,
} as unknown as SystemInfo;
const version = { Version: '0.1.0', ApiVersion: '1.53' } as unknown as SystemVersion;
const backend: SystemBackend = { info: async () => info, version: async () => version };

function server(backends = { system: backend }) {
  return createApiServer({ logger: pino({ level: 'silent' }), backends });
}

test('ping: body, headers, HEAD without body, with and without prefix', async () => {
  const app = server();
  for (const url of ['/_ping', '/v1.41/_ping', '/v1.53/_ping']) {
    const res = await app.inject({ url });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, 'OK');
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(res.headers['api-version'], '1.53');
    assert.equal(res.headers['docker-experimental'], 'false');
    assert.equal(res.headers['ostype'], 'linux');
    assert.equal(res.headers['server'], `Docker/${engineInfo().version} (linux)`);
    assert.equal(res.headers['cache-control'], 'no-cache, no-store, must-revalidate');
    assert.equal(res.headers['pragma'], 'no-cache');
    assert.equal(res.headers['builder-version'], '1');
    assert.equal(res.headers['swarm'], 'inactive');
  }
  const head = await app.inject({ method: 'HEAD', url: '/_ping' });
  assert.equal(head.statusCode, 200);
  assert.equal(head.body, '');
  assert.equal(head.headers['content-length'], '0');
  assert.equal(head.headers['swarm'], 'inactive');
  await app.close();
});

test('ping answers without any backend; other system routes are then 501', async () => {
  const app = server({} as { system: SystemBackend });
  assert.equal((await app.inject({ url: '/_ping' })).statusCode, 200);
  const v = await app.inject({ url: '/version' });
  assert.equal(v.statusCode, 501);
  assert.deepEqual(v.json(), { message: 'SystemVersion is not implemented' });
  await app.close();
});

test('experimental flag shows in the header', async () => {
  const app = createApiServer({ logger: pino({ level: 'silent' }), backends: {}, experimental: true });
  assert.equal((await app.inject({ url: '/_ping' })).headers['docker-experimental'], 'true');
  await app.close();
});

test('version bounds: JSON errors both ways, exact dockerd wording', async () => {
  const app = server();
  const tooNew = await app.inject({ url: '/v1.99/version' });
  assert.equal(tooNew.statusCode, 400);
  assert.equal(tooNew.headers['content-type'], 'application/json');
  assert.deepEqual(tooNew.json(), { message: 'client version 1.99 is too new. Maximum supported API version is 1.53' });
  assert.equal(tooNew.headers['api-version'], '1.53');
  assert.equal(tooNew.headers['docker-experimental'], undefined); // dockerd's version middleware fails first
  const tooOld = await app.inject({ url: '/v1.12/version' });
  assert.equal(tooOld.statusCode, 400);
  assert.equal(tooOld.headers['content-type'], 'application/json');
  assert.deepEqual(tooOld.json(), {
    message: 'client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version',
  });
  const ancient = await app.inject({ url: '/v0.1/info' });
  assert.equal(ancient.statusCode, 400);
  assert.deepEqual(ancient.json(), {
    message: 'client version 0.1 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version',
  });
  const ok = await app.inject({ url: '/v1.24/version' });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.headers['content-type'], 'application/json');
  assert.equal(ok.body, JSON.stringify(version) + '\n');
  await app.close();
});

test('unknown paths and methods: 404 page not found, without API headers', async () => {
  const app = server();
  for (const [method, url] of [
    ['GET', '/nope'],
    ['GET', '/v1.41/nope'],
    ['GET', '/v1.12/nope'],
    ['GET', '/version/'],
    ['POST', '/version'],
    ['HEAD', '/version'],
    ['GET', '/vx/version'],
  ] as const) {
    const res = await app.inject({ method, url });
    assert.equal(res.statusCode, 404, `${method} ${url}`);
    if (method !== 'HEAD') assert.deepEqual(res.json(), { message: 'page not found' });
    assert.equal(res.headers['api-version'], undefined);
  }
  await app.close();
});

test('every spec operation is registered: unimplemented ones name their operationId', async () => {
  const app = server();
  const res = await app.inject({ url: '/containers/json' });
  assert.equal(res.statusCode, 501);
  assert.deepEqual(res.json(), { message: 'ContainerList is not implemented' });
  // Every route of the table resolves to a handler (no 404) at the newest version.
  for (const r of ROUTES) {
    const url = r.path.replace(/\{[^}]+\}/g, 'x');
    const out = await app.inject({ method: r.method, url, query: { stdout: '1' } });
    // A 404 from a handler (plugin "x" not found) still proves the route is registered.
    if (out.statusCode === 404 && r.method !== 'HEAD') assert.notDeepEqual(out.json(), { message: 'page not found' }, `${r.method} ${url}`);
    else assert.notEqual(out.statusCode, 404, `${r.method} ${url}`);
    // System, the swarm areas and plugins answer without a backend (an inactive swarm, no plugins).
    if (r.area !== 'system' && !['swarm', 'node', 'service', 'task', 'secret', 'config', 'plugin'].includes(r.area)) {
      assert.equal(out.statusCode, 501, `${r.method} ${url}`);
      if (r.method !== 'HEAD') assert.deepEqual(out.json(), { message: `${r.operationId} is not implemented` });
    }
  }
  await app.close();
});

test('swarm areas answer as an inactive swarm', async () => {
  const app = server();
  const cases: Array<[string, string, number, string]> = [
    ['GET', '/swarm', 503, NOT_A_SWARM_MANAGER],
    ['GET', '/nodes', 503, NOT_A_SWARM_MANAGER],
    ['GET', '/services/abc', 503, NOT_A_SWARM_MANAGER],
    ['GET', '/tasks', 503, NOT_A_SWARM_MANAGER],
    ['GET', '/secrets', 503, NOT_A_SWARM_MANAGER],
    ['POST', '/configs/create', 503, NOT_A_SWARM_MANAGER],
    ['GET', '/swarm/unlockkey', 503, NOT_A_SWARM_MANAGER],
    ['POST', '/swarm/leave', 503, 'This node is not part of a swarm'],
    ['GET', '/services/abc/logs', 400, "must specify at least one of 'stdout' or 'stderr'"],
    ['GET', '/services/abc/logs?stdout=1', 503, NOT_A_SWARM_MANAGER],
    ['GET', '/v1.24/secrets', 400, 'GET /secrets requires minimum API version 1.25'],
  ];
  for (const [method, url, status, message] of cases) {
    const res = await app.inject({ method: method as 'GET', url });
    assert.equal(res.statusCode, status, `${method} ${url}`);
    assert.deepEqual(res.json(), { message }, `${method} ${url}`);
  }
  await app.close();
});

test('minimum API versions per route', async () => {
  const app = server();
  const res = await app.inject({ method: 'POST', url: '/v1.24/containers/prune' });
  assert.equal(res.statusCode, 400);
  assert.deepEqual(res.json(), { message: 'POST /containers/prune requires minimum API version 1.25' });
  assert.equal((await app.inject({ method: 'POST', url: '/v1.25/containers/prune' })).statusCode, 501);
  await app.close();
});

test('malformed JSON body is a 400 with Go wording, before the handler', async () => {
  const app = server();
  const res = await app.inject({
    method: 'POST',
    url: '/containers/create',
    headers: { 'content-type': 'application/json' },
    payload: '{"Image": x}',
  });
  assert.equal(res.statusCode, 400);
  assert.deepEqual(res.json(), { message: "invalid JSON: invalid character 'x' looking for beginning of value" });
  // An empty JSON body is no body.
  const empty = await app.inject({
    method: 'POST',
    url: '/containers/create',
    headers: { 'content-type': 'application/json' },
    payload: '',
  });
  assert.equal(empty.statusCode, 501);
  await app.close();
});

test('greedy parameters keep their slashes', async () => {
  assert.equal(encodeGreedyParams('GET', '/images/library/ubuntu/json'), '/images/library%2Fubuntu/json');
  assert.equal(encodeGreedyParams('GET', '/images/ubuntu/json?x=/y'), '/images/ubuntu/json?x=/y');
  assert.equal(encodeGreedyParams('DELETE', '/images/reg:5000/a/b:1'), '/images/reg:5000%2Fa%2Fb:1');
  assert.equal(encodeGreedyParams('GET', '/images/json'), '/images/json');
  assert.equal(encodeGreedyParams('GET', '/images/a/b/history?q=1'), '/images/a%2Fb/history?q=1');
  assert.equal(encodeGreedyParams('POST', '/containers/create'), '/containers/create');
  // swarm IDs never contain slashes: left alone, so /services/a/b stays a 404
  assert.equal(encodeGreedyParams('GET', '/services/a/b'), '/services/a/b');
  const app = server();
  const res = await app.inject({ url: '/v1.41/images/registry.local:5000/team/app/json' });
  assert.equal(res.statusCode, 501);
  assert.deepEqual(res.json(), { message: 'ImageInspect is not implemented' });
  assert.equal((await app.inject({ url: '/services/a/b' })).statusCode, 404);
  await app.close();
});

test('OPTIONS on any path is an empty 200', async () => {
  const app = server();
  const res = await app.inject({ method: 'OPTIONS', url: '/v1.41/anything/here' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.body, '');
  await app.close();
});

test('/info is shaped for the client API version', async () => {
  const now = shapes.info(info, '1.53') as unknown as Record<string, unknown>;
  assert.deepEqual(now.Runtimes, info.Runtimes);
  assert.ok(now.Containerd);
  assert.equal(now.BridgeNfIptables, undefined);
  assert.deepEqual(now.ContainerdCommit, { ID: 'c1' });
  const old = shapes.info(info, '1.41') as unknown as Record<string, unknown>;
  assert.deepEqual(old.Runtimes, { runc: { path: 'runc' } });
  assert.equal(old.Containerd, undefined);
  assert.equal(old.DiscoveredDevices, undefined);
  assert.equal(old.BridgeNfIptables, false);
  assert.deepEqual(old.ContainerdCommit, { ID: 'c1', Expected: 'c1' });
  assert.equal((old.RegistryConfig as Record<string, unknown>).AllowNondistributableArtifactsCIDRs, null);
  const app = server();
  const res = await app.inject({ url: '/v1.43/info' });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json().Runtimes, { runc: { path: 'runc' } });
  await app.close();
});

test('lookupGroupId reads names and numbers', () => {
  assert.equal(lookupGroupId('root'), 0);
  assert.equal(lookupGroupId('0'), 0);
  assert.equal(lookupGroupId('4242'), 4242);
  assert.equal(lookupGroupId('no-such-group-berth'), undefined);
});

test('systemdListenFds honours LISTEN_PID and clears the variables', () => {
  const env: NodeJS.ProcessEnv = { LISTEN_PID: '123', LISTEN_FDS: '2', LISTEN_FDNAMES: 'a:b' };
  assert.deepEqual(systemdListenFds(env, 123), [3, 4]);
  assert.deepEqual(env, {});
  assert.deepEqual(systemdListenFds({ LISTEN_PID: '999', LISTEN_FDS: '2' }, 123), []);
  assert.deepEqual(systemdListenFds({}, 123), []);
});
