// The orchestrator loop over the in-memory store with mocked timers: tasks created and placed in
// one guarded transaction, a node's lease expiring re-places its tasks, a restart delay becomes a
// timer (wakeAt), a stale snapshot lists again, a lost term stops the loop, stop leaves no timer.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { clusterKeys } from '../../daemon/swarm/keys';
import { ClusterStoreUnavailable } from '../../lib/errors';
import { OrchestratorLoop } from '../../daemon/swarm/orchestrator-loop';
import type { ServiceSpec, Task } from '../../daemon/swarm/orchestrator/types';
import type { NodeRecord } from '../../daemon/swarm/shapes';
import type { ClusterLease } from '../../store/cluster/kv';
import { MemoryKv } from '../../store/cluster/memory-kv';

const keys = clusterKeys('c1');
const T0 = Date.parse('2026-01-01T00:00:00Z');

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 }));
afterEach(() => mock.timers.reset());

/** Lets queued microtasks (the store's watch deliveries) and the loop's promises run. */
async function settle(ms = 0): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  if (ms > 0) mock.timers.tick(ms);
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** Runs timers in steps of `step` ms for `total` ms, letting promises run between. */
async function advance(total: number, step = 50): Promise<void> {
  for (let t = 0; t < total; t += step) await settle(step);
}

function nodeRecord(id: string): NodeRecord {
  return {
    ID: id,
    CreatedAt: new Date(T0).toISOString(),
    UpdatedAt: new Date(T0).toISOString(),
    Spec: { Labels: {}, Role: 'worker', Availability: 'active' },
    Description: { Hostname: id, Platform: { Architecture: 'x86_64', OS: 'linux' } },
    Addr: '127.0.0.1',
  };
}

interface Fixture {
  kv: MemoryKv;
  leases: Map<string, ClusterLease>;
  term: number;
}

async function cluster(nodeIds: string[]): Promise<Fixture> {
  const kv = new MemoryKv();
  const leases = new Map<string, ClusterLease>();
  for (const id of nodeIds) {
    const lease = await kv.grantLease(5);
    leases.set(id, lease);
    await kv.txn(
      [],
      [
        { op: 'put', key: keys.node(id), value: JSON.stringify(nodeRecord(id)) },
        { op: 'put', key: keys.alive(id), value: id, lease: lease.id },
      ],
    );
  }
  const leaderLease = await kv.grantLease(5);
  await kv.txn([], [{ op: 'put', key: keys.leader, value: nodeIds[0] ?? '', lease: leaderLease.id }]);
  const term = (await kv.get(keys.leader))?.createRevision ?? 0;
  return { kv, leases, term };
}

async function addService(kv: MemoryKv, id: string, spec: ServiceSpec): Promise<void> {
  const now = new Date(Date.now()).toISOString();
  await kv.txn([], [{ op: 'put', key: keys.service(id), value: JSON.stringify({ ID: id, CreatedAt: now, UpdatedAt: now, Spec: spec }) }]);
}

async function tasks(kv: MemoryKv): Promise<Task[]> {
  const { entries } = await kv.list(keys.tasksPrefix);
  return entries.map((e) => JSON.parse(e.value) as Task);
}

function perNode(ts: Task[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of ts) if (t.DesiredState === 'running') out[t.NodeID ?? ''] = (out[t.NodeID ?? ''] ?? 0) + 1;
  return out;
}

const web = (replicas: number): ServiceSpec => ({
  Name: 'web',
  Mode: { Replicated: { Replicas: replicas } },
  TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
});

test('creates and places the tasks of a service in one guarded transaction; stop leaves no timer', async () => {
  const f = await cluster(['n1', 'n2', 'n3']);
  await addService(f.kv, 's1', web(6));
  const txn = mock.method(f.kv, 'txn');
  const loop = new OrchestratorLoop({ kv: f.kv, keys, term: f.term, ids: counter() });
  loop.start();
  await advance(500);
  const ts = await tasks(f.kv);
  assert.equal(ts.length, 6);
  assert.deepEqual(perNode(ts), { n1: 2, n2: 2, n3: 2 });
  assert.deepEqual(
    ts.map((t) => t.Slot).sort((a, b) => (a ?? 0) - (b ?? 0)),
    [1, 2, 3, 4, 5, 6],
  );
  assert.ok(ts.every((t) => t.Status?.State === 'assigned' && t.ServiceID === 's1'));
  assert.equal(loop.stats.commits, 1, 'one transaction for the whole pass');
  const first = txn.mock.calls[0]?.arguments[0] ?? [];
  assert.deepEqual(first[0], { key: keys.leader, target: 'create', op: '==', revision: f.term });
  // a stable snapshot: further passes change nothing
  await advance(500);
  assert.equal(loop.stats.commits, 1);
  await loop.stop();
  await addService(f.kv, 's2', { ...web(1), Name: 'other' });
  await advance(500);
  assert.equal((await tasks(f.kv)).length, 6, 'a stopped loop writes nothing');
});

test("a pass larger than etcd's transaction limit goes in slices: 150 replicas all placed", async () => {
  const f = await cluster(['n1', 'n2', 'n3']);
  await addService(f.kv, 's1', web(150));
  const loop = new OrchestratorLoop({ kv: f.kv, keys, term: f.term, ids: counter() });
  loop.start();
  await advance(2000);
  const ts = await tasks(f.kv);
  assert.equal(ts.length, 150);
  assert.deepEqual(perNode(ts), { n1: 50, n2: 50, n3: 50 });
  assert.equal(new Set(ts.map((t) => t.Slot)).size, 150);
  assert.ok(loop.stats.commits >= 3, `${loop.stats.commits} commits`);
  assert.equal(loop.stats.conflicts, 0);
  await loop.stop();
});

test('a node whose lease expires: its tasks are shut down and re-placed on the others', async () => {
  const f = await cluster(['n1', 'n2', 'n3']);
  await addService(f.kv, 's1', web(6));
  const loop = new OrchestratorLoop({ kv: f.kv, keys, term: f.term, ids: counter() });
  loop.start();
  await advance(300);
  f.kv.expireLease(f.leases.get('n3')?.id ?? '');
  await advance(300);
  let ts = await tasks(f.kv);
  assert.equal(ts.filter((t) => t.DesiredState === 'ready').length, 2, 'replacements wait for the restart delay (5 s)');
  await advance(5000, 250);
  ts = await tasks(f.kv);
  const onN3 = ts.filter((t) => t.NodeID === 'n3');
  assert.equal(onN3.length, 2);
  assert.ok(onN3.every((t) => t.DesiredState === 'shutdown'));
  assert.deepEqual(perNode(ts), { n1: 3, n2: 3 });
  await loop.stop();
});

test('drain: tasks on a drained node shut down and re-placed', async () => {
  const f = await cluster(['n1', 'n2']);
  await addService(f.kv, 's1', web(4));
  const loop = new OrchestratorLoop({ kv: f.kv, keys, term: f.term, ids: counter() });
  loop.start();
  await advance(300);
  const rec = nodeRecord('n2');
  rec.Spec.Availability = 'drain';
  await f.kv.txn([], [{ op: 'put', key: keys.node('n2'), value: JSON.stringify(rec) }]);
  await advance(300);
  const old = (await tasks(f.kv)).filter((t) => t.NodeID === 'n2');
  assert.equal(old.length, 2);
  assert.ok(old.every((t) => t.DesiredState === 'shutdown'));
  // n2's agent stops them
  const at = new Date(Date.now()).toISOString();
  await f.kv.txn(
    [],
    old.map((t) => ({ op: 'put' as const, key: keys.taskStatus(t.ID ?? ''), value: JSON.stringify({ State: 'shutdown', Timestamp: at }) })),
  );
  await advance(5500, 250);
  assert.deepEqual(perNode(await tasks(f.kv)), { n1: 4 });
  await loop.stop();
});

test('node status merged: a failed task is replaced after its restart delay (a timer at wakeAt)', async () => {
  const f = await cluster(['n1']);
  await addService(f.kv, 's1', {
    ...web(1),
    TaskTemplate: { ContainerSpec: { Image: 'busybox' }, RestartPolicy: { Condition: 'any', Delay: 10e9 } },
  });
  const loop = new OrchestratorLoop({ kv: f.kv, keys, term: f.term, ids: counter() });
  loop.start();
  await advance(200);
  const [t1] = await tasks(f.kv);
  assert.ok(t1);
  await f.kv.txn(
    [],
    [
      {
        op: 'put',
        key: keys.taskStatus(t1.ID ?? ''),
        value: JSON.stringify({ State: 'failed', Timestamp: new Date(Date.now()).toISOString() }),
      },
    ],
  );
  await advance(200);
  let ts = await tasks(f.kv);
  assert.equal(ts.length, 2);
  const next = ts.find((t) => t.ID !== t1.ID);
  assert.equal(next?.DesiredState, 'ready', 'waits for its restart delay');
  assert.equal(ts.find((t) => t.ID === t1.ID)?.DesiredState, 'shutdown');
  await advance(10_500, 500);
  ts = await tasks(f.kv);
  assert.equal(ts.find((t) => t.ID === next?.ID)?.DesiredState, 'running', 'raised by the wake timer, no store change needed');
  await loop.stop();
});

test('a lost term: the guarded transaction fails, the loop stops and says so', async () => {
  const f = await cluster(['n1', 'n2']);
  // another node holds the office now
  await f.kv.txn([], [{ op: 'delete', key: keys.leader }]);
  await f.kv.txn([], [{ op: 'put', key: keys.leader, value: 'n2' }]);
  let deposed = 0;
  const loop = new OrchestratorLoop({ kv: f.kv, keys, term: f.term, ids: counter(), onDeposed: () => deposed++ });
  loop.start();
  await addService(f.kv, 's1', web(2));
  await advance(500);
  assert.equal(deposed, 1);
  assert.equal((await tasks(f.kv)).length, 0);
  assert.equal(loop.stats.commits, 0);
});

test('a stale snapshot (a service updated under it): the transaction fails, the loop lists again and converges', async () => {
  const f = await cluster(['n1']);
  await addService(f.kv, 's1', web(1));
  const loop = new OrchestratorLoop({ kv: f.kv, keys, term: f.term, ids: counter() });
  loop.start();
  await advance(200);
  // an update starts a rolling update: the orchestrator writes UpdateStatus with a mod compare
  const e = await f.kv.get(keys.service('s1'));
  const s = JSON.parse(e?.value ?? '{}') as { Spec: ServiceSpec; PreviousSpec?: ServiceSpec };
  s.PreviousSpec = s.Spec;
  s.Spec = { ...web(1), TaskTemplate: { ContainerSpec: { Image: 'busybox:1' } } };
  await f.kv.txn([], [{ op: 'put', key: keys.service('s1'), value: JSON.stringify(s) }]);
  const realTxn = f.kv.txn.bind(f.kv);
  let raced = false;
  mock.method(f.kv, 'txn', async (...args: Parameters<MemoryKv['txn']>) => {
    if (!raced && args[1].some((op) => op.op === 'put' && op.key === keys.service('s1'))) {
      raced = true;
      // someone else writes the service between the loop's read and its commit
      await realTxn([], [{ op: 'put', key: keys.service('s1'), value: JSON.stringify({ ...s, UpdatedAt: 'x' }) }]);
    }
    return realTxn(...args);
  });
  await advance(1000);
  assert.ok(raced);
  assert.ok(loop.stats.conflicts >= 1);
  const svc = JSON.parse((await f.kv.get(keys.service('s1')))?.value ?? '{}') as { UpdateStatus?: { State?: string } };
  assert.equal(svc.UpdateStatus?.State, 'updating');
  const ts = await tasks(f.kv);
  assert.ok(
    ts.some((t) => t.Spec?.ContainerSpec?.Image === 'busybox:1'),
    'the update goes on after the relist',
  );
  await loop.stop();
});

test('a store outage while a pass commits: the listing owed is not dropped by the pass asked for meanwhile; the loop converges', async () => {
  const f = await cluster(['n1']);
  await addService(f.kv, 's1', web(1));
  const realTxn = f.kv.txn.bind(f.kv);
  const realList = f.kv.list.bind(f.kv);
  const realWatch = f.kv.watch.bind(f.kv);
  const watchErrors: Array<(err: Error) => void> = [];
  let down = false;
  let held: (() => void) | undefined;
  mock.method(f.kv, 'list', (prefix: string) =>
    down ? Promise.reject(new ClusterStoreUnavailable('cluster store unavailable: down')) : realList(prefix),
  );
  mock.method(f.kv, 'watch', async (...args: Parameters<MemoryKv['watch']>) => {
    watchErrors.push(args[2].onError);
    return realWatch(...args);
  });
  mock.method(f.kv, 'txn', (...args: Parameters<MemoryKv['txn']>) => {
    // the loop's first commit is held, then fails as the store goes away
    if (args[0][0]?.key !== keys.leader) return realTxn(...args);
    if (down) return Promise.reject(new ClusterStoreUnavailable('cluster store unavailable: down'));
    if (held) return realTxn(...args);
    return new Promise<never>((_resolve, reject) => {
      held = () => reject(new ClusterStoreUnavailable('cluster store unavailable: down'));
    });
  });
  const loop = new OrchestratorLoop({ kv: f.kv, keys, term: f.term, ids: counter() });
  loop.start();
  await advance(200);
  assert.ok(held, "the first pass's commit is under way");
  // a change while the pass is busy: a pass is owed after it
  await addService(f.kv, 's2', { ...web(1), Name: 'other' });
  await advance(200);
  // the store goes away: the watch ends, the listing fails (one is owed), the held commit fails
  down = true;
  for (const onError of watchErrors.splice(0)) onError(new ClusterStoreUnavailable('cluster store unavailable: down'));
  await settle();
  held?.();
  await advance(200);
  down = false;
  await advance(3000);
  assert.equal((await tasks(f.kv)).length, 2, 'both services placed once the store is back');
  await loop.stop();
});

test('a watch that goes silent without an error: the periodic listing reconciles what it missed', async () => {
  const f = await cluster(['n1']);
  const realWatch = f.kv.watch.bind(f.kv);
  let watches = 0;
  mock.method(f.kv, 'watch', (...args: Parameters<MemoryKv['watch']>) => {
    watches++;
    // The first watch delivers nothing, ever.
    if (watches === 1) return realWatch(args[0], args[1], { onEvents: () => undefined, onError: () => undefined });
    return realWatch(...args);
  });
  const loop = new OrchestratorLoop({ kv: f.kv, keys, term: f.term, ids: counter() });
  loop.start();
  await advance(200);
  await addService(f.kv, 's1', web(2));
  await advance(5000, 500);
  assert.equal((await tasks(f.kv)).length, 0, 'nothing seen yet');
  await advance(60_000, 1000);
  assert.equal((await tasks(f.kv)).length, 2, 'placed after the periodic listing');
  await loop.stop();
});

function counter(): () => string {
  let n = 0;
  return () => `t${String(++n).padStart(3, '0')}${Math.random().toString(36).slice(2, 8)}`;
}
