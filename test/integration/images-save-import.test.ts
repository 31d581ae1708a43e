// docker save and docker import with the real docker CLI against a real berthd: archive layouts,
// round trips, --change, and dockerd's refusals. Expected IDs and digests are computed from the
// archives the test builds, never read back from Berth.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { hostArchitecture } from '../../daemon/images/image-config';
import { buildBusyboxLayer } from '../fixtures/busybox-image';
import { archiveLayerFiles, dockerArchive, hex, sha256, short, smallImage, tarOf, untar } from './archive-tools';
import {
  BB_DIFF,
  BB_ID,
  type SmallImage,
  apiImages,
  b,
  busybox,
  docker,
  fails,
  inspect,
  lines,
  ok,
  saveBytes,
  wipe,
  useImagesBerth,
} from './images-kit';

useImagesBerth();

describe('docker save', () => {
  let other: SmallImage;
  before(async () => {
    await wipe();
    await ok(['load'], busybox);
    other = await smallImage({ 'etc/other': 'other\n' }, ['other:1']);
    await ok(['load'], await dockerArchive([other]));
  });

  test('a name: docker-archive plus OCI layout, with the exact config and layer', async () => {
    const tar = await saveBytes(['busybox']);
    const files = await untar(tar);
    for (const f of ['manifest.json', 'index.json', 'oci-layout', 'repositories']) assert.ok(files.has(f), `${f} missing`);
    const manifest = JSON.parse(String(files.get('manifest.json'))) as { Config: string; RepoTags: string[] | null; Layers: string[] }[];
    assert.equal(manifest.length, 1);
    assert.deepEqual(manifest[0].RepoTags, ['busybox:latest']);
    assert.equal(sha256(files.get(manifest[0].Config) ?? ''), BB_ID);
    assert.equal(manifest[0].Layers.length, 1);
    assert.equal(sha256(files.get(manifest[0].Layers[0]) ?? ''), BB_DIFF);
    const repositories = JSON.parse(String(files.get('repositories'))) as Record<string, Record<string, string>>;
    assert.match(repositories.busybox?.latest ?? '', /^[a-f0-9]{64}$/);
    const index = JSON.parse(String(files.get('index.json'))) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0].annotations?.['io.containerd.image.name'], 'docker.io/library/busybox:latest');
    assert.equal(index.manifests[0].annotations?.['org.opencontainers.image.ref.name'], 'latest');
    const ociManifest = JSON.parse(String(files.get(`blobs/sha256/${hex(index.manifests[0].digest)}`))) as { config: { digest: string } };
    assert.equal(ociManifest.config.digest, BB_ID);
    assert.deepEqual(JSON.parse(String(files.get('oci-layout'))), { imageLayoutVersion: '1.0.0' });
    // Written to stdout the same.
    const viaStdout = await b.request('GET', '/images/busybox/get');
    assert.equal(viaStdout.status, 200);
    assert.equal(viaStdout.headers['content-type'], 'application/x-tar');
  });

  test('several names: one archive with every image and its tags', async () => {
    const files = await untar(await saveBytes(['busybox', 'other:1']));
    const manifest = JSON.parse(String(files.get('manifest.json'))) as { Config: string; RepoTags: string[] }[];
    assert.deepEqual(
      manifest.map((m) => [sha256(files.get(m.Config) ?? ''), m.RepoTags]).sort(),
      [
        [BB_ID, ['busybox:latest']],
        [other.id, ['other:1']],
      ].sort(),
    );
    const layers = await archiveLayerFiles(await saveBytes(['other:1']));
    assert.equal(String(layers.get('etc/other')), 'other\n');
  });

  test('an ID: the image without tags', async () => {
    const files = await untar(await saveBytes([short(BB_ID)]));
    const manifest = JSON.parse(String(files.get('manifest.json'))) as { Config: string; RepoTags: string[] | null }[];
    assert.equal(manifest.length, 1);
    assert.equal(manifest[0].RepoTags, null);
    assert.equal(sha256(files.get(manifest[0].Config) ?? ''), BB_ID);
  });

  test('docker save | docker load round trip keeps the ID and the tag', async () => {
    const tar = await saveBytes(['busybox']);
    await ok(['rmi', 'busybox']);
    await fails(['image', 'inspect', 'busybox'], 'Error response from daemon: No such image: busybox:latest');
    assert.equal(await ok(['load'], tar), 'Loaded image: busybox:latest\n');
    assert.equal((await inspect('busybox')).Id, BB_ID);
    // Saving again gives the same bytes: nothing in the archive depends on when it was made.
    assert.ok(tar.equals(await saveBytes(['busybox'])));
  });

  test('an unknown name fails before anything is written', async () => {
    const file = path.join(b.dir, 'never.tar');
    await fails(['save', '-o', file, 'busybox', 'nosuch'], 'Error response from daemon: No such image: nosuch:latest');
    assert.equal(fs.existsSync(file), false);
  });
});

describe('docker import', () => {
  let rootfs: Buffer;
  before(async () => {
    await wipe();
    rootfs = await tarOf([
      { name: 'etc/' },
      { name: 'etc/greeting', data: 'hello from import\n' },
      { name: 'bin/' },
      { name: 'bin/tool', data: '#!/bin/sh\necho tool\n', mode: 0o755 },
      { name: 'bin/link', type: 'symlink', linkname: 'tool' },
    ]);
  });

  test('from stdin, gzip-compressed, with CMD, ENV, a message and a tag', async () => {
    const out = await ok(
      [
        'import',
        '-c',
        'CMD ["/bin/tool", "--x"]',
        '-c',
        'ENV GREETING=hi THERE=you',
        '-c',
        'LABEL origin=import',
        '-m',
        'imported by test',
        '-',
        'imported/img:v1',
      ],
      gzipSync(rootfs),
    );
    assert.match(out, /^sha256:[a-f0-9]{64}\n$/);
    const id = out.trim();
    const img = await inspect('imported/img:v1');
    assert.equal(img.Id, id);
    assert.deepEqual(img.RepoTags, ['imported/img:v1']);
    assert.deepEqual(img.Config.Cmd, ['/bin/tool', '--x']);
    assert.deepEqual(img.Config.Env, ['GREETING=hi', 'THERE=you']);
    assert.deepEqual(img.Config.Labels, { origin: 'import' });
    assert.equal(img.Comment, 'imported by test');
    // The layer is stored decompressed: its diff ID is the plain tar's digest.
    assert.deepEqual(img.RootFS, { Type: 'layers', Layers: [sha256(rootfs)] });
    assert.equal(img.Architecture, hostArchitecture());
    assert.equal(img.Os, 'linux');
    assert.ok(Math.abs(Date.parse(img.Created) - Date.now()) < 120_000, img.Created);
    const history = lines(await ok(['history', '--format', '{{.Comment}}', 'imported/img:v1']));
    assert.deepEqual(history, ['imported by test']);
    // The files are in the stored layer.
    const files = await archiveLayerFiles(await saveBytes(['imported/img:v1']));
    assert.equal(String(files.get('etc/greeting')), 'hello from import\n');
    assert.equal(String(files.get('bin/tool')), '#!/bin/sh\necho tool\n');
    assert.equal(String(files.get('bin/link')), '-> tool');
  });

  test('an imported busybox root file system runs with the CMD and ENV given', async () => {
    const layer = await buildBusyboxLayer({ extraFiles: { 'etc/greeting': 'hello from import\n' } });
    const id = (
      await ok(
        ['import', '-c', 'CMD ["sh", "-c", "cat /etc/greeting; echo $GREETING"]', '-c', 'ENV GREETING=hi', '-', 'imported/run:1'],
        gzipSync(layer),
      )
    ).trim();
    assert.equal((await inspect('imported/run:1')).Id, id);
    assert.equal(await ok(['run', '--rm', '--network', 'none', 'imported/run:1']), 'hello from import\nhi\n');
  });

  test('a plain tar without a tag gives a dangling image with the default message', async () => {
    const id = (await ok(['import', '-'], rootfs)).trim();
    assert.match(id, /^sha256:[a-f0-9]{64}$/);
    const img = await inspect(id);
    assert.deepEqual(img.RepoTags, []);
    assert.equal(img.Comment, 'Imported from -');
    assert.deepEqual(img.RootFS.Layers, [sha256(rootfs)]);
    assert.equal(img.Config.Cmd ?? null, null);
    const dangling = lines(await ok(['images', '-q', '--no-trunc', '--filter', 'dangling=true']));
    assert.ok(dangling.includes(id));
  });

  test('from a file, with a repository and no tag: tagged latest', async () => {
    const file = path.join(b.dir, 'rootfs.tar');
    fs.writeFileSync(file, rootfs);
    const id = (await ok(['import', file, 'fromfile'])).trim();
    fs.rmSync(file);
    assert.equal((await inspect('fromfile:latest')).Id, id);
  });

  test('data that is not a tar is refused as dockerd does, and stores nothing', async () => {
    const before = (await apiImages()).length;
    await fails(['import', '-'], 'Error response from daemon: Error processing tar file: unexpected EOF', 'garbage, not a tar');
    assert.equal((await apiImages()).length, before);
  });

  test('a change that is not allowed is refused and stores nothing', async () => {
    const before = (await apiImages()).length;
    await fails(['import', '-c', 'RUN echo no', '-'], 'Error response from daemon: RUN is not a valid change command', rootfs);
    assert.equal((await apiImages()).length, before);
  });
});

describe('docker load of the pre-1.10 layout (repositories, <id>/json, <id>/layer.tar)', () => {
  const BASE = 'a'.repeat(64);
  const TOP = 'b'.repeat(64);
  const v1 = (id: string, extra: Record<string, unknown>): string =>
    // Pretty-printed and with v1-only fields, as old daemons wrote it: the config drops them.
    JSON.stringify(
      { id, Size: 123, docker_version: '1.9.1', architecture: hostArchitecture() === 'arm64' ? 'arm64' : 'amd64', os: 'linux', ...extra },
      null,
      2,
    );
  async function legacyArchive(baseLayer: Buffer, topLayer: Buffer, topConfig: Record<string, unknown>): Promise<Buffer> {
    return tarOf([
      { name: 'repositories', data: JSON.stringify({ 'legacy/app': { v1: TOP } }) },
      { name: `${BASE}/` },
      { name: `${BASE}/VERSION`, data: '1.0' },
      {
        name: `${BASE}/json`,
        data: v1(BASE, {
          created: '2015-06-01T10:00:00.123000000Z',
          container_config: { Cmd: ['/bin/sh', '-c', '#(nop) ADD file:base in /'] },
          config: { Cmd: ['sh'] },
        }),
      },
      { name: `${BASE}/layer.tar`, data: baseLayer },
      { name: `${TOP}/` },
      { name: `${TOP}/VERSION`, data: '1.0' },
      {
        name: `${TOP}/json`,
        data: v1(TOP, {
          parent: BASE,
          created: '2015-06-02T11:00:00Z',
          author: 'Berth <tests>',
          container_config: { Cmd: ['/bin/sh', '-c', 'echo <x> && touch y'] },
          config: topConfig,
        }),
      },
      { name: `${TOP}/layer.tar`, data: topLayer },
    ]);
  }

  test('loads the named image with its parent chain, history and config, and it runs', async () => {
    const top = await tarOf([{ name: 'added.txt', data: 'from a legacy archive\n' }]);
    const archive = await legacyArchive(await buildBusyboxLayer(), top, { Cmd: ['cat', '/added.txt'], Env: ['PATH=/bin'] });
    assert.equal((await ok(['load'], archive)).trim(), 'Loaded image: legacy/app:v1');
    const img = await inspect('legacy/app:v1');
    assert.equal(img.RootFS.Layers.length, 2);
    assert.equal(img.RootFS.Layers[1], sha256(top));
    assert.equal(img.Author, 'Berth <tests>');
    assert.deepEqual(img.Config.Cmd, ['cat', '/added.txt']);
    const history = lines(await ok(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'legacy/app:v1']));
    assert.deepEqual(history, ['/bin/sh -c echo <x> && touch y', '/bin/sh -c #(nop) ADD file:base in /']);
    assert.equal(await ok(['run', '--rm', 'legacy/app:v1']), 'from a legacy archive\n');
    await ok(['rmi', 'legacy/app:v1']);
  });

  test('the image ID is the one dockerd gives the same archive', async () => {
    const archive = await legacyArchive(
      await tarOf([{ name: 'base.txt', data: 'base\n' }]),
      await tarOf([{ name: 'top.txt', data: 'top\n' }]),
      { Cmd: ['true'] },
    );
    await ok(['load'], archive);
    // Loaded into dockerd 20.10 (amd64): its Go encoder sorts keys, compacts and escapes <, > and &.
    if (hostArchitecture() === 'amd64')
      assert.equal((await inspect('legacy/app:v1')).Id, 'sha256:da29d0484cd89f663be6d3bae7881fd6c4a4f9ae3aa6fd61ecf9beb5dcfbd699');
    await ok(['rmi', 'legacy/app:v1']);
  });

  test('a parent missing from the archive is refused and nothing is tagged', async () => {
    const archive = await tarOf([
      { name: 'repositories', data: JSON.stringify({ 'legacy/broken': { v1: TOP } }) },
      { name: `${TOP}/json`, data: v1(TOP, { parent: BASE, created: '2015-06-02T11:00:00Z', config: {} }) },
      { name: `${TOP}/layer.tar`, data: await tarOf([{ name: 'x', data: 'x' }]) },
    ]);
    const r = await docker(['load'], archive);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /not found in archive/);
    assert.equal((await docker(['image', 'inspect', 'legacy/broken:v1'])).code, 1);
  });
});
