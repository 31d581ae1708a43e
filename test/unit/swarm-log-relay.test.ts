// The etcd log relay over the in-memory store: a manager's request reaches the node's responder,
// the node's task containers' lines come back in dockerd's format with swarm's details, chunks
// stay within the window until acknowledged, tail is per task, several nodes end the stream only
// when all are done, a down node is reported as swarmkit does, and ending the read (client gone)
// revokes the request: its keys go and the node stops reading.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReadOptions } from '../../daemon/logs/container-logs';
import type { LogEntry } from '../../daemon/logs/types';
import { clusterKeys } from '../../daemon/swarm/keys';
import { WINDOW } from '../../daemon/swarm/logs/protocol';
import { relayLogs, type RelayLine, type RelayOptions } from '../../daemon/swarm/logs/relay';
import { LogResponder, type LocalTaskLogs } from '../../daemon/swarm/logs/responder';
import { logTargets } from '../../daemon/swarm/logs/targets';
import { MemoryKv } from '../../store/cluster/memory-kv';

const keys = clusterKeys('c1');

function entry(line: string, sec: number, stream: 'stdout' | 'stderr' = 'stdout'): LogEntry {
  return { stream, line: Buffer.from(`${line}\n`), time: new Date(sec * 1000), nsec: 5 };
}

/** A node's containers: task → lines; `follow` readers stay open until aborted. */
function fakeLogs(tasks: Record<string, { service: string; lines: LogEntry[] }>, seen: ReadOptions[] = []): LocalTaskLogs {
  return {
    taskContainers: () => Object.entries(tasks).map(([taskId, t]) => ({ containerId: `c-${taskId}`, taskId, serviceId: t.service })),
    read: (id, opts) => {
      seen.push(opts);
      const t = tasks[id.slice(2)];
      return (async function* () {
        const lines = opts.tail >= 0 ? t.lines.slice(Math.max(0, t.lines.length - opts.tail)) : t.lines;
        for (const l of lines) if ((l.stream === 'stdout' && opts.stdout) || (l.stream === 'stderr' && opts.stderr)) yield l;
        if (opts.follow) {
          await new Promise<void>((resolve) => opts.signal?.addEventListener('abort', () => resolve()));
        }
      })();
    },
  };
}

const options = (o: Partial<RelayOptions> = {}): RelayOptions => ({
  stdout: true,
  stderr: true,
  follow: false,
  tail: -1,
  timestamps: false,
  details: false,
  signal: new AbortController().signal,
  ...o,
});

async function collect(it: AsyncIterable<RelayLine>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of it) out.push(`${l.stream}:${l.payload.toString()}`);
  return out;
}

async function node(kv: MemoryKv, id: string, logs: LocalTaskLogs, alive = true): Promise<LogResponder> {
  if (alive) await kv.txn([], [{ op: 'put', key: keys.alive(id), value: id }]);
  const r = new LogResponder({ kv, keys, nodeId: id, logs });
  await r.start();
  return r;
}

test('task logs come back from the node running the task, with swarm details and timestamps', async () => {
  const kv = new MemoryKv();
  const n2 = await node(kv, 'n2', fakeLogs({ t1: { service: 's1', lines: [entry('hello', 100), entry('oops', 101, 'stderr')] } }));
  const lines = await collect(
    relayLogs({ kv, keys }, { tasks: ['t1'], services: [], nodes: ['n2'], unavailable: [] }, options({ details: true, timestamps: true })),
  );
  assert.deepEqual(lines, [
    'stdout:1970-01-01T00:01:40.000000005Z com.docker.swarm.node.id=n2,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1 hello\n',
    'stderr:1970-01-01T00:01:41.000000005Z com.docker.swarm.node.id=n2,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1 oops\n',
  ]);
  assert.deepEqual((await kv.list(keys.prefix + 'logs/')).entries, [], 'every request and chunk key is gone');
  assert.deepEqual(kv.leaseIds(), [], 'the request lease was revoked');
  await n2.stop();
});

test('a long log goes through the window: never more than WINDOW chunks outstanding, nothing lost', async () => {
  const kv = new MemoryKv();
  const many = Array.from({ length: 3000 }, (_, i) => entry(`line ${i} ${'x'.repeat(100)}`, 200 + i));
  const n2 = await node(kv, 'n2', fakeLogs({ t1: { service: 's1', lines: many } }));
  let maxOutstanding = 0;
  const w = await kv.watch(keys.prefix + 'logs/out/', 0, {
    onEvents: () => {
      void kv.list(keys.prefix + 'logs/out/').then((l) => (maxOutstanding = Math.max(maxOutstanding, l.entries.length)));
    },
    onError: assert.fail,
  });
  const lines = await collect(relayLogs({ kv, keys }, { tasks: ['t1'], services: [], nodes: ['n2'], unavailable: [] }, options()));
  await w.cancel();
  assert.equal(lines.length, 3000);
  assert.equal(lines[2999], `stdout:line 2999 ${'x'.repeat(100)}\n`);
  assert.ok(maxOutstanding <= WINDOW, `outstanding chunks: ${maxOutstanding}`);
  assert.ok(maxOutstanding >= 1);
  await n2.stop();
});

test('service logs: every node with tasks answers, tail is per task, stream selection is passed on', async () => {
  const kv = new MemoryKv();
  const seen: ReadOptions[] = [];
  const n2 = await node(kv, 'n2', fakeLogs({ t1: { service: 's1', lines: [entry('a1', 1), entry('a2', 2)] } }, seen));
  const n3 = await node(
    kv,
    'n3',
    fakeLogs(
      { t2: { service: 's1', lines: [entry('b1', 1), entry('b2', 2, 'stderr')] }, t9: { service: 'other', lines: [entry('no', 1)] } },
      seen,
    ),
  );
  const lines = await collect(
    relayLogs({ kv, keys }, { tasks: [], services: ['s1'], nodes: ['n2', 'n3'], unavailable: [] }, options({ tail: 1, stderr: false })),
  );
  assert.deepEqual(lines.sort(), ['stdout:a2\n']);
  assert.equal(seen.length, 2, 'the other service is not read');
  assert.ok(seen.every((o) => o.tail === 1 && o.stdout && !o.stderr && o.details === true));
  await n2.stop();
  await n3.stop();
});

test('a node that is down is reported at the end as swarmkit does', async () => {
  const kv = new MemoryKv();
  const n2 = await node(kv, 'n2', fakeLogs({ t1: { service: 's1', lines: [entry('up', 1)] } }));
  const lines = await collect(relayLogs({ kv, keys }, { tasks: [], services: ['s1'], nodes: ['n2'], unavailable: ['n4'] }, options()));
  assert.deepEqual(lines, [
    'stdout:up\n',
    'system:Error grabbing logs: rpc error: code = Unknown desc = warning: incomplete log stream. some logs could not be retrieved for the following reasons: node n4 is not available\n',
  ]);
  await n2.stop();
});

test('follow: the client leaving revokes the request and the node stops reading', async () => {
  const kv = new MemoryKv();
  const seen: ReadOptions[] = [];
  const n2 = await node(kv, 'n2', fakeLogs({ t1: { service: 's1', lines: [entry('first', 1)] } }, seen));
  const abort = new AbortController();
  const it = relayLogs(
    { kv, keys },
    { tasks: ['t1'], services: [], nodes: ['n2'], unavailable: [] },
    options({ follow: true, signal: abort.signal }),
  );
  const first = await it.next();
  assert.equal(first.done, false);
  assert.equal((first.value as RelayLine).payload.toString(), 'first\n');
  assert.equal((await kv.list(keys.logRequestsPrefix('n2'))).entries.length, 1);
  const pending = it.next();
  abort.abort();
  assert.equal((await pending).done, true);
  assert.deepEqual((await kv.list(keys.prefix + 'logs/')).entries, []);
  await new Promise((r) => setImmediate(r));
  assert.equal(seen[0].signal?.aborted, true, "the node's reader was aborted");
  await n2.stop();
});

test('targets: a task is found by ID or prefix on its node; a service without running tasks asks nobody unless following', async () => {
  const kv = new MemoryKv();
  const put = (key: string, v: object): Promise<unknown> => kv.txn([], [{ op: 'put', key, value: JSON.stringify(v) }]);
  await put(keys.service('svc1'), { ID: 'svc1', Spec: { Name: 'web', TaskTemplate: { ContainerSpec: { TTY: true } } } });
  await put(keys.task('task1'), { ID: 'task1', ServiceID: 'svc1', NodeID: 'n2', Status: { State: 'assigned' } });
  await put(keys.task('task2'), { ID: 'task2', ServiceID: 'svc1', NodeID: 'n3', Status: { State: 'pending' } });
  await put(keys.taskStatus('task2'), { State: 'running' });
  await kv.txn([], [{ op: 'put', key: keys.alive('n2'), value: 'n2' }]);
  const t = await logTargets(kv, keys, 'task', 'task1', false);
  assert.deepEqual({ ...t }, { tty: false, tasks: ['task1'], services: [], nodes: ['n2'], unavailable: [] });
  assert.deepEqual(
    (await logTargets(kv, keys, 'service', 'web', false)).unavailable,
    ['n3'],
    'task2 runs (status from the node) on a down node',
  );
  assert.deepEqual((await logTargets(kv, keys, 'service', 'svc', true)).nodes, ['n2']);
  assert.equal((await logTargets(kv, keys, 'service', 'svc1', false)).tty, true);
  await assert.rejects(logTargets(kv, keys, 'task', 'task', false), /task task is ambiguous \(2 matches found\)/);
  await assert.rejects(logTargets(kv, keys, 'task', 'nope', false), /task nope not found/);
});

test('follow: a task container that appears on the node later is read too', async () => {
  const kv = new MemoryKv();
  const tasks: Record<string, { service: string; lines: LogEntry[] }> = { t1: { service: 's1', lines: [entry('early', 1)] } };
  const n2 = await node(kv, 'n2', fakeLogs(tasks));
  const abort = new AbortController();
  const it = relayLogs(
    { kv, keys },
    { tasks: [], services: ['s1'], nodes: ['n2'], unavailable: [] },
    options({ follow: true, signal: abort.signal }),
  );
  assert.equal(((await it.next()).value as RelayLine).payload.toString(), 'early\n');
  // The responder's rescan timer does not hold the process open; the test's wait must.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    tasks.t2 = { service: 's1', lines: [entry('late', 2)] };
    tasks.t3 = { service: 'other', lines: [entry('not mine', 2)] };
    assert.equal(((await it.next()).value as RelayLine).payload.toString(), 'late\n');
    const pending = it.next();
    abort.abort();
    assert.equal((await pending).done, true);
  } finally {
    clearInterval(keepAlive);
  }
  await n2.stop();
});
