import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { cgroupFeatures, cgroupVersion, goArch, isContainerized, memTotal, readOsRelease } from '../../daemon/system/host';
import { hostWarnings, maskCredentials, securityOptions } from '../../daemon/system/service';
import { formatBuildTime, formatRfc3339Nano } from '../../daemon/system/format';
import { readGitCommit } from '../../daemon/system/engine';
import { parseInitVersion, parseRuntimeVersion } from '../../daemon/system/component-versions';

const made: string[] = [];
after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-host-'));
  made.push(root);
  for (const [p, content] of Object.entries(files)) {
    fs.mkdirSync(path.join(root, path.dirname(p)), { recursive: true });
    fs.writeFileSync(path.join(root, p), content);
  }
  return root;
}

const V1_MOUNTINFO = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

test('cgroup v1: controllers from mountinfo, features from their files', () => {
  const root = tree({
    'proc/self/mountinfo': V1_MOUNTINFO,
    'proc/self/cgroup': '5:blkio:/\n4:memory:/\n3:cpuset:/\n2:cpu,cpuacct:/\n1:name=systemd:/\n0::/\n',
    'sys/fs/cgroup/memory/memory.oom_control': '',
    'sys/fs/cgroup/cpu,cpuacct/cpu.shares': '',
    'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '',
    'sys/fs/cgroup/blkio/blkio.throttle.read_bps_device': '',
  });
  assert.equal(cgroupVersion(root), '1');
  const cg = cgroupFeatures(root);
  assert.equal(cg.version, '1');
  assert.equal(cg.memoryLimit, true);
  assert.equal(cg.swapLimit, false); // no memory.memsw.limit_in_bytes
  assert.equal(cg.oomKillDisable, true);
  assert.equal(cg.cpuShares, true);
  assert.equal(cg.cpuCfs, true);
  assert.equal(cg.cpuset, true);
  assert.equal(cg.pidsLimit, false); // no pids hierarchy mounted
  assert.equal(cg.blkioReadBpsDevice, true);
  assert.equal(cg.blkioWriteBpsDevice, false);
  const w = hostWarnings(cg, { ipv4Forwarding: false, bridgeNfIptables: true, bridgeNfIp6tables: false });
  assert.deepEqual(w, [
    'WARNING: No swap limit support',
    'WARNING: No blkio throttle.write_bps_device support',
    'WARNING: No blkio throttle.read_iops_device support',
    'WARNING: No blkio throttle.write_iops_device support',
    'WARNING: Support for cgroup v1 is deprecated and planned to be removed by no later than May 2029 (https://github.com/moby/moby/issues/51111)',
    'WARNING: IPv4 forwarding is disabled',
    'WARNING: bridge-nf-call-ip6tables is disabled',
  ]);
});

test('cgroup v2: /sys/fs/cgroup is cgroup2; features from cgroup.controllers', () => {
  const root = tree({
    'proc/self/mountinfo': '30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate',
    'proc/self/cgroup': '0::/system.slice/berth.service\n',
    'sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory pids\n',
    'sys/fs/cgroup/system.slice/berth.service/memory.swap.max': 'max\n',
  });
  assert.equal(cgroupVersion(root), '2');
  const cg = cgroupFeatures(root);
  assert.deepEqual(
    [cg.memoryLimit, cg.swapLimit, cg.oomKillDisable, cg.cpuCfs, cg.cpuShares, cg.cpuset, cg.pidsLimit, cg.blkioWeight],
    [true, true, false, true, true, true, true, true],
  );
  assert.deepEqual(hostWarnings(cg, { ipv4Forwarding: true, bridgeNfIptables: true, bridgeNfIp6tables: true }), []);
  const noIo = cgroupFeatures(
    tree({ 'proc/self/mountinfo': '30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw', 'sys/fs/cgroup/cgroup.controllers': 'memory\n' }),
  );
  assert.equal(noIo.swapLimit, false);
  assert.ok(
    hostWarnings(noIo, { ipv4Forwarding: true, bridgeNfIptables: true, bridgeNfIp6tables: true }).includes('WARNING: No io.weight support'),
  );
});

test('hybrid hosts (cgroup2 only under unified/) count as v1; no mountinfo falls back to cgroup.controllers', () => {
  assert.equal(cgroupVersion(tree({ 'proc/self/mountinfo': V1_MOUNTINFO })), '1');
  assert.equal(cgroupVersion(tree({ 'sys/fs/cgroup/cgroup.controllers': 'cpu' })), '2');
  assert.equal(cgroupVersion(tree({})), '1');
});

test('security options: only what is applied', () => {
  const host = { apparmor: true, seccomp: true, cgroupNamespaces: true };
  const dflt = { seccompProfile: 'builtin', defaultCgroupnsMode: 'host' as const, noNewPrivileges: false };
  // No AppArmor profile is applied, so none is advertised even where the host has AppArmor.
  assert.deepEqual(securityOptions(host, dflt), ['name=seccomp,profile=builtin']);
  assert.deepEqual(securityOptions(host, { ...dflt, defaultCgroupnsMode: 'private', noNewPrivileges: true }), [
    'name=seccomp,profile=builtin',
    'name=cgroupns',
    'name=no-new-privileges',
  ]);
  assert.deepEqual(securityOptions(host, { ...dflt, seccompProfile: 'unconfined' }), ['name=seccomp,profile=unconfined']);
  assert.deepEqual(
    securityOptions({ apparmor: false, seccomp: false, cgroupNamespaces: false }, { ...dflt, defaultCgroupnsMode: 'private' }),
    [],
  );
});

test('os-release, containerized detection, meminfo', () => {
  const root = tree({
    'etc/os-release': 'NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\n',
    'proc/1/cgroup': '0::/\n',
    'proc/meminfo': 'MemTotal:       24684092 kB\nMemFree: 1 kB\n',
  });
  assert.deepEqual(readOsRelease(root), { prettyName: 'Debian GNU/Linux 12 (bookworm)', versionId: '12' });
  assert.equal(isContainerized(root), false);
  assert.equal(memTotal(root), 24684092 * 1024);
  const alt = tree({ 'usr/lib/os-release': "ID=clear\nVERSION_ID='3'\n", 'proc/1/cgroup': '0::/docker/abc\n' });
  assert.deepEqual(readOsRelease(alt), { prettyName: 'Linux', versionId: '3' });
  assert.equal(isContainerized(alt), true);
  assert.equal(isContainerized(tree({ 'proc/1/cgroup': '1:name=systemd:/init.scope\n0::/init.scope\n' })), false);
});

test('formats and small helpers', () => {
  assert.equal(formatBuildTime(new Date(Date.UTC(2026, 4, 7, 21, 9, 36, 5))), '2026-05-07T21:09:36.005000000+00:00');
  const d = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 120));
  const s = formatRfc3339Nano(d, 450);
  assert.match(s, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.12000045(Z|[+-]\d{2}:\d{2})$/);
  assert.equal(new Date(s).getTime(), d.getTime());
  assert.match(formatRfc3339Nano(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 0))), /:05(Z|[+-]\d{2}:\d{2})$/);
  assert.equal(goArch('x64'), 'amd64');
  assert.equal(goArch('arm64'), 'arm64');
  assert.equal(maskCredentials('http://user:pass@proxy.local:3128'), 'http://xxxxx:xxxxx@proxy.local:3128');
  assert.equal(maskCredentials('http://proxy.local:3128'), 'http://proxy.local:3128');
  assert.equal(maskCredentials(''), '');
});

test('readGitCommit resolves loose and packed refs', () => {
  const sha = '0123456789abcdef0123456789abcdef01234567';
  const loose = tree({ '.git/HEAD': 'ref: refs/heads/main\n', '.git/refs/heads/main': sha + '\n' });
  assert.equal(readGitCommit(loose), '0123456');
  const packed = tree({ '.git/HEAD': 'ref: refs/heads/main\n', '.git/packed-refs': `# pack-refs\n${sha} refs/heads/main\n` });
  assert.equal(readGitCommit(packed), '0123456');
  assert.equal(readGitCommit(tree({})), undefined);
});

test('component version parsers follow dockerd', () => {
  assert.deepEqual(parseInitVersion('tini version 0.19.0 - git.de40ad0\n'), { version: '0.19.0', commit: 'de40ad0' });
  assert.deepEqual(parseInitVersion('tini version 0.19.0\n'), { version: '0.19.0', commit: '' });
  assert.equal(parseInitVersion('something else'), undefined);
  assert.deepEqual(parseRuntimeVersion('runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\n'), {
    version: '1.1.5+ds1',
    commit: '1.1.5+ds1-1+deb12u1',
  });
  assert.equal(parseRuntimeVersion('nothing here'), undefined);
});
