import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { closeTransports } from '../../registry/client';
import { login } from '../../registry/login';
import { search } from '../../registry/search';
import { RegistryError } from '../../registry/types';
import { json, startFake } from './registry-fake';

after(() => closeTransports());

const UA = 'berth-test/1';
const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

test('login against a Basic registry: good credentials pass, bad ones are 401', async () => {
  const reg = await startFake((req, res) => {
    if (req.headers.authorization === basic('alice', 'pw')) return json(res, 200, {});
    json(
      res,
      401,
      { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
      { 'www-authenticate': 'Basic realm="Registry Realm"' },
    );
  });
  try {
    assert.deepEqual(await login({ url: reg.url, mirror: false }, { username: 'alice', password: 'pw' }, UA), {});
    await assert.rejects(login({ url: reg.url, mirror: false }, { username: 'alice', password: 'bad' }, UA), (e: unknown) => {
      assert.ok(e instanceof RegistryError);
      assert.equal(e.status, 401);
      assert.equal(e.code, 'UNAUTHORIZED');
      assert.match(e.message, /^login attempt to http:\/\/127\.0\.0\.1:\d+\/v2\/ failed with status: 401 Unauthorized$/);
      return true;
    });
  } finally {
    await reg.close();
  }
});

test('login against a token server: offline token asked, refresh token returned as identity token', async () => {
  const auth = await startFake((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && req.headers.authorization === basic('bob', 'pw')) {
      assert.equal(u.searchParams.get('offline_token'), 'true');
      assert.equal(u.searchParams.get('client_id'), 'docker');
      assert.equal(u.searchParams.get('service'), 'svc');
      assert.deepEqual(u.searchParams.getAll('scope'), []);
      return json(res, 200, { token: 'tokB', refresh_token: 'refresh-1' });
    }
    json(res, 401, { details: 'incorrect username or password' });
  });
  const reg = await startFake((req, res) => {
    if (req.headers.authorization === 'Bearer tokB') return json(res, 200, {});
    json(res, 401, {}, { 'www-authenticate': `Bearer realm="${auth.url}/token",service="svc"` });
  });
  try {
    assert.deepEqual(await login({ url: reg.url, mirror: false }, { username: 'bob', password: 'pw' }, UA), { identityToken: 'refresh-1' });
    await assert.rejects(
      login({ url: reg.url, mirror: false }, { username: 'bob', password: 'no' }, UA),
      (e: unknown) => e instanceof RegistryError && e.status === 401 && e.message === 'incorrect username or password',
    );
  } finally {
    await reg.close();
    await auth.close();
  }
});

test('login to a registry without auth succeeds; an unreachable one is a transport error', async () => {
  const reg = await startFake((_req, res) => json(res, 200, {}));
  const port = reg.port;
  try {
    assert.deepEqual(await login({ url: reg.url, mirror: false }, { username: 'x', password: 'y' }, UA), {});
  } finally {
    await reg.close();
  }
  await assert.rejects(
    login({ url: `http://127.0.0.1:${port}`, mirror: false }, {}, UA),
    (e: unknown) => e instanceof RegistryError && e.transport,
  );
});

test('search: query and limit sent, results validated', async () => {
  const idx = await startFake((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname !== '/v1/search') return json(res, 404, {});
    json(res, 200, {
      num_results: 3,
      query: u.searchParams.get('q'),
      results: [
        { name: 'busybox', description: 'Busybox base image.', star_count: 3000, is_official: true, is_automated: false },
        { name: 'me/busy', star_count: 'many' },
        { description: 'no name' },
      ],
    });
  });
  try {
    const r = await search({ url: idx.url, mirror: false }, 'busy box', 5, undefined, UA);
    const q = new URL(idx.requests[0].url, 'http://x').searchParams;
    assert.equal(q.get('q'), 'busy box');
    assert.equal(q.get('n'), '5');
    assert.equal(r.num_results, 3);
    assert.deepEqual(r.results, [
      { name: 'busybox', description: 'Busybox base image.', star_count: 3000, is_official: true, is_automated: false },
      { name: 'me/busy', description: '', star_count: 0, is_official: false, is_automated: false },
    ]);
  } finally {
    await idx.close();
  }
});

test('search with credentials answers a Basic challenge; a 404 index is an error', async () => {
  const idx = await startFake((req, res) => {
    if (req.url?.startsWith('/v1/search') !== true) return json(res, 404, {});
    if (req.headers.authorization !== basic('u', 'p')) return json(res, 401, {}, { 'www-authenticate': 'Basic realm="x"' });
    json(res, 200, { results: [] });
  });
  try {
    const r = await search({ url: idx.url, mirror: false }, 'x', 0, { username: 'u', password: 'p' }, UA);
    assert.deepEqual(r, { num_results: 0, query: 'x', results: [] });
    await assert.rejects(search({ url: `${idx.url}/nope`, mirror: false }, 'x', 0, undefined, UA), RegistryError);
  } finally {
    await idx.close();
  }
});
