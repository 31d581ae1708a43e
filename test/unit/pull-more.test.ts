// The rest of pull, on in-process fakes: the tag listing (Link pagination, caps, loops, other
// hosts), a Bearer challenge's error as DENIED / UNAUTHORIZED, the platform check of a
// single-platform image, and foreign layers taken as ordinary ones.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { distributableLayerType, platformMismatch } from '../../daemon/images/pull';
import { pullError } from '../../daemon/images/pull-errors';
import { pushError } from '../../daemon/images/push';
import { parseNormalizedNamed } from '../../daemon/images/reference';
import { closeTransports, MAX_TAGS, nextLink, openRepository } from '../../registry/client';
import { MediaType } from '../../registry/manifest';
import { RegistryError, type Endpoint } from '../../registry/types';
import { json, startFake } from './registry-fake';

after(() => closeTransports());

const UA = 'berth-test/1';
const ep = (url: string): Endpoint => ({ url, mirror: false });

test('tags: Link pages are followed on the same endpoint, n is sent, null tags is empty', async () => {
  const fake = await startFake((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v2/') return json(res, 200, {});
    if (url.pathname === '/v2/lib/app/tags/list') {
      const last = url.searchParams.get('last');
      if (last === null)
        return json(res, 200, { name: 'lib/app', tags: ['a', 'b'] }, { link: '</v2/lib/app/tags/list?n=2&last=b>; rel="next"' });
      if (last === 'b')
        return json(res, 200, { name: 'lib/app', tags: ['c'] }, { link: `<${fakeUrl}/v2/lib/app/tags/list?n=2&last=c>; rel="next"` });
      return json(res, 200, { name: 'lib/app', tags: null });
    }
    json(res, 404, {});
  });
  const fakeUrl = fake.url;
  try {
    const tags = await openRepository(ep(fake.url), 'lib/app', { actions: ['pull'], userAgent: UA }).listTags();
    assert.deepEqual(tags, ['a', 'b', 'c']);
    const lists = fake.requests.filter((r) => r.url.startsWith('/v2/lib/app/tags/list'));
    assert.equal(lists.length, 3);
    assert.match(lists[0].url, /\?n=\d+$/);
  } finally {
    await fake.close();
  }
});

test('tags: a looping Link, a Link to another host, a bad tag, too many tags and an unknown repository fail', async () => {
  const fake = await startFake((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v2/') return json(res, 200, {});
    if (url.pathname === '/v2/loop/tags/list') return json(res, 200, { tags: ['a'] }, { link: '</v2/loop/tags/list?n=1000>; rel="next"' });
    if (url.pathname === '/v2/away/tags/list')
      return json(res, 200, { tags: ['a'] }, { link: '<http://198.51.100.1/v2/away/tags/list?last=a>; rel="next"' });
    if (url.pathname === '/v2/bad/tags/list') return json(res, 200, { tags: ['ok', 'not a tag'] });
    if (url.pathname === '/v2/notarray/tags/list') return json(res, 200, { tags: 'a' });
    if (url.pathname === '/v2/many/tags/list') return json(res, 200, { tags: Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`) });
    json(res, 404, { errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] });
  });
  const list = (name: string): Promise<string[]> => openRepository(ep(fake.url), name, { actions: ['pull'], userAgent: UA }).listTags();
  const code = (c: string) => (e: unknown) => e instanceof RegistryError && e.code === c;
  try {
    await assert.rejects(list('loop'), code('TAGS_INVALID'));
    await assert.rejects(list('away'), code('TAGS_INVALID'));
    await assert.rejects(list('bad'), code('TAGS_INVALID'));
    await assert.rejects(list('notarray'), code('TAGS_INVALID'));
    await assert.rejects(list('many'), code('TOO_LARGE'));
    await assert.rejects(list('nothing'), (e: unknown) => e instanceof RegistryError && e.status === 404 && e.code === 'NAME_UNKNOWN');
    // The away host was never asked.
    assert.equal(fake.requests.filter((r) => r.url.startsWith('/v2/away/')).length, 1);
  } finally {
    await fake.close();
  }
});

test('nextLink reads rel="next" among several links, and nothing without one', () => {
  const base = 'http://h:5000/v2/a/tags/list?n=2';
  assert.equal(
    nextLink('<http://h:5000/x>; rel="prev", </v2/a/tags/list?last=b&n=2>; rel="next"', base, 'http://h:5000'),
    'http://h:5000/v2/a/tags/list?last=b&n=2',
  );
  assert.equal(nextLink('</v2/a/tags/list?last=b>; rel=next', base, 'http://h:5000'), 'http://h:5000/v2/a/tags/list?last=b');
  assert.equal(nextLink('</v2/a/tags/list?last=b>; rel="prev"', base, 'http://h:5000'), undefined);
  assert.equal(nextLink(undefined, base, 'http://h:5000'), undefined);
});

test("a Bearer challenge's error: insufficient_scope is DENIED, invalid_token UNAUTHORIZED, and pull and push read as dockerd's", async () => {
  const fake = await startFake((req, res) => {
    const url = req.url ?? '';
    if (url === '/v2/') return json(res, 200, {});
    const auth = 'Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:x:pull"';
    if (url === '/v2/scope/manifests/latest') {
      return json(
        res,
        401,
        { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
        { 'www-authenticate': `${auth},error="insufficient_scope"` },
      );
    }
    if (url === '/v2/described/manifests/latest') {
      return json(res, 401, {}, { 'www-authenticate': `${auth},error="insufficient_scope",error_description="no pull for you"` });
    }
    if (url === '/v2/expired/manifests/latest') return json(res, 401, {}, { 'www-authenticate': `${auth},error="invalid_token"` });
    json(res, 404, {});
  });
  // A registry token sent as it is, so no token server is asked.
  const open = (name: string) =>
    openRepository(ep(fake.url), name, { actions: ['pull'], userAgent: UA, credentials: { registryToken: 't' } });
  try {
    const denied = await open('scope')
      .getManifest('latest')
      .then(
        () => assert.fail('not refused'),
        (e: unknown) => e,
      );
    assert.ok(denied instanceof RegistryError);
    assert.equal(denied.code, 'DENIED');
    assert.equal(denied.message, 'requested access to the resource is denied');
    // With credentials too, denied is "pull access denied" (not the anonymous guess).
    assert.equal(
      pullError(denied, parseNormalizedNamed('127.0.0.1:5000/private/app:latest'), false).message,
      "pull access denied for 127.0.0.1:5000/private/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
    );
    assert.equal(pushError(denied).message, 'denied: requested access to the resource is denied');
    await assert.rejects(
      open('described').getManifest('latest'),
      (e: unknown) => e instanceof RegistryError && e.code === 'DENIED' && e.message === 'no pull for you',
    );
    await assert.rejects(
      open('expired').getManifest('latest'),
      (e: unknown) => e instanceof RegistryError && e.code === 'UNAUTHORIZED' && e.status === 401,
    );
  } finally {
    await fake.close();
  }
});

test("platform check of a single-platform image: moby 28's warning text, fuzzy matches pass", () => {
  const amd = { os: 'linux', architecture: 'amd64' };
  assert.equal(platformMismatch(amd, 'r/app:1', { os: 'linux', architecture: 'amd64' }), undefined);
  assert.equal(
    platformMismatch(amd, '127.0.0.1:5000/app:1', { os: 'linux', architecture: 'arm64' }),
    'image with reference 127.0.0.1:5000/app:1 was found but its platform (linux/amd64) does not match the specified platform (linux/arm64)',
  );
  assert.equal(
    platformMismatch({ os: 'linux', architecture: 'arm64' }, 'app:1', { os: 'linux', architecture: 'arm' }),
    'image with reference app:1 was found but its platform (linux/arm64) does not match the specified platform (linux/arm/v7)',
  );
  // An armv6 image runs on armv7; an arm64 config without variant is arm64/v8; a 386 image on amd64.
  assert.equal(
    platformMismatch({ os: 'linux', architecture: 'arm', variant: 'v6' }, 'a', { os: 'linux', architecture: 'arm', variant: 'v7' }),
    undefined,
  );
  assert.equal(
    platformMismatch({ os: 'linux', architecture: 'arm64' }, 'a', { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    undefined,
  );
  assert.equal(platformMismatch({ os: 'linux', architecture: '386' }, 'a', { os: 'linux', architecture: 'amd64' }), undefined);
  assert.match(platformMismatch({}, 'a', { os: 'linux', architecture: 'amd64' }) ?? '', /its platform \(unknown\)/);
});

test('foreign layers are stored as the ordinary layer type of the same compression', () => {
  assert.equal(distributableLayerType(MediaType.dockerForeignLayer), MediaType.ociLayerGzip);
  assert.equal(distributableLayerType(MediaType.ociLayerNondistributableGzip), MediaType.ociLayerGzip);
  assert.equal(distributableLayerType(MediaType.ociLayerNondistributableZstd), MediaType.ociLayerZstd);
  assert.equal(distributableLayerType(MediaType.ociLayerNondistributable), MediaType.ociLayer);
  assert.equal(distributableLayerType(MediaType.dockerLayer), MediaType.dockerLayer);
});
