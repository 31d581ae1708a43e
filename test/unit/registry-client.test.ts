import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import { closeTransports, openRepository } from '../../registry/client';
import { MediaType } from '../../registry/manifest';
import { RegistryError, type Endpoint } from '../../registry/types';
import { json, registryErrorBody, startFake } from './registry-fake';

after(() => closeTransports());

const UA = 'berth-test/1';
const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.dockerManifest,
    config: { mediaType: MediaType.dockerConfig, digest: sha('c'), size: 1 },
    layers: [],
  }),
);
const ociNoType = Buffer.from(
  JSON.stringify({ schemaVersion: 2, config: { mediaType: MediaType.ociConfig, digest: sha('c'), size: 1 }, layers: [] }),
);
const blob = Buffer.from('0123456789abcdef');

async function anonRegistry(
  extra?: (url: string, req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean,
) {
  return startFake((req, res) => {
    const url = req.url ?? '';
    if (extra?.(url, req, res)) return;
    if (url === '/v2/') return json(res, 200, {});
    if (url === '/v2/lib/app/manifests/latest') {
      if (req.method === 'HEAD') {
        res.writeHead(200, {
          'content-type': MediaType.dockerManifest,
          'docker-content-digest': sha(manifest),
          'content-length': String(manifest.length),
        });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': MediaType.dockerManifest, 'docker-content-digest': sha(manifest) });
      res.end(manifest);
      return;
    }
    if (url === `/v2/lib/app/manifests/${sha(manifest)}`) {
      res.writeHead(200, { 'content-type': MediaType.dockerManifest });
      res.end(manifest);
      return;
    }
    if (url === '/v2/lib/app/manifests/oci') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(ociNoType);
      return;
    }
    if (url === '/v2/lib/app/manifests/lying') {
      res.writeHead(200, { 'content-type': MediaType.dockerManifest, 'docker-content-digest': sha('other') });
      res.end(manifest);
      return;
    }
    if (url === `/v2/lib/app/manifests/${sha('tampered')}`) {
      res.writeHead(200, { 'content-type': MediaType.dockerManifest });
      res.end(manifest);
      return;
    }
    if (url === '/v2/lib/app/manifests/huge') {
      res.writeHead(200, { 'content-type': MediaType.dockerManifest });
      res.write(Buffer.alloc(3 * 1024 * 1024, 0x20));
      res.end(Buffer.alloc(2 * 1024 * 1024, 0x20));
      return;
    }
    if (url === `/v2/lib/app/blobs/${sha(blob)}`) {
      const range = req.headers.range;
      if (range !== undefined) {
        const from = Number(/^bytes=(\d+)-$/.exec(range)?.[1]);
        res.writeHead(206, {
          'content-range': `bytes ${from}-${blob.length - 1}/${blob.length}`,
          'content-length': String(blob.length - from),
        });
        res.end(blob.subarray(from));
        return;
      }
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.end(req.method === 'HEAD' ? undefined : blob);
      return;
    }
    json(
      res,
      404,
      registryErrorBody(
        url.includes('/manifests/') ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN',
        url.includes('/manifests/') ? 'manifest unknown' : 'blob unknown to registry',
      ),
    );
  });
}

test('getManifest by tag takes Docker-Content-Digest, by digest verifies the bytes', async () => {
  const reg = await anonRegistry();
  try {
    const repo = openRepository({ url: reg.url, mirror: false }, 'lib/app', { actions: ['pull'], userAgent: UA });
    const byTag = await repo.getManifest('latest');
    assert.equal(byTag.mediaType, MediaType.dockerManifest);
    assert.equal(byTag.digest, sha(manifest));
    assert.deepEqual(byTag.body, manifest);
    const accept = reg.requests.find((r) => r.url === '/v2/lib/app/manifests/latest')?.headers.accept ?? '';
    for (const t of [
      MediaType.dockerManifest,
      MediaType.dockerManifestList,
      MediaType.ociManifest,
      MediaType.ociIndex,
      MediaType.schema1Signed,
    ])
      assert.ok(accept.includes(t), t);

    const byDigest = await repo.getManifest(sha(manifest));
    assert.equal(byDigest.digest, sha(manifest));
    await assert.rejects(repo.getManifest(sha('tampered')), (e: unknown) => e instanceof RegistryError && e.code === 'DIGEST_INVALID');
    await assert.rejects(repo.getManifest('lying'), (e: unknown) => e instanceof RegistryError && e.code === 'DIGEST_INVALID');

    // OCI without mediaType, served as application/json: recognised from the body, digest of the bytes.
    const oci = await repo.getManifest('oci');
    assert.equal(oci.mediaType, MediaType.ociManifest);
    assert.equal(oci.digest, sha(ociNoType));

    const desc = await repo.headManifest('latest');
    assert.deepEqual(desc, { mediaType: MediaType.dockerManifest, digest: sha(manifest), size: manifest.length });
    assert.equal(await repo.headManifest('missing'), undefined);
  } finally {
    await reg.close();
  }
});

test('registry error bodies map to RegistryError(status, code) with the registry message', async () => {
  const reg = await anonRegistry((url, _req, res) => {
    if (url === '/v2/lib/app/manifests/denied') {
      json(res, 403, registryErrorBody('DENIED', 'requested access to the resource is denied'));
      return true;
    }
    if (url === '/v2/lib/app/manifests/boom') {
      res.writeHead(500, { 'content-length': '0' });
      res.end();
      return true;
    }
    return false;
  });
  try {
    const repo = openRepository({ url: reg.url, mirror: false }, 'lib/app', { actions: ['pull'], userAgent: UA });
    await assert.rejects(repo.getManifest('nope'), (e: unknown) => {
      assert.ok(e instanceof RegistryError);
      assert.deepEqual([e.status, e.code, e.message, e.transport], [404, 'MANIFEST_UNKNOWN', 'manifest unknown', false]);
      return true;
    });
    await assert.rejects(repo.getManifest('denied'), (e: unknown) => e instanceof RegistryError && e.status === 403 && e.code === 'DENIED');
    await assert.rejects(repo.getManifest('boom'), (e: unknown) => e instanceof RegistryError && e.status === 500 && /500/.test(e.message));
    await assert.rejects(repo.getBlob(sha('none')), (e: unknown) => e instanceof RegistryError && e.code === 'BLOB_UNKNOWN');
    assert.throws(() => openRepository({ url: reg.url, mirror: false }, '../etc', { actions: ['pull'], userAgent: UA }), RegistryError);
    await assert.rejects(repo.getManifest('a/../b'), RegistryError);
  } finally {
    await reg.close();
  }
});

test('a manifest beyond 4 MiB is refused', async () => {
  const reg = await anonRegistry();
  try {
    const repo = openRepository({ url: reg.url, mirror: false }, 'lib/app', { actions: ['pull'], userAgent: UA });
    await assert.rejects(repo.getManifest('huge'), (e: unknown) => e instanceof RegistryError && e.code === 'TOO_LARGE');
  } finally {
    await reg.close();
  }
});

async function readAll(s: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c);
  return Buffer.concat(parts);
}

test('headBlob and getBlob, whole and from an offset', async () => {
  const reg = await anonRegistry();
  try {
    const repo = openRepository({ url: reg.url, mirror: false }, 'lib/app', { actions: ['pull'], userAgent: UA });
    assert.equal(await repo.headBlob(sha(blob)), blob.length);
    assert.equal(await repo.headBlob(sha('none')), undefined);
    const whole = await repo.getBlob(sha(blob));
    assert.equal(whole.size, blob.length);
    assert.deepEqual(await readAll(whole.body), blob);
    const part = await repo.getBlob(sha(blob), 10);
    assert.equal(part.size, blob.length);
    assert.equal(part.offset, 10);
    assert.deepEqual(await readAll(part.body), blob.subarray(10));
    assert.equal(reg.requests.at(-1)?.headers.range, 'bytes=10-');
  } finally {
    await reg.close();
  }
});

test('redirects are followed; Authorization is dropped when the host changes', async () => {
  const good = `Basic ${Buffer.from('u:p').toString('base64')}`;
  const storage = await startFake(
    (req, res) => {
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.end(blob);
    },
    { host: 'localhost' },
  );
  const reg = await startFake((req, res) => {
    if (req.headers.authorization !== good) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="r"', 'content-length': '0' });
      res.end();
      return;
    }
    if (req.url === '/v2/') return json(res, 200, {});
    if (req.url === `/v2/lib/app/blobs/${sha(blob)}`) {
      res.writeHead(307, { location: `/same-host/${sha(blob)}`, 'content-length': '0' });
      res.end();
      return;
    }
    if (req.url === `/same-host/${sha(blob)}`) {
      res.writeHead(302, { location: `${storage.url}/bucket/blob?sig=1`, 'content-length': '0' });
      res.end();
      return;
    }
    res.writeHead(404, { 'content-length': '0' });
    res.end();
  });
  try {
    const repo = openRepository({ url: reg.url, mirror: false }, 'lib/app', {
      actions: ['pull'],
      userAgent: UA,
      credentials: { username: 'u', password: 'p' },
    });
    const got = await repo.getBlob(sha(blob));
    assert.deepEqual(await readAll(got.body), blob);
    assert.equal(reg.requests.find((r) => r.url.startsWith('/same-host/'))?.headers.authorization, good);
    assert.equal(storage.requests.length, 1);
    assert.equal(storage.requests[0].url, '/bucket/blob?sig=1');
    assert.equal(storage.requests[0].headers.authorization, undefined);
    assert.equal(storage.requests[0].headers['user-agent'], UA);
  } finally {
    await reg.close();
    await storage.close();
  }
});

test('a redirect loop stops after 10 hops', async () => {
  const reg = await startFake((req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    res.writeHead(302, { location: '/loop' + String(Math.random()), 'content-length': '0' });
    res.end();
  });
  try {
    const repo = openRepository({ url: reg.url, mirror: false }, 'lib/app', { actions: ['pull'], userAgent: UA });
    await assert.rejects(repo.headBlob(sha(blob)), /redirects/);
  } finally {
    await reg.close();
  }
});

test('an unreachable endpoint is a transport error; a non-registry ping is one too', async () => {
  const reg = await startFake((_req, res) => {
    res.writeHead(404, { 'content-length': '0' });
    res.end();
  });
  const port = reg.port;
  try {
    const notReg = openRepository({ url: reg.url, mirror: false }, 'lib/app', { actions: ['pull'], userAgent: UA });
    await assert.rejects(notReg.getManifest('latest'), (e: unknown) => e instanceof RegistryError && e.transport && e.status === 404);
  } finally {
    await reg.close();
  }
  const gone: Endpoint = { url: `http://127.0.0.1:${port}`, mirror: false };
  const repo = openRepository(gone, 'lib/app', { actions: ['pull'], userAgent: UA });
  await assert.rejects(
    repo.getManifest('latest'),
    (e: unknown) => e instanceof RegistryError && e.transport && e.status === 0 && /ECONNREFUSED/.test(e.message),
  );
});

test('https to a plain http server fails as transport (the caller then tries http)', async () => {
  const reg = await anonRegistry();
  try {
    const url = reg.url.replace('http:', 'https:');
    const repo = openRepository({ url, mirror: false, tls: { skipVerify: true } }, 'lib/app', { actions: ['pull'], userAgent: UA });
    await assert.rejects(repo.getManifest('latest'), (e: unknown) => e instanceof RegistryError && e.transport);
  } finally {
    await reg.close();
  }
});

test('idle timeout ends a stalled answer as a transport error', async () => {
  const reg = await startFake((req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    res.writeHead(200, { 'content-type': MediaType.dockerManifest });
    res.write('{');
    // never ends
  });
  try {
    const repo = openRepository({ url: reg.url, mirror: false }, 'lib/app', { actions: ['pull'], userAgent: UA, idleTimeoutMs: 200 });
    await assert.rejects(repo.getManifest('latest'), (e: unknown) => e instanceof RegistryError && e.transport);
  } finally {
    await reg.close();
  }
});

test('a registry that ignores Range sends the whole blob: offset 0 tells the caller', async () => {
  const reg = await startFake((req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    res.writeHead(200, { 'content-length': String(blob.length) });
    res.end(blob);
  });
  try {
    const repo = openRepository({ url: reg.url, mirror: false }, 'lib/app', { actions: ['pull'], userAgent: UA });
    const got = await repo.getBlob(sha(blob), 5);
    assert.deepEqual([got.offset, got.size], [0, blob.length]);
    assert.deepEqual(await readAll(got.body), blob);
  } finally {
    await reg.close();
  }
});

test('a connection dropped mid-blob makes the body stream fail (the caller retries from its offset)', async () => {
  const reg = await startFake((req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    res.writeHead(200, { 'content-length': '1000' });
    res.write(Buffer.alloc(100));
    setImmediate(() => res.destroy());
  });
  try {
    const repo = openRepository({ url: reg.url, mirror: false }, 'lib/app', { actions: ['pull'], userAgent: UA });
    const got = await repo.getBlob(sha(blob));
    assert.equal(got.size, 1000);
    await assert.rejects(readAll(got.body));
  } finally {
    await reg.close();
  }
});
