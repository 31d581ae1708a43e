import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { Conflict, InvalidParameter, NotFound, SystemError, Unavailable } from '../../lib/errors';
import { renderContainerdConfig } from '../../daemon/containerd-supervisor';
import { fromGrpcError, grpcCodeOf, isGrpcCode } from '../../runtime/grpc-errors';
import { parseRuncVersion, parseTiniVersion } from '../../runtime/runc';
import { overlayDirsFromMounts } from '../../runtime/snapshots';

function serviceError(code: status, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata: new Metadata() });
}

test('gRPC codes map to typed errors and stay queryable', () => {
  const cases: [status, new (m: string) => Error][] = [
    [status.NOT_FOUND, NotFound],
    [status.ALREADY_EXISTS, Conflict],
    [status.FAILED_PRECONDITION, Conflict],
    [status.INVALID_ARGUMENT, InvalidParameter],
    [status.UNAVAILABLE, Unavailable],
    [status.UNKNOWN, SystemError],
  ];
  for (const [code, kind] of cases) {
    const mapped = fromGrpcError(serviceError(code, 'image "x": not found'));
    assert.ok(mapped instanceof kind, `${status[code]} -> ${kind.name}`);
    assert.equal(grpcCodeOf(mapped), code);
    assert.ok(isGrpcCode(mapped, code));
  }
  const notFound = fromGrpcError(serviceError(status.NOT_FOUND, 'image "x": not found'));
  assert.equal(notFound.message, 'image "x": not found');
  assert.equal(grpcCodeOf(new Error('plain')), undefined);
  assert.ok(fromGrpcError(new Error('plain')) instanceof SystemError);
});

test('overlay dirs of a committed chain view: top layer first', () => {
  const root = '/var/lib/berth/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots';
  const dirs = overlayDirsFromMounts([
    { type: 'overlay', source: 'overlay', options: [`lowerdir=${root}/3/fs:${root}/2/fs:${root}/1/fs`] },
  ]);
  assert.deepEqual(dirs, {
    UpperDir: `${root}/3/fs`,
    WorkDir: `${root}/3/work`,
    LowerDir: `${root}/2/fs:${root}/1/fs`,
  });
});

test('overlay dirs of a single-layer view (bind mount) have no LowerDir', () => {
  const dirs = overlayDirsFromMounts([{ type: 'bind', source: '/s/snapshots/7/fs', options: ['ro', 'rbind'] }]);
  assert.deepEqual(dirs, { UpperDir: '/s/snapshots/7/fs', WorkDir: '/s/snapshots/7/work' });
});

test('overlay dirs of an active snapshot use its upper and work dirs', () => {
  const dirs = overlayDirsFromMounts([
    {
      type: 'overlay',
      source: 'overlay',
      options: ['index=off', 'workdir=/s/9/work', 'upperdir=/s/9/fs', 'lowerdir=/s/2/fs:/s/1/fs'],
    },
  ]);
  assert.deepEqual(dirs, { UpperDir: '/s/9/fs', WorkDir: '/s/9/work', LowerDir: '/s/2/fs:/s/1/fs' });
});

test('runc and tini version output parse', () => {
  const runc = parseRuncVersion('runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\nlibseccomp: 2.5.4\n');
  assert.deepEqual(runc, { version: '1.1.5+ds1', commit: '1.1.5+ds1-1+deb12u1', spec: '1.0.2-dev' });
  assert.deepEqual(parseTiniVersion('tini version 0.19.0 - git.de40ad0\n'), { version: '0.19.0', commit: 'de40ad0' });
  assert.deepEqual(parseTiniVersion('tini version 0.19.0\n'), { version: '0.19.0', commit: '' });
  assert.equal(parseTiniVersion('something else'), undefined);
});

test('containerd config keeps everything under our roots and disables CRI', () => {
  const toml = renderContainerdConfig({
    root: '/d/containerd',
    state: '/x/containerd',
    address: '/x/containerd/containerd.sock',
    ttrpcAddress: '/x/containerd/containerd.sock.ttrpc',
    debug: false,
  });
  assert.match(toml, /^version = 2$/m);
  assert.match(toml, /^root = "\/d\/containerd"$/m);
  assert.match(toml, /^state = "\/x\/containerd"$/m);
  assert.match(toml, /\[grpc\]\n {2}address = "\/x\/containerd\/containerd.sock"/);
  assert.match(toml, /\[ttrpc\]\n {2}address = "\/x\/containerd\/containerd.sock.ttrpc"/);
  assert.match(toml, /disabled_plugins = \[[^\]]*"io.containerd.grpc.v1.cri"/);
  assert.match(toml, /\[debug\]\n {2}address = ""\n {2}level = "info"/);
  assert.match(toml, /\[metrics\]\n {2}address = ""/);
});
