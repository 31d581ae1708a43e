// docker cp against a hostile running container: while a process inside keeps re-pointing links
// and swapping directories for links to a host directory, uploads (PUT archive) and downloads (GET
// archive) never read, create, remove, chmod or re-time anything on the host. A canary directory
// on the host (its path known to the container only as link text) is checked after each race.
// And a FIFO or a link to a char device at /etc/passwd (/etc/group) makes `cp -a` and `exec -u`
// fail in bounded time instead of freezing or ballooning the daemon.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import * as tar from 'tar-stream';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { destroyBerth, startBerth, within, type Berth, type RunResult } from './harness';

interface RawResult {
  status: number;
  body: Buffer;
}

/** A request; a reply cut short (the daemon ending a stream on an error) gives what came. */
function raw(b: Berth, method: string, urlPath: string, body?: Buffer): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    let started = false;
    const req = http.request(
      { socketPath: b.socket, method, path: urlPath, headers: body ? { 'Content-Type': 'application/x-tar' } : {} },
      (res) => {
        started = true;
        const chunks: Buffer[] = [];
        const done = (): void => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', done);
        res.on('error', done);
        res.on('aborted', done);
      },
    );
    req.on('error', (err) => {
      if (!started) reject(err);
    });
    req.end(body);
  });
}

interface Entry {
  name: string;
  type?: tar.Header['type'];
  data?: string;
  mode?: number;
}

const OLD = new Date('2001-02-03T04:05:06Z');

async function makeTar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    const header = { name: e.name, type: e.type ?? 'file', mode: e.mode ?? (e.type === 'directory' ? 0o777 : 0o777), mtime: OLD };
    await new Promise<void>((resolve, reject) => pack.entry(header, e.data ?? '', (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function tarContents(buf: Buffer): Promise<Array<{ name: string; data: string }>> {
  const out: Array<{ name: string; data: string }> = [];
  const ex = tar.extract();
  ex.end(buf);
  try {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.push({ name: entry.header.name, data: Buffer.concat(chunks).toString() });
    }
  } catch {
    // A tar cut short by an error mid-stream: what came before is what counts.
  }
  return out;
}

/** Races for `ms`, `runOne` as fast as it goes (sequentially). */
async function raceFor(ms: number, runOne: () => Promise<void>): Promise<number> {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) {
    await runOne();
    n++;
  }
  return n;
}

describe('hardening: docker cp in a hostile container', { timeout: 600_000 }, () => {
  let b: Berth;
  let canaryDir: string;
  let canary: string;
  let victim: string;
  const CANARY = 'host canary, never served\n';
  const RACE_MS = Number(process.env.BERTH_RACE_MS ?? 10_000);

  async function docker(args: string[], input?: Buffer | string, timeoutMs = 60_000): Promise<RunResult> {
    return b.docker(args, { input, timeoutMs });
  }
  async function ok(args: string[], input?: Buffer | string): Promise<string> {
    const r = await docker(args, input);
    assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${r.stderr}\n${b.log().slice(-2000)}`);
    return r.stdout;
  }
  /** The canary dir exactly as set up: names, contents, modes, owners and times. */
  function snapshot(): string {
    return fs
      .readdirSync(canaryDir)
      .sort()
      .map((n) => {
        const st = fs.lstatSync(path.join(canaryDir, n));
        const data = st.isFile() ? fs.readFileSync(path.join(canaryDir, n), 'utf8') : '';
        return `${n} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.mtimeMs} ${JSON.stringify(data)}`;
      })
      .join('\n');
  }
  let pristine: string;
  /** The canary dir as set up, so that each test is judged on its own. */
  function resetCanary(): void {
    for (const n of fs.readdirSync(canaryDir)) fs.rmSync(path.join(canaryDir, n), { recursive: true, force: true });
    const t = new Date('2020-01-01T00:00:00Z');
    for (const [f, data] of [
      [canary, CANARY],
      [path.join(canaryDir, 'hostonly.txt'), CANARY],
      [victim, 'victim\n'],
    ]) {
      fs.writeFileSync(f, data, { mode: 0o600 });
      fs.chmodSync(f, 0o600);
      fs.chownSync(f, 0, 0);
      fs.utimesSync(f, t, t);
    }
  }
  async function assertHealthy(): Promise<void> {
    const ping = await within(5_000, '/_ping', raw(b, 'GET', '/_ping'));
    assert.equal(ping.status, 200);
  }

  beforeEach(() => {
    if (canaryDir) resetCanary();
  });

  before(async () => {
    b = await startBerth();
    canaryDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-canary-'));
    fs.chmodSync(canaryDir, 0o755);
    canary = path.join(canaryDir, 'canary.txt');
    victim = path.join(canaryDir, 'victim');
    resetCanary();
    pristine = snapshot();
    await ok(['load'], await buildBusyboxArchive({ tags: ['busybox:latest'] }));
  });

  after(async () => {
    if (b) {
      await docker(['rm', '-f', 'race-file', 'race-get', 'race-dir', 'weird']);
      await destroyBerth(b);
    }
    fs.rmSync(canaryDir, { recursive: true, force: true });
  });

  test('upload to /dst while /dst/f is re-pointed at a host file: the host file never changes', async () => {
    // The container replaces whatever the upload creates at /dst/f by a link to the host canary.
    await ok([
      'run',
      '-d',
      '--name',
      'race-file',
      'busybox',
      'sh',
      '-c',
      `mkdir -p /dst; while :; do ln -sfn ${canary} /dst/f; ln -sfn ${canary} /dst/f; done`,
    ]);
    const body = await makeTar([{ name: 'f', data: 'uploaded\n', mode: 0o777 }]);
    const n = await raceFor(RACE_MS, async () => {
      await raw(b, 'PUT', '/containers/race-file/archive?path=/dst', body);
      assert.equal(snapshot(), pristine, 'the host canary changed');
    });
    assert.ok(n > 20, `only ${n} uploads`);
    assert.equal(snapshot(), pristine);
    await assertHealthy();
  });

  test('download while a directory flips to a link to a host dir: no host content is served', async () => {
    await ok([
      'run',
      '-d',
      '--name',
      'race-get',
      'busybox',
      'sh',
      '-c',
      `mkdir -p /src; while :; do rm -rf /src/d; mkdir /src/d; echo inside > /src/d/canary.txt; rm -rf /src/d; ln -s ${canaryDir} /src/d; done`,
    ]);
    let entries = 0;
    const n = await raceFor(RACE_MS, async () => {
      for (const p of ['/src', '/src/d', '/src/d/', '/src/d/canary.txt']) {
        const r = await raw(b, 'GET', `/containers/race-get/archive?path=${encodeURIComponent(p)}`);
        if (r.status !== 200) continue;
        for (const e of await tarContents(r.body)) {
          entries++;
          assert.notEqual(e.data, CANARY, `host content served as ${e.name} for ${p}`);
          assert.ok(!e.name.includes('hostonly') && !e.name.includes('victim'), `host file name ${e.name} listed for ${p}`);
        }
      }
    });
    assert.ok(n > 10 && entries > 0, `only ${n} rounds, ${entries} entries`);
    assert.equal(snapshot(), pristine);
    await assertHealthy();
  });

  test('parent dir swapped for a link to a host dir during upload and overwrite: nothing made or removed on the host', async () => {
    await ok([
      'run',
      '-d',
      '--name',
      'race-dir',
      'busybox',
      'sh',
      '-c',
      `mkdir -p /dst; while :; do rm -rf /dst/p; mkdir /dst/p; echo x > /dst/p/victim; rm -rf /dst/p; ln -s ${canaryDir} /dst/p; done`,
    ]);
    // victim: a dir over an existing file (the file is removed first); sub/new: made under p.
    const body = await makeTar([
      { name: 'p/victim', type: 'directory', mode: 0o777 },
      { name: 'p/sub/new', data: 'made\n', mode: 0o777 },
      { name: 'p/canary.txt', data: 'overwritten\n', mode: 0o777 },
    ]);
    const n = await raceFor(RACE_MS, async () => {
      await raw(b, 'PUT', '/containers/race-dir/archive?path=/dst', body);
      assert.equal(snapshot(), pristine, 'the host canary dir changed');
    });
    assert.ok(n > 20, `only ${n} uploads`);
    assert.equal(snapshot(), pristine);
    await assertHealthy();
  });

  test('a FIFO and a char-device link at /etc/passwd and /etc/group: cp -a and exec -u fail fast', async () => {
    // As root inside (User "root", resolved at start while the files were still real).
    await ok([
      'run',
      '-d',
      '--name',
      'weird',
      '-u',
      'root',
      'busybox',
      'sh',
      '-c',
      'rm -f /etc/passwd /etc/group; mkfifo /etc/passwd; mknod /zero c 1 5; ln -s /zero /etc/group; echo ready; sleep 1000',
    ]);
    // Waited for through its log: an exec would hang in runc's own passwd lookup inside.
    const deadline = Date.now() + 20_000;
    while (!(await docker(['logs', 'weird'])).stdout.includes('ready')) {
      assert.ok(Date.now() < deadline, 'the container did not set up');
      await new Promise((res) => setTimeout(res, 200));
    }
    const src = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cpa-'));
    try {
      fs.writeFileSync(path.join(src, 'f'), 'x');
      const cp = await within(30_000, 'docker cp -a', docker(['cp', '-a', path.join(src, 'f'), 'weird:/tmp/'], undefined, 30_000));
      assert.notEqual(cp.code, 0, 'cp -a resolved "root" without a passwd file');
      assert.match(cp.stderr, /unable to find user root/);
      await assertHealthy();
      const ex = await within(30_000, 'docker exec -u', docker(['exec', '-u', 'root', 'weird', 'true'], undefined, 30_000));
      assert.notEqual(ex.code, 0);
      assert.match(`${ex.stdout}${ex.stderr}`, /unable to find user root/, JSON.stringify(ex));
      // /etc/group as the user's group file: a numeric user still needs no passwd entry, the group lookup fails cleanly.
      const ex2 = await within(30_000, 'docker exec -u 0:wheel', docker(['exec', '-u', '0:wheel', 'weird', 'true'], undefined, 30_000));
      assert.notEqual(ex2.code, 0);
      assert.match(`${ex2.stdout}${ex2.stderr}`, /unable to find group wheel/, JSON.stringify(ex2));
    } finally {
      fs.rmSync(src, { recursive: true, force: true });
    }
    await assertHealthy();
    // The daemon did not balloon reading /dev/zero.
    const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${b.pid}/status`, 'utf8'))?.[1] ?? 0);
    assert.ok(rss < 1024 * 1024, `berthd RSS ${rss} kB`);
  });
});
