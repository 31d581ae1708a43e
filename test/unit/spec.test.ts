import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostConfig } from '../../daemon/containers/api-types';
import { InvalidParameter } from '../../lib/errors';
import {
  DEFAULT_CAPABILITIES,
  KNOWN_CAPABILITIES,
  capabilitiesFromMask,
  containerCapabilities,
  effectiveCapabilities,
  validateCapabilities,
} from '../../runtime/capabilities';
import type { HostDevice } from '../../runtime/devices';
import { RLIM_INFINITY, ociJson, type OciMount, type OciSpec } from '../../runtime/oci-types';
import { buildResources, parseDeviceCgroupRules } from '../../daemon/oci/resources';
import { buildSpec, mergeTmpfsOptions, parseSecurityOpt, tmpfsMount, type SpecInput } from '../../daemon/oci/spec';
import { DEFAULT_MASKED_PATHS, parseCpuList, type SpecHostFacts } from '../../runtime/spec-host';

// Every capability but CAP_SYS_RESOURCE, like root on the test machines.
const HOST_CAPS = KNOWN_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');

const host: SpecHostFacts = {
  capabilities: { available: HOST_CAPS },
  arch: 'amd64',
  kernelRelease: '6.1.0-18-amd64',
  maskedPaths: [...DEFAULT_MASKED_PATHS, '/sys/devices/system/cpu/cpu0/thermal_throttle'],
  sysctlExists: () => true,
};

function input(hostConfig: HostConfig = {}, over: Partial<SpecInput> = {}): SpecInput {
  return {
    id: 'c0ffee',
    namespace: 'berth',
    config: {},
    hostConfig,
    process: {
      args: ['sh', '-c', 'true'],
      env: ['PATH=/bin'],
      cwd: '/',
      user: { uid: 0, gid: 0, additionalGids: [0, 10] },
      terminal: false,
    },
    hostname: 'c0ffee',
    domainname: '',
    mounts: [],
    network: 'private',
    cgroupParent: '',
    cgroupDriver: 'cgroupfs',
    cgroupVersion: '1',
    shmSize: 64 * 1024 * 1024,
    devices: [],
    host,
    ...over,
  };
}

const mount = (s: OciSpec, dest: string): OciMount | undefined => s.mounts.find((m) => m.destination === dest);
const nsTypes = (s: OciSpec): string[] => s.linux.namespaces.map((n) => n.type);

function rejects(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidParameter, `expected InvalidParameter, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

test('defaults: process, capabilities, root, hostname, cgroups path', () => {
  const s = buildSpec(input());
  assert.equal(s.ociVersion, '1.0.2-dev');
  assert.deepEqual(s.process.args, ['sh', '-c', 'true']);
  assert.deepEqual(s.process.user, { uid: 0, gid: 0, additionalGids: [0, 10] });
  assert.equal(s.process.cwd, '/');
  assert.equal(s.process.terminal, false);
  assert.equal(s.process.oomScoreAdj, 0);
  assert.equal(s.process.noNewPrivileges, undefined);
  assert.equal(s.process.rlimits, undefined);
  assert.deepEqual(s.process.capabilities?.bounding, [...DEFAULT_CAPABILITIES]);
  assert.deepEqual(s.process.capabilities?.effective, [...DEFAULT_CAPABILITIES]);
  assert.deepEqual(s.process.capabilities?.permitted, [...DEFAULT_CAPABILITIES]);
  assert.equal(s.process.capabilities?.inheritable, undefined);
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
  assert.deepEqual(s.root, { path: 'rootfs', readonly: false });
  assert.equal(s.hostname, 'c0ffee');
  assert.equal(s.linux.cgroupsPath, '/berth/c0ffee');
  assert.equal(s.annotations, undefined);
});

test('defaults: mounts in parent-first order with shm sized', () => {
  const s = buildSpec(input({ ShmSize: 1 << 20 }));
  const dests = s.mounts.map((m) => m.destination);
  assert.deepEqual(new Set(dests), new Set(['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm']));
  for (const [i, m] of s.mounts.entries()) {
    for (const later of s.mounts.slice(i + 1))
      assert.ok(!m.destination.startsWith(`${later.destination}/`), `${later.destination} after ${m.destination}`);
  }
  assert.deepEqual(mount(s, '/dev/pts')?.options, ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']);
  assert.deepEqual(mount(s, '/dev/shm'), {
    destination: '/dev/shm',
    type: 'tmpfs',
    source: 'shm',
    options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=1048576'],
  });
  assert.ok(mount(s, '/sys')?.options?.includes('ro'));
  assert.ok(mount(s, '/sys/fs/cgroup')?.options?.includes('ro'));
  assert.equal(mount(s, '/dev')?.type, 'tmpfs');
  // Daemon default size when HostConfig has none.
  assert.ok(mount(buildSpec(input()), '/dev/shm')?.options?.includes(`size=${64 * 1024 * 1024}`));
});

test('defaults: masked and readonly paths, namespaces, sysctls, device rules, seccomp', () => {
  const s = buildSpec(input());
  assert.deepEqual(s.linux.maskedPaths, host.maskedPaths);
  for (const p of ['/proc/kcore', '/proc/keys', '/proc/acpi', '/proc/timer_list', '/sys/firmware', '/sys/devices/virtual/powercap']) {
    assert.ok(s.linux.maskedPaths?.includes(p), p);
  }
  assert.deepEqual(s.linux.readonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  assert.deepEqual(nsTypes(s), ['mount', 'network', 'uts', 'pid', 'ipc']);
  assert.ok(s.linux.namespaces.every((n) => n.path === undefined));
  assert.deepEqual(s.linux.sysctl, { 'net.ipv4.ping_group_range': '0 2147483647', 'net.ipv4.ip_unprivileged_port_start': '0' });
  const rules = s.linux.resources?.devices ?? [];
  assert.deepEqual(rules[0], { allow: false, access: 'rwm' });
  assert.deepEqual(
    rules.slice(1).map((r) => `${r.allow ? '+' : '-'}${r.type} ${r.major}:${r.minor}`),
    ['+c 1:5', '+c 1:3', '+c 1:9', '+c 1:8', '+c 5:0', '+c 5:1', '-c 10:229'],
  );
  assert.equal(s.linux.devices, undefined);
  const sc = s.linux.seccomp;
  assert.ok(sc);
  assert.equal(sc.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(sc.defaultErrnoRet, 1);
  assert.deepEqual(sc.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
});

test('cgroup v2 defaults to a private cgroup namespace; v1 to the host one', () => {
  assert.ok(nsTypes(buildSpec(input({}, { cgroupVersion: '2' }))).includes('cgroup'));
  assert.ok(!nsTypes(buildSpec(input({}, { cgroupVersion: '1' }))).includes('cgroup'));
  assert.ok(nsTypes(buildSpec(input({ CgroupnsMode: 'private' }))).includes('cgroup'));
  assert.ok(!nsTypes(buildSpec(input({ CgroupnsMode: 'host' }, { cgroupVersion: '2' }))).includes('cgroup'));
  rejects(() => buildSpec(input({ CgroupnsMode: 'bogus' as 'host' })), 'invalid cgroup namespace mode: bogus');
});

test('host and container: namespace modes', () => {
  const s = buildSpec(
    input(
      { PidMode: 'container:abc', IpcMode: 'container:def', UTSMode: 'host', NetworkMode: 'container:net' },
      { network: { path: '/proc/42/ns/net' }, joinNamespaces: { pid: '/proc/7/ns/pid', ipc: '/proc/8/ns/ipc' } },
    ),
  );
  assert.deepEqual(s.linux.namespaces, [
    { type: 'mount' },
    { type: 'network', path: '/proc/42/ns/net' },
    { type: 'pid', path: '/proc/7/ns/pid' },
    { type: 'ipc', path: '/proc/8/ns/ipc' },
  ]);
  assert.equal(s.hostname, undefined, 'no hostname in the host UTS namespace');
  assert.equal(mount(s, '/dev/shm'), undefined, 'container: IPC brings its own /dev/shm');
  assert.equal(s.linux.sysctl, undefined, 'no network sysctls for a joined network namespace');

  const h = buildSpec(
    input({ PidMode: 'host', IpcMode: 'host', NetworkMode: 'host' }, { network: 'host', init: { hostPath: '/usr/bin/tini' } }),
  );
  assert.deepEqual(nsTypes(h), ['mount', 'uts']);
  assert.deepEqual(mount(h, '/dev/shm'), { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] });
  assert.deepEqual(h.process.args, ['sh', '-c', 'true'], 'no init outside a private PID namespace');
  assert.equal(mount(h, '/sbin/docker-init'), undefined);

  assert.equal(mount(buildSpec(input({ IpcMode: 'none' })), '/dev/shm'), undefined);
  rejects(() => buildSpec(input({ IpcMode: 'bogus' })), 'invalid IPC mode: bogus');
  rejects(() => buildSpec(input({ PidMode: 'private' })), 'invalid PID mode: private');
  rejects(() => buildSpec(input({ PidMode: 'container:gone' })), /failed to join PID namespace/);
});

test('CapAdd / CapDrop with and without prefix, any case, ALL', () => {
  const caps = (hc: HostConfig): string[] => buildSpec(input(hc)).process.capabilities?.bounding ?? [];
  const add = caps({ CapAdd: ['net_admin', 'CAP_SYS_PTRACE'], CapDrop: ['MKNOD', 'cap_net_raw'] });
  assert.ok(add.includes('CAP_NET_ADMIN') && add.includes('CAP_SYS_PTRACE'));
  assert.ok(!add.includes('CAP_MKNOD') && !add.includes('CAP_NET_RAW'));
  assert.equal(add.length, 14);
  assert.deepEqual(caps({ CapDrop: ['ALL'] }), []);
  assert.deepEqual(caps({ CapDrop: ['all'], CapAdd: ['chown'] }), ['CAP_CHOWN']);
  const all = caps({ CapAdd: ['ALL'], CapDrop: ['SYS_ADMIN'] });
  assert.deepEqual(
    all,
    HOST_CAPS.filter((c) => c !== 'CAP_SYS_ADMIN'),
  );
  rejects(() => buildSpec(input({ CapAdd: ['foo'] })), 'invalid CapAdd: unknown capability: "CAP_FOO"');
  rejects(() => buildSpec(input({ CapDrop: ['CAP_BAR'] })), 'invalid CapDrop: unknown capability: "CAP_BAR"');
  rejects(
    () => validateCapabilities(['SYS_RESOURCE'], [], { available: HOST_CAPS }),
    'invalid CapAdd: capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"',
  );
  assert.deepEqual(containerCapabilities({ privileged: true, capDrop: ['ALL'] }, { available: ['CAP_KILL'] }), ['CAP_KILL']);
});

test('capability masks from /proc/self/status', () => {
  assert.deepEqual(capabilitiesFromMask('0000000000000003'), ['CAP_CHOWN', 'CAP_DAC_OVERRIDE']);
  const caps = effectiveCapabilities('Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\n');
  assert.equal(caps?.length, KNOWN_CAPABILITIES.length - 1);
  assert.ok(!caps?.includes('CAP_SYS_RESOURCE'));
  assert.equal(effectiveCapabilities('nothing'), undefined);
});

test('privileged: all capabilities, writable /sys and cgroups, no masks, all devices, no seccomp', () => {
  const dev: HostDevice = { path: '/dev/sda', type: 'b', major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6, permissions: 'rwm' };
  const s = buildSpec(input({ Privileged: true }, { devices: [dev, { ...dev }] }));
  assert.deepEqual(s.process.capabilities?.bounding, HOST_CAPS);
  assert.ok(!mount(s, '/sys')?.options?.includes('ro'));
  assert.ok(!mount(s, '/sys/fs/cgroup')?.options?.includes('ro'));
  assert.equal(s.linux.maskedPaths, undefined);
  assert.equal(s.linux.readonlyPaths, undefined);
  assert.deepEqual(s.linux.resources?.devices, [{ allow: true, access: 'rwm' }]);
  assert.deepEqual(s.linux.devices, [{ path: '/dev/sda', type: 'b', major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 }]);
  assert.equal(s.linux.seccomp, undefined);
  // An explicit profile still applies to a privileged container.
  assert.ok(buildSpec(input({ Privileged: true, SecurityOpt: ['seccomp=builtin'] })).linux.seccomp);
  // HostConfig's lists win even then.
  assert.deepEqual(buildSpec(input({ Privileged: true, MaskedPaths: ['/proc/kcore'] })).linux.maskedPaths, ['/proc/kcore']);
  // writable-cgroups=false keeps the cgroup mount read-only.
  assert.ok(
    mount(buildSpec(input({ Privileged: true, SecurityOpt: ['writable-cgroups=false'] })), '/sys/fs/cgroup')?.options?.includes('ro'),
  );
});

test('masked and readonly paths from HostConfig replace the defaults', () => {
  const s = buildSpec(input({ MaskedPaths: [], ReadonlyPaths: ['/proc/sys'] }));
  assert.equal(s.linux.maskedPaths, undefined);
  assert.deepEqual(s.linux.readonlyPaths, ['/proc/sys']);
});

test('readonly rootfs marks the non-/dev, non-/proc defaults read-only but not the caller mounts', () => {
  const hosts: OciMount = { destination: '/etc/hosts', type: 'bind', source: '/var/lib/berth/c/hosts', options: ['rbind', 'rprivate'] };
  const s = buildSpec(input({ ReadonlyRootfs: true, Tmpfs: { '/run': '' } }, { mounts: [hosts] }));
  assert.equal(s.root.readonly, true);
  assert.ok(mount(s, '/sys/fs/cgroup')?.options?.includes('ro'));
  for (const d of ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue']) assert.ok(!mount(s, d)?.options?.includes('ro'), d);
  assert.deepEqual(mount(s, '/etc/hosts')?.options, ['rbind', 'rprivate']);
  assert.ok(!mount(s, '/run')?.options?.includes('ro'));
});

test('caller mounts replace defaults at the same destination; /dev replaces everything below it', () => {
  const shm: OciMount = { destination: '/dev/shm', type: 'bind', source: '/var/lib/berth/c/shm', options: ['rbind', 'rprivate'] };
  const s = buildSpec(
    input(
      {},
      {
        mounts: [
          { destination: '/data/sub', type: 'bind', source: '/b', options: ['rbind'] },
          { destination: '/data', type: 'bind', source: '/a', options: ['rbind'] },
          shm,
        ],
      },
    ),
  );
  assert.deepEqual(mount(s, '/dev/shm'), shm);
  assert.equal(s.mounts.filter((m) => m.destination === '/dev/shm').length, 1);
  const order = s.mounts.map((m) => m.destination);
  assert.ok(order.indexOf('/data') < order.indexOf('/data/sub'));

  const d = buildSpec(input({}, { mounts: [{ destination: '/dev', type: 'bind', source: '/dev', options: ['rbind'] }] }));
  assert.deepEqual(
    d.mounts.map((m) => m.destination).filter((p) => p.startsWith('/dev')),
    ['/dev'],
  );
});

test('Tmpfs options are merged as dockerd does', () => {
  assert.deepEqual(tmpfsMount('/run', 'rw,noexec,nosuid,size=65536k'), {
    destination: '/run',
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['nodev', 'rprivate', 'rw', 'noexec', 'nosuid', 'size=65536k'],
  });
  assert.deepEqual(tmpfsMount('/x', '').options, ['noexec', 'nosuid', 'nodev', 'rprivate']);
  assert.deepEqual(tmpfsMount('/x', 'exec,mode=1777,size=1m,size=2m').options, [
    'nosuid',
    'nodev',
    'rprivate',
    'exec',
    'mode=1777',
    'size=2m',
  ]);
  assert.deepEqual(mergeTmpfsOptions(['defaults', 'shared', 'rslave']), ['rslave']);
  rejects(() => tmpfsMount('/x', 'bogus=1'), 'invalid tmpfs option "bogus"');
  rejects(() => tmpfsMount('/x', 'uid'), 'invalid tmpfs option "uid"');
  rejects(() => tmpfsMount('relative', ''), "invalid mount path: 'relative' mount path must be absolute");
  rejects(() => tmpfsMount('/', ''), "invalid specification: destination can't be '/'");
  const s = buildSpec(input({ Tmpfs: { '/run': 'size=1m', '/tmp': '' } }));
  assert.deepEqual(mount(s, '/run')?.options, ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=1m']);
  assert.equal(mount(s, '/tmp')?.type, 'tmpfs');
});

test('resources: memory, swap, cpu, NanoCpus, pids, blkio', () => {
  assert.deepEqual(buildResources({}), {});
  assert.deepEqual(buildResources({ Memory: 64 << 20 }).memory, { limit: 64 << 20, swap: 128 << 20 });
  assert.deepEqual(buildResources({ Memory: 64 << 20, MemorySwap: -1 }).memory, { limit: 64 << 20 });
  assert.deepEqual(
    buildResources({ Memory: 64 << 20, MemorySwap: 100 << 20, MemoryReservation: 32 << 20, MemorySwappiness: 10, OomKillDisable: true })
      .memory,
    {
      limit: 64 << 20,
      reservation: 32 << 20,
      swap: 100 << 20,
      swappiness: 10,
      disableOOMKiller: true,
    },
  );
  assert.equal(buildResources({ MemorySwappiness: -1 }).memory, undefined);
  rejects(() => buildResources({ MemorySwappiness: 101 }), 'Invalid value: 101, valid memory swappiness range is 0-100');
  assert.deepEqual(buildResources({ NanoCpus: 1_500_000_000 }).cpu, { period: 100000, quota: 150000 });
  assert.deepEqual(buildResources({ CpuShares: 512, CpuPeriod: 50000, CpuQuota: 25000, CpusetCpus: '0-1', CpusetMems: '0' }).cpu, {
    shares: 512,
    cpus: '0-1',
    mems: '0',
    period: 50000,
    quota: 25000,
  });
  assert.deepEqual(buildResources({ CpuRealtimePeriod: 1000000, CpuRealtimeRuntime: 950000 }).cpu, {
    realtimePeriod: 1000000,
    realtimeRuntime: 950000,
  });
  rejects(() => buildResources({ CpuShares: -1 }), 'invalid CPU shares (-1): value must be a positive integer');
  assert.deepEqual(buildResources({ PidsLimit: 50 }).pids, { limit: 50 });
  assert.deepEqual(buildResources({ PidsLimit: 0 }).pids, { limit: -1 });
  assert.deepEqual(buildResources({ PidsLimit: -1 }).pids, { limit: -1 });
  assert.equal(buildResources({ PidsLimit: null }).pids, undefined);
  const blkioDevices = { '/dev/sda': { major: 8, minor: 0 } };
  assert.deepEqual(
    buildResources(
      {
        BlkioWeight: 300,
        BlkioWeightDevice: [{ Path: '/dev/sda', Weight: 200 }],
        BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 1048576 }],
        BlkioDeviceWriteIOps: [{ Path: '/dev/sda', Rate: 100 }],
      },
      { blkioDevices },
    ).blockIO,
    {
      weight: 300,
      weightDevice: [{ major: 8, minor: 0, weight: 200 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
    },
  );
  rejects(() => buildResources({ BlkioDeviceReadBps: [{ Path: '/dev/nope', Rate: 1 }] }), 'stat /dev/nope: no such file or directory');
});

test('resources for docker update: only what dockerd sends, no swap doubling', () => {
  assert.deepEqual(buildResources({ Memory: 64 << 20, PidsLimit: 50, CpuShares: 100 }, { mode: 'update' }), {
    memory: { limit: 64 << 20 },
    cpu: { shares: 100 },
    pids: { limit: 50 },
  });
  assert.deepEqual(buildResources({ NanoCpus: 500_000_000, CpuPeriod: 20000 }, { mode: 'update' }).cpu, { period: 100000, quota: 50000 });
  assert.deepEqual(buildResources({ BlkioDeviceReadBps: [] }, { mode: 'update' }).blockIO, { throttleReadBpsDevice: [] });
  assert.equal(buildResources({ MemorySwappiness: 10, OomKillDisable: true }, { mode: 'update' }).memory, undefined);
});

test('spec resources include the memory limit and the device rules', () => {
  const s = buildSpec(input({ Memory: 32 << 20, MemorySwap: -1, NanoCpus: 250_000_000 }));
  assert.deepEqual(s.linux.resources?.memory, { limit: 32 << 20 });
  assert.deepEqual(s.linux.resources?.cpu, { period: 100000, quota: 25000 });
  assert.ok((s.linux.resources?.devices?.length ?? 0) > 0);
});

test('sysctls: namespaced ones only, in namespaces of the container', () => {
  const s = buildSpec(
    input(
      { Sysctls: { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1000', 'fs.mqueue.msg_max': '20', 'net.ipv4.ping_group_range': '1 1' } },
      { domainname: 'example.org' },
    ),
  );
  assert.deepEqual(s.linux.sysctl, {
    'net.ipv4.ping_group_range': '1 1',
    'net.ipv4.ip_unprivileged_port_start': '0',
    'kernel.domainname': 'example.org',
    'net.ipv4.ip_forward': '1',
    'kernel.shmmax': '1000',
    'fs.mqueue.msg_max': '20',
  });
  rejects(
    () => buildSpec(input({ Sysctls: { 'vm.max_map_count': '262144' } })),
    'sysctl "vm.max_map_count" is not in a separate kernel namespace',
  );
  rejects(
    () => buildSpec(input({ Sysctls: { 'kernel.hostname': 'x' } })),
    'sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field',
  );
  rejects(
    () => buildSpec(input({ NetworkMode: 'host', Sysctls: { 'net.core.somaxconn': '1024' } }, { network: 'host' })),
    'sysctl "net.core.somaxconn" is not allowed in the hosts network namespace',
  );
  rejects(
    () => buildSpec(input({ IpcMode: 'host', Sysctls: { 'kernel.msgmax': '1' } })),
    'sysctl "kernel.msgmax" is not allowed in the hosts ipc namespace',
  );
  rejects(
    () => buildSpec(input({ UTSMode: 'host' }, { domainname: 'x.org' })),
    'sysctl "kernel.domainname" is not in a separate kernel namespace',
  );
  // No defaults for host networking, nor when the host lacks them.
  assert.equal(buildSpec(input({ NetworkMode: 'host' }, { network: 'host' })).linux.sysctl, undefined);
  assert.equal(buildSpec(input({}, { host: { ...host, sysctlExists: () => false } })).linux.sysctl, undefined);
});

test('devices: mapped nodes get an allow rule; DeviceCgroupRules are parsed', () => {
  const fuse: HostDevice = { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0, permissions: 'rwm' };
  const s = buildSpec(
    input({ DeviceCgroupRules: ['c 1:3 rwm', 'a *:* r', 'b 8:* rw'] }, { devices: [{ ...fuse, path: '/dev/myfuse', permissions: 'rw' }] }),
  );
  assert.deepEqual(s.linux.devices, [{ path: '/dev/myfuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }]);
  const rules = s.linux.resources?.devices ?? [];
  assert.deepEqual(rules.slice(-4), [
    { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
    { allow: true, type: 'a', major: -1, minor: -1, access: 'r' },
    { allow: true, type: 'b', major: 8, minor: -1, access: 'rw' },
  ]);
  for (const bad of ['c 1:3', 'x 1:3 rwm', 'c 1:3 rwx', 'c a:3 r', ' c 1:3 r']) {
    rejects(() => parseDeviceCgroupRules([bad]), `invalid device cgroup rule format: '${bad}'`);
  }
});

test('--init bind-mounts the init and runs the command under it', () => {
  const s = buildSpec(input({}, { init: { hostPath: '/usr/bin/tini' } }));
  assert.deepEqual(s.process.args, ['/sbin/docker-init', '--', 'sh', '-c', 'true']);
  assert.deepEqual(mount(s, '/sbin/docker-init'), {
    destination: '/sbin/docker-init',
    type: 'bind',
    source: '/usr/bin/tini',
    options: ['bind', 'ro'],
  });
});

test('ulimits merge over the daemon defaults; -1 is unlimited', () => {
  const s = buildSpec(
    input(
      {
        Ulimits: [
          { Name: 'nofile', Soft: 1024, Hard: 2048 },
          { Name: 'memlock', Soft: -1, Hard: -1 },
        ],
      },
      { defaultUlimits: { nofile: { Name: 'nofile', Soft: 1, Hard: 1 }, nproc: { Name: 'nproc', Soft: 100, Hard: 200 } } },
    ),
  );
  assert.deepEqual(s.process.rlimits, [
    { type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 },
    { type: 'RLIMIT_MEMLOCK', soft: RLIM_INFINITY, hard: RLIM_INFINITY },
    { type: 'RLIMIT_NPROC', soft: 100, hard: 200 },
  ]);
  assert.match(ociJson(s.process.rlimits), /"soft":18446744073709551615,"hard":18446744073709551615/);
  assert.deepEqual(JSON.parse(ociJson({ a: 1n, b: 'x', c: [2n] })), { a: 1, b: 'x', c: [2] });
  rejects(() => buildSpec(input({ Ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] })), 'invalid ulimit type: bogus');
});

test('security options: no-new-privileges, seccomp, errors', () => {
  assert.equal(buildSpec(input({ SecurityOpt: ['no-new-privileges'] })).process.noNewPrivileges, true);
  assert.equal(buildSpec(input({ SecurityOpt: ['no-new-privileges:true'] })).process.noNewPrivileges, true);
  assert.equal(
    buildSpec(input({ SecurityOpt: ['no-new-privileges=false'] }, { noNewPrivileges: true })).process.noNewPrivileges,
    undefined,
  );
  assert.equal(buildSpec(input({}, { noNewPrivileges: true })).process.noNewPrivileges, true);
  assert.equal(buildSpec(input({ SecurityOpt: ['seccomp=unconfined'] })).linux.seccomp, undefined);
  assert.equal(buildSpec(input({}, { seccompProfile: 'unconfined' })).linux.seccomp, undefined);
  const custom = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] });
  assert.deepEqual(buildSpec(input({ SecurityOpt: [`seccomp=${custom}`] })).linux.seccomp, {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }],
  });
  assert.equal(buildSpec(input({}, { seccompProfile: custom })).linux.seccomp?.defaultAction, 'SCMP_ACT_ALLOW');
  assert.deepEqual(parseSecurityOpt(['label=disable', 'apparmor:unconfined']), { labels: ['disable'], apparmor: 'unconfined' });
  rejects(() => parseSecurityOpt(['bogus']), 'invalid --security-opt 1: "bogus"');
  rejects(() => parseSecurityOpt(['foo=bar']), 'invalid --security-opt 2: "foo=bar"');
  rejects(() => parseSecurityOpt(['no-new-privileges=maybe']), 'invalid --security-opt 2: "no-new-privileges=maybe"');
  rejects(() => buildSpec(input({ SecurityOpt: ['seccomp={nope'] })), /^Decoding seccomp profile failed: /);
});

test('terminal, console size, oom score, annotations, readonly paths, cwd default', () => {
  const s = buildSpec(
    input(
      { ConsoleSize: [40, 120], OomScoreAdj: 500, Annotations: { 'org.example': 'x' } },
      { process: { args: ['sh'], env: [], cwd: '', user: { uid: 1, gid: 1, additionalGids: [1] }, terminal: true } },
    ),
  );
  assert.equal(s.process.terminal, true);
  assert.deepEqual(s.process.consoleSize, { height: 40, width: 120 });
  assert.equal(s.process.oomScoreAdj, 500);
  assert.deepEqual(s.annotations, { 'org.example': 'x' });
  assert.equal(s.process.cwd, '/');
  assert.equal(buildSpec(input({ ConsoleSize: [40, 120] })).process.consoleSize, undefined, 'no console without a terminal');
});

test('cgroups path: HostConfig parent, daemon parent, systemd', () => {
  assert.equal(buildSpec(input({}, { cgroupParent: '/custom' })).linux.cgroupsPath, '/custom/c0ffee');
  assert.equal(buildSpec(input({ CgroupParent: '/mine' }, { cgroupParent: '/custom' })).linux.cgroupsPath, '/mine/c0ffee');
  assert.equal(buildSpec(input({}, { cgroupDriver: 'systemd' })).linux.cgroupsPath, 'system.slice:berth:c0ffee');
  assert.equal(buildSpec(input({ CgroupParent: 'my.slice' }, { cgroupDriver: 'systemd' })).linux.cgroupsPath, 'my.slice:berth:c0ffee');
});

test('cpu lists for the thermal_throttle masks', () => {
  assert.deepEqual(parseCpuList('0-3,8\n'), [0, 1, 2, 3, 8]);
  assert.deepEqual(parseCpuList('0'), [0]);
});
