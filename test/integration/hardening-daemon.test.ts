// Hardening of the daemon's lifecycle (issue 10): log rotation that never blocks stop or rm,
// rotation values refused at create, live-restore refused, the security options info advertises,
// a pause/unpause/stop/kill race that must leave the container usable, and what a SIGKILLed
// berthd leaves behind (cleaned by the next start; quarantine instead of deletion).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LIVE_RESTORE_REFUSED } from '../../daemon/config';
import { Kit, sleep } from './container-kit';
import { startBerth, within } from './harness';

let k: Kit;

before(async () => {
  k = await Kit.start();
});

after(async () => {
  if (k) await k.destroy();
});

describe('log rotation bounds', () => {
  test('max-size=1 max-file=100000: stop and rm finish promptly, at most max-file files', async () => {
    const id = (
      await k.ok(['run', '-d', '--log-opt', 'max-size=1', '--log-opt', 'max-file=100000', 'busybox', 'sh', '-c', 'while true; do echo line; done'])
    ).trim();
    await sleep(3000);
    const dir = path.join(k.b.dataRoot, 'containers', id);
    // stop waits for the exit and the logger's close; 10 s bounds what used to take minutes.
    await within(10_000, 'docker stop', k.ok(['stop', '-t', '1', id]));
    const files = fs.readdirSync(dir).filter((n) => n.startsWith(`${id}-json.log`));
    assert.ok(files.length >= 2 && files.length <= 100000, `${files.length} log files`);
    await within(10_000, 'docker rm', k.ok(['rm', id]));
    assert.ok(!fs.existsSync(dir));
  });

  test('rm -f of a running container with a rotation backlog finishes promptly', async () => {
    const id = (
      await k.ok(['run', '-d', '--log-opt', 'max-size=1', '--log-opt', 'max-file=100000', 'busybox', 'sh', '-c', 'while true; do echo line; done'])
    ).trim();
    await sleep(3000);
    await within(10_000, 'docker rm -f', k.ok(['rm', '-f', id]));
  });

  test('max-size=-1 / max-file=0 / max-size=0 are 400 at create, nothing stored', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ 'max-size': '-1' }, "invalid size: '-1'"],
      [{ 'max-file': '0' }, 'max-file cannot be less than 1'],
      [{ 'max-size': '0' }, 'max-size must be a positive number'],
      [{ 'max-file': '2', compress: 'true' }, 'compress cannot be true when max-file is less than 2 or max-size is not set'],
    ];
    for (const [Config, message] of cases) {
      const name = `badlog-${Object.keys(Config)[0]}-${Config[Object.keys(Config)[0]!]}`;
      const r = await k.request('POST', `/containers/create?name=${name}`, {
        Image: 'busybox',
        HostConfig: { LogConfig: { Type: 'json-file', Config } },
      });
      assert.equal(r.status, 400, r.body);
      assert.deepEqual(JSON.parse(r.body), { message });
      assert.equal((await k.request('GET', `/containers/${name}/json`)).status, 404);
    }
    const cli = await k.fails(['create', '--log-opt', 'max-file=0', 'busybox']);
    assert.match(cli.stderr, /max-file cannot be less than 1/);
  });
});

describe('daemon options', () => {
  test('--live-restore and "live-restore": true are refused at start', async () => {
    await assert.rejects(startBerth({ args: ['--live-restore'] }), (err: Error) => err.message.includes(LIVE_RESTORE_REFUSED));
    await assert.rejects(startBerth({ daemonJson: '{"live-restore": true}\n' }), (err: Error) => err.message.includes(LIVE_RESTORE_REFUSED));
  });
});

describe('pause/unpause/stop/kill race', () => {
  test('parallel clients leave the container usable: rm -f completes, inspect answers', async () => {
    // A stop signal the process ignores, and a TERM trap: stops go all the way to SIGKILL.
    const id = (
      await k.ok(['run', '-d', '--stop-signal', 'SIGUSR1', '--stop-timeout', '1', 'busybox', 'sh', '-c', 'trap "" TERM USR1; while :; do sleep 1; done'])
    ).trim();
    const ops: [string, string][] = [
      ['POST', `/containers/${id}/pause`],
      ['POST', `/containers/${id}/unpause`],
      ['POST', `/containers/${id}/stop?t=0`],
      ['POST', `/containers/${id}/stop?t=1`],
      ['POST', `/containers/${id}/kill`],
      ['POST', `/containers/${id}/kill?signal=SIGTERM`],
      ['POST', `/containers/${id}/kill?signal=SIGUSR1`],
      ['POST', `/containers/${id}/start`],
      ['POST', `/containers/${id}/restart?t=0`],
    ];
    const until = Date.now() + 20_000;
    let seen5xx = 0;
    const client = async (seed: number): Promise<void> => {
      let i = seed;
      while (Date.now() < until) {
        const [method, url] = ops[(i * 5 + seed * 3) % ops.length]!;
        i++;
        // 304/409 answers are expected; a hang is not.
        const r = await within(40_000, `${method} ${url}`, k.b.request(method, url));
        if (r.status >= 500) seen5xx++;
      }
    };
    await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(client));
    const info = await within(10_000, 'inspect after the race', k.inspect(id));
    assert.equal(info.Id, id);
    await within(30_000, 'rm -f after the race', k.ok(['rm', '-f', id]));
    assert.deepEqual(k.leftovers(id), []);
    void seen5xx;
  });
});

describe('docker info', () => {
  test('SecurityOptions lists only what containers actually get', async () => {
    const info = JSON.parse((await k.request('GET', '/info')).body) as { SecurityOptions: string[] };
    assert.ok(!info.SecurityOptions.some((o) => o.startsWith('name=apparmor')), info.SecurityOptions.join(' '));
    const status = await k.runOut([], ['cat', '/proc/1/status']);
    const seccompMode = /^Seccomp:\s*(\d)/m.exec(status)?.[1];
    // Seccomp 2 = filter mode: the builtin profile is applied, and advertised.
    assert.equal(seccompMode === '2', info.SecurityOptions.includes('name=seccomp,profile=builtin'), `${seccompMode} vs ${info.SecurityOptions.join(' ')}`);
    // cgroupns advertised exactly when a default container gets its own cgroup namespace.
    const own = fs.readlinkSync('/proc/self/ns/cgroup');
    const theirs = (await k.runOut([], ['readlink', '/proc/1/ns/cgroup'])).trim();
    assert.equal(info.SecurityOptions.includes('name=cgroupns'), own !== theirs);
  });
});
