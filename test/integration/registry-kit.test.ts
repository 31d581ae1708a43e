// Tests of the registry kit itself (no berthd): registries start and answer, seeding gives
// manifests that read back byte for byte, the token flow works by hand, TLS needs the kit's CA, the
// faulty proxy cuts and corrupts, the search index answers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  faultyProxy,
  kitRequest,
  MT,
  parseChallenge,
  seedBigImage,
  seedBusybox,
  seedIndex,
  sha256,
  startSearchIndex,
  useRegistry,
  type KitResponse,
} from './registry-kit';

const accept = [MT.dockerManifest, MT.dockerList, MT.ociManifest, MT.ociIndex].join(', ');

describe('plain registry', () => {
  const reg = useRegistry();

  test('answers /v2/ without auth and serves a seeded docker schema 2 image', async () => {
    const r = reg();
    assert.match(r.host, /^127\.0\.0\.1:\d+$/);
    assert.equal((await kitRequest(`${r.url}/v2/`)).status, 200);
    const m = await seedBusybox(r, 'library/busybox', 'latest');
    const got = await kitRequest(`${r.url}/v2/library/busybox/manifests/latest`, { headers: { Accept: accept } });
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-type'], MT.dockerManifest);
    assert.equal(got.headers['docker-content-digest'], m.digest);
    assert.deepEqual(got.body, m.body);
    const layer = await kitRequest(`${r.url}/v2/library/busybox/blobs/${m.layerDigests[0] ?? ''}`);
    assert.equal(sha256(layer.body), m.layerDigests[0]);
    const config = JSON.parse((await kitRequest(`${r.url}/v2/library/busybox/blobs/${m.configDigest}`)).body.toString()) as { os: string };
    assert.equal(config.os, 'linux');
  });

  test('an OCI index with two platforms and an attestation', async () => {
    const r = reg();
    const idx = await seedIndex(r, 'multi/busybox', 'v1', { attestation: true });
    const got = await kitRequest(`${r.url}/v2/multi/busybox/manifests/v1`, { headers: { Accept: accept } });
    assert.equal(got.headers['content-type'], MT.ociIndex);
    const index = JSON.parse(got.body.toString()) as {
      manifests: { digest: string; platform: { architecture: string; variant?: string }; annotations?: Record<string, string> }[];
    };
    assert.deepEqual(
      index.manifests.map((d) => `${d.platform.architecture}${d.platform.variant ? `/${d.platform.variant}` : ''}`),
      ['amd64', 'arm64/v8', 'unknown'],
    );
    assert.equal(index.manifests[2]?.annotations?.['vnd.docker.reference.digest'], idx.images[0]?.digest);
    // Same layer, configs differing in architecture.
    assert.equal(idx.images[0]?.layerDigests[0], idx.images[1]?.layerDigests[0]);
    assert.notEqual(idx.images[0]?.configDigest, idx.images[1]?.configDigest);
    const arm = await kitRequest(`${r.url}/v2/multi/busybox/manifests/${idx.images[1]?.digest ?? ''}`, { headers: { Accept: accept } });
    assert.equal(arm.status, 200);
  });

  test('a docker manifest list, and zstd layers in an OCI manifest', async () => {
    const r = reg();
    const list = await seedIndex(r, 'multi/list', 'v1', { format: 'docker' });
    const got = await kitRequest(`${r.url}/v2/multi/list/manifests/v1`, { headers: { Accept: accept } });
    assert.equal(got.headers['content-type'], MT.dockerList);
    assert.equal(got.headers['docker-content-digest'], list.digest);
    const z = await seedBusybox(r, 'zstd/busybox', 'latest', { format: 'oci', compression: 'zstd' });
    const man = JSON.parse(z.body.toString()) as { layers: { mediaType: string }[] };
    assert.equal(man.layers[0]?.mediaType, MT.ociLayerZstd);
    const blob = await kitRequest(`${r.url}/v2/zstd/busybox/blobs/${z.layerDigests[0] ?? ''}`);
    assert.equal(blob.body.readUInt32LE(0), 0xfd2fb528); // zstd frame magic
  });

  test('a generated big image streams up (small here)', async () => {
    const r = reg();
    const m = await seedBigImage(r, 'bench/big', 'latest', { layers: 3, totalBytes: 3 * 300_000 });
    assert.equal(m.layerDigests.length, 3);
    const blob = await kitRequest(`${r.url}/v2/bench/big/blobs/${m.layerDigests[1] ?? ''}`);
    assert.equal(sha256(blob.body), m.layerDigests[1]);
    // Incompressible: gzip does not shrink it.
    assert.ok(blob.body.length > 300_000);
  });

  test('the faulty proxy counts, cuts and corrupts blob bodies', async () => {
    const r = reg();
    const m = await seedBusybox(r, 'faults/busybox', 'latest');
    const layer = m.layerDigests[0] ?? '';
    const proxy = await faultyProxy(r, { dropAfterBytes: 1000, times: 1 });
    try {
      const blobPath = `/v2/faults/busybox/blobs/${layer}`;
      await assert.rejects(kitRequest(`${proxy.url}${blobPath}`));
      // Second time: whole and intact.
      const ok = await kitRequest(`${proxy.url}${blobPath}`);
      assert.equal(sha256(ok.body), layer);
      assert.equal(proxy.blobGets(layer), 2);
      assert.equal(proxy.count('GET', blobPath), 2);
      proxy.set({ corruptBlob: true });
      const bad = await kitRequest(`${proxy.url}${blobPath}`);
      assert.equal(bad.body.length, ok.body.length);
      assert.notEqual(sha256(bad.body), layer);
      // Manifests pass untouched.
      const man = await kitRequest(`${proxy.url}/v2/faults/busybox/manifests/latest`, { headers: { Accept: accept } });
      assert.deepEqual(man.body, m.body);
      // Throttled bodies arrive whole.
      proxy.set({ throttleBytesPerSec: 4 * 1024 * 1024 });
      assert.equal(sha256((await kitRequest(`${proxy.url}${blobPath}`)).body), layer);
      // Canned answers replace the registry's.
      proxy.set({
        intercept: (q) =>
          q.path.endsWith('/manifests/old')
            ? {
                status: 200,
                headers: { 'Content-Type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' },
                body: '{"schemaVersion":1}',
              }
            : undefined,
      });
      const old = await kitRequest(`${proxy.url}/v2/faults/busybox/manifests/old`);
      assert.equal(old.headers['content-type'], 'application/vnd.docker.distribution.manifest.v1+prettyjws');
      assert.equal(proxy.count('GET', '/v2/faults/busybox/manifests/old'), 1);
    } finally {
      await proxy.stop();
    }
  });
});

describe('basic-auth registry', () => {
  const reg = useRegistry({ auth: { basic: [{ user: 'alice', pass: 's3cret' }] } });

  test('401 with a Basic challenge, 200 with the password', async () => {
    const r = reg();
    const anon = await kitRequest(`${r.url}/v2/`);
    assert.equal(anon.status, 401);
    assert.equal(parseChallenge(anon.headers['www-authenticate'])?.scheme, 'basic');
    const bad = await kitRequest(`${r.url}/v2/`, { headers: { Authorization: `Basic ${Buffer.from('alice:nope').toString('base64')}` } });
    assert.equal(bad.status, 401);
    const m = await seedBusybox(r, 'private/busybox', 'latest', { format: 'oci' });
    const got = await kitRequest(`${r.url}/v2/private/busybox/manifests/latest`, {
      headers: { Accept: accept, Authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` },
    });
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-type'], MT.ociManifest);
    assert.deepEqual(got.body, m.body);
  });
});

describe('token-auth registry', () => {
  const reg = useRegistry({ auth: { token: { users: [{ user: 'bob', pass: 'hunter2' }], publicRepos: ['library/*'] } } });

  async function tokenFor(realm: string, query: string, basic?: string): Promise<KitResponse> {
    return kitRequest(`${realm}?${query}`, {
      headers: basic !== undefined ? { Authorization: `Basic ${Buffer.from(basic).toString('base64')}` } : {},
    });
  }

  test('the bearer flow by hand: challenge, token, manifest; anonymous pull of public repos only', async () => {
    const r = reg();
    const ts = r.tokenServer;
    assert.ok(ts);
    const m = await seedBusybox(r, 'library/busybox', 'latest');
    await seedBusybox(r, 'team/app', 'latest');
    const url = `${r.url}/v2/library/busybox/manifests/latest`;
    const first = await kitRequest(url, { headers: { Accept: accept } });
    assert.equal(first.status, 401);
    const ch = parseChallenge(first.headers['www-authenticate']);
    assert.equal(ch?.scheme, 'bearer');
    assert.equal(ch?.params.realm, ts.realm);
    assert.equal(ch?.params.service, ts.service);
    assert.equal(ch?.params.scope, 'repository:library/busybox:pull');

    const q = (scope: string): string => new URLSearchParams({ service: ts.service, scope }).toString();
    const anon = JSON.parse((await tokenFor(ts.realm, q('repository:library/busybox:pull'))).body.toString()) as { token: string };
    const got = await kitRequest(url, { headers: { Accept: accept, Authorization: `Bearer ${anon.token}` } });
    assert.equal(got.status, 200, r.logs().slice(-2000));
    assert.deepEqual(got.body, m.body);

    // Anonymous gets a token without access to a private repository: the registry refuses it.
    const anonPrivate = JSON.parse((await tokenFor(ts.realm, q('repository:team/app:pull'))).body.toString()) as { token: string };
    const denied = await kitRequest(`${r.url}/v2/team/app/manifests/latest`, {
      headers: { Accept: accept, Authorization: `Bearer ${anonPrivate.token}` },
    });
    assert.equal(denied.status, 401);

    // bob may; a wrong password is a 401 from the token server.
    assert.equal((await tokenFor(ts.realm, q('repository:team/app:pull'), 'bob:wrong')).status, 401);
    const bob = JSON.parse((await tokenFor(ts.realm, q('repository:team/app:pull,push'), 'bob:hunter2')).body.toString()) as {
      token: string;
    };
    const ok = await kitRequest(`${r.url}/v2/team/app/manifests/latest`, {
      headers: { Accept: accept, Authorization: `Bearer ${bob.token}` },
    });
    assert.equal(ok.status, 200);
    const logged = ts.requests.find((x) => x.user === 'bob' && x.status === 200);
    assert.deepEqual(logged?.scopes, ['repository:team/app:pull,push']);
    // The claims distribution checks.
    const claims = JSON.parse(Buffer.from(bob.token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims.iss, ts.issuer);
    assert.equal(claims.aud, ts.service);
    assert.equal(claims.sub, 'bob');
    assert.deepEqual(claims.access, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
  });

  test('offline_token gives a refresh token that a POST grant_type=refresh_token accepts', async () => {
    const r = reg();
    const ts = r.tokenServer;
    assert.ok(ts);
    const login = await tokenFor(
      ts.realm,
      new URLSearchParams({ service: ts.service, offline_token: 'true', client_id: 'docker', account: 'bob' }).toString(),
      'bob:hunter2',
    );
    assert.equal(login.status, 200);
    const refresh = (JSON.parse(login.body.toString()) as { refresh_token?: string }).refresh_token;
    assert.ok(refresh);
    const form = (grant: Record<string, string>): Promise<KitResponse> =>
      kitRequest(ts.realm, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ service: ts.service, client_id: 'docker', scope: 'repository:team/x:pull', ...grant }).toString(),
      });
    const viaRefresh = await form({ grant_type: 'refresh_token', refresh_token: refresh });
    assert.equal(viaRefresh.status, 200);
    assert.ok((JSON.parse(viaRefresh.body.toString()) as { access_token?: string }).access_token);
    assert.equal((await form({ grant_type: 'refresh_token', refresh_token: 'bogus' })).status, 401);
    assert.equal((await form({ grant_type: 'password', username: 'bob', password: 'hunter2' })).status, 200);
    assert.equal((await form({ grant_type: 'password', username: 'bob', password: 'no' })).status, 401);
  });
});

describe('tls registry', () => {
  const reg = useRegistry({ tls: true });

  test('serves https with the kit CA; refused without it', async () => {
    const r = reg();
    assert.ok(r.url.startsWith('https://127.0.0.1:'));
    const ca = r.tls?.caPem ?? '';
    assert.ok(ca.includes('BEGIN CERTIFICATE'));
    assert.equal((await kitRequest(`${r.url}/v2/`, { ca })).status, 200);
    await assert.rejects(kitRequest(`${r.url}/v2/`), /self.signed|unable to verify|certificate/i);
    const m = await seedBusybox(r, 'library/busybox', 'latest');
    const got = await kitRequest(`${r.url}/v2/library/busybox/manifests/latest`, { ca, headers: { Accept: accept } });
    assert.deepEqual(got.body, m.body);
  });
});

test('the fake search index answers in Docker Hub shape', async () => {
  const idx = await startSearchIndex([
    { name: 'library/busybox', description: 'Busybox base image.', star_count: 3000, is_official: true, is_automated: false },
    { name: 'someone/busybox-extra', description: 'more tools', star_count: 2, is_official: false, is_automated: false },
    { name: 'library/nginx', description: 'web server', star_count: 9000, is_official: true, is_automated: false },
  ]);
  try {
    const res = await kitRequest(`${idx.url}/v1/search?q=busybox&n=1`);
    const body = JSON.parse(res.body.toString()) as { num_results: number; page_size: number; results: { name: string }[] };
    assert.equal(body.num_results, 2);
    assert.equal(body.page_size, 1);
    assert.deepEqual(
      body.results.map((x) => x.name),
      ['library/busybox'],
    );
    assert.deepEqual(idx.requests, [{ q: 'busybox', n: '1', page: null }]);
  } finally {
    await idx.stop();
  }
});
