import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidParameter } from '../../lib/errors';
import { DEFAULT_CAPABILITIES } from '../../runtime/capabilities';
import type { LinuxSeccomp } from '../../runtime/oci-types';
import {
  builtinSeccompProfile,
  defaultSeccompProfile,
  parseSeccompProfile,
  resolveSeccompProfile,
  seccompNativeArch,
} from '../../runtime/seccomp';

const amd64 = { arch: 'amd64', kernelRelease: '6.1.0-18-amd64' };

/** The action a resolved profile takes for a syscall called without interesting arguments. */
function rulesFor(p: LinuxSeccomp, name: string): { action: string; errnoRet?: number; args?: unknown }[] {
  return (p.syscalls ?? []).filter((r) => r.names.includes(name)).map((r) => ({ action: r.action, errnoRet: r.errnoRet, args: r.args }));
}
const allowedPlain = (p: LinuxSeccomp, name: string): boolean =>
  rulesFor(p, name).some((r) => r.action === 'SCMP_ACT_ALLOW' && r.args === undefined);

test('builtin profile: EPERM default, x86_64 architectures, everyday syscalls allowed', () => {
  const p = defaultSeccompProfile(DEFAULT_CAPABILITIES, amd64);
  assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(p.defaultErrnoRet, 1);
  assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  for (const s of [
    'read',
    'write',
    'openat',
    'execve',
    'clone',
    'futex',
    'epoll_wait',
    'arch_prctl',
    'modify_ldt',
    'chroot',
    'ptrace',
    'io_uring_setup',
  ]) {
    if (s === 'clone') continue;
    if (s === 'io_uring_setup') {
      assert.equal(rulesFor(p, s).length, 0, 'io_uring is not in the allowlist');
      continue;
    }
    assert.ok(allowedPlain(p, s), s);
  }
  // No leftovers of the profile format in what runc gets.
  for (const r of p.syscalls ?? []) {
    assert.deepEqual(
      Object.keys(r).filter((k) => !['names', 'action', 'errnoRet', 'args'].includes(k)),
      [],
    );
  }
  const total = (p.syscalls ?? []).reduce((n, r) => n + r.names.length, 0);
  assert.ok(total > 350, `only ${total} names`);
});

test('builtin profile: SYS_ADMIN-only calls and the clone rules depend on the capabilities', () => {
  const plain = defaultSeccompProfile(DEFAULT_CAPABILITIES, amd64);
  for (const s of [
    'mount',
    'umount2',
    'unshare',
    'setns',
    'sethostname',
    'bpf',
    'perf_event_open',
    'reboot',
    'init_module',
    'settimeofday',
    'open_by_handle_at',
    'syslog',
  ]) {
    assert.equal(rulesFor(plain, s).length, 0, s);
  }
  assert.deepEqual(rulesFor(plain, 'clone'), [
    { action: 'SCMP_ACT_ALLOW', errnoRet: undefined, args: [{ index: 0, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ' }] },
  ]);
  assert.deepEqual(rulesFor(plain, 'clone3'), [{ action: 'SCMP_ACT_ERRNO', errnoRet: 38, args: undefined }]);
  assert.equal(rulesFor(plain, 'socket').length, 3);
  assert.equal(rulesFor(plain, 'personality').length, 5);

  const admin = defaultSeccompProfile([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], amd64);
  for (const s of ['mount', 'unshare', 'setns', 'clone', 'clone3', 'sethostname']) assert.ok(allowedPlain(admin, s), s);
  assert.ok(!rulesFor(admin, 'clone3').some((r) => r.action === 'SCMP_ACT_ERRNO'));
  assert.ok(allowedPlain(defaultSeccompProfile(['CAP_SYS_TIME'], amd64), 'clock_settime'));
  assert.ok(allowedPlain(defaultSeccompProfile(['CAP_SYS_NICE'], amd64), 'mbind'));
  assert.ok(!allowedPlain(defaultSeccompProfile([], amd64), 'chroot'));
});

test('builtin profile: other architectures and old kernels', () => {
  const arm = defaultSeccompProfile(DEFAULT_CAPABILITIES, { arch: 'arm64', kernelRelease: '6.1.0' });
  assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.ok(allowedPlain(arm, 'cacheflush'));
  assert.ok(!allowedPlain(arm, 'arch_prctl'));
  const s390 = defaultSeccompProfile(DEFAULT_CAPABILITIES, { arch: 's390x', kernelRelease: '6.1.0' });
  assert.deepEqual(rulesFor(s390, 'clone')[0].args, [{ index: 1, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ' }]);
  const old = defaultSeccompProfile(DEFAULT_CAPABILITIES, { arch: 'amd64', kernelRelease: '4.4.0-generic' });
  assert.ok(!allowedPlain(old, 'ptrace'), 'ptrace needs 4.8 without CAP_SYS_PTRACE');
  assert.equal(seccompNativeArch('x64'), 'amd64');
  assert.equal(seccompNativeArch('arm64'), 'arm64');
});

test('custom profiles: includes/excludes, name, archMap vs architectures, empty profile', () => {
  const json = JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      { name: 'mkdir', action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
      { names: ['chmod'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['chown'], action: 'SCMP_ACT_ERRNO', excludes: { arches: ['amd64'] } },
      { names: ['link'], action: 'SCMP_ACT_ERRNO', includes: { minKernel: '99.0' } },
      { names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 9, valueTwo: 0, op: 'SCMP_CMP_EQ' }], comment: 'x' },
    ],
  });
  const p = resolveSeccompProfile(parseSeccompProfile(json), { caps: [], ...amd64 });
  assert.deepEqual(p, {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
      { names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 9, op: 'SCMP_CMP_EQ' }] },
    ],
  });
  assert.equal(resolveSeccompProfile(parseSeccompProfile('{}'), { caps: [] }), undefined);
  assert.throws(
    () =>
      resolveSeccompProfile(
        { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86'], archMap: [{ architecture: 'SCMP_ARCH_X86_64' }] },
        { caps: [] },
      ),
    /both 'architectures' and 'archMap'/,
  );
  assert.throws(
    () =>
      resolveSeccompProfile(
        { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ALLOW' }] },
        { caps: [] },
      ),
    /both 'name' and 'names'/,
  );
});

test('profile parse errors are InvalidParameter in dockerd words', () => {
  for (const bad of [
    '{nope',
    '[]',
    '{"syscalls": {}}',
    '{"syscalls": [{"names": ["a"]}]}',
    '{"syscalls": [{"names": ["a"], "action": "X", "includes": {"minKernel": "4"}}]}',
  ]) {
    assert.throws(
      () => parseSeccompProfile(bad),
      (err: unknown) => err instanceof InvalidParameter && err.message.startsWith('Decoding seccomp profile failed: '),
      bad,
    );
  }
});

test('the builtin profile survives a round trip through its JSON form', () => {
  const viaJson = resolveSeccompProfile(parseSeccompProfile(JSON.stringify(builtinSeccompProfile())), {
    caps: DEFAULT_CAPABILITIES,
    ...amd64,
  });
  assert.deepEqual(viaJson, defaultSeccompProfile(DEFAULT_CAPABILITIES, amd64));
});
