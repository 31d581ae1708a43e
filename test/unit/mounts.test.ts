// The mount plan: Binds strings, HostConfig.Mounts, VolumesFrom and image volumes, with dockerd's
// validation errors, and the MountPoint views.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { mountPointView, parseBind, parseMount, parseVolumesFrom, planMounts, type PlannedMount } from '../../daemon/containers/mounts';

test('Binds: volumes, host paths, modes', () => {
  assert.deepEqual(parseBind('data:/d'), {
    type: 'volume',
    destination: '/d',
    source: 'data',
    rw: true,
    mode: 'z',
    propagation: '',
    copyData: true,
  });
  assert.deepEqual(parseBind('data:/d:ro,nocopy'), {
    type: 'volume',
    destination: '/d',
    source: 'data',
    rw: false,
    mode: 'ro,nocopy',
    propagation: '',
    copyData: false,
  });
  assert.deepEqual(parseBind('/h/x/:/c/:ro,rshared'), {
    type: 'bind',
    destination: '/c',
    source: '/h/x',
    rw: false,
    mode: 'ro,rshared',
    propagation: 'rshared',
    createSource: true,
  });
  assert.equal(parseBind('/h:/c').propagation, 'rprivate');
  assert.deepEqual(parseBind('/anon'), {
    type: 'volume',
    destination: '/anon',
    source: '',
    rw: true,
    mode: '',
    propagation: '',
    copyData: true,
  });
  assert.throws(() => parseBind('/h:/c:nocopy'), { message: 'invalid mode: nocopy' });
  assert.throws(() => parseBind('/h:/c:ro,rw'), { message: 'invalid mode: ro,rw' });
  assert.throws(() => parseBind('a:b:c:d'), { message: "invalid volume specification: 'a:b:c:d'" });
  assert.throws(() => parseBind('v:rel'), {
    message: `invalid mount config for type "volume": invalid mount path: 'rel' mount path must be absolute`,
  });
  assert.throws(() => parseBind('v:/'), /destination can't be '\/'/);
});

test('Mounts: bind, volume, tmpfs and their checks', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-mounts-'));
  try {
    assert.deepEqual(
      parseMount({ Type: 'bind', Source: dir, Target: '/b', ReadOnly: true, BindOptions: { Propagation: 'slave', NonRecursive: true } }),
      {
        type: 'bind',
        destination: '/b',
        source: dir,
        rw: false,
        mode: '',
        propagation: 'slave',
        nonRecursive: true,
        createSource: false,
      },
    );
    assert.throws(() => parseMount({ Type: 'bind', Source: '/no/such', Target: '/b' }), {
      message: 'invalid mount config for type "bind": bind source path does not exist: /no/such',
    });
    assert.equal(
      parseMount({ Type: 'bind', Source: '/no/such', Target: '/b', BindOptions: { CreateMountpoint: true } }).createSource,
      true,
    );
    assert.throws(() => parseMount({ Type: 'bind', Source: 'rel', Target: '/b' }), /invalid mount path: 'rel' mount path must be absolute/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
  const v = parseMount({ Type: 'volume', Target: '/v', VolumeOptions: { NoCopy: true, Labels: { a: 'b' }, Subpath: 'x/y' } });
  assert.equal(v.copyData, false);
  assert.equal(v.subpath, 'x/y');
  assert.deepEqual(v.volumeLabels, { a: 'b' });
  assert.throws(
    () => parseMount({ Type: 'volume', Target: '/v', VolumeOptions: { Subpath: '../x' } }),
    /subpath must be a relative path within the volume/,
  );
  assert.throws(() => parseMount({ Type: 'volume', Target: '/v', VolumeOptions: { Subpath: '/abs' } }), /subpath must be a relative path/);
  assert.equal(
    parseMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1 << 20, Mode: 0o1770 } }).tmpfsData,
    'size=1m,mode=1770',
  );
  assert.equal(parseMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1000 } }).tmpfsData, 'size=1000');
  assert.throws(() => parseMount({ Type: 'tmpfs', Source: 'x', Target: '/t' }), /field Source must not be specified/);
});

test('VolumesFrom specs', () => {
  assert.deepEqual(parseVolumesFrom('c'), { container: 'c', mode: '' });
  assert.deepEqual(parseVolumesFrom('c:ro'), { container: 'c', mode: 'ro' });
  assert.throws(() => parseVolumesFrom('c:zz'), { message: 'invalid mode: zz' });
});

test('planMounts: order, duplicates, image volumes not covered by a mount, volumes-from modes', () => {
  const from: PlannedMount[] = [
    { type: 'volume', destination: '/shared', source: 'sv', rw: true, mode: 'z', propagation: '', copyData: true },
    { type: 'volume', destination: '/data', source: 'old', rw: true, mode: 'z', propagation: '', copyData: true },
  ];
  const plan = planMounts({ VolumesFrom: ['src:ro'], Binds: ['new:/data'] }, ['/data', '/img'], () => from);
  assert.deepEqual(
    plan.map((m) => [m.destination, m.source, m.rw]),
    [
      ['/shared', 'sv', false],
      ['/data', 'new', true],
      ['/img', '', true],
    ],
  );
  assert.equal(plan[0].copyData, false);
  assert.throws(() => planMounts({ Binds: ['a:/x', 'b:/x/'] }, [], () => []), { message: 'Duplicate mount point: /x' });
  assert.throws(() => planMounts({ Binds: ['a:/x'], Mounts: [{ Type: 'tmpfs', Target: '/x' }] }, [], () => []), {
    message: 'Duplicate mount point: /x',
  });
});

test('MountPoint views', () => {
  const vp = (n: string): string => `/root/volumes/${n}/_data`;
  assert.deepEqual(mountPointView(parseBind('data:/d'), vp), {
    Type: 'volume',
    Name: 'data',
    Source: '/root/volumes/data/_data',
    Destination: '/d',
    Driver: 'local',
    Mode: 'z',
    RW: true,
    Propagation: '',
  });
  assert.deepEqual(mountPointView(parseBind('/h:/c:ro'), vp), {
    Type: 'bind',
    Source: '/h',
    Destination: '/c',
    Mode: 'ro',
    RW: false,
    Propagation: 'rprivate',
  });
});
