// `docker run`, `create` and `start` through the real docker CLI against a real berthd: output and
// exit codes, stream separation, piped stdin, what --rm leaves behind (nothing: no containerd
// record, snapshot, task, FIFO, log directory or cgroup), start failures, and the run options a
// process can observe from inside its container.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Kit, lines } from './container-kit';

let k: Kit;

before(async () => {
  k = await Kit.start();
});

after(async () => {
  if (k) await k.destroy();
});

/** The container IDs docker knows, and those containerd has: they must be the same set. */
async function assertStoresAgree(): Promise<void> {
  const known = lines(await k.ok(['ps', '-aq', '--no-trunc'])).sort();
  const inContainerd = lines(k.ctr(['containers', 'ls', '-q'])).sort();
  assert.deepEqual(inContainerd, known);
}

describe('docker run', () => {
  test('prints the output and exits with the exit code of the process', async () => {
    const r = await k.docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo hi; exit 3']);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, 'hi\n');
    // Nothing else is on stderr (no create warning either).
    assert.equal(r.stderr, '');
  });

  test('keeps stdout and stderr apart', async () => {
    const r = await k.docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo out1; echo err1 >&2; echo out2; echo err2 >&2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'out1\nout2\n');
    assert.deepEqual(lines(r.stderr), ['err1', 'err2']);
  });

  test('-i passes piped stdin and its end to the process', async () => {
    const r = await k.docker(['run', '-i', '--rm', 'busybox', 'cat'], { input: 'x\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'x\n');
    // A larger input arrives whole, and wc sees its end.
    const big = 'line of input\n'.repeat(20_000);
    const wc = await k.docker(['run', '-i', '--rm', 'busybox', 'wc', '-c'], { input: big });
    assert.equal(wc.stdout.trim(), String(big.length));
  });

  test('without -i the process gets no stdin', async () => {
    const r = await k.docker(['run', '--rm', 'busybox', 'sh', '-c', 'cat; echo done'], { input: 'ignored\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'done\n');
  });

  test('--rm leaves no container, containerd record, snapshot, FIFO, log directory or cgroup', async () => {
    const cidfile = path.join(k.b.dir, 'rm.cid');
    await k.ok(['run', '--rm', '--cidfile', cidfile, '--name', 'rm-attached', 'busybox', 'sh', '-c', 'echo bye']);
    const id = fs.readFileSync(cidfile, 'utf8').trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    // Gone from the API, with its log directory and name, when run returns; containerd's side
    // (task, record, snapshot, cgroup) goes behind it.
    const gone = await k.fails(['container', 'inspect', 'rm-attached']);
    assert.match(gone.stderr, /No such container: rm-attached/);
    assert.equal(fs.existsSync(path.join(k.b.dataRoot, 'containers', id)), false);
    await k.ok(['create', '--name', 'rm-attached', 'busybox', 'true']);
    await k.ok(['rm', 'rm-attached']);
    await k.autoRemoved(id);

    // An image removed right after a --rm container of it exits is removed whole: its layer's
    // snapshot goes with it, not held by the container's snapshot still being deleted.
    const source = (await k.ok(['create', 'busybox', 'sh', '-c', 'echo layer > /f'])).trim();
    await k.ok(['start', '-a', source]);
    const snapshots = (): string[] =>
      lines(k.ctr(['snapshots', 'ls']))
        .slice(1)
        .map((l) => l.split(/\s+/)[0])
        .sort();
    const before = snapshots();
    await k.ok(['commit', source, 'rm-then-rmi']);
    assert.equal(await k.ok(['run', '--rm', 'rm-then-rmi', 'cat', '/f']), 'layer\n');
    await k.ok(['rmi', 'rm-then-rmi']);
    await k.until(
      'the --rm container of rm-then-rmi to leave containerd',
      async () => lines(k.ctr(['containers', 'ls', '-q'])).length === lines(await k.ok(['ps', '-aq'])).length,
    );
    assert.deepEqual(snapshots(), before, 'snapshots after rmi: those before the commit');
    await k.ok(['rm', source]);

    // Detached: the daemon removes it once it exits.
    const did = (await k.ok(['run', '-d', '--rm', 'busybox', 'sh', '-c', 'echo detached; sleep 0.5'])).trim();
    assert.match(did, /^[0-9a-f]{64}$/);
    await k.until('the detached --rm container to be removed', async () => (await k.docker(['container', 'inspect', did])).code !== 0);
    await k.autoRemoved(did);
    await assertStoresAgree();
  });

  test('a missing executable fails the start with 127, and --rm still removes the container', async () => {
    const r = await k.docker(['run', '--rm', '--name', 'no-exe', 'busybox', 'nosuchcmd'], { timeoutMs: 30_000 });
    assert.equal(r.code, 127, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /exec: "nosuchcmd": executable file not found in \$PATH/);
    assert.notEqual((await k.docker(['container', 'inspect', 'no-exe'])).code, 0, 'the --rm container was removed');

    // Without --rm the container stays, created, with the error and exit code in its state.
    const kept = await k.docker(['run', '--name', 'no-exe-kept', 'busybox', 'nosuchcmd']);
    assert.equal(kept.code, 127);
    const c = await k.inspect('no-exe-kept');
    assert.equal(c.State.Status, 'created');
    assert.equal(c.State.ExitCode, 127);
    assert.match(c.State.Error, /executable file not found/);
    // The failed start opened the container's log file; berthd holds no descriptor of it after.
    assert.ok(c.LogPath !== '' && fs.existsSync(c.LogPath), `the failed start made its log file (${c.LogPath})`);
    const heldLogs = fs
      .readdirSync(`/proc/${k.b.pid}/fd`)
      .map((fd) => {
        try {
          return fs.readlinkSync(`/proc/${k.b.pid}/fd/${fd}`);
        } catch {
          return '';
        }
      })
      .filter((target) => target === c.LogPath);
    assert.deepEqual(heldLogs, [], 'berthd still holds the log file of a start that failed');
    await k.ok(['rm', 'no-exe-kept']);
    await k.removed(c.Id);
    await assertStoresAgree();
  });
});

describe('docker create and start', () => {
  test('start -a prints the output and exits with the exit code, again on a second start', async () => {
    const id = (
      await k.ok(['create', '--name', 'created-once', 'busybox', 'sh', '-c', 'echo created-out; echo created-err >&2; exit 4'])
    ).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal((await k.inspect('created-once')).State.Status, 'created');
    for (let i = 0; i < 2; i++) {
      const r = await k.docker(['start', '-a', 'created-once']);
      assert.equal(r.code, 4, r.stderr);
      assert.equal(r.stdout, 'created-out\n');
      assert.equal(r.stderr, 'created-err\n');
    }
    const c = await k.inspect('created-once');
    assert.equal(c.State.Status, 'exited');
    assert.equal(c.State.ExitCode, 4);
    await k.ok(['rm', 'created-once']);
  });

  test('start -ai feeds stdin to a container created with -i', async () => {
    await k.ok(['create', '-i', '--name', 'created-stdin', 'busybox', 'sh', '-c', 'read line; echo "got $line"']);
    const r = await k.docker(['start', '-ai', 'created-stdin'], { input: 'hello\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'got hello\n');
    await k.ok(['rm', 'created-stdin']);
  });

  test('start of a running container is fine, of an unknown one an error', async () => {
    await k.ok(['run', '-d', '--name', 'start-twice', 'busybox', 'sleep', '60']);
    assert.equal((await k.ok(['start', 'start-twice'])).trim(), 'start-twice');
    const r = await k.fails(['start', 'nosuch-container']);
    assert.match(r.stderr, /No such container: nosuch-container/);
    await k.ok(['rm', '-f', 'start-twice']);
  });
});

describe('run options, seen from inside the container', () => {
  const sh = (flags: string[], script: string): Promise<string> => k.runOut(flags, ['sh', '-c', script]);

  test('--init runs docker-init as PID 1', async () => {
    // (`; :` keeps sh from exec-ing its last command.)
    assert.equal(await sh(['--init'], 'cat /proc/1/comm; :'), 'docker-init\n');
    assert.equal(await sh([], 'cat /proc/1/comm; :'), 'sh\n');
  });

  test('-u, -w, -e and --entrypoint', async () => {
    assert.match(await k.runOut(['-u', 'nobody'], ['id']), /^uid=65534\(nobody\) gid=65534\(nogroup\)/);
    assert.match(await k.runOut(['-u', '1000:1000'], ['id']), /^uid=1000 gid=1000/);
    assert.equal(await k.runOut(['-w', '/tmp'], ['pwd']), '/tmp\n');
    assert.equal(await k.runOut(['-w', '/made/by/docker'], ['pwd']), '/made/by/docker\n');
    assert.equal(await k.runOut(['--entrypoint', 'echo'], ['from', 'entrypoint']), 'from entrypoint\n');
    // Env: the image's PATH, HOSTNAME, HOME from runc, user variables; a name without "=" unsets.
    const env = lines(
      await k.runOut(['-e', 'FOO=bar', '-e', 'EMPTY=', '-e', 'HOSTNAME', '-e', 'UNSET_NOT_THERE', '--hostname', 'envhost'], ['env']),
    ).sort();
    assert.deepEqual(env, ['EMPTY=', 'FOO=bar', 'HOME=/root', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    const withTty = await k.runOut(['-t'], ['sh', '-c', 'echo $TERM $HOSTNAME']);
    assert.match(withTty, /^xterm [0-9a-f]{12}\r\n$/);
  });

  test('--entrypoint "" drops the image entrypoint and needs a command', async () => {
    assert.equal(await k.runOut(['--entrypoint', ''], ['echo', 'no entrypoint']), 'no entrypoint\n');
    const r = await k.fails(['run', '--rm', '--entrypoint', '', 'busybox']);
    assert.match(r.stderr, /no command specified/);
  });

  test('--read-only and --tmpfs', async () => {
    assert.match(await sh(['--read-only'], 'touch /x 2>&1; echo rc=$?'), /Read-only file system\nrc=1\n$/);
    assert.equal(await sh(['--read-only', '--tmpfs', '/run'], 'touch /run/x && echo ok'), 'ok\n');
    assert.match(
      await sh(['--tmpfs', '/run:size=1m'], "grep ' /run ' /proc/mounts"),
      /^tmpfs \/run tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k/,
    );
  });

  test("--cap-drop ALL leaves no effective capability; the default set is dockerd's", async () => {
    assert.equal(await sh([], 'grep CapEff /proc/self/status'), 'CapEff:\t00000000a80425fb\n');
    assert.equal(await sh(['--cap-drop', 'ALL'], 'grep CapEff /proc/self/status'), 'CapEff:\t0000000000000000\n');
    assert.equal(
      await sh(['--cap-drop', 'ALL', '--cap-add', 'CAP_NET_RAW'], 'grep CapEff /proc/self/status'),
      'CapEff:\t0000000000002000\n',
    );
  });

  test('--memory, --pids-limit and --ulimit', async () => {
    const v1 = fs.existsSync('/sys/fs/cgroup/memory');
    const memFile = v1 ? '/sys/fs/cgroup/memory/memory.limit_in_bytes' : '/sys/fs/cgroup/memory.max';
    const pidsFile = v1 ? '/sys/fs/cgroup/pids/pids.max' : '/sys/fs/cgroup/pids.max';
    assert.equal(await sh(['--memory', '32m'], `cat ${memFile}`), `${32 * 1024 * 1024}\n`);
    assert.equal(await sh(['--pids-limit', '20'], `cat ${pidsFile}`), '20\n');
    assert.equal(await sh([], `cat ${pidsFile}`), 'max\n');
    assert.equal(await sh(['--ulimit', 'nofile=1024:2048'], 'ulimit -n; ulimit -Hn'), '1024\n2048\n');
  });

  test('--hostname, --add-host and --dns', async () => {
    assert.equal(await sh(['--hostname', 'hh'], 'hostname; cat /etc/hostname'), 'hh\nhh\n');
    const hosts = await sh(['--add-host', 'h1:10.0.0.1', '--add-host', 'h2=10.0.0.2'], 'cat /etc/hosts');
    assert.match(hosts, /^10\.0\.0\.1\th1$/m);
    assert.match(hosts, /^10\.0\.0\.2\th2$/m);
    assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
    const resolv = await sh(['--dns', '1.1.1.1', '--dns-search', 'example.test', '--dns-option', 'ndots:2'], 'cat /etc/resolv.conf');
    assert.match(resolv, /^nameserver 1\.1\.1\.1$/m);
    assert.match(resolv, /^search example\.test$/m);
    assert.match(resolv, /^options ndots:2$/m);
    assert.equal(resolv.match(/^nameserver/gm)?.length, 1);
  });

  test("--network none has only lo; --network host sees the host's interfaces", async () => {
    assert.equal(await sh(['--network', 'none'], 'ls /sys/class/net'), 'lo\n');
    // Other tests' daemons add and remove bridges and veths meanwhile: the container sees every
    // interface present both before and after, and none that was in neither listing.
    const before = fs.readdirSync('/sys/class/net');
    const seen = lines(await sh(['--network', 'host'], 'ls /sys/class/net'));
    const afterList = fs.readdirSync('/sys/class/net');
    for (const i of before.filter((x) => afterList.includes(x))) assert.ok(seen.includes(i), `host interface ${i} not seen`);
    // A bridge or veth of another test daemon may come and go entirely within the window.
    const transient = (i: string): boolean => /^(berth-|veth|brtest)/.test(i);
    for (const i of seen) assert.ok(before.includes(i) || afterList.includes(i) || transient(i), `${i} is not a host interface`);
    assert.ok(seen.includes('eth0') && seen.includes('lo'));
    // The default mode is the default bridge: lo and eth0, without a warning.
    const r = await k.docker(['run', '--rm', 'busybox', 'ls', '/sys/class/net']);
    assert.equal(r.stdout, 'eth0\nlo\n');
    assert.equal(r.stderr, '');
  });
});
