// The pure rules of container creation and restart, as dockerd applies them: the merge with the
// image config, HostConfig defaults, the process environment, the restart manager, and the
// inspect shapes of Config and HostConfig.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { replaceOrAppendEnv, withDefaultEnv } from '../../daemon/containers/spec-factory';
import { entrypointAndArgs, mergeWithImage, verifyResources, verifySettings, withHostDefaults } from '../../daemon/containers/settings';
import { RestartManager } from '../../daemon/containers/restart-policy';
import { configView, hostConfigView } from '../../daemon/containers/views';

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

test('merge: the image fills what the user left unset; --entrypoint "" takes neither entrypoint nor command', () => {
  const image = { Env: [PATH, 'A=image'], Cmd: ['sh'], Entrypoint: ['/init'], WorkingDir: '/w', User: 'u' };
  const merged = mergeWithImage({ Image: 'x', Env: ['A=user', 'B=1'] }, image);
  assert.deepEqual(merged.Env, ['A=user', 'B=1', PATH]);
  assert.deepEqual([merged.Cmd, merged.Entrypoint, merged.WorkingDir, merged.User], [['sh'], ['/init'], '/w', 'u']);
  assert.equal(merged.Volumes, null);
  assert.equal(merged.ExposedPorts, null);

  const userCmd = mergeWithImage({ Image: 'x', Cmd: ['echo'] }, image);
  assert.deepEqual([userCmd.Cmd, userCmd.Entrypoint], [['echo'], ['/init']]);

  const emptied = mergeWithImage({ Image: 'x', Entrypoint: [''] }, image);
  assert.deepEqual([emptied.Cmd, emptied.Entrypoint], [undefined, null]);
  assert.throws(() => entrypointAndArgs(emptied), /no command specified/);
  const emptiedWithCmd = mergeWithImage({ Image: 'x', Entrypoint: [''], Cmd: ['true'] }, image);
  assert.deepEqual(entrypointAndArgs(emptiedWithCmd), { path: 'true', args: [] });
});

test('HostConfig defaults: swap twice the memory, unset markers become null, masked paths unless privileged', () => {
  const defaults = {
    shmSize: 64 << 20,
    ipcMode: 'private',
    cgroupnsMode: 'host' as const,
    runtime: 'io.containerd.runc.v2',
    maskedPaths: ['/proc/kcore'],
    readonlyPaths: ['/proc/sys'],
  };
  const h = withHostDefaults({ Memory: 64 << 20, MemorySwappiness: -1, PidsLimit: 0 }, defaults);
  assert.equal(h.MemorySwap, 128 << 20);
  assert.equal(h.MemorySwappiness, null);
  assert.equal(h.PidsLimit, null);
  assert.equal(h.OomKillDisable, false);
  // The daemon's --default-runtime, unless the create named one.
  assert.equal(h.Runtime, 'io.containerd.runc.v2');
  assert.equal(withHostDefaults({ Runtime: 'runc' }, defaults).Runtime, 'runc');
  assert.deepEqual([h.MaskedPaths, h.ReadonlyPaths, h.SecurityOpt], [['/proc/kcore'], ['/proc/sys'], undefined]);
  assert.deepEqual(h.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
  assert.equal(withHostDefaults({ Memory: 64 << 20, MemorySwap: -1 }, defaults).MemorySwap, -1);
  assert.equal(withHostDefaults({ PidsLimit: -1 }, defaults).PidsLimit, null);
  assert.equal(withHostDefaults({ PidsLimit: 5 }, defaults).PidsLimit, 5);
  const priv = withHostDefaults({ Privileged: true }, defaults);
  assert.deepEqual([priv.MaskedPaths, priv.ReadonlyPaths, priv.SecurityOpt], [undefined, undefined, ['label=disable']]);
  assert.deepEqual(withHostDefaults({ PidMode: 'host' }, defaults).SecurityOpt, ['label=disable']);
  assert.deepEqual(withHostDefaults({ IpcMode: 'host', SecurityOpt: ['label=level:s0'] }, defaults).SecurityOpt, ['label=level:s0']);
});

test('update checks: a swap limit alone is fine for update, not for create', () => {
  assert.throws(() => verifyResources({ MemorySwap: 100 << 20 }), /You should always set the Memory limit when using Memoryswap limit/);
  assert.deepEqual(verifyResources({ MemorySwap: 100 << 20 }, { update: true }), []);
  assert.throws(() => verifyResources({ Memory: 1000 }, { update: true }), /Minimum memory limit allowed is 6MB/);
});

test('process environment: defaults first, replaced or appended by key, a bare name unsets', () => {
  assert.deepEqual(withDefaultEnv({ Hostname: 'h', Env: [PATH, 'A=1'] }), [PATH, 'HOSTNAME=h', 'A=1']);
  assert.deepEqual(withDefaultEnv({ Hostname: 'h', Tty: true, Env: ['PATH=/x', 'HOSTNAME', 'NOPE', 'B='] }), [
    'PATH=/x',
    'TERM=xterm',
    'B=',
  ]);
  assert.deepEqual(replaceOrAppendEnv(['A=1', 'B=2'], ['B', 'B=3', 'C=4', 'C=5']), ['A=1', 'B=3', 'C=4', 'C=5']);
});

test('restart manager: policies, on-failure count, back-off, and cancel until reset', () => {
  const always = new RestartManager('always', 0);
  assert.deepEqual(always.shouldRestart(0, true, 50), { restart: true, delayMs: 100 });
  assert.deepEqual(always.shouldRestart(1, false, 50), { restart: true, delayMs: 200 });
  assert.deepEqual(always.shouldRestart(1, false, 10_000), { restart: true, delayMs: 100 }, 'a 10 s run resets the back-off');
  always.cancel();
  assert.equal(always.shouldRestart(1, false, 50).restart, false);
  always.reset();
  assert.equal(always.shouldRestart(1, false, 50).restart, true);

  const unlessStopped = new RestartManager('unless-stopped', 0);
  assert.equal(unlessStopped.shouldRestart(0, true, 50).restart, false);
  assert.equal(unlessStopped.shouldRestart(0, false, 50).restart, true);

  const onFailure = new RestartManager('on-failure', 2);
  assert.equal(onFailure.shouldRestart(0, false, 50).restart, false);
  assert.equal(onFailure.shouldRestart(3, false, 50).restart, true);
  assert.equal(onFailure.shouldRestart(3, false, 50).restart, true);
  assert.equal(onFailure.shouldRestart(3, false, 50).restart, false);
  assert.equal(new RestartManager('no', 0).shouldRestart(1, false, 50).restart, false);
});

test("inspect shapes: dockerd's always-present fields filled, omitempty ones left out", () => {
  const config = configView({ Image: 'busybox', Cmd: ['true'], ExposedPorts: {}, StopSignal: '', Shell: [] });
  assert.deepEqual(config, {
    Hostname: '',
    Domainname: '',
    User: '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: null,
    Cmd: ['true'],
    Image: 'busybox',
    Volumes: null,
    WorkingDir: '',
    Entrypoint: null,
    OnBuild: null,
    Labels: {},
  });
  assert.deepEqual(configView({ ExposedPorts: { '80/tcp': {} }, StopSignal: 'SIGUSR1', StopTimeout: 3 }).ExposedPorts, { '80/tcp': {} });
  const host = hostConfigView({ Memory: 5, Init: true, Tmpfs: {} }) as Record<string, unknown>;
  assert.equal(host.Memory, 5);
  assert.equal(host.Init, true);
  assert.ok(!('Tmpfs' in host));
  assert.equal(host.Binds, null);
  assert.equal(host.PidsLimit, null);
  assert.deepEqual(host.ConsoleSize, [0, 0]);
});

test('ExtraHosts as moby opts.ValidateExtraHost checks them', () => {
  const ok = (h: string): void => assert.doesNotThrow(() => verifySettings({ Image: 'x' }, { ExtraHosts: [h] }), h);
  const bad = (h: string, message: string): void =>
    assert.throws(() => verifySettings({ Image: 'x' }, { ExtraHosts: [h] }), { message }, h);
  for (const h of [
    'a:1.2.3.4',
    'a=1.2.3.4',
    'a:::1',
    'a=[2001:db8::1]',
    'a:[1.2.3.4]',
    'a:host-gateway',
    'a: 1.2.3.4',
    'a:::ffff:10.0.0.1',
  ])
    ok(h);
  bad('1.2.3.4', 'bad format for add-host: "1.2.3.4"');
  bad(':1.2.3.4', 'bad format for add-host: ":1.2.3.4"');
  bad('a:b=1.2.3.4', 'bad format for add-host: "a:b=1.2.3.4"');
  // Go's net.ParseIP: no leading zeros, no short forms, no zone
  bad('a:010.0.0.1', 'invalid IP address in add-host: "010.0.0.1"');
  bad('a:127.1', 'invalid IP address in add-host: "127.1"');
  bad('a:fe80::1%eth0', 'invalid IP address in add-host: "fe80::1%eth0"');
  bad('a:1:2', 'invalid IP address in add-host: "1:2"');
  bad('a=[]', 'invalid IP address in add-host: "[]"');
});
