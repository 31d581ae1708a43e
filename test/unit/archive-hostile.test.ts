// Reading broken and hostile image archives: dockerd's errors, truncated and garbage input, entry
// names that try to leave the temp directory, a failing request stream; no temp file is left.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readImageArchive } from '../../daemon/images/archive-read';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { configFor, fileOf, hex, layer, load, rejects, sha256, source, tarOf, tmp, type TarEntry } from './archive-kit';

/** A valid docker-archive (new layout) whose parts tests can replace. */
async function dockerParts(): Promise<{ l: Buffer; cfg: Buffer; entries: TarEntry[]; manifest: (m: unknown) => TarEntry }> {
  const l = await layer({ f: 'content' });
  const cfg = configFor([sha256(l)]);
  const manifest = (m: unknown): TarEntry => ({ name: 'manifest.json', data: JSON.stringify(m) });
  return {
    l,
    cfg,
    entries: [
      { name: `blobs/sha256/${hex(sha256(cfg))}`, data: cfg },
      { name: `blobs/sha256/${hex(sha256(l))}`, data: l },
    ],
    manifest,
  };
}

test('docker-archive errors carry dockerd-like messages and leave no temp files', async () => {
  const { l, cfg, entries, manifest } = await dockerParts();
  const good = { Config: `blobs/sha256/${hex(sha256(cfg))}`, RepoTags: ['a:1'], Layers: [`blobs/sha256/${hex(sha256(l))}`] };
  // Sanity: the good archive loads.
  await (await load(await tarOf([...entries, manifest([good])]))).cleanup();

  await rejects(await tarOf(entries), 'invalid archive: does not contain a manifest.json');
  await rejects(await tarOf([...entries, { name: 'manifest.json', data: '[{' }]), /^invalid archive: failed to decode manifest.json: /);
  await rejects(await tarOf([...entries, manifest(null)]), 'invalid manifest, manifest cannot be null (but can be [])');
  await rejects(
    await tarOf([...entries, manifest([{ ...good, Layers: [] }])]),
    'invalid manifest, layers length mismatch: expected 0, got 1',
  );
  await rejects(
    await tarOf([...entries, manifest([{ ...good, Layers: ['nope/layer.tar'] }])]),
    'invalid archive: layer "nope/layer.tar" not found in archive',
  );
  await rejects(
    await tarOf([...entries, manifest([{ ...good, Config: 'missing.json' }])]),
    'invalid archive: config "missing.json" not found in archive',
  );
  // A blob whose name is not its digest.
  const wrongName = `blobs/sha256/${'0'.repeat(64)}`;
  await rejects(
    await tarOf([...entries, { name: wrongName, data: l }, manifest([{ ...good, Layers: [wrongName] }])]),
    `invalid archive: digest mismatch for ${wrongName}: content is ${sha256(l)}`,
  );
  // The layer is not the one the config names.
  const other = await layer({ f: 'different' });
  await rejects(
    await tarOf([...entries, { name: 'x/layer.tar', data: other }, manifest([{ ...good, Layers: ['x/layer.tar'] }])]),
    `invalid archive: invalid diffID for layer 0: expected "${sha256(l)}", got "${sha256(other)}"`,
  );
  // Config without rootfs.
  const noRootfs = Buffer.from('{"os":"linux","architecture":"amd64"}');
  await rejects(
    await tarOf([{ name: 'c.json', data: noRootfs }, manifest([{ Config: 'c.json', Layers: [] }])]),
    'invalid image config: missing rootfs',
  );
  // A corrupt gzip layer.
  const gz = gzipSync(l);
  const corrupt = Buffer.concat([gz.subarray(0, 20), Buffer.alloc(40, 7), gz.subarray(60)]);
  await rejects(
    await tarOf([...entries, { name: 'z/layer.tar', data: corrupt }, manifest([{ ...good, Layers: ['z/layer.tar'] }])]),
    /^invalid archive: layer 0: corrupt gzip data/,
  );
});

test('truncated and garbage archives are rejected cleanly', async () => {
  const buf = await buildBusyboxArchive({ tags: ['busybox:latest'] });
  for (const cut of [100, 1000, 513, Math.floor(buf.length / 2), buf.length - 1500]) {
    await rejects(buf.subarray(0, cut), /^invalid archive: /);
  }
  await rejects(Buffer.from('this is not a tar archive at all, just some text'.repeat(20)), /^invalid archive: /);
  await rejects(gzipSync(buf).subarray(0, 5000), /^invalid archive: /);
  await rejects(Buffer.alloc(0), 'invalid archive: does not contain a manifest.json');
});

test('hostile entry names never escape the temp directory', async () => {
  const { l, cfg, entries, manifest } = await dockerParts();
  const parent = tmp();
  const dir = join(parent, 'work');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir);
  const archive = await tarOf([
    { name: '../../escape-1', data: 'x' },
    { name: '/etc/escape-2', data: 'x' },
    { name: '../work/../escape-3', data: 'x' },
    { name: 'link-out', type: 'symlink', linkname: '/etc/passwd' },
    { name: 'dir-out', type: 'symlink', linkname: '../../..' },
    { name: 'hard-out', type: 'link', linkname: '../../../etc/passwd' },
    { name: 'dir-out/escape-4', data: 'x' },
    ...entries,
    // The config is reached through a symlinked directory inside the archive.
    { name: 'cfgdir', type: 'symlink', linkname: 'blobs/sha256' },
    { name: 'deep/a/b', type: 'symlink', linkname: '../../../../../blobs/sha256/' + hex(sha256(l)) },
    manifest([{ Config: `cfgdir/${hex(sha256(cfg))}`, RepoTags: ['a:1'], Layers: ['deep/a/b'] }]),
  ]);
  const read = await readImageArchive(source(archive), dir);
  try {
    assert.ok(readFileSync(fileOf(read.images[0].layers[0])).equals(l));
    assert.equal(read.images[0].configDigest, sha256(cfg));
  } finally {
    await read.cleanup();
  }
  assert.deepEqual(readdirSync(parent), ['work']);
  assert.deepEqual(readdirSync(dir), []);
  assert.equal(existsSync('/etc/escape-2'), false);

  // Names that resolve outside the archive resolve to nothing, never to host files.
  await rejects(
    await tarOf([...entries, { name: 'manifest.json', type: 'symlink', linkname: '/etc/passwd' }]),
    'invalid archive: does not contain a manifest.json',
  );
  await rejects(
    await tarOf([
      ...entries,
      { name: 'l', type: 'link', linkname: '../../../../etc/hostname' },
      manifest([{ Config: `blobs/sha256/${hex(sha256(cfg))}`, Layers: ['l'] }]),
    ]),
    'invalid archive: layer "l" not found in archive',
  );
  // Symlink loops end.
  await rejects(
    await tarOf([
      ...entries,
      { name: 'a', type: 'symlink', linkname: 'b' },
      { name: 'b', type: 'symlink', linkname: 'a' },
      manifest([{ Config: 'a', Layers: [] }]),
    ]),
    'invalid archive: config "a" not found in archive',
  );
});

test('a failing request stream fails the read and removes temp files', async () => {
  const buf = await buildBusyboxArchive({ tags: ['busybox:latest'] });
  const dir = tmp();
  async function* broken(): AsyncGenerator<Buffer> {
    yield buf.subarray(0, 600_000);
    throw Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
  }
  await assert.rejects(readImageArchive(Readable.from(broken()), dir), /aborted/);
  assert.deepEqual(readdirSync(dir), []);
});
