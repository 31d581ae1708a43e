// Live restore (issue 13) through the real docker CLI: a berthd started with --live-restore is
// SIGKILLed with 20 containers running and started again on the same roots; they keep running and
// are adopted (same PIDs, logs with every line once, `docker logs -f` cut by the kill and followed
// again, exec in each, stop with the real exit code, attach, a published port),
// one that exited meanwhile shows its own exit code, and a --restart always one is restarted.
// Without live restore, a clean stop/start brings back always and unless-stopped containers but
// not a manually stopped unless-stopped one; after a SIGKILL, a container left running gets its
// stop signal at the next start.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { containerdNamespaceFor } from '../../daemon/config';
import { classifyProcess } from '../../daemon/crash-sweep';
import { containerdPid, destroyBerth, DOCKER, destroyLiveRestoreBerth, loadBusybox, startBerth, within, type Berth } from './harness';
import { freePorts, httpGet, httpdCmd } from './net-tools';

async function ok(b: Berth, args: string[]): Promise<string> {
  const r = await b.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const inspect = async (b: Berth, format: string, name: string): Promise<string> => (await ok(b, ['inspect', '-f', format, name])).trim();

async function until(what: string, ms: number, check: () => Promise<boolean>, everyMs = 100): Promise<void> {
  await within(
    ms,
    what,
    (async () => {
      while (!(await check())) await new Promise((r) => setTimeout(r, everyMs));
    })(),
  );
}

/**
 * What a live-restore berthd leaves when the test ends: its containerd, the shims and the
 * containers' processes, found by PID (shims naming our namespace and socket, processes in our
 * namespace's cgroups) and killed. Returns how many there were.
 */
function killLeftovers(b: Berth): number {
  const namespace = containerdNamespaceFor(b.dataRoot);
  const containerdSocket = path.join(b.execRoot, 'containerd', 'containerd.sock');
  let killed = 0;
  for (const pid of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    let argv: string[];
    let cgroup: string;
    try {
      argv = fs
        .readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        .split('\0')
        .filter((a) => a !== '');
      cgroup = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {
      continue;
    }
    if (argv.length === 0 || !classifyProcess(argv, cgroup, { namespace, liveTasks: new Set(), containerdSocket })) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
      killed++;
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}

/** The process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** SIGKILLs berthd as soon as the log file grows (polled without awaiting anything slow). */
async function killRightAfterALine(b: Berth, logPath: string): Promise<void> {
  const size = fs.statSync(logPath).size;
  await until('the log file to grow', 5000, () => Promise.resolve(fs.statSync(logPath).size > size), 2);
  process.kill(b.pid, 'SIGKILL');
}

function parseLines(out: string): number[] {
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => Number(/^line (\d+)$/.exec(l)?.[1] ?? NaN));
}

/** `docker logs` of the counter: its numbered lines, in order. */
async function counterLines(b: Berth, name: string): Promise<number[]> {
  return parseLines(await ok(b, ['logs', name]));
}

function assertConsecutive(lines: number[], what = ''): void {
  assert.ok(lines.length > 0, `no log lines ${what}`);
  for (let i = 0; i < lines.length; i++)
    assert.equal(
      lines[i],
      i + 1,
      `${what} log line ${i + 1} is ${lines[i]} (lost, duplicated or garbled): ${lines.slice(Math.max(0, i - 3), i + 3).join(',')}`,
    );
}

/**
 * A `docker logs -f` left running: the lines it printed so far; stop() kills it and returns them;
 * `exited` resolves when it ends by itself.
 */
function spawnFollower(b: Berth, name: string): { lines(): number[]; stop(): number[]; exited: Promise<void> } {
  const child = spawn(DOCKER, ['logs', '-f', name], {
    env: { ...process.env, DOCKER_HOST: `unix://${b.socket}`, DOCKER_CONFIG: path.join(b.dir, 'docker-config') },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  child.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  // Complete lines only (the last one may still be arriving).
  const lines = (): number[] => parseLines(out.slice(0, out.lastIndexOf('\n') + 1));
  return {
    lines,
    exited,
    stop: () => {
      child.kill('SIGKILL');
      return lines();
    },
  };
}

/** Resolves once none of `files` has grown for 300 ms. */
async function untilStable(files: string[]): Promise<void> {
  const sizes = (): string => files.map((f) => fs.statSync(f).size).join(',');
  let last = sizes();
  let since = Date.now();
  await until(
    'the quiet logs to stop growing',
    10_000,
    () => {
      const now = sizes();
      if (now !== last) [last, since] = [now, Date.now()];
      return Promise.resolve(Date.now() - since >= 300);
    },
    50,
  );
}

describe('live restore: SIGKILL of berthd and a restart on the same roots', () => {
  let b: Berth | undefined;
  const LR = ['--live-restore'];
  // Numbered lines every 50 ms; SIGTERM ends it with 42 (after the current sleep).
  const counter = ['sh', '-c', "trap 'exit 42' TERM; i=0; while true; do i=$((i+1)); echo line $i; sleep 0.05; done"];
  // The same, silent while /quiet/on exists.
  const quietCounter = [
    'sh',
    '-c',
    "trap 'exit 42' TERM; i=0; while true; do if [ ! -e /quiet/on ]; then i=$((i+1)); echo line $i; fi; sleep 0.05; done",
  ];
  const CROWD = 17;

  before(async () => {
    b = await startBerth({ args: LR });
    await loadBusybox(b);
  });

  after(async () => {
    if (!b) return;
    await b
      .docker([
        'rm',
        '-f',
        'lr-counter',
        'lr-exiter',
        'lr-always',
        'lr-web',
        'lr-client',
        'lr-term',
        'lr-paused',
        'lr-rm',
        ...Array.from({ length: CROWD }, (_x, i) => `lr-n${i}`),
      ])
      .catch(() => undefined);
    await b.docker(['network', 'rm', 'lr-net']).catch(() => undefined);
    if (process.env.LR_DEBUG) fs.writeFileSync('/tmp/lr-debug.log', b.log());
    // Its bridges and firewall chains outlive a live-restore stop: a last start without live
    // restore takes them down. Whatever a failure left running is then killed by PID.
    await destroyLiveRestoreBerth(b);
    killLeftovers(b);
  });

  test('containers outlive a SIGKILLed berthd and are adopted by the next one', async () => {
    const first = b as Berth;
    assert.equal((await ok(first, ['info', '--format', '{{.LiveRestoreEnabled}}'])).trim(), 'true');
    const port = await freePorts(1);
    await ok(first, ['run', '-d', '--name', 'lr-counter', 'busybox', ...counter]);
    // These exit only once the test creates go/now (a bind mount), i.e. while berthd is down.
    const goDir = path.join(first.dir, 'go');
    fs.mkdirSync(goDir);
    const waitGo = 'while [ ! -e /go/now ]; do sleep 0.05; done';
    const go = ['-v', `${goDir}:/go`];
    await ok(first, ['run', '-d', '--name', 'lr-exiter', ...go, 'busybox', 'sh', '-c', `${waitGo}; exit 7`]);
    await ok(first, ['run', '-d', '--rm', '--name', 'lr-rm', ...go, 'busybox', 'sh', '-c', waitGo]);
    // Exits (3) the first time only; the restart sees /ran and stays up.
    await ok(first, [
      'run',
      '-d',
      '--name',
      'lr-always',
      '--restart',
      'always',
      ...go,
      'busybox',
      'sh',
      '-c',
      `if [ -e /ran ]; then exec sleep 1000; fi; touch /ran; ${waitGo}; exit 3`,
    ]);
    // An IPv6 network (a random ULA /64): addresses and the allocator survive the restart too.
    const ula = `fd${randomBytes(1).toString('hex')}:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}:1::`;
    await ok(first, ['network', 'create', '--ipv6', '--subnet', `${ula}/64`, 'lr-net']);
    await ok(first, [
      'run',
      '-d',
      '--name',
      'lr-web',
      '--network',
      'lr-net',
      '-p',
      `127.0.0.1:${port}:80`,
      'busybox',
      ...httpdCmd('restored'),
    ]);
    await ok(first, ['run', '-d', '--name', 'lr-client', '--network', 'lr-net', 'busybox', 'sleep', '1000']);
    await until('the published port to answer', 10_000, async () => {
      const r = await httpGet('127.0.0.1', port);
      return 'status' in r && r.status === 200;
    });
    // The rest of the 20 left running at the kill: counters that go quiet while /quiet/on exists.
    const quietDir = path.join(first.dir, 'quiet');
    fs.mkdirSync(quietDir);
    const crowd = Array.from({ length: CROWD }, (_x, i) => `lr-n${i}`);
    await Promise.all(crowd.map((n) => ok(first, ['run', '-d', '--name', n, '-v', `${quietDir}:/quiet`, 'busybox', ...quietCounter])));
    const running = ['lr-counter', 'lr-web', 'lr-client', ...crowd];
    assert.equal(running.length, 20);
    await until('some log lines', 10_000, async () => (await counterLines(first, 'lr-counter')).length >= 5);
    const pid = await inspect(first, '{{.State.Pid}}', 'lr-counter');
    const pids = new Map(await Promise.all(running.map(async (n) => [n, await inspect(first, '{{.State.Pid}}', n)] as const)));
    // `docker logs -f` from before the kill: it ends when berthd dies, with what it had.
    const follower = spawnFollower(first, 'lr-counter');
    await until('docker logs -f to print', 10_000, () => Promise.resolve(follower.lines().length > 0));
    // The crowd goes quiet for the kill (a line berthd read but had not written yet would die with
    // it, as with dockerd): their log files stop growing before it.
    fs.writeFileSync(path.join(quietDir, 'on'), '');
    const crowdLogs = await Promise.all(crowd.map((n) => inspect(first, '{{.LogPath}}', n)));
    await untilStable(crowdLogs);
    const startedAt = await inspect(first, '{{.State.StartedAt}}', 'lr-counter');
    const alwaysStarted = await inspect(first, '{{.State.StartedAt}}', 'lr-always');
    const exiting = await Promise.all(
      ['lr-exiter', 'lr-rm', 'lr-always'].map(async (n) => Number(await inspect(first, '{{.State.Pid}}', n))),
    );

    // A line read from the FIFO but not yet in the log file dies with berthd (as with dockerd):
    // the kill comes right after a line reached the file, while the counter sleeps.
    await killRightAfterALine(first, await inspect(first, '{{.LogPath}}', 'lr-counter'));
    const killedAt = Date.now();
    // Loud again while berthd is down: their lines pile up in the FIFOs too.
    fs.rmSync(path.join(quietDir, 'on'));
    await first.stop();
    await within(15_000, 'docker logs -f to end with berthd', follower.exited);
    fs.writeFileSync(path.join(goDir, 'now'), '');
    await until('the containers told to exit to be gone', 10_000, () => Promise.resolve(exiting.every((p) => !alive(p))));
    // Down a while longer, for output to pile up in the pipe.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(process.kill(Number(pid), 0), true, 'the container died with berthd');

    const restartedAt = Date.now();
    const second = await startBerth({ dir: first.dir, args: LR });
    b = second;

    // Still the same process, still running, adopted as it was.
    assert.equal(
      await inspect(second, '{{.State.Status}} {{.State.Pid}} {{.State.StartedAt}}', 'lr-counter'),
      `running ${pid} ${startedAt}`,
    );
    // Logs continue across the gap: each number once, in order, and more of them after the restart.
    const before = (await counterLines(second, 'lr-counter')).length;
    await until('new log lines after the restart', 10_000, async () => (await counterLines(second, 'lr-counter')).length > before + 5);
    assertConsecutive(await counterLines(second, 'lr-counter'));
    // All 20 still run as the same processes, and the crowd's logs went on across the gap too.
    // (Asked in parallel: 40 CLI calls one after another take long on a loaded host.)
    const states = await Promise.all([...pids.keys()].map((n) => inspect(second, '{{.State.Status}} {{.State.Pid}}', n)));
    [...pids].forEach(([n, p], i) => assert.equal(states[i], `running ${p}`, n));
    (await Promise.all(crowd.map((n) => counterLines(second, n)))).forEach((l, i) => assertConsecutive(l, crowd[i]));

    // `docker logs -f` from before the kill had a gapless start of the log; one followed again now
    // repeats exactly that, then carries on live.
    const before1 = follower.lines();
    assertConsecutive(before1, 'logs -f before the kill');
    const refollow = spawnFollower(second, 'lr-counter');
    const atRefollow = (await counterLines(second, 'lr-counter')).length;
    await until('the re-followed log to go live', 10_000, () => Promise.resolve(refollow.lines().length > atRefollow + 5));
    const after1 = refollow.stop();
    assertConsecutive(after1, 'logs -f after the restart');
    assert.ok(after1.length > before1.length, 're-followed log is not longer than the one cut by the kill');

    // The container that exited while berthd was away: its own exit code and a FinishedAt of then.
    await until(
      'lr-exiter to be recorded exited',
      10_000,
      async () => (await inspect(second, '{{.State.Status}}', 'lr-exiter')) === 'exited',
    );
    assert.equal(await inspect(second, '{{.State.ExitCode}}', 'lr-exiter'), '7');
    const finished = Date.parse(await inspect(second, '{{.State.FinishedAt}}', 'lr-exiter'));
    assert.ok(
      finished >= killedAt && finished < restartedAt,
      'FinishedAt is the exit while berthd was down, not when the new one learnt of it',
    );

    // --rm: removed once its exit is known.
    await until('lr-rm to be removed', 10_000, async () => (await second.docker(['inspect', 'lr-rm'])).code !== 0);

    // --restart always: it exited while berthd was down and runs again.
    let alwaysState = '';
    await until(`lr-always to be restarted (last: ${alwaysState})`, 15_000, async () => {
      alwaysState = await inspect(
        second,
        '{{.State.Status}} {{.State.StartedAt}} {{.RestartCount}} {{.State.ExitCode}} {{.State.Error}}',
        'lr-always',
      );
      return alwaysState.startsWith('running ') && !alwaysState.includes(alwaysStarted);
    }).catch((err: Error) => assert.fail(`${err.message}; last: ${alwaysState}`));

    // exec, attach and stats of an adopted container.
    assert.equal((await ok(second, ['exec', 'lr-counter', 'echo', 'hi'])).trim(), 'hi');
    const attached = await second.docker(['attach', '--no-stdin', 'lr-counter'], { timeoutMs: 1500 });
    assert.match(attached.stdout, /^line \d+$/m, `attach: ${attached.stderr}`);
    const stats = (await ok(second, ['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'lr-counter'])).trim();
    assert.match(stats, /^lr-counter [1-9]\d*$/);

    // The embedded DNS and the network between adopted containers.
    assert.equal((await ok(second, ['exec', 'lr-client', 'wget', '-qO-', 'http://lr-web/'])).trim(), 'restored');

    // IPv6 between adopted containers, and a new container takes the next free IPv6 address.
    const webV6 = await inspect(second, '{{(index .NetworkSettings.Networks "lr-net").GlobalIPv6Address}}', 'lr-web');
    assert.match(webV6, /^fd[0-9a-f]{2}:/);
    assert.equal((await ok(second, ['exec', 'lr-client', 'wget', '-qO-', `http://[${webV6}]/`])).trim(), 'restored');
    const clientV6 = await inspect(second, '{{(index .NetworkSettings.Networks "lr-net").GlobalIPv6Address}}', 'lr-client');
    await ok(second, ['run', '-d', '--name', 'lr-v6new', '--network', 'lr-net', 'busybox', 'sleep', '1000']);
    const newV6 = await inspect(second, '{{(index .NetworkSettings.Networks "lr-net").GlobalIPv6Address}}', 'lr-v6new');
    assert.ok(newV6 !== webV6 && newV6 !== clientV6 && newV6 !== '', `new ${newV6} vs ${webV6}, ${clientV6}`);
    await ok(second, ['rm', '-f', 'lr-v6new']);

    // The published port answers again (its proxy was in the old berthd).
    await until('the published port to answer after the restart', 10_000, async () => {
      const r = await httpGet('127.0.0.1', port);
      return 'status' in r && r.status === 200 && r.body === 'restored\n';
    });

    // exec in every adopted container, stop the crowd at once: each its own exit code and log.
    const execs = await Promise.all(running.map((n) => second.docker(['exec', n, 'echo', n])));
    execs.forEach((r, i) => assert.equal(r.stdout.trim(), running[i], `exec in ${running[i]}: ${r.stderr}`));
    await ok(second, ['stop', ...crowd]);
    const exits = await Promise.all(crowd.map((n) => inspect(second, '{{.State.Status}} {{.State.ExitCode}}', n)));
    exits.forEach((e, i) => assert.equal(e, 'exited 42', crowd[i]));
    (await Promise.all(crowd.map((n) => counterLines(second, n)))).forEach((l, i) => assertConsecutive(l, crowd[i]));

    // stop: the adopted task's real exit code (the trap's 42).
    await ok(second, ['stop', 'lr-counter']);
    assert.equal(await inspect(second, '{{.State.Status}} {{.State.ExitCode}}', 'lr-counter'), 'exited 42');
    assertConsecutive(await counterLines(second, 'lr-counter'));
  });

  test('SIGTERM leaves containers running (paused ones paused); a containerd that dies is started again', async () => {
    const first = b as Berth;
    await ok(first, ['run', '-d', '--name', 'lr-term', 'busybox', ...counter]);
    await ok(first, ['run', '-d', '--name', 'lr-paused', 'busybox', 'sleep', '1000']);
    await ok(first, ['pause', 'lr-paused']);
    await until('some log lines', 10_000, async () => (await counterLines(first, 'lr-term')).length >= 5);
    const pid = await inspect(first, '{{.State.Pid}}', 'lr-term');
    const ctdPid = containerdPid(first.execRoot);
    assert.notEqual(ctdPid, undefined);

    assert.equal(await first.stop('SIGTERM'), 0);
    assert.equal(containerdPid(first.execRoot), ctdPid, 'containerd stopped with berthd');
    assert.equal(process.kill(Number(pid), 0), true, 'the container stopped with berthd');

    const second = await startBerth({ dir: first.dir, args: LR });
    b = second;
    assert.equal(await inspect(second, '{{.State.Status}} {{.State.Pid}}', 'lr-term'), `running ${pid}`);
    assert.equal(await inspect(second, '{{.State.Status}}', 'lr-paused'), 'paused');
    const before = (await counterLines(second, 'lr-term')).length;
    await until('new log lines after the restart', 10_000, async () => (await counterLines(second, 'lr-term')).length > before + 5);
    assertConsecutive(await counterLines(second, 'lr-term'));

    // The reconnected containerd dies: berthd notices (it is not its child) and starts another,
    // which takes the shims over; the containers carry on.
    process.kill(ctdPid as number, 'SIGKILL');
    await until('a new containerd', 15_000, async () => {
      const now = containerdPid(second.execRoot);
      return now !== undefined && now !== ctdPid;
    });
    await until('exec to work again', 15_000, async () => (await second.docker(['exec', 'lr-term', 'true'])).code === 0);
    await ok(second, ['unpause', 'lr-paused']);
    assert.equal(await inspect(second, '{{.State.Status}} {{.State.Pid}}', 'lr-term'), `running ${pid}`);
    await ok(second, ['stop', 'lr-term']);
    assert.equal(await inspect(second, '{{.State.Status}} {{.State.ExitCode}}', 'lr-term'), 'exited 42');
    assertConsecutive(await counterLines(second, 'lr-term'));
  });
});

describe('without live restore: a clean stop and start', () => {
  let b: Berth | undefined;

  // A short shutdown timeout: `sleep` as PID 1 ignores SIGTERM, so the stop ends in SIGKILL.
  const args = ['--shutdown-timeout', '1'];

  before(async () => {
    b = await startBerth({ args });
    await loadBusybox(b);
  });

  after(async () => {
    if (b) await destroyBerth(b);
  });

  test('always, unless-stopped and failed on-failure containers come back; a manually stopped unless-stopped one does not', async () => {
    const first = b as Berth;
    await ok(first, ['run', '-d', '--name', 'cs-always', '--restart', 'always', 'busybox', 'sleep', '1000']);
    await ok(first, ['run', '-d', '--name', 'cs-unless', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000']);
    await ok(first, ['run', '-d', '--name', 'cs-unless-stopped', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000']);
    await ok(first, ['run', '-d', '--name', 'cs-always-stopped', '--restart', 'always', 'busybox', 'sleep', '1000']);
    await ok(first, ['run', '-d', '--name', 'cs-on-failure', '--restart', 'on-failure', 'busybox', 'sleep', '1000']);
    await ok(first, ['run', '-d', '--name', 'cs-none', 'busybox', 'sleep', '1000']);
    await ok(first, ['stop', '-t', '0', 'cs-unless-stopped', 'cs-always-stopped']);
    assert.equal(await first.stop('SIGTERM'), 0);

    const second = await startBerth({ dir: first.dir, args });
    b = second;
    const status = async (n: string): Promise<string> => inspect(second, '{{.State.Status}}', n);
    assert.equal(await status('cs-always'), 'running');
    assert.equal(await status('cs-unless'), 'running');
    assert.equal(await status('cs-unless-stopped'), 'exited');
    assert.equal(await status('cs-none'), 'exited');
    // As dockerd 20.10 does (checked by hand): `always` comes back even after a manual stop, and
    // on-failure after the shutdown's SIGKILL (a non-zero exit).
    assert.equal(await status('cs-always-stopped'), 'running');
    assert.equal(await status('cs-on-failure'), 'running');
    // The daemon's own stop is not a manual stop, and it gave the container a real exit (SIGKILL
    // after the grace period, sleep ignoring SIGTERM as PID 1).
    assert.equal(await inspect(second, '{{.State.ExitCode}}', 'cs-none'), '137');
    await ok(second, ['rm', '-f', 'cs-always', 'cs-unless', 'cs-unless-stopped', 'cs-always-stopped', 'cs-on-failure', 'cs-none']);
  });

  test('after a SIGKILL, a container left running gets its stop signal at the next start, then is recorded 255', async () => {
    const first = b as Berth;
    const goDir = path.join(first.dir, 'term');
    fs.mkdirSync(goDir);
    await ok(first, [
      'run',
      '-d',
      '--name',
      'cs-left',
      '-v',
      `${goDir}:/go`,
      'busybox',
      'sh',
      '-c',
      "trap 'touch /go/got-term; exit 0' TERM; while true; do sleep 0.05; done",
    ]);
    const pid = Number(await inspect(first, '{{.State.Pid}}', 'cs-left'));
    process.kill(first.pid, 'SIGKILL');
    await first.stop();
    assert.equal(alive(pid), true, 'the container died with berthd');

    const second = await startBerth({ dir: first.dir, args });
    b = second;
    assert.equal(fs.existsSync(path.join(goDir, 'got-term')), true, 'no SIGTERM before the kill');
    assert.equal(alive(pid), false);
    assert.equal(await inspect(second, '{{.State.Status}} {{.State.ExitCode}}', 'cs-left'), 'exited 255');
    await ok(second, ['rm', '-f', 'cs-left']);
  });
});
