// The container state machine without containerd: task exits through the monitor (state, events,
// waiters), restart policies with their back-off under mocked timers, OOM, and manual stop,
// restart and removal racing an exit or a pending restart. The runtime is a fake port whose tasks
// exit when the test (or a SIGKILL) says so.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import pino from 'pino';
import { LiveContainer, type LiveTask } from '../../daemon/containers/live-container';
import { initialState, type Container, type ContainerRecord } from '../../daemon/containers/model';
import { Monitor } from '../../daemon/containers/monitor';
import { TaskControl } from '../../daemon/containers/task-control';
import type { TaskIO } from '../../runtime/fifo';

const ID = 'a'.repeat(64);

interface Harness {
  c: LiveContainer;
  monitor: Monitor;
  control: TaskControl;
  /** Events in order: "die:3", "oom", "stop", ... */
  events: string[];
  starts: number;
  autoRemoves: number;
  saved: number;
  /** Starts the task (as startTask would) and returns the function that makes it exit. */
  run(): (status: number) => void;
  /** The store no longer has the container (it was removed). */
  forget(): void;
  /** The next start fails. */
  failNextStart: boolean;
  /** containerd's task delete ends when this settles (at once when unset). */
  deleteGate?: Promise<void>;
}

function harness(policy: { Name: string; MaximumRetryCount?: number }, opts: { autoRemove?: boolean; stopSignal?: string } = {}): Harness {
  const record = {
    id: ID,
    name: 'web',
    config: { Image: 'busybox', ...(opts.stopSignal ? { StopSignal: opts.stopSignal } : {}) },
    hostConfig: { RestartPolicy: policy, AutoRemove: opts.autoRemove === true },
    mounts: [],
    networks: [],
  } as unknown as ContainerRecord;
  const c = new LiveContainer(record, initialState());
  let present = true;
  let exitNow: ((status: number) => void) | undefined;
  const h: Harness = {
    c,
    events: [],
    starts: 0,
    autoRemoves: 0,
    saved: 0,
    failNextStart: false,
    forget: () => {
      present = false;
    },
    run: () => {
      let resolveExit: (status: number) => void = () => undefined;
      const exited = new Promise<number>((r) => (resolveExit = r));
      exitNow = resolveExit;
      waits.push(exited);
      c.state = { ...c.state, running: true, restarting: false, pid: 100 + h.starts };
      const task: LiveTask = {
        io: { close: () => Promise.resolve() } as unknown as TaskIO,
        copier: { done: () => Promise.resolve() },
        startedMs: Date.now(),
        exited: Promise.resolve(),
      };
      c.task = task;
      task.exited = h.monitor.follow(c, task);
      return resolveExit;
    },
    monitor: undefined as unknown as Monitor,
    control: undefined as unknown as TaskControl,
  };
  // waitTask answers with the exit of the task started last.
  const waits: Promise<number>[] = [];
  const store = {
    saveState: () => {
      h.saved++;
    },
    tryGetById: (id: string) => (present && id === ID ? c : undefined),
  };
  const publish = (_c: Container, action: string, extra: Record<string, string> = {}): void => {
    h.events.push(action === 'die' ? `die:${extra.exitCode}` : action);
  };
  h.monitor = new Monitor({
    runtime: {
      waitTask: async () => ({ exitStatus: await (waits.shift() as Promise<number>) }),
      deleteTask: () => h.deleteGate ?? Promise.resolve(),
    },
    store,
    publish,
    publishVolumes: () => undefined,
    tearDownNetwork: () => Promise.resolve(),
    stopHealth: () => undefined,
    startTask: () => {
      h.starts++;
      if (h.failNextStart) {
        h.failNextStart = false;
        return Promise.reject(new Error('runc failed'));
      }
      h.run();
      return Promise.resolve();
    },
    autoRemove: () => {
      h.autoRemoves++;
      return Promise.resolve();
    },
    logger: { error: () => undefined, warn: () => undefined },
  });
  h.control = new TaskControl({
    runtime: {
      // A SIGKILL or the stop signal ends the task at once.
      kill: (_id, sig) => {
        if (sig === 9 || sig === 15) exitNow?.(128 + sig);
        return Promise.resolve();
      },
      waitTask: () => Promise.resolve(),
      resume: () => Promise.resolve(),
      pause: () => Promise.resolve(),
      taskStatus: () => Promise.resolve({ status: 'running' }),
      deleteTask: () => Promise.resolve(),
      labels: () => Promise.resolve({}),
      addLabels: () => Promise.resolve(),
      rootfsSnapshots: () => Promise.resolve(new Map()),
      addSnapshotLabels: () => Promise.resolve(),
    },
    store,
    monitor: h.monitor,
    health: { update: () => undefined },
    publish,
    logger: pino({ level: 'silent' }),
  });
  return h;
}

/** Lets the promise chains of an exit run to their end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise<void>((r) => setImmediate(r));
}

beforeEach(() => {
  mock.timers.enable({ apis: ['setTimeout'] });
});

afterEach(() => {
  mock.timers.reset();
});

test('an exit becomes state, a die event, and answers the waiters', async () => {
  const h = harness({ Name: 'no' });
  const exit = h.run();
  const waited = h.c.wait('next-exit');
  exit(3);
  await settle();
  assert.equal(h.c.state.running, false);
  assert.equal(h.c.state.exitCode, 3);
  assert.notEqual(h.c.state.finishedAt, '0001-01-01T00:00:00Z');
  assert.equal(h.c.task, undefined);
  assert.deepEqual(h.events, ['die:3']);
  assert.deepEqual(await waited, { StatusCode: 3, Error: null });
  assert.deepEqual(await h.c.wait('not-running'), { StatusCode: 3, Error: null });
  assert.equal(h.starts, 0);
});

test("the exit is reported before containerd's task delete ends; taskGone waits for the delete", async () => {
  const h = harness({ Name: 'no' });
  let deleted: () => void = () => undefined;
  h.deleteGate = new Promise<void>((r) => (deleted = r));
  const exit = h.run();
  const waited = h.c.wait('next-exit');
  exit(0);
  await settle();
  assert.equal(h.c.state.running, false);
  assert.deepEqual(await waited, { StatusCode: 0, Error: null });
  assert.deepEqual(h.events, ['die:0']);
  let gone = false;
  void h.c.taskGone().then(() => (gone = true));
  await settle();
  assert.equal(gone, false, 'the task is still being deleted');
  deleted();
  await settle();
  assert.equal(gone, true);
});

test('a failed task delete still ends taskGone (logged, never rejected)', async () => {
  const h = harness({ Name: 'no' });
  h.deleteGate = Promise.reject(new Error('shim gone'));
  h.run()(1);
  await settle();
  await h.c.taskGone();
  assert.equal(h.c.state.exitCode, 1);
});

test('an OOM kill is reported before the die and recorded', async () => {
  const h = harness({ Name: 'no' });
  const exit = h.run();
  h.monitor.noteOom(ID);
  exit(137);
  await settle();
  assert.equal(h.c.state.oomKilled, true);
  assert.deepEqual(h.events, ['oom', 'die:137']);
});

test('restart policy always: restarting at once, started after the back-off, which doubles', async () => {
  const h = harness({ Name: 'always' });
  h.run()(0);
  await settle();
  assert.equal(h.c.state.restarting, true);
  assert.equal(h.c.state.running, true);
  mock.timers.tick(99);
  await settle();
  assert.equal(h.starts, 0);
  mock.timers.tick(1);
  await settle();
  assert.equal(h.starts, 1);
  assert.equal(h.c.state.restartCount, 1);
  assert.equal(h.c.state.restarting, false);
  // The second quick exit waits 200 ms.
  h.monitor.handleExit(h.c, 0, 10);
  mock.timers.tick(199);
  await settle();
  assert.equal(h.starts, 1);
  mock.timers.tick(1);
  await settle();
  assert.equal(h.starts, 2);
});

test('a run of 10 s resets the back-off', async () => {
  const h = harness({ Name: 'always' });
  h.monitor.handleExit(h.c, 0, 10);
  mock.timers.tick(100);
  await settle();
  h.monitor.handleExit(h.c, 0, 10);
  mock.timers.tick(200);
  await settle();
  assert.equal(h.starts, 2);
  h.monitor.handleExit(h.c, 0, 10_000);
  mock.timers.tick(100);
  await settle();
  assert.equal(h.starts, 3);
});

test('restart policy no and unless-stopped after a stop: the exit is final', async () => {
  const no = harness({ Name: 'no' });
  no.monitor.handleExit(no.c, 1, 10);
  assert.equal(no.c.state.restarting, false);
  const us = harness({ Name: 'unless-stopped' });
  us.c.state.manuallyStopped = true;
  us.monitor.handleExit(us.c, 1, 10);
  assert.equal(us.c.state.restarting, false);
  mock.timers.tick(60_000);
  await settle();
  assert.equal(no.starts + us.starts, 0);
});

test('restart policy on-failure:2: failures restart twice, success never', async () => {
  const h = harness({ Name: 'on-failure', MaximumRetryCount: 2 });
  for (let i = 0; i < 3; i++) {
    h.monitor.handleExit(h.c, 1, 10);
    mock.timers.tick(60_000);
    await settle();
  }
  assert.equal(h.starts, 2);
  assert.equal(h.c.state.restarting, false);
  const ok = harness({ Name: 'on-failure' });
  ok.monitor.handleExit(ok.c, 0, 10);
  assert.equal(ok.c.state.restarting, false);
});

test('a failed restart leaves the container stopped', async () => {
  const h = harness({ Name: 'always' });
  h.failNextStart = true;
  h.monitor.handleExit(h.c, 1, 10);
  mock.timers.tick(100);
  await settle();
  assert.equal(h.starts, 1);
  assert.equal(h.c.state.running, false);
  assert.equal(h.c.state.restarting, false);
});

test('docker stop racing the exit: the stop signal ends it for good, whatever the policy', async () => {
  const h = harness({ Name: 'always' });
  h.run();
  await h.c.locked(() => h.control.stop(h.c, { timeoutSec: 10 }));
  await settle();
  assert.equal(h.c.state.running, false);
  assert.equal(h.c.state.manuallyStopped, true);
  assert.deepEqual(h.events, ['kill', 'die:143', 'stop']);
  mock.timers.tick(60_000);
  await settle();
  assert.equal(h.starts, 0);
});

test('docker stop while a restart is pending cancels it', async () => {
  const h = harness({ Name: 'always' });
  h.monitor.handleExit(h.c, 1, 10);
  assert.equal(h.c.state.restarting, true);
  await h.c.locked(() => h.control.stop(h.c, {}));
  assert.equal(h.c.state.running, false);
  assert.equal(h.c.state.restarting, false);
  mock.timers.tick(60_000);
  await settle();
  assert.equal(h.starts, 0);
  assert.deepEqual(h.events, ['die:1', 'stop']);
});

test('a pending restart waits for the operation holding the lock', async () => {
  const h = harness({ Name: 'always' });
  h.monitor.handleExit(h.c, 1, 10);
  let release: () => void = () => undefined;
  const held = h.c.locked(() => new Promise<void>((r) => (release = r)));
  mock.timers.tick(100);
  await settle();
  assert.equal(h.starts, 0);
  release();
  await held;
  await settle();
  assert.equal(h.starts, 1);
});

test('docker restart of an AutoRemove container: its exit does not remove it', async () => {
  const h = harness({ Name: 'no' }, { autoRemove: true });
  h.c.manualRestart = true;
  h.monitor.handleExit(h.c, 0, 10);
  h.c.manualRestart = false;
  await settle();
  assert.equal(h.autoRemoves, 0);
  h.monitor.handleExit(h.c, 0, 10);
  await settle();
  assert.equal(h.autoRemoves, 1);
});

test('removal while a restart is pending: the restart never comes', async () => {
  const h = harness({ Name: 'always' });
  h.monitor.handleExit(h.c, 1, 10);
  // What remove does under the lock: the pending restart goes, the record follows.
  assert.equal(h.monitor.cancelRestart(h.c), true);
  h.c.state.removalInProgress = true;
  h.forget();
  mock.timers.tick(60_000);
  await settle();
  assert.equal(h.starts, 0);
  // A timer that fired anyway finds the container gone.
  const again = harness({ Name: 'always' });
  again.monitor.handleExit(again.c, 1, 10);
  again.forget();
  mock.timers.tick(100);
  await settle();
  assert.equal(again.starts, 0);
});

test('an exit during removal or daemon shutdown is final', async () => {
  const h = harness({ Name: 'always' });
  h.c.state.removalInProgress = true;
  h.monitor.handleExit(h.c, 137, 10);
  assert.equal(h.c.state.restarting, false);
  const s = harness({ Name: 'always' });
  s.monitor.handleExit(s.c, 1, 10);
  s.monitor.shutdown([s.c]);
  s.monitor.handleExit(s.c, 1, 10);
  mock.timers.tick(60_000);
  await settle();
  assert.equal(h.starts + s.starts, 0);
});

test('removed waiters and exit waiters both hear of the removal', async () => {
  const h = harness({ Name: 'no' });
  const removed = h.c.wait('removed');
  const exited = h.c.wait('next-exit');
  h.c.notifyRemoved({ StatusCode: 0, Error: null });
  assert.deepEqual(await removed, { StatusCode: 0, Error: null });
  assert.deepEqual(await exited, { StatusCode: 0, Error: null });
});
