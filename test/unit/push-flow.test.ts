// pushImage against a fake registry client (no containerd: every layer here is found or mounted,
// so no blob is read): Preparing/Waiting order under max-concurrent-uploads, HEAD and mount
// decisions, the https → http fallback, the config upload, RepoDigests, the event, error texts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import pino from 'pino';
import type { Containerd } from '../../runtime/containerd';
import { sha256Digest } from '../../runtime/content';
import { EventBus } from '../../daemon/events';
import { pushImage, type RegistryAccess } from '../../daemon/images/push';
import type { PushMessage } from '../../daemon/images/push-progress';
import { ImageService } from '../../daemon/images/service';
import { RegistryError, type Descriptor, type Endpoint, type RepositoryClient } from '../../registry/types';
import { BlobLocationRepo } from '../../store/blob-location-repo';
import { migrate } from '../../store/db';
import { ImageRepo } from '../../store/image-repo';

const hex = (c: string): string => c.repeat(64);
const GZ = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

class FakeRepo implements RepositoryClient {
  readonly calls: string[] = [];
  readonly blobs = new Set<string>();
  manifests = new Map<string, Buffer>();
  constructor(
    readonly endpoint: Endpoint,
    readonly name: string,
    private readonly world: Map<string, Set<string>>,
    private readonly down: boolean,
  ) {
    this.blobs = world.get(name) ?? new Set<string>();
    world.set(name, this.blobs);
  }
  getManifest(): never {
    throw new Error('not used');
  }
  async headManifest(): Promise<Descriptor | undefined> {
    return undefined;
  }
  getBlob(): never {
    throw new Error('not used');
  }
  listTags(): Promise<string[]> {
    return Promise.resolve([]);
  }
  async headBlob(digest: string): Promise<number | undefined> {
    if (this.down) throw new RegistryError(`Get "${this.endpoint.url}/v2/": connection refused`, 0, undefined, true);
    this.calls.push(`HEAD ${digest.slice(7, 8)}`);
    return this.blobs.has(digest) ? 10 : undefined;
  }
  async mountBlob(digest: string, from: string): Promise<boolean> {
    this.calls.push(`MOUNT ${digest.slice(7, 8)} from ${from}`);
    if (!this.world.get(from)?.has(digest)) return false;
    this.blobs.add(digest);
    return true;
  }
  async pushBlob(body: AsyncIterable<Buffer>, opts?: { expected?: string }): Promise<{ digest: string; size: number }> {
    const parts: Buffer[] = [];
    for await (const c of body) parts.push(c);
    const data = Buffer.concat(parts);
    const digest = sha256Digest(data);
    if (opts?.expected !== undefined) assert.equal(digest, opts.expected);
    this.calls.push(`PUT blob ${digest === opts?.expected ? 'config' : digest}`);
    this.blobs.add(digest);
    return { digest, size: data.length };
  }
  async putManifest(reference: string, mediaType: string, body: Buffer): Promise<string> {
    if (this.name === 'locked') throw new RegistryError('requested access to the resource is denied', 403, 'DENIED');
    this.calls.push(`PUT manifest ${reference} ${mediaType}`);
    this.manifests.set(reference, body);
    return sha256Digest(body);
  }
}

function setup(opts: { maxUploads: number; httpsDown?: boolean }) {
  const db = new Database(':memory:');
  migrate(db);
  const repo = new ImageRepo(db);
  const events = new EventBus();
  const svc = new ImageService({
    ctd: {} as unknown as Containerd,
    repo,
    events,
    logger: pino({ level: 'silent' }),
    tmpDir: '/nonexistent',
    usage: { containersUsingImage: () => [], removalsSettled: async () => undefined },
  });
  const world = new Map<string, Set<string>>();
  const opened: FakeRepo[] = [];
  const registry: RegistryAccess = {
    endpoints: async (domain) => [
      { url: `https://${domain}`, mirror: false },
      { url: `http://${domain}`, mirror: false },
    ],
    open: (endpoint, name) => {
      const r = new FakeRepo(endpoint, name, world, opts.httpsDown === true && endpoint.url.startsWith('https:'));
      opened.push(r);
      return r;
    },
  };
  const locations = new BlobLocationRepo(db);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: ['1', '2', '3'].map((c) => `sha256:${hex(c)}`) },
    }),
  );
  const id = sha256Digest(config);
  repo.insert(
    {
      id,
      configJson: config.toString(),
      manifestDigest: `sha256:${hex('f')}`,
      manifestMediaType: '',
      manifestSize: 0,
      created: '',
      size: 0,
      parent: '',
      addedAt: 1,
    },
    ['1', '2', '3'].map((c, i) => ({
      idx: i,
      diffId: `sha256:${hex(c)}`,
      chainId: `sha256:${hex(c)}`,
      blobDigest: `sha256:${hex(String.fromCharCode(97 + i))}`,
      mediaType: GZ,
      blobSize: 10,
      uncompressedSize: 20,
      unpackedSize: 20,
    })),
  );
  repo.setRef('r.test:5000/app:1', id, 'tag', 1);
  const out: PushMessage[] = [];
  const run = (name: string, tag: string) =>
    pushImage(svc, { registry, locations, maxConcurrentUploads: opts.maxUploads }, { name, tag, credentials: {} }, (m) => out.push(m));
  return { svc, repo, events, world, opened, out, run, id, locations };
}

test('layers found by HEAD or mounted; Waiting beyond the upload limit; config, manifest, RepoDigests, event', async () => {
  const s = setup({ maxUploads: 1 });
  // The registry has layer a in app already, and b in another repository that the image came from.
  s.world.set('app', new Set([`sha256:${hex('a')}`]));
  s.world.set('base', new Set([`sha256:${hex('b')}`, `sha256:${hex('c')}`]));
  s.repo.setRef(`r.test:5000/base@sha256:${hex('9')}`, s.id, 'digest', 0);
  await s.run('r.test:5000/app', '1');
  const lines = s.out.map((m) => `${m.id ?? ''} ${m.status ?? ''}${m.aux ? ` aux ${m.aux.Tag}` : ''}`.trim());
  const [i1, i2, i3] = ['1', '2', '3'].map((c) => c.repeat(12));
  assert.deepEqual(lines.slice(0, 7), [
    'The push refers to repository [r.test:5000/app]',
    `${i1} Preparing`,
    `${i2} Preparing`,
    `${i3} Preparing`,
    `${i2} Waiting`,
    `${i3} Waiting`,
    `${i1} Layer already exists`,
  ]);
  assert.deepEqual(lines.slice(7, 9), [`${i2} Mounted from base`, `${i3} Mounted from base`]);
  assert.match(lines[9], /^1: digest: sha256:[0-9a-f]{64} size: \d+$/);
  assert.equal(lines[10], 'aux 1');
  const client = s.opened[0];
  assert.ok(client.calls.includes('PUT blob config'));
  assert.ok(client.calls.some((c) => c.startsWith('PUT manifest 1 application/vnd.docker.distribution.manifest.v2+json')));
  const digest = s.out[s.out.length - 1].aux?.Digest ?? '';
  assert.ok(s.repo.refsOf(s.id).some((r) => r.ref === `r.test:5000/app@${digest}` && r.kind === 'digest'));
  const ev = s.events.recent().filter((e) => e.Action === 'push');
  assert.equal(ev.length, 1);
  assert.equal(ev[0].Actor.ID, 'r.test:5000/app:1');
  assert.equal(ev[0].Actor.Attributes.name, 'r.test:5000/app');
  // Remembered: a push to a third repository mounts from app, where they all are now.
  assert.equal(s.locations.find(`sha256:${hex('2')}`, 'r.test:5000')[0].repository, 'app');
});

test('an unreachable https endpoint falls back to http without repeating Preparing', async () => {
  const s = setup({ maxUploads: 5, httpsDown: true });
  s.world.set('app', new Set(['a', 'b', 'c'].map((c) => `sha256:${hex(c)}`)));
  await s.run('r.test:5000/app', '1');
  assert.equal(s.out.filter((m) => m.status === 'Preparing').length, 3);
  assert.equal(s.out.filter((m) => m.status === 'Layer already exists').length, 3);
  assert.ok(s.out.some((m) => m.aux));
});

test('errors: a missing tag, a repository without images, the registry refusing', async () => {
  const s = setup({ maxUploads: 5 });
  await assert.rejects(s.run('r.test:5000/app', 'nope'), { name: 'NotFound', message: 'tag does not exist: r.test:5000/app:nope' });
  await assert.rejects(s.run('r.test:5000/none', ''), {
    name: 'NotFound',
    message: 'An image does not exist locally with the tag: r.test:5000/none',
  });
  s.repo.setRef('r.test:5000/locked:1', s.id, 'tag', 1);
  s.world.set('locked', new Set(['a', 'b', 'c'].map((c) => `sha256:${hex(c)}`)));
  await assert.rejects(s.run('r.test:5000/locked', '1'), {
    name: 'Forbidden',
    message: 'denied: requested access to the resource is denied',
  });
});
