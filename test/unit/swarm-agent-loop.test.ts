// The swarm agent loop over the in-memory store and a fake node (mocked timers): a task of this
// node goes assigned → … → running with each status written to P/task-status; desired `ready`
// creates the container but never starts it; shutdown stops it with the spec's grace period;
// an exit completes it; a deleted task's container, files and status go; tasks of other nodes
// are left alone; after a watch error the loop lists again and removes the containers of tasks
// deleted meanwhile; a secret's sealed payload is opened with the cluster key and mounted; a
// task on a swarm network joins this node's bridge of that network with the service name as alias.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, mock, test } from 'node:test';
import type { CreateRequest } from '../../daemon/containers/create';
import { AgentLoop, type AgentHost, type AgentTaskContainer } from '../../daemon/swarm/agent/loop';
import type { AgentContainerEvent } from '../../daemon/swarm/agent/task-runner';
import type { Task } from '../../daemon/swarm/agent/task-container';
import { clusterKeys } from '../../daemon/swarm/keys';
import type { SwarmNetworkRecord } from '../../daemon/swarm/networks';
import { sealData } from '../../daemon/swarm/seal';
import { ClusterStoreUnavailable } from '../../lib/errors';
import type { ClusterKv } from '../../store/cluster/kv';
import { MemoryKv } from '../../store/cluster/memory-kv';

const NODE = 'node1aaaaaaaaaaaaaaaaaaaaa';
const OTHER = 'node2aaaaaaaaaaaaaaaaaaaaa';
const SVC = 'svc1aaaaaaaaaaaaaaaaaaaaaa';
const keys = clusterKeys('clu1aaaaaaaaaaaaaaaaaaaaaa');
const clusterKey = Buffer.alloc(32, 7);

interface FakeC {
  id: string;
  name: string;
  req: CreateRequest;
  running: boolean;
  exitCode: number;
}

class FakeHost implements AgentHost {
  byId = new Map<string, FakeC>();
  calls: string[] = [];
  networks: string[] = [];
  private waiters = new Map<string, Array<(r: { StatusCode: number; Error: null }) => void>>();
  private n = 0;

  find(nameOrId: string): ReturnType<AgentHost['find']> {
    const c = this.byId.get(nameOrId) ?? [...this.byId.values()].find((x) => x.name === nameOrId);
    return c && { id: c.id, running: c.running, pid: c.running ? 42 : 0, exitCode: c.exitCode, error: '', healthcheck: false };
  }
  async create(req: CreateRequest): Promise<{ Id: string }> {
    const id = `ctr${++this.n}`;
    this.calls.push(`create ${req.name}`);
    this.byId.set(id, { id, name: req.name, req, running: false, exitCode: 0 });
    return { Id: id };
  }
  async start(id: string): Promise<void> {
    this.calls.push(`start ${id}`);
    const c = this.byId.get(id);
    if (!c) throw new Error(`No such container: ${id}`);
    c.running = true;
  }
  async stop(id: string, timeoutSec: number | undefined): Promise<void> {
    this.calls.push(`stop ${id} ${String(timeoutSec)}`);
    this.exit(id, 143);
  }
  waitExit(id: string, signal: AbortSignal): Promise<{ StatusCode: number; Error: null }> {
    const c = this.byId.get(id);
    if (!c) return Promise.reject(new Error(`No such container: ${id}`));
    if (!c.running) return Promise.resolve({ StatusCode: c.exitCode, Error: null });
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(id) ?? [];
      list.push(resolve);
      this.waiters.set(id, list);
      signal.addEventListener('abort', () => reject(new Error('aborted')));
    });
  }
  subscribe(_l: (ev: AgentContainerEvent) => void): () => void {
    return () => undefined;
  }
  exit(id: string, code: number): void {
    const c = this.byId.get(id);
    if (!c || !c.running) return;
    c.running = false;
    c.exitCode = code;
    for (const w of this.waiters.get(id) ?? []) w({ StatusCode: code, Error: null });
    this.waiters.delete(id);
  }
  taskContainers(): AgentTaskContainer[] {
    return [...this.byId.values()].map((c) => ({
      id: c.id,
      name: c.name,
      taskId: c.req.config.Labels?.['com.docker.swarm.task.id'] ?? '',
      serviceName: c.req.config.Labels?.['com.docker.swarm.service.name'] ?? '',
      running: c.running,
    }));
  }
  async remove(id: string): Promise<void> {
    this.calls.push(`remove ${id}`);
    this.byId.delete(id);
  }
  async ensureNetwork(net: SwarmNetworkRecord): Promise<string> {
    this.networks.push(net.Name);
    return `local-${net.Id}`;
  }
}

let kv: MemoryKv;
let host: FakeHost;
let loop: AgentLoop;
let filesRoot: string;

function task(id: string, desired: string, extra: Partial<Task> = {}): Task {
  return {
    ID: id,
    ServiceID: SVC,
    NodeID: NODE,
    Slot: 1,
    DesiredState: desired as Task['DesiredState'],
    Status: { State: 'assigned', Message: 'assigned' },
    Spec: { ContainerSpec: { Image: 'busybox', Args: ['sleep', '60'], StopGracePeriod: 3_000_000_000 } },
    ...extra,
  };
}

async function put(key: string, value: unknown): Promise<void> {
  await kv.txn([], [{ op: 'put', key, value: JSON.stringify(value) }]);
}

/** Runs timers and I/O until `done` holds (bounded: a loop that never gets there fails the assert after). */
async function settle(done: () => Promise<boolean> | boolean = () => false): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    mock.timers.tick(20_000);
    await new Promise((r) => setImmediate(r));
    if (i >= 30 && (await done())) return;
  }
}

const stateIs = (id: string, want: string) => async (): Promise<boolean> => (await state(id)) === want;

async function state(id: string): Promise<string | undefined> {
  const e = await kv.get(keys.taskStatus(id));
  return e ? (JSON.parse(e.value) as { State: string }).State : undefined;
}

function containerOf(taskId: string): FakeC | undefined {
  return [...host.byId.values()].find((c) => c.req.config.Labels?.['com.docker.swarm.task.id'] === taskId);
}

beforeEach(async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  kv = new MemoryKv();
  host = new FakeHost();
  filesRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-loop-'));
  await put(keys.service(SVC), { ID: SVC, Spec: { Name: 'web', EndpointSpec: { Mode: 'dnsrr' } } });
  loop = new AgentLoop({ kv, keys, nodeId: NODE, clusterKey, host, filesRoot, node: { hostname: 'h1' }, retryBaseMs: 100 });
});

afterEach(async () => {
  await loop.stop();
  mock.timers.reset();
  fs.rmSync(filesRoot, { recursive: true, force: true });
});

test('a task of this node runs, each status written; an exit completes it', async () => {
  await put(keys.task('t1'), task('t1', 'running'));
  loop.start();
  await settle(stateIs('t1', 'running'));
  assert.equal(await state('t1'), 'running');
  const c = containerOf('t1');
  assert.ok(c);
  assert.equal(c.name, 'web.1.t1');
  assert.equal(c.req.config.Labels?.['com.docker.swarm.node.id'], NODE);
  assert.deepEqual(host.calls, ['create web.1.t1', `start ${c.id}`]);
  const st = JSON.parse((await kv.get(keys.taskStatus('t1')))?.value ?? '{}') as { ContainerStatus?: { ContainerID?: string } };
  assert.equal(st.ContainerStatus?.ContainerID, c.id);
  host.exit(c.id, 0);
  await settle(stateIs('t1', 'complete'));
  assert.equal(await state('t1'), 'complete');
});

test('desired state ready: prepared, never started, until raised to running', async () => {
  await put(keys.task('t2'), task('t2', 'ready'));
  loop.start();
  await settle(stateIs('t2', 'ready'));
  assert.equal(await state('t2'), 'ready');
  const c = containerOf('t2');
  assert.ok(c);
  assert.equal(c.running, false);
  assert.ok(!host.calls.some((x) => x.startsWith('start')));
  await put(keys.task('t2'), task('t2', 'running'));
  await settle(stateIs('t2', 'running'));
  assert.equal(await state('t2'), 'running');
  assert.equal(c.running, true);
});

test('shutdown stops with the grace period; delete removes container, files and status', async () => {
  await put(keys.task('t3'), task('t3', 'running'));
  loop.start();
  await settle(stateIs('t3', 'running'));
  const c = containerOf('t3');
  assert.ok(c?.running);
  await put(keys.task('t3'), task('t3', 'shutdown'));
  await settle(stateIs('t3', 'shutdown'));
  assert.equal(await state('t3'), 'shutdown');
  assert.ok(host.calls.includes(`stop ${c.id} 3`), host.calls.join(','));
  assert.equal(c.running, false);
  await kv.txn([], [{ op: 'delete', key: keys.task('t3') }]);
  await settle(async () => (await kv.get(keys.taskStatus('t3'))) === null);
  assert.equal(containerOf('t3'), undefined);
  assert.equal(await kv.get(keys.taskStatus('t3')), null);
});

test('tasks of other nodes are left alone; a task moved away loses its container here', async () => {
  await put(keys.task('t4'), task('t4', 'running', { NodeID: OTHER }));
  await put(keys.task('t5'), task('t5', 'running'));
  loop.start();
  await settle(stateIs('t5', 'running'));
  assert.equal(containerOf('t4'), undefined);
  assert.equal(await state('t4'), undefined);
  assert.ok(containerOf('t5'));
  await put(keys.task('t5'), task('t5', 'running', { NodeID: OTHER }));
  await settle(() => containerOf('t5') === undefined);
  assert.equal(containerOf('t5'), undefined);
  assert.equal(await state('t5'), 'running', 'the status of a task that still exists stays');
});

test('after a watch error: listed again, containers of tasks deleted meanwhile removed, the rest kept', async () => {
  await put(keys.task('t6'), task('t6', 'running'));
  await put(keys.task('t7'), task('t7', 'running'));
  loop.start();
  await settle(async () => (await stateIs('t6', 'running')()) && (await stateIs('t7', 'running')()));
  const c6 = containerOf('t6');
  const c7 = containerOf('t7');
  assert.ok(c6?.running && c7?.running);
  kv.down = true;
  kv.breakWatches(new Error('etcd unreachable'));
  await settle();
  // Unreachable: nothing is touched.
  assert.ok(containerOf('t6') && containerOf('t7'));
  kv.down = false;
  await kv.txn([], [{ op: 'delete', key: keys.task('t6') }]);
  await settle(() => containerOf('t6') === undefined);
  assert.equal(containerOf('t6'), undefined);
  assert.equal(containerOf('t7')?.running, true);
  assert.equal(await state('t7'), 'running');
  // The new watch works.
  await put(keys.task('t7'), task('t7', 'shutdown'));
  await settle(stateIs('t7', 'shutdown'));
  assert.equal(await state('t7'), 'shutdown');
});

test('a watch that goes silent without an error: the periodic listing starts the task it missed, and leaves the others be', async () => {
  await put(keys.task('t9'), task('t9', 'running'));
  // The first watch delivers nothing, ever (an etcd3 watcher that stalls without an error).
  const realWatch = kv.watch.bind(kv);
  let watches = 0;
  mock.method(kv, 'watch', (...args: Parameters<MemoryKv['watch']>) => {
    watches++;
    if (watches > 1) return realWatch(...args);
    return realWatch(args[0], args[1], { onEvents: () => undefined, onError: () => undefined });
  });
  loop.start();
  await settle(stateIs('t9', 'running'));
  const containers = host.byId.size;
  await put(keys.task('t10'), task('t10', 'running', { Slot: 2 }));
  await settle(stateIs('t10', 'running'));
  assert.equal(await state('t10'), 'running', 'started after the periodic listing');
  assert.ok(watches >= 2, 'the listing watched again');
  // t9 was not stepped again into a second container.
  assert.equal(host.byId.size, containers + 1);
  assert.equal(await state('t9'), 'running');
});

test('a local task container whose task does not exist is removed at start', async () => {
  await host.create({
    name: 'old.1.gone',
    config: { Image: 'busybox', Labels: { 'com.docker.swarm.task.id': 'gone' } },
    hostConfig: {},
    networkingConfig: null,
  });
  loop.start();
  await settle(() => containerOf('gone') === undefined);
  assert.equal(containerOf('gone'), undefined);
});

test('a secret is opened with the cluster key and mounted; networks joined with the service name as alias', async () => {
  const sid = 'sec1aaaaaaaaaaaaaaaaaaaaaa';
  await put(keys.secret(sid), { ID: sid, Spec: { Name: 'pw' }, Sealed: sealData(clusterKey, sid, Buffer.from('hunter2')) });
  await put(keys.network('net1aaaaaaaaaaaaaaaaaaaaaa'), { Id: 'net1aaaaaaaaaaaaaaaaaaaaaa', Name: 'backend', Labels: {} });
  const t = task('t8', 'running');
  t.Spec = {
    ContainerSpec: {
      Image: 'busybox',
      Secrets: [{ SecretID: sid, SecretName: 'pw', File: { Name: 'pw', UID: '0', GID: '0', Mode: 0o400 } }],
    },
    Networks: [{ Target: 'net1aaaaaaaaaaaaaaaaaaaaaa', Aliases: ['api'] }],
  };
  await put(keys.task('t8'), t);
  loop.start();
  await settle(stateIs('t8', 'running'));
  assert.equal(await state('t8'), 'running');
  const c = containerOf('t8');
  assert.ok(c);
  const m = c.req.hostConfig.Mounts?.find((x) => x.Target === '/run/secrets/pw');
  assert.ok(m?.Source);
  assert.equal(fs.readFileSync(m.Source, 'utf8'), 'hunter2');
  assert.deepEqual(host.networks, ['backend']);
  assert.equal(c.req.hostConfig.NetworkMode, 'local-net1aaaaaaaaaaaaaaaaaaaaaa');
  assert.deepEqual(c.req.networkingConfig?.EndpointsConfig?.['local-net1aaaaaaaaaaaaaaaaaaaaaa']?.Aliases, ['web', 'api']);
  // The task goes: its files too.
  await kv.txn([], [{ op: 'delete', key: keys.task('t8') }]);
  await settle(() => !fs.existsSync(m.Source ?? ''));
  assert.equal(fs.existsSync(m.Source), false);
});

test('a secret that cannot be found rejects the task', async () => {
  const t = task('t9', 'running');
  t.Spec = { ContainerSpec: { Image: 'busybox', Secrets: [{ SecretID: 'nosuch', SecretName: 'x', File: { Name: 'x' } }] } };
  await put(keys.task('t9'), t);
  loop.start();
  await settle(stateIs('t9', 'rejected'));
  assert.equal(await state('t9'), 'rejected');
  const st = JSON.parse((await kv.get(keys.taskStatus('t9')))?.value ?? '{}') as { Err?: string };
  assert.match(st.Err ?? '', /secret nosuch not found/);
  assert.equal(containerOf('t9'), undefined);
});

test('the store out of reach while preparing: retried, never rejected', async () => {
  await loop.stop();
  let failures = 2;
  const flaky: ClusterKv = {
    get: async (key) => {
      if (key === keys.service(SVC) && failures > 0) {
        failures--;
        throw new ClusterStoreUnavailable('cluster store unavailable: etcd is unreachable');
      }
      return kv.get(key);
    },
    list: (prefix) => kv.list(prefix),
    txn: (c, s, f) => kv.txn(c, s, f),
    watch: (prefix, rev, h) => kv.watch(prefix, rev, h),
    grantLease: (ttl) => kv.grantLease(ttl),
    close: () => kv.close(),
  };
  loop = new AgentLoop({ kv: flaky, keys, nodeId: NODE, clusterKey, host, filesRoot, node: {}, retryBaseMs: 100 });
  await put(keys.task('t10'), task('t10', 'running'));
  loop.start();
  await settle(stateIs('t10', 'running'));
  assert.equal(await state('t10'), 'running');
  assert.equal(failures, 0);
});
