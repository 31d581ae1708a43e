// The exec process derived from the container's spec, dockerd's env merge, and reading a stored
// spec back with its 64-bit rlimits intact.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execProcess, replaceOrAppendEnv } from '../../daemon/exec/process-spec';
import { parseOciSpec } from '../../runtime/container-spec';
import { ociJson, type OciProcess } from '../../runtime/oci-types';

const RLIM_INFINITY = 18446744073709551615n;

const base: OciProcess = {
  terminal: false,
  consoleSize: { height: 5, width: 6 },
  user: { uid: 1000, gid: 1000, additionalGids: [1000] },
  args: ['/sbin/docker-init', '--', 'sleep', '1000'],
  env: ['PATH=/bin', 'FROM_CONTAINER=1'],
  cwd: '/srv',
  capabilities: { bounding: ['CAP_CHOWN'], effective: ['CAP_CHOWN'], permitted: ['CAP_CHOWN'] },
  rlimits: [{ type: 'RLIMIT_NOFILE', hard: RLIM_INFINITY, soft: 1024 }],
  noNewPrivileges: true,
  oomScoreAdj: 10,
};

test('execProcess keeps the container settings and replaces what the exec sets', () => {
  const p = execProcess({ base, args: ['sh', '-c', 'id'], env: ['A=1'], cwd: '', terminal: false });
  assert.deepEqual(p.args, ['sh', '-c', 'id']);
  assert.deepEqual(p.env, ['A=1']);
  assert.equal(p.cwd, '/');
  assert.equal(p.terminal, false);
  assert.equal(p.consoleSize, undefined, 'no console size without a terminal');
  assert.deepEqual(p.user, base.user);
  assert.deepEqual(p.capabilities, base.capabilities);
  assert.deepEqual(p.rlimits, base.rlimits);
  assert.equal(p.noNewPrivileges, true);
  assert.equal(p.oomScoreAdj, 10);
  assert.deepEqual(base.args, ['/sbin/docker-init', '--', 'sleep', '1000'], 'the base is not modified');
});

test('execProcess: terminal, console size, user and privileged', () => {
  const p = execProcess({
    base,
    args: ['sh'],
    env: [],
    cwd: '/tmp',
    terminal: true,
    consoleSize: [24, 80],
    user: { uid: 65534, gid: 65534, additionalGids: [65534, 5] },
    allCapabilities: ['CAP_CHOWN', 'CAP_SYS_ADMIN'],
  });
  assert.equal(p.terminal, true);
  assert.deepEqual(p.consoleSize, { height: 24, width: 80 });
  assert.deepEqual(p.user, { uid: 65534, gid: 65534, additionalGids: [65534, 5] });
  assert.deepEqual(p.capabilities, {
    bounding: ['CAP_CHOWN', 'CAP_SYS_ADMIN'],
    effective: ['CAP_CHOWN', 'CAP_SYS_ADMIN'],
    permitted: ['CAP_CHOWN', 'CAP_SYS_ADMIN'],
  });
  assert.equal(p.cwd, '/tmp');
  const zero = execProcess({ base, args: ['sh'], env: [], cwd: '/', terminal: true, consoleSize: [0, 0] });
  assert.equal(zero.consoleSize, undefined);
});

test('replaceOrAppendEnv: replace by key, append new keys, a bare key unsets', () => {
  assert.deepEqual(replaceOrAppendEnv(['PATH=/bin', 'A=1', 'B=2'], ['A=9', 'C=3', 'B']), ['PATH=/bin', 'A=9', 'C=3']);
  assert.deepEqual(replaceOrAppendEnv(['A=1'], ['A=2', 'A=3']), ['A=3']);
  assert.deepEqual(replaceOrAppendEnv([], ['X']), []);
  assert.deepEqual(replaceOrAppendEnv(['A=1'], ['A=x=y']), ['A=x=y']);
});

test('parseOciSpec keeps unlimited rlimits exact through a round trip', () => {
  const text = ociJson({ ociVersion: '1.0.2', process: base, root: { path: 'rootfs' }, mounts: [], linux: {} });
  assert.match(text, /"hard":18446744073709551615/);
  const spec = parseOciSpec(text);
  assert.equal(spec.process.rlimits?.[0].hard, RLIM_INFINITY);
  assert.equal(spec.process.rlimits?.[0].soft, 1024);
  assert.equal(ociJson(spec), text);
});
