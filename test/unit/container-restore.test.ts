// The daemon-start restore without containerd: moby's restart-at-start rule (startupAction), and
// restoreContainers against a fake runtime: live restore adopts running tasks and exits that
// happened while berthd was away; without it, live tasks are killed (exit 255) and the restart
// policies decide what starts again. The monitor's side: detached at a live-restore stop, and an
// adopted task's exit time.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { LiveContainer, type LiveTask } from '../../daemon/containers/live-container';
import { Monitor } from '../../daemon/containers/monitor';
import { initialState, ZERO_TIME, type ContainerRecord, type ContainerState } from '../../daemon/containers/model';
import { restoreContainers, startupAction, type AdoptedTask, type StartupFacts } from '../../daemon/containers/restore';
import type { ContainerStore } from '../../daemon/containers/store';
import type { TaskIO } from '../../runtime/fifo';
import type { TaskStatus } from '../../runtime/task-types';

const facts = (f: Partial<StartupFacts>): StartupFacts => ({
  policy: 'no',
  maxRetries: 0,
  restartCount: 0,
  exitCode: 0,
  manuallyStopped: false,
  startedBefore: true,
  autoRemove: false,
  dead: false,
  ...f,
});

test("startupAction: moby restore's ShouldRestart, then AutoRemove", () => {
  assert.equal(startupAction(facts({ policy: 'no', exitCode: 1 })), 'none');
  assert.equal(startupAction(facts({ policy: 'always' })), 'start');
  // always comes back with the daemon even after a manual stop; unless-stopped does not.
  assert.equal(startupAction(facts({ policy: 'always', manuallyStopped: true })), 'start');
  assert.equal(startupAction(facts({ policy: 'unless-stopped' })), 'start');
  assert.equal(startupAction(facts({ policy: 'unless-stopped', manuallyStopped: true })), 'none');
  assert.equal(startupAction(facts({ policy: 'on-failure', exitCode: 0 })), 'none');
  assert.equal(startupAction(facts({ policy: 'on-failure', exitCode: 137 })), 'start');
  assert.equal(startupAction(facts({ policy: 'on-failure', exitCode: 1, maxRetries: 3, restartCount: 2 })), 'start');
  assert.equal(startupAction(facts({ policy: 'on-failure', exitCode: 1, maxRetries: 3, restartCount: 3 })), 'none');
  // Never started: not started by the daemon; an AutoRemove one goes (moby's else branch).
  assert.equal(startupAction(facts({ policy: 'always', startedBefore: false })), 'none');
  assert.equal(startupAction(facts({ policy: 'always', startedBefore: false, autoRemove: true })), 'remove');
  assert.equal(startupAction(facts({ autoRemove: true })), 'remove');
  assert.equal(startupAction(facts({ policy: 'always', dead: true })), 'none');
  assert.equal(startupAction(facts({ policy: 'always', dead: true, autoRemove: true })), 'remove');
});

interface FakeTask {
  status: TaskStatus;
  pid: number;
  exitStatus?: number;
  exitedAt?: Date;
}

function container(id: string, policy: string, state: Partial<ContainerState>, autoRemove = false): LiveContainer {
  const record = {
    id,
    name: `c-${id.slice(0, 4)}`,
    config: { Image: 'busybox' },
    hostConfig: { RestartPolicy: { Name: policy }, AutoRemove: autoRemove },
    mounts: [],
    networks: [],
  } as unknown as ContainerRecord;
  return new LiveContainer(record, { ...initialState(), ...state });
}

/** Where the restored containers' directories live (the restore deletes some). */
const dirs = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-restore-'));
after(() => fs.rmSync(dirs, { recursive: true, force: true }));

function setup(
  containers: LiveContainer[],
  tasks: Map<string, FakeTask>,
  liveRestore: boolean,
  /** What containerd lacks: records (ids not listed), rw snapshots, and the parents to prepare one on. */
  lacks: { records?: string[]; snapshots?: string[]; parents?: string[] } = {},
  /** Removed containers whose containerd side is still recorded as to delete; deletes that fail. */
  leftovers: { pending?: string[]; failing?: string[] } = {},
) {
  const log = {
    started: [] as string[],
    removed: [] as string[],
    adopted: [] as string[],
    deleted: [] as string[],
    forgotten: [] as string[],
    stopped: [] as string[],
    containersDeleted: [] as string[],
    leftoversDone: [] as string[],
    quarantineKnown: [] as string[],
    prepared: [] as string[],
  };
  const byId = new Map(containers.map((c) => [c.id, c]));
  const store = {
    all: () => [...byId.values()],
    saveState: () => undefined,
    delete: (id: string) => byId.delete(id),
    leftovers: () => [...(leftovers.pending ?? [])],
    leftoverDeleted: (id: string) => log.leftoversDone.push(id),
  } as unknown as ContainerStore;
  const io = { detach: () => undefined } as unknown as TaskIO;
  const run = restoreContainers({
    store,
    logger: pino({ level: 'silent' }),
    liveRestore,
    runtime: {
      listContainers: () => Promise.resolve(containers.map((c) => c.id).filter((id) => !(lacks.records ?? []).includes(id))),
      hasSnapshot: (id) => Promise.resolve(!(lacks.snapshots ?? []).includes(id)),
      prepareRootfs: (id) => {
        if ((lacks.parents ?? []).includes(id)) return Promise.reject(new Error('parent snapshot does not exist: not found'));
        log.prepared.push(id);
        return Promise.resolve();
      },
      deleteContainer: (id) => {
        if ((leftovers.failing ?? []).includes(id)) return Promise.reject(new Error('containerd unavailable'));
        log.containersDeleted.push(id);
        return Promise.resolve();
      },
      taskStatus: (id) => Promise.resolve(tasks.has(id) ? { status: (tasks.get(id) as FakeTask).status } : undefined),
      deleteTask: (id) => {
        const t = tasks.get(id);
        tasks.delete(id);
        log.deleted.push(id);
        if (!t) return Promise.resolve(undefined);
        return Promise.resolve({
          exitStatus: t.status === 'stopped' ? (t.exitStatus ?? 0) : 137,
          ...(t.exitedAt ? { exitedAt: t.exitedAt } : {}),
        });
      },
      adoptTask: (id): Promise<AdoptedTask | undefined> => {
        const t = tasks.get(id);
        return Promise.resolve(t && { pid: t.pid, io, status: t.status });
      },
    },
    containerDir: (id) => path.join(dirs, id),
    containerDirNames: () => fs.readdirSync(dirs),
    startTask: (c) => {
      log.started.push(c.id);
      return Promise.resolve();
    },
    remove: (id) => {
      log.removed.push(id);
      return Promise.resolve();
    },
    adopt: (c) => {
      log.adopted.push(c.id);
      return Promise.resolve();
    },
    stopLeftTask: (c) => {
      log.stopped.push(c.id);
      return Promise.resolve();
    },
    forgetNetwork: (id) => {
      log.forgotten.push(id);
      return Promise.resolve();
    },
    quarantineUnknown: (_inContainerd, known) => {
      log.quarantineKnown.push(...known);
      return Promise.resolve();
    },
  });
  return { run, log };
}

const started = { running: true, pid: 10, startedAt: '2026-01-01T00:00:00Z' };

test('live restore: a running task is adopted with its PID; a paused one stays paused; nothing is killed', async () => {
  const a = container('a'.repeat(64), 'no', { ...started, pid: 1 });
  const p = container('b'.repeat(64), 'no', { ...started, paused: true });
  const tasks = new Map<string, FakeTask>([
    [a.id, { status: 'running', pid: 4242 }],
    [p.id, { status: 'paused', pid: 4343 }],
  ]);
  const { run, log } = setup([a, p], tasks, true);
  await run;
  assert.deepEqual(log.adopted, [a.id, p.id]);
  assert.deepEqual(log.deleted, []);
  assert.deepEqual(log.stopped, []);
  assert.deepEqual(log.forgotten, []);
  assert.equal(a.state.running, true);
  assert.equal(a.state.pid, 4242);
  assert.equal(a.state.startedAt, started.startedAt);
  assert.equal(p.state.paused, true);
});

test('live restore: an exit while berthd was away is adopted (the monitor records it); a created-only task is deleted', async () => {
  const exited = container('c'.repeat(64), 'always', started);
  const half = container('d'.repeat(64), 'always', started);
  const tasks = new Map<string, FakeTask>([
    [exited.id, { status: 'stopped', pid: 5, exitStatus: 7 }],
    [half.id, { status: 'created', pid: 6 }],
  ]);
  const { run, log } = setup([exited, half], tasks, true);
  await run;
  assert.deepEqual(log.adopted, [exited.id]);
  // The created task never ran: deleted, recorded exited 255, and `always` starts it again.
  assert.deepEqual(log.deleted, [half.id]);
  assert.equal(half.state.running, false);
  assert.equal(half.state.exitCode, 255);
  assert.deepEqual(log.started, [half.id]);
});

test('without live restore: live tasks are killed (255), exits keep their code and time, policies decide', async () => {
  const always = container('e'.repeat(64), 'always', started);
  const unless = container('f'.repeat(64), 'unless-stopped', started);
  const stoppedByUser = container('1'.repeat(64), 'unless-stopped', { exitCode: 0, manuallyStopped: true, startedAt: started.startedAt });
  const failed = container('2'.repeat(64), 'on-failure', started);
  const never = container('3'.repeat(64), 'always', { startedAt: ZERO_TIME });
  const rm = container('4'.repeat(64), 'no', started, true);
  // berthd died after deleting this one's task but before recording its exit: its note is used.
  const noted = container('5'.repeat(64), 'no', { ...started, exitSeen: { exitCode: 9, finishedAt: '2026-02-03T00:00:00.5Z' } });
  const exitedAt = new Date('2026-02-03T04:05:06.789Z');
  const tasks = new Map<string, FakeTask>([
    [always.id, { status: 'running', pid: 1 }],
    [unless.id, { status: 'running', pid: 2 }],
    [failed.id, { status: 'stopped', pid: 3, exitStatus: 3, exitedAt }],
    [rm.id, { status: 'running', pid: 4 }],
  ]);
  const { run, log } = setup([always, unless, stoppedByUser, failed, never, rm, noted], tasks, false);
  await run;
  assert.deepEqual(log.adopted, []);
  // The live ones get their stop signal and grace period first (moby's shutdownContainer).
  assert.deepEqual(log.stopped.sort(), [always.id, unless.id, rm.id].sort());
  assert.equal(always.state.exitCode, 255);
  assert.equal(failed.state.exitCode, 3);
  assert.equal(failed.state.finishedAt, '2026-02-03T04:05:06.789Z');
  assert.deepEqual(log.started.sort(), [always.id, unless.id, failed.id].sort());
  assert.deepEqual(log.removed, [rm.id]);
  assert.equal(stoppedByUser.state.running, false);
  assert.deepEqual(
    [noted.state.running, noted.state.exitCode, noted.state.finishedAt, noted.state.exitSeen],
    [false, 9, '2026-02-03T00:00:00.5Z', undefined],
  );
  assert.equal(never.state.running, false);
});

test('a record without its rw snapshot is quarantined Dead, never started; one without its containerd record (made at each start) is not', async () => {
  const noRecord = container('6'.repeat(64), 'always', started);
  const noSnapshot = container('7'.repeat(64), 'always', started);
  const whole = container('8'.repeat(64), 'always', started);
  const { run, log } = setup([noRecord, noSnapshot, whole], new Map(), false, { records: [noRecord.id], snapshots: [noSnapshot.id] });
  await run;
  assert.deepEqual(log.started.sort(), [noRecord.id, whole.id].sort());
  assert.deepEqual(
    [noSnapshot.state.dead, noSnapshot.state.running, noSnapshot.state.error],
    [true, false, 'quarantined at daemon start: its rootfs snapshot is missing'],
  );
  assert.match(noSnapshot.state.quarantined ?? '', /^no rootfs snapshot at daemon start /);
  for (const c of [noRecord, whole]) assert.equal(c.state.dead, false);
  assert.equal(noRecord.state.quarantined, undefined);
  // Whatever the network layer kept for it goes, and its task.
  assert.ok(log.forgotten.includes(noSnapshot.id));
  assert.ok(log.deleted.includes(noSnapshot.id));
  assert.deepEqual(log.prepared, [], 'a container that ran never gets a fresh rootfs');
});

test('a created container without its snapshot (its create answered before the prepare) is prepared again; quarantined when that fails', async () => {
  const created = container('1'.repeat(64), 'always', {});
  const orphaned = container('2'.repeat(64), 'always', {});
  const { run, log } = setup([created, orphaned], new Map(), false, {
    records: [created.id, orphaned.id],
    snapshots: [created.id, orphaned.id],
    parents: [orphaned.id],
  });
  await run;
  assert.deepEqual(log.prepared, [created.id]);
  assert.deepEqual([created.state.dead, created.state.quarantined], [false, undefined]);
  assert.deepEqual([orphaned.state.dead, orphaned.state.error], [true, 'quarantined at daemon start: its rootfs snapshot is missing']);
  // Never started: neither is started by the restore.
  assert.deepEqual(log.started, []);
});

/** A monitor over one task whose Wait the test settles. */
function monitored(adopted: boolean) {
  const c = container('9'.repeat(64), 'always', started);
  let settle: { resolve: (v: { exitStatus: number; exitedAt?: Date }) => void; reject: (e: Error) => void } | undefined;
  const log = { deleted: 0, events: [] as string[], starts: 0, seenAtDelete: undefined as number | undefined };
  const monitor = new Monitor({
    runtime: {
      waitTask: () => new Promise((resolve, reject) => (settle = { resolve, reject })),
      deleteTask: () => {
        log.deleted++;
        log.seenAtDelete = c.state.exitSeen?.exitCode;
        return Promise.resolve();
      },
    },
    store: { saveState: () => undefined, tryGetById: (id) => (id === c.id ? c : undefined) },
    publish: (_c, action) => log.events.push(action),
    publishVolumes: () => undefined,
    tearDownNetwork: () => Promise.resolve(),
    startTask: () => {
      log.starts++;
      return Promise.resolve();
    },
    autoRemove: () => Promise.resolve(),
    stopHealth: () => undefined,
    logger: { error: () => undefined, warn: () => undefined },
  });
  const task: LiveTask = {
    io: { close: () => Promise.resolve() } as unknown as TaskIO,
    copier: { done: () => Promise.resolve() },
    startedMs: Date.parse(started.startedAt),
    ...(adopted ? { adopted: true } : {}),
    exited: Promise.resolve(),
  };
  c.task = task;
  task.exited = monitor.follow(c, task);
  return { c, monitor, task, log, settle: () => settle as NonNullable<typeof settle> };
}

test('monitor detached (live-restore stop): a failed Wait records nothing, deletes nothing, restarts nothing', async () => {
  const m = monitored(false);
  await new Promise((r) => setImmediate(r));
  m.monitor.detach([m.c]);
  m.settle().reject(new Error('1 CANCELLED: channel closed'));
  await m.task.exited;
  assert.equal(m.c.state.running, true);
  assert.equal(m.log.deleted, 0);
  assert.deepEqual(m.log.events, []);
});

test("monitor: an adopted task's exit takes containerd's exit time as FinishedAt", async () => {
  const m = monitored(true);
  await new Promise((r) => setImmediate(r));
  m.settle().resolve({ exitStatus: 7, exitedAt: new Date('2026-03-04T05:06:07.089Z') });
  await m.task.exited;
  assert.equal(m.c.state.running || m.c.state.restarting, true, 'always: restarting');
  assert.equal(m.c.state.exitCode, 7);
  assert.equal(m.c.state.finishedAt, '2026-03-04T05:06:07.089Z');
  // Written down before containerd's task (and its status) was deleted, cleared once handled.
  assert.equal(m.log.seenAtDelete, 7);
  assert.equal(m.c.state.exitSeen, undefined);
  assert.deepEqual(m.log.events, ['die']);
  if (m.c.restartTimer) clearTimeout(m.c.restartTimer);
});

test("an auto-removed container's containerd side left by a stop or crash is deleted at start; a failing one stays recorded, not quarantined", async () => {
  const gone = 'd'.repeat(64);
  const stuck = 'e'.repeat(64);
  const { run, log } = setup([], new Map(), false, {}, { pending: [gone, stuck], failing: [stuck] });
  await run;
  assert.deepEqual(log.containersDeleted, [gone]);
  assert.deepEqual(log.leftoversDone, [gone]);
  assert.ok(log.quarantineKnown.includes(stuck), 'the failing one is not quarantined as unknown');
  assert.ok(!log.quarantineKnown.includes(gone));
});

test("a removal a crash cut short after its record went: the container's directory is deleted at start, even when containerd's side fails", async () => {
  const gone = 'f'.repeat(64);
  const stuck = '9'.repeat(64);
  for (const id of [gone, stuck]) fs.mkdirSync(path.join(dirs, id, 'mounts'), { recursive: true });
  const { run } = setup([], new Map(), false, {}, { pending: [gone, stuck], failing: [stuck] });
  await run;
  assert.equal(fs.existsSync(path.join(dirs, gone)), false);
  assert.equal(fs.existsSync(path.join(dirs, stuck)), false);
});

test('a create a crash cut short before its record: its empty directory is deleted at start; one with files and no record is kept', async () => {
  const known = container('a'.repeat(64), 'no', {});
  const empty = 'b'.repeat(64);
  const withLog = 'c'.repeat(64);
  for (const id of [known.id, empty, withLog]) fs.mkdirSync(path.join(dirs, id), { recursive: true });
  fs.writeFileSync(path.join(dirs, withLog, `${withLog}-json.log`), '{}\n');
  const { run } = setup([known], new Map(), false);
  await run;
  assert.equal(fs.existsSync(path.join(dirs, known.id)), true);
  assert.equal(fs.existsSync(path.join(dirs, empty)), false);
  assert.equal(fs.existsSync(path.join(dirs, withLog, `${withLog}-json.log`)), true);
  fs.rmSync(path.join(dirs, withLog), { recursive: true });
});
