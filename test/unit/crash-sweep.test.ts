// The crash sweep's decisions: which processes and mounts are this daemon's leftovers. Another
// daemon's (another namespace, another containerd socket) and live tasks' are never chosen.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyProcess, orphanMounts, parseMountinfo } from '../../daemon/crash-sweep';

const NS = 'berth-0123456789ab';
const LIVE = 'a'.repeat(64);
const DEAD = 'b'.repeat(64);
const SOCK = '/run/berth/containerd/containerd.sock';
const opts = { namespace: NS, liveTasks: new Set([LIVE]), containerdSocket: SOCK };
const shim = (ns: string, id: string, address = SOCK): string[] => [
  '/usr/bin/containerd-shim-runc-v2',
  '-namespace',
  ns,
  '-id',
  id,
  '-address',
  address,
];

test('shims: ours and orphaned only', () => {
  assert.deepEqual(classifyProcess(shim(NS, DEAD), '', opts), { id: DEAD, what: `shim of ${DEAD}` });
  assert.equal(classifyProcess(shim(NS, LIVE), '', opts), undefined);
  assert.equal(classifyProcess(shim('berth-other', DEAD), '', opts), undefined);
  assert.equal(classifyProcess(shim('moby', DEAD), '', opts), undefined);
  assert.equal(classifyProcess(shim(NS, DEAD, '/run/containerd/containerd.sock'), '', opts), undefined);
  assert.ok(classifyProcess(shim(NS, DEAD, `unix://${SOCK}`), '', opts));
});

test('container processes by cgroup (cgroupfs and systemd)', () => {
  const v1 = `12:pids:/${NS}/${DEAD}\n11:memory:/${NS}/${DEAD}\n`;
  assert.deepEqual(classifyProcess(['runc', 'init'], v1, opts), { id: DEAD, what: `runc in the cgroup of ${DEAD}` });
  assert.ok(classifyProcess(['sleep', '1'], `0::/system.slice/${NS}-${DEAD}.scope\n`, opts));
  assert.equal(classifyProcess(['sleep', '1'], `0::/${NS}/${LIVE}\n`, opts), undefined);
  assert.equal(classifyProcess(['sleep', '1'], `0::/berth-other/${DEAD}\n`, opts), undefined);
  assert.equal(classifyProcess(['sleep', '1'], `0::/docker/${DEAD}\n`, opts), undefined);
  // A prefix of our namespace is someone else's.
  assert.equal(classifyProcess(['sleep', '1'], `0::/${NS}x/${DEAD}\n`, opts), undefined);
  assert.equal(classifyProcess(['bash'], '0::/user.slice/session-1.scope\n', opts), undefined);
});

test('mounts: task rootfs of dead tasks, temp overlays of our layers', () => {
  const state = '/run/berth/containerd';
  const root = '/var/lib/berth/containerd';
  const line = (id: number, mp: string, fs: string, superOpts: string): string =>
    `${id} 1 0:${id} / ${mp.replace(/ /g, '\\040')} rw,relatime shared:1 - ${fs} ${fs} ${superOpts}`;
  const info = [
    line(30, `${state}/io.containerd.runtime.v2.task/${NS}/${DEAD}/rootfs`, 'overlay', `rw,lowerdir=${root}/x/1/fs`),
    line(31, `${state}/io.containerd.runtime.v2.task/${NS}/${LIVE}/rootfs`, 'overlay', `rw,lowerdir=${root}/x/2/fs`),
    line(32, '/tmp/berth-mnt-abc', 'overlay', `ro,lowerdir=${root}/io.containerd.snapshotter.v1.overlayfs/snapshots/3/fs:${root}/x/4/fs`),
    line(33, '/tmp/berth-mnt-def', 'overlay', 'ro,lowerdir=/var/lib/other/containerd/snapshots/3/fs'),
    line(34, '/tmp/elsewhere', 'overlay', `ro,lowerdir=${root}/x/5/fs`),
    line(35, '/run/containerd/io.containerd.runtime.v2.task/moby/x/rootfs', 'overlay', 'rw'),
    line(36, '/tmp/berth-mnt-with space', 'overlay', `ro,lowerdir=${root}/x/6/fs`),
  ].join('\n');
  const mounts = parseMountinfo(info);
  assert.equal(mounts[6]!.mountPoint, '/tmp/berth-mnt-with space');
  assert.deepEqual(
    orphanMounts(mounts, { namespace: NS, liveTasks: new Set([LIVE]), stateDir: state, containerdRoot: root, tmpDir: '/tmp' }).sort(),
    [`${state}/io.containerd.runtime.v2.task/${NS}/${DEAD}/rootfs`, '/tmp/berth-mnt-abc', '/tmp/berth-mnt-with space'],
  );
  // With an external containerd nothing of its state is ours to unmount.
  assert.deepEqual(orphanMounts(mounts, { namespace: NS, liveTasks: new Set(), tmpDir: '/tmp' }), []);
});
