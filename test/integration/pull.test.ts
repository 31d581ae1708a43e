// docker pull against a real docker-registry on 127.0.0.1 (the registry kit seeds it without
// Berth): pull by tag, digest and through an index with platform selection, docker run of a missing
// image and --pull policies, dockerd's error texts, a docker.io mirror, Basic auth through
// X-Registry-Auth, the progress stream's shape, one download for two concurrent pulls, a dropped
// connection resumed and a corrupted blob refused.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { destroyBerth, startBerth, type Berth } from './harness';
import { xRegistryAuth } from '../fixtures/registry-http';
import {
  busyboxSeedImage,
  faultyProxy,
  seedBigImage,
  seedImage,
  sha256,
  seedBusybox,
  seedIndex,
  startRegistry,
  type FaultyProxy,
  type Registry,
  type SeededIndex,
  type SeededManifest,
} from './registry-kit';

let reg: Registry;
let basic: Registry;
let token: Registry;
let proxy: FaultyProxy;
let b: Berth;
let busybox: SeededManifest;
let multi: SeededIndex;
let big: SeededManifest;
let crash: SeededManifest;

before(async () => {
  reg = await startRegistry();
  basic = await startRegistry({ auth: { basic: [{ user: 'alice', pass: 's3cret' }] } });
  token = await startRegistry({ auth: { token: { users: [{ user: 'bob', pass: 'pw' }], publicRepos: ['public/*'] } } });
  proxy = await faultyProxy(reg);
  busybox = await seedBusybox(reg, 'busybox', 'latest');
  await seedBusybox(reg, 'library/busybox', 'latest');
  await seedBusybox(reg, 'other', 'v1');
  await seedBusybox(reg, 'created', 'v1', { format: 'oci' });
  await seedBigImage(reg, 'shape', 'latest', { layers: 1, totalBytes: 600_000, seed: 'pull-test-shape' });
  await seedBusybox(basic, 'private/busybox', 'latest');
  await seedBusybox(token, 'private/app', 'latest');
  await seedBusybox(token, 'public/app', 'latest');
  multi = await seedIndex(reg, 'multi', 'latest', { attestation: true });
  big = await seedBigImage(reg, 'big', 'latest', { layers: 2, totalBytes: 3_000_000, seed: 'pull-test-big' });
  crash = await seedBigImage(reg, 'crash', 'latest', { layers: 2, totalBytes: 2_000_000, seed: 'pull-test-crash' });
  await seedBigImage(reg, 'flaky', 'latest', { layers: 1, totalBytes: 1_500_000, seed: 'pull-test-flaky' });
  await seedBigImage(reg, 'corrupt', 'latest', { layers: 1, totalBytes: 200_000, seed: 'pull-test-corrupt' });
  // OCI layers uncompressed and zstd-compressed (each with a marker file so the chains differ).
  await seedImage(reg, 'plain', 'latest', await busyboxSeedImage({ compression: 'none', extraFiles: { 'marker.txt': 'plain layer\n' } }), {
    format: 'oci',
  });
  const z = await busyboxSeedImage({ compression: 'none', extraFiles: { 'marker.txt': 'zstd layer\n' } });
  const zst = execFileSync('zstd', ['-q', '-c'], { input: z.layers[0].data, maxBuffer: 64 * 1024 * 1024 });
  z.layers[0] = { ...z.layers[0], data: zst, digest: sha256(zst), size: zst.length, compression: 'zstd' };
  await seedImage(reg, 'zstd', 'latest', z, { format: 'oci' });
  // docker.io is unreachable here: a plain registry holding library/busybox serves as its mirror.
  b = await startBerth({ args: ['--registry-mirror', reg.url, '--max-download-attempts', '3'] });
});

after(async () => {
  if (b) await destroyBerth(b);
  if (proxy) await proxy.stop();
  if (reg) await reg.stop();
  if (basic) await basic.stop();
  if (token) await token.stop();
});

interface Inspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Architecture: string;
  Variant?: string;
}

async function inspect(ref: string): Promise<Inspect> {
  const r = await b.docker(['image', 'inspect', ref]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as Inspect[])[0];
}

/** The statuses of a raw pull stream, consecutive repeats folded. */
function statuses(body: string): string[] {
  const out: string[] = [];
  for (const line of body.split('\r\n').filter((l) => l !== '')) {
    const m = JSON.parse(line) as { status?: string; error?: string };
    const s = m.error !== undefined ? `error: ${m.error}` : (m.status ?? '');
    if (out[out.length - 1] !== s) out.push(s);
  }
  return out;
}

describe('pull', () => {
  test('by tag, then the image runs, and its RepoDigests name the manifest', async () => {
    const ref = `${reg.host}/busybox:latest`;
    const r = await b.docker(['pull', ref]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /latest: Pulling from busybox/);
    assert.match(r.stdout, new RegExp(`Digest: ${busybox.digest}`));
    assert.match(r.stdout, new RegExp(`Status: Downloaded newer image for ${reg.host}/busybox:latest`));
    const img = await inspect(ref);
    assert.equal(img.Id, busybox.configDigest);
    assert.deepEqual(img.RepoTags, [ref]);
    assert.deepEqual(img.RepoDigests, [`${reg.host}/busybox@${busybox.digest}`]);
    const run = await b.docker(['run', '--rm', ref, 'echo', 'pulled and running']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'pulled and running\n');
    const again = await b.docker(['pull', '-q', ref]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `${ref}\n`);
    // The pull event names the reference; save reads the pulled blobs (sizes measured then).
    const ev = await b.docker([
      'events',
      '--since',
      '0',
      '--until',
      `${Math.ceil(Date.now() / 1000)}`,
      '--filter',
      'event=pull',
      '--format',
      '{{.Actor.ID}} {{.Actor.Attributes.name}}',
    ]);
    assert.ok(ev.stdout.split('\n').includes(`${ref} ${reg.host}/busybox`), ev.stdout);
    const saved = await b.docker(['save', '-o', `${b.dir}/pulled.tar`, ref]);
    assert.equal(saved.code, 0, saved.stderr);
    const listing = execFileSync('tar', ['tf', `${b.dir}/pulled.tar`], { encoding: 'utf8' });
    assert.match(listing, /manifest\.json/);
  });

  test('by digest gives the same image', async () => {
    const ref = `${reg.host}/busybox@${busybox.digest}`;
    const r = await b.docker(['pull', ref]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await inspect(ref)).Id, busybox.configDigest);
  });

  test('an index: the host platform by default, --platform picks another, no match is refused', async () => {
    const amd = await b.docker(['pull', `${reg.host}/multi:latest`]);
    assert.equal(amd.code, 0, amd.stderr);
    const img = await inspect(`${reg.host}/multi:latest`);
    assert.equal(img.Architecture, 'amd64');
    // The amd64 entry is the busybox image pulled above: one image, both names.
    assert.ok(img.RepoDigests.includes(`${reg.host}/multi@${multi.digest}`), img.RepoDigests.join());

    await seedIndex(reg, 'multi2', 'latest');
    const arm = await b.docker(['pull', '--platform', 'linux/arm64', `${reg.host}/multi2:latest`]);
    assert.equal(arm.code, 0, arm.stderr);
    const armImg = await inspect(`${reg.host}/multi2:latest`);
    assert.equal(armImg.Architecture, 'arm64');
    assert.equal(armImg.Id, multi.images[1].configDigest);

    const none = await b.docker(['pull', '--platform', 'linux/s390x', `${reg.host}/multi:latest`]);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /no matching manifest for linux\/s390x in the manifest list entries/);

    const bad = await b.request('POST', `/images/create?fromImage=${reg.host}/multi&tag=latest&platform=${encodeURIComponent('a/b/c/d')}`);
    assert.equal(bad.status, 400, bad.body);
  });

  test('docker run of a missing image pulls it; --pull never and always', async () => {
    const ref = `${reg.host}/other:v1`;
    const never = await b.docker(['run', '--rm', '--pull', 'never', ref, 'true']);
    assert.notEqual(never.code, 0);
    const r = await b.docker(['run', '--rm', ref, 'echo', 'ok']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ok\n');
    assert.match(r.stderr, /Unable to find image/);
    assert.match(r.stderr, /Status: Downloaded newer image/);
    const always = await b.docker(['run', '--rm', '--pull', 'always', ref, 'echo', 'again']);
    assert.equal(always.code, 0, always.stderr);
    assert.match(always.stderr, new RegExp(`Status: Image is up to date for ${ref}`));
    const created = await b.docker(['create', `${reg.host}/created:v1`]);
    assert.equal(created.code, 0, created.stderr);
    await b.docker(['rm', created.stdout.trim()]);
  });

  test("registry refusals in dockerd's words and statuses", async () => {
    const tag = await b.docker(['pull', `${reg.host}/busybox:nope`]);
    assert.notEqual(tag.code, 0);
    assert.match(tag.stderr, new RegExp(`manifest for ${reg.host}/busybox:nope not found: manifest unknown: manifest unknown`));
    const repo = await b.request('POST', `/images/create?fromImage=${reg.host}/nosuch&tag=latest`);
    assert.equal(repo.status, 404);
    assert.match(repo.body, /manifest for .*nosuch:latest not found: manifest unknown/);
    const closed = await b.request('POST', '/images/create?fromImage=127.0.0.1:1/x&tag=latest');
    assert.equal(closed.status, 500, closed.body);
  });

  test('uncompressed and zstd layers', async () => {
    for (const name of ['plain', 'zstd']) {
      const r = await b.docker(['run', '--rm', `${reg.host}/${name}:latest`, 'cat', '/marker.txt']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${name === 'plain' ? 'plain' : 'zstd'} layer\n`);
    }
  });

  test('docker.io through a mirror', async () => {
    const r = await b.docker(['pull', 'busybox']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /latest: Pulling from library\/busybox/);
    assert.match(r.stdout, /Status: Downloaded newer image for busybox:latest/);
    const img = await inspect('busybox');
    assert.ok(img.RepoTags.includes('busybox:latest'), img.RepoTags.join());
    assert.ok(img.RepoDigests.includes(`busybox@${busybox.digest}`), img.RepoDigests.join());
  });

  test('Basic auth: anonymous refused, X-Registry-Auth credentials pull', async () => {
    const url = `/images/create?fromImage=${basic.host}/private/busybox&tag=latest`;
    const anon = await b.request('POST', url);
    assert.equal(anon.status, 404, anon.body);
    assert.match(anon.body, /pull access denied for .*private\/busybox, repository does not exist or may require 'docker login'/);
    const auth = Buffer.from(JSON.stringify({ username: 'alice', password: 's3cret', serveraddress: basic.host })).toString('base64url');
    const ok = await b.request('POST', url, { headers: { 'X-Registry-Auth': auth } });
    assert.equal(ok.status, 200, ok.body);
    assert.match(ok.body, /Status: Downloaded newer image/);
  });

  test('Bearer tokens: anonymous for public repositories, denied for private ones, credentials pull', async () => {
    const pub = await b.docker(['pull', `${token.host}/public/app:latest`]);
    assert.equal(pub.code, 0, pub.stderr);
    const anon = await b.request('POST', `/images/create?fromImage=${token.host}/private/app&tag=latest`);
    assert.equal(anon.status, 404, anon.body);
    assert.equal(
      (JSON.parse(anon.body) as { message: string }).message,
      `pull access denied for ${token.host}/private/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`,
    );
    const auth = xRegistryAuth({ username: 'bob', password: 'pw', serveraddress: token.host });
    const ok = await b.request('POST', `/images/create?fromImage=${token.host}/private/app&tag=latest`, {
      headers: { 'X-Registry-Auth': auth },
    });
    assert.equal(ok.status, 200, ok.body);
    assert.match(ok.body, /Status: Downloaded newer image for/);
    const asked = token.tokenServer?.requests.filter((r) => r.user === 'bob').flatMap((r) => r.scopes) ?? [];
    assert.ok(asked.includes('repository:private/app:pull'), asked.join());
  });

  test("the progress stream has dockerd's shape", async () => {
    const r = await b.request('POST', `/images/create?fromImage=${reg.host}/shape&tag=latest`);
    assert.equal(r.status, 200);
    const lines = r.body.split('\r\n').filter((l) => l !== '');
    const first = JSON.parse(lines[0]) as Record<string, unknown>;
    assert.deepEqual(first, { status: 'Pulling from shape', id: 'latest' });
    const s = statuses(r.body);
    assert.deepEqual(s.slice(0, 7), [
      'Pulling from shape',
      'Pulling fs layer',
      'Downloading',
      'Verifying Checksum',
      'Download complete',
      'Extracting',
      'Pull complete',
    ]);
    assert.equal(s.length, 9, s.join('\n'));
    assert.match(s[7], /^Digest: sha256:[0-9a-f]{64}$/);
    assert.equal(s[8], `Status: Downloaded newer image for ${reg.host}/shape:latest`);
    const downloading = lines
      .map((l) => JSON.parse(l) as { status: string; progressDetail?: { current: number; total: number }; progress?: string; id?: string })
      .filter((m) => m.status === 'Downloading');
    for (const m of downloading) {
      assert.ok(m.progressDetail && m.progressDetail.total > 0 && m.progress?.startsWith('['));
      assert.match(m.id ?? '', /^[0-9a-f]{12}$/);
    }
  });

  test('two pulls of one image at once download each blob once', async () => {
    proxy.set({ blobDelayMs: 300 });
    const url = `/images/create?fromImage=${proxy.host}/big&tag=latest`;
    const [one, two] = await Promise.all([b.request('POST', url), b.request('POST', url)]);
    proxy.set({});
    for (const r of [one, two]) {
      assert.equal(r.status, 200);
      assert.doesNotMatch(r.body, /"error"/);
      assert.match(r.body, /Status: (Downloaded newer image|Image is up to date)/);
    }
    assert.equal((await inspect(`${proxy.host}/big:latest`)).Id, big.configDigest);
    for (const digest of big.layerDigests) assert.equal(proxy.blobGets(digest), 1, `${digest} fetched ${proxy.blobGets(digest)} times`);
  });

  test('a connection dropped mid-layer resumes; a corrupted blob is refused and nothing is stored', async () => {
    proxy.set({ dropAfterBytes: 400_000, times: 1 });
    const flaky = await b.docker(['pull', `${proxy.host}/flaky:latest`]);
    proxy.set({});
    assert.equal(flaky.code, 0, flaky.stderr);
    proxy.set({ corruptBlob: true });
    const bad = await b.docker(['pull', `${proxy.host}/corrupt:latest`]);
    proxy.set({});
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /verification failed for digest sha256:/);
    const gone = await b.docker(['image', 'inspect', `${proxy.host}/corrupt:latest`]);
    assert.notEqual(gone.code, 0);
  });

  test('berthd killed mid-pull: no image, and the retried pull reuses the complete layer', async () => {
    let c = await startBerth({ args: ['--max-concurrent-downloads', '1'] });
    const dir = c.dir;
    try {
      proxy.set({ blobDelayMs: 1500 });
      const ref = `${proxy.host}/crash:latest`;
      // Kill berthd as soon as the first layer is complete, while the second one downloads.
      const firstDone = await new Promise<string>((resolve, reject) => {
        const req = http.request(
          { socketPath: c.socket, method: 'POST', path: `/images/create?fromImage=${proxy.host}/crash&tag=latest` },
          (res) => {
            let buf = '';
            res.on('data', (d: Buffer) => {
              buf += d.toString();
              const m = /"status":"Download complete","progressDetail":\{\},"id":"([0-9a-f]{12})"/.exec(buf);
              if (m) resolve(m[1]);
            });
            res.on('error', () => undefined);
            res.on('end', () => reject(new Error(`pull ended before a layer completed: ${buf}`)));
          },
        );
        req.on('error', () => undefined);
        req.end();
      });
      await c.stop('SIGKILL');
      proxy.set({});
      c = await startBerth({ dir, args: ['--max-concurrent-downloads', '1'] });
      const none = await c.docker(['image', 'inspect', ref]);
      assert.notEqual(none.code, 0, 'no half image after the crash');
      const again = await c.request('POST', `/images/create?fromImage=${proxy.host}/crash&tag=latest`);
      assert.equal(again.status, 200);
      assert.match(again.body, /Status: Downloaded newer image/);
      assert.equal((await c.docker(['image', 'inspect', '-f', '{{.Id}}', ref])).stdout.trim(), crash.configDigest);
      const completed = crash.layerDigests.find((d) => d.slice(7, 19) === firstDone);
      assert.ok(completed !== undefined);
      assert.equal(proxy.blobGets(completed), 1, 'the complete layer is not fetched again');
    } finally {
      proxy.set({});
      await destroyBerth(c);
    }
  });
});
