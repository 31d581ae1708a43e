// Push's pure parts: the manifest bytes, the stream lines in dockerd's shapes, the Pushing
// throttle, the upload limiter's Waiting, registry error texts, and the blob-location store.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { encodeJsonMessage } from '../../api/streams';
import { pushError, pushReference, runLimited } from '../../daemon/images/push';
import { buildManifest, manifestLayerType } from '../../daemon/images/push-manifest';
import {
  auxMessage,
  digestLine,
  layerShortId,
  layerStatus,
  pushingMessage,
  PushThrottle,
  refersTo,
} from '../../daemon/images/push-progress';
import { RegistryError } from '../../registry/types';
import { BlobLocationRepo } from '../../store/blob-location-repo';
import { migrate } from '../../store/db';

const D = (c: string): string => `sha256:${c.repeat(64)}`;

test('schema2 manifest: dockerd/distribution layout (3-space indent, mediaType/size/digest order)', () => {
  const m = buildManifest({ digest: D('a'), size: 545 }, [{ mediaType: manifestLayerType('gzip', false), digest: D('b'), size: 100 }]);
  assert.equal(m.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  const expected =
    '{\n   "schemaVersion": 2,\n   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",\n' +
    '   "config": {\n      "mediaType": "application/vnd.docker.container.image.v1+json",\n      "size": 545,\n' +
    `      "digest": "${D('a')}"\n   },\n   "layers": [\n      {\n` +
    '         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",\n         "size": 100,\n' +
    `         "digest": "${D('b')}"\n      }\n   ]\n}`;
  assert.equal(m.body.toString(), expected);
});

test('dockerd pushes busybox with this exact manifest (527 bytes), so its digest matches too', () => {
  // Captured from dockerd 20.10 pushing the busybox fixture; only the layer digest and size vary.
  const m = buildManifest({ digest: 'sha256:a6a6dd7c3494c86a02fb07e47ed73b09d02d1ce85cca132128a92ebeff907564', size: 545 }, [
    { mediaType: manifestLayerType('gzip', false), digest: D('c'), size: 1000000 },
  ]);
  assert.equal(m.body.length, 527);
});

test('zstd layers switch the manifest to OCI', () => {
  const m = buildManifest({ digest: D('a'), size: 1 }, [{ mediaType: manifestLayerType('zstd', true), digest: D('b'), size: 2 }], true);
  const doc = JSON.parse(m.body.toString()) as { mediaType: string; config: { mediaType: string }; layers: { mediaType: string }[] };
  assert.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(doc.mediaType, m.mediaType);
  assert.equal(doc.config.mediaType, 'application/vnd.oci.image.config.v1+json');
  assert.equal(doc.layers[0].mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
  assert.equal(manifestLayerType('gzip', true), 'application/vnd.oci.image.layer.v1.tar+gzip');
});

test('stream lines encode exactly as dockerd sends them', () => {
  const diff = `sha256:fe7c92c02863b79cb427a7798b62ddef07008358e71830c26520b35f7000edf4`;
  assert.equal(layerShortId(diff), 'fe7c92c02863');
  assert.equal(
    encodeJsonMessage(refersTo('127.0.0.1:5000/busybox')),
    '{"status":"The push refers to repository [127.0.0.1:5000/busybox]"}\r\n',
  );
  assert.equal(encodeJsonMessage(layerStatus(diff, 'Preparing')), '{"status":"Preparing","progressDetail":{},"id":"fe7c92c02863"}\r\n');
  assert.equal(
    encodeJsonMessage(layerStatus(diff, 'Mounted from busybox')),
    '{"status":"Mounted from busybox","progressDetail":{},"id":"fe7c92c02863"}\r\n',
  );
  assert.equal(
    encodeJsonMessage(pushingMessage(diff, 1280512, 1985967)),
    '{"status":"Pushing","progressDetail":{"current":1280512,"total":1985967},"progress":"[================================>                  ]  1.281MB/1.986MB","id":"fe7c92c02863"}\r\n',
  );
  assert.equal(encodeJsonMessage(digestLine('1', D('8'), 527)), `{"status":"1: digest: ${D('8')} size: 527"}\r\n`);
  assert.equal(
    encodeJsonMessage(auxMessage('1', D('8'), 527)),
    `{"progressDetail":{},"aux":{"Tag":"1","Digest":"${D('8')}","Size":527}}\r\n`,
  );
});

test('Pushing lines are throttled by bytes: first always, then a bar column or 512 KiB apart', () => {
  const t = new PushThrottle(100 * 1024 * 1024);
  const step = Math.floor((100 * 1024 * 1024) / 50);
  assert.equal(t.due(10), true);
  assert.equal(t.due(step), false);
  assert.equal(t.due(step + 10), true);
  const small = new PushThrottle(1000);
  assert.equal(small.due(1), true);
  assert.equal(small.due(1000), false, 'a small layer reports once: 512 KiB minimum step');
});

test('the upload limiter runs at most N at once, in order, and marks the queued ones Waiting', async () => {
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  const tasks = [0, 1, 2, 3, 4].map((i) => async () => {
    started.push(i);
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setImmediate(r));
    running--;
    return i * 10;
  });
  const waiting: number[] = [];
  const out = await runLimited(tasks, 2, (i) => waiting.push(i));
  assert.deepEqual(out, [0, 10, 20, 30, 40]);
  assert.equal(peak, 2);
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.deepEqual(waiting, [2, 3, 4]);
  await assert.rejects(
    runLimited([async () => 1, async () => Promise.reject(new Error('boom')), async () => 3], 1, () => undefined),
    /boom/,
  );
});

test('registry errors read as dockerd prints errcode errors', () => {
  const denied = pushError(new RegistryError('requested access to the resource is denied', 403, 'DENIED'));
  assert.equal(denied.message, 'denied: requested access to the resource is denied');
  const unauth = pushError(new RegistryError('authentication required', 401, 'UNAUTHORIZED'));
  assert.equal(unauth.message, 'unauthorized: authentication required');
  const nameUnknown = pushError(new RegistryError('repository name not known to registry', 404, 'NAME_UNKNOWN'));
  assert.equal(nameUnknown.message, 'name unknown: repository name not known to registry');
  const down = pushError(new RegistryError('Get "http://127.0.0.1:1/v2/": connect ECONNREFUSED', 0, undefined, true));
  assert.equal(down.message, 'Get "http://127.0.0.1:1/v2/": connect ECONNREFUSED');
});

test('push references: name + tag, or the bare repository for all tags; bad input is a 400', () => {
  assert.deepEqual(pushReference('127.0.0.1:5000/busybox', '1'), { domain: '127.0.0.1:5000', path: 'busybox', tag: '1' });
  assert.deepEqual(pushReference('busybox', ''), { domain: 'docker.io', path: 'library/busybox' });
  assert.throws(() => pushReference('BadName', '1'), { name: 'InvalidParameter' });
  assert.throws(() => pushReference('busybox', 'bad tag'), { name: 'InvalidParameter' });
});

test('blob locations: recorded per layer and registry, newest first, refreshed, forgotten, bounded', () => {
  const db = new Database(':memory:');
  migrate(db);
  const repo = new BlobLocationRepo(db);
  const diffId = D('1');
  const loc = (repository: string, digest: string) => ({
    diffId,
    registry: 'r:5000',
    repository,
    digest,
    size: 10,
    mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  });
  repo.record(loc('a', D('2')), 1);
  repo.record(loc('b', D('2')), 2);
  repo.record({ ...loc('a', D('2')), registry: 'other' }, 3);
  assert.deepEqual(
    repo.find(diffId, 'r:5000').map((l) => l.repository),
    ['b', 'a'],
  );
  repo.record(loc('a', D('2')), 4);
  assert.deepEqual(
    repo.find(diffId, 'r:5000').map((l) => l.repository),
    ['a', 'b'],
  );
  repo.forget(loc('a', D('2')));
  assert.deepEqual(
    repo.find(diffId, 'r:5000').map((l) => l.repository),
    ['b'],
  );
  for (let i = 0; i < 40; i++) repo.record(loc(`x${i}`, D('3')), 10 + i);
  const kept = repo.find(diffId, 'r:5000');
  assert.equal(kept.length, 16);
  assert.equal(kept[0].repository, 'x39');
  assert.equal(repo.find(diffId, 'other').length, 1);
  db.close();
});
