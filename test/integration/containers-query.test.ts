// Listing and inspecting containers, and refusing bad input, through the real docker CLI and raw
// HTTP against a real berthd: every `docker ps` filter that applies without networks or volumes,
// --format, -q, -n, -l, -s; inspect fields (state, the config merged with the image's, host
// config defaults, paths); dockerd's status codes and messages for bad requests.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Kit, lines } from './container-kit';

let k: Kit;
/** Full IDs of the fixture containers, by name. */
const ids: Record<string, string> = {};
const short = (name: string): string => ids[name].slice(0, 12);

before(async () => {
  k = await Kit.start();
  // Oldest first: q-created (never started), q-exited2 (exit 2), q-labelled (exit 0),
  // q-running (up, exposes 80), q-paused.
  await k.ok(['create', '--name', 'q-created', '-l', 'app=a', 'busybox']);
  await k.ok(['run', '--name', 'q-exited2', '-l', 'app=b', '-l', 'tier=back', 'busybox', 'sh', '-c', 'exit 2']).catch(() => undefined);
  await k.ok(['run', '--name', 'q-labelled', '-l', 'app=b', 'busybox', 'true']);
  await k.ok(['run', '-d', '--name', 'q-running', '--expose', '80', '-l', 'app=a', 'busybox', 'sleep', '1000']);
  await k.ok(['run', '-d', '--name', 'q-paused', 'busybox', 'sleep', '1000']);
  await k.ok(['pause', 'q-paused']);
  for (const n of ['q-created', 'q-exited2', 'q-labelled', 'q-running', 'q-paused']) ids[n] = await k.id(n);
});

after(async () => {
  if (k) await k.destroy();
});

/** Names `docker ps -a` lists with these filters, newest first. */
async function psNames(...filters: string[]): Promise<string[]> {
  return lines(await k.ok(['ps', '-a', ...filters.flatMap((f) => ['--filter', f]), '--format', '{{.Names}}']));
}

describe('docker ps', () => {
  test('lists running (and paused) containers, -a all, newest first', async () => {
    assert.deepEqual(lines(await k.ok(['ps', '--format', '{{.Names}}'])), ['q-paused', 'q-running']);
    assert.deepEqual(await psNames(), ['q-paused', 'q-running', 'q-labelled', 'q-exited2', 'q-created']);
  });

  test('--format with Names and Status as dockerd words them', async () => {
    const rows = lines(await k.ok(['ps', '-a', '--format', '{{.Names}} {{.Status}}']));
    assert.equal(rows.length, 5);
    assert.match(rows[0], /^q-paused Up (Less than a second|1 second|\d+ seconds) \(Paused\)$/);
    assert.match(rows[1], /^q-running Up (Less than a second|1 second|\d+ seconds)$/);
    assert.match(rows[2], /^q-labelled Exited \(0\) (Less than a second|1 second|\d+ seconds) ago$/);
    assert.match(rows[3], /^q-exited2 Exited \(2\) (Less than a second|1 second|\d+ seconds) ago$/);
    assert.equal(rows[4], 'q-created Created');
    const cols = lines(
      await k.ok(['ps', '--filter', 'name=q-running', '--format', '{{.ID}}|{{.Image}}|{{.Command}}|{{.Labels}}|{{.State}}|{{.Ports}}']),
    );
    assert.deepEqual(cols, [`${short('q-running')}|busybox|"sleep 1000"|app=a|running|80/tcp`]);
    // Arguments holding a space are single-quoted, the others left as they are (moby's list).
    assert.deepEqual(lines(await k.ok(['ps', '-a', '--no-trunc', '--filter', 'name=q-exited2', '--format', '{{.Command}}'])), [
      `"sh -c 'exit 2'"`,
    ]);
    const table = lines(await k.ok(['ps', '--filter', 'name=q-running']));
    assert.match(table[0], /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    assert.match(table[1], new RegExp(`^${short('q-running')}\\s+busybox\\s+"sleep 1000"\\s+.* ago\\s+Up .*q-running$`));
  });

  test('-q, -n, -l, --no-trunc and -s', async () => {
    assert.deepEqual(lines(await k.ok(['ps', '-q'])), [short('q-paused'), short('q-running')]);
    assert.deepEqual(
      lines(await k.ok(['ps', '-aq', '--no-trunc'])),
      ['q-paused', 'q-running', 'q-labelled', 'q-exited2', 'q-created'].map((n) => ids[n]),
    );
    assert.deepEqual(lines(await k.ok(['ps', '-n', '2', '--format', '{{.Names}}'])), ['q-paused', 'q-running']);
    assert.deepEqual(lines(await k.ok(['ps', '-n', '3', '--format', '{{.Names}}'])), ['q-paused', 'q-running', 'q-labelled']);
    assert.deepEqual(lines(await k.ok(['ps', '-l', '--format', '{{.Names}}'])), ['q-paused']);
    const sized = lines(await k.ok(['ps', '-s', '--filter', 'name=q-running', '--format', '{{.Names}} {{.Size}}']));
    assert.match(sized[0], /^q-running \d+(\.\d+)?[kMG]?B \(virtual \d+(\.\d+)?[kMG]?B\)$/);
    // Without -s the API leaves the sizes out.
    const list = JSON.parse((await k.request('GET', '/containers/json')).body) as Record<string, unknown>[];
    assert.ok(list.every((c) => !('SizeRw' in c)));
  });

  test('filters: id, name, label, status, exited, ancestor, before, since, expose, health', async () => {
    assert.deepEqual(await psNames(`id=${ids['q-exited2'].slice(0, 8)}`), ['q-exited2']);
    assert.deepEqual(await psNames('name=q-l'), ['q-labelled']);
    assert.deepEqual(await psNames('name=^q-running$'), ['q-running']);
    assert.deepEqual(await psNames('name=running', 'name=paused'), ['q-paused', 'q-running']);
    assert.deepEqual(await psNames('label=app'), ['q-running', 'q-labelled', 'q-exited2', 'q-created']);
    assert.deepEqual(await psNames('label=app=b'), ['q-labelled', 'q-exited2']);
    assert.deepEqual(await psNames('label=app=b', 'label=tier=back'), ['q-exited2']);
    assert.deepEqual(await psNames('status=running'), ['q-running']);
    assert.deepEqual(await psNames('status=paused'), ['q-paused']);
    assert.deepEqual(await psNames('status=exited'), ['q-labelled', 'q-exited2']);
    assert.deepEqual(await psNames('status=created'), ['q-created']);
    assert.deepEqual(await psNames('status=created', 'status=running'), ['q-running', 'q-created']);
    // status and exited imply -a
    assert.deepEqual(lines(await k.ok(['ps', '--filter', 'status=created', '--format', '{{.Names}}'])), ['q-created']);
    assert.deepEqual(await psNames('exited=2'), ['q-exited2']);
    assert.deepEqual(await psNames('exited=0'), ['q-labelled']);
    assert.deepEqual(await psNames('exited=0', 'exited=2'), ['q-labelled', 'q-exited2']);
    assert.deepEqual(await psNames('ancestor=busybox'), ['q-paused', 'q-running', 'q-labelled', 'q-exited2', 'q-created']);
    assert.deepEqual(await psNames('ancestor=busybox:latest'), await psNames('ancestor=busybox'));
    const imageId = (await k.ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).trim();
    assert.deepEqual(await psNames(`ancestor=${imageId}`), await psNames('ancestor=busybox'));
    assert.deepEqual(await psNames('before=q-labelled'), ['q-exited2', 'q-created']);
    assert.deepEqual(await psNames(`since=${ids['q-labelled']}`), ['q-paused', 'q-running']);
    assert.deepEqual(await psNames('expose=80'), ['q-running']);
    assert.deepEqual(await psNames('expose=80/tcp'), ['q-running']);
    assert.deepEqual(await psNames('expose=81'), []);
    assert.deepEqual(await psNames('health=none'), ['q-paused', 'q-running', 'q-labelled', 'q-exited2', 'q-created']);
    assert.deepEqual(await psNames('health=healthy'), []);
    assert.deepEqual(await psNames('is-task=false'), await psNames());
  });

  test('bad filters are refused as dockerd refuses them', async () => {
    assert.match((await k.fails(['ps', '--filter', 'status=bogus'])).stderr, /invalid filter 'status=bogus'/);
    assert.match((await k.fails(['ps', '--filter', 'foo=bar'])).stderr, /invalid filter 'foo'/);
    // Current moby's text (dockerd 20.10 said "Unrecognised filter value for health: sick").
    assert.match(
      (await k.fails(['ps', '--filter', 'health=sick'])).stderr,
      /invalid filter 'health=sick': invalid value for health \(sick\): must be one of none, starting, healthy, unhealthy/,
    );
    assert.match((await k.fails(['ps', '--filter', 'before=nosuch'])).stderr, /No such container: nosuch/);
  });
});

describe('docker inspect', () => {
  test('state of running, paused, exited and created containers', async () => {
    const running = await k.inspect('q-running');
    assert.equal(running.State.Status, 'running');
    assert.equal(running.State.Running, true);
    assert.ok(running.State.Pid > 0 && fs.existsSync(`/proc/${running.State.Pid}`));
    assert.equal(running.State.FinishedAt, '0001-01-01T00:00:00Z');
    assert.ok(Date.parse(running.State.StartedAt) >= Date.parse(running.Created));
    const paused = await k.inspect('q-paused');
    assert.deepEqual([paused.State.Status, paused.State.Running, paused.State.Paused], ['paused', true, true]);
    const exited = await k.inspect('q-exited2');
    assert.deepEqual(
      [
        exited.State.Status,
        exited.State.Running,
        exited.State.ExitCode,
        exited.State.Pid,
        exited.State.OOMKilled,
        exited.State.Dead,
        exited.State.Error,
      ],
      ['exited', false, 2, 0, false, false, ''],
    );
    assert.ok(Date.parse(exited.State.FinishedAt) >= Date.parse(exited.State.StartedAt));
    const created = await k.inspect('q-created');
    assert.deepEqual(
      [created.State.Status, created.State.StartedAt, created.State.FinishedAt],
      ['created', '0001-01-01T00:00:00Z', '0001-01-01T00:00:00Z'],
    );
  });

  test("Config is merged with the image config; HostConfig has dockerd's defaults", async () => {
    await k.ok([
      'create',
      '--name',
      'q-inspect',
      '-e',
      'FOO=bar',
      '-w',
      '/tmp',
      '-u',
      'nobody',
      '-l',
      'x=y',
      '-m',
      '64m',
      '--restart',
      'on-failure:3',
      '--log-opt',
      'max-size=1m',
      'busybox',
      'sleep',
      '5',
    ]);
    const c = await k.inspect('q-inspect');
    assert.match(c.Id, /^[0-9a-f]{64}$/);
    assert.equal(c.Name, '/q-inspect');
    assert.equal(c.Path, 'sleep');
    assert.deepEqual(c.Args, ['5']);
    assert.equal(c.RestartCount, 0);
    assert.equal(c.Platform, 'linux');
    assert.match(c.Image, /^sha256:[0-9a-f]{64}$/);
    assert.equal(c.Config.Image, 'busybox');
    assert.deepEqual(c.Config.Cmd, ['sleep', '5']);
    assert.equal(c.Config.Entrypoint, null);
    // The user's variables first, then the image's that the user did not set.
    assert.deepEqual(c.Config.Env, ['FOO=bar', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    assert.equal(c.Config.WorkingDir, '/tmp');
    assert.equal(c.Config.User, 'nobody');
    assert.deepEqual(c.Config.Labels, { x: 'y' });
    assert.equal(c.Config.Hostname, c.Id.slice(0, 12));
    assert.equal(c.Config.Volumes, null);
    for (const f of ['AttachStdin', 'Tty', 'OpenStdin', 'StdinOnce']) assert.equal(c.Config[f], false, f);
    assert.equal(c.HostConfig.Memory, 64 << 20);
    assert.equal(c.HostConfig.MemorySwap, 128 << 20, 'swap defaults to twice the memory limit');
    assert.deepEqual(c.HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
    assert.deepEqual(c.HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '1m' } });
    assert.equal(c.HostConfig.NetworkMode, 'default');
    assert.equal(c.HostConfig.ShmSize, 64 << 20);
    assert.equal(c.HostConfig.Runtime, 'runc');
    assert.equal(c.HostConfig.PidsLimit, null);
    assert.equal(c.HostConfig.MemorySwappiness, null);
    assert.equal(c.HostConfig.OomKillDisable, false);
    assert.ok(Array.isArray(c.HostConfig.MaskedPaths) && (c.HostConfig.MaskedPaths as string[]).includes('/proc/kcore'));
    assert.deepEqual(c.HostConfig.ReadonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
    // As with dockerd, the paths of the log and the generated /etc files show from the first start.
    assert.deepEqual([c.LogPath, c.ResolvConfPath, c.HostnamePath, c.HostsPath], ['', '', '', '']);
    // Written by the first start: before it, the path is the image's own (busybox has no /etc/hostname).
    assert.match(
      (await k.fails(['cp', 'q-inspect:/etc/hostname', '-'])).stderr,
      /Could not find the file \/etc\/hostname in container q-inspect/,
    );
    await k.ok(['start', 'q-inspect']);
    const started = await k.inspect('q-inspect');
    assert.equal(started.LogPath, `${k.b.dataRoot}/containers/${c.Id}/${c.Id}-json.log`);
    for (const p of [started.LogPath, started.ResolvConfPath, started.HostnamePath, started.HostsPath]) assert.ok(fs.existsSync(p), p);
    await k.ok(['rm', '-f', 'q-inspect']);
  });

  test('a raw API create with only Image and Cmd shows every field dockerd shows', async () => {
    const r = await k.request('POST', '/containers/create?name=q-raw', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(r.status, 201, r.body);
    assert.deepEqual(JSON.parse(r.body).Warnings, []);
    const c = JSON.parse((await k.request('GET', '/containers/q-raw/json')).body) as {
      Config: Record<string, unknown>;
      HostConfig: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(c.Config), [
      'Hostname',
      'Domainname',
      'User',
      'AttachStdin',
      'AttachStdout',
      'AttachStderr',
      'Tty',
      'OpenStdin',
      'StdinOnce',
      'Env',
      'Cmd',
      'Image',
      'Volumes',
      'WorkingDir',
      'Entrypoint',
      'OnBuild',
      'Labels',
    ]);
    for (const f of [
      'Binds',
      'PortBindings',
      'CapAdd',
      'CapDrop',
      'Dns',
      'ExtraHosts',
      'SecurityOpt',
      'Devices',
      'Ulimits',
      'PidsLimit',
      'MemorySwappiness',
    ]) {
      assert.equal(c.HostConfig[f], null, f);
    }
    for (const f of ['Memory', 'MemorySwap', 'CpuShares', 'NanoCpus', 'BlkioWeight', 'OomScoreAdj', 'CpuPeriod', 'CpuQuota'])
      assert.equal(c.HostConfig[f], 0, f);
    for (const f of ['Privileged', 'ReadonlyRootfs', 'AutoRemove', 'PublishAllPorts', 'OomKillDisable'])
      assert.equal(c.HostConfig[f], false, f);
    for (const f of ['Init', 'Tmpfs', 'Sysctls', 'Mounts']) assert.ok(!(f in c.HostConfig), f);
    assert.equal((await k.request('DELETE', '/containers/q-raw')).status, 204);
  });

  test('--privileged, --pid host and --ipc host disable labelling and masking', async () => {
    await k.ok(['create', '--name', 'q-priv', '--privileged', 'busybox']);
    await k.ok(['create', '--name', 'q-pidhost', '--pid', 'host', 'busybox']);
    const priv = await k.inspect('q-priv');
    assert.deepEqual(priv.HostConfig.SecurityOpt, ['label=disable']);
    assert.equal(priv.HostConfig.MaskedPaths, null);
    const pidHost = await k.inspect('q-pidhost');
    assert.deepEqual(pidHost.HostConfig.SecurityOpt, ['label=disable']);
    await k.ok(['rm', 'q-priv', 'q-pidhost']);
  });
});

describe('bad input', () => {
  test('unknown container: 404 "No such container: x" for every verb', async () => {
    for (const [method, p] of [
      ['GET', '/containers/x/json'],
      ['POST', '/containers/x/start'],
      ['POST', '/containers/x/stop'],
      ['POST', '/containers/x/kill'],
      ['POST', '/containers/x/restart'],
      ['POST', '/containers/x/pause'],
      ['POST', '/containers/x/wait'],
      ['DELETE', '/containers/x'],
      ['GET', '/containers/x/logs?stdout=1'],
      ['GET', '/containers/x/top'],
      ['POST', '/containers/x/rename?name=yy'],
    ] as const) {
      const r = await k.request(method, p);
      assert.equal(r.status, 404, `${method} ${p}: ${r.body}`);
      assert.deepEqual(JSON.parse(r.body), { message: 'No such container: x' }, `${method} ${p}`);
    }
    assert.equal((await k.fails(['stop', 'x'])).stderr, 'Error response from daemon: No such container: x\n');
  });

  test('bad signal: 400 "Invalid signal: FOO"', async () => {
    const r = await k.request('POST', '/containers/q-running/kill?signal=FOO');
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.body), { message: 'Invalid signal: FOO' });
    assert.match((await k.fails(['kill', '-s', 'FOO', 'q-running'])).stderr, /Invalid signal: FOO/);
    assert.equal((await k.inspect('q-running')).State.Status, 'running');
  });

  test('memory below 6MB or negative: 400', async () => {
    for (const memory of [1000, -5]) {
      const r = await k.request('POST', '/containers/create', { Image: 'busybox', HostConfig: { Memory: memory } });
      assert.equal(r.status, 400);
      assert.deepEqual(JSON.parse(r.body), { message: 'Minimum memory limit allowed is 6MB' });
    }
    assert.match((await k.fails(['run', '--rm', '-m', '1k', 'busybox', 'true'])).stderr, /Minimum memory limit allowed is 6MB/);
  });

  test('restart policies: unknown, retry count misuse, and with AutoRemove', async () => {
    const create = async (hostConfig: object): Promise<{ status: number; message: string }> => {
      const r = await k.request('POST', '/containers/create', { Image: 'busybox', HostConfig: hostConfig });
      return { status: r.status, message: (JSON.parse(r.body) as { message: string }).message };
    };
    assert.deepEqual(await create({ RestartPolicy: { Name: 'bogus' } }), {
      status: 400,
      message: "invalid restart policy: unknown policy 'bogus'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
    });
    assert.deepEqual(await create({ RestartPolicy: { Name: 'always', MaximumRetryCount: 2 } }), {
      status: 400,
      message: "invalid restart policy: maximum retry count can only be used with 'on-failure'",
    });
    assert.deepEqual(await create({ RestartPolicy: { Name: 'on-failure', MaximumRetryCount: -1 } }), {
      status: 400,
      message: 'invalid restart policy: maximum retry count cannot be negative',
    });
    assert.deepEqual(await create({ AutoRemove: true, RestartPolicy: { Name: 'always' } }), {
      status: 400,
      message: "can't create 'AutoRemove' container with restart policy",
    });
    assert.match(
      (await k.fails(['run', '--restart', 'bogus', 'busybox', 'true'])).stderr,
      /invalid restart policy: unknown policy 'bogus'/,
    );
    // The CLI itself refuses --rm with --restart.
    assert.match(
      (await k.fails(['run', '--rm', '--restart', 'always', 'busybox', 'true'])).stderr,
      /conflicting options: cannot specify both --restart and --rm/,
    );
    assert.match((await k.fails(['update', '--restart', 'bogus', 'q-running'])).stderr, /invalid restart policy: unknown policy 'bogus'/);
  });

  test('names: invalid 400, taken 409', async () => {
    const bad = await k.request('POST', '/containers/create?name=a%20b', { Image: 'busybox' });
    assert.equal(bad.status, 400);
    assert.deepEqual(JSON.parse(bad.body), { message: 'Invalid container name (a b), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed' });
    assert.match((await k.fails(['create', '--name', 'x', 'busybox'])).stderr, /Invalid container name \(x\)/);
    const taken = await k.request('POST', '/containers/create?name=q-running', { Image: 'busybox' });
    assert.equal(taken.status, 409);
    assert.deepEqual(JSON.parse(taken.body), {
      message: `Conflict. The container name "/q-running" is already in use by container "${ids['q-running']}". You have to remove (or rename) that container to be able to reuse that name.`,
    });
  });

  test('rm of a running container without -f: 409', async () => {
    const r = await k.request('DELETE', '/containers/q-running');
    assert.equal(r.status, 409);
    assert.deepEqual(JSON.parse(r.body), {
      message: 'cannot remove container "/q-running": container is running: stop the container before removing or force remove',
    });
    const p = await k.request('DELETE', '/containers/q-paused');
    assert.equal(p.status, 409);
    assert.match(p.body, /container is paused/);
  });

  test('unknown image, missing command, relative working directory', async () => {
    const r = await k.request('POST', '/containers/create', { Image: 'nosuchimage' });
    assert.equal(r.status, 404);
    assert.deepEqual(JSON.parse(r.body), { message: 'No such image: nosuchimage:latest' });
    const w = await k.request('POST', '/containers/create', { Image: 'busybox', WorkingDir: 'rel' });
    assert.equal(w.status, 400);
    assert.match(w.body, /the working directory 'rel' is invalid, it needs to be an absolute path/);
  });

  test('update: conflicting CPU options and AutoRemove with a restart policy', async () => {
    await k.ok(['run', '-d', '--rm', '--name', 'q-upd', '--cpus', '1', 'busybox', 'sleep', '1000']);
    const id = await k.id('q-upd');
    assert.equal(
      (await k.fails(['update', '--cpu-period', '100000', 'q-upd'])).stderr.trim(),
      `Error response from daemon: Cannot update container ${id}: Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set`,
    );
    assert.equal(
      (await k.fails(['update', '--restart', 'always', 'q-upd'])).stderr.trim(),
      `Error response from daemon: Cannot update container ${id}: Restart policy cannot be updated because AutoRemove is enabled for the container`,
    );
    assert.match(
      (await k.fails(['update', '--memory', '64m', 'q-upd'])).stderr,
      /Memory limit should be smaller than already set memoryswap limit/,
    );
    await k.ok(['rm', '-f', 'q-upd']);
  });
});
