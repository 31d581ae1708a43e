import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { readImageArchive } from '../../daemon/images/archive-read';
import { writeImageArchive, type SaveImage } from '../../daemon/images/archive-write';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { configFor, fileOf, hex, layer, load, rejects, sha256, source, tarOf, tmp, type TarEntry } from './archive-kit';

/** Entries of a tar, with content. */
async function untar(buf: Buffer): Promise<{ name: string; type: string; mtime: number; mode: number; data: Buffer; linkname: string }[]> {
  const ex = tar.extract();
  const out: { name: string; type: string; mtime: number; mode: number; data: Buffer; linkname: string }[] = [];
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      stream.on('end', () => {
        out.push({ name: h.name, type: h.type, mtime: h.mtime.getTime(), mode: h.mode, data: Buffer.concat(chunks), linkname: h.linkname });
        next();
      });
    });
    ex.on('finish', () => resolve());
    ex.on('error', reject);
  });
  ex.end(buf);
  await done;
  return out;
}

async function collect(images: SaveImage[]): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await writeImageArchive(images, out);
  return Buffer.concat(chunks);
}

function saveImage(config: Buffer, layers: Buffer[], repoTags: string[]): SaveImage {
  return {
    configDigest: sha256(config),
    config,
    repoTags,
    layers: layers.map((l) => ({ diffId: sha256(l), size: l.length, open: () => Readable.from([l]) })),
  };
}

test('write then read round-trips images, tags and shared layers', async () => {
  const base = await layer({ 'etc/hostname': 'base\n' });
  const top = await layer({ 'app/run': 'echo hi\n' });
  const cfgA = configFor([sha256(base)]);
  const cfgB = configFor([sha256(base), sha256(top)], { config: { Cmd: ['run'] } });
  const archive = await collect([
    saveImage(cfgA, [base], ['busybox:latest', 'docker.io/library/busybox:1']),
    saveImage(cfgB, [base, top], ['registry.local:5000/team/app:v2']),
    saveImage(cfgA, [base], ['other/name:x']), // same image again: merged
  ]);

  const entries = await untar(archive);
  const names = entries.map((e) => e.name);
  assert.deepEqual(names, [...names].sort(), 'entries are in lexical order');
  assert.deepEqual(names.slice(0, 2), ['blobs/', 'blobs/sha256/']);
  assert.deepEqual(names.slice(-4), ['index.json', 'manifest.json', 'oci-layout', 'repositories']);
  // The shared layer is stored once, uncompressed, under its diff ID.
  assert.equal(names.filter((n) => n === `blobs/sha256/${hex(sha256(base))}`).length, 1);
  assert.equal(names.filter((n) => n.startsWith('blobs/sha256/') && n.length > 'blobs/sha256/'.length).length, 6);
  const byName = new Map(entries.map((e) => [e.name, e]));
  assert.equal(byName.get('oci-layout')?.data.toString(), '{"imageLayoutVersion": "1.0.0"}');
  assert.equal(byName.get('manifest.json')?.mtime, 0);
  assert.equal(byName.get(`blobs/sha256/${hex(sha256(top))}`)?.mtime, Date.parse('2024-05-06T07:08:09Z'));
  assert.equal(byName.get(`blobs/sha256/${hex(sha256(top))}`)?.mode, 0o644);

  const manifest = JSON.parse(byName.get('manifest.json')?.data.toString() ?? '') as {
    Config: string;
    RepoTags: string[];
    Layers: string[];
  }[];
  assert.deepEqual(manifest, [
    {
      Config: `blobs/sha256/${hex(sha256(cfgA))}`,
      RepoTags: ['busybox:latest', 'busybox:1', 'other/name:x'],
      Layers: [`blobs/sha256/${hex(sha256(base))}`],
    },
    {
      Config: `blobs/sha256/${hex(sha256(cfgB))}`,
      RepoTags: ['registry.local:5000/team/app:v2'],
      Layers: [`blobs/sha256/${hex(sha256(base))}`, `blobs/sha256/${hex(sha256(top))}`],
    },
  ]);
  const index = JSON.parse(byName.get('index.json')?.data.toString() ?? '') as {
    manifests: { digest: string; annotations: Record<string, string> }[];
  };
  assert.deepEqual(
    index.manifests.map((m) => m.annotations),
    [
      { 'io.containerd.image.name': 'docker.io/library/busybox:latest', 'org.opencontainers.image.ref.name': 'latest' },
      { 'io.containerd.image.name': 'docker.io/library/busybox:1', 'org.opencontainers.image.ref.name': '1' },
      { 'io.containerd.image.name': 'docker.io/other/name:x', 'org.opencontainers.image.ref.name': 'x' },
      { 'io.containerd.image.name': 'registry.local:5000/team/app:v2', 'org.opencontainers.image.ref.name': 'v2' },
    ],
  );
  assert.deepEqual(JSON.parse(byName.get('repositories')?.data.toString() ?? ''), {
    busybox: { latest: hex(sha256(base)), '1': hex(sha256(base)) },
    'other/name': { x: hex(sha256(base)) },
    'registry.local:5000/team/app': { v2: hex(sha256(top)) },
  });
  // Each OCI manifest blob names the config and the layers.
  const m = JSON.parse(byName.get(`blobs/sha256/${hex(index.manifests[3].digest)}`)?.data.toString() ?? '') as {
    config: { digest: string; size: number };
    layers: { digest: string; mediaType: string }[];
  };
  assert.equal(m.config.digest, sha256(cfgB));
  assert.equal(m.config.size, cfgB.length);
  assert.deepEqual(
    m.layers.map((l) => l.mediaType),
    ['application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.layer.v1.tar'],
  );

  // Same input, same bytes.
  const again = await collect([
    saveImage(cfgA, [base], ['busybox:latest', 'docker.io/library/busybox:1']),
    saveImage(cfgB, [base, top], ['registry.local:5000/team/app:v2']),
    saveImage(cfgA, [base], ['other/name:x']),
  ]);
  assert.ok(again.equals(archive));

  const read = await load(archive);
  try {
    assert.equal(read.images.length, 2);
    const [a, b] = read.images;
    assert.ok(a.config.equals(cfgA));
    assert.equal(a.configDigest, sha256(cfgA));
    assert.deepEqual(a.repoTags, ['busybox:latest', 'busybox:1', 'other/name:x']);
    assert.deepEqual(b.repoTags, ['registry.local:5000/team/app:v2']);
    assert.deepEqual(
      b.layers.map((l) => ({ digest: l.digest, diffId: l.diffId, size: l.size, u: l.uncompressedSize, mt: l.mediaType })),
      [base, top].map((l) => ({
        digest: sha256(l),
        diffId: sha256(l),
        size: l.length,
        u: l.length,
        mt: 'application/vnd.oci.image.layer.v1.tar',
      })),
    );
    assert.ok(readFileSync(fileOf(b.layers[1])).equals(top));
  } finally {
    await read.cleanup();
  }
});

test('untagged images are saved and written as docker does', async () => {
  const l = await layer({ a: '1' });
  const cfg = configFor([sha256(l)]);
  const entries = await untar(await collect([saveImage(cfg, [l], [])]));
  const names = entries.map((e) => e.name);
  assert.ok(!names.includes('repositories'));
  const manifest = JSON.parse(entries.find((e) => e.name === 'manifest.json')?.data.toString() ?? '') as { RepoTags: unknown }[];
  assert.equal(manifest[0].RepoTags, null);
  const index = JSON.parse(entries.find((e) => e.name === 'index.json')?.data.toString() ?? '') as {
    manifests: { annotations?: unknown }[];
  };
  assert.equal(index.manifests.length, 1);
  assert.equal(index.manifests[0].annotations, undefined);
});

test('the writer rejects bad input before writing and aborts on bad layer bytes', async () => {
  const l = await layer({ a: '1' });
  const cfg = configFor([sha256(l)]);
  await assert.rejects(collect([saveImage(cfg, [l], ['Bad:tag'])]), /must be lowercase/);
  await assert.rejects(collect([saveImage(cfg, [l], [`busybox@sha256:${'a'.repeat(64)}`])]), /must be name:tag/);
  await assert.rejects(collect([{ ...saveImage(cfg, [l], []), configDigest: sha256('other') }]), /does not match its digest/);
  const lying: SaveImage = {
    ...saveImage(cfg, [l], ['x:1']),
    layers: [{ diffId: sha256(l), size: l.length, open: () => Readable.from([Buffer.alloc(l.length)]) }],
  };
  const out = new PassThrough();
  out.resume();
  await assert.rejects(writeImageArchive([lying], out), /does not match its diff ID/);
  assert.equal(out.destroyed, true);
  const short: SaveImage = {
    ...saveImage(cfg, [l], ['x:1']),
    layers: [{ diffId: sha256(l), size: l.length + 10, open: () => Readable.from([l]) }],
  };
  await assert.rejects(collect([short]), /bytes, expected/);
});

test('reads the dockerd 20.10 layout, with symlinked shared layers', async () => {
  // As `docker save` of dockerd <= 24 writes it: a directory per layer named by its v1 ID; a layer
  // that was already saved for another image is a symlink, which may come before its target.
  const base = await layer({ 'bin/sh': 'x' });
  const top = await layer({ hello: 'data\n' });
  const cfgA = configFor([sha256(base)]);
  const cfgB = configFor([sha256(base), sha256(top)]);
  const idA = 'a'.repeat(64);
  const idB1 = 'b'.repeat(64);
  const idB2 = 'c'.repeat(64);
  const archive = await tarOf([
    { name: `${hex(sha256(cfgA))}.json`, data: cfgA },
    { name: `${hex(sha256(cfgB))}.json`, data: cfgB },
    { name: `${idA}/`, type: 'directory' },
    { name: `${idA}/VERSION`, data: '1.0' },
    { name: `${idA}/json`, data: `{"id":"${idA}"}` },
    { name: `${idA}/layer.tar`, type: 'symlink', linkname: `../${idB1}/layer.tar` },
    { name: `${idB1}/`, type: 'directory' },
    { name: `${idB1}/VERSION`, data: '1.0' },
    { name: `${idB1}/json`, data: `{"id":"${idB1}"}` },
    { name: `${idB1}/layer.tar`, data: base },
    { name: `${idB2}/`, type: 'directory' },
    { name: `${idB2}/VERSION`, data: '1.0' },
    { name: `${idB2}/json`, data: `{"id":"${idB2}","parent":"${idB1}"}` },
    { name: `${idB2}/layer.tar`, data: top },
    {
      name: 'manifest.json',
      data: JSON.stringify([
        { Config: `${hex(sha256(cfgA))}.json`, RepoTags: ['busybox:latest'], Layers: [`${idA}/layer.tar`] },
        {
          Config: `${hex(sha256(cfgB))}.json`,
          RepoTags: ['derived:1'],
          Layers: [`${idB1}/layer.tar`, `${idB2}/layer.tar`],
          Parent: sha256(cfgA),
        },
      ]),
    },
    { name: 'repositories', data: JSON.stringify({ busybox: { latest: idA }, derived: { '1': idB2 } }) },
  ]);
  const read = await load(archive);
  try {
    assert.deepEqual(
      read.images.map((i) => i.repoTags),
      [['busybox:latest'], ['derived:1']],
    );
    assert.deepEqual(
      read.images.map((i) => i.configDigest),
      [sha256(cfgA), sha256(cfgB)],
    );
    assert.equal(read.images[0].layers[0].path, read.images[1].layers[0].path);
    assert.ok(readFileSync(fileOf(read.images[0].layers[0])).equals(base));
    assert.equal(read.images[1].layers[1].diffId, sha256(top));
  } finally {
    await read.cleanup();
  }
});

test('the busybox fixture reads back the same in every layout', async () => {
  const variants = [
    { format: 'docker' as const },
    { format: 'oci' as const },
    { format: 'docker' as const, gzipLayers: true },
    { format: 'oci' as const, gzipLayers: true },
    { legacyLayout: true },
    { legacyLayout: true, gzipLayers: true },
  ];
  let diffId: string | undefined;
  let configDigest: string | undefined;
  for (const v of variants) {
    const buf = await buildBusyboxArchive({ tags: ['busybox:latest', 'busybox:1.35'], ...v });
    const again = await buildBusyboxArchive({ tags: ['busybox:latest', 'busybox:1.35'], ...v });
    assert.ok(buf.equals(again), `${JSON.stringify(v)} is deterministic`);
    const read = await load(buf);
    try {
      assert.equal(read.images.length, 1, JSON.stringify(v));
      const img = read.images[0];
      const expectedTags =
        v.format === 'oci' ? ['docker.io/library/busybox:latest', 'docker.io/library/busybox:1.35'] : ['busybox:latest', 'busybox:1.35'];
      assert.deepEqual(img.repoTags, expectedTags, JSON.stringify(v));
      assert.equal(img.layers.length, 1);
      const l = img.layers[0];
      diffId ??= l.diffId;
      configDigest ??= img.configDigest;
      assert.equal(l.diffId, diffId);
      assert.equal(img.configDigest, configDigest);
      assert.equal(l.mediaType, v.gzipLayers ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar');
      assert.equal(l.digest === l.diffId, !v.gzipLayers);
      assert.ok(l.uncompressedSize > 1_000_000);
      assert.equal(sha256(readFileSync(fileOf(l))), l.digest);
    } finally {
      await read.cleanup();
    }
  }
});

test('the fixture layer has busybox, applet links and the base files', async () => {
  const buf = await buildBusyboxArchive({ tags: ['bb:1'], extraFiles: { 'srv/www/index.html': 'hi' } });
  const read = await load(buf);
  try {
    const entries = await untar(readFileSync(fileOf(read.images[0].layers[0])));
    const by = new Map(entries.map((e) => [e.name, e]));
    assert.equal(by.get('bin/busybox')?.type, 'file');
    assert.equal(by.get('bin/sh')?.type, 'symlink');
    assert.equal(by.get('bin/sh')?.linkname, '/bin/busybox');
    assert.equal(by.get('usr/bin/env')?.linkname, '/bin/busybox');
    assert.equal(by.get('tmp/')?.mode, 0o1777);
    assert.match(by.get('etc/passwd')?.data.toString() ?? '', /^root:x:0:0:/m);
    assert.match(by.get('etc/passwd')?.data.toString() ?? '', /^nobody:x:65534:65534:/m);
    assert.match(by.get('etc/group')?.data.toString() ?? '', /^root:x:0:/m);
    for (const d of ['proc/', 'sys/', 'dev/', 'root/', 'home/', 'var/', 'srv/', 'srv/www/']) assert.equal(by.get(d)?.type, 'directory', d);
    assert.equal(by.get('srv/www/index.html')?.data.toString(), 'hi');
    const config = JSON.parse(read.images[0].config.toString()) as { config: { Cmd: string[]; Env: string[] }; history: unknown[] };
    assert.deepEqual(config.config.Cmd, ['sh']);
    assert.match(config.config.Env[0], /^PATH=/);
    assert.equal(config.history.length, 2);
  } finally {
    await read.cleanup();
  }
});

test('a gzip-compressed archive is accepted', async () => {
  const buf = await buildBusyboxArchive({ tags: ['busybox:latest'] });
  const read = await load(gzipSync(buf));
  try {
    assert.deepEqual(read.images[0].repoTags, ['busybox:latest']);
  } finally {
    await read.cleanup();
  }
});

/** A minimal OCI layout: returns the files so tests can tamper with them. */
async function ociFiles(): Promise<{ l: Buffer; cfg: Buffer; manifest: Buffer; blobs: TarEntry[] }> {
  const l = gzipSync(await layer({ f: 'x' }));
  const diffId = sha256(await layer({ f: 'x' }));
  const cfg = configFor([diffId]);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(cfg), size: cfg.length },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: sha256(l), size: l.length }],
    }),
  );
  const blobs = [l, cfg, manifest].map((b) => ({ name: `blobs/sha256/${hex(sha256(b))}`, data: b }));
  return { l, cfg, manifest, blobs };
}

test('OCI layout: nested index, platform choice, annotations', async () => {
  const { cfg, manifest, blobs } = await ociFiles();
  const mdesc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length };
  const nested = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { ...mdesc, digest: sha256('absent arm64 manifest'), platform: { os: 'linux', architecture: 'arm64' } },
        { ...mdesc, platform: { os: 'linux', architecture: 'amd64' } },
        { ...mdesc, digest: sha256('attestation'), platform: { os: 'unknown', architecture: 'unknown' } },
      ],
    }),
  );
  const idesc = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(nested), size: nested.length };
  const index = {
    schemaVersion: 2,
    manifests: [
      { ...idesc, annotations: { 'io.containerd.image.name': 'docker.io/library/multi:1', 'org.opencontainers.image.ref.name': '1' } },
      { ...mdesc, annotations: { 'org.opencontainers.image.ref.name': 'example.com/single:2' } },
      { ...mdesc, annotations: { 'org.opencontainers.image.ref.name': 'latest' } },
      { mediaType: 'application/vnd.example.artifact', digest: sha256('x'), size: 1 },
    ],
  };
  const archive = await tarOf([
    ...blobs,
    { name: `blobs/sha256/${hex(sha256(nested))}`, data: nested },
    { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', data: JSON.stringify(index) },
  ]);
  const dir = tmp();
  const read = await readImageArchive(source(archive), dir, { platform: { os: 'linux', architecture: 'amd64' } });
  try {
    assert.equal(read.images.length, 1);
    assert.deepEqual(read.images[0].repoTags, ['docker.io/library/multi:1', 'example.com/single:2']);
    assert.equal(read.images[0].configDigest, sha256(cfg));
    // The declared media type is kept when it agrees with the bytes.
    assert.equal(read.images[0].layers[0].mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
  } finally {
    await read.cleanup();
  }
  assert.deepEqual(readdirSync(dir), []);
  await assert.rejects(
    readImageArchive(source(archive), tmp(), { platform: { os: 'linux', architecture: 's390x' } }),
    /no manifest for platform linux\/s390x/,
  );
});

test('OCI layout: blob digests and sizes are verified', async () => {
  const { l, manifest, blobs } = await ociFiles();
  const index = JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length }],
  });
  const tampered = blobs.map((b) => (b.name === `blobs/sha256/${hex(sha256(l))}` ? { ...b, data: gzipSync('other') } : b));
  await rejects(
    await tarOf([...tampered, { name: 'index.json', data: index }]),
    `invalid archive: digest mismatch for layer blob ${sha256(l)}: content is ${sha256(gzipSync('other'))}`,
  );
  const badSize = JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length + 1 }],
  });
  await rejects(await tarOf([...blobs, { name: 'index.json', data: badSize }]), /size mismatch for manifest blob/);
  const missing = blobs.filter((b) => b.name !== `blobs/sha256/${hex(sha256(l))}`);
  await rejects(
    await tarOf([...missing, { name: 'index.json', data: index }]),
    `invalid archive: layer blob ${sha256(l)} not found in archive`,
  );
});

test('with a blob store, large entries stream into it (named blobs with their expected digest) and small ones stay files', async () => {
  // Random hex: still large once gzipped.
  const big = await layer({ 'big.bin': randomBytes(100_000).toString('hex') });
  const small = await layer({ 's.txt': 's' });
  const gz = gzipSync(big);
  const config = configFor([sha256(big), sha256(small), sha256(big)]);
  const manifest = [
    {
      Config: `blobs/sha256/${hex(sha256(config))}`,
      RepoTags: ['stream:1'],
      Layers: [`blobs/sha256/${hex(sha256(big))}`, `blobs/sha256/${hex(sha256(small))}`, 'legacy/layer.tar.gz'],
    },
  ];
  const archive = await tarOf([
    { name: `blobs/sha256/${hex(sha256(big))}`, data: big },
    { name: `blobs/sha256/${hex(sha256(small))}`, data: small },
    { name: 'legacy/layer.tar.gz', data: gz },
    { name: `blobs/sha256/${hex(sha256(config))}`, data: config },
    { name: 'manifest.json', data: JSON.stringify(manifest) },
  ]);
  const stored = new Map<string, Buffer>();
  const opened: { size: number; expected?: string }[] = [];
  const store = {
    minSize: 10_000,
    open: async (o: { size: number; expected?: string }) => {
      opened.push(o);
      const parts: Buffer[] = [];
      return {
        write: async (c: Buffer) => {
          parts.push(Buffer.from(c));
        },
        commit: async (digest: string) => {
          const data = Buffer.concat(parts);
          assert.equal(sha256(data), digest, 'committed under another digest');
          stored.set(digest, data);
        },
        abort: async () => undefined,
      };
    },
    read: async (digest: string) => stored.get(digest) ?? assert.fail(`${digest} not stored`),
  };
  const read = await readImageArchive(source(archive), tmp(), { store });
  try {
    const [img] = read.images;
    assert.deepEqual(img.repoTags, ['stream:1']);
    assert.deepEqual(opened, [
      { size: big.length, expected: sha256(big) },
      { size: gz.length, expected: undefined },
    ]);
    // Streamed layers have no temp file; the small one has.
    assert.equal(img.layers[0].path, undefined);
    assert.ok(stored.get(img.layers[0].digest)?.equals(big));
    assert.ok(readFileSync(fileOf(img.layers[1])).equals(small));
    assert.equal(img.layers[2].path, undefined);
    assert.equal(img.layers[2].digest, sha256(gz));
    assert.equal(img.layers[2].diffId, sha256(big));
    assert.ok(stored.get(sha256(gz))?.equals(gz));
  } finally {
    await read.cleanup();
  }
});
