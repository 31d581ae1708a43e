import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import { closeTransports, openRepository } from '../../registry/client';
import { MediaType } from '../../registry/manifest';
import { RegistryError } from '../../registry/types';
import { json, registryErrorBody, startFake } from './registry-fake';

after(() => closeTransports());

const UA = 'berth-test/1';
const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A registry keeping uploads in memory; Locations alternate between relative and absolute. */
async function uploadRegistry() {
  const uploads = new Map<string, Buffer>();
  const blobs = new Map<string, Buffer>();
  let n = 0;
  let absolute = false;
  const base = { url: '' };
  const loc = (id: string, state: number): string => {
    absolute = !absolute;
    const p = `/v2/lib/app/blobs/uploads/${id}?_state=s${state}`;
    return absolute ? `${base.url}${p}` : p;
  };
  const srv = await startFake((req, res, body) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/v2/') return json(res, 200, {});
    if (req.method === 'POST' && u.pathname === '/v2/lib/app/blobs/uploads/') {
      const mount = u.searchParams.get('mount');
      if (mount !== null && u.searchParams.get('from') === 'lib/base' && blobs.has(mount)) {
        res.writeHead(201, { location: `/v2/lib/app/blobs/${mount}`, 'docker-content-digest': mount, 'content-length': '0' });
        res.end();
        return;
      }
      const id = `u${++n}`;
      uploads.set(id, Buffer.alloc(0));
      res.writeHead(202, { location: loc(id, 0), 'docker-upload-uuid': id, range: '0-0', 'content-length': '0' });
      res.end();
      return;
    }
    const m = /^\/v2\/lib\/app\/blobs\/uploads\/(\w+)$/.exec(u.pathname);
    if (m !== null) {
      const id = m[1];
      const cur = uploads.get(id);
      if (cur === undefined) return json(res, 404, registryErrorBody('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry'));
      if (req.method === 'DELETE') {
        uploads.delete(id);
        res.writeHead(204);
        res.end();
        return;
      }
      if (req.method === 'PATCH') {
        const [from, to] = String(req.headers['content-range']).split('-').map(Number);
        if (from !== cur.length || to !== cur.length + body.length - 1 || req.headers['content-length'] !== String(body.length)) {
          return json(res, 416, registryErrorBody('BLOB_UPLOAD_INVALID', 'bad range'));
        }
        const next = Buffer.concat([cur, body]);
        uploads.set(id, next);
        res.writeHead(202, { location: loc(id, next.length), range: `0-${next.length - 1}`, 'content-length': '0' });
        res.end();
        return;
      }
      if (req.method === 'PUT') {
        const all = Buffer.concat([cur, body]);
        const digest = u.searchParams.get('digest') ?? '';
        if (sha(all) !== digest)
          return json(res, 400, registryErrorBody('DIGEST_INVALID', 'provided digest did not match uploaded content'));
        blobs.set(digest, all);
        uploads.delete(id);
        res.writeHead(201, { location: `/v2/lib/app/blobs/${digest}`, 'docker-content-digest': digest, 'content-length': '0' });
        res.end();
        return;
      }
    }
    if (req.method === 'PUT' && u.pathname.startsWith('/v2/lib/app/manifests/')) {
      if (req.headers['content-type'] !== MediaType.ociManifest)
        return json(res, 400, registryErrorBody('MANIFEST_INVALID', 'manifest invalid'));
      res.writeHead(201, { 'docker-content-digest': sha(body), 'content-length': '0' });
      res.end();
      return;
    }
    json(res, 404, registryErrorBody('NAME_UNKNOWN', 'repository name not known to registry'));
  });
  base.url = srv.url;
  return { srv, uploads, blobs };
}

async function* chunks(data: Buffer, piece: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += piece) {
    await Promise.resolve();
    yield data.subarray(i, i + piece);
  }
}

test('chunked push: PATCHes with Content-Range follow each Location (relative or absolute), then PUT ?digest=', async () => {
  const r = await uploadRegistry();
  try {
    const repo = openRepository({ url: r.srv.url, mirror: false }, 'lib/app', {
      actions: ['pull', 'push'],
      userAgent: UA,
      chunkSize: 1000,
    });
    const data = Buffer.alloc(3500);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    const progress: number[] = [];
    const got = await repo.pushBlob(chunks(data, 333), { expected: sha(data), onProgress: (s) => progress.push(s) });
    assert.deepEqual(got, { digest: sha(data), size: 3500 });
    assert.deepEqual(r.blobs.get(sha(data)), data);
    const patches = r.srv.requests.filter((q) => q.method === 'PATCH');
    assert.deepEqual(
      patches.map((q) => q.headers['content-range']),
      ['0-999', '1000-1999', '2000-2999', '3000-3499'],
    );
    assert.deepEqual(progress, [1000, 2000, 3000, 3500]);
    // Each request went to the _state the previous answer gave.
    assert.deepEqual(
      patches.map((q) => new URL(q.url, 'http://x').searchParams.get('_state')),
      ['s0', 's1000', 's2000', 's3000'],
    );
    const put = r.srv.requests.find((q) => q.method === 'PUT');
    assert.equal(new URL(put?.url ?? '', 'http://x').searchParams.get('_state'), 's3500');
  } finally {
    await r.srv.close();
  }
});

test('a small blob goes up monolithically; a wrong expected digest fails and cancels the upload', async () => {
  const r = await uploadRegistry();
  try {
    const repo = openRepository({ url: r.srv.url, mirror: false }, 'lib/app', { actions: ['pull', 'push'], userAgent: UA });
    const data = Buffer.from('hello layer');
    const got = await repo.pushBlob(chunks(data, 4));
    assert.equal(got.digest, sha(data));
    assert.equal(r.srv.requests.filter((q) => q.method === 'PATCH').length, 0);
    await assert.rejects(
      repo.pushBlob(chunks(Buffer.from('other'), 2), { expected: sha('something else') }),
      (e: unknown) => e instanceof RegistryError && e.code === 'DIGEST_INVALID',
    );
    assert.equal(r.srv.requests.at(-1)?.method, 'DELETE');
    assert.equal(r.uploads.size, 0);
  } finally {
    await r.srv.close();
  }
});

test('mountBlob: 201 mounted; 202 means an upload was started, which is cancelled', async () => {
  const r = await uploadRegistry();
  try {
    const repo = openRepository({ url: r.srv.url, mirror: false }, 'lib/app', {
      actions: ['pull', 'push'],
      userAgent: UA,
      mountFrom: ['lib/base'],
    });
    const data = Buffer.from('base layer');
    await repo.pushBlob(chunks(data, 100));
    assert.equal(await repo.mountBlob(sha(data), 'lib/base'), true);
    assert.equal(await repo.mountBlob(sha('absent'), 'lib/base'), false);
    const last = r.srv.requests.at(-1);
    assert.equal(last?.method, 'DELETE');
    assert.equal(r.uploads.size, 0);
    const post = r.srv.requests.filter((q) => q.method === 'POST').at(-1);
    const q = new URL(post?.url ?? '', 'http://x').searchParams;
    assert.equal(q.get('mount'), sha('absent'));
    assert.equal(q.get('from'), 'lib/base');
  } finally {
    await r.srv.close();
  }
});

test('putManifest returns the registry digest; a refusal maps to its error code', async () => {
  const r = await uploadRegistry();
  try {
    const repo = openRepository({ url: r.srv.url, mirror: false }, 'lib/app', { actions: ['pull', 'push'], userAgent: UA });
    const body = Buffer.from('{"schemaVersion":2}');
    assert.equal(await repo.putManifest('v1', MediaType.ociManifest, body), sha(body));
    await assert.rejects(
      repo.putManifest('v1', MediaType.dockerManifest, body),
      (e: unknown) => e instanceof RegistryError && e.status === 400 && e.code === 'MANIFEST_INVALID',
    );
  } finally {
    await r.srv.close();
  }
});
