// The task status machine as swarmkit's exec.Do steps it, driven through a fake controller:
// the progression with its messages, rejection before starting, failure after, exit codes,
// desired shutdown, pausing at the desired state, retries, timestamps from the given clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  exitOutcome,
  isTerminal,
  rejectedStatus,
  startHealthOutcome,
  stateRank,
  stepTask,
  TaskExitError,
  TemporaryTaskError,
  type ContainerStatus,
  type TaskController,
  type TaskState,
  type TaskStatus,
} from '../../daemon/swarm/agent/task-status';

class FakeCtl implements TaskController {
  calls: string[] = [];
  fail: Partial<Record<'prepare' | 'start' | 'wait' | 'shutdown', Error>> = {};
  container: ContainerStatus | undefined = undefined;
  private step(name: 'prepare' | 'start' | 'wait' | 'shutdown'): Promise<void> {
    this.calls.push(name);
    const err = this.fail[name];
    return err ? Promise.reject(err) : Promise.resolve();
  }
  prepare(): Promise<void> {
    this.container = { ContainerID: 'c1', PID: 0, ExitCode: 0 };
    return this.step('prepare');
  }
  start(): Promise<void> {
    if (this.container) this.container.PID = 4242;
    return this.step('start');
  }
  wait(): Promise<void> {
    return this.step('wait');
  }
  shutdown(): Promise<void> {
    return this.step('shutdown');
  }
  containerStatus(): Promise<ContainerStatus | undefined> {
    return Promise.resolve(this.container ? { ...this.container } : undefined);
  }
}

let tick = 0;
const clock = (): Date => new Date(Date.UTC(2026, 0, 1, 0, 0, tick++));

async function runUntilStuck(ctl: TaskController, desired: TaskState, start: TaskStatus = { State: 'assigned' }): Promise<TaskStatus[]> {
  const seen: TaskStatus[] = [];
  let status = start;
  for (let i = 0; i < 20; i++) {
    const r = await stepTask({ Status: status, DesiredState: desired }, ctl, clock);
    if (r.outcome !== 'transition') break;
    status = r.status;
    seen.push(status);
  }
  return seen;
}

test("state order is swarmkit's; terminal from complete on", () => {
  assert.ok(stateRank('assigned') < stateRank('accepted'));
  assert.ok(stateRank('running') < stateRank('complete'));
  // swarmkit: PENDING 64 < ALLOCATED 128 < ASSIGNED 192
  assert.ok(stateRank('pending') < stateRank('allocated') && stateRank('allocated') < stateRank('assigned'));
  assert.equal(isTerminal('running'), false);
  assert.equal(isTerminal('rejected'), true);
});

test("assigned to complete, with swarmkit's messages and the container status from starting on", async () => {
  const ctl = new FakeCtl();
  const seen = await runUntilStuck(ctl, 'running');
  assert.deepEqual(
    seen.map((s) => [s.State, s.Message]),
    [
      ['accepted', 'accepted'],
      ['preparing', 'preparing'],
      ['ready', 'prepared'],
      ['starting', 'starting'],
      ['running', 'started'],
      ['complete', 'finished'],
    ],
  );
  assert.deepEqual(ctl.calls, ['prepare', 'start', 'wait']);
  assert.equal(seen[2].ContainerStatus, undefined, 'no container status before starting');
  assert.deepEqual(seen[4].ContainerStatus, { ContainerID: 'c1', PID: 4242, ExitCode: 0 });
  const stamps = seen.map((s) => s.Timestamp);
  assert.equal(new Set(stamps).size, stamps.length, 'each transition is stamped anew');
});

test('an error while preparing rejects the task with the error text (No such image)', async () => {
  const ctl = new FakeCtl();
  ctl.fail.prepare = new Error('No such image: nosuch:latest');
  const seen = await runUntilStuck(ctl, 'running');
  const last = seen[seen.length - 1];
  assert.equal(last.State, 'rejected');
  assert.equal(last.Err, 'No such image: nosuch:latest');
  assert.equal(last.Message, 'preparing', "the message stays the last transition's");
});

test('a non-zero exit fails the task: "task: non-zero exit (1)" and the exit code', async () => {
  const ctl = new FakeCtl();
  ctl.fail.wait = new TaskExitError(1);
  const seen = await runUntilStuck(ctl, 'running');
  const last = seen[seen.length - 1];
  assert.equal(last.State, 'failed');
  assert.equal(last.Err, 'task: non-zero exit (1)');
  assert.equal(last.Message, 'started');
  assert.equal(last.ContainerStatus?.ExitCode, 1);
});

test('a start error fails (not rejects) the task: starting counts as started', async () => {
  const ctl = new FakeCtl();
  ctl.fail.start = new Error('OCI runtime create failed');
  const seen = await runUntilStuck(ctl, 'running');
  assert.equal(seen[seen.length - 1].State, 'failed');
  assert.equal(seen[seen.length - 1].Err, 'OCI runtime create failed');
});

test('desired ready pauses at ready (start-first updates); desired running then proceeds', async () => {
  const ctl = new FakeCtl();
  const seen = await runUntilStuck(ctl, 'ready');
  assert.equal(seen[seen.length - 1].State, 'ready');
  assert.deepEqual(ctl.calls, ['prepare']);
  const more = await runUntilStuck(ctl, 'running', seen[seen.length - 1]);
  assert.equal(more[more.length - 1].State, 'complete');
});

test('desired shutdown stops a running task; a finished one is left alone', async () => {
  const ctl = new FakeCtl();
  const running: TaskStatus = { State: 'running', Message: 'started', Timestamp: 'x' };
  const r = await stepTask({ Status: running, DesiredState: 'shutdown' }, ctl, clock);
  assert.equal(r.status.State, 'shutdown');
  assert.equal(r.status.Message, 'shutdown');
  assert.deepEqual(ctl.calls, ['shutdown']);
  const done: TaskStatus = { State: 'complete', Message: 'finished', Timestamp: 'x' };
  const r2 = await stepTask({ Status: done, DesiredState: 'shutdown' }, ctl, clock);
  assert.equal(r2.outcome, 'noop');
  assert.deepEqual(r2.status, done, 'nothing changed: not even the timestamp');
  // A task never started is shut down too (accepted, desired shutdown).
  const r3 = await stepTask({ Status: { State: 'accepted' }, DesiredState: 'shutdown' }, new FakeCtl(), clock);
  assert.equal(r3.status.State, 'shutdown');
});

test('a temporary error retries the step, showing the error', async () => {
  const ctl = new FakeCtl();
  ctl.fail.prepare = new TemporaryTaskError('registry unreachable');
  const r = await stepTask({ Status: { State: 'preparing', Message: 'preparing', Timestamp: 'x' }, DesiredState: 'running' }, ctl, clock);
  assert.equal(r.outcome, 'retry');
  assert.equal(r.status.State, 'preparing');
  assert.equal(r.status.Err, 'registry unreachable');
});

test('terminal states and states beyond the desired one do not move', async () => {
  for (const State of ['failed', 'rejected', 'complete'] as const) {
    const r = await stepTask({ Status: { State, Timestamp: 'x' }, DesiredState: 'running' }, new FakeCtl(), clock);
    assert.equal(r.outcome, 'noop');
  }
  const r = await stepTask({ Status: { State: 'starting', Timestamp: 'x' }, DesiredState: 'ready' }, new FakeCtl(), clock);
  assert.equal(r.outcome, 'noop');
});

test('rejection before a controller exists (template, secret errors)', () => {
  const s = rejectedStatus({ State: 'assigned' }, new Error('expanding env failed'), clock);
  assert.equal(s.State, 'rejected');
  assert.equal(s.Err, 'expanding env failed');
  assert.ok(s.Timestamp);
});

test("exit outcomes and the health wait of start, as dockerd's controller", () => {
  assert.equal(exitOutcome({ exitCode: 0 }), null);
  assert.equal(exitOutcome({ exitCode: 137 })?.message, 'task: non-zero exit (137)');
  assert.equal(exitOutcome({ exitCode: 137, unhealthy: true })?.message, 'task: non-zero exit (137): dockerexec: unhealthy container');
  assert.equal(exitOutcome({ exitCode: 1, error: 'boom' })?.message, 'task: non-zero exit (1): boom');
  assert.deepEqual(startHealthOutcome({ action: 'health_status: healthy' }, false), { kind: 'done' });
  assert.deepEqual(startHealthOutcome({ action: 'health_status: unhealthy' }, false), { kind: 'shutdown' });
  const died = startHealthOutcome({ action: 'die', exitCode: 143 }, true);
  assert.equal(died.kind === 'error' && died.error.message, 'task: non-zero exit (143): dockerexec: unhealthy container');
  assert.deepEqual(startHealthOutcome({ action: 'die', exitCode: 0 }, false), { kind: 'done' });
  const gone = startHealthOutcome({ action: 'destroy' }, false);
  assert.equal(gone.kind === 'error' && gone.error.message, 'dockerexec: container destroyed');
});
