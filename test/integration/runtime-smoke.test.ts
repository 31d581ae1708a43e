// Drives a private containerd through the runtime/ layer: supervisor start, blob writes (file and
// buffer, new and existing), unpack, image records as GC roots, a containerd crash and restart,
// GC after the record goes, and stop. Needs root and /usr/bin/containerd.

import { within } from './harness';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { pack } from 'tar-stream';
import { ContainerdSupervisor } from '../../daemon/containerd-supervisor';
import { InvalidParameter } from '../../lib/errors';
import { Containerd } from '../../runtime/containerd';
import { blobInfo, readBlob, readBlobBuffer, sha256Digest, writeBlob } from '../../runtime/content';
import type { ListSnapshotsResponse } from '../../runtime/gen/github.com/containerd/containerd/api/services/snapshots/v1/snapshots';
import { deleteImageRecord, listImageRecords, putImageRecord } from '../../runtime/image-records';
import { withLease } from '../../runtime/leases';
import { runcVersion, tiniVersion } from '../../runtime/runc';
import { WriteAction } from '../../runtime/gen/github.com/containerd/containerd/api/services/content/v1/content';
import { overlayDirs, snapshotUsage, statSnapshot } from '../../runtime/snapshots';
import { chainIds, unpackLayers } from '../../runtime/unpack';

const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const CONFIG_TYPE = 'application/vnd.oci.image.config.v1+json';

const logger = pino({ level: process.env.BERTH_TEST_LOG ?? 'silent' });

interface TarEntry {
  name: string;
  content?: string;
}

/** A reproducible ustar: fixed mtime and owners, directories for names ending in '/'. */
async function buildTar(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const out = collect(p);
  for (const e of entries) {
    const common = { mtime: new Date(0), uid: 0, gid: 0 };
    if (e.name.endsWith('/')) p.entry({ ...common, name: e.name, type: 'directory', mode: 0o755 });
    else p.entry({ ...common, name: e.name, type: 'file', mode: 0o644 }, e.content ?? '');
  }
  p.finalize();
  return out;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function snapshotKeys(ctd: Containerd): Promise<string[]> {
  const keys: string[] = [];
  for await (const raw of ctd.serverStream(ctd.clients.snapshots, 'list', { snapshotter: 'overlayfs' })) {
    for (const info of (raw as ListSnapshotsResponse).info ?? []) keys.push(info.name ?? '');
  }
  return keys;
}

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test('runtime smoke: supervisor, content, unpack, image records, restart, GC', { timeout: 180_000 }, async () => {
  const dataRoot = await mkdtemp('/tmp/berth-rt-data-');
  const execRoot = await mkdtemp('/tmp/berth-rt-exec-');
  const sup = new ContainerdSupervisor({ dataRoot, execRoot, logger });
  let ctd: Containerd | undefined;
  try {
    const socket = await sup.start();
    assert.equal(socket, join(execRoot, 'containerd', 'containerd.sock'));
    const firstPid = sup.pid;
    assert.ok(firstPid !== undefined && pidAlive(firstPid));
    assert.equal((await readFile(sup.pidFile, 'utf8')).trim(), String(firstPid));
    assert.match(await readFile(sup.configPath, 'utf8'), /io\.containerd\.grpc\.v1\.cri/);

    ctd = new Containerd({ address: socket, namespace: `berth-test-${randomBytes(4).toString('hex')}`, logger });
    await ctd.waitReady(10_000);
    const version = await ctd.version();
    assert.match(version.version, /^1\.6\./);
    assert.ok(version.revision.length > 0);

    // One layer, its config and an OCI manifest, with the GC labels Berth relies on.
    const tar = await buildTar([{ name: 'etc/' }, { name: 'etc/hello.txt', content: 'hello from berth\n' }, { name: 'bin/' }]);
    const gz = gzipSync(tar);
    const diffId = sha256Digest(tar);
    const layerDigest = sha256Digest(gz);
    const [chainId] = chainIds([diffId]);
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/bin/true'] },
        rootfs: { type: 'layers', diff_ids: [diffId] },
      }),
    );
    const configDigest = sha256Digest(config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST_TYPE,
        config: { mediaType: CONFIG_TYPE, digest: configDigest, size: config.length },
        layers: [{ mediaType: LAYER_TYPE, digest: layerDigest, size: gz.length }],
      }),
    );
    const manifestDigest = sha256Digest(manifest);
    const layerPath = join(execRoot, 'layer.tar.gz');
    await writeFile(layerPath, gz);
    const imageName = 'berth-test/smoke:latest';
    const c = ctd;

    await withLease(c, async (lease) => {
      // From a file with no digest given: computed while streaming.
      const written = await writeBlob(c, { path: layerPath }, { lease, labels: { 'containerd.io/uncompressed': diffId } });
      assert.deepEqual(written, { digest: layerDigest, size: gz.length });
      // Again from a buffer with the digest: ALREADY_EXISTS path, labels applied by Update.
      const again = await writeBlob(c, { data: gz }, { lease, expected: layerDigest, labels: { 'berth.test/again': '1' } });
      assert.deepEqual(again, { digest: layerDigest, size: gz.length });
      const info = await blobInfo(c, layerDigest);
      assert.equal(info?.size, gz.length);
      assert.equal(info?.labels['containerd.io/uncompressed'], diffId);
      assert.equal(info?.labels['berth.test/again'], '1');
      const leased = await c.leases.listResources({ id: lease });
      assert.ok(leased.resources?.some((r) => r.id === layerDigest && r.type === 'content'));

      const chain = await unpackLayers(c, [{ digest: layerDigest, mediaType: LAYER_TYPE, size: gz.length, diffId }], {
        lease,
      });
      assert.deepEqual(chain, [chainId]);
      // A second unpack finds the committed chain and skips it.
      assert.deepEqual(await unpackLayers(c, [{ digest: layerDigest, mediaType: LAYER_TYPE, size: gz.length, diffId }], { lease }), [
        chainId,
      ]);

      await writeBlob(
        c,
        { data: config },
        {
          lease,
          expected: configDigest,
          size: config.length,
          labels: { 'containerd.io/gc.ref.snapshot.overlayfs': chainId },
        },
      );
      await writeBlob(
        c,
        { data: manifest },
        {
          lease,
          expected: manifestDigest,
          labels: {
            'containerd.io/gc.ref.content.config': configDigest,
            'containerd.io/gc.ref.content.l.0': layerDigest,
          },
        },
      );
      const target = { mediaType: MANIFEST_TYPE, digest: manifestDigest, size: manifest.length };
      await putImageRecord(c, imageName, target, { 'berth.test': 'first' }, lease);
      const updated = await putImageRecord(c, imageName, target, { 'berth.test': 'second' }, lease);
      assert.deepEqual(updated.labels, { 'berth.test': 'second' });
    });

    // The lease is gone; the image record now holds everything.
    const usage = await snapshotUsage(c, chainId);
    assert.ok(usage.size > 0, `usage ${JSON.stringify(usage)}`);
    const dirs = await overlayDirs(c, chainId);
    assert.equal(dirs.LowerDir, undefined);
    assert.equal(await readFile(join(dirs.UpperDir, 'etc/hello.txt'), 'utf8'), 'hello from berth\n');
    assert.deepEqual(await readBlobBuffer(c, manifestDigest), manifest);
    assert.deepEqual(await collect(readBlob(c, layerDigest, { offset: 10, size: 20 })), gz.subarray(10, 30));
    const records = await listImageRecords(c);
    const rec = records.find((r) => r.name === imageName);
    assert.deepEqual(rec?.target, { mediaType: MANIFEST_TYPE, digest: manifestDigest, size: manifest.length });

    // A layer whose content does not match its claimed diff ID is refused and leaves no extract snapshot.
    const badTar = await buildTar([{ name: 'bad.txt', content: 'x' }]);
    const badGz = gzipSync(badTar);
    const claimed = sha256Digest('not the tar of this layer');
    await withLease(c, async (lease) => {
      const bad = await writeBlob(c, { data: badGz }, { lease });
      await assert.rejects(
        unpackLayers(c, [{ digest: bad.digest, mediaType: LAYER_TYPE, size: badGz.length, diffId: claimed }], {
          lease,
        }),
        (err: unknown) => err instanceof InvalidParameter,
      );
      await assert.rejects(
        unpackLayers(c, [{ digest: bad.digest, mediaType: 'application/x-foo', size: 1, diffId }], { lease }),
        InvalidParameter,
      );
    });
    assert.deepEqual(
      (await snapshotKeys(c)).filter((k) => k.startsWith('extract-')),
      [],
    );

    // containerd dies: the supervisor restarts it and the client notices the reconnect.
    const reconnected = new Promise<void>((resolve) => {
      const off = c.onReconnect(() => {
        off();
        resolve();
      });
    });
    const restarted = new Promise<string>((resolve) => sup.onRestart(resolve));
    process.kill(firstPid, 'SIGKILL');
    assert.equal(await within(30_000, 'supervisor restart', restarted), socket);
    await within(30_000, 'client reconnect', reconnected);
    const secondPid = sup.pid;
    assert.ok(secondPid !== undefined && secondPid !== firstPid && pidAlive(secondPid));
    assert.ok(!pidAlive(firstPid));
    assert.ok((await listImageRecords(c)).some((r) => r.name === imageName));

    // Without the record (and a synchronous GC) the manifest, config, layer and snapshot go.
    assert.equal(await deleteImageRecord(c, imageName, { sync: true }), true);
    assert.equal(await deleteImageRecord(c, imageName), false);
    assert.equal(await statSnapshot(c, chainId), undefined);
    assert.equal(await blobInfo(c, layerDigest), undefined);
    assert.equal(await blobInfo(c, manifestDigest), undefined);

    c.close();
    ctd = undefined;
    await sup.stop();
    assert.equal(sup.pid, undefined);
    assert.ok(!pidAlive(secondPid), 'containerd PID is gone after stop');
  } finally {
    ctd?.close();
    await sup.stop();
    await rm(dataRoot, { recursive: true, force: true });
    await rm(execRoot, { recursive: true, force: true });
  }
});

test('supervisor stops a containerd left by a crashed berthd, and nothing else', { timeout: 120_000 }, async () => {
  const dataRoot = await mkdtemp('/tmp/berth-rt-data-');
  const execRoot = await mkdtemp('/tmp/berth-rt-exec-');
  const first = new ContainerdSupervisor({ dataRoot, execRoot, logger });
  const second = new ContainerdSupervisor({ dataRoot, execRoot, logger });
  const strays: number[] = [];
  try {
    // Leave the config behind, then play a crashed berthd: containerd runs, its pid file stays.
    await first.start();
    await first.stop();
    const orphan = spawn('containerd', ['--config', first.configPath], { stdio: 'ignore', detached: true });
    assert.ok(orphan.pid);
    strays.push(orphan.pid);
    await writeFile(first.pidFile, `${orphan.pid}\n`);
    const probe = new Containerd({ address: first.socketPath, namespace: 'berth-test', logger });
    await probe.waitReady(10_000);
    probe.close();

    await second.start();
    assert.ok(!pidAlive(orphan.pid), 'the leftover containerd was stopped');
    assert.notEqual(second.pid, orphan.pid);
    await second.stop();

    // A pid file naming an unrelated process must not get that process killed.
    const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    assert.ok(bystander.pid);
    strays.push(bystander.pid);
    await writeFile(second.pidFile, `${bystander.pid}\n`);
    await second.start();
    assert.ok(pidAlive(bystander.pid), 'an unrelated PID survives');
    await second.stop();
  } finally {
    for (const pid of strays) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await first.stop();
    await second.stop();
    await rm(dataRoot, { recursive: true, force: true });
    await rm(execRoot, { recursive: true, force: true });
  }
});

/** Leaves a partial ingest under `ref`, as a writer that died mid-stream would. */
async function leavePartialIngest(
  ctd: Containerd,
  lease: string,
  ref: string,
  expected: string,
  total: number,
  data: Buffer,
): Promise<void> {
  const stream = ctd.clients.content.write(ctd.metadata({ lease }));
  let answered = 0;
  const twoAnswers = new Promise<void>((resolve, reject) => {
    stream.on('data', () => {
      if (++answered === 2) resolve();
    });
    stream.on('error', reject);
  });
  stream.write({ action: WriteAction.STAT, ref, total, expected });
  stream.write({ action: WriteAction.WRITE, ref, offset: 0, data });
  await twoAnswers;
  stream.removeAllListeners('error');
  stream.on('error', () => undefined);
  stream.cancel();
  // The ref lock is released when the server sees the cancellation.
  for (let i = 0; i < 100; i++) {
    const st = await ctd.content.status({ ref }).catch(() => undefined);
    if (st?.status?.offset === data.length) return;
    await sleep(20);
  }
  throw new Error('partial ingest not visible');
}

test('content writes: multi-chunk, resumed, corrupt partial, concurrent, early read stop', { timeout: 120_000 }, async () => {
  const dataRoot = await mkdtemp('/tmp/berth-rt-data-');
  const execRoot = await mkdtemp('/tmp/berth-rt-exec-');
  const sup = new ContainerdSupervisor({ dataRoot, execRoot, logger });
  let ctd: Containerd | undefined;
  try {
    ctd = new Containerd({
      address: await sup.start(),
      namespace: `berth-test-${randomBytes(4).toString('hex')}`,
      logger,
    });
    const c = ctd;
    const big = randomBytes(20 * 1024 * 1024 + 123);
    const bigDigest = sha256Digest(big);
    const bigPath = join(execRoot, 'big.bin');
    await writeFile(bigPath, big);
    await withLease(c, async (lease) => {
      // 21 chunks through the pipelined window, digest computed on the way.
      assert.deepEqual(await writeBlob(c, { path: bigPath }, { lease }), { digest: bigDigest, size: big.length });
      assert.ok((await readBlobBuffer(c, bigDigest)).equals(big));

      // Stopping a read early cancels the stream without stray errors.
      const reader = readBlob(c, bigDigest);
      for await (const chunk of reader) {
        assert.ok((chunk as Buffer).length > 0);
        break;
      }

      // Resume: the ingest holds the true first 3 MiB and our source file has zeros there, so only
      // a write that continues at the ingest's offset can produce the expected digest.
      const blob = randomBytes(5 * 1024 * 1024);
      const digest = sha256Digest(blob);
      const head = 3 * 1024 * 1024;
      await leavePartialIngest(c, lease, `berth-${digest}`, digest, blob.length, blob.subarray(0, head));
      const doctoredPath = join(execRoot, 'doctored.bin');
      await writeFile(doctoredPath, Buffer.concat([Buffer.alloc(head), blob.subarray(head)]));
      assert.deepEqual(await writeBlob(c, { path: doctoredPath }, { lease, expected: digest }), {
        digest,
        size: blob.length,
      });
      assert.ok((await readBlobBuffer(c, digest)).equals(blob));

      // A partial ingest holding wrong bytes is discarded and the blob rewritten from scratch.
      const blob2 = randomBytes(3 * 1024 * 1024);
      const digest2 = sha256Digest(blob2);
      await leavePartialIngest(c, lease, `berth-${digest2}`, digest2, blob2.length, randomBytes(1024 * 1024));
      assert.deepEqual(await writeBlob(c, { data: blob2 }, { lease, expected: digest2 }), {
        digest: digest2,
        size: blob2.length,
      });
      assert.ok((await readBlobBuffer(c, digest2)).equals(blob2));

      // Two writers of one digest: the second waits on the ref lock, then finds the blob present.
      const blob3 = randomBytes(12 * 1024 * 1024);
      const digest3 = sha256Digest(blob3);
      const both = await Promise.all([
        writeBlob(c, { data: blob3 }, { lease, expected: digest3, labels: { 'berth.test/w': 'a' } }),
        writeBlob(c, { data: blob3 }, { lease, expected: digest3, labels: { 'berth.test/x': 'b' } }),
      ]);
      assert.deepEqual(both, [
        { digest: digest3, size: blob3.length },
        { digest: digest3, size: blob3.length },
      ]);
      const info = await blobInfo(c, digest3);
      assert.equal(info?.labels['berth.test/w'], 'a');
      assert.equal(info?.labels['berth.test/x'], 'b');

      // Wrong sizes and digests are caught before or at commit.
      await assert.rejects(writeBlob(c, { data: blob3 }, { lease, size: 1 }), InvalidParameter);
      await assert.rejects(writeBlob(c, { data: blob3 }, { lease, expected: 'sha256:nope' }), InvalidParameter);
      await assert.rejects(writeBlob(c, { data: randomBytes(10) }, { lease, expected: digest3 }), InvalidParameter);
      // A file claiming an existing digest but of another size is caught on the dedup path too.
      await assert.rejects(writeBlob(c, { path: bigPath }, { lease, expected: digest3 }), InvalidParameter);
    });
  } finally {
    ctd?.close();
    await sup.stop();
    await rm(dataRoot, { recursive: true, force: true });
    await rm(execRoot, { recursive: true, force: true });
  }
});

test('supervisor start fails clearly when containerd cannot run or dies at once', async () => {
  const dataRoot = await mkdtemp('/tmp/berth-rt-data-');
  const execRoot = await mkdtemp('/tmp/berth-rt-exec-');
  try {
    const missing = new ContainerdSupervisor({ dataRoot, execRoot, logger, binary: '/nonexistent/containerd' });
    await assert.rejects(missing.start(), /cannot run \/nonexistent\/containerd/);
    await missing.stop();
    const dies = new ContainerdSupervisor({ dataRoot, execRoot, logger, binary: '/bin/false' });
    await assert.rejects(dies.start(), /exited during startup \(code 1\)/);
    await dies.stop();
    // Runs but never listens: start() must time out and kill it.
    const mute = join(execRoot, 'mute-containerd');
    await writeFile(mute, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
    const silent = new ContainerdSupervisor({ dataRoot, execRoot, logger, binary: mute, startTimeoutMs: 300 });
    const spawned = new Promise<number>((resolve) => {
      const poll = setInterval(() => {
        if (silent.pid !== undefined) {
          clearInterval(poll);
          resolve(silent.pid);
        }
      }, 5);
    });
    await assert.rejects(silent.start(), /did not answer within 300 ms/);
    assert.ok(!pidAlive(await spawned), 'the unresponsive process was killed');
    await silent.stop();
  } finally {
    await rm(dataRoot, { recursive: true, force: true });
    await rm(execRoot, { recursive: true, force: true });
  }
});

test('runc and tini report their versions', async () => {
  const runc = await runcVersion();
  assert.match(runc.version, /^\d+\.\d+\.\d+/);
  assert.ok(runc.spec.length > 0);
  await assert.rejects(runcVersion('/nonexistent/runc'), /cannot run/);
  const init = await tiniVersion();
  assert.ok(init, 'docker-init or tini is installed');
  assert.match(init.version, /^\d+\.\d+\.\d+/);
  assert.equal(await tiniVersion(['/nonexistent/tini']), undefined);
});
