// The crash loop of issue 13: a create/start/exec/stop/rm (and run --rm) workload, and a
// load/rmi/pull/rmi one against a local registry, through the docker CLI while berthd (without
// live restore) is SIGKILLed at random moments and started again on the same roots. Commands cut short by a kill are expected to fail; afterwards, on a last
// clean start, every container a client was told was created is there (and one it was told was
// removed is not), each listed container can be inspected, started if it is not Dead, and removed
// with `docker rm -f`, and once they are all gone nothing of them is left: mounts, netns, veths,
// DNAT rules, cgroups, shims, snapshots, containerd containers and tasks, FIFOs and directories.
// An image the client was told was loaded or pulled is listed (one it was told was removed is
// not), each one listed can be saved and run, and no lease or ingest of a cut load is left.
//
// The kill moments come from a seeded PRNG: the seed is printed, and CRASH_LOOP_SEED=<n> replays
// it (CRASH_LOOP_KILLS=<n> sets the number of kills). The kill lands in whatever the workload is
// doing then: it is not replayed exactly, only the schedule is.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { cgroupDirs, Kit, lines, sleep } from './container-kit';
import { loadBusybox, startBerth, type Berth, type RunResult } from './harness';
import { seedBigImage, startRegistry } from './registry-kit';
import { networkTag } from '../../daemon/networks/service';

/** mulberry32: a small seeded PRNG, so that a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the client was told about one container of the workload. */
interface Tracked {
  name: string;
  /** Set when `docker create` said it succeeded. */
  id?: string;
  /** Whether any `docker rm` of it was sent (it may then be gone without being told so). */
  rmSent: boolean;
  /** A `docker rm` of it succeeded (or said it did not exist). */
  rmAcked: boolean;
}

// SIGTERM ends it at once (a quick `docker stop`, and a quick stop of a task left running).
const CMD = ['sh', '-c', "trap 'exit 0' TERM; while true; do sleep 0.1; done"];
const WORKERS = 2;

/** The daemon's up/down state, shared by the workers and the killer. */
class Daemon {
  epoch = 0;
  stopping = false;
  b: Berth;
  private waiters: (() => void)[] = [];
  private upNow = true;

  constructor(b: Berth) {
    this.b = b;
  }

  down(): void {
    this.epoch++;
    this.upNow = false;
  }

  up(b: Berth): void {
    this.b = b;
    this.upNow = true;
    for (const w of this.waiters.splice(0)) w();
  }

  release(): void {
    this.stopping = true;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once berthd answers (or the workload is told to stop). */
  ready(): Promise<void> {
    if (this.upNow || this.stopping) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }
}

/**
 * One worker: containers one after another through create, start, exec, stop and rm (or run -d
 * --rm, exec and stop). A step that fails abandons the container; half of the abandoned ones get
 * a `docker rm -f` once berthd is back, the others are left for the final check. A failure with
 * no kill since the container's first step is a bug (after a kill, a container the restart
 * stopped cannot exec, etc.).
 */
async function worker(w: number, d: Daemon, rand: () => number, tracked: Tracked[], unexpected: string[]): Promise<void> {
  // The epoch when the current container's first step was sent.
  let since = d.epoch;
  const step = async (args: string[]): Promise<RunResult | undefined> => {
    await d.ready();
    if (d.stopping) return undefined;
    const r = await d.b.docker(args, { timeoutMs: 60_000 });
    if (r.code !== 0 && d.epoch === since && !d.stopping) {
      unexpected.push(`docker ${args.join(' ')} failed (${r.code}) with no kill: ${r.stderr.trim()}`);
    }
    return r;
  };
  const remove = async (t: Tracked, force: boolean): Promise<void> => {
    t.rmSent = true;
    const r = await step(['rm', ...(force ? ['-f'] : []), t.id ?? t.name]);
    if (r && (r.code === 0 || /No such container/.test(r.stderr))) t.rmAcked = true;
  };
  for (let n = 0; !d.stopping; n++) {
    const t: Tracked = { name: `crash-${w}-${n}`, rmSent: false, rmAcked: false };
    tracked.push(t);
    // Every other one publishes a port: a proxy, an allocation and firewall rules to clean up.
    const ports = n % 2 === 0 ? ['-p', '127.0.0.1::8080'] : [];
    await d.ready();
    since = d.epoch;
    // One in four is `docker run -d --rm`: its removal is asked for from the start.
    const autoRemove = rand() < 0.25;
    t.rmSent = autoRemove;
    const created = await step(
      autoRemove
        ? ['run', '-d', '--rm', '--name', t.name, ...ports, 'busybox', ...CMD]
        : ['create', '--name', t.name, ...ports, 'busybox', ...CMD],
    );
    if (created === undefined) return;
    let done = false;
    if (created.code === 0) {
      t.id = created.stdout.trim();
      const started = autoRemove ? created : await step(['start', t.id]);
      if (started?.code === 0) {
        const exec = await step(['exec', t.id, 'echo', 'hi']);
        if (exec?.code === 0) {
          if (exec.stdout !== 'hi\n') unexpected.push(`exec in ${t.name} printed ${JSON.stringify(exec.stdout)}`);
          const stopped = await step(['stop', '-t', '5', t.id]);
          if (stopped?.code === 0 && autoRemove) done = true;
          else if (stopped?.code === 0) {
            await remove(t, false);
            done = t.rmAcked;
          }
        }
      }
    }
    if (!done && !d.stopping && rand() < 0.5) {
      await d.ready();
      since = d.epoch;
      await remove(t, true);
    }
  }
}

/** What the client was last told of an image tag: there, gone, or not told (a command cut short). */
type Told = 'present' | 'absent' | 'unknown';

/** The image side of the workload, and what was in flight at each kill. */
interface Images {
  load: string;
  pull: string;
  told: Map<string, Told>;
  /** The image command running now ('load', 'pull', 'rmi'), for counting the kills that cut one. */
  busy?: string;
  cut: Map<string, number>;
}

/**
 * The image worker: `docker load` of an archive, `docker rmi` of it, `docker pull` from the local
 * registry, `docker rmi` of that, round and round, so that kills land mid-load and mid-pull (and
 * each rmi lets GC take the content, so that the next load or pull writes it again).
 */
async function imageWorker(d: Daemon, archive: string, im: Images, unexpected: string[]): Promise<void> {
  for (let n = 0; !d.stopping; n++) {
    const [op, ref] = (
      [
        ['load', im.load],
        ['rmi', im.load],
        ['pull', im.pull],
        ['rmi', im.pull],
      ] as const
    )[n % 4]!;
    await d.ready();
    if (d.stopping) return;
    const since = d.epoch;
    im.told.set(ref, 'unknown');
    im.busy = op;
    const r = await d.b.docker(op === 'load' ? ['load', '-q', '-i', archive] : [op, ref], { timeoutMs: 60_000 });
    im.busy = undefined;
    const gone = op === 'rmi' && /No such image/.test(r.stderr);
    if (r.code === 0 || gone) im.told.set(ref, op === 'rmi' ? 'absent' : 'present');
    else if (d.epoch === since && !d.stopping) unexpected.push(`docker ${op} ${ref} failed (${r.code}) with no kill: ${r.stderr.trim()}`);
  }
}

/** Shims of our containerd namespace still running (their PIDs). */
function shims(ns: string): number[] {
  const out: number[] = [];
  for (const pid of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!path.basename(argv[0] ?? '').startsWith('containerd-shim')) continue;
    const i = argv.indexOf('-namespace');
    if (i >= 0 && argv[i + 1] === ns) out.push(Number(pid));
  }
  return out;
}

/** Mount points at or below `dir`. */
function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)));
}

/** Container cgroups (children of the namespace's parent cgroups). */
function containerCgroups(ns: string): string[] {
  return cgroupDirs(ns).flatMap((d) =>
    fs
      .readdirSync(d, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => path.join(d, e.name)),
  );
}

const entries = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);

test('crash loop: SIGKILLs of berthd during a create/start/exec/stop/rm workload leave a consistent state and nothing leaked', async (t) => {
  const seed = process.env.CRASH_LOOP_SEED ? Number(process.env.CRASH_LOOP_SEED) : Math.floor(Math.random() * 2 ** 31);
  const kills = process.env.CRASH_LOOP_KILLS ? Number(process.env.CRASH_LOOP_KILLS) : 50;
  const rand = prng(seed);
  t.diagnostic(`seed ${seed} (replay with CRASH_LOOP_SEED=${seed}), ${kills} kills`);
  console.log(`crash-loop seed ${seed} (replay with CRASH_LOOP_SEED=${seed}), ${kills} kills`);

  let kit = new Kit(await startBerth());
  const reg = await startRegistry();
  try {
    await loadBusybox(kit.b);
    // A loaded image of a few MB (its own layer, not busybox's) and a pulled one of three layers.
    const archive = path.join(kit.b.dir, 'crash-load.tar');
    fs.writeFileSync(
      archive,
      await buildBusyboxArchive({ tags: ['crash-load:latest'], extraFiles: { 'data/blob': randomBytes(4 << 20) } }),
    );
    await seedBigImage(reg, 'crash/pulled', 'latest', { layers: 3, totalBytes: 6 << 20 });
    const im: Images = { load: 'crash-load:latest', pull: `${reg.host}/crash/pulled:latest`, told: new Map(), cut: new Map() };
    const ns = kit.namespace;
    const idleMounts = mountsUnder(kit.b.dir);
    const d = new Daemon(kit.b);
    const tracked: Tracked[] = [];
    const unexpected: string[] = [];
    // Every container ID seen, for the per-container leftovers (netns names derive from them).
    const seen = new Set<string>();
    const note = async (b: Berth): Promise<void> => {
      const r = await b.docker(['ps', '-aq', '--no-trunc']);
      if (r.code === 0) for (const id of lines(r.stdout)) seen.add(id);
    };
    const workers = Array.from({ length: WORKERS }, (_x, w) => worker(w, d, prng(seed + w + 1), tracked, unexpected));
    workers.push(imageWorker(d, archive, im, unexpected));
    // Time spent down (kill to answering again), for the diagnostics: most of the test's time.
    let downMs = 0;
    const loopStart = Date.now();
    try {
      for (let k = 0; k < kills; k++) {
        await sleep(Math.floor(rand() * 1500));
        if (im.busy !== undefined) im.cut.set(im.busy, (im.cut.get(im.busy) ?? 0) + 1);
        d.down();
        const killedAt = Date.now();
        process.kill(kit.b.pid, 'SIGKILL');
        await kit.b.stop();
        if (k === kills - 1) break;
        const next = await startBerth({ dir: kit.b.dir });
        downMs += Date.now() - killedAt;
        kit = new Kit(next);
        await note(next);
        d.up(next);
      }
    } finally {
      d.release();
      await Promise.all(workers);
    }
    for (const tr of tracked) if (tr.id) seen.add(tr.id);
    t.diagnostic(
      `kill loop ${Date.now() - loopStart} ms, of which ${downMs} ms down (${Math.round(downMs / Math.max(1, kills - 1))} ms a restart)`,
    );

    // The last start, with no workload: what it shows must be what the clients were told.
    kit = new Kit(await startBerth({ dir: kit.b.dir }));
    const b = kit.b;
    t.diagnostic(
      `${tracked.length} containers in the workload, ${tracked.filter((x) => x.id).length} created, ${tracked.filter((x) => x.rmAcked).length} removed`,
    );
    assert.deepEqual(unexpected, [], 'commands failed while berthd was up');

    const listed = lines(await kit.ok(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Names}}'])).map((l) => {
      const [id, name] = l.split(' ');
      return { id: id!, name: name! };
    });
    for (const c of listed) seen.add(c.id);
    const byId = new Map(listed.map((c) => [c.id, c]));
    for (const tr of tracked) {
      if (tr.id && !tr.rmSent) assert.ok(byId.has(tr.id), `${tr.name} (${tr.id}) was created and never removed, but is gone`);
      if (tr.id && tr.rmAcked) assert.ok(!byId.has(tr.id), `${tr.name} (${tr.id}) was removed, but is listed`);
    }
    const names = new Map(tracked.map((tr) => [tr.name, tr]));
    let dead = 0;
    let untold = 0;
    for (const c of listed) {
      const tr = names.get(c.name);
      assert.ok(tr, `${c.name} (${c.id}) is listed but the workload never asked for it`);
      const st = await kit.inspect(c.id);
      assert.notEqual(st.State.Status, 'removing', `${c.name} is stuck removing`);
      assert.notEqual(st.State.Status, 'running', `${c.name} is running after a start without live restore`);
      if (tr.id === undefined) untold++;
      if (st.State.Dead) {
        dead++;
        // Only a create cut short may be Dead (quarantined): never one the client was told of.
        assert.ok(tr.id === undefined || tr.rmSent, `${c.name} was created (told ${tr.id}) but is Dead: ${st.State.Error}`);
      } else {
        // Whole: it starts, runs and execs.
        await kit.ok(['start', c.id]);
        assert.equal(await kit.ok(['exec', c.id, 'echo', 'ok']), 'ok\n');
      }
      await kit.ok(['rm', '-f', c.id]);
    }
    assert.deepEqual(lines(await kit.ok(['ps', '-aq'])), [], 'containers left after rm -f of each');
    t.diagnostic(`${listed.length} containers listed at the end (${untold} whose create was cut short, ${dead} Dead), all removed`);

    // Images: what the client was told holds, and every image listed is whole (its content all
    // there for save, its layers unpacked for run); none is listed half-made.
    const cuts = [...im.cut].map(([op, n]) => `${n} mid-${op}`).join(', ');
    t.diagnostic(`kills that cut an image command: ${cuts}`);
    assert.ok((im.cut.get('load') ?? 0) > 0 && (im.cut.get('pull') ?? 0) > 0, `no kill landed mid-load and mid-pull (${cuts})`);
    const images = lines(await kit.ok(['images', '--format', '{{.Repository}}:{{.Tag}}']));
    t.diagnostic(`images at the end: ${images.join(', ')}`);
    for (const [ref, told] of im.told) {
      if (told === 'present') assert.ok(images.includes(ref), `${ref} was loaded or pulled, but is not listed`);
      if (told === 'absent') assert.ok(!images.includes(ref), `${ref} was removed, but is listed`);
    }
    assert.deepEqual(
      images.filter((i) => ![im.load, im.pull, 'busybox:latest'].includes(i)),
      [],
      'images nobody asked for',
    );
    // Both images again, whatever the loop ended on: a load or pull after the cut ones (which
    // finds what they left) must give a whole image too.
    if (!images.includes(im.load)) await kit.ok(['load', '-q', '-i', archive]);
    if (!images.includes(im.pull)) await kit.ok(['pull', '-q', im.pull]);
    for (const ref of [...new Set([...images, im.load, im.pull])]) {
      const saved = await b.docker(['save', ref], { timeoutMs: 60_000 });
      assert.equal(saved.code, 0, `docker save ${ref} (content missing?): ${saved.stderr}`);
      if (ref === im.pull) {
        // The pulled image is data layers only (no shell): its top layer's file is read back
        // from a container's root, which needs every layer unpacked.
        const id = (await kit.ok(['create', ref, 'none'])).trim();
        const copied = await b.docker(['cp', `${id}:/data/layer-2.bin`, '-'], { timeoutMs: 60_000 });
        assert.equal(copied.code, 0, `docker cp from ${ref}: ${copied.stderr}`);
        await kit.ok(['rm', id]);
      } else {
        assert.equal(await kit.ok(['run', '--rm', ref, 'echo', 'whole']), 'whole\n', `run from ${ref}`);
      }
    }
    for (const ref of [im.load, im.pull]) await kit.ok(['rmi', ref]);

    // Nothing of them is left.
    const gone = async (what: string, probe: () => string[]): Promise<void> => {
      // Shims and cgroups go shortly after the task's deletion returns.
      let left = probe();
      for (let i = 0; i < 50 && left.length > 0; i++) {
        await sleep(100);
        left = probe();
      }
      assert.deepEqual(left, [], `${what} left behind (seed ${seed})`);
    };
    await gone('containerd containers', () => lines(kit.ctr(['containers', 'ls', '-q'])));
    await gone('containerd tasks', () => lines(kit.ctr(['tasks', 'ls', '-q'])));
    // Only the image's layers: committed snapshots (a container's is active, keyed by its ID).
    await gone('snapshots', () =>
      lines(kit.ctr(['snapshots', 'ls']))
        .slice(1)
        .filter((l) => l.trim().split(/\s+/).at(-1) !== 'Committed'),
    );
    await gone('shims', () => shims(ns).map(String));
    await gone('container cgroups', () => containerCgroups(ns));
    await gone('mounts', () => mountsUnder(b.dir).filter((m) => !idleMounts.includes(m)));
    await gone('netns', () => [...seen].map((id) => `berth-${id.slice(0, 12)}`).filter((n) => fs.existsSync(path.join('/run/netns', n))));
    const { defaultBridge, chainPrefix } = networkTag(ns);
    await gone('veths on the default bridge', () => entries(`/sys/class/net/${defaultBridge}/brif`));
    assert.deepEqual(kit.bridges(), [defaultBridge], 'bridges besides the default one');
    await gone('DNAT rules of published ports', () =>
      lines(execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' })).filter(
        (l) => l.startsWith(`-A ${chainPrefix}-`) && l.includes('--to-destination'),
      ),
    );
    await gone('FIFOs', () => entries(path.join(b.execRoot, 'fifo')));
    // Leases: only the pulls' (kept for a retried pull until they expire); ingests (partial
    // downloads) only theirs; loads', unpacks' and creates' leases went at the restarts.
    await gone("leases other than the pulls'", () =>
      lines(kit.ctr(['leases', 'ls', '-q'])).filter((l) => !/^berth-pull-[0-9a-z]+-[0-9a-f]{12}$/.test(l)),
    );
    // (How often the restarts had something to reconcile: shows the paths above were exercised.)
    const log = b.log();
    const count = (msg: string): number => log.split(msg).length - 1;
    t.diagnostic(
      `restarts released cut operations' leases ${count('released leases of operations interrupted by a crash')} times, dropped cut extractions ${count('dropped layer extractions interrupted by a crash')} times`,
    );
    await gone("content ingests other than the pulls'", () =>
      lines(kit.ctr(['content', 'active']))
        .slice(1)
        .filter((l) => !l.startsWith('berth-pull-')),
    );
    await gone('container directories', () => entries(path.join(b.dataRoot, 'containers')));
  } finally {
    // Stops berthd and containerd by PID, removes the roots, and checks no cgroup parent,
    // bridge or firewall chain of this daemon outlived it.
    await reg.stop();
    await kit.destroy();
  }
});
