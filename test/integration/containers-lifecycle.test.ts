// The lifecycle of running containers through the real docker CLI against a real berthd: logs
// (follow, tail, since/until, timestamps, details), stop with a timeout, restart, kill with and
// without a signal, pause/unpause, rename, update of a live container's memory limit, wait, top,
// restart policies, forced removal and prune.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { tarOf } from './archive-tools';
import { Kit, lines, sleep } from './container-kit';

let k: Kit;

before(async () => {
  k = await Kit.start();
});

after(async () => {
  if (k) await k.destroy();
});

const V1 = fs.existsSync('/sys/fs/cgroup/memory');
const MEMORY_FILE = V1 ? '/sys/fs/cgroup/memory/memory.limit_in_bytes' : '/sys/fs/cgroup/memory.max';

const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

describe('docker logs', () => {
  test('-f follows new output of both streams and ends when the container exits', async () => {
    await k.ok(['run', '-d', '--name', 'follow', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.7; done']);
    await k.until('the first line', async () => (await k.ok(['logs', 'follow'])).includes('out1'));
    const started = Date.now();
    const r = await k.docker(['logs', '-f', 'follow'], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'out1\nout2\nout3\n');
    assert.equal(r.stderr, 'err1\nerr2\nerr3\n');
    // It waited for lines written after it began, and returned once the container was gone.
    assert.ok(Date.now() - started >= 1000, 'logs -f returned before the container ended');
    assert.equal((await k.inspect('follow')).State.Status, 'exited');
    // Only one stream on request: the API's stdout/stderr selection.
    const onlyErr = await k.request('GET', '/containers/follow/logs?stderr=1');
    assert.equal(onlyErr.status, 200);
    assert.ok(onlyErr.body.includes('err2') && !onlyErr.body.includes('out2'), onlyErr.body);
    await k.ok(['rm', 'follow']);
  });

  test('a log of many read blocks: every line in order, -t, --tail and -f across block boundaries', async () => {
    // ~12 MB of json-file for 150,000 lines: a dozen 1 MiB reads, lines torn at each boundary.
    const N = 150_000;
    const expected = Array.from({ length: N }, (_, i) => `${i + 1}\n`).join('');
    const script = `seq 1 ${N}; echo "é \\"q\\" <&> \\\\ tab	end" >&2; seq 1 3 >&2`;
    await k.ok(['run', '-d', '--name', 'big', 'busybox', 'sh', '-c', script]);
    // Followed from the start, while the container writes as fast as it can.
    const followed = await k.docker(['logs', '-f', 'big'], { timeoutMs: 60_000 });
    assert.equal(followed.code, 0, followed.stderr);
    assert.ok(followed.stdout === expected, `followed stdout: ${followed.stdout.length} bytes, ${expected.length} expected`);
    const stderr = 'é "q" <&> \\ tab\tend\n1\n2\n3\n';
    assert.equal(followed.stderr, stderr);
    const all = await k.docker(['logs', 'big']);
    assert.ok(all.stdout === expected, `stdout: ${all.stdout.length} bytes, ${expected.length} expected`);
    assert.equal(all.stderr, stderr);
    const stamped = lines((await k.docker(['logs', '-t', 'big'])).stdout);
    assert.equal(stamped.length, N);
    for (const i of [0, 1, 77_777, N - 1]) {
      const [time, text] = stamped[i]!.split(' ');
      assert.match(time!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      assert.equal(text, String(i + 1));
    }
    // Tail counts entries of both streams: the last five are one of stdout and stderr's four.
    const tail = await k.docker(['logs', '--tail', '5', 'big']);
    assert.equal(tail.stdout, `${N}\n`);
    assert.equal(tail.stderr, stderr);
    await k.ok(['rm', 'big']);
  });

  test('--tail, -t, --since and --until', async () => {
    await k.ok(['run', '--name', 'timed', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5; do echo l$i; done; sleep 1.2; echo late']);
    assert.equal(await k.ok(['logs', '--tail', '2', 'timed']), 'l5\nlate\n');
    assert.equal(await k.ok(['logs', '--tail', '0', 'timed']), '');
    assert.equal(await k.ok(['logs', '--tail', 'all', 'timed']), 'l1\nl2\nl3\nl4\nl5\nlate\n');

    const stamped = lines(await k.ok(['logs', '-t', 'timed'])).map((l) => {
      const sp = l.indexOf(' ');
      return { ts: l.slice(0, sp), text: l.slice(sp + 1) };
    });
    assert.deepEqual(
      stamped.map((s) => s.text),
      ['l1', 'l2', 'l3', 'l4', 'l5', 'late'],
    );
    for (const s of stamped) assert.match(s.ts, RFC3339_NANO);
    // A boundary between l5 and late, as Unix seconds (the CLI passes both forms on).
    const lateMs = Date.parse(stamped[5].ts);
    const boundary = (lateMs - 500) / 1000;
    assert.ok(Date.parse(stamped[4].ts) < lateMs - 500, 'the sleep separates the two groups');
    assert.equal(await k.ok(['logs', '--since', boundary.toFixed(3), 'timed']), 'late\n');
    assert.equal(await k.ok(['logs', '--until', boundary.toFixed(3), 'timed']), 'l1\nl2\nl3\nl4\nl5\n');
    assert.equal(await k.ok(['logs', '--since', new Date(lateMs - 500).toISOString(), 'timed']), 'late\n');
    await k.ok(['rm', 'timed']);
  });

  test('--details shows the attributes chosen with --log-opt labels/env', async () => {
    await k.ok([
      'run',
      '--name',
      'detailed',
      '-l',
      'app=web',
      '-l',
      'tier=front',
      '-e',
      'STAGE=test',
      '--log-opt',
      'labels=app,tier',
      '--log-opt',
      'env=STAGE',
      'busybox',
      'echo',
      'hello',
    ]);
    assert.equal(await k.ok(['logs', '--details', 'detailed']), 'STAGE=test,app=web,tier=front hello\n');
    assert.equal(await k.ok(['logs', 'detailed']), 'hello\n');
    const c = await k.inspect('detailed');
    assert.ok(fs.existsSync(c.LogPath), c.LogPath);
    const raw = JSON.parse(fs.readFileSync(c.LogPath, 'utf8').trim()) as {
      log: string;
      stream: string;
      attrs: Record<string, string>;
      time: string;
    };
    assert.deepEqual(raw.attrs, { STAGE: 'test', app: 'web', tier: 'front' });
    assert.equal(raw.log, 'hello\n');
    assert.equal(raw.stream, 'stdout');
    await k.ok(['rm', 'detailed']);
  });
});

describe('stop, restart, kill, pause, rename, wait', () => {
  test('stop -t 2 of a process that ignores SIGTERM kills it after about 2 s (exit 137)', async () => {
    await k.ok(['run', '-d', '--name', 'stubborn', 'busybox', 'sh', '-c', 'trap "" TERM; echo ready; sleep 30']);
    await k.until('the trap to be set', async () => (await k.ok(['logs', 'stubborn'])).includes('ready'));
    const t0 = Date.now();
    assert.equal((await k.ok(['stop', '-t', '2', 'stubborn'])).trim(), 'stubborn');
    const took = Date.now() - t0;
    assert.ok(took >= 2000 && took < 10_000, `stop took ${took} ms`);
    const c = await k.inspect('stubborn');
    assert.equal(c.State.Status, 'exited');
    assert.equal(c.State.ExitCode, 137);
    assert.equal(c.State.Running, false);
    assert.equal(c.State.Pid, 0);
    // Stopping a stopped container is fine (the daemon's 304 is no error for the CLI).
    assert.equal((await k.ok(['stop', 'stubborn'])).trim(), 'stubborn');
    assert.equal((await k.request('POST', '/containers/stubborn/stop')).status, 304);
    await k.ok(['rm', 'stubborn']);
  });

  test('stop of a process that handles SIGTERM returns at once with its exit code', async () => {
    await k.ok(['run', '-d', '--name', 'polite', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; echo ready; while true; do sleep 0.1; done']);
    await k.until('the trap to be set', async () => (await k.ok(['logs', 'polite'])).includes('ready'));
    const t0 = Date.now();
    await k.ok(['stop', 'polite']);
    assert.ok(Date.now() - t0 < 5000);
    assert.equal((await k.inspect('polite')).State.ExitCode, 0);
    await k.ok(['rm', 'polite']);
  });

  test('right after a stop (containerd still deleting the task): cp into it, start, rm', async () => {
    // The exit is reported before containerd's task delete ends; what needs the task gone waits.
    const id = (
      await k.ok(['run', '-d', '--name', 'quick', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'])
    ).trim();
    for (let round = 0; round < 4; round++) {
      await k.until('the trap to be set', async () => (await k.docker(['exec', 'quick', 'pidof', 'sleep'])).code === 0);
      assert.equal((await k.request('POST', `/containers/${id}/stop`)).status, 204);
      // Writes to the stopped container's snapshot, back to back with the stop.
      const put = await k.b.request('PUT', `/containers/${id}/archive?path=/`, {
        body: await tarOf([{ name: `round${round}`, data: `r${round}` }]),
        headers: { 'Content-Type': 'application/x-tar' },
      });
      assert.equal(put.status, 200, put.body);
      assert.equal((await k.request('POST', `/containers/${id}/start`)).status, 204);
      assert.equal(await k.ok(['exec', 'quick', 'cat', `/round${round}`]), `r${round}`);
    }
    assert.equal((await k.request('POST', `/containers/${id}/stop`)).status, 204);
    assert.equal((await k.request('DELETE', `/containers/${id}`)).status, 204);
    assert.equal((await k.request('POST', `/containers/${id}/start`)).status, 404);
  });

  test('restart runs the container again', async () => {
    await k.ok(['run', '-d', '--name', 'again', 'busybox', 'sh', '-c', 'echo run; sleep 60']);
    const before = await k.inspect('again');
    await k.ok(['restart', '-t', '1', 'again']);
    const after = await k.inspect('again');
    assert.equal(after.State.Status, 'running');
    assert.notEqual(after.State.StartedAt, before.State.StartedAt);
    assert.notEqual(after.State.Pid, before.State.Pid);
    assert.equal(after.RestartCount, 0, 'a user restart is not a policy restart');
    await k.until('the second run to log', async () => (await k.ok(['logs', 'again'])) === 'run\nrun\n');
    // restart of a stopped container starts it
    await k.ok(['stop', '-t', '0', 'again']);
    await k.ok(['restart', 'again']);
    assert.equal((await k.inspect('again')).State.Status, 'running');
    await k.ok(['rm', '-f', 'again']);
  });

  test('kill -s USR1 delivers the signal; kill ends the container with 137', async () => {
    await k.ok([
      'run',
      '-d',
      '--name',
      'signalled',
      'busybox',
      'sh',
      '-c',
      'trap "echo got-usr1" USR1; echo ready; while true; do sleep 0.1; done',
    ]);
    await k.until('the trap to be set', async () => (await k.ok(['logs', 'signalled'])).includes('ready'));
    await k.ok(['kill', '-s', 'USR1', 'signalled']);
    await k.until('the trap to run', async () => (await k.ok(['logs', 'signalled'])).includes('got-usr1'));
    assert.equal((await k.inspect('signalled')).State.Status, 'running');
    await k.ok(['kill', '-s', '10', 'signalled']);
    await k.until('the numbered signal to arrive', async () => (await k.ok(['logs', 'signalled'])).split('got-usr1').length === 3);
    await k.ok(['kill', 'signalled']);
    const c = await k.inspect('signalled');
    assert.equal(c.State.Status, 'exited');
    assert.equal(c.State.ExitCode, 137);
    const r = await k.fails(['kill', 'signalled']);
    assert.match(r.stderr, /is not running/);
    await k.ok(['rm', 'signalled']);
  });

  test('pause and unpause: ps shows (Paused), the process is frozen, then goes on', async () => {
    await k.ok(['run', '-d', '--name', 'frozen', 'busybox', 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i; sleep 0.1; done']);
    await k.ok(['pause', 'frozen']);
    const ps = await k.ok(['ps', '--filter', 'name=frozen', '--format', '{{.Names}} {{.Status}}']);
    assert.match(ps, /^frozen Up .* \(Paused\)\n$/);
    const c = await k.inspect('frozen');
    assert.equal(c.State.Status, 'paused');
    assert.equal(c.State.Paused, true);
    assert.equal(c.State.Running, true);
    assert.equal((await k.ok(['ps', '-q', '--filter', 'status=paused'])).trim(), c.Id.slice(0, 12));
    const n1 = lines(await k.ok(['logs', 'frozen'])).length;
    await sleep(500);
    assert.equal(lines(await k.ok(['logs', 'frozen'])).length, n1, 'no output while paused');
    assert.match((await k.fails(['pause', 'frozen'])).stderr, /is already paused/);
    await k.ok(['unpause', 'frozen']);
    assert.equal((await k.inspect('frozen')).State.Status, 'running');
    await k.until('output after unpause', async () => lines(await k.ok(['logs', 'frozen'])).length > n1);
    assert.match((await k.fails(['unpause', 'frozen'])).stderr, /is not paused/);
    // A paused container stops too (it is thawed for the signal).
    await k.ok(['pause', 'frozen']);
    await k.ok(['stop', '-t', '1', 'frozen']);
    assert.equal((await k.inspect('frozen')).State.Status, 'exited');
    await k.ok(['rm', 'frozen']);
  });

  test('rename', async () => {
    await k.ok(['create', '--name', 'old-name', 'busybox']);
    await k.ok(['rename', 'old-name', 'new-name']);
    assert.equal((await k.inspect('new-name')).Name, '/new-name');
    assert.match((await k.fails(['container', 'inspect', 'old-name'])).stderr, /No such container: old-name/);
    await k.ok(['create', '--name', 'other-name', 'busybox']);
    assert.match((await k.fails(['rename', 'new-name', 'other-name'])).stderr, /The container name "\/other-name" is already in use/);
    await k.ok(['rm', 'new-name', 'other-name']);
  });

  test('wait prints the exit code', async () => {
    await k.ok(['run', '-d', '--name', 'waited', 'busybox', 'sh', '-c', 'sleep 0.5; exit 42']);
    assert.equal(await k.ok(['wait', 'waited']), '42\n');
    // Waiting on an exited container answers at once with its code.
    assert.equal(await k.ok(['wait', 'waited']), '42\n');
    await k.ok(['rm', 'waited']);
  });

  test('start of a container whose directory is gone (a crash cut its create short) makes it again', async () => {
    const id = (await k.ok(['create', 'busybox', 'sh', '-c', 'hostname'])).trim();
    fs.rmSync(`${k.b.dataRoot}/containers/${id}`, { recursive: true, force: true });
    await k.ok(['start', id]);
    assert.equal(await k.ok(['wait', id]), '0\n');
    assert.equal(await k.ok(['logs', id]), `${id.slice(0, 12)}\n`);
    await k.ok(['rm', id]);
  });

  test('attach follows the output and ends with the exit code', async () => {
    await k.ok(['run', '-d', '--name', 'attached', 'busybox', 'sh', '-c', 'echo tick1; sleep 1; echo tick2; echo tock >&2; exit 5']);
    await k.until('the first tick', async () => (await k.ok(['logs', 'attached'])).includes('tick1'));
    const r = await k.docker(['attach', 'attached'], { timeoutMs: 20_000 });
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stdout, 'tick2\n');
    assert.equal(r.stderr, 'tock\n');
    // Attaching to a stopped container is refused.
    assert.match((await k.fails(['attach', 'attached'])).stderr, /You cannot attach to a stopped container, start it first/);
    await k.ok(['rm', 'attached']);
  });

  test("logs of a container logging to none: dockerd's error", async () => {
    assert.equal(await k.ok(['run', '--name', 'unlogged', '--log-driver', 'none', 'busybox', 'echo', 'hi']), 'hi\n');
    assert.match((await k.fails(['logs', 'unlogged'])).stderr, /configured logging driver does not support reading/);
    await k.ok(['rm', 'unlogged']);
  });

  test('top lists the processes, with ps options', async () => {
    await k.ok(['run', '-d', '--name', 'topped', 'busybox', 'sleep', '1000']);
    const rows = lines(await k.ok(['top', 'topped']));
    assert.deepEqual(rows[0].split(/\s+/), ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
    assert.equal(rows.length, 2);
    assert.match(rows[1], /^root\s+\d+\s+\d+\s+.*sleep 1000$/);
    const pid = (await k.inspect('topped')).State.Pid;
    assert.deepEqual(
      lines(await k.ok(['top', 'topped', '-o', 'pid,comm'])).map((l) => l.trim().split(/\s+/)),
      [
        ['PID', 'COMMAND'],
        [String(pid), 'sleep'],
      ],
    );
    await k.ok(['rm', '-f', 'topped']);
    assert.match((await k.fails(['top', 'topped'])).stderr, /No such container: topped/);
  });
});

describe('update', () => {
  test('--memory changes the limit of a running container, as its cgroup shows', async () => {
    await k.ok(['run', '-d', '--name', 'grown', '-m', '64m', 'busybox', 'sh', '-c', `while true; do cat ${MEMORY_FILE}; sleep 0.2; done`]);
    await k.until('the first limit', async () => (await k.ok(['logs', 'grown'])).includes(String(64 << 20)));
    await k.ok(['update', '--memory', '100m', 'grown']);
    await k.until(
      'the new limit inside the container',
      async () => lines(await k.ok(['logs', '--tail', '1', 'grown']))[0] === String(100 << 20),
    );
    const c = await k.inspect('grown');
    assert.equal(c.HostConfig.Memory, 100 << 20);
    assert.equal(c.HostConfig.MemorySwap, 128 << 20, 'swap stays at twice the original limit');
    // Above the swap limit the swap limit must change too, as dockerd says.
    const r = await k.fails(['update', '--memory', '300m', 'grown']);
    assert.match(r.stderr, /Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time/);
    await k.ok(['update', '--memory', '300m', '--memory-swap', '600m', 'grown']);
    await k.until(
      'the limit after memory and swap',
      async () => lines(await k.ok(['logs', '--tail', '1', 'grown']))[0] === String(300 << 20),
    );
    assert.equal((await k.inspect('grown')).HostConfig.MemorySwap, 600 << 20);
    await k.ok(['update', '--restart', 'unless-stopped', 'grown']);
    assert.deepEqual((await k.inspect('grown')).HostConfig.RestartPolicy, { Name: 'unless-stopped', MaximumRetryCount: 0 });
    await k.ok(['rm', '-f', 'grown']);
  });
});

describe('restart policies', () => {
  test('on-failure:2 restarts twice, then the container stays exited with RestartCount 2', async () => {
    await k.ok(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo try; exit 3']);
    await k.until('two restarts and the final exit', async () => {
      const c = await k.inspect('flaky');
      return c.RestartCount === 2 && c.State.Status === 'exited';
    });
    await sleep(1000);
    const c = await k.inspect('flaky');
    assert.equal(c.RestartCount, 2);
    assert.equal(c.State.Status, 'exited');
    assert.equal(c.State.ExitCode, 3);
    assert.equal(await k.ok(['logs', 'flaky']), 'try\ntry\ntry\n');
    await k.ok(['rm', 'flaky']);
  });

  test('on-failure does not restart a clean exit', async () => {
    await k.ok(['run', '--name', 'clean', '--restart', 'on-failure', 'busybox', 'true']);
    await sleep(500);
    const c = await k.inspect('clean');
    assert.equal(c.RestartCount, 0);
    assert.equal(c.State.Status, 'exited');
    await k.ok(['rm', 'clean']);
  });

  test('always restarts until stopped, and stop is final', async () => {
    await k.ok(['run', '-d', '--name', 'phoenix', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.2; exit 1']);
    await k.until('two restarts', async () => (await k.inspect('phoenix')).RestartCount >= 2);
    await k.ok(['stop', '-t', '1', 'phoenix']);
    const stopped = await k.inspect('phoenix');
    assert.equal(stopped.State.Status, 'exited');
    await sleep(1500);
    const later = await k.inspect('phoenix');
    assert.equal(later.State.Status, 'exited', 'no restart after docker stop');
    assert.equal(later.RestartCount, stopped.RestartCount);
    await k.ok(['rm', 'phoenix']);
  });

  test('always: a kill with the stop signal ends it too, another signal does not', async () => {
    // --init: a PID 1 sleep would ignore both signals.
    await k.ok(['run', '-d', '--name', 'usr1', '--init', '--restart', 'always', '--stop-signal', 'SIGUSR1', 'busybox', 'sleep', '60']);
    // SIGTERM is not the stop signal: the killed process comes back.
    await k.ok(['kill', '-s', 'TERM', 'usr1']);
    await k.until('a restart after SIGTERM', async () => {
      const c = await k.inspect('usr1');
      return c.RestartCount === 1 && c.State.Status === 'running';
    });
    await k.ok(['kill', '-s', 'USR1', 'usr1']);
    await k.until('the exit', async () => (await k.inspect('usr1')).State.Status === 'exited');
    await sleep(800);
    const c = await k.inspect('usr1');
    assert.equal(c.State.Status, 'exited');
    assert.equal(c.State.ExitCode, 138);
    assert.equal(c.RestartCount, 1);
    await k.ok(['rm', 'usr1']);
  });
});

describe('rm and prune', () => {
  test('rm -f removes a running container and everything it owned', async () => {
    await k.ok(['run', '-d', '--name', 'doomed', 'busybox', 'sleep', '1000']);
    const id = await k.id('doomed');
    assert.notDeepEqual(k.leftovers(id), []);
    assert.match(
      (await k.fails(['rm', 'doomed'])).stderr,
      /cannot remove container "\/doomed": container is running: stop the container before removing or force remove/,
    );
    assert.equal((await k.ok(['rm', '-f', 'doomed'])).trim(), 'doomed');
    await k.removed(id);
  });

  test('rm refuses a restarting container as dockerd does; rm -f removes it', async () => {
    await k.ok(['run', '-d', '--name', 'flapper', '--restart', 'always', 'busybox', 'sh', '-c', 'exit 1']);
    // The restart delay doubles each time (100 ms, 200 ms, ...) while each run lasts a moment:
    // after a few restarts the container spends nearly all its time "restarting".
    const restarting = async (): Promise<boolean> => {
      const s = await k.inspect('flapper');
      return s.State.Status === 'restarting' && s.RestartCount >= 3;
    };
    try {
      // Under load a run can outlast the inspect that saw "restarting"; then rm meets it running
      // (refused too, as it must be). Ask again until a refusal meets it restarting.
      let refusal = '';
      for (let i = 0; i < 20 && !refusal.includes('container is restarting'); i++) {
        for (let j = 0; j < 100 && !(await restarting()); j++) await sleep(100);
        const r = await k.fails(['rm', 'flapper']);
        assert.match(r.stderr, /container is (restarting|running): stop the container before removing or force remove/);
        refusal = r.stderr;
      }
      assert.match(
        refusal,
        /cannot remove container "\/flapper": container is restarting: stop the container before removing or force remove/,
      );
    } finally {
      assert.equal((await k.ok(['rm', '-f', 'flapper'])).trim(), 'flapper');
    }
  });

  test('a --rm container goes away after stop and kill, and survives restart', async () => {
    for (const [name, cmd] of [
      ['rm-stopped', ['stop', '-t', '1']],
      ['rm-killed', ['kill']],
    ] as const) {
      await k.ok(['run', '-d', '--rm', '--name', name, 'busybox', 'sleep', '1000']);
      const id = await k.id(name);
      const r = await k.docker([...cmd, name], { timeoutMs: 20_000 });
      assert.equal(r.code, 0, r.stderr);
      await k.until(`${name} to be removed`, async () => (await k.docker(['container', 'inspect', name])).code !== 0);
      await k.autoRemoved(id);
    }
    await k.ok(['run', '-d', '--rm', '--name', 'rm-restarted', 'busybox', 'sleep', '1000']);
    await k.ok(['restart', '-t', '1', 'rm-restarted']);
    await sleep(300);
    assert.equal((await k.inspect('rm-restarted')).State.Status, 'running');
    await k.ok(['stop', '-t', '1', 'rm-restarted']);
    await k.until('rm-restarted to be removed', async () => (await k.docker(['container', 'inspect', 'rm-restarted'])).code !== 0);
  });

  test('container prune removes stopped containers only, with label filters', async () => {
    await k.ok(['run', '--name', 'pr-a', '-l', 'keep=no', 'busybox', 'true']);
    await k.ok(['create', '--name', 'pr-b', 'busybox']);
    await k.ok(['run', '--name', 'pr-c', '-l', 'keep=yes', 'busybox', 'true']);
    await k.ok(['run', '-d', '--name', 'pr-run', 'busybox', 'sleep', '1000']);
    const ids = Object.fromEntries(await Promise.all(['pr-a', 'pr-b', 'pr-c', 'pr-run'].map(async (n) => [n, await k.id(n)] as const)));

    const first = await k.ok(['container', 'prune', '-f', '--filter', 'label=keep=no']);
    assert.match(first, new RegExp(`^Deleted Containers:\\n${ids['pr-a']}\\n\\nTotal reclaimed space: `));
    const second = await k.ok(['container', 'prune', '-f', '--filter', 'label!=keep=yes']);
    assert.deepEqual(lines(second).slice(1, -1), [ids['pr-b']], `${JSON.stringify(ids)}\n${await k.ok(['ps', '-a', '--no-trunc'])}`);
    const third = await k.ok(['container', 'prune', '-f']);
    assert.deepEqual(lines(third).slice(1, -1), [ids['pr-c']]);
    assert.equal(await k.ok(['container', 'prune', '-f']), 'Total reclaimed space: 0B\n');
    assert.deepEqual(lines(await k.ok(['ps', '-aq', '--no-trunc'])), [ids['pr-run']]);
    for (const n of ['pr-a', 'pr-b', 'pr-c']) await k.removed(ids[n]);
    await k.ok(['rm', '-f', 'pr-run']);
  });
});
