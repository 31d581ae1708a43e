// docker push against a real registry (the kit's docker-registry on 127.0.0.1): the progress
// stream and aux digest, a second push finding every layer, a cross-repository mount, all tags of
// a repository, a committed image (its uncompressed layer gzipped on the fly, the digest checked
// by the registry), the texts for missing tags, and Basic auth with and without credentials.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import * as tar from 'tar-stream';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { berthWithBusybox, destroyBerth, loadBusybox, startBerth, type Berth } from './harness';
import { seedBusybox, useRegistry, type Registry } from './registry-kit';

let b: Berth;
berthWithBusybox((started) => (b = started));
const plain = useRegistry();
const basic = useRegistry({ auth: { basic: [{ user: 'pusher', pass: 's3cret' }] } });
const token = useRegistry({
  auth: {
    token: {
      users: [
        { user: 'writer', pass: 'w' },
        { user: 'reader', pass: 'r' },
      ],
      acl: (user, scope) => (user === 'writer' ? scope.actions : user === 'reader' ? scope.actions.filter((a) => a === 'pull') : []),
    },
  },
});

interface Line {
  status?: string;
  id?: string;
  error?: string;
  progressDetail?: { current?: number; total?: number };
  aux?: { Tag: string; Digest: string; Size: number };
}

const authHeader = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');

async function rawPush(name: string, tag: string, auth: object = {}): Promise<{ status: number; lines: Line[] }> {
  const r = await b.request('POST', `/images/${name}/push?tag=${encodeURIComponent(tag)}`, {
    headers: { 'X-Registry-Auth': authHeader(auth) },
  });
  const lines = r.body
    .split('\r\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
  return { status: r.status, lines };
}

async function docker(args: string[]): Promise<string> {
  const r = await b.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function manifest(
  reg: Registry,
  repo: string,
  ref: string,
): Promise<{
  digest: string;
  doc: { mediaType: string; config: { digest: string }; layers: { mediaType: string; digest: string; size: number }[] };
}> {
  const res = await reg.session().request(`/v2/${repo}/manifests/${ref}`, `repository:${repo}:pull`, {
    headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  });
  assert.equal(res.status, 200);
  const body = Buffer.from(res.body);
  return { digest: `sha256:${createHash('sha256').update(body).digest('hex')}`, doc: JSON.parse(body.toString()) as never };
}

/** sha256 of every file in a tar (the blobs of an OCI layout archive). */
async function blobDigests(archive: Buffer): Promise<Set<string>> {
  const out = new Set<string>();
  const ex = tar.extract();
  ex.on('entry', (_h, stream, next) => {
    const hash = createHash('sha256');
    stream.on('data', (d: unknown) => {
      hash.update(d as Buffer);
    });
    stream.on('end', () => {
      out.add(`sha256:${hash.digest('hex')}`);
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
    ex.end(archive);
  });
  return out;
}

const imageId = async (ref: string): Promise<string> => (await docker(['image', 'inspect', '-f', '{{.Id}}', ref])).trim();

describe('docker push', () => {
  test('pushes a loaded image: progress, digest line and aux, manifest readable, RepoDigests', async () => {
    const host = plain().host;
    await docker(['tag', 'busybox', `${host}/busybox:1`]);
    const { status, lines } = await rawPush(`${host}/busybox`, '1');
    assert.equal(status, 200);
    assert.deepEqual(lines[0], { status: `The push refers to repository [${host}/busybox]` });
    assert.ok(!lines.some((l) => l.error), JSON.stringify(lines));
    const diffId = JSON.parse(await docker(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'busybox'])) as string[];
    const short = diffId[0].slice(7, 19);
    const statuses = lines.filter((l) => l.id === short).map((l) => l.status);
    assert.equal(statuses[0], 'Preparing');
    assert.equal(statuses[statuses.length - 1], 'Pushed');
    assert.ok(statuses.includes('Pushing'));
    const pushing = lines.find((l) => l.status === 'Pushing');
    assert.ok((pushing?.progressDetail?.total ?? 0) > 0);
    const aux = lines.find((l) => l.aux)?.aux;
    assert.ok(aux);
    assert.equal(aux.Tag, '1');
    assert.ok(lines.some((l) => l.status === `1: digest: ${aux.Digest} size: ${aux.Size}`));

    const m = await manifest(plain(), 'busybox', '1');
    assert.equal(m.digest, aux.Digest);
    assert.equal(m.doc.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(m.doc.config.digest, await imageId('busybox'));
    assert.equal(m.doc.layers[0].mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    const digests = await docker(['image', 'inspect', '-f', '{{json .RepoDigests}}', `${host}/busybox:1`]);
    assert.ok((JSON.parse(digests) as string[]).includes(`${host}/busybox@${aux.Digest}`), digests);
    assert.equal(lines.filter((l) => l.status === 'Preparing').length, 1, 'https tried first, then http: one Preparing');
    const events = await docker([
      'events',
      '--since',
      '0',
      '--until',
      `${Math.ceil(Date.now() / 1000) + 1}`,
      '--filter',
      'event=push',
      '--format',
      '{{.Actor.ID}} {{.Actor.Attributes.name}}',
    ]);
    assert.equal(events.trim(), `${host}/busybox:1 ${host}/busybox`);
  });

  test('a second push finds every layer; the CLI renders it', async () => {
    const host = plain().host;
    const out = await docker(['push', `${host}/busybox:1`]);
    assert.match(out, /Layer already exists/);
    assert.match(out, /1: digest: sha256:[0-9a-f]{64} size: \d+/);
  });

  test('another repository of the same registry mounts the layer', async () => {
    const host = plain().host;
    await docker(['tag', 'busybox', `${host}/other/bb:2`]);
    const { lines } = await rawPush(`${host}/other/bb`, '2');
    assert.ok(
      lines.some((l) => l.status === 'Mounted from busybox'),
      JSON.stringify(lines),
    );
    assert.ok(!lines.some((l) => l.status === 'Pushing'));
    const a = await manifest(plain(), 'busybox', '1');
    const m = await manifest(plain(), 'other/bb', '2');
    assert.equal(m.digest, a.digest, 'same layers and config give the same manifest');
  });

  test('an empty tag pushes every tag of the repository', async () => {
    const host = plain().host;
    await docker(['tag', 'busybox', `${host}/multi:a`]);
    await docker(['tag', 'busybox', `${host}/multi:b`]);
    const { lines } = await rawPush(`${host}/multi`, '');
    const tags = lines.filter((l) => l.aux).map((l) => l.aux?.Tag);
    assert.deepEqual(tags.sort(), ['a', 'b']);
  });

  test('a committed image: its uncompressed layer is gzipped while uploading; pulled back by digest', async () => {
    const host = plain().host;
    await docker(['run', '--name', 'pushed-commit', 'busybox', 'sh', '-c', 'echo committed > /marker']);
    await docker(['commit', 'pushed-commit', `${host}/committed:1`]);
    await docker(['rm', 'pushed-commit']);
    const out = await docker(['push', `${host}/committed:1`]);
    assert.match(out, /Pushed/);
    assert.match(out, /Layer already exists|Mounted from/);
    const m = await manifest(plain(), 'committed', '1');
    assert.equal(m.doc.layers.length, 2);
    assert.equal(m.doc.config.digest, await imageId(`${host}/committed:1`));
    const blob = await plain().session().request(`/v2/committed/blobs/${m.doc.layers[1].digest}`, 'repository:committed:pull');
    assert.equal(blob.status, 200);
    assert.equal(Buffer.from(blob.body).subarray(0, 2).toString('hex'), '1f8b');

    // Round trip: gone locally, pulled back by digest, the same image ID, and it runs.
    const id = await imageId(`${host}/committed:1`);
    await docker(['rmi', '-f', id]);
    await docker(['pull', `${host}/committed@${m.digest}`]);
    assert.equal(await imageId(`${host}/committed@${m.digest}`), id);
    assert.equal((await docker(['run', '--rm', `${host}/committed@${m.digest}`, 'cat', '/marker'])).trim(), 'committed');
  });

  test('a gzip layer (as pulled, or loaded compressed) goes up as it is stored', async () => {
    const host = plain().host;
    const archive = await buildBusyboxArchive({
      tags: [`${host}/gz:1`],
      format: 'oci',
      gzipLayers: true,
      config: { Labels: { variant: 'gz' } },
    });
    await b.docker(['load'], { input: archive });
    const { lines } = await rawPush(`${host}/gz`, '1');
    assert.ok(
      lines.some((l) => l.aux),
      JSON.stringify(lines),
    );
    const m = await manifest(plain(), 'gz', '1');
    assert.equal(m.doc.layers[0].mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    assert.ok((await blobDigests(archive)).has(m.doc.layers[0].digest), 'the stored gzip blob itself was pushed');
  });

  test('a pulled image pushed to another repository of its registry mounts from where it came', async () => {
    const host = plain().host;
    const seeded = await seedBusybox(plain(), 'src/pulled', '1', { extraFiles: { 'pulled.txt': 'yes\n' } });
    await docker(['pull', `${host}/src/pulled:1`]);
    await docker(['tag', `${host}/src/pulled:1`, `${host}/dst/pulled:1`]);
    const { lines } = await rawPush(`${host}/dst/pulled`, '1');
    assert.ok(
      lines.some((l) => l.status === 'Mounted from src/pulled'),
      JSON.stringify(lines),
    );
    const m = await manifest(plain(), 'dst/pulled', '1');
    assert.deepEqual(
      m.doc.layers.map((l) => l.digest),
      seeded.layerDigests,
    );
  });

  test('platform (API 1.46): the image must be for it, else a 404 before the stream', async () => {
    const host = plain().host;
    const ok = await b.request('POST', `/v1.46/images/${host}/busybox/push?tag=1&platform=linux/amd64`, {
      headers: { 'X-Registry-Auth': authHeader({}) },
    });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /"aux"/);
    const arm = await b.request('POST', `/v1.46/images/${host}/busybox/push?tag=1&platform=linux/arm64`, {
      headers: { 'X-Registry-Auth': authHeader({}) },
    });
    assert.equal(arm.status, 404);
    assert.equal(
      (JSON.parse(arm.body) as { message: string }).message,
      `image with reference ${host}/busybox:1 was found but its platform (linux/amd64) does not match the specified platform (linux/arm64)`,
    );
    const old = await b.request('POST', `/v1.45/images/${host}/busybox/push?tag=1&platform=linux/arm64`, {
      headers: { 'X-Registry-Auth': authHeader({}) },
    });
    assert.equal(old.status, 200, 'ignored before 1.46');
    const bad = await b.request('POST', `/v1.46/images/${host}/busybox/push?tag=1&platform=linux/a%20b`, {
      headers: { 'X-Registry-Auth': authHeader({}) },
    });
    assert.equal(bad.status, 400);
  });

  test('missing tags and repositories: dockerd texts in the stream', async () => {
    const host = plain().host;
    const noTag = await b.docker(['push', `${host}/busybox:nope`]);
    assert.notEqual(noTag.code, 0);
    assert.match(noTag.stderr, new RegExp(`tag does not exist: ${host}/busybox:nope`));
    const noRepo = await rawPush(`${host}/nothing`, '');
    assert.equal(noRepo.status, 200);
    assert.equal(noRepo.lines[noRepo.lines.length - 1].error, `An image does not exist locally with the tag: ${host}/nothing`);
    const bad = await b.request('POST', '/images/BadName/push?tag=1');
    assert.equal(bad.status, 400);
  });

  test('a Basic-auth registry: refused without credentials, pushed with them', async () => {
    const host = basic().host;
    await docker(['tag', 'busybox', `${host}/secure:1`]);
    const anon = await rawPush(`${host}/secure`, '1');
    const last = anon.lines[anon.lines.length - 1];
    assert.equal(last.error, 'unauthorized: authentication required', JSON.stringify(anon.lines));
    const wrong = await rawPush(`${host}/secure`, '1', { username: 'pusher', password: 'nope', serveraddress: host });
    assert.equal(wrong.lines[wrong.lines.length - 1].error, 'unauthorized: authentication required');
    const ok = await rawPush(`${host}/secure`, '1', { username: 'pusher', password: 's3cret', serveraddress: host });
    assert.ok(
      ok.lines.some((l) => l.aux),
      JSON.stringify(ok.lines),
    );
  });

  test('a token registry: a pull-only user is refused, a writer pushes and mounts with the source scope', async () => {
    const reg = token();
    const host = reg.host;
    await docker(['tag', 'busybox', `${host}/tok/a:1`]);
    const reader = await rawPush(`${host}/tok/a`, '1', { username: 'reader', password: 'r', serveraddress: host });
    // distribution answers a token without push with 401 and error="insufficient_scope": DENIED, as dockerd reads it.
    assert.equal(reader.lines[reader.lines.length - 1].error, 'denied: requested access to the resource is denied');
    const writer = await rawPush(`${host}/tok/a`, '1', { username: 'writer', password: 'w', serveraddress: host });
    assert.ok(
      writer.lines.some((l) => l.aux),
      JSON.stringify(writer.lines),
    );
    await docker(['tag', 'busybox', `${host}/tok/b:1`]);
    const before = reg.tokenServer?.requests.length ?? 0;
    const mounted = await rawPush(`${host}/tok/b`, '1', { username: 'writer', password: 'w', serveraddress: host });
    assert.ok(
      mounted.lines.some((l) => l.status === 'Mounted from tok/a'),
      JSON.stringify(mounted.lines),
    );
    const scopes = (reg.tokenServer?.requests ?? []).slice(before).flatMap((r) => r.scopes);
    assert.ok(scopes.includes('repository:tok/a:pull'), JSON.stringify(scopes));
  });

  test('max-concurrent-uploads 1: the second layer waits', async () => {
    const host = plain().host;
    const one = await startBerth({ args: ['--max-concurrent-uploads', '1'] });
    try {
      await loadBusybox(one);
      const run = async (args: string[]): Promise<void> => {
        const r = await one.docker(args);
        assert.equal(r.code, 0, r.stderr);
      };
      await run(['run', '--name', 'two-layers', 'busybox', 'touch', '/second']);
      await run(['commit', 'two-layers', `${host}/waiting:1`]);
      const r = await one.request('POST', `/images/${host}/waiting/push?tag=1`, { headers: { 'X-Registry-Auth': authHeader({}) } });
      const statuses = r.body
        .split('\r\n')
        .filter((l) => l !== '')
        .map((l) => (JSON.parse(l) as Line).status);
      assert.deepEqual(statuses.slice(1, 4), ['Preparing', 'Preparing', 'Waiting'], r.body);
      assert.ok(statuses.includes('Pushed'));
    } finally {
      await destroyBerth(one);
    }
  });

  test('an unreachable registry is an error in the stream', async () => {
    await docker(['tag', 'busybox', '127.0.0.1:1/busybox:1']);
    const r = await rawPush('127.0.0.1:1/busybox', '1');
    assert.equal(r.status, 200);
    assert.equal(r.lines.length, 2, 'as dockerd: the repository line, then the error (no Preparing)');
    assert.match(r.lines[r.lines.length - 1].error ?? '', /127\.0\.0\.1:1.*(refused|ECONNREFUSED)/);
  });
});
