// Hardening of the daemon's lifecycle (issue 10): log rotation that never blocks stop or rm,
// rotation values refused at create, live-restore taken from daemon.json, the security options info advertises,
// a pause/unpause/stop/kill race that must leave the container usable, and what a SIGKILLed
// berthd leaves behind (cleaned by the next start; quarantine instead of deletion).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as http from 'node:http';
import * as os from 'node:os';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { containerdNamespaceFor } from '../../daemon/config';
import { QUARANTINE_LABEL } from '../../daemon/containers/service';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { Kit, cgroupDirs, sleep } from './container-kit';
import { destroyBerth, destroyLiveRestoreBerth, startBerth, within, type Berth } from './harness';

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
      await k.ok([
        'run',
        '-d',
        '--log-opt',
        'max-size=1',
        '--log-opt',
        'max-file=100000',
        'busybox',
        'sh',
        '-c',
        'while true; do echo line; done',
      ])
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
      await k.ok([
        'run',
        '-d',
        '--log-opt',
        'max-size=1',
        '--log-opt',
        'max-file=100000',
        'busybox',
        'sh',
        '-c',
        'while true; do echo line; done',
      ])
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
  test('"live-restore": true in daemon.json is taken: docker info shows it enabled', async () => {
    const b = await startBerth({ daemonJson: '{"live-restore": true}\n' });
    try {
      const info = await b.docker(['info', '--format', '{{.LiveRestoreEnabled}}']);
      assert.equal(info.stdout.trim(), 'true', info.stderr);
    } finally {
      await destroyLiveRestoreBerth(b);
    }
  });
});

describe('pause/unpause/stop/kill race', () => {
  test('parallel clients leave the container usable: rm -f completes, inspect answers', async () => {
    // A stop signal the process ignores, and a TERM trap: stops go all the way to SIGKILL.
    const id = (
      await k.ok([
        'run',
        '-d',
        '--stop-signal',
        'SIGUSR1',
        '--stop-timeout',
        '1',
        'busybox',
        'sh',
        '-c',
        'trap "" TERM USR1; while :; do sleep 1; done',
      ])
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
    await k.removed(id);
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
    assert.equal(
      seccompMode === '2',
      info.SecurityOptions.includes('name=seccomp,profile=builtin'),
      `${seccompMode} vs ${info.SecurityOptions.join(' ')}`,
    );
    // cgroupns advertised exactly when a default container gets its own cgroup namespace.
    const own = fs.readlinkSync('/proc/self/ns/cgroup');
    const theirs = (await k.runOut([], ['readlink', '/proc/1/ns/cgroup'])).trim();
    assert.equal(info.SecurityOptions.includes('name=cgroupns'), own !== theirs);
  });
});

/** Processes whose command line or cgroup names `ns` (shims, runc init, container processes). */
function processesOf(ns: string): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      const cg = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      if (cmd.includes(`-namespace ${ns} `) || cg.includes(`/${ns}/`)) out.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Mount points under `dir`, or overlay mounts whose layers are under `dir`. */
function mountsOf(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => {
      const f = l.split(' ');
      // <data-root>/tmp-mounts itself is the running daemon's private mount point, not a leftover.
      if (f[4] === `${dir}/tmp-mounts`) return false;
      return f[4]?.startsWith(`${dir}/`) || l.includes(`${dir}/containerd/`);
    })
    .map((l) => l.split(' ')[4] ?? '');
}

describe('after a crash (berthd SIGKILLed)', () => {
  test('the next start leaves no shim, process or mount of the old run; other daemons untouched; unmatched objects quarantined', async () => {
    // The neighbour: the shared daemon's container must survive the sweep.
    const neighbour = (await k.ok(['run', '-d', 'busybox', 'sleep', '100000'])).trim();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-crash-'));
    let b: Berth | undefined = await startBerth({ dir });
    try {
      const ns = containerdNamespaceFor(b.dataRoot);
      const dk = async (args: string[]): Promise<string> => {
        const r = await b!.docker(args);
        assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
        return r.stdout.trim();
      };
      const load = await b.docker(['load'], { input: await buildBusyboxArchive({ tags: ['busybox:latest'] }) });
      assert.equal(load.code, 0, load.stderr);
      const running = [
        await dk(['run', '-d', 'busybox', 'sleep', '100000']),
        await dk(['run', '-d', 'busybox', 'sh', '-c', 'sleep 100000 & wait']),
      ];
      const noRecord = await dk(['create', '--name', 'no-record', 'busybox', 'true']);
      // Started once, so that containerd has its record (a container never started has none).
      const noCtd = await dk(['run', '--name', 'no-ctd', 'busybox', 'true']).then(() => dk(['inspect', '-f', '{{.Id}}', 'no-ctd']));
      const stopped = await dk(['create', 'busybox', 'true']);
      // An export in progress holds a temporary overlay mount of the container's layers.
      const held = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = http.request({ socketPath: b!.socket, method: 'GET', path: `/containers/${stopped}/export` }, (res) => {
          res.once('data', () => {
            res.pause();
            resolve(res);
          });
          res.on('error', () => undefined);
        });
        req.on('error', reject);
        req.end();
      });
      assert.ok(mountsOf(b.dataRoot).length > 0, 'expected the export mount and task rootfs mounts');
      assert.ok(processesOf(ns).length > 0, 'expected shims and container processes');

      await b.stop('SIGKILL');
      held.destroy();
      // Unmatched objects, made while berthd is down: a store record goes (no-record), and a
      // containerd container goes through the containerd berthd left running (no-ctd).
      const db = new Database(path.join(b.dataRoot, 'berth.db'));
      db.prepare('DELETE FROM containers WHERE id = ?').run(noRecord);
      db.close();
      const ctdSock = path.join(b.execRoot, 'containerd', 'containerd.sock');
      execFileSync('ctr', ['-a', ctdSock, '-n', ns, 'containers', 'rm', '--keep-snapshot', noCtd]);

      b = await startBerth({ dir });
      // The sweep runs before the API answers: nothing of the old run is left.
      assert.deepEqual(processesOf(ns), []);
      assert.deepEqual(mountsOf(b.dataRoot), []);
      for (const id of running) {
        const st = JSON.parse(await dk(['inspect', '-f', '{{json .State}}', id])) as { Running: boolean };
        assert.equal(st.Running, false);
      }
      // Quarantined, not deleted: the snapshot of the container without a record (never started,
      // so containerd has no record of it either) is kept, labelled. A record whose containerd
      // container is gone is not harmed: containerd's record is made again by the next start.
      const snapInfo = JSON.parse(
        execFileSync('ctr', ['-a', ctdSock, '-n', ns, 'snapshots', '--snapshotter', 'overlayfs', 'info', noRecord], { encoding: 'utf8' }),
      ) as { Labels?: Record<string, string> };
      assert.ok(snapInfo.Labels?.[QUARANTINE_LABEL], JSON.stringify(snapInfo.Labels));
      assert.match(b.log(), /quarantined at daemon start: container snapshot without a record/);
      const kept = JSON.parse(await dk(['inspect', '-f', '{{json .State}}', noCtd])) as { Dead: boolean; Status: string };
      assert.deepEqual([kept.Dead, kept.Status], [false, 'exited']);
      assert.equal((await b.docker(['start', '-a', noCtd])).code, 0);
      await dk(['rm', noCtd]);
      // The other daemon's container still runs.
      assert.equal((await k.inspect(neighbour)).State.Running, true);
      assert.ok(cgroupDirs(k.namespace).length > 0);
    } finally {
      if (b) await destroyBerth(b);
      await k.docker(['rm', '-f', neighbour]);
    }
  });
});
