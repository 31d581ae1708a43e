// docker exec end to end against a real berthd and real containers: output, exit codes, stdin,
// env/workdir/user, detached execs, a real TTY, the 409s of stopped and paused containers, the
// raw API (plain and upgraded start, detach keys, inspect, unknown IDs), events, container
// inspect's ExecIDs, and exec instances going with their container.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { destroyBerth, DOCKER, run, startBerth, type Berth, type RunResult } from './harness';

let b: Berth;
let runningId: string;

async function docker(args: string[], input?: Buffer | string): Promise<RunResult> {
  return b.docker(args, { input, timeoutMs: 60_000 });
}

async function ok(args: string[], input?: Buffer | string): Promise<string> {
  const r = await docker(args, input);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed (${r.code}): ${r.stderr}\nberthd log:\n${b.log().slice(-3000)}`);
  return r.stdout.trim();
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; body: string }> {
  const res = await b.request(method, path, {
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
  });
  let json: unknown;
  try {
    json = JSON.parse(res.body);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, body: res.body };
}

async function createExec(container: string, config: Record<string, unknown>): Promise<string> {
  const res = await api('POST', `/containers/${container}/exec`, config);
  assert.equal(res.status, 201, res.body);
  return (res.json as { Id: string }).Id;
}

interface ExecJson {
  ID: string;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  ContainerID: string;
  OpenStdin: boolean;
  OpenStdout: boolean;
  OpenStderr: boolean;
  CanRemove: boolean;
  DetachKeys: string;
  ProcessConfig: { tty: boolean; entrypoint: string; arguments: string[]; privileged: boolean; user?: string };
}

async function inspectExec(id: string): Promise<ExecJson> {
  const res = await api('GET', `/exec/${id}/json`);
  assert.equal(res.status, 200, res.body);
  return res.json as ExecJson;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Demultiplexes a stdcopy stream. */
function demux(buf: Buffer): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  let i = 0;
  while (i + 8 <= buf.length) {
    const len = buf.readUInt32BE(i + 4);
    const payload = buf.subarray(i + 8, i + 8 + len).toString();
    if (buf[i] === 1) out.stdout += payload;
    else if (buf[i] === 2) out.stderr += payload;
    i += 8 + len;
  }
  assert.equal(i, buf.length, 'trailing bytes in a multiplexed stream');
  return out;
}

/**
 * POST /exec/{id}/start over a raw socket with `Upgrade: tcp`, as the CLI sends it (JSON body
 * included). Returns the head, and lets the caller write stdin and collect what follows.
 */
async function upgradedStart(
  id: string,
  body: object,
): Promise<{ head: string; socket: net.Socket; rest: () => Buffer; closed: Promise<void> }> {
  const socket = net.connect(b.socket);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const json = JSON.stringify(body);
  socket.write(
    `POST /v1.47/exec/${id}/start HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`,
  );
  let buf = Buffer.alloc(0);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
  await until('the upgrade response', async () => (buf.includes('\r\n\r\n') ? true : undefined));
  const end = buf.indexOf('\r\n\r\n');
  const head = buf.subarray(0, end).toString();
  const start = end + 4;
  return { head, socket, rest: () => buf.subarray(start), closed };
}

before(async () => {
  b = await startBerth();
  await ok(['load'], await buildBusyboxArchive({ tags: ['busybox:latest'] }));
  runningId = await ok(['run', '-d', '--name', 'ex-run', '--network', 'none', '-e', 'FROM_IMAGE_RUN=1', 'busybox', 'sleep', '1000']);
});

after(async () => {
  if (b) {
    await b.docker(['rm', '-f', 'ex-run', 'ex-stopped', 'ex-paused', 'ex-gone']).catch(() => undefined);
    await destroyBerth(b);
  }
});

test('docker exec prints the output of the command', async () => {
  assert.equal(await ok(['exec', 'ex-run', 'echo', 'hi']), 'hi');
  const r = await docker(['exec', 'ex-run', 'sh', '-c', 'echo out; echo err >&2']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
  // More output than any pipe holds arrives whole before the exit is reported.
  const big = await docker(['exec', 'ex-run', 'head', '-c', '8000000', '/dev/zero']);
  assert.equal(big.code, 0);
  assert.equal(big.stdout.length, 8_000_000);
});

test('the exit code of the exec reaches the CLI', async () => {
  const r = await docker(['exec', 'ex-run', 'sh', '-c', 'exit 7']);
  assert.equal(r.code, 7, r.stderr);
  // dockerd's exec answers every start failure with 126 (a container start would say 127).
  const missing = await docker(['exec', 'ex-run', 'no-such-command']);
  assert.equal(missing.code, 126);
  assert.match(missing.stdout + missing.stderr, /executable file not found/);
  const absolute = await docker(['exec', 'ex-run', '/no/such/file']);
  assert.equal(absolute.code, 126);
  assert.match(absolute.stdout + absolute.stderr, /no such file or directory/);
  const notRunnable = await docker(['exec', 'ex-run', '/etc/passwd']);
  assert.equal(notRunnable.code, 126);
  assert.match(notRunnable.stdout + notRunnable.stderr, /permission denied/);
});

test('docker exec -i forwards piped stdin and its EOF', async () => {
  assert.equal(await ok(['exec', '-i', 'ex-run', 'cat'], 'x\ny\n'), 'x\ny');
  assert.equal(await ok(['exec', '-i', 'ex-run', 'wc', '-c'], Buffer.alloc(200_000, 0x61)), '200000');
});

test('-e, -w and -u shape the exec process; the container env is inherited', async () => {
  const out = await ok([
    'exec',
    '-e',
    'FOO=bar',
    '-e',
    'FROM_IMAGE_RUN=2',
    '-w',
    '/tmp',
    'ex-run',
    'sh',
    '-c',
    'echo $FOO $FROM_IMAGE_RUN; pwd; id -u',
  ]);
  assert.deepEqual(out.split('\n'), ['bar 2', '/tmp', '0']);
  assert.equal(await ok(['exec', '-u', 'nobody', 'ex-run', 'id', '-u']), '65534');
  assert.equal(await ok(['exec', '-u', '1234:5678', 'ex-run', 'sh', '-c', 'echo $(id -u) $(id -g)']), '1234 5678');
  assert.equal(await ok(['exec', 'ex-run', 'sh', '-c', 'echo $PATH']), '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
});

/**
 * runc before 1.1.10 built with Go 1.19+ may give an exec the nofile soft limit raised to its hard
 * limit (Go raises its own at start-up, racing runc's setting of the process rlimits:
 * opencontainers/runc#4195); dockerd on the same runc shows the same. Debian 12's runc is 1.1.5.
 */
function runcRaisesNofile(): boolean {
  const out = execFileSync('runc', ['--version'], { encoding: 'utf8' });
  const [maj = 0, min = 0, patch = 0] = (/runc version (\d+)\.(\d+)\.(\d+)/.exec(out) ?? []).slice(1).map(Number);
  const go = /go: go1\.(\d+)/.exec(out);
  const fixed = maj > 1 || min > 1 || patch >= 10;
  return !fixed && go !== null && Number(go[1]) >= 19;
}

test('the exec inherits the container rlimits and working directory', async () => {
  await ok([
    'run',
    '-d',
    '--name',
    'ex-limits',
    '--network',
    'none',
    '--ulimit',
    'nofile=123:456',
    '-w',
    '/etc',
    'busybox',
    'sleep',
    '1000',
  ]);
  try {
    // The container's own process gets exactly the limits asked for.
    assert.equal(await ok(['exec', 'ex-limits', 'sh', '-c', 'grep "open files" /proc/1/limits | tr -s " " | cut -d" " -f4,5']), '123 456');
    const got = await ok(['exec', 'ex-limits', 'sh', '-c', 'echo $(ulimit -n) $(ulimit -Hn) $(pwd)']);
    const expected = runcRaisesNofile() ? ['123 456 /etc', '456 456 /etc'] : ['123 456 /etc'];
    assert.ok(expected.includes(got), `exec limits and cwd: ${got}`);
  } finally {
    await ok(['rm', '-f', 'ex-limits']);
  }
});

test('--privileged grants every capability; a plain exec has the container default set', async () => {
  const plain = await ok(['exec', 'ex-run', 'sh', '-c', 'grep CapEff /proc/self/status | cut -f2']);
  const priv = await ok(['exec', '--privileged', 'ex-run', 'sh', '-c', 'grep CapEff /proc/self/status | cut -f2']);
  assert.equal(plain, '00000000a80425fb');
  assert.notEqual(priv, plain);
  assert.ok(BigInt(`0x${priv}`) > BigInt(`0x${plain}`), `privileged CapEff ${priv}`);
});

test('docker exec -d returns at once and the command runs', async () => {
  assert.equal(await ok(['exec', '-d', 'ex-run', 'sh', '-c', 'sleep 1; echo done > /tmp/detached']), '');
  const content = await until('the detached exec to write its file', async () => {
    const r = await docker(['exec', 'ex-run', 'cat', '/tmp/detached']);
    return r.code === 0 ? r.stdout : undefined;
  });
  assert.equal(content, 'done\n');
});

test('docker exec -t runs the command on a pty', async () => {
  const env = { ...process.env, DOCKER_HOST: `unix://${b.socket}`, DOCKER_CLI_HINTS: 'false' };
  const r = await run('script', ['-qec', `${DOCKER} exec -t ex-run sh -c 'tty; echo TERM=$TERM; exit 3'`, '/dev/null'], {
    env,
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /\/dev\/pts\/\d+\r+\n/);
  assert.match(r.stdout, /TERM=xterm\r+\n/);
});

test('docker exec -it with a pty passes input through', async () => {
  const env = { ...process.env, DOCKER_HOST: `unix://${b.socket}`, DOCKER_CLI_HINTS: 'false' };
  // script feeds its stdin to the pty the CLI reads: the shell echoes the line and runs it.
  const r = await run('script', ['-qec', `${DOCKER} exec -it ex-run sh`, '/dev/null'], {
    env,
    input: 'echo in-$((40+2))\nexit 5\n',
    timeoutMs: 60_000,
  });
  assert.match(r.stdout, /in-42/, r.stdout + r.stderr);
  assert.equal(r.code, 5, r.stdout + r.stderr);
});

test('exec in a stopped container is a 409', async () => {
  const id = await ok(['create', '--name', 'ex-stopped', '--network', 'none', 'busybox', 'true']);
  const r = await docker(['exec', 'ex-stopped', 'true']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`Error response from daemon: container ${id} is not running`));
  const res = await api('POST', '/containers/ex-stopped/exec', { Cmd: ['true'] });
  assert.equal(res.status, 409);
  assert.deepEqual(res.json, { message: `container ${id} is not running` });
});

test('exec in a paused container is a 409 with dockerd wording', async () => {
  await ok(['run', '-d', '--name', 'ex-paused', '--network', 'none', 'busybox', 'sleep', '1000']);
  await ok(['pause', 'ex-paused']);
  try {
    const r = await docker(['exec', 'ex-paused', 'true']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error response from daemon: Container ex-paused is paused, unpause the container before exec/);
    const res = await api('POST', '/containers/ex-paused/exec', { Cmd: ['true'] });
    assert.equal(res.status, 409);
  } finally {
    await ok(['unpause', 'ex-paused']);
  }
  assert.equal(await ok(['exec', 'ex-paused', 'echo', 'after']), 'after');
});

test('bad exec requests: unknown exec, unknown container, empty command', async () => {
  for (const [method, path] of [
    ['GET', '/exec/nope/json'],
    ['POST', '/exec/nope/start'],
    ['POST', '/exec/nope/resize?h=10&w=10'],
  ] as const) {
    const res = await api(method, path, method === 'POST' && path.endsWith('start') ? { Detach: true } : undefined);
    assert.equal(res.status, 404, `${method} ${path}: ${res.body}`);
    assert.deepEqual(res.json, { message: 'No such exec instance: nope' });
  }
  const noContainer = await api('POST', '/containers/no-such-container/exec', { Cmd: ['true'] });
  assert.equal(noContainer.status, 404);
  assert.deepEqual(noContainer.json, { message: 'No such container: no-such-container' });
  const noCmd = await api('POST', '/containers/ex-run/exec', { Cmd: [] });
  assert.equal(noCmd.status, 400);
  assert.deepEqual(noCmd.json, { message: 'No exec command specified' });
  const id = await createExec('ex-run', { Cmd: ['true'] });
  const badResize = await api('POST', `/exec/${id}/resize?h=x&w=1`);
  assert.equal(badResize.status, 400);
  assert.deepEqual(badResize.json, { message: 'invalid resize height "x": invalid syntax' });
});

test("resize dimensions: integers from 0 to 2^32-1, else 400 with current moby's texts, on containers and execs", async () => {
  const id = await createExec('ex-run', { Cmd: ['true'] });
  const cases: Array<[string, string]> = [
    ['w=100', 'invalid resize height "": invalid syntax'],
    ['h=&w=100', 'invalid resize height "": invalid syntax'],
    ['h=100', 'invalid resize width "": invalid syntax'],
    ['h=not-a-number&w=100', 'invalid resize height "not-a-number": invalid syntax'],
    ['h=-100&w=100', 'invalid resize height "-100": value out of range'],
    ['h=100&w=-100', 'invalid resize width "-100": value out of range'],
    ['h=4294967296&w=100', 'invalid resize height "4294967296": value out of range'],
    // The fuzzer's case: an int64 that containerd's uint32 field cannot carry (was a 500).
    ['h=9223372036854775807&w=1', 'invalid resize height "9223372036854775807": value out of range'],
    ['h=1&w=99999999999999999999', 'invalid resize width "99999999999999999999": value out of range'],
  ];
  for (const path of ['/containers/ex-run/resize', `/exec/${id}/resize`]) {
    for (const [query, message] of cases) {
      const res = await api('POST', `${path}?${query}`);
      assert.equal(res.status, 400, `${path}?${query}: ${res.body}`);
      assert.deepEqual(res.json, { message }, `${path}?${query}`);
    }
  }
  // The largest value goes through (a container without a TTY has no terminal to size).
  const max = await api('POST', '/containers/ex-run/resize?h=4294967295&w=0');
  assert.equal(max.status, 200, max.body);
});

test('exec inspect before, during and after a run; ExecIDs on the container', async () => {
  const id = await createExec('ex-run', { Cmd: ['sh', '-c', 'sleep 2; exit 4'], AttachStdout: true, User: 'nobody', DetachKeys: 'ctrl-x' });
  let info = await inspectExec(id);
  assert.equal(info.ID, id);
  assert.equal(info.Running, false);
  assert.equal(info.ExitCode, null);
  assert.equal(info.Pid, 0);
  assert.equal(info.ContainerID, runningId);
  assert.deepEqual(info.ProcessConfig, {
    tty: false,
    entrypoint: 'sh',
    arguments: ['-c', 'sleep 2; exit 4'],
    privileged: false,
    user: 'nobody',
  });
  assert.equal(info.OpenStdout, true);
  assert.equal(info.OpenStdin, false);
  assert.equal(info.DetachKeys, Buffer.from([0x18]).toString('base64'));

  const start = await api('POST', `/exec/${id}/start`, { Detach: true });
  assert.equal(start.status, 200, start.body);
  info = await inspectExec(id);
  assert.equal(info.Running, true);
  assert.equal(info.ExitCode, null);
  assert.ok(info.Pid > 0);
  const execIds = JSON.parse(await ok(['inspect', '-f', '{{json .ExecIDs}}', 'ex-run'])) as string[];
  assert.ok(execIds.includes(id), `ExecIDs ${JSON.stringify(execIds)}`);

  const again = await api('POST', `/exec/${id}/start`, { Detach: true });
  assert.equal(again.status, 409);
  assert.deepEqual(again.json, { message: `Error: Exec command ${id} is already running` });

  info = await until('the exec to exit', async () => {
    const i = await inspectExec(id);
    return i.Running ? undefined : i;
  });
  assert.equal(info.ExitCode, 4);
  // As dockerd: an exec that exited leaves its container's list but stays inspectable.
  const after = JSON.parse(await ok(['inspect', '-f', '{{json .ExecIDs}}', 'ex-run'])) as string[] | null;
  assert.ok(!(after ?? []).includes(id), `ExecIDs ${JSON.stringify(after)}`);
  const lateResize = await api('POST', `/exec/${id}/resize?h=10&w=10`);
  assert.equal(lateResize.status, 404, lateResize.body);
  const rerun = await api('POST', `/exec/${id}/start`, { Detach: true });
  assert.equal(rerun.status, 409);
  assert.deepEqual(rerun.json, { message: `Error: Exec command ${id} has already run` });
});

test('exec start without Upgrade: a 200 carrying the raw multiplexed stream', async () => {
  const id = await createExec('ex-run', { Cmd: ['sh', '-c', 'echo one; echo two >&2'], AttachStdout: true, AttachStderr: true });
  const res = await new Promise<{ status: number; type: string; body: Buffer }>((resolve, reject) => {
    const sock = net.connect(b.socket);
    const body = JSON.stringify({ Detach: false, Tty: false });
    sock.write(
      `POST /exec/${id}/start HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
    sock.on('error', reject);
    sock.on('close', () => {
      const end = buf.indexOf('\r\n\r\n');
      const head = buf.subarray(0, end).toString();
      resolve({ status: Number(head.split(' ')[1]), type: /content-type: (.*)/i.exec(head)?.[1] ?? '', body: buf.subarray(end + 4) });
    });
  });
  assert.equal(res.status, 200);
  assert.equal(res.type, 'application/vnd.docker.raw-stream');
  assert.deepEqual(demux(res.body), { stdout: 'one\n', stderr: 'two\n' });
  assert.equal((await inspectExec(id)).ExitCode, 0);
});

test('upgraded exec start: stdin, multiplexed output, then the detach keys end the session', async () => {
  const id = await createExec('ex-run', { Cmd: ['cat'], AttachStdin: true, AttachStdout: true, AttachStderr: true, DetachKeys: 'ctrl-x' });
  const s = await upgradedStart(id, { Detach: false, Tty: false });
  assert.match(s.head, /^HTTP\/1.1 101 UPGRADED\r\n/);
  assert.match(s.head, /Content-Type: application\/vnd.docker.multiplexed-stream/);
  s.socket.write('hello\n');
  await until('the echo from cat', async () => (demux(s.rest()).stdout === 'hello\n' ? true : undefined));
  s.socket.write(Buffer.from([0x18]));
  await s.closed;
  const info = await inspectExec(id);
  assert.equal(info.Running, true, 'detaching leaves the process running');
  assert.ok(info.Pid > 0);
});

test('exec events: exec_create, exec_start and exec_die with the exit code', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  await docker(['exec', 'ex-run', 'sh', '-c', 'exit 3']);
  await docker(['exec', 'ex-run', 'true']);
  const untilTs = Math.floor(Date.now() / 1000) + 1;
  const out = await ok([
    'events',
    '--since',
    String(since),
    '--until',
    String(untilTs),
    '--filter',
    'container=ex-run',
    '--format',
    '{{json .}}',
  ]);
  const events = out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { Action: string; Actor: { ID: string; Attributes: Record<string, string> } })
    .filter((e) => e.Action.startsWith('exec_'));
  const create = events.find((e) => e.Action === 'exec_create: sh -c exit 3');
  // dockerd joins entrypoint and arguments with a space, even when there are none.
  assert.ok(
    events.some((e) => e.Action === 'exec_create: true '),
    JSON.stringify(events.map((e) => e.Action)),
  );
  assert.ok(create, JSON.stringify(events));
  const execId = create.Actor.Attributes.execID;
  assert.equal(create.Actor.ID, runningId);
  assert.equal(create.Actor.Attributes.name, 'ex-run');
  assert.ok(events.find((e) => e.Action === 'exec_start: sh -c exit 3' && e.Actor.Attributes.execID === execId));
  const die = events.find((e) => e.Action === 'exec_die' && e.Actor.Attributes.execID === execId);
  assert.ok(die, JSON.stringify(events));
  assert.equal(die.Actor.Attributes.exitCode, '3');
});

test('exec resize reaches the pty', async () => {
  const id = await createExec('ex-run', { Cmd: ['sh', '-c', 'sleep 1; stty size'], Tty: true, AttachStdout: true });
  const s = await upgradedStart(id, { Detach: false, Tty: true });
  assert.match(s.head, /Content-Type: application\/vnd.docker.raw-stream/);
  const resize = await api('POST', `/exec/${id}/resize?h=33&w=77`);
  assert.equal(resize.status, 200, resize.body);
  await s.closed;
  assert.equal(s.rest().toString().trim(), '33 77');
});

test('exec instances go with their container', async () => {
  await ok(['run', '-d', '--name', 'ex-gone', '--network', 'none', 'busybox', 'sleep', '1000']);
  const done = await createExec('ex-gone', { Cmd: ['true'] });
  assert.equal((await api('POST', `/exec/${done}/start`, { Detach: true })).status, 200);
  const running = await createExec('ex-gone', { Cmd: ['sleep', '100'] });
  assert.equal((await api('POST', `/exec/${running}/start`, { Detach: true })).status, 200);
  const pending = await createExec('ex-gone', { Cmd: ['true'] });
  assert.equal((await inspectExec(pending)).Running, false);
  await until('the first exec to exit', async () => ((await inspectExec(done)).ExitCode === 0 ? true : undefined));

  // Stopping drops the exec that never ran; those that ran keep their exit codes.
  await ok(['stop', '-t', '1', 'ex-gone']);
  assert.equal((await api('GET', `/exec/${pending}/json`)).status, 404);
  assert.equal((await inspectExec(done)).ExitCode, 0);
  const killed = await until('the running exec to be reported dead', async () => {
    const i = await inspectExec(running);
    return i.Running ? undefined : i;
  });
  assert.equal(killed.ExitCode, 137);

  await ok(['rm', 'ex-gone']);
  for (const id of [done, running, pending]) {
    const res = await api('GET', `/exec/${id}/json`);
    assert.equal(res.status, 404, res.body);
    assert.deepEqual(res.json, { message: `No such exec instance: ${id}` });
  }
});
