// The distribution client against a real registry (Debian's docker-registry, CNCF distribution
// 2.8) on 127.0.0.1 with htpasswd Basic auth: push a config and a layer (one chunked), a manifest,
// read them back, mount across repositories, and log in with good and bad credentials.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { closeTransports, openRepository } from '../../registry/client';
import { endpointsFor } from '../../registry/endpoints';
import { login } from '../../registry/login';
import { MediaType, parseManifest } from '../../registry/manifest';
import { RegistryError, type Endpoint } from '../../registry/types';
import { freeLoopbackPort as freePort } from './net-tools';

const UA = 'berth-itest/1';
const CREDS = { username: 'tester', password: 'pa55word' };
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let dir = '';
let proc: ChildProcess | undefined;
let endpoint: Endpoint;

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`${url}/v2/`);
      if (res.status === 401 || res.status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('docker-registry did not come up');
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-reg-it-'));
  const port = await freePort();
  const htpasswd = execFileSync('htpasswd', ['-Bbn', CREDS.username, CREDS.password]).toString();
  fs.writeFileSync(path.join(dir, 'htpasswd'), htpasswd);
  fs.writeFileSync(
    path.join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log:',
      '  level: error',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      'auth:',
      '  htpasswd:',
      '    realm: berth-test',
      `    path: ${path.join(dir, 'htpasswd')}`,
      '',
    ].join('\n'),
  );
  const p = spawn('/usr/bin/docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc = p;
  p.on('error', () => undefined);
  p.stderr?.resume();
  const eps = await endpointsFor(`127.0.0.1:${port}`, {
    insecureRegistries: [],
    mirrors: [],
    certsDir: path.join(dir, 'certs.d'),
    userAgent: UA,
  });
  // Loopback: https (unverified) first, then http; this registry speaks http.
  assert.deepEqual(
    eps.map((e) => e.url),
    [`https://127.0.0.1:${port}`, `http://127.0.0.1:${port}`],
  );
  endpoint = eps[1];
  await waitReady(endpoint.url);
});

after(async () => {
  closeTransports();
  if (proc?.pid !== undefined && proc.exitCode === null) {
    const p = proc;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGTERM');
    await exited;
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function* pieces(data: Buffer, n: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += n) {
    await Promise.resolve();
    yield data.subarray(i, i + n);
  }
}

async function readAll(s: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c);
  return Buffer.concat(parts);
}

test('push a config, a chunked layer and a manifest; read them back; mount; https endpoint refused', async () => {
  // The https endpoint of a plain-http registry fails as transport, so the caller moves on to http.
  const viaHttps = openRepository({ url: endpoint.url.replace('http:', 'https:'), mirror: false, tls: { skipVerify: true } }, 'berth/app', {
    actions: ['pull'],
    userAgent: UA,
    credentials: CREDS,
  });
  await assert.rejects(viaHttps.headBlob(sha(Buffer.from('x'))), (e: unknown) => e instanceof RegistryError && e.transport);

  const repo = openRepository(endpoint, 'berth/app', {
    actions: ['pull', 'push'],
    userAgent: UA,
    credentials: CREDS,
    chunkSize: 64 * 1024,
  });
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = randomBytes(200 * 1024 + 17);

  assert.equal(await repo.headBlob(sha(layer)), undefined);
  const progress: number[] = [];
  const pushedLayer = await repo.pushBlob(pieces(layer, 10_000), { expected: sha(layer), onProgress: (n) => progress.push(n) });
  assert.deepEqual(pushedLayer, { digest: sha(layer), size: layer.length });
  assert.equal(progress.at(-1), layer.length);
  assert.ok(progress.length >= 4, 'chunked');
  const pushedConfig = await repo.pushBlob(pieces(config, 50));
  assert.equal(pushedConfig.digest, sha(config));

  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: sha(config), size: config.length },
      layers: [{ mediaType: MediaType.ociLayerGzip, digest: sha(layer), size: layer.length }],
    }),
  );
  const mDigest = await repo.putManifest('v1', MediaType.ociManifest, manifest);
  assert.equal(mDigest, sha(manifest));

  const reader = openRepository(endpoint, 'berth/app', { actions: ['pull'], userAgent: UA, credentials: CREDS });
  const byTag = await reader.getManifest('v1');
  assert.deepEqual([byTag.mediaType, byTag.digest], [MediaType.ociManifest, mDigest]);
  assert.deepEqual(byTag.body, manifest);
  const parsed = parseManifest(byTag);
  assert.ok(parsed.kind === 'manifest' && parsed.layers[0].digest === sha(layer));
  assert.equal((await reader.getManifest(mDigest)).digest, mDigest);
  assert.deepEqual(await reader.headManifest('v1'), { mediaType: MediaType.ociManifest, digest: mDigest, size: manifest.length });
  assert.equal(await reader.headManifest('v2'), undefined);
  await assert.rejects(
    reader.getManifest('v2'),
    (e: unknown) => e instanceof RegistryError && e.status === 404 && e.code === 'MANIFEST_UNKNOWN',
  );

  assert.equal(await reader.headBlob(sha(layer)), layer.length);
  const whole = await reader.getBlob(sha(layer));
  assert.equal(whole.size, layer.length);
  assert.deepEqual(await readAll(whole.body), layer);
  const tail = await reader.getBlob(sha(layer), 1000);
  assert.equal(tail.offset, 1000);
  assert.equal(tail.size, layer.length);
  assert.deepEqual(await readAll(tail.body), layer.subarray(1000));

  const other = openRepository(endpoint, 'berth/other', {
    actions: ['pull', 'push'],
    userAgent: UA,
    credentials: CREDS,
    mountFrom: ['berth/app'],
  });
  assert.equal(await other.mountBlob(sha(layer), 'berth/app'), true);
  assert.equal(await other.headBlob(sha(layer)), layer.length);
  assert.equal(await other.mountBlob(sha(Buffer.from('never pushed')), 'berth/app'), false);

  // A mismatching expected digest is refused and nothing is stored under it.
  await assert.rejects(
    other.pushBlob(pieces(Buffer.from('abc'), 1), { expected: sha(Buffer.from('abd')) }),
    (e: unknown) => e instanceof RegistryError && e.code === 'DIGEST_INVALID',
  );
  assert.equal(await other.headBlob(sha(Buffer.from('abd'))), undefined);
});

test('Basic auth: anonymous and wrong credentials are 401; login checks credentials', async () => {
  const anon = openRepository(endpoint, 'berth/app', { actions: ['pull'], userAgent: UA });
  await assert.rejects(anon.getManifest('v1'), (e: unknown) => e instanceof RegistryError && e.status === 401 && e.code === 'UNAUTHORIZED');
  const wrong = openRepository(endpoint, 'berth/app', {
    actions: ['pull'],
    userAgent: UA,
    credentials: { username: 'tester', password: 'nope' },
  });
  await assert.rejects(wrong.getManifest('v1'), (e: unknown) => e instanceof RegistryError && e.status === 401);
  assert.deepEqual(await login(endpoint, CREDS, UA), {});
  await assert.rejects(
    login(endpoint, { username: 'tester', password: 'nope' }, UA),
    (e: unknown) => e instanceof RegistryError && e.status === 401,
  );
});
