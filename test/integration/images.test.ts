// The image commands of the real docker CLI against a real berthd (embedded containerd): load in
// every layout, list with its options and filters, inspect, history, tag, save, import, rmi and
// prune. Expected IDs and digests are computed from the archives the test builds, never read back
// from Berth, and error texts are dockerd's.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { hostArchitecture } from '../../daemon/images/image-config';
import { buildBusyboxLayer, PATH_ENV, type BusyboxArchiveOptions } from '../fixtures/busybox-image';
import { archiveImageId, archiveLayerFiles, dockerArchive, hex, humanSize, sha256, short, smallImage } from './archive-tools';
import {
  BB_DIFF,
  BB_ID,
  type SmallImage,
  apiImages,
  archFixture,
  assertGroups,
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

describe('server', () => {
  test('docker version names Berth, its API range, and the containerd and runc it runs on', async () => {
    const out = await ok(['version']);
    assert.match(out, /Server: Berth\n/);
    assert.match(out, /API version:\s+1\.53 \(minimum version 1\.24\)/);
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
    assert.equal((await ok(['version', '--format', '{{.Server.Version}}'])).trim(), pkg.version);
    // The versions the host's binaries report, as the Components list carries them.
    const ctdVersion = execFileSync('containerd', ['--version'], { encoding: 'utf8' }).split(' ')[2];
    const runcVersion = /runc version (\S+)/.exec(execFileSync('runc', ['--version'], { encoding: 'utf8' }))?.[1];
    const comps = (await ok(['version', '--format', '{{range .Server.Components}}{{.Name}}={{.Version}};{{end}}'])).trim();
    assert.ok(comps.includes(`containerd=${ctdVersion};`), comps);
    assert.ok(comps.includes(`runc=${runcVersion};`), comps);
    const osArch = (await ok(['version', '--format', '{{.Server.Os}}/{{.Server.Arch}} {{.Server.KernelVersion}}'])).trim();
    assert.equal(osArch, `linux/${hostArchitecture()} ${os.release()}`);
  });

  test('docker info reports this daemon, and its image count follows loads and removals', async () => {
    await wipe();
    const text = await ok(['info']);
    assert.match(text, /Server Version: \S+/);
    assert.match(text, /\n Images: 0\n/);
    const info = JSON.parse(await ok(['info', '--format', '{{json .}}'])) as Record<string, unknown>;
    assert.equal(info.Images, 0);
    assert.equal(info.Driver, 'overlayfs');
    assert.equal(info.DockerRootDir, b.dataRoot);
    assert.equal(info.OSType, 'linux');
    assert.equal(info.KernelVersion, os.release());
    assert.equal(info.NCPU, os.cpus().length);
    assert.ok(typeof info.MemTotal === 'number' && info.MemTotal > 0);
    assert.ok(typeof info.ID === 'string' && info.ID !== '');
    assert.equal(info.Containers, 0);

    await ok(['load'], busybox);
    assert.equal((await ok(['info', '--format', '{{.Images}}'])).trim(), '1');
    await ok(['load'], await archFixture('second', ['second:1']));
    assert.match(await ok(['info']), /\n Images: 2\n/);
    // Another tag is not another image.
    await ok(['tag', 'busybox', 'again:1']);
    assert.equal((await ok(['info', '--format', '{{.Images}}'])).trim(), '2');
    await ok(['rmi', 'second:1']);
    assert.equal((await ok(['info', '--format', '{{.Images}}'])).trim(), '1');
  });
});

describe('docker load', () => {
  before(wipe);

  // Each layout gets its own content, so each load must really store a new image.
  const layouts: { name: string; tag: string; opts: Partial<BusyboxArchiveOptions>; gzipWhole?: boolean }[] = [
    { name: 'docker format (docker save >= 25)', tag: 'layout:docker', opts: {} },
    { name: 'bare OCI layout', tag: 'layout:oci', opts: { format: 'oci' } },
    { name: 'gzip-compressed layers', tag: 'layout:gzip', opts: { gzipLayers: true } },
    { name: 'dockerd 20.10 layout (<id>/layer.tar)', tag: 'layout:legacy', opts: { legacyLayout: true } },
    { name: 'a gzipped whole archive', tag: 'layout:targz', opts: {}, gzipWhole: true },
  ];
  for (const l of layouts) {
    test(`loads ${l.name}`, async () => {
      const variant = l.tag.split(':')[1];
      const archive = await archFixture(variant, [l.tag], l.opts);
      // Layout and compression do not change the config, hence not the ID.
      const id = await archiveImageId(await archFixture(variant, [l.tag]));
      const diffId = sha256(await buildBusyboxLayer({ extraFiles: { 'variant.txt': variant } }));
      const out = await ok(['load'], l.gzipWhole ? gzipSync(archive) : archive);
      assert.equal(out, `Loaded image: ${l.tag}\n`);
      const img = await inspect(l.tag);
      assert.equal(img.Id, id);
      assert.deepEqual(img.RepoTags, [l.tag]);
      assert.deepEqual(img.RootFS, { Type: 'layers', Layers: [diffId] });
      // The stored layer holds the archive's files (read back through docker save).
      const files = await archiveLayerFiles(Buffer.from(await saveBytes([l.tag])));
      assert.equal(String(files.get('variant.txt')), variant);
      assert.ok((files.get('bin/busybox')?.length ?? 0) > 100_000);
    });
  }

  test('every loaded layout runs: its files are in the container', async () => {
    for (const l of layouts) {
      const variant = l.tag.split(':')[1];
      const out = await ok(['run', '--rm', '--network', 'none', l.tag, 'cat', '/variant.txt']);
      assert.equal(out, variant, l.name);
    }
  });

  test('loads `docker load -i FILE` and keeps the same ID on a second load', async () => {
    const file = path.join(b.dir, 'busybox.tar');
    fs.writeFileSync(file, busybox);
    assert.equal(await ok(['load', '-i', file]), 'Loaded image: busybox:latest\n');
    assert.equal(await ok(['load', '-q', '-i', file]), 'Loaded image: busybox:latest\n');
    assert.equal((await inspect('busybox')).Id, BB_ID);
    fs.rmSync(file);
  });

  test('loads several images from one tar, each with its tags', async () => {
    const a = await smallImage({ 'a.txt': 'a' }, ['multi/a:1']);
    const c = await smallImage({ 'c.txt': 'c' }, ['multi/c:1', 'multi/c:2']);
    const out = await ok(['load'], await dockerArchive([a, c]));
    assert.equal(out, 'Loaded image: multi/a:1\nLoaded image: multi/c:1\nLoaded image: multi/c:2\n');
    assert.equal((await inspect('multi/a:1')).Id, a.id);
    assert.equal((await inspect('multi/c:1')).Id, c.id);
    assert.deepEqual((await inspect(c.id)).RepoTags, ['multi/c:1', 'multi/c:2']);
  });

  test('an untagged image loads by ID and lists as dangling', async () => {
    const archive = await archFixture('untagged', []);
    const id = await archiveImageId(archive);
    assert.equal(await ok(['load'], archive), `Loaded image ID: ${id}\n`);
    const dangling = lines(await ok(['images', '--filter', 'dangling=true', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}']));
    assert.deepEqual(dangling, [`${id} <none>:<none>`]);
  });

  test('loads blobs that another containerd namespace already stores (containerd shares them across namespaces)', async () => {
    // containerd's writer for a blob another namespace holds reports the blob's whole size at
    // once; the load must take the blob over, not append to it (it failed once with "blob is
    // 2N bytes, expected N").
    const archive = await archFixture('in two namespaces', ['shared/blobs:1']);
    const id = await archiveImageId(archive);
    const file = path.join(b.dir, 'shared-blobs.tar');
    fs.writeFileSync(file, archive);
    const ctr = (args: string[]): string =>
      execFileSync('ctr', ['-a', path.join(b.execRoot, 'containerd', 'containerd.sock'), '-n', 'berth-test-other', ...args], {
        encoding: 'utf8',
      });
    ctr(['images', 'import', '--no-unpack', file]);
    try {
      assert.equal(await ok(['load', '-i', file]), 'Loaded image: shared/blobs:1\n');
      assert.equal((await inspect('shared/blobs:1')).Id, id);
      assert.equal(await ok(['run', '--rm', '--network', 'none', 'shared/blobs:1', 'cat', '/variant.txt']), 'in two namespaces');
    } finally {
      ctr(['images', 'rm', 'docker.io/shared/blobs:1']);
      fs.rmSync(file);
    }
  });

  test('loading a tag that names another image takes the tag and leaves the old image dangling', async () => {
    const first = await smallImage({ v: '1' }, ['moving:tag']);
    const second = await smallImage({ v: '2' }, ['moving:tag']);
    await ok(['load'], await dockerArchive([first]));
    const r = await docker(['load'], await dockerArchive([second]));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `The image moving:tag already exists, renaming the old one with ID ${first.id} to empty string\nLoaded image: moving:tag\n`,
    );
    assert.equal((await inspect('moving:tag')).Id, second.id);
    assert.deepEqual((await inspect(first.id)).RepoTags, []);
  });
});

describe('docker images', () => {
  // Four images with known creation times and labels, newest first:
  // <none> (2024-04), other/three:1 (2024-03), list/two:1+2 (2024-02, tier=two extra=x), list/one:1 (2024-01, tier=one).
  let one: SmallImage;
  let two: SmallImage;
  let three: SmallImage;
  let none: SmallImage;

  before(async () => {
    await wipe();
    one = await smallImage({ one: '1' }, ['list/one:1'], { created: '2024-01-01T00:00:00Z', labels: { tier: 'one' } });
    two = await smallImage({ two: '2' }, ['list/two:1', 'list/two:2'], {
      created: '2024-02-01T00:00:00Z',
      labels: { tier: 'two', extra: 'x' },
    });
    three = await smallImage({ three: '3' }, ['other/three:1'], { created: '2024-03-01T00:00:00Z' });
    none = await smallImage({ none: '4' }, [], { created: '2024-04-01T00:00:00Z' });
    await ok(['load'], await dockerArchive([one, two, three, none]));
  });

  const fmt = ['--format', '{{.Repository}}:{{.Tag}} {{.ID}}'];
  const row = (name: string, id: string): string => `${name} ${short(id)}`;

  test('lists newest first, one row per tag, dangling images as <none>', async () => {
    assertGroups(lines(await ok(['images', ...fmt])), [
      [row('<none>:<none>', none.id)],
      [row('other/three:1', three.id)],
      [row('list/two:1', two.id), row('list/two:2', two.id)],
      [row('list/one:1', one.id)],
    ]);
    // The API lists an image's tags in lexical order.
    assert.deepEqual(
      (await apiImages()).map((i) => [i.Id, i.RepoTags]),
      [
        [none.id, []],
        [three.id, ['other/three:1']],
        [two.id, ['list/two:1', 'list/two:2']],
        [one.id, ['list/one:1']],
      ],
    );
    const table = lines(await ok(['images']));
    assert.match(table[0], /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.match(table[2], new RegExp(`^other/three\\s+1\\s+${short(three.id)}\\s+\\d+ (months|years?) ago\\s+\\d+(\\.\\d+)?kB$`));
    // -a adds nothing here: none of these images is another's parent.
    assert.deepEqual(lines(await ok(['images', '-a', ...fmt])).sort(), lines(await ok(['images', ...fmt])).sort());
  });

  test('-q prints short IDs, --no-trunc full ones, --format the template', async () => {
    assert.deepEqual(
      lines(await ok(['images', '-q'])),
      [none, three, two, two, one].map((i) => short(i.id)),
    );
    assert.deepEqual(lines(await ok(['images', '-q', '--no-trunc', 'list/one'])), [one.id]);
    assert.deepEqual(lines(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}', 'list/two'])).sort(), ['list/two:1', 'list/two:2']);
  });

  test('--digests adds the DIGEST column (<none>: loaded images have no repository digest)', async () => {
    const table = lines(await ok(['images', '--digests', 'list/one']));
    assert.match(table[0], /^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.match(table[1], new RegExp(`^list/one\\s+1\\s+<none>\\s+${short(one.id)}\\s`));
    const r = await b.request('GET', '/images/json?digests=1');
    const listed = JSON.parse(r.body) as { Id: string; RepoDigests: string[] }[];
    assert.deepEqual(listed.find((i) => i.Id === one.id)?.RepoDigests, []);
  });

  test('--filter reference matches familiar names, globs and tags; the positional argument is the same filter', async () => {
    const ids = async (...args: string[]): Promise<string[]> => lines(await ok(['images', ...args, ...fmt]));
    assertGroups(await ids('--filter', 'reference=list/*'), [
      [row('list/two:1', two.id), row('list/two:2', two.id)],
      [row('list/one:1', one.id)],
    ]);
    assert.deepEqual(await ids('--filter', 'reference=list/two:2'), [row('list/two:2', two.id)]);
    assert.deepEqual(await ids('--filter', 'reference=*/*:1'), [
      row('other/three:1', three.id),
      row('list/two:1', two.id),
      row('list/one:1', one.id),
    ]);
    assert.deepEqual(await ids('--filter', 'reference=docker.io/list/one'), [row('list/one:1', one.id)]);
    assert.deepEqual(await ids('list/two:1'), [row('list/two:1', two.id)]);
    assert.deepEqual(await ids('--filter', 'reference=busybox'), []);
  });

  test('--filter dangling=true/false splits untagged from tagged', async () => {
    assert.deepEqual(lines(await ok(['images', '-q', '--no-trunc', '--filter', 'dangling=true'])), [none.id]);
    assert.deepEqual(lines(await ok(['images', '-q', '--no-trunc', '--filter', 'dangling=false'])), [three.id, two.id, two.id, one.id]);
  });

  test('--filter label=KEY and label=KEY=VALUE', async () => {
    const q = async (...f: string[]): Promise<string[]> =>
      lines(await ok(['images', '-q', '--no-trunc', ...f.flatMap((x) => ['--filter', x])]));
    assert.deepEqual(await q('label=tier'), [two.id, two.id, one.id]);
    assert.deepEqual(await q('label=tier=two'), [two.id, two.id]);
    assert.deepEqual(await q('label=tier=one'), [one.id]);
    assert.deepEqual(await q('label=tier', 'label=extra=x'), [two.id, two.id]);
    assert.deepEqual(await q('label=nope'), []);
    const api = await apiImages(`filters=${encodeURIComponent(JSON.stringify({ label: ['tier=one'] }))}`);
    assert.deepEqual(
      api.map((i) => [i.Id, i.Labels]),
      [[one.id, { tier: 'one' }]],
    );
  });

  test('--filter before= and since= compare creation times against a named image; until= against a time', async () => {
    const q = async (f: string): Promise<string[]> => lines(await ok(['images', '-q', '--no-trunc', '--filter', f]));
    assert.deepEqual(await q('before=list/two:1'), [one.id]);
    assert.deepEqual(await q(`before=${short(three.id)}`), [two.id, two.id, one.id]);
    assert.deepEqual(await q('since=list/two:2'), [none.id, three.id]);
    assert.deepEqual(await q(`since=${none.id}`), []);
    assert.deepEqual(await q('until=2024-02-15T00:00:00Z'), [two.id, two.id, one.id]);
    await fails(['images', '--filter', 'before=nosuch'], 'Error response from daemon: No such image: nosuch:latest');
  });

  test("an unknown filter is refused with dockerd's message", async () => {
    await fails(['images', '--filter', 'bogus=1'], "Error response from daemon: invalid filter 'bogus'");
  });
});

describe('docker image inspect and docker history', () => {
  before(async () => {
    await wipe();
    await ok(['load'], busybox);
  });

  test("inspect shows the fixture's config, layers and platform", async () => {
    const img = await inspect('busybox');
    assert.equal(img.Id, BB_ID);
    assert.deepEqual(img.RepoTags, ['busybox:latest']);
    assert.deepEqual(img.RepoDigests, []);
    assert.equal(img.Created, '2024-01-01T00:00:00Z');
    assert.deepEqual(img.Config.Cmd, ['sh']);
    assert.deepEqual(img.Config.Env, [PATH_ENV]);
    assert.deepEqual(img.RootFS, { Type: 'layers', Layers: [BB_DIFF] });
    assert.equal(img.Architecture, hostArchitecture());
    assert.equal(img.Os, 'linux');
    // Unpacked size: at least the busybox binary itself.
    assert.ok(img.Size >= fs.statSync('/bin/busybox').size, `Size ${img.Size}`);
    // As dockerd: tags that come with a load do not count as tagging.
    assert.equal(img.Metadata.LastTagTime, '0001-01-01T00:00:00Z');
    // The same image by full ID, by ID without algorithm, by short ID, and by canonical name.
    for (const name of [BB_ID, hex(BB_ID), short(BB_ID), 'docker.io/library/busybox:latest']) {
      assert.equal((await inspect(name)).Id, BB_ID, name);
    }
    assert.equal(
      (await ok(['image', 'inspect', '--format', '{{.Os}}/{{.Architecture}} {{index .RootFS.Layers 0}}', 'busybox'])).trim(),
      `linux/${hostArchitecture()} ${BB_DIFF}`,
    );
  });

  test("inspect of an unknown image fails with dockerd's message", async () => {
    const r = await docker(['image', 'inspect', 'nosuch']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.trim(), '[]');
    assert.equal(r.stderr.trim(), 'Error response from daemon: No such image: nosuch:latest');
    const raw = await b.request('GET', '/images/nosuch:1.0/json');
    assert.equal(raw.status, 404);
    assert.deepEqual(JSON.parse(raw.body), { message: 'No such image: nosuch:1.0' });
  });

  test("history lists the config's history newest first, with the layer size on the ADD row", async () => {
    const img = await inspect('busybox');
    const rows = lines(await ok(['history', 'busybox']));
    assert.equal(rows.length, 3);
    assert.match(rows[0], /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    assert.match(rows[1], new RegExp(`^${short(BB_ID)}\\s+\\d+ years? ago\\s+/bin/sh -c #\\(nop\\)  CMD \\["sh"\\]\\s+0B\\s*$`));
    assert.match(
      rows[2],
      new RegExp(
        `^<missing>\\s+\\d+ years? ago\\s+/bin/sh -c #\\(nop\\) ADD file:${hex(BB_DIFF).slice(0, 10)}\\S*…\\s+${humanSize(img.Size).replace('.', '\\.')}\\s*$`,
      ),
    );
    const full = lines(await ok(['history', '--no-trunc', 'busybox']));
    assert.ok(full[1].startsWith(`${BB_ID} `), full[1]);
    assert.ok(full[2].includes(`/bin/sh -c #(nop) ADD file:${hex(BB_DIFF)} in /`), full[2]);
    assert.deepEqual(lines(await ok(['history', '-q', 'busybox'])), [short(BB_ID), '<missing>']);
    assert.deepEqual(lines(await ok(['history', '-q', '--no-trunc', 'busybox'])), [BB_ID, '<missing>']);
    assert.deepEqual(lines(await ok(['history', '--format', '{{.Size}}|{{.CreatedAt}}', '--human=false', 'busybox'])), [
      `0|2024-01-01T00:00:00Z`,
      `${img.Size}|2024-01-01T00:00:00Z`,
    ]);
    const api = JSON.parse((await b.request('GET', '/images/busybox/history')).body) as {
      Id: string;
      Created: number;
      Size: number;
      Tags: string[] | null;
    }[];
    assert.deepEqual(
      api.map((h) => [h.Id, h.Created, h.Size, h.Tags]),
      [
        [BB_ID, 1704067200, 0, ['busybox:latest']],
        ['<missing>', 1704067200, img.Size, null],
      ],
    );
    await fails(['history', 'nosuch'], 'Error response from daemon: No such image: nosuch:latest');
  });
});

describe('docker tag', () => {
  before(async () => {
    await wipe();
    await ok(['load'], busybox);
  });

  test('a new tag lists next to the old one, on the same ID; tags in lexical order of their full names', async () => {
    const before = Date.now();
    assert.equal(await ok(['tag', 'busybox', 'tagged/repo:v1']), '');
    const tagTime = Date.parse((await inspect('busybox')).Metadata.LastTagTime);
    assert.ok(tagTime >= before - 1000 && tagTime <= Date.now() + 1000, `LastTagTime ${tagTime}`);
    await ok(['tag', short(BB_ID), 'localhost:5000/a/b:t']);
    await ok(['tag', BB_ID, 'aaa:1']);
    // As dockerd's reference store orders them (docker.io/library/aaa < … < localhost:5000/…), not by age.
    const expected = ['aaa:1', 'busybox:latest', 'tagged/repo:v1', 'localhost:5000/a/b:t'];
    assertGroups(lines(await ok(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])), [
      expected.map((t) => `${t} ${short(BB_ID)}`),
    ]);
    assert.deepEqual((await inspect('tagged/repo:v1')).RepoTags, expected);
    assert.deepEqual(lines(await ok(['rmi', '-f', BB_ID])), [
      ...expected.map((t) => `Untagged: ${t}`),
      `Deleted: ${BB_ID}`,
      `Deleted: ${BB_DIFF}`,
    ]);
    await ok(['load'], busybox);
  });

  test('moving a tag to another image leaves the old one dangling', async () => {
    const first = await smallImage({ f: '1' }, ['mv/tag:1']);
    const second = await smallImage({ f: '2' }, []);
    await ok(['load'], await dockerArchive([first, second]));
    await ok(['tag', second.id, 'mv/tag:1']);
    assert.equal((await inspect('mv/tag:1')).Id, second.id);
    const rows = lines(await ok(['images', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}', '--filter', 'dangling=true']));
    assert.deepEqual(rows, [`${first.id} <none>:<none>`]);
  });

  test("tagging an unknown image fails with dockerd's message", async () => {
    await fails(['tag', 'nosuch:1', 'x:1'], 'Error response from daemon: No such image: nosuch:1');
    const r = await b.request('POST', '/images/busybox/tag?repo=sha256&tag=x');
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.body), { message: 'refusing to create an ambiguous tag using digest algorithm as name' });
  });
});

/** `docker save NAMES` as bytes. */
