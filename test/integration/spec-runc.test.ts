// Runs specs from daemon/oci/spec.ts with bare runc on a busybox rootfs and checks, from inside the
// container, that they do what dockerd's would: capabilities, seccomp, masked paths, user ids,
// a read-only root with a writable tmpfs, cgroup limits, --init. Needs root, runc (cgroup v1 or v2)
// and tini-static. Privileged is not run: root here may lack capabilities runc needs for it.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { HostConfig } from '../../daemon/containers/api-types';
import { ociJson } from '../../runtime/oci-types';
import { buildSpec, DEFAULT_SHM_SIZE, type SpecInput } from '../../daemon/oci/spec';
import { resolveUser } from '../../runtime/user';
import { buildBusyboxLayer, PATH_ENV } from '../fixtures/busybox-image';

const RUNC = process.env.BERTH_TEST_RUNC ?? 'runc';
const INIT = '/usr/bin/tini-static';
const PARENT = `/berth-spec-test-${process.pid}`;
const CGROUP_ROOT = '/sys/fs/cgroup';
const cgroupV2 = existsSync(join(CGROUP_ROOT, 'cgroup.controllers'));

let dir = '';
let layer: Buffer;
let seq = 0;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], input?: Buffer): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
    child.stdin.end(input);
  });
}

/** A fresh bundle with the busybox rootfs; returns its dir. */
async function bundle(): Promise<string> {
  const b = join(dir, `b${seq++}`);
  await mkdir(join(b, 'rootfs'), { recursive: true });
  const x = await run('tar', ['-x', '-C', join(b, 'rootfs')], layer);
  assert.equal(x.code, 0, x.stderr);
  return b;
}

/** Builds the spec for `script` with the given HostConfig, runs it with runc, returns its output. */
async function runSpec(
  script: string,
  hostConfig: HostConfig = {},
  over: Partial<SpecInput> = {},
  user = '',
): Promise<Result & { spec: string }> {
  const b = await bundle();
  const id = `berth-spec-${process.pid}-${seq}`;
  const spec = buildSpec({
    id,
    namespace: 'berth-spec-test',
    config: {},
    hostConfig,
    process: {
      args: ['sh', '-c', script],
      env: [PATH_ENV],
      cwd: '/',
      user: await resolveUser([join(b, 'rootfs')], user, hostConfig.GroupAdd ?? []),
      terminal: false,
    },
    hostname: 'spectest',
    domainname: '',
    mounts: [],
    network: 'private',
    cgroupParent: PARENT,
    cgroupDriver: 'cgroupfs',
    cgroupVersion: cgroupV2 ? '2' : '1',
    shmSize: DEFAULT_SHM_SIZE,
    devices: [],
    ...over,
  });
  const json = ociJson(spec);
  await writeFile(join(b, 'config.json'), json);
  const res = await run(RUNC, ['--root', join(dir, 'runc-state'), 'run', '--bundle', b, id]);
  await run(RUNC, ['--root', join(dir, 'runc-state'), 'delete', '--force', id]);
  return { ...res, spec: json };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-spec-runc-'));
  layer = await buildBusyboxLayer();
});

after(async () => {
  // runc removes each container's cgroup; the shared parent is ours to remove, in every hierarchy.
  const parents = cgroupV2 ? [join(CGROUP_ROOT, PARENT)] : readdirSync(CGROUP_ROOT).map((c) => join(CGROUP_ROOT, c, PARENT));
  for (const p of parents) {
    try {
      rmdirSync(p);
    } catch {
      // Not created in this hierarchy.
    }
  }
  await rm(dir, { recursive: true, force: true });
});

test('default spec: dockerd capabilities, seccomp, masks, root with wheel, hostname, own network', async () => {
  const r = await runSpec(
    'grep -E "^(CapEff|CapBnd|CapPrm|CapInh|Seccomp|NoNewPrivs):" /proc/self/status; id; hostname; ' +
      'wc -c < /proc/kcore; echo x > /proc/sys/kernel/domainname || echo ro-proc-sys; ip -o link | cut -d: -f2; ' +
      'cat /proc/sys/net/ipv4/ip_unprivileged_port_start; grep -c " /dev/shm " /proc/mounts',
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  // dockerd's 14 default capabilities are the mask 0xa80425fb.
  assert.ok(lines.includes('CapEff:\t00000000a80425fb'), r.stdout);
  assert.ok(lines.includes('CapBnd:\t00000000a80425fb'), r.stdout);
  assert.ok(lines.includes('CapInh:\t0000000000000000'), r.stdout);
  assert.ok(lines.includes('Seccomp:\t2'), r.stdout);
  assert.ok(lines.includes('NoNewPrivs:\t0'), r.stdout);
  assert.ok(lines.includes('uid=0(root) gid=0(root) groups=0(root),10(wheel)'), r.stdout);
  assert.ok(lines.includes('spectest'), r.stdout);
  assert.ok(lines.includes('0'), 'masked /proc/kcore reads empty');
  assert.ok(lines.includes('ro-proc-sys'), r.stdout);
  assert.ok(lines.includes(' lo'), r.stdout);
  assert.ok(!r.stdout.includes('eth0'), 'a new network namespace has only lo');
});

test('seccomp: unshare is refused by the default profile and allowed when unconfined', async () => {
  const confined = await runSpec('unshare -U true && echo allowed || echo refused', { CapAdd: [] });
  assert.equal(confined.code, 0, confined.stderr);
  assert.match(confined.stdout, /refused/);
  const unconfined = await runSpec('unshare -U true && echo allowed || echo refused', { SecurityOpt: ['seccomp=unconfined'] });
  assert.match(unconfined.stdout, /allowed/);
});

test('CapDrop ALL leaves no capabilities; chown then fails', async () => {
  const r = await runSpec('grep CapEff /proc/self/status; touch /tmp/f; chown 1 /tmp/f && echo chowned || echo denied', {
    CapDrop: ['ALL'],
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /CapEff:\t0000000000000000/);
  assert.match(r.stdout, /denied/);
  const added = await runSpec('grep CapEff /proc/self/status', { CapDrop: ['ALL'], CapAdd: ['chown'] });
  assert.match(added.stdout, /CapEff:\t0000000000000001/);
});

test('read-only rootfs: writes fail except on a Tmpfs mount', async () => {
  const r = await runSpec('touch /x 2>&1; touch /run/ok && echo tmpfs-ok; grep " /run " /proc/mounts', {
    ReadonlyRootfs: true,
    Tmpfs: { '/run': 'rw,noexec,nosuid,size=65536k' },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Read-only file system/);
  assert.match(r.stdout, /tmpfs-ok/);
  assert.match(r.stdout, /tmpfs \/run tmpfs rw,nosuid,nodev,noexec,relatime,size=65536k/);
});

test('memory, pids and cpu limits land in the cgroup', async () => {
  const script = cgroupV2
    ? 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; cut -d" " -f1 /sys/fs/cgroup/cpu.max'
    : 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us';
  const r = await runSpec(script, { Memory: 64 * 1024 * 1024, PidsLimit: 50, NanoCpus: 500_000_000 });
  assert.equal(r.code, 0, r.stderr);
  const values = r.stdout.trim().split('\n');
  if (cgroupV2) assert.deepEqual(values, ['67108864', '50', '50000']);
  else assert.deepEqual(values, ['67108864', '134217728', '50', '50000']);
});

test('user nobody: ids from the image, no effective capabilities', async () => {
  const r = await runSpec('id; grep CapEff /proc/self/status', {}, {}, 'nobody');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /uid=65534\(nobody\) gid=65534\(nogroup\) groups=65534\(nogroup\)/);
  assert.match(r.stdout, /CapEff:\t0000000000000000/);
  const g = await runSpec('id', { GroupAdd: ['mail', '4242'] }, {}, 'www-data');
  assert.match(g.stdout, /uid=33\(www-data\) gid=33\(www-data\) groups=12\(mail\),33\(www-data\),4242/);
});

test('--init runs the command under the init as PID 1', async () => {
  const r = await runSpec('echo pid=$$; tr "\\0" " " < /proc/1/cmdline; echo', {}, { init: { hostPath: INIT } });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /pid=1\n/);
  assert.match(r.stdout, /\/sbin\/docker-init -- sh -c/);
});

test('ulimits, sysctls and no-new-privileges reach the process', async () => {
  // -1 (RLIM_INFINITY) on core, whose hard limit is unlimited already: raising a hard limit needs
  // CAP_SYS_RESOURCE, which root may lack here.
  const r = await runSpec('ulimit -n; ulimit -c; cat /proc/sys/net/core/somaxconn; grep NoNewPrivs /proc/self/status', {
    Ulimits: [
      { Name: 'nofile', Soft: 4096, Hard: 8192 },
      { Name: 'core', Soft: -1, Hard: -1 },
    ],
    Sysctls: { 'net.core.somaxconn': '1234' },
    SecurityOpt: ['no-new-privileges'],
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['4096', 'unlimited', '1234', 'NoNewPrivs:\t1']);
});
