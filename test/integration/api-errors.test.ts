// Bad input over the raw API against a real berthd: status codes and `{"message": …}` bodies as
// dockerd gives them, and image archives that are corrupt, truncated or hostile, which must fail
// (or load) without leaving anything half-imported, referenced in containerd, or written outside.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { archiveImageId, containerdState, ctr, dockerArchive, imageConfig, sha256, smallImage, tarOf, untar, walk } from './archive-tools';
import { destroyBerth, startBerth, type Berth, type HttpResult } from './harness';

let b: Berth;
let busybox: Buffer;
let BB_ID: string;

before(async () => {
  b = await startBerth();
  busybox = await buildBusyboxArchive({ tags: ['busybox:latest'] });
  BB_ID = await archiveImageId(busybox);
});

after(async () => {
  if (b) await destroyBerth(b);
});

/** Asserts status and an exact `{"message": …}` JSON body. */
function expectError(r: HttpResult, status: number, message: string): void {
  assert.equal(r.status, status, r.body);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.deepEqual(JSON.parse(r.body), { message });
}

const filters = (f: unknown): string => encodeURIComponent(JSON.stringify(f));

async function imageIds(): Promise<string[]> {
  const r = await b.request('GET', '/images/json?all=1');
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as { Id: string }[]).map((i) => i.Id).sort();
}

describe('request errors', () => {
  before(async () => {
    const r = await b.request('POST', '/images/load?quiet=1', { body: busybox, headers: { 'Content-Type': 'application/x-tar' } });
    assert.equal(r.status, 200, r.body);
  });

  test("a malformed JSON body on a JSON route is a 400 with the decoder's message", async () => {
    for (const route of ['/volumes/create', '/networks/create', '/containers/create']) {
      const r = await b.request('POST', route, { body: '{"Name": ', headers: { 'Content-Type': 'application/json' } });
      expectError(r, 400, 'invalid JSON: unexpected EOF');
      const r2 = await b.request('POST', route, { body: '{bad', headers: { 'Content-Type': 'application/json' } });
      expectError(r2, 400, "invalid JSON: invalid character 'b' looking for beginning of object key string");
    }
  });

  test('create checks ExtraHosts and HostPort as dockerd does (Go IP syntax, ParsePortRange)', async () => {
    const create = (hostConfig: unknown): Promise<HttpResult> =>
      b.request('POST', '/containers/create', {
        body: JSON.stringify({ Image: 'busybox', HostConfig: hostConfig }),
        headers: { 'Content-Type': 'application/json' },
      });
    // dockerd 20.10.24 answered each of these the same (asked on a daemon of its own).
    expectError(await create({ ExtraHosts: ['a:010.0.0.1'] }), 400, 'invalid IP address in add-host: "010.0.0.1"');
    expectError(await create({ ExtraHosts: ['a:1:2'] }), 400, 'invalid IP address in add-host: "1:2"');
    expectError(await create({ PortBindings: { '80/tcp': [{ HostPort: ' 80' }] } }), 400, 'invalid port specification: " 80"');
    expectError(await create({ PortBindings: { '80/tcp': [{ HostPort: '65536' }] } }), 400, 'invalid port specification: "65536"');
    expectError(await create({ PortBindings: { '80/tcp': [{ HostPort: '9000-8000' }] } }), 400, 'invalid port specification: "9000-8000"');
    // net.ParseIP's argument is trimmed; ParsePortRange splits a protocol off.
    for (const hostConfig of [{ ExtraHosts: ['a: 10.0.0.1'] }, { PortBindings: { '80/tcp': [{ HostPort: '18080/tcp' }] } }]) {
      const r = await create(hostConfig);
      assert.equal(r.status, 201, r.body);
      const { Id } = JSON.parse(r.body) as { Id: string };
      assert.equal((await b.request('DELETE', `/containers/${Id}`)).status, 204);
    }
  });

  test("stop's t is strconv.Atoi's: a sign is fine, beyond int64 is a 400 with Go's text", async () => {
    const r = await b.request('POST', '/containers/create', {
      body: JSON.stringify({ Image: 'busybox' }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(r.status, 201, r.body);
    const { Id } = JSON.parse(r.body) as { Id: string };
    try {
      expectError(await b.request('POST', `/containers/${Id}/stop?t=1e3`), 400, 'strconv.Atoi: parsing "1e3": invalid syntax');
      expectError(
        await b.request('POST', `/containers/${Id}/stop?t=99999999999999999999`),
        400,
        'strconv.Atoi: parsing "99999999999999999999": value out of range',
      );
      // not running: dockerd's 304, once t has parsed
      assert.equal((await b.request('POST', `/containers/${Id}/stop?t=%2B1`)).status, 304);
    } finally {
      assert.equal((await b.request('DELETE', `/containers/${Id}`)).status, 204);
    }
  });

  test('a bad reference is a 400 naming the problem', async () => {
    expectError(
      await b.request('GET', '/images/UPPER/json'),
      400,
      'invalid reference format: repository name (library/UPPER) must be lowercase',
    );
    expectError(await b.request('GET', '/images/a@b/json'), 400, 'invalid reference format');
    expectError(await b.request('GET', '/images/busybox:-x/json'), 400, 'invalid reference format');
    expectError(
      await b.request('POST', '/images/busybox/tag?repo=Busy&tag=1'),
      400,
      'invalid reference format: repository name (library/Busy) must be lowercase',
    );
    expectError(
      await b.request('DELETE', '/images/UPPER'),
      400,
      'invalid reference format: repository name (library/UPPER) must be lowercase',
    );
  });

  test('an unknown image is a 404 with the normalised name', async () => {
    expectError(await b.request('GET', '/images/x/json'), 404, 'No such image: x:latest');
    expectError(await b.request('GET', '/images/x:1/history'), 404, 'No such image: x:1');
    expectError(await b.request('GET', `/images/sha256:${'0'.repeat(64)}/json`), 404, `No such image: sha256:${'0'.repeat(64)}`);
    expectError(await b.request('POST', '/images/x/tag?repo=y'), 404, 'No such image: x:latest');
    expectError(await b.request('GET', '/images/x/get'), 404, 'No such image: x:latest');
  });

  test("an API version outside 1.24–1.53 is a 400 with dockerd's wording", async () => {
    // JSON below 1.24 too (current moby; 20.10 answered those in plain text).
    expectError(
      await b.request('GET', '/v1.12/version'),
      400,
      'client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version',
    );
    expectError(await b.request('GET', '/v9.99/version'), 400, 'client version 9.99 is too new. Maximum supported API version is 1.53');
    expectError(await b.request('GET', '/v1.54/images/json'), 400, 'client version 1.54 is too new. Maximum supported API version is 1.53');
    for (const v of ['/v1.24', '/v1.41', '/v1.53', '']) {
      const r = await b.request('GET', `${v}/images/json`);
      assert.equal(r.status, 200, `${v}: ${r.body}`);
    }
  });

  test('an unknown path is a 404 "page not found"', async () => {
    expectError(await b.request('GET', '/nope'), 404, 'page not found');
    expectError(await b.request('GET', '/v1.53/images/busybox/nope'), 404, 'page not found');
    expectError(await b.request('PUT', '/images/json'), 404, 'page not found');
  });

  test('a route not implemented yet is a 501 naming the operation', async () => {
    expectError(await b.request('POST', '/session'), 501, 'Session is not implemented');
  });

  test('swarm routes answer 503 as an inactive swarm node', async () => {
    const manager =
      'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
    expectError(await b.request('GET', '/swarm'), 503, manager);
    expectError(await b.request('GET', '/services'), 503, manager);
    expectError(await b.request('GET', '/nodes'), 503, manager);
  });

  test('an unknown filter key on /images/json is a 400; malformed filters too', async () => {
    expectError(await b.request('GET', `/images/json?filters=${filters({ x: ['1'] })}`), 400, "invalid filter 'x'");
    expectError(
      await b.request('GET', `/images/json?filters=${filters({ dangling: ['maybe'] })}`),
      400,
      "invalid filter 'dangling=[maybe]'",
    );
    const r = await b.request('GET', '/images/json?filters=notjson');
    assert.equal(r.status, 400, r.body);
  });

  test('the legacy map[string]map[string]bool filter form works like the current one', async () => {
    const legacy = await b.request('GET', `/images/json?filters=${filters({ reference: { busybox: true } })}`);
    const current = await b.request('GET', `/images/json?filters=${filters({ reference: ['busybox'] })}`);
    assert.equal(legacy.status, 200, legacy.body);
    const ids = (r: HttpResult): string[] => (JSON.parse(r.body) as { Id: string }[]).map((i) => i.Id);
    assert.deepEqual(ids(legacy), [BB_ID]);
    assert.deepEqual(ids(legacy), ids(current));
    const none = await b.request('GET', `/images/json?filters=${filters({ reference: { nosuch: true } })}`);
    assert.deepEqual(ids(none), []);
    const dangling = await b.request('GET', `/images/json?filters=${filters({ dangling: { false: true } })}`);
    assert.deepEqual(ids(dangling), [BB_ID]);
  });
});

describe('bad archives for /images/load', () => {
  /** containerd's state once everything unreferenced has been collected. */
  async function collectedState(): Promise<Awaited<ReturnType<typeof containerdState>>> {
    // Deleting a lease with --sync runs containerd's GC to completion.
    const id = `berth-test-gc-${randomBytes(4).toString('hex')}`;
    await ctr(b, ['leases', 'create', '--id', id]);
    await ctr(b, ['leases', 'rm', '--sync', id]);
    return containerdState(b);
  }

  let baseline: Awaited<ReturnType<typeof containerdState>>;
  let baseImages: string[];

  before(async () => {
    baseImages = await imageIds();
    baseline = await collectedState();
    assert.deepEqual(baseline.leases, []);
  });

  /** Loads `archive` expecting a failure, then checks nothing changed and a valid load still works. */
  async function loadFails(archive: Buffer, message: RegExp): Promise<void> {
    // As dockerd: a 200 whose stream ends in the error, however early it came (moby's postImagesLoad).
    for (const quiet of ['0', '1']) {
      const r = await b.request('POST', `/images/load?quiet=${quiet}`, { body: archive, headers: { 'Content-Type': 'application/x-tar' } });
      assert.equal(r.status, 200, r.body);
      const last = JSON.parse(r.body.trim().split('\n').pop() ?? '{}') as { error?: string; errorDetail?: { message: string } };
      assert.match(last.error ?? '', message, r.body);
      assert.equal(last.errorDetail?.message, last.error);
    }
    // dockerode resolves with the stream (a 400 would have rejected); the error is its last message.
    const docker = new Docker({ socketPath: b.socket });
    const stream = await docker.loadImage(Readable.from([archive]));
    const messages = await new Promise<{ error?: string }[]>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => (err ? reject(err) : resolve(out))),
    );
    assert.match(messages.at(-1)?.error ?? '', message);
    const cli = await b.docker(['load'], { input: archive });
    assert.equal(cli.code, 1, cli.stdout);
    assert.match(cli.stderr, message);
    assert.deepEqual(await imageIds(), baseImages);
    assert.deepEqual(await collectedState(), baseline);
    assert.deepEqual(fs.readdirSync(path.join(b.dataRoot, 'tmp')), [], 'temp files left behind');
  }

  after(async () => {
    // After all that, a valid load still works and stores the image whole.
    const extra = await smallImage({ 'after.txt': 'fine' }, ['after:1']);
    const r = await b.docker(['load'], { input: await dockerArchive([extra]) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Loaded image: after:1\n');
    assert.ok((await imageIds()).includes(extra.id));
  });

  test('random bytes', async () => {
    await loadFails(randomBytes(64 * 1024), /invalid archive: Invalid tar header/);
  });

  test('an empty body', async () => {
    await loadFails(Buffer.alloc(0), /invalid archive: does not contain a manifest\.json/);
  });

  test('a tar truncated in the middle of a layer', async () => {
    const archive = await buildBusyboxArchive({ tags: ['trunc:1'], extraFiles: { 'pad.bin': randomBytes(256 * 1024) } });
    await loadFails(archive.subarray(0, Math.floor(archive.length / 2)), /invalid archive: Unexpected end of data/);
  });

  test('a gzipped archive cut short', async () => {
    const { gzipSync } = await import('node:zlib');
    const gz = gzipSync(await buildBusyboxArchive({ tags: ['trunc:2'] }));
    await loadFails(gz.subarray(0, gz.length - 5000), /unexpected end of file|Unexpected end of data/i);
  });

  test('a layer whose content does not match its diff ID', async () => {
    const img = await smallImage({ 'x.txt': 'x' }, ['mismatch:1']);
    const other = await tarOf([{ name: 'y.txt', data: 'y' }]);
    await loadFails(await dockerArchive([{ ...img, layers: [other] }]), /invalid diffID for layer 0/);
  });

  test('a blob whose name is not its digest', async () => {
    const img = await smallImage({ 'x.txt': 'x' }, ['renamed:1']);
    const files = await untar(await dockerArchive([img]));
    const layerName = `blobs/sha256/${img.diffId.slice(7)}`;
    const entries = [...files.entries()].map(([name, data]) => ({
      name,
      data: name === layerName ? Buffer.concat([data, Buffer.alloc(512)]) : data,
    }));
    await loadFails(await tarOf(entries), /digest mismatch|invalid diffID/);
  });

  test('a valid first image does not load when the second image of the archive is broken', async () => {
    const good = await smallImage({ 'good.txt': 'good' }, ['twoimg:good']);
    const bad = await smallImage({ 'bad.txt': 'bad' }, ['twoimg:bad']);
    const archive = await dockerArchive([good, { ...bad, layers: [await tarOf([{ name: 'other', data: 'o' }])] }]);
    await loadFails(archive, /invalid diffID for layer 0/);
  });

  test('a layer that is not a tar at all, consistent with its config: containerd refuses it', async () => {
    const layer = randomBytes(20_000);
    const diffId = sha256(layer);
    await loadFails(
      await dockerArchive([{ config: imageConfig([diffId]), layers: [layer], tags: ['notatar:1'] }]),
      /^(Error response from daemon: )?Error processing tar file: archive\/tar: invalid tar header\n?$/,
    );
  });

  test('manifest.json that is not JSON', async () => {
    await loadFails(await tarOf([{ name: 'manifest.json', data: '[{"Config": ' }]), /invalid archive: failed to decode manifest\.json/);
  });

  test('a manifest naming a missing config', async () => {
    await loadFails(
      await tarOf([{ name: 'manifest.json', data: JSON.stringify([{ Config: 'blobs/sha256/abc', RepoTags: ['m:1'], Layers: [] }]) }]),
      /invalid archive: config "blobs\/sha256\/abc" not found in archive/,
    );
  });
});

describe('hostile names in archives', () => {
  const marker = `berth-hostile-${randomBytes(6).toString('hex')}`;
  /** Where a naive extractor would have written, whichever directory it extracted into. */
  const escapes = [
    path.join(os.tmpdir(), `${marker}-dotdot`),
    path.join(os.tmpdir(), `${marker}-abs`),
    path.join(os.tmpdir(), `${marker}-link`),
    path.join(os.tmpdir(), `${marker}-layer`),
  ];

  after(() => {
    for (const p of escapes) fs.rmSync(p, { force: true, recursive: true });
  });

  test('entry names with .., absolute paths and symlinked directories never write outside', async () => {
    const img = await smallImage({ 'ok.txt': 'ok' }, ['hostile:1']);
    const files = await untar(await dockerArchive([img]));
    const up = '../'.repeat(30);
    const tmpRel = os.tmpdir().replace(/^\/+/, '');
    const archive = await tarOf([
      { name: `${up}${tmpRel}/${marker}-dotdot`, data: 'escaped' },
      { name: `/${tmpRel}/${marker}-abs`, data: 'escaped' },
      { name: 'evil', type: 'symlink', linkname: os.tmpdir() },
      { name: `evil/${marker}-link`, data: 'escaped' },
      { name: '../../etc/x', data: 'escaped' },
      ...[...files.entries()].map(([name, data]) => ({ name, data })),
    ]);
    const r = await b.docker(['load'], { input: archive });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Loaded image: hostile:1\n');
    for (const p of escapes) assert.equal(fs.existsSync(p), false, `${p} was written`);
    assert.equal(fs.existsSync(path.join(b.dataRoot, 'etc', 'x')), false);
    assert.equal(fs.existsSync(path.join(b.dataRoot, 'tmp', 'etc')), false);
    assert.deepEqual(
      walk(b.dir).filter((p) => p.includes(marker) || p.endsWith('etc/x')),
      [],
    );
  });

  test('a layer whose entries climb out of the root is confined to its snapshot', async () => {
    const up = '../'.repeat(30);
    const tmpRel = os.tmpdir().replace(/^\/+/, '');
    const layer = await tarOf([
      { name: 'inside.txt', data: 'inside' },
      { name: `${up}${tmpRel}/${marker}-layer`, data: 'escaped' },
    ]);
    const archive = await dockerArchive([{ config: imageConfig([sha256(layer)]), layers: [layer], tags: ['hostile:layer'] }]);
    await b.docker(['load'], { input: archive });
    assert.equal(fs.existsSync(escapes[3]), false, `${escapes[3]} was written`);
  });
});
