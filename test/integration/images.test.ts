// The image commands of the real docker CLI against a real berthd (embedded containerd): load in
// every layout, list with its options and filters, inspect, history, tag, save, import, rmi and
// prune. Expected IDs and digests are computed from the archives the test builds, never read back
// from Berth, and error texts are dockerd's.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { hostArchitecture } from '../../daemon/images/image-config';
import { buildBusyboxArchive, buildBusyboxLayer, PATH_ENV, type BusyboxArchiveOptions } from '../fixtures/busybox-image';
import {
  archiveImageId,
  archiveLayerFiles,
  contentDigests,
  dockerArchive,
  hex,
  humanSize,
  sha256,
  short,
  smallImage,
  tarOf,
  untar,
} from './archive-tools';
import { destroyBerth, startBerth, type Berth, type RunResult } from './harness';

let b: Berth;
/** The plain busybox fixture tagged busybox:latest, its image ID and its layer's diff ID. */
let busybox: Buffer;
let BB_ID: string;
let BB_DIFF: string;

before(async () => {
  b = await startBerth();
  busybox = await buildBusyboxArchive({ tags: ['busybox:latest'] });
  BB_ID = await archiveImageId(busybox);
  BB_DIFF = sha256(await buildBusyboxLayer());
});

after(async () => {
  if (b) await destroyBerth(b);
});

async function docker(args: string[], input?: Buffer | string): Promise<RunResult> {
  return b.docker(args, { input, timeoutMs: 60_000 });
}

/** Runs docker and requires success; returns stdout. */
async function ok(args: string[], input?: Buffer | string): Promise<string> {
  const r = await docker(args, input);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${r.stderr}\nberthd log:\n${b.log().slice(-3000)}`);
  return r.stdout;
}

/** Runs docker and requires failure with exactly this message on stderr. */
async function fails(args: string[], message: string, input?: Buffer | string): Promise<void> {
  const r = await docker(args, input);
  assert.notEqual(r.code, 0, `docker ${args.join(' ')} should have failed; stdout: ${r.stdout}`);
  assert.equal(r.stderr.trim(), message);
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

/**
 * Asserts `rows` are the groups in order, each group in any order: the CLI sorts image rows by
 * creation time with an unstable sort, so rows of one image (same time) come in any order.
 */
function assertGroups(rows: string[], groups: string[][]): void {
  const got: string[][] = [];
  let i = 0;
  for (const g of groups) {
    got.push(rows.slice(i, i + g.length).sort());
    i += g.length;
  }
  assert.deepEqual({ groups: got, rest: rows.slice(i) }, { groups: groups.map((g) => [...g].sort()), rest: [] }, `rows: ${JSON.stringify(rows)}`);
}

interface Inspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: string;
  Comment: string;
  Config: { Cmd?: string[]; Env?: string[]; Labels?: Record<string, string> | null; Entrypoint?: string[] | null };
  Architecture: string;
  Os: string;
  Size: number;
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

async function inspect(name: string): Promise<Inspect> {
  const all = JSON.parse(await ok(['image', 'inspect', name])) as Inspect[];
  assert.equal(all.length, 1);
  return all[0];
}

interface Summary {
  Id: string;
  RepoTags: string[];
  Labels: Record<string, string>;
  Size: number;
  Created: number;
}

async function apiImages(query = 'all=1'): Promise<Summary[]> {
  const r = await b.request('GET', `/images/json?${query}`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Summary[];
}

/** Removes every image through the raw API, so a test starts from an empty store. */
async function wipe(): Promise<void> {
  for (const img of await apiImages()) {
    const r = await b.request('DELETE', `/images/${img.Id}?force=1`);
    assert.equal(r.status, 200, r.body);
  }
  assert.deepEqual(await apiImages(), []);
}

type SmallImage = Awaited<ReturnType<typeof smallImage>>;

/** The busybox fixture plus a file variant.txt holding `variant`: a distinct image per variant. */
const archFixture = (variant: string, tags: string[], opts: Partial<BusyboxArchiveOptions> = {}): Promise<Buffer> =>
  buildBusyboxArchive({ ...opts, tags, extraFiles: { 'variant.txt': variant } });

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

  test('loading a tag that names another image takes the tag and leaves the old image dangling', async () => {
    const first = await smallImage({ 'v': '1' }, ['moving:tag']);
    const second = await smallImage({ 'v': '2' }, ['moving:tag']);
    await ok(['load'], await dockerArchive([first]));
    const r = await docker(['load'], await dockerArchive([second]));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `The image moving:tag already exists, renaming the old one with ID ${first.id} to empty string\nLoaded image: moving:tag\n`);
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
    one = await smallImage({ 'one': '1' }, ['list/one:1'], { created: '2024-01-01T00:00:00Z', labels: { tier: 'one' } });
    two = await smallImage({ 'two': '2' }, ['list/two:1', 'list/two:2'], { created: '2024-02-01T00:00:00Z', labels: { tier: 'two', extra: 'x' } });
    three = await smallImage({ 'three': '3' }, ['other/three:1'], { created: '2024-03-01T00:00:00Z' });
    none = await smallImage({ 'none': '4' }, [], { created: '2024-04-01T00:00:00Z' });
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
    assert.deepEqual((await apiImages()).map((i) => [i.Id, i.RepoTags]), [
      [none.id, []],
      [three.id, ['other/three:1']],
      [two.id, ['list/two:1', 'list/two:2']],
      [one.id, ['list/one:1']],
    ]);
    const table = lines(await ok(['images']));
    assert.match(table[0], /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.match(table[2], new RegExp(`^other/three\\s+1\\s+${short(three.id)}\\s+\\d+ (months|years?) ago\\s+\\d+(\\.\\d+)?kB$`));
    // -a adds nothing here: none of these images is another's parent.
    assert.deepEqual(lines(await ok(['images', '-a', ...fmt])).sort(), lines(await ok(['images', ...fmt])).sort());
  });

  test('-q prints short IDs, --no-trunc full ones, --format the template', async () => {
    assert.deepEqual(lines(await ok(['images', '-q'])), [none, three, two, two, one].map((i) => short(i.id)));
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
    assertGroups(await ids('--filter', 'reference=list/*'), [[row('list/two:1', two.id), row('list/two:2', two.id)], [row('list/one:1', one.id)]]);
    assert.deepEqual(await ids('--filter', 'reference=list/two:2'), [row('list/two:2', two.id)]);
    assert.deepEqual(await ids('--filter', 'reference=*/*:1'), [row('other/three:1', three.id), row('list/two:1', two.id), row('list/one:1', one.id)]);
    assert.deepEqual(await ids('--filter', 'reference=docker.io/list/one'), [row('list/one:1', one.id)]);
    assert.deepEqual(await ids('list/two:1'), [row('list/two:1', two.id)]);
    assert.deepEqual(await ids('--filter', 'reference=busybox'), []);
  });

  test('--filter dangling=true/false splits untagged from tagged', async () => {
    assert.deepEqual(lines(await ok(['images', '-q', '--no-trunc', '--filter', 'dangling=true'])), [none.id]);
    assert.deepEqual(lines(await ok(['images', '-q', '--no-trunc', '--filter', 'dangling=false'])), [three.id, two.id, two.id, one.id]);
  });

  test('--filter label=KEY and label=KEY=VALUE', async () => {
    const q = async (...f: string[]): Promise<string[]> => lines(await ok(['images', '-q', '--no-trunc', ...f.flatMap((x) => ['--filter', x])]));
    assert.deepEqual(await q('label=tier'), [two.id, two.id, one.id]);
    assert.deepEqual(await q('label=tier=two'), [two.id, two.id]);
    assert.deepEqual(await q('label=tier=one'), [one.id]);
    assert.deepEqual(await q('label=tier', 'label=extra=x'), [two.id, two.id]);
    assert.deepEqual(await q('label=nope'), []);
    const api = await apiImages(`filters=${encodeURIComponent(JSON.stringify({ label: ['tier=one'] }))}`);
    assert.deepEqual(api.map((i) => [i.Id, i.Labels]), [[one.id, { tier: 'one' }]]);
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

  test('an unknown filter is refused with dockerd\'s message', async () => {
    await fails(['images', '--filter', 'bogus=1'], "Error response from daemon: invalid filter 'bogus'");
  });
});

describe('docker image inspect and docker history', () => {
  before(async () => {
    await wipe();
    await ok(['load'], busybox);
  });

  test('inspect shows the fixture\'s config, layers and platform', async () => {
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
    assert.equal((await ok(['image', 'inspect', '--format', '{{.Os}}/{{.Architecture}} {{index .RootFS.Layers 0}}', 'busybox'])).trim(), `linux/${hostArchitecture()} ${BB_DIFF}`);
  });

  test('inspect of an unknown image fails with dockerd\'s message', async () => {
    const r = await docker(['image', 'inspect', 'nosuch']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.trim(), '[]');
    assert.equal(r.stderr.trim(), 'Error response from daemon: No such image: nosuch:latest');
    const raw = await b.request('GET', '/images/nosuch:1.0/json');
    assert.equal(raw.status, 404);
    assert.deepEqual(JSON.parse(raw.body), { message: 'No such image: nosuch:1.0' });
  });

  test('history lists the config\'s history newest first, with the layer size on the ADD row', async () => {
    const img = await inspect('busybox');
    const rows = lines(await ok(['history', 'busybox']));
    assert.equal(rows.length, 3);
    assert.match(rows[0], /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    assert.match(rows[1], new RegExp(`^${short(BB_ID)}\\s+\\d+ years? ago\\s+/bin/sh -c #\\(nop\\)  CMD \\["sh"\\]\\s+0B\\s*$`));
    assert.match(rows[2], new RegExp(`^<missing>\\s+\\d+ years? ago\\s+/bin/sh -c #\\(nop\\) ADD file:${hex(BB_DIFF).slice(0, 10)}\\S*…\\s+${humanSize(img.Size).replace('.', '\\.')}\\s*$`));
    const full = lines(await ok(['history', '--no-trunc', 'busybox']));
    assert.ok(full[1].startsWith(`${BB_ID} `), full[1]);
    assert.ok(full[2].includes(`/bin/sh -c #(nop) ADD file:${hex(BB_DIFF)} in /`), full[2]);
    assert.deepEqual(lines(await ok(['history', '-q', 'busybox'])), [short(BB_ID), '<missing>']);
    assert.deepEqual(lines(await ok(['history', '-q', '--no-trunc', 'busybox'])), [BB_ID, '<missing>']);
    assert.deepEqual(lines(await ok(['history', '--format', '{{.Size}}|{{.CreatedAt}}', '--human=false', 'busybox'])), [
      `0|2024-01-01T00:00:00Z`,
      `${img.Size}|2024-01-01T00:00:00Z`,
    ]);
    const api = JSON.parse((await b.request('GET', '/images/busybox/history')).body) as { Id: string; Created: number; Size: number; Tags: string[] | null }[];
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
    assertGroups(lines(await ok(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])), [expected.map((t) => `${t} ${short(BB_ID)}`)]);
    assert.deepEqual((await inspect('tagged/repo:v1')).RepoTags, expected);
    assert.deepEqual(lines(await ok(['rmi', '-f', BB_ID])), [...expected.map((t) => `Untagged: ${t}`), `Deleted: ${BB_ID}`, `Deleted: ${BB_DIFF}`]);
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

  test('tagging an unknown image fails with dockerd\'s message', async () => {
    await fails(['tag', 'nosuch:1', 'x:1'], 'Error response from daemon: No such image: nosuch:1');
    const r = await b.request('POST', '/images/busybox/tag?repo=sha256&tag=x');
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.body), { message: 'refusing to create an ambiguous tag using digest algorithm as name' });
  });
});

/** `docker save NAMES` as bytes. */
async function saveBytes(names: string[]): Promise<Buffer> {
  const file = path.join(b.dir, `save-${Date.now()}-${Math.random().toString(36).slice(2)}.tar`);
  try {
    await ok(['save', '-o', file, ...names]);
    return fs.readFileSync(file);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

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
      ['import', '-c', 'CMD ["/bin/tool", "--x"]', '-c', 'ENV GREETING=hi THERE=you', '-c', 'LABEL origin=import', '-m', 'imported by test', '-', 'imported/img:v1'],
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
    const id = (await ok(['import', '-c', 'CMD ["sh", "-c", "cat /etc/greeting; echo $GREETING"]', '-c', 'ENV GREETING=hi', '-', 'imported/run:1'], gzipSync(layer))).trim();
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

describe('docker rmi', () => {
  before(async () => {
    await wipe();
    await ok(['load'], busybox);
  });

  test('removing one of several tags only untags', async () => {
    await ok(['tag', 'busybox', 'rmi/extra:1']);
    assert.equal(await ok(['rmi', 'rmi/extra:1']), 'Untagged: rmi/extra:1\n');
    assert.deepEqual((await inspect(BB_ID)).RepoTags, ['busybox:latest']);
  });

  test('an ID with several tags is a 409 conflict unless forced', async () => {
    await ok(['tag', 'busybox', 'rmi/extra:2']);
    await fails(['rmi', short(BB_ID)], `Error response from daemon: conflict: unable to delete ${short(BB_ID)} (must be forced) - image is referenced in multiple repositories`);
    const raw = await b.request('DELETE', `/images/${hex(BB_ID)}`);
    assert.equal(raw.status, 409);
    assert.deepEqual(JSON.parse(raw.body), { message: `conflict: unable to delete ${short(BB_ID)} (must be forced) - image is referenced in multiple repositories` });
    assert.deepEqual((await inspect(BB_ID)).RepoTags, ['busybox:latest', 'rmi/extra:2']);
  });

  test('-f with an ID untags everything and deletes image and layer, content included', async () => {
    assert.ok((await contentDigests(b)).includes(BB_ID));
    const out = lines(await ok(['rmi', '-f', short(BB_ID)]));
    // A one-layer image's chain ID is its layer's diff ID.
    assert.deepEqual(out, ['Untagged: busybox:latest', 'Untagged: rmi/extra:2', `Deleted: ${BB_ID}`, `Deleted: ${BB_DIFF}`]);
    assert.deepEqual(await apiImages(), []);
    const content = await contentDigests(b);
    assert.ok(!content.includes(BB_ID), 'config blob left in containerd');
    assert.ok(!content.includes(BB_DIFF), 'layer blob left in containerd');
  });

  test('removing the last tag deletes the image; --no-prune does too', async () => {
    await ok(['load'], busybox);
    assert.deepEqual(lines(await ok(['rmi', 'busybox'])), ['Untagged: busybox:latest', `Deleted: ${BB_ID}`, `Deleted: ${BB_DIFF}`]);
    await ok(['load'], busybox);
    assert.deepEqual(lines(await ok(['rmi', '--no-prune', 'busybox:latest'])), ['Untagged: busybox:latest', `Deleted: ${BB_ID}`, `Deleted: ${BB_DIFF}`]);
    assert.deepEqual(await apiImages(), []);
  });

  test('a layer shared with another image stays until its last image goes', async () => {
    // Same layer, different config (an author): another image on the same layer.
    const config = JSON.parse(String((await untar(busybox)).get(`blobs/sha256/${hex(BB_ID)}`))) as Record<string, unknown>;
    const a = await dockerArchive([{ config: { ...config, author: 'a' }, layers: [await buildBusyboxLayer()], tags: ['shared:a'] }]);
    const aId = await archiveImageId(a);
    await ok(['load'], busybox);
    await ok(['load'], a);
    assert.deepEqual(lines(await ok(['rmi', 'shared:a'])), ['Untagged: shared:a', `Deleted: ${aId}`]);
    assert.ok((await contentDigests(b)).includes(BB_DIFF));
    assert.equal((await inspect('busybox')).Id, BB_ID);
    assert.deepEqual(lines(await ok(['rmi', 'busybox'])), ['Untagged: busybox:latest', `Deleted: ${BB_ID}`, `Deleted: ${BB_DIFF}`]);
    assert.ok(!(await contentDigests(b)).includes(BB_DIFF));
  });

  test('an image a container uses: its last tag and the image are protected, forcing untags only', async () => {
    await ok(['load'], busybox);
    const cid = (await ok(['create', '--network', 'none', 'busybox', 'sleep', '60'])).trim();
    const c12 = cid.slice(0, 12);
    try {
      const refMsg = `conflict: unable to remove repository reference "busybox" (must force) - container ${c12} is using its referenced image ${short(BB_ID)}`;
      await fails(['rmi', 'busybox'], `Error response from daemon: ${refMsg}`);
      const raw = await b.request('DELETE', '/images/busybox');
      assert.equal(raw.status, 409);
      assert.deepEqual(JSON.parse(raw.body), { message: refMsg });
      await fails(['rmi', short(BB_ID)], `Error response from daemon: conflict: unable to delete ${short(BB_ID)} (must be forced) - image is being used by stopped container ${c12}`);
      // prune -a leaves images in use alone.
      assert.equal(await ok(['image', 'prune', '-a', '-f']), 'Total reclaimed space: 0B\n');
      await ok(['start', cid]);
      await fails(['rmi', '-f', BB_ID], `Error response from daemon: conflict: unable to delete ${short(BB_ID)} (cannot be forced) - image is being used by running container ${c12}`);
      // Forcing the tag away untags; the image stays for its container.
      assert.equal(await ok(['rmi', '-f', 'busybox']), 'Untagged: busybox:latest\n');
      assert.deepEqual((await inspect(BB_ID)).RepoTags, []);
    } finally {
      await docker(['rm', '-f', cid]);
    }
    assert.deepEqual(lines(await ok(['rmi', short(BB_ID)])), [`Deleted: ${BB_ID}`, `Deleted: ${BB_DIFF}`]);
  });

  test('an unknown image: No such image', async () => {
    await fails(['rmi', 'nosuch'], 'Error response from daemon: No such image: nosuch:latest');
    await fails(['rmi', 'sha256:0000000000000000000000000000000000000000000000000000000000000000'], 'Error response from daemon: No such image: sha256:0000000000000000000000000000000000000000000000000000000000000000');
    const r = await b.request('DELETE', '/images/nosuch:2');
    assert.equal(r.status, 404);
    assert.deepEqual(JSON.parse(r.body), { message: 'No such image: nosuch:2' });
  });
});

describe('docker image prune', () => {
  let d1: SmallImage;
  let d2: SmallImage;
  let t1: SmallImage;
  let t2: SmallImage;
  const sizeOf = new Map<string, number>();

  before(async () => {
    await wipe();
    d1 = await smallImage({ d1: 'x'.repeat(5000) }, []);
    d2 = await smallImage({ d2: 'y'.repeat(9000) }, [], { labels: { prune: 'me' } });
    t1 = await smallImage({ t1: 'z'.repeat(20000) }, ['prune/t1:1'], { labels: { prune: 'me' } });
    t2 = await smallImage({ t2: 'w' }, ['prune/t2:1']);
    await ok(['load'], await dockerArchive([d1, d2, t1, t2]));
    for (const i of await apiImages()) sizeOf.set(i.Id, i.Size);
    assert.equal(sizeOf.size, 4);
  });

  const pruneOutput = (records: string[], ids: string[]): string =>
    `Deleted Images:\n${records.join('\n')}\n\nTotal reclaimed space: ${humanSize(ids.reduce((n, id) => n + (sizeOf.get(id) ?? NaN), 0))}\n`;

  test('--filter label=… limits dangling pruning to matching images', async () => {
    const out = await ok(['image', 'prune', '-f', '--filter', 'label=prune=me']);
    assert.equal(out, pruneOutput([`deleted: ${d2.id}`, `deleted: ${d2.diffId}`], [d2.id]));
  });

  test('without -a only dangling images go', async () => {
    const out = await ok(['image', 'prune', '-f']);
    assert.equal(out, pruneOutput([`deleted: ${d1.id}`, `deleted: ${d1.diffId}`], [d1.id]));
    assert.deepEqual((await apiImages()).map((i) => i.Id).sort(), [t1.id, t2.id].sort());
    assert.equal(await ok(['image', 'prune', '-f']), 'Total reclaimed space: 0B\n');
  });

  test('-a with a label filter removes only the matching tagged image', async () => {
    const out = await ok(['image', 'prune', '-a', '-f', '--filter', 'label=prune=me']);
    assert.equal(out, pruneOutput(['untagged: prune/t1:1', `deleted: ${t1.id}`, `deleted: ${t1.diffId}`], [t1.id]));
    assert.deepEqual((await apiImages()).map((i) => i.Id), [t2.id]);
  });

  test('-a removes every unused image and reports the space', async () => {
    const r = await b.request('POST', '/images/prune?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D');
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), {
      ImagesDeleted: [{ Untagged: 'prune/t2:1' }, { Deleted: t2.id }, { Deleted: t2.diffId }],
      SpaceReclaimed: sizeOf.get(t2.id),
    });
    assert.deepEqual(await apiImages(), []);
    assert.equal(await ok(['image', 'prune', '-a', '-f']), 'Total reclaimed space: 0B\n');
  });
});
