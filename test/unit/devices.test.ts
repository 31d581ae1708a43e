import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { InvalidParameter } from '../../lib/errors';
import { blockDeviceNumbers, deviceNumber, hostDevices, resolveDevice as resolveRequest } from '../../runtime/devices';
import { resolveBlkioDevices, resolveContainerDevices, resolveDeviceMapping as resolveDevice } from '../../daemon/oci/devices';

const tmp = mkdtempSync(join(tmpdir(), 'berth-dev-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const mknod = (path: string, type: 'c' | 'b' | 'p', major?: number, minor?: number): void => {
  execFileSync('mknod', ['-m', '0640', path, type, ...(type === 'p' ? [] : [String(major), String(minor)])]);
};

test('dev_t splits like glibc', () => {
  assert.deepEqual(deviceNumber(0x0103), { major: 1, minor: 3 });
  assert.deepEqual(deviceNumber(0x8800), { major: 136, minor: 0 });
  assert.deepEqual(deviceNumber(0x12345), { major: 0x123, minor: 0x45 });
  // A minor above 255 keeps its high bits above the major's.
  assert.deepEqual(deviceNumber(259 * 256 + (0x100 << 12)), { major: 259, minor: 0x100 });
});

test('a device node: numbers, mode, owner, paths and permissions', async () => {
  const devs = await resolveDevice({ PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'rw' });
  assert.equal(devs.length, 1);
  const d = devs[0];
  assert.equal(d.path, '/dev/mynull');
  assert.equal(d.type, 'c');
  assert.deepEqual([d.major, d.minor], [1, 3]);
  assert.equal(d.fileMode, 0o666);
  assert.equal(d.permissions, 'rw');
  assert.deepEqual(await resolveDevice({ PathOnHost: '/dev/zero' }), [
    { ...(await resolveDevice({ PathOnHost: '/dev/zero', PathInContainer: '/dev/zero', CgroupPermissions: 'rwm' }))[0] },
  ]);
});

test('a symlink on the host is followed; a directory gives every device below it', async () => {
  const dir = join(tmp, 'devs');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  mknod(join(dir, 'c1'), 'c', 1, 7);
  mknod(join(dir, 'sub', 'b1'), 'b', 7, 42);
  mknod(join(dir, 'fifo'), 'p');
  writeFileSync(join(dir, 'plain'), 'x');
  symlinkSync(join(dir, 'c1'), join(tmp, 'link'));

  const viaLink = await resolveDevice({ PathOnHost: join(tmp, 'link'), PathInContainer: '/dev/full2', CgroupPermissions: 'r' });
  assert.deepEqual(
    viaLink.map((d) => [d.path, d.type, d.major, d.minor, d.fileMode]),
    [['/dev/full2', 'c', 1, 7, 0o640]],
  );

  const all = await resolveDevice({ PathOnHost: dir, PathInContainer: '/dev/x', CgroupPermissions: 'rwm' });
  assert.deepEqual(all.map((d) => `${d.path} ${d.type} ${d.major}:${d.minor}`).sort(), ['/dev/x/c1 c 1:7', '/dev/x/sub/b1 b 7:42']);
});

test('errors as dockerd words them', async () => {
  await assert.rejects(
    resolveDevice({ PathOnHost: '/dev/does-not-exist', PathInContainer: '/dev/x', CgroupPermissions: 'rwm' }),
    (err: unknown) => {
      assert.ok(err instanceof InvalidParameter);
      assert.equal(
        err.message,
        'error gathering device information while adding custom device "/dev/does-not-exist": no such file or directory',
      );
      return true;
    },
  );
  const empty = join(tmp, 'empty');
  mkdirSync(empty);
  await assert.rejects(resolveDevice({ PathOnHost: empty }), /adding custom device ".*empty": not a device node$/);
  await assert.rejects(resolveBlkioDevices({ BlkioDeviceReadBps: [{ Path: '/dev/nope', Rate: 1 }] }), {
    message: 'stat /dev/nope: no such file or directory',
  });
});

test('host devices for privileged containers skip pts, shm, console and fifos', async () => {
  const root = join(tmp, 'hostdev');
  mkdirSync(join(root, 'pts'), { recursive: true });
  mkdirSync(join(root, 'net'));
  mknod(join(root, 'null'), 'c', 1, 3);
  mknod(join(root, 'console'), 'c', 5, 1);
  mknod(join(root, 'pts', '0'), 'c', 136, 0);
  mknod(join(root, 'net', 'tun'), 'c', 10, 200);
  mknod(join(root, 'initctl'), 'p');
  const devs = await hostDevices(root);
  assert.deepEqual(devs.map((d) => `${d.path} ${d.major}:${d.minor}`).sort(), ['/dev/net/tun 10:200', '/dev/null 1:3']);
  // The real /dev has at least null and zero.
  const real = await hostDevices();
  for (const p of ['/dev/null', '/dev/zero'])
    assert.ok(
      real.some((d) => d.path === p),
      p,
    );
});

test('container devices: mappings, or all of /dev plus renamed mappings when privileged', async () => {
  const mapped = await resolveContainerDevices({
    Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/n2', CgroupPermissions: 'r' }],
  });
  assert.deepEqual(
    mapped.map((d) => [d.path, d.permissions]),
    [['/dev/n2', 'r']],
  );
  const priv = await resolveContainerDevices({
    Privileged: true,
    Devices: [
      { PathOnHost: '/dev/null', PathInContainer: '/dev/null', CgroupPermissions: 'r' },
      { PathOnHost: '/dev/zero', PathInContainer: '/dev/z2', CgroupPermissions: 'r' },
    ],
  });
  assert.equal(priv.filter((d) => d.path === '/dev/null').length, 1);
  assert.deepEqual(
    priv.filter((d) => d.path === '/dev/z2').map((d) => d.permissions),
    ['rwm'],
  );
  assert.deepEqual(await resolveBlkioDevices({ BlkioWeightDevice: [{ Path: '/dev/null', Weight: 10 }] }), {
    '/dev/null': { major: 1, minor: 3 },
  });
});

test('runtime/devices takes its own requests: Docker names are mapped in daemon/oci/devices.ts', async () => {
  const viaRuntime = await resolveRequest({ pathOnHost: '/dev/null', pathInContainer: '/dev/n3', permissions: 'rw' });
  const viaDocker = await resolveDevice({ PathOnHost: '/dev/null', PathInContainer: '/dev/n3', CgroupPermissions: 'rw' });
  assert.deepEqual(viaRuntime, viaDocker);
  assert.deepEqual(
    (await resolveRequest({ pathOnHost: '/dev/null' })).map((d) => [d.path, d.permissions]),
    [['/dev/null', 'rwm']],
  );
  assert.deepEqual(await blockDeviceNumbers(['/dev/null']), { '/dev/null': { major: 1, minor: 3 } });
  await assert.rejects(blockDeviceNumbers(['/dev/nope']), { message: 'stat /dev/nope: no such file or directory' });
});
