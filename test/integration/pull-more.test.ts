// The rest of docker pull against a real docker-registry on 127.0.0.1: --all-tags, the platform
// warning for a single-platform image, a token that lacks the scope read as dockerd's "pull access
// denied", a foreign (non-distributable) layer fetched from the registry, and a layer download
// resumed by a restarted berthd.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { containerdNamespaceFor } from '../../daemon/config';
import { destroyBerth, startBerth, type Berth } from './harness';
import { xRegistryAuth } from '../fixtures/registry-http';
import {
  busyboxSeedImage,
  faultyProxy,
  imageManifest,
  pushBlob,
  seedBigImage,
  seedBusybox,
  seedImage,
  sha256,
  startRegistry,
  type Registry,
} from './registry-kit';

let reg: Registry;
let token: Registry;
let b: Berth;

before(async () => {
  reg = await startRegistry();
  // bob may pull team/*, carol nothing: her token lacks the scope (insufficient_scope).
  token = await startRegistry({
    auth: {
      token: {
        users: [
          { user: 'bob', pass: 'pw' },
          { user: 'carol', pass: 'pw' },
        ],
        acl: (user, scope) => (user === 'bob' && scope.name.startsWith('team/') ? ['pull'] : []),
      },
    },
  });
  const v1 = await busyboxSeedImage({ extraFiles: { 'tag.txt': 'v1\n' } });
  await seedImage(reg, 'tags', 'v1', v1);
  await seedImage(reg, 'tags', 'latest', v1);
  await seedBusybox(reg, 'tags', 'v2', { extraFiles: { 'tag.txt': 'v2\n' } });
  await seedBusybox(reg, 'single', '1', { extraFiles: { 'single.txt': 'one\n' } });
  await seedBusybox(token, 'team/app', 'latest');
  b = await startBerth();
});

after(async () => {
  if (b) await destroyBerth(b);
  if (reg) await reg.stop();
  if (token) await token.stop();
});

function messages(body: string): { status?: string; id?: string; error?: string }[] {
  return body
    .split('\r\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { status?: string; id?: string; error?: string });
}

describe('pull, the rest', () => {
  test('--all-tags pulls every tag, one Pulling from each, one Status for the name', async () => {
    const r = await b.docker(['pull', '--all-tags', `${reg.host}/tags`]);
    assert.equal(r.code, 0, r.stderr);
    for (const tag of ['latest', 'v1', 'v2']) assert.match(r.stdout, new RegExp(`${tag}: Pulling from tags`));
    assert.match(r.stdout, new RegExp(`Status: Downloaded newer image for ${reg.host}/tags\\n`));
    const ls = await b.docker(['images', '--format', '{{.Tag}}', `${reg.host}/tags`]);
    assert.deepEqual(ls.stdout.trim().split('\n').sort(), ['latest', 'v1', 'v2']);
    const run = await b.docker(['run', '--rm', `${reg.host}/tags:v2`, 'cat', '/tag.txt']);
    assert.equal(run.stdout, 'v2\n', run.stderr);

    // Again, through the API: nothing new, so up to date; three Pulling from, three Digest, one Status.
    const again = await b.request('POST', `/images/create?fromImage=${reg.host}/tags&tag=`);
    assert.equal(again.status, 200, again.body);
    const m = messages(again.body);
    assert.deepEqual(
      m
        .filter((x) => x.status?.startsWith('Pulling from') === true)
        .map((x) => x.id)
        .sort(),
      ['latest', 'v1', 'v2'],
    );
    assert.equal(m.filter((x) => x.status?.startsWith('Digest: ') === true).length, 3);
    assert.deepEqual(
      m.filter((x) => x.status?.startsWith('Status: ') === true).map((x) => x.status),
      [`Status: Image is up to date for ${reg.host}/tags`],
    );
    assert.equal(m[m.length - 1].status, `Status: Image is up to date for ${reg.host}/tags`);

    const missing = await b.request('POST', `/images/create?fromImage=${reg.host}/nosuch&tag=`);
    assert.equal(missing.status, 404, missing.body);
    assert.equal(
      (JSON.parse(missing.body) as { message: string }).message,
      `repository ${reg.host}/nosuch not found: name unknown: repository name not known to registry`,
    );
  });

  test('--platform with a single-platform image of another platform: pulled, with WARNING', async () => {
    const ref = `${reg.host}/single:1`;
    const r = await b.docker(['pull', '--platform', 'linux/s390x', ref]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Status: Downloaded newer image for ${ref}`));
    const host = (await b.docker(['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}}', ref])).stdout.trim();
    assert.ok(
      r.stdout.includes(
        `WARNING: image with reference ${ref} was found but its platform (${host}) does not match the specified platform (linux/s390x)`,
      ),
      r.stdout,
    );
    const same = await b.docker(['pull', '--platform', host, ref]);
    assert.equal(same.code, 0, same.stderr);
    assert.doesNotMatch(same.stdout, /WARNING/);
    const none = await b.docker(['pull', ref]);
    assert.doesNotMatch(none.stdout, /WARNING/);
  });

  test("a token without the repository's scope: pull access denied, with or without credentials", async () => {
    const want = `pull access denied for ${token.host}/team/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`;
    const url = `/images/create?fromImage=${token.host}/team/app&tag=latest`;
    const anon = await b.request('POST', url);
    assert.equal(anon.status, 404, anon.body);
    assert.equal((JSON.parse(anon.body) as { message: string }).message, want);
    const carol = await b.request('POST', url, {
      headers: { 'X-Registry-Auth': xRegistryAuth({ username: 'carol', password: 'pw', serveraddress: token.host }) },
    });
    assert.equal(carol.status, 404, carol.body);
    assert.equal((JSON.parse(carol.body) as { message: string }).message, want);
    const bob = await b.request('POST', url, {
      headers: { 'X-Registry-Auth': xRegistryAuth({ username: 'bob', password: 'pw', serveraddress: token.host }) },
    });
    assert.equal(bob.status, 200, bob.body);
    assert.match(bob.body, /Status: Downloaded newer image/);
  });

  test('foreign layers (Docker and OCI non-distributable) are downloaded from the registry, not from their urls', async () => {
    const s = reg.session();
    const manifests = new Map<string, { type: string; body: Buffer }>();
    const layers: string[] = [];
    for (const [tag, format, layerType] of [
      ['docker', 'docker', 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip'],
      ['oci', 'oci', 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip'],
    ] as const) {
      // One image each (distinct layers and configs), so both are downloaded.
      const img = await busyboxSeedImage({ extraFiles: { 'foreign.txt': 'from the registry\n', [`${tag}.txt`]: tag } });
      for (const l of img.layers) await pushBlob(s, 'foreign', l.data, l.digest);
      await pushBlob(s, 'foreign', img.config);
      layers.push(...img.layers.map((l) => l.digest));
      const m = JSON.parse(imageManifest(img, format).body.toString()) as {
        mediaType: string;
        layers: { mediaType: string; urls?: string[] }[];
      };
      for (const l of m.layers) {
        l.mediaType = layerType;
        l.urls = ['http://127.0.0.1:9/never-asked'];
      }
      manifests.set(`/v2/foreign/manifests/${tag}`, { type: m.mediaType, body: Buffer.from(JSON.stringify(m)) });
    }
    // distribution 2.8 refuses to store manifests with foreign URLs here: a proxy serves them.
    const proxy = await faultyProxy(reg, {
      intercept: (req) => {
        const m = req.method === 'GET' ? manifests.get(req.path) : undefined;
        return m === undefined
          ? undefined
          : { status: 200, headers: { 'Content-Type': m.type, 'Docker-Content-Digest': sha256(m.body) }, body: m.body };
      },
    });
    try {
      for (const tag of ['docker', 'oci']) {
        const ref = `${proxy.host}/foreign:${tag}`;
        const r = await b.docker(['pull', ref]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`Digest: ${sha256(manifests.get(`/v2/foreign/manifests/${tag}`)?.body ?? '')}`));
        const run = await b.docker(['run', '--rm', ref, 'cat', '/foreign.txt']);
        assert.equal(run.stdout, 'from the registry\n', run.stderr);
      }
      for (const d of layers) assert.equal(proxy.blobGets(d), 1, d);
    } finally {
      await proxy.stop();
    }
  });

  test('a layer whose ingest a killed berthd wrote whole but never committed is committed without a fetch', async () => {
    const big = await seedBigImage(reg, 'whole-ingest', 'latest', { layers: 1, totalBytes: 1_500_000, seed: 'pull-more-whole' });
    const layer = big.layerDigests[0];
    const blob = Buffer.from(await (await fetch(`${reg.url}/v2/whole-ingest/blobs/${layer}`)).arrayBuffer());
    assert.equal(sha256(blob), layer);
    // The state a kill between the last write and the commit leaves: the whole layer in the
    // pull's named ingest, uncommitted and unlocked. ctr writes it and its commit is refused
    // (another digest expected), which keeps the bytes in the ingest.
    const file = path.join(b.dir, 'whole-layer');
    fs.writeFileSync(file, blob);
    const ctrArgs = ['-a', path.join(b.execRoot, 'containerd', 'containerd.sock'), '-n', containerdNamespaceFor(b.dataRoot)];
    const ref = `berth-pull-${layer}`;
    const staged = spawnSync(
      'ctr',
      [
        ...ctrArgs,
        'content',
        'ingest',
        '--expected-size',
        String(blob.length),
        '--expected-digest',
        sha256(Buffer.from('not the layer')),
        ref,
      ],
      {
        input: blob,
        encoding: 'utf8',
      },
    );
    assert.notEqual(staged.status, 0, 'the staging commit should have been refused');
    const active = execFileSync('ctr', [...ctrArgs, 'content', 'active'], { encoding: 'utf8' });
    assert.match(active, new RegExp(`^${ref}\\s`, 'm'), active);
    const gets: string[] = [];
    const proxy = await faultyProxy(reg, {
      intercept: (req) => {
        if (req.method === 'GET' && req.path.endsWith(`/blobs/${layer}`)) gets.push(String(req.headers.range ?? ''));
        return undefined;
      },
    });
    try {
      const pulled = await b.request('POST', `/images/create?fromImage=${proxy.host}/whole-ingest&tag=latest`);
      assert.equal(pulled.status, 200, pulled.body);
      assert.match(pulled.body, /Status: Downloaded newer image/);
      assert.deepEqual(gets, [], 'the layer was fetched again');
      assert.equal(
        (await b.docker(['image', 'inspect', '-f', '{{.Id}}', `${proxy.host}/whole-ingest:latest`])).stdout.trim(),
        big.configDigest,
      );
      assert.doesNotMatch(execFileSync('ctr', [...ctrArgs, 'content', 'active'], { encoding: 'utf8' }), new RegExp(ref));
    } finally {
      await b.docker(['rmi', `${proxy.host}/whole-ingest:latest`]);
      await proxy.stop();
      fs.rmSync(file, { force: true });
    }
  });

  test('berthd killed mid-layer: the restarted pull resumes the layer with a Range request', async () => {
    const big = await seedBigImage(reg, 'resume', 'latest', { layers: 1, totalBytes: 4_000_000, seed: 'pull-more-resume' });
    const layer = big.layerDigests[0];
    const ranges: string[] = [];
    const record = (req: { method: string; path: string; headers: http.IncomingHttpHeaders }): undefined => {
      if (req.method === 'GET' && req.path.endsWith(`/blobs/${layer}`)) ranges.push(String(req.headers.range ?? ''));
      return undefined;
    };
    const proxy = await faultyProxy(reg, { throttleBytesPerSec: 400_000, intercept: record });
    let c = await startBerth();
    const dir = c.dir;
    try {
      // Kill berthd once a good part of the layer is in (containerd gets it in 1 MiB writes).
      await new Promise<void>((resolve, reject) => {
        const req = http.request(
          { socketPath: c.socket, method: 'POST', path: `/images/create?fromImage=${proxy.host}/resume&tag=latest` },
          (res) => {
            let buf = '';
            res.on('data', (d: Buffer) => {
              buf += d.toString();
              for (const m of buf.matchAll(/"current":(\d+)/g)) if (Number(m[1]) >= 2_500_000) resolve();
            });
            res.on('error', () => undefined);
            res.on('end', () => reject(new Error(`pull ended before the kill: ${buf}`)));
          },
        );
        req.on('error', () => undefined);
        req.end();
      });
      await c.stop('SIGKILL');
      proxy.set({ intercept: record });
      c = await startBerth({ dir });
      const again = await c.request('POST', `/images/create?fromImage=${proxy.host}/resume&tag=latest`);
      assert.equal(again.status, 200, again.body);
      assert.match(again.body, /Status: Downloaded newer image/);
      assert.equal((await c.docker(['image', 'inspect', '-f', '{{.Id}}', `${proxy.host}/resume:latest`])).stdout.trim(), big.configDigest);
      assert.equal(ranges.length, 2, ranges.join());
      assert.equal(ranges[0], '');
      const from = Number(/^bytes=(\d+)-$/.exec(ranges[1])?.[1] ?? 0);
      assert.ok(from >= 1024 * 1024 && from < 4_000_000, `second GET asked ${ranges[1]}`);
    } finally {
      await destroyBerth(c);
      await proxy.stop();
    }
  });
});
