// Containers, tasks and execs on a private containerd through runtime/tasks, with FIFO stdio and
// task events: output and exit codes, stdin EOF through CloseIO, a TTY with resize, signals,
// pause/resume, resource updates and metrics, OOM, exec, a containerd restart under a running
// task, start failures, cleanup, and the create+start+wait+delete latency. Needs root, containerd
// and runc. The spec here is a hand-written minimal one (the real builder lives elsewhere).

import { within } from './harness';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, rmdir, stat } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { ContainerdSupervisor } from '../../daemon/containerd-supervisor';
import { Conflict, InvalidParameter, NotFound } from '../../lib/errors';
import { Containerd } from '../../runtime/containerd';
import { sha256Digest, writeBlob } from '../../runtime/content';
import { createTaskIO } from '../../runtime/fifo';
import { InvalidStartConfig } from '../../runtime/start-errors';
import { subscribeTaskEvents, type TaskEvent, type TaskEventSubscription } from '../../runtime/task-events';
import { ContainerRuntime, type TaskIO } from '../../runtime/tasks';
import { unpackLayers } from '../../runtime/unpack';
import { buildBusyboxLayer, PATH_ENV } from '../fixtures/busybox-image';
import { DEFAULT_CAPABILITIES } from '../../runtime/capabilities';
import { withLease } from '../../runtime/leases';

const logger = pino({ level: process.env.BERTH_TEST_LOG ?? 'silent' });
const IMAGE = 'berth.test/busybox:latest';

const CAPS = [...DEFAULT_CAPABILITIES];

interface SpecOpts {
  terminal?: boolean;
  resources?: object;
}

function processSpec(args: string[], terminal = false): Record<string, unknown> {
  return {
    terminal,
    ...(terminal ? { consoleSize: { height: 24, width: 80 } } : {}),
    user: { uid: 0, gid: 0 },
    args,
    env: [PATH_ENV, 'HOME=/root'],
    cwd: '/',
    capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    noNewPrivileges: true,
  };
}

/** A minimal OCI spec in the shape containerd's and moby's defaults take. */
function testSpec(ns: string, id: string, args: string[], opts: SpecOpts = {}): object {
  const nosuid = ['nosuid', 'noexec', 'nodev'];
  return {
    ociVersion: '1.0.2-dev',
    process: processSpec(args, opts.terminal),
    root: { path: 'rootfs', readonly: false },
    hostname: id.slice(0, 12),
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: nosuid },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: [...nosuid, 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: nosuid },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: [...nosuid, 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: [...nosuid, 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }], ...(opts.resources ?? {}) },
      cgroupsPath: `/${ns}/${id}`,
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
      maskedPaths: [
        '/proc/acpi',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/proc/scsi',
        '/sys/firmware',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** Accumulates a stream's text; `until` waits for a pattern in it. */
class Collector {
  text = '';
  private readonly done: Promise<void>;
  constructor(stream: Readable | undefined) {
    this.done = new Promise((resolve) => {
      if (!stream) return resolve();
      stream.on('data', (c: Buffer) => (this.text += c.toString('utf8')));
      stream.once('close', () => resolve());
    });
  }
  async until(re: RegExp, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!re.test(this.text)) {
      if (Date.now() > deadline) throw new Error(`no ${re} in output: ${JSON.stringify(this.text)}`);
      await sleep(10);
    }
  }
  ended(): Promise<void> {
    return this.done;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

let dataRoot: string;
let execRoot: string;
let sup: ContainerdSupervisor;
let ctd: Containerd;
let rt: ContainerRuntime;
let ns: string;
let lease: string;
let parent: string;
let sub: TaskEventSubscription;
const events: TaskEvent[] = [];
let resubscribed = 0;
let seq = 0;

const newId = (): string => `t${++seq}-${randomBytes(4).toString('hex')}`;

async function eventMatching(pred: (e: TaskEvent) => boolean, what: string, ms = 15_000): Promise<TaskEvent> {
  const deadline = Date.now() + ms;
  for (;;) {
    const hit = events.find(pred);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no task event: ${what}; saw ${JSON.stringify(events.map((e) => [e.kind, e.containerId]))}`);
    await sleep(20);
  }
}

/** What the container service does: the rw snapshot at create, the record at the first start. */
async function createContainer(id: string, spec: object, labels?: Record<string, string>): Promise<void> {
  await rt.prepareRootfs(id, parent);
  await rt.putContainer(id, { spec, imageName: IMAGE, ...(labels ? { labels } : {}) }, true);
}

async function createAndStart(
  args: string[],
  opts: SpecOpts & { stdin?: boolean } = {},
): Promise<{ id: string; pid: number; io: TaskIO; out: Collector; err: Collector }> {
  const id = newId();
  await createContainer(id, testSpec(ns, id, args, opts));
  const { pid, io } = await rt.startTask(id, { stdin: opts.stdin ?? false, terminal: opts.terminal ?? false });
  return { id, pid, io, out: new Collector(io.stdout), err: new Collector(io.stderr) };
}

async function snapshotExists(key: string): Promise<boolean> {
  try {
    await ctd.snapshots.stat({ snapshotter: 'overlayfs', key });
    return true;
  } catch (e) {
    if (e instanceof NotFound) return false;
    throw e;
  }
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

before(async () => {
  dataRoot = await mkdtemp('/tmp/berth-rt-data-');
  execRoot = await mkdtemp('/tmp/berth-rt-exec-');
  sup = new ContainerdSupervisor({ dataRoot, execRoot, logger });
  ns = `berth-test-${randomBytes(4).toString('hex')}`;
  ctd = new Containerd({ address: await sup.start(), namespace: ns, logger });
  await ctd.waitReady(10_000);
  rt = new ContainerRuntime({ ctd, fifoRoot: join(execRoot, 'fifo'), logger });

  // The busybox layer, unpacked under a lease held for the whole file.
  lease = `berth-test-${randomBytes(6).toString('hex')}`;
  await ctd.leases.create({ id: lease, labels: { 'containerd.io/gc.expire': new Date(Date.now() + 3600_000).toISOString() } });
  const layer = await buildBusyboxLayer();
  const diffId = sha256Digest(layer);
  const blob = await writeBlob(ctd, { data: layer }, { lease, labels: { 'containerd.io/uncompressed': diffId } });
  [parent] = await unpackLayers(
    ctd,
    [{ digest: blob.digest, mediaType: 'application/vnd.oci.image.layer.v1.tar', size: blob.size, diffId }],
    { lease },
  );

  sub = subscribeTaskEvents(ctd, ns, (e) => events.push(e), { onResubscribed: () => resubscribed++ });
  await within(10_000, 'event subscription', sub.ready);
});

after(async () => {
  sub?.close();
  if (rt) {
    for (const id of await rt.listContainers().catch(() => [])) await rt.deleteContainer(id).catch(() => undefined);
    await rt.close();
  }
  if (ctd) {
    await ctd.leases.delete({ id: lease, sync: true }).catch(() => undefined);
    ctd.close();
  }
  await sup?.stop();
  await rm(dataRoot, { recursive: true, force: true });
  await rm(execRoot, { recursive: true, force: true });
  // Left behind by runc/containerd for every namespace (as /docker is for dockerd).
  for (const ctrl of readdirSync('/sys/fs/cgroup')) await rmdir(join('/sys/fs/cgroup', ctrl, ns)).catch(() => undefined);
  await rmdir(join('/run/containerd/runc', ns)).catch(() => undefined);
});

test('output on stdout and stderr, exit status, task events', async () => {
  const { id, pid, io, out, err } = await createAndStart(['sh', '-c', 'echo hi; echo err >&2; exit 3']);
  assert.ok(pid > 0);
  const exit = await within(20_000, 'exit', rt.waitTaskAndIO(id, io));
  assert.equal(exit.exitStatus, 3);
  assert.ok(exit.ioDrained);
  assert.ok(exit.exitedAt instanceof Date && Date.now() - exit.exitedAt.getTime() < 60_000);
  assert.equal(out.text, 'hi\n');
  assert.equal(err.text, 'err\n');
  // A second waiter after the exit gets the same answer.
  assert.equal((await rt.waitTask(id)).exitStatus, 3);
  assert.equal((await rt.taskStatus(id))?.status, 'stopped');
  assert.equal((await rt.taskStatus(id))?.exitStatus, 3);

  const ev = await eventMatching((e) => e.kind === 'exit' && e.containerId === id, 'exit');
  assert.ok(ev.kind === 'exit' && ev.exitStatus === 3 && ev.execId === undefined && ev.pid === pid);
  await eventMatching((e) => e.kind === 'create' && e.containerId === id, 'create');
  await eventMatching((e) => e.kind === 'start' && e.containerId === id, 'start');

  assert.deepEqual(await rt.deleteTask(id), { exitStatus: 3, exitedAt: exit.exitedAt });
  assert.equal(await rt.deleteTask(id), undefined);
  await eventMatching((e) => e.kind === 'delete' && e.containerId === id, 'delete');
  await io.close();
  await rt.deleteContainer(id);
});

test('stdin reaches the process and CloseIO delivers EOF', async () => {
  const { id, io, out } = await createAndStart(['cat'], { stdin: true });
  io.stdin?.write('hello\nworld\n');
  await out.until(/world\n/);
  assert.equal((await rt.taskStatus(id))?.status, 'running');
  await rt.closeStdin(id);
  const exit = await within(20_000, 'cat exit', rt.waitTaskAndIO(id, io));
  assert.equal(exit.exitStatus, 0);
  assert.equal(out.text, 'hello\nworld\n');
  await io.close();
  await rt.deleteContainer(id);
});

test('TTY: echo, initial size, resize', async () => {
  const { id, io, out } = await createAndStart(['sh'], { stdin: true, terminal: true });
  assert.equal(io.stderr, undefined);
  io.stdin?.write('echo tty-$((6*7))\r');
  await out.until(/tty-42/);
  io.stdin?.write('stty size\r');
  await out.until(/24 80/);
  await rt.resizePty(id, 120, 40);
  io.stdin?.write('stty size; tty\r');
  await out.until(/40 120/);
  await out.until(/\/dev\/pts\/0/);
  assert.match(out.text, /\r\n/);
  io.stdin?.write('exit 5\r');
  const exit = await within(20_000, 'tty exit', rt.waitTaskAndIO(id, io));
  assert.equal(exit.exitStatus, 5);
  await io.close();
  await rt.deleteContainer(id);
});

test('SIGTERM is ignored by sleep as PID 1; SIGKILL gives 137', async () => {
  const { id, io } = await createAndStart(['sleep', '1000']);
  await rt.kill(id, 15);
  await sleep(300);
  assert.equal((await rt.taskStatus(id))?.status, 'running');
  await rt.kill(id, 9);
  assert.equal((await within(20_000, 'kill', rt.waitTask(id))).exitStatus, 137);
  assert.equal((await rt.deleteTask(id))?.exitStatus, 137);
  await io.close();
  await rt.deleteContainer(id);
});

test('pause/resume, pids, metrics, resource update, exec, delete of a live container', async () => {
  const { id, pid, io } = await createAndStart(['sleep', '1000']);
  assert.deepEqual(await rt.pids(id), [pid]);
  assert.deepEqual(
    (await rt.listTasks()).find((t) => t.id === id),
    { id, pid, status: 'running' },
  );
  assert.ok((await rt.listContainers()).includes(id));

  await rt.pause(id);
  assert.equal((await rt.taskStatus(id))?.status, 'paused');
  await eventMatching((e) => e.kind === 'paused' && e.containerId === id, 'paused');
  await rt.resume(id);
  assert.equal((await rt.taskStatus(id))?.status, 'running');
  await eventMatching((e) => e.kind === 'resumed' && e.containerId === id, 'resumed');

  const before = await rt.metrics(id);
  assert.ok(before?.cgroup === 'v1' || before?.cgroup === 'v2');
  if (before?.cgroup === 'v1') {
    assert.equal(typeof before.data.memory?.usage?.limit, 'bigint');
    assert.ok((before.data.pids?.current ?? 0n) >= 1n);
  }
  await rt.updateResources(id, { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 50 } });
  const afterUpdate = await rt.metrics(id);
  if (afterUpdate?.cgroup === 'v1') {
    assert.equal(afterUpdate.data.memory?.usage?.limit, 67108864n);
    assert.equal(afterUpdate.data.pids?.limit, 50n);
  } else {
    assert.equal(afterUpdate?.data.pids?.limit, 50n);
  }
  assert.equal(await rt.metrics('no-such-task'), undefined);

  // Exec with stdin and an exit code.
  const e1 = await rt.exec(id, 'e1', {
    process: processSpec(['sh', '-c', 'echo in-exec; cat; exit 7']),
    stdin: true,
    terminal: false,
  });
  assert.ok(e1.pid > 0 && e1.pid !== pid);
  const e1out = new Collector(e1.io.stdout);
  new Collector(e1.io.stderr);
  e1.io.stdin?.write('piped\n');
  await rt.closeStdin(id, 'e1');
  const e1exit = await within(20_000, 'exec exit', rt.waitTaskAndIO(id, e1.io, { execId: 'e1' }));
  assert.equal(e1exit.exitStatus, 7);
  assert.equal(e1out.text, 'in-exec\npiped\n');
  const ev = await eventMatching((e) => e.kind === 'exit' && e.containerId === id && e.execId === 'e1', 'exec exit');
  assert.ok(ev.kind === 'exit' && ev.exitStatus === 7);
  await eventMatching((e) => e.kind === 'exec-started' && e.execId === 'e1', 'exec-started');
  assert.equal((await rt.deleteProcess(id, 'e1'))?.exitStatus, 7);
  assert.equal(await rt.deleteProcess(id, 'e1'), undefined);
  await e1.io.close();

  // Exec ids are unique per task; a missing binary is a classified start failure.
  const e2 = await rt.exec(id, 'e2', { process: processSpec(['sleep', '1000']), stdin: false, terminal: false });
  await assert.rejects(
    rt.exec(id, 'e2', { process: processSpec(['true']), stdin: false, terminal: false }),
    (err: unknown) => err instanceof Conflict && err.message === 'id already in use',
  );
  await assert.rejects(
    rt.exec(id, 'e3', { process: processSpec(['nosuchcmd']), stdin: false, terminal: false }),
    (err: unknown) =>
      err instanceof InvalidStartConfig &&
      err.exitCode === 127 &&
      /OCI runtime exec failed: .*executable file not found in \$PATH/.test(err.message),
  );
  assert.equal(await rt.taskStatus(id, 'e3'), undefined);
  // A TTY exec.
  const e4 = await rt.exec(id, 'e4', { process: processSpec(['sh', '-c', 'tty; stty size']), stdin: false, terminal: true });
  const e4out = new Collector(e4.io.stdout);
  assert.equal((await within(20_000, 'tty exec', rt.waitTaskAndIO(id, e4.io, { execId: 'e4' }))).exitStatus, 0);
  assert.match(e4out.text, /^\/dev\/pts\/\d+\r\n/);
  await rt.deleteProcess(id, 'e4');
  await e4.io.close();

  // Deleting the live container kills everything first.
  const fifoDir = rt.fifoDir(id);
  assert.ok(await exists(fifoDir));
  await rt.deleteContainer(id);
  await e2.io.close();
  await io.close();
  assert.equal(await rt.taskStatus(id), undefined);
  assert.ok(!(await snapshotExists(id)), 'snapshot removed');
  assert.ok(!(await rt.listContainers()).includes(id), 'container record removed');
  assert.ok(!(await exists(fifoDir)), 'FIFO dir removed');
  const exit = await eventMatching((e) => e.kind === 'exit' && e.containerId === id && e.execId === undefined, 'kill exit');
  assert.ok(exit.kind === 'exit' && exit.exitStatus === 137);
  // Idempotent.
  await rt.deleteContainer(id);
});

test('a memory-limited task is OOM-killed and the OOM event arrives', async () => {
  const limit = 16 * 1024 * 1024;
  // The pause lets containerd's OOM watch on the new cgroup be in place before the allocation.
  const { id, io } = await createAndStart(['sh', '-c', 'sleep 1; dd if=/dev/zero of=/dev/null bs=128M count=1'], {
    resources: { memory: { limit, swap: limit } },
  });
  new Collector(io.stdout);
  new Collector(io.stderr);
  assert.equal((await within(20_000, 'oom exit', rt.waitTaskAndIO(id, io))).exitStatus, 137);
  await eventMatching((e) => e.kind === 'oom' && e.containerId === id, 'oom');
  await io.close();
  await rt.deleteContainer(id);
});

test('a missing executable fails the start with a classified error and leaves nothing', async () => {
  const id = newId();
  await createContainer(id, testSpec(ns, id, ['nosuchcmd']));
  await assert.rejects(rt.startTask(id, { stdin: true, terminal: false }), (err: unknown) => {
    assert.ok(err instanceof InvalidStartConfig, String(err));
    assert.ok(err instanceof InvalidParameter);
    assert.equal(err.exitCode, 127);
    assert.match(
      err.message,
      /^failed to create task for container: failed to create shim task: OCI runtime create failed: .*exec: "nosuchcmd": executable file not found in \$PATH: unknown$/,
    );
    assert.equal(`failed to create task for container: ${err.runtimeMessage}`, err.message);
    return true;
  });
  assert.equal(await rt.taskStatus(id), undefined);
  assert.deepEqual(await rt.listTasks().then((ts) => ts.filter((t) => t.id === id)), []);
  assert.ok(!(await exists(join(rt.fifoDir(id), 'init-stdout'))), 'FIFOs removed');
  // The container can still be fixed and started.
  await rt.putContainer(id, { spec: testSpec(ns, id, ['sh', '-c', 'echo fixed']), imageName: IMAGE }, false);
  const { io } = await rt.startTask(id, { stdin: false, terminal: false });
  const out = new Collector(io.stdout);
  new Collector(io.stderr);
  assert.equal((await rt.waitTaskAndIO(id, io)).exitStatus, 0);
  assert.equal(out.text, 'fixed\n');
  await io.close();
  await rt.deleteContainer(id);
  assert.ok(!(await snapshotExists(id)));
});

test('deleteTask removes a task that was created but never started', async () => {
  const id = newId();
  await createContainer(id, testSpec(ns, id, ['sleep', '1000']));
  // A crash between Tasks.Create and Tasks.Start leaves this behind.
  const io = await createTaskIO(rt.fifoDir(id), { stdin: false, terminal: false });
  const mounts = (await ctd.snapshots.mounts({ snapshotter: 'overlayfs', key: id })).mounts;
  await ctd.tasks.create({ containerId: id, rootfs: mounts, stdout: io.paths.stdout, stderr: io.paths.stderr });
  assert.equal((await rt.taskStatus(id))?.status, 'created');
  assert.equal((await within(40_000, 'delete created task', rt.deleteTask(id)))?.exitStatus, 137);
  assert.equal(await rt.taskStatus(id), undefined);
  await io.close();
  await rt.deleteContainer(id);
});

test('prepareRootfs and putContainer rerun after a crash halfway; deleteContainer cleans partial state', async () => {
  const id = newId();
  const spec = testSpec(ns, id, ['true']);
  await rt.prepareRootfs(id, parent);
  // Again with the snapshot present (a create retried), then the first start's record, twice.
  await rt.prepareRootfs(id, parent);
  await rt.putContainer(id, { spec, imageName: IMAGE, labels: { a: 'b' } }, true);
  await rt.putContainer(id, { spec, imageName: IMAGE, labels: { a: 'b' } }, true);
  // A later start updates the spec, and makes the record again when it is gone.
  await rt.putContainer(id, { spec: testSpec(ns, id, ['false']), imageName: IMAGE }, false);
  assert.deepEqual(JSON.parse(Buffer.from((await ctd.containers.get({ id })).container?.spec?.value ?? []).toString()).process.args, [
    'false',
  ]);
  assert.deepEqual((await ctd.containers.get({ id })).container?.labels, { a: 'b' });
  await ctd.containers.delete({ id });
  await rt.putContainer(id, { spec, imageName: IMAGE }, false);
  assert.ok((await rt.listContainers()).includes(id));
  assert.ok(await snapshotExists(id));
  // A snapshot with another parent is not silently reused.
  const other = newId();
  // Under a lease: an unreferenced active snapshot is fair game for containerd's GC otherwise.
  await withLease(ctd, async (lease) => {
    await ctd.snapshots.prepare({ snapshotter: 'overlayfs', key: other, parent: '' }, { lease });
    await assert.rejects(rt.prepareRootfs(other, parent), (err: unknown) => err instanceof Conflict);
  });
  await rt.deleteContainer(id);
  await rt.deleteContainer(other);
  assert.ok(!(await snapshotExists(id)) && !(await snapshotExists(other)));
  // A snapshot without record and a record without snapshot both clean up.
  await rt.prepareRootfs(id, parent);
  await rt.deleteContainer(id);
  assert.ok(!(await snapshotExists(id)));
});

test("a created container's snapshot, which no record references before the first start, survives containerd's GC and is listed", async () => {
  const id = newId();
  await rt.prepareRootfs(id, parent);
  // Deleting a lease with sync runs containerd's GC to its end.
  const gcLease = `berth-test-gc-${randomBytes(4).toString('hex')}`;
  await ctd.leases.create({ id: gcLease });
  await ctd.leases.delete({ id: gcLease, sync: true });
  assert.ok(await snapshotExists(id), 'GC took the snapshot');
  assert.deepEqual((await rt.rootfsSnapshots()).get(id)?.['berth.rootfs'], id);
  await rt.addSnapshotLabels(id, { 'berth.quarantined': 'test' });
  assert.equal((await rt.rootfsSnapshots()).get(id)?.['berth.quarantined'], 'test');
  // The first start's record, and the task runs on that snapshot.
  const { io } = await (async () => {
    await rt.putContainer(id, { spec: testSpec(ns, id, ['true']), imageName: IMAGE }, true);
    return rt.startTask(id, { stdin: false, terminal: false });
  })();
  io.stdout.resume();
  io.stderr?.resume();
  assert.equal((await rt.waitTaskAndIO(id, io)).exitStatus, 0);
  await io.close();
  await rt.deleteContainer(id);
  assert.ok(!(await rt.rootfsSnapshots()).has(id));
});

test('a running task survives a containerd restart: Wait, stdio and events resume', async () => {
  const { id, io, out } = await createAndStart(['sh', '-c', 'echo ready; read x; echo got-$x; exit 4'], {
    stdin: true,
  });
  await out.until(/ready\n/);
  const waiting = rt.waitTask(id);
  const before = resubscribed;
  const restarted = new Promise<void>((resolve) => sup.onRestart(() => resolve()));
  const oldPid = sup.pid;
  assert.ok(oldPid);
  process.kill(oldPid, 'SIGKILL');
  await within(30_000, 'containerd restart', restarted);
  await within(
    30_000,
    'events resubscribed',
    (async () => {
      while (resubscribed === before) await sleep(20);
    })(),
  );
  io.stdin?.write('go\n');
  assert.equal((await within(20_000, 'wait across restart', waiting)).exitStatus, 4);
  await within(5_000, 'stdout end', out.ended());
  assert.equal(out.text, 'ready\ngot-go\n');
  const ev = await eventMatching((e) => e.kind === 'exit' && e.containerId === id, 'exit after restart');
  assert.ok(ev.kind === 'exit' && ev.exitStatus === 4);
  await io.close();
  await rt.deleteContainer(id);
});

test('latency: create+start+wait+delete of `true`', async (t) => {
  const totals: number[] = [];
  const phases = { create: [] as number[], start: [] as number[], wait: [] as number[], delete: [] as number[] };
  for (let i = 0; i < 17; i++) {
    const id = newId();
    const t0 = performance.now();
    await createContainer(id, testSpec(ns, id, ['true']));
    const t1 = performance.now();
    const { io } = await rt.startTask(id, { stdin: false, terminal: false });
    io.stdout.resume();
    io.stderr?.resume();
    const t2 = performance.now();
    const exit = await rt.waitTaskAndIO(id, io);
    const t3 = performance.now();
    await io.close();
    await rt.deleteContainer(id);
    const t4 = performance.now();
    assert.equal(exit.exitStatus, 0);
    if (i < 2) continue; // warm-up
    totals.push(t4 - t0);
    phases.create.push(t1 - t0);
    phases.start.push(t2 - t1);
    phases.wait.push(t3 - t2);
    phases.delete.push(t4 - t3);
  }
  const fmt = (xs: number[]): string => `${median(xs).toFixed(0)} ms`;
  const line =
    `create+start+wait+delete of true, median of ${totals.length}: ${fmt(totals)} ` +
    `(min ${Math.min(...totals).toFixed(0)}, max ${Math.max(...totals).toFixed(0)}; ` +
    `create ${fmt(phases.create)}, start ${fmt(phases.start)}, wait ${fmt(phases.wait)}, delete ${fmt(phases.delete)})`;
  t.diagnostic(line);
  if (process.env.BERTH_TEST_LATENCY) process.stderr.write(`${line}\n`);
});
