import assert from 'node:assert/strict';
import { after, mock, test } from 'node:test';
import { parseChallenges } from '../../registry/auth';
import { closeTransports, openRepository } from '../../registry/client';
import { RegistryError, type Endpoint } from '../../registry/types';
import { json, registryErrorBody, startFake, type FakeServer } from './registry-fake';

after(() => closeTransports());

const UA = 'berth-test/1';

test('parseChallenges: Bearer with quoted params, escapes and several challenges in one value', () => {
  const ch = parseChallenges([
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
    'Basic realm="a \\"quoted\\" realm", Bearer realm=https://x/y , error=insufficient_scope',
  ]);
  assert.equal(ch.length, 3);
  assert.deepEqual(ch[0], {
    scheme: 'bearer',
    params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
  });
  assert.deepEqual(ch[1], { scheme: 'basic', params: { realm: 'a "quoted" realm' } });
  assert.deepEqual(ch[2], { scheme: 'bearer', params: { realm: 'https://x/y', error: 'insufficient_scope' } });
  assert.deepEqual(parseChallenges(['BASIC']), [{ scheme: 'basic', params: {} }]);
  assert.deepEqual(parseChallenges(['']), []);
});

interface TokenServer {
  registry: FakeServer;
  auth: FakeServer;
  endpoint: Endpoint;
  tokenRequests(): FakeServer['requests'];
}

/** A registry that wants Bearer tokens from a separate token server. */
async function tokenSetup(
  tokenAnswer: (req: { method: string; url: URL; headers: Record<string, string | string[] | undefined>; body: Buffer }) => {
    status: number;
    body: unknown;
  },
): Promise<TokenServer> {
  const auth = await startFake((req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const a = tokenAnswer({ method: req.method ?? '', url, headers: req.headers, body });
    json(res, a.status, a.body);
  });
  const registry = await startFake((req, res) => {
    const authz = req.headers.authorization;
    if (authz === undefined || !authz.startsWith('Bearer tok')) {
      json(res, 401, registryErrorBody('UNAUTHORIZED', 'authentication required'), {
        'www-authenticate': `Bearer realm="${auth.url}/token",service="fake-registry"`,
      });
      return;
    }
    if (req.url === '/v2/library/busybox/blobs/sha256:' + 'a'.repeat(64)) {
      res.writeHead(200, { 'content-length': '3' });
      res.end();
      return;
    }
    json(res, 404, registryErrorBody('BLOB_UNKNOWN', 'blob unknown to registry'));
  });
  return { registry, auth, endpoint: { url: registry.url, mirror: false }, tokenRequests: () => auth.requests };
}

const BLOB = 'sha256:' + 'a'.repeat(64);

test('token flow: anonymous GET with service and scope, token cached across calls', async () => {
  const s = await tokenSetup(() => ({ status: 200, body: { token: 'tok1', expires_in: 300 } }));
  try {
    const repo = openRepository(s.endpoint, 'library/busybox', { actions: ['pull'], userAgent: UA });
    // Parallel first calls share one ping and one token fetch.
    assert.deepEqual(await Promise.all([repo.headBlob(BLOB), repo.headBlob(BLOB), repo.headBlob(BLOB)]), [3, 3, 3]);
    assert.equal(await repo.headBlob(BLOB), 3);
    assert.equal(s.registry.requests.filter((r) => r.url === '/v2/').length, 1);
    const toks = s.tokenRequests();
    assert.equal(toks.length, 1);
    const u = new URL(toks[0].url, 'http://x');
    assert.equal(u.searchParams.get('service'), 'fake-registry');
    assert.deepEqual(u.searchParams.getAll('scope'), ['repository:library/busybox:pull']);
    assert.equal(toks[0].headers.authorization, undefined);
    assert.equal(toks[0].headers['user-agent'], UA);
  } finally {
    await s.registry.close();
    await s.auth.close();
  }
});

test('token flow: basic credentials to the token server, push and mount scopes, access_token accepted', async () => {
  const s = await tokenSetup((r) => {
    if (r.headers.authorization !== `Basic ${Buffer.from('alice:s3cret').toString('base64')}`)
      return { status: 401, body: { details: 'incorrect username or password' } };
    return { status: 200, body: { access_token: 'tok2' } };
  });
  try {
    const repo = openRepository(s.endpoint, 'library/busybox', {
      actions: ['pull', 'push'],
      userAgent: UA,
      credentials: { username: 'alice', password: 's3cret' },
      mountFrom: ['other/repo'],
    });
    assert.equal(await repo.headBlob(BLOB), 3);
    const u = new URL(s.tokenRequests()[0].url, 'http://x');
    assert.deepEqual(u.searchParams.getAll('scope'), ['repository:library/busybox:pull,push', 'repository:other/repo:pull']);

    const bad = openRepository(s.endpoint, 'library/busybox', {
      actions: ['pull'],
      userAgent: UA,
      credentials: { username: 'alice', password: 'nope' },
    });
    await assert.rejects(bad.headBlob(BLOB), (err: unknown) => {
      assert.ok(err instanceof RegistryError);
      assert.equal(err.status, 401);
      assert.equal(err.code, 'UNAUTHORIZED');
      assert.equal(err.message, 'incorrect username or password');
      return true;
    });
  } finally {
    await s.registry.close();
    await s.auth.close();
  }
});

test('token flow: identity token goes as an OAuth2 refresh_token POST', async () => {
  const s = await tokenSetup((r) => {
    if (r.method !== 'POST') return { status: 405, body: {} };
    const form = new URLSearchParams(r.body.toString());
    assert.equal(r.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(form.get('grant_type'), 'refresh_token');
    assert.equal(form.get('refresh_token'), 'idtok');
    assert.equal(form.get('service'), 'fake-registry');
    assert.equal(form.get('client_id'), 'docker');
    assert.equal(form.get('scope'), 'repository:library/busybox:pull');
    return { status: 200, body: { access_token: 'tok3', expires_in: 120 } };
  });
  try {
    const repo = openRepository(s.endpoint, 'library/busybox', {
      actions: ['pull'],
      userAgent: UA,
      credentials: { identityToken: 'idtok' },
    });
    assert.equal(await repo.headBlob(BLOB), 3);
    assert.equal(s.tokenRequests()[0].method, 'POST');
  } finally {
    await s.registry.close();
    await s.auth.close();
  }
});

test('token flow: a token server without GET gets the OAuth2 password grant', async () => {
  const s = await tokenSetup((r) => {
    if (r.method !== 'POST') return { status: 405, body: {} };
    const form = new URLSearchParams(r.body.toString());
    if (form.get('grant_type') !== 'password' || form.get('username') !== 'carol' || form.get('password') !== 'pw')
      return { status: 401, body: {} };
    assert.equal(form.get('scope'), 'repository:library/busybox:pull');
    return { status: 200, body: { access_token: 'tok5' } };
  });
  try {
    const repo = openRepository(s.endpoint, 'library/busybox', {
      actions: ['pull'],
      userAgent: UA,
      credentials: { username: 'carol', password: 'pw' },
    });
    assert.equal(await repo.headBlob(BLOB), 3);
    assert.deepEqual(
      s.tokenRequests().map((r) => r.method),
      ['GET', 'POST'],
    );
  } finally {
    await s.registry.close();
    await s.auth.close();
  }
});

test('token flow: a token is fetched again once expired (default lifetime 60 s)', async () => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const s = await tokenSetup(() => ({ status: 200, body: { token: 'tok4' } }));
  try {
    const repo = openRepository(s.endpoint, 'library/busybox', { actions: ['pull'], userAgent: UA });
    await repo.headBlob(BLOB);
    mock.timers.tick(59_000);
    await repo.headBlob(BLOB);
    assert.equal(s.tokenRequests().length, 1);
    mock.timers.tick(2_000);
    await repo.headBlob(BLOB);
    assert.equal(s.tokenRequests().length, 2);
  } finally {
    mock.timers.reset();
    await s.registry.close();
    await s.auth.close();
  }
});

test('registry token is sent as it is', async () => {
  const s = await tokenSetup(() => ({ status: 500, body: {} }));
  try {
    const repo = openRepository(s.endpoint, 'library/busybox', {
      actions: ['pull'],
      userAgent: UA,
      credentials: { registryToken: 'tokX' },
    });
    assert.equal(await repo.headBlob(BLOB), 3);
    assert.equal(s.tokenRequests().length, 0);
    assert.equal(s.registry.requests.at(-1)?.headers.authorization, 'Bearer tokX');
  } finally {
    await s.registry.close();
    await s.auth.close();
  }
});

test('a 401 after authorizing is UNAUTHORIZED with the registry message', async () => {
  const s = await tokenSetup(() => ({ status: 200, body: { token: 'wrong' } }));
  try {
    const repo = openRepository(s.endpoint, 'library/busybox', { actions: ['pull'], userAgent: UA });
    await assert.rejects(
      repo.headBlob(BLOB),
      (err: unknown) => err instanceof RegistryError && err.status === 401 && err.code === 'UNAUTHORIZED',
    );
  } finally {
    await s.registry.close();
    await s.auth.close();
  }
});

test('Basic challenge: credentials on every request; anonymous gets UNAUTHORIZED', async () => {
  const good = `Basic ${Buffer.from('bob:pw').toString('base64')}`;
  const reg = await startFake((req, res) => {
    if (req.headers.authorization !== good) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="Registry Realm"', 'content-length': '0' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-length': '7' });
    res.end();
  });
  try {
    const ep: Endpoint = { url: reg.url, mirror: false };
    const repo = openRepository(ep, 'x/y', { actions: ['pull'], userAgent: UA, credentials: { username: 'bob', password: 'pw' } });
    assert.equal(await repo.headBlob(BLOB), 7);
    assert.equal(await repo.headBlob(BLOB), 7);
    const after = reg.requests.slice(1);
    assert.ok(after.every((r) => r.headers.authorization === good));
    const anon = openRepository(ep, 'x/y', { actions: ['pull'], userAgent: UA });
    await assert.rejects(
      anon.headBlob(BLOB),
      (err: unknown) => err instanceof RegistryError && err.status === 401 && err.code === 'UNAUTHORIZED',
    );
  } finally {
    await reg.close();
  }
});
