// The task runner over a fake container service: create once (an existing container of the
// task's name is prepared), a failed pull only logged, start waiting for health, unhealthy
// while starting or running stops the container and fails with dockerd's texts, exit codes,
// shutdown with the grace period; and the whole machine of task-status.ts driven through it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CreateRequest } from '../../daemon/containers/create';
import { taskContainerPlan } from '../../daemon/swarm/agent/task-container';
import { TaskRunner, type AgentContainerEvent, type AgentContainers } from '../../daemon/swarm/agent/task-runner';
import { stepTask, type TaskStatus } from '../../daemon/swarm/agent/task-status';

interface FakeContainer {
  id: string;
  name: string;
  running: boolean;
  pid: number;
  exitCode: number;
  error: string;
  healthcheck: boolean;
}

class FakeContainers implements AgentContainers {
  byId = new Map<string, FakeContainer>();
  listeners = new Set<(ev: AgentContainerEvent) => void>();
  exitWaiters = new Map<string, ((r: { StatusCode: number; Error: { Message: string } | null }) => void)[]>();
  calls: string[] = [];
  pullError: Error | null = null;
  createError: Error | null = null;
  onStart: (c: FakeContainer) => void = () => undefined;
  private n = 0;

  find(nameOrId: string): FakeContainer | undefined {
    return this.byId.get(nameOrId) ?? [...this.byId.values()].find((c) => c.name === nameOrId);
  }
  create(req: CreateRequest): Promise<{ Id: string }> {
    this.calls.push(`create ${req.name}`);
    if (this.createError) return Promise.reject(this.createError);
    const id = `c${++this.n}`;
    const hc = req.config.Healthcheck?.Test;
    this.byId.set(id, { id, name: req.name, running: false, pid: 0, exitCode: 0, error: '', healthcheck: !!hc && hc[0] !== 'NONE' });
    return Promise.resolve({ Id: id });
  }
  start(id: string): Promise<void> {
    this.calls.push(`start ${id}`);
    const c = this.byId.get(id);
    if (!c) return Promise.reject(new Error(`No such container: ${id}`));
    c.running = true;
    c.pid = 100 + this.n;
    this.emit(id, 'start');
    this.onStart(c);
    return Promise.resolve();
  }
  stop(id: string, timeoutSec: number | undefined): Promise<void> {
    this.calls.push(`stop ${id} ${String(timeoutSec)}`);
    this.exit(id, 143);
    return Promise.resolve();
  }
  waitExit(id: string): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    const c = this.byId.get(id);
    if (c && !c.running) return Promise.resolve({ StatusCode: c.exitCode, Error: c.error ? { Message: c.error } : null });
    return new Promise((resolve) => this.exitWaiters.set(id, [...(this.exitWaiters.get(id) ?? []), resolve]));
  }
  subscribe(listener: (ev: AgentContainerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  pull(image: string): Promise<void> {
    this.calls.push(`pull ${image}`);
    return this.pullError ? Promise.reject(this.pullError) : Promise.resolve();
  }
  emit(id: string, action: string, attributes: Record<string, string> = {}): void {
    for (const l of [...this.listeners]) l({ id, action, attributes });
  }
  exit(id: string, code: number, error = ''): void {
    const c = this.byId.get(id);
    if (!c || !c.running) return;
    c.running = false;
    c.exitCode = code;
    c.error = error;
    this.emit(id, 'die', { exitCode: String(code) });
    for (const w of this.exitWaiters.get(id) ?? []) w({ StatusCode: code, Error: error ? { Message: error } : null });
    this.exitWaiters.delete(id);
  }
}

const S = 1_000_000_000;

function plan(health = false) {
  return taskContainerPlan({
    task: {
      ID: 'task1',
      ServiceID: 'svc1',
      NodeID: 'node1',
      Slot: 1,
      Spec: { ContainerSpec: { Image: 'busybox', StopGracePeriod: 7 * S, ...(health ? { HealthCheck: { Test: ['CMD', 'true'] } } : {}) } },
    },
    serviceName: 'web',
    node: { id: 'node1' },
  });
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

test('prepare pulls then creates; a failed pull is only logged; an existing container is prepared', async () => {
  const fake = new FakeContainers();
  fake.pullError = new Error('registry down');
  const logs: string[] = [];
  const r = new TaskRunner(fake, plan(), { log: (m) => logs.push(m) });
  await r.prepare();
  assert.deepEqual(fake.calls, ['pull busybox:latest', 'create web.1.task1']);
  assert.deepEqual(logs, ['pulling image failed']);
  assert.equal(r.containerId, 'c1');
  const again = new TaskRunner(fake, plan());
  await again.prepare();
  assert.equal(again.containerId, 'c1');
  assert.equal(fake.calls.filter((c) => c.startsWith('create')).length, 1);
});

test('a missing image rejects the task with the create error', async () => {
  const fake = new FakeContainers();
  fake.createError = new Error('No such image: busybox:latest');
  const r = new TaskRunner(fake, plan());
  const res = await stepTask({ Status: { State: 'preparing' }, DesiredState: 'running' }, r, () => new Date(0));
  assert.equal(res.status.State, 'rejected');
  assert.equal(res.status.Err, 'No such image: busybox:latest');
});

test('a full run through the state machine: running with PID, exit 0 complete', async () => {
  const fake = new FakeContainers();
  const r = new TaskRunner(fake, plan());
  let status: TaskStatus = { State: 'assigned' };
  for (let i = 0; i < 4; i++) status = (await stepTask({ Status: status, DesiredState: 'running' }, r, () => new Date(0))).status;
  assert.equal(status.State, 'starting');
  status = (await stepTask({ Status: status, DesiredState: 'running' }, r, () => new Date(0))).status;
  assert.equal(status.State, 'running');
  assert.deepEqual(status.ContainerStatus, { ContainerID: 'c1', PID: 101, ExitCode: 0 });
  const waiting = stepTask({ Status: status, DesiredState: 'running' }, r, () => new Date(0));
  await flush();
  fake.exit('c1', 0);
  status = (await waiting).status;
  assert.equal(status.State, 'complete');
  assert.equal(status.Message, 'finished');
});

test('a non-zero exit fails with the code; shutdown stops with the grace period', async () => {
  const fake = new FakeContainers();
  const r = new TaskRunner(fake, plan());
  await r.prepare();
  await r.start();
  const w = r.wait();
  await flush();
  fake.exit('c1', 3, 'boom');
  await assert.rejects(w, /^Error: task: non-zero exit \(3\): boom$/);
  const r2 = new TaskRunner(fake, plan());
  await r2.start();
  await r2.shutdown();
  assert.ok(fake.calls.includes('stop c1 7'));
  await r2.shutdown();
  assert.equal(fake.calls.filter((c) => c.startsWith('stop')).length, 1, 'a stopped container is not stopped again');
});

test('with a healthcheck, start waits for healthy', async () => {
  const fake = new FakeContainers();
  const r = new TaskRunner(fake, plan(true));
  await r.prepare();
  let started = false;
  const s = r.start().then(() => (started = true));
  await flush();
  assert.equal(started, false, 'not started before healthy');
  fake.emit('c1', 'health_status: healthy');
  await s;
  assert.equal(started, true);
});

test('unhealthy while starting: stopped, and the exit fails with the unhealthy cause', async () => {
  const fake = new FakeContainers();
  const r = new TaskRunner(fake, plan(true));
  await r.prepare();
  fake.onStart = (c) => setImmediate(() => fake.emit(c.id, 'health_status: unhealthy'));
  await assert.rejects(r.start(), /task: non-zero exit \(143\): dockerexec: unhealthy container/);
  assert.ok(fake.calls.includes('stop c1 7'));
});

test('unhealthy while running: stopped, wait fails with the unhealthy cause', async () => {
  const fake = new FakeContainers();
  const r = new TaskRunner(fake, plan(true));
  await r.prepare();
  const s = r.start();
  await flush();
  fake.emit('c1', 'health_status: healthy');
  await s;
  const w = r.wait();
  await flush();
  fake.emit('c1', 'health_status: unhealthy');
  await assert.rejects(w, /task: non-zero exit \(143\): dockerexec: unhealthy container/);
  assert.equal(fake.listeners.size, 0, 'no subscription left behind');
});

test('the container destroyed while waiting for health fails the start', async () => {
  const fake = new FakeContainers();
  const r = new TaskRunner(fake, plan(true));
  await r.prepare();
  const s = r.start();
  await flush();
  fake.emit('c1', 'destroy');
  await assert.rejects(s, /dockerexec: container destroyed/);
  assert.equal(fake.listeners.size, 0);
});
