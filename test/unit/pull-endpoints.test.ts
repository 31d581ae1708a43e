// Endpoint fallback of a pull's manifest resolution, against in-process registries: a mirror that
// does not have the image (or fails) hands over to the next endpoint; a registry's own "manifest
// unknown" does not, and an insecure host's https failure falls back to http.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { NotFound } from '../../lib/errors';
import { pullError } from '../../daemon/images/pull-errors';
import { pullReference, resolveManifest, type PullSettings } from '../../daemon/images/pull';

const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'1'.repeat(64)}`, size: 2 },
    layers: [],
  }),
);
const DIGEST = `sha256:${createHash('sha256').update(MANIFEST).digest('hex')}`;

interface Fake {
  url: string;
  hits: string[];
  close(): Promise<void>;
}

async function fake(mode: 'has' | 'unknown' | 'broken'): Promise<Fake> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    if (req.url === '/v2/') return res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    if (mode === 'broken') return res.writeHead(500).end('oops');
    if (mode === 'unknown') {
      return res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
    }
    res.writeHead(200, {
      'content-type': 'application/vnd.oci.image.manifest.v1+json',
      'docker-content-digest': DIGEST,
      'content-length': MANIFEST.length,
    });
    res.end(req.method === 'HEAD' ? undefined : MANIFEST);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let has: Fake;
let unknown: Fake;
let broken: Fake;

before(async () => {
  [has, unknown, broken] = await Promise.all([fake('has'), fake('unknown'), fake('broken')]);
});
after(async () => {
  await Promise.all([has.close(), unknown.close(), broken.close()]);
});

const settings = (mirrors: string[]): PullSettings => ({
  registry: { mirrors, insecureRegistries: [], certsDir: '/nonexistent', userAgent: 'berth-test' },
  maxConcurrentDownloads: 3,
  maxDownloadAttempts: 1,
});

test('docker.io: mirrors without the image or failing fall back to the next mirror', async () => {
  const fellBack: string[] = [];
  const r = await resolveManifest(pullReference('busybox', 'latest'), settings([unknown.url, broken.url, has.url]), {}, (ep) =>
    fellBack.push(ep),
  );
  assert.equal(r.top.digest, DIGEST);
  assert.equal(r.repo.name, 'library/busybox');
  assert.deepEqual(
    fellBack.map((u) => u.replace(/\/$/, '')),
    [unknown.url, broken.url],
  );
  assert.ok(
    has.hits.some((h) => h.endsWith('/v2/library/busybox/manifests/latest')),
    has.hits.join(),
  );
});

test("a registry's own manifest unknown is final; https falls back to http for a loopback host", async () => {
  const host = unknown.url.slice('http://'.length);
  const named = pullReference(`${host}/app`, 'v1');
  const fellBack: string[] = [];
  const err = await resolveManifest(named, settings([]), {}, (ep) => fellBack.push(ep)).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof NotFound, String(err));
  assert.equal(err.message, `manifest for ${host}/app:v1 not found: manifest unknown: manifest unknown`);
  // The https attempt (an http server cannot speak TLS) fell back to http.
  assert.deepEqual(fellBack, [`https://${host}`]);
  assert.ok(pullError(err, named, true) === err);
});
