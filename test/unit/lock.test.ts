import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { LockError, acquireDaemonLocks, acquireDirLock, acquirePidfile, processState, readLockOwner } from '../../daemon/lock';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-lock-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
const fresh = (name = 'x'): string => path.join(tmp, `${++n}-${name}`);

/** A PID that existed and is gone: spawnSync waits for and reaps the child. */
function deadPid(): number {
  const r = spawnSync('true');
  assert.ok(r.pid > 0);
  return r.pid;
}

/** A live process; libuv returns from spawn only after exec, so /proc shows the new program. */
function live(cmd: string, args: string[]): number {
  const c = spawn(cmd, args, { stdio: 'ignore' });
  children.push(c);
  assert.ok(c.pid !== undefined);
  return c.pid;
}

function stopChild(pid: number): void {
  const c = children.find((x) => x.pid === pid);
  if (c && c.exitCode === null && c.signalCode === null) process.kill(pid, 'SIGKILL');
}

test('processState: ourselves and a node child are berthd-like, sleep is other, a reaped child is dead', () => {
  assert.equal(processState(process.pid), 'berthd');
  const nodeChild = live(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
  assert.equal(processState(nodeChild), 'berthd');
  const sleeper = live('sleep', ['30']);
  assert.equal(processState(sleeper), 'other');
  stopChild(nodeChild);
  stopChild(sleeper);
  assert.equal(processState(deadPid()), 'dead');
  assert.equal(processState(0), 'dead');
  assert.equal(processState(-1), 'dead');
});

test('processState reads cmdline and zombie state from a /proc tree', () => {
  const proc = fresh('proc');
  const fake = (pid: number, comm: string, state: string, argv: string[]): void => {
    fs.mkdirSync(path.join(proc, String(pid)), { recursive: true });
    fs.writeFileSync(path.join(proc, String(pid), 'stat'), `${pid} (${comm}) ${state} 1 1 1 0 -1`);
    fs.writeFileSync(path.join(proc, String(pid), 'cmdline'), argv.map((a) => `${a}\0`).join(''));
  };
  fake(10, 'berthd', 'S', ['berthd']);
  fake(11, 'node', 'S', ['/usr/bin/node', '/usr/local/bin/berthd', '-H', 'fd://']);
  fake(12, 'MainThread', 'R', ['/usr/local/bin/berthd']);
  fake(13, 'sleep', 'S', ['sleep', '100']);
  fake(14, 'node', 'Z', []);
  fake(15, 'weird) S (x', 'Z', ['node']);
  fake(16, 'kthreadd', 'S', []);
  assert.equal(processState(10, proc), 'berthd');
  assert.equal(processState(11, proc), 'berthd');
  assert.equal(processState(12, proc), 'berthd');
  assert.equal(processState(13, proc), 'other');
  assert.equal(processState(14, proc), 'dead');
  assert.equal(processState(15, proc), 'dead', 'state is read after the last ")"');
  assert.equal(processState(16, proc), 'other');
  assert.equal(processState(17, proc), 'dead');
});

test('acquirePidfile writes our PID atomically and release removes it', () => {
  const file = path.join(fresh('dir'), 'sub', 'berth.pid');
  const lock = acquirePidfile(file);
  assert.equal(fs.readFileSync(file, 'utf8'), String(process.pid));
  assert.equal(readLockOwner(file), process.pid);
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ['berth.pid'], 'no temporary files are left behind');
  // close-on-exec: containerd and the shims berthd starts never hold (or keep alive) its lock
  const childFds = spawnSync('find', ['/proc/self/fd', '-lname', file], { encoding: 'utf8' });
  assert.equal(childFds.status, 0, childFds.stderr);
  assert.equal(childFds.stdout, '', 'a child does not inherit the locked fd');
  lock.release();
  assert.equal(fs.existsSync(file), false);
  lock.release(); // idempotent
});

test('a live berthd/node owner is refused with dockerd-style wording', () => {
  const file = fresh('live.pid');
  const owner = live(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
  fs.writeFileSync(file, `${owner}\n`);
  assert.throws(
    () => acquirePidfile(file),
    (err: unknown) => {
      assert.ok(err instanceof LockError);
      assert.equal(
        err.message,
        `pid file found, ensure berthd is not running or delete ${file}: process with PID ${owner} is still running`,
      );
      assert.equal(err.ownerPid, owner);
      assert.equal(err.path, file);
      return true;
    },
  );
  assert.equal(fs.readFileSync(file, 'utf8'), `${owner}\n`, 'the owner keeps its file');
  stopChild(owner);
});

test('process.pid in the file: refused when it is another process, taken over when it is our own (reused PID)', () => {
  const file = fresh('self.pid');
  fs.writeFileSync(file, String(process.pid));
  // seen from a daemon with another PID, this test process is a live node process
  assert.throws(() => acquirePidfile(file, { pid: deadPid() }), LockError);
  // seen from ourselves, our own PID in an existing file can only be left over from before
  const lock = acquirePidfile(file);
  assert.equal(fs.readFileSync(file, 'utf8'), String(process.pid));
  lock.release();
});

test('stale files are replaced: dead PID, unrelated live program, old garbage', () => {
  const dead = fresh('dead.pid');
  fs.writeFileSync(dead, String(deadPid()));
  const a = acquirePidfile(dead);
  assert.equal(readLockOwner(dead), process.pid);
  a.release();

  const other = fresh('other.pid');
  const sleeper = live('sleep', ['30']);
  fs.writeFileSync(other, String(sleeper));
  const b = acquirePidfile(other);
  assert.equal(readLockOwner(other), process.pid);
  b.release();
  stopChild(sleeper);

  const garbage = fresh('garbage.pid');
  fs.writeFileSync(garbage, 'not a pid');
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(garbage, old, old);
  const c = acquirePidfile(garbage);
  assert.equal(readLockOwner(garbage), process.pid);
  c.release();
});

test('a file nobody holds is taken at once, whatever it holds: empty, garbage, fresh', () => {
  for (const content of ['', 'not a pid', '12 34']) {
    const file = fresh('unheld.pid');
    fs.writeFileSync(file, content);
    const lock = acquirePidfile(file);
    assert.equal(fs.readFileSync(file, 'utf8'), String(process.pid), JSON.stringify(content));
    lock.release();
  }
});

test('the same lock cannot be taken twice in one process; release only removes our own file', () => {
  const file = fresh('twice.pid');
  const lock = acquirePidfile(file);
  assert.throws(() => acquirePidfile(file), /already held by this process/);
  // someone replaced the file (e.g. an operator deleted it and another daemon started)
  fs.rmSync(file);
  fs.writeFileSync(file, '4242');
  lock.release();
  assert.equal(fs.readFileSync(file, 'utf8'), '4242', 'a file that is not ours is left alone');
});

test('data root lock: a second daemon on the same data root is refused, a different one is fine', () => {
  const root = path.join(fresh('root'), 'data');
  const first = acquireDirLock(root, 'data root', '--data-root');
  assert.equal(first.path, path.join(root, 'berthd.lock'));
  assert.equal(fs.statSync(root).mode & 0o777, 0o711);
  const owner = live(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
  const otherRoot = path.join(fresh('root'), 'data');
  fs.mkdirSync(otherRoot, { recursive: true });
  fs.writeFileSync(path.join(otherRoot, 'berthd.lock'), String(owner));
  assert.throws(
    () => acquireDirLock(otherRoot, 'data root', '--data-root'),
    new RegExp(
      `^LockError: data root ${otherRoot} is in use by berthd \\(PID ${owner}\\): stop it or give this daemon its own --data-root; if no berthd is running, delete ${otherRoot}/berthd.lock$`,
    ),
  );
  stopChild(owner);
  first.release();
  assert.equal(fs.existsSync(path.join(root, 'berthd.lock')), false);
});

test('acquireDaemonLocks takes pidfile, data root and exec root, and leaves nothing behind on failure', () => {
  const base = fresh('daemon');
  const paths = {
    pidfile: path.join(base, 'run', 'berth.pid'),
    dataRoot: path.join(base, 'lib'),
    execRoot: path.join(base, 'run', 'berth'),
  };
  const locks = acquireDaemonLocks(paths);
  assert.equal(locks.locks.length, 3);
  for (const p of [paths.pidfile, path.join(paths.dataRoot, 'berthd.lock'), path.join(paths.execRoot, 'berthd.lock')]) {
    assert.equal(readLockOwner(p), process.pid, p);
  }
  locks.release();
  for (const p of [paths.pidfile, path.join(paths.dataRoot, 'berthd.lock'), path.join(paths.execRoot, 'berthd.lock')]) {
    assert.equal(fs.existsSync(p), false, p);
  }

  // a live daemon owns the data root: the pidfile we took first must be given back
  const owner = live(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
  fs.writeFileSync(path.join(paths.dataRoot, 'berthd.lock'), String(owner));
  assert.throws(() => acquireDaemonLocks(paths), /^LockError: data root .* is in use by berthd/);
  assert.equal(fs.existsSync(paths.pidfile), false);
  stopChild(owner);

  // no pidfile at all (--pidfile "")
  const noPid = acquireDaemonLocks({ pidfile: null, dataRoot: path.join(base, 'lib2') });
  assert.equal(noPid.locks.length, 1);
  noPid.release();
});

/**
 * A node process that loads the lock module, says "ready", tries the pidfile on its first stdin
 * line, reports "won" or "lost: <message>", and holds what it won until its stdin closes.
 */
function starter(file: string): { c: ChildProcess; line: (i: number) => Promise<string>; closed: Promise<void> } {
  const lockModule = path.join(__dirname, '..', '..', 'daemon', 'lock.js');
  const script = `
    const { acquirePidfile } = require(${JSON.stringify(lockModule)});
    let lock = null;
    process.stdout.write('ready\\n');
    process.stdin.once('data', () => {
      try {
        lock = acquirePidfile(${JSON.stringify(file)});
        process.stdout.write('won\\n');
      } catch (e) {
        process.stdout.write('lost: ' + e.message + '\\n');
      }
    });
    process.stdin.on('end', () => { if (lock) lock.release(); process.exit(0); });`;
  const c = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(c);
  const lines: string[] = [];
  let buf = '';
  const waiters: Array<() => void> = [];
  c.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      waiters.splice(0).forEach((w) => w());
    }
  });
  const line = (i: number): Promise<string> =>
    new Promise((resolve) => {
      const check = (): void => (lines.length > i ? resolve(lines[i]) : void waiters.push(check));
      check();
    });
  const closed = new Promise<void>((resolve) => c.on('close', () => resolve()));
  return { c, line, closed };
}

test('the flock decides, not the file: a holder is never taken over whatever its file says; its death frees it', async () => {
  const file = fresh('held.pid');
  const holder = starter(file);
  assert.equal(await holder.line(0), 'ready');
  holder.c.stdin?.write('go\n');
  assert.equal(await holder.line(1), 'won');
  assert.equal(readLockOwner(file), holder.c.pid);
  // an operator (or a stale copy) overwrites it with a dead PID: still refused, nothing written
  const dead = deadPid();
  fs.writeFileSync(file, String(dead));
  assert.throws(() => acquirePidfile(file), /^LockError: cannot take .*: another process holds it/);
  assert.equal(fs.readFileSync(file, 'utf8'), String(dead));
  // the holder is killed: its file stays, naming it, and is taken at once
  fs.writeFileSync(file, String(holder.c.pid));
  holder.c.kill('SIGKILL');
  await holder.closed;
  const lock = acquirePidfile(file);
  assert.equal(readLockOwner(file), process.pid);
  lock.release();
});

test('release drops the lock: the next starter takes it', async () => {
  const file = fresh('handover.pid');
  const first = acquirePidfile(file);
  const next = starter(file);
  assert.equal(await next.line(0), 'ready');
  first.release();
  next.c.stdin?.write('go\n');
  assert.equal(await next.line(1), 'won');
  assert.equal(readLockOwner(file), next.c.pid);
  next.c.stdin?.end();
  await next.closed;
  assert.equal(fs.existsSync(file), false, 'its release removed the file');
});

test('racing starters: exactly one of several processes gets the pidfile, even over a stale file', async () => {
  const file = fresh('race.pid');
  fs.writeFileSync(file, String(deadPid()));
  // each holds what it won until its stdin closes, so no late starter can win after an early winner released
  const racers = Array.from({ length: 6 }, () => starter(file));
  assert.deepEqual(await Promise.all(racers.map((r) => r.line(0))), Array(6).fill('ready'));
  for (const r of racers) r.c.stdin?.write('go\n');
  const outs = await Promise.all(racers.map((r) => r.line(1)));
  for (const r of racers) r.c.stdin?.end();
  await Promise.all(racers.map((r) => r.closed));
  assert.equal(outs.filter((o) => o === 'won').length, 1, outs.join('\n'));
  for (const o of outs.filter((x) => x !== 'won')) assert.match(o, /^lost: pid file found, ensure berthd is not running/);
  assert.equal(fs.existsSync(file), false, 'the winner released it');
});
