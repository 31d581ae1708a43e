// Attacks on the daemon's own mounts, each with a host canary: an image's VOLUME copy-up through
// an image symlink to the host's /, a volume Subpath flipped between a directory and a link to /
// while containers start with it, temporary mounts (export, cp) reachable by unprivileged host
// users or left in /tmp, and leftovers of a crash surviving the next start.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { Kit } from './container-kit';
import { destroyBerth, startBerth } from './harness';

let k: Kit;

before(async () => {
  k = await Kit.start();
});

after(async () => {
  if (k) await k.destroy();
});

interface MountLine {
  mountPoint: string;
  options: string[];
  superOptions: string;
}

function mountLines(): MountLine[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const f = l.split(' ');
      const post = l.slice(l.indexOf(' - ') + 3).split(' ');
      return { mountPoint: f[4].replace(/\\040/g, ' '), options: f[5].split(','), superOptions: post[2] ?? '' };
    });
}

const tmpMountsDir = (): string => path.join(k.b.dataRoot, 'tmp-mounts');
/** Mounts in /tmp/berth-mnt-* of this daemon's layers (other daemons on the host may have theirs). */
const legacyMounts = (): string[] =>
  mountLines()
    .filter((m) => m.mountPoint.startsWith(path.join(os.tmpdir(), 'berth-mnt-')) && m.superOptions.includes(k.b.dataRoot))
    .map((m) => m.mountPoint);
const ourTempMounts = (): MountLine[] => mountLines().filter((m) => m.mountPoint.startsWith(`${tmpMountsDir()}/`));

/** Runs `cmd` as the unprivileged `nobody`; its exit status. */
function asNobody(cmd: string[]): number | null {
  return spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...cmd], { stdio: 'ignore' }).status;
}

describe('hardening: mounts', () => {
  test("an image's VOLUME behind a symlink to / copies nothing from the host", async () => {
    const canary = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-copyup-canary-'));
    fs.mkdirSync(path.join(canary, 'secret'));
    fs.writeFileSync(path.join(canary, 'secret', 'host-file'), 'host secret\n');
    try {
      await k.ok(
        ['load'],
        await buildBusyboxArchive({
          tags: ['evil-volume:1'],
          extraSymlinks: { h: '/' },
          config: { Volumes: { [`/h${canary}/secret`]: {} } },
        }),
      );
      await k.ok(['create', '--name', 'copyup', 'evil-volume:1', 'true']);
      await k.ok(['start', '-a', 'copyup']);
      const mounts = (await k.inspect('copyup')).Mounts as { Source: string; Destination: string }[];
      assert.equal(mounts.length, 1);
      const inVolume = fs.readdirSync(mounts[0].Source);
      assert.ok(!inVolume.includes('host-file'), `the host's file was copied into the volume: ${inVolume.join(',')}`);
      // The host canary is untouched.
      assert.equal(fs.readFileSync(path.join(canary, 'secret', 'host-file'), 'utf8'), 'host secret\n');
    } finally {
      await k.docker(['rm', '-f', '-v', 'copyup']);
      await k.docker(['rmi', 'evil-volume:1']);
      fs.rmSync(canary, { recursive: true, force: true });
    }
  });

  test('a volume Subpath flipped to a link to / never mounts the host root', async () => {
    const tag = `berth-subpath-canary-${process.pid}-${Date.now()}`;
    const hostCanary = path.join('/', tag);
    const written = path.join('/', `${tag}-written`);
    fs.writeFileSync(hostCanary, 'host root\n');
    try {
      await k.ok(['volume', 'create', 'flip']);
      // The racer flips /v/d between a directory (moved aside, kept) and a link to / for the whole test.
      await k.ok([
        'run',
        '-d',
        '--name',
        'flipper',
        '-v',
        'flip:/v',
        'busybox',
        'sh',
        '-c',
        'mkdir /v/d; while :; do mv /v/d /v/real; ln -s / /v/d; usleep 20000; rm /v/d; mv /v/real /v/d; usleep 20000; done',
      ]);
      let sawHost = 0;
      let started = 0;
      for (let i = 0; i < 40; i++) {
        const r = await k.docker([
          'run',
          '--rm',
          '--mount',
          'type=volume,src=flip,dst=/m,volume-subpath=d',
          'busybox',
          'sh',
          '-c',
          `test -e /m/${tag} && echo HOST; touch /m/${tag}-written 2>/dev/null; echo ran`,
        ]);
        if (r.stdout.includes('ran')) started++;
        if (r.stdout.includes('HOST')) sawHost++;
        if (r.code !== 0) {
          // Refused starts say why, in dockerd's words, and never leak a node error.
          assert.match(r.stderr, /cannot access path|escapes the base directory|not a directory|no such file or directory/, r.stderr);
        }
      }
      assert.equal(sawHost, 0, `a container saw the host root ${sawHost} times`);
      assert.ok(!fs.existsSync(written), 'a container wrote to the host root');
      assert.ok(started > 0, 'no container started with the subpath while it was a directory');
      // No staging mount outlives the starts.
      assert.deepEqual(
        ourTempMounts().map((m) => m.mountPoint),
        [],
      );
    } finally {
      await k.docker(['rm', '-f', 'flipper']);
      await k.docker(['volume', 'rm', '-f', 'flip']);
      fs.rmSync(hostCanary, { force: true });
      fs.rmSync(written, { force: true });
    }
  });

  test('export and cp mount in a root-only dir with nosuid,nodev and leave nothing in /tmp', async () => {
    await k.ok(['create', '--name', 'exp', 'busybox', 'true']);
    // Enough data that an unread export keeps its mount open.
    await k.ok(['run', '--name', 'big', 'busybox', 'sh', '-c', 'dd if=/dev/urandom of=/big bs=1M count=24 2>/dev/null']);
    // Let `nobody` traverse down to the data root, so only tmp-mounts' own mode stands in the way.
    fs.chmodSync(k.b.dir, 0o711);
    const id = await k.id('big');
    let req: http.ClientRequest | undefined;
    try {
      const paused = await new Promise<http.IncomingMessage>((resolve, reject) => {
        req = http.get({ socketPath: k.b.socket, path: `/containers/${id}/export` }, (res) => {
          res.pause();
          resolve(res);
        });
        req.on('error', reject);
      });
      assert.equal(paused.statusCode, 200);
      await k.until('the export mount', async () => ourTempMounts().length > 0);
      const during = ourTempMounts();
      for (const m of during) {
        for (const flag of ['nosuid', 'nodev', 'noexec', 'ro'])
          assert.ok(m.options.includes(flag), `${m.mountPoint} lacks ${flag}: ${m.options.join(',')}`);
      }
      assert.deepEqual(legacyMounts(), [], 'a temporary mount in /tmp');
      const st = fs.statSync(tmpMountsDir());
      assert.equal(st.mode & 0o777, 0o700);
      assert.equal(st.uid, 0);
      // An unprivileged host user reaches neither the dir nor the container's files under it.
      assert.notEqual(asNobody(['ls', tmpMountsDir()]), 0);
      assert.notEqual(asNobody(['ls', `${during[0].mountPoint}/bin/busybox`]), 0);
      paused.destroy();
      await k.until('the export mount to go', async () => ourTempMounts().length === 0);
    } finally {
      req?.destroy();
    }
    const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cp-out-'));
    try {
      await k.ok(['cp', 'exp:/etc/passwd', path.join(dest, 'passwd')]);
      assert.match(fs.readFileSync(path.join(dest, 'passwd'), 'utf8'), /^root:/);
    } finally {
      fs.rmSync(dest, { recursive: true, force: true });
    }
    // The archive stream releases its mount as it ends, just after the client has it all.
    await k.until('the cp mount to go', async () => ourTempMounts().length === 0 && fs.readdirSync(tmpMountsDir()).length === 0);
    assert.deepEqual(legacyMounts(), []);
    await k.ok(['rm', 'exp', 'big']);
  });
});

describe('hardening: leftover temporary mounts', () => {
  test('mounts a crash left in tmp-mounts and old /tmp/berth-mnt-* overlays are removed at start', async () => {
    const b = await startBerth();
    const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-leftover-src-'));
    fs.writeFileSync(path.join(hostDir, 'keep'), 'kept\n');
    const legacy = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-mnt-'));
    let b2: Awaited<ReturnType<typeof startBerth>> | undefined;
    try {
      await b.stop('SIGKILL');
      const leftover = path.join(b.dataRoot, 'tmp-mounts', 'm-crashed');
      fs.mkdirSync(leftover, { recursive: true });
      execFileSync('mount', ['--bind', hostDir, leftover]);
      // An earlier version's overlay of layers in this data root.
      const lower1 = path.join(b.dataRoot, 'legacy-l1');
      const lower2 = path.join(b.dataRoot, 'legacy-l2');
      fs.mkdirSync(lower1);
      fs.mkdirSync(lower2);
      execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lower1}:${lower2}`, legacy]);

      b2 = await startBerth({ dir: b.dir });
      const points = mountLines().map((m) => m.mountPoint);
      assert.ok(!points.includes(leftover), 'the leftover bind mount survived the start');
      assert.ok(!fs.existsSync(leftover), 'the leftover mount point survived the start');
      assert.ok(!points.includes(legacy), 'the old /tmp/berth-mnt-* overlay survived the start');
      assert.ok(!fs.existsSync(legacy));
      // Unmounted, never deleted through: the bind's source keeps its files.
      assert.equal(fs.readFileSync(path.join(hostDir, 'keep'), 'utf8'), 'kept\n');
    } finally {
      for (const p of [path.join(b.dataRoot, 'tmp-mounts', 'm-crashed'), legacy]) spawnSync('umount', ['-l', p], { stdio: 'ignore' });
      if (b2) await destroyBerth(b2);
      else await destroyBerth(b);
      fs.rmSync(hostDir, { recursive: true, force: true });
      fs.rmSync(legacy, { recursive: true, force: true });
    }
  });
});
